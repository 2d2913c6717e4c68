//! Issue 14 through the site: a video's live stream through web's proxy (unbuffered, with the
//! headers that keep proxies from holding it back), the heart and Follow forms, and the
//! Favourites and Subscriptions pages, signed in and out.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::support::{Options, Platform, Run};

/// Reads an SSE body until `needle` has arrived; returns everything read and when it came.
async fn read_until(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    seen: &mut String,
    needle: &str,
) -> Instant {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} did not arrive; got {seen:?}"))
            .expect("the stream ended")
            .expect("reading the stream");
        seen.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
    }
    Instant::now()
}

#[tokio::test]
async fn the_live_stream_passes_through_the_proxy_unbuffered() {
    // Every service as its executable: the api's `http_connections_taken_over` gauge is then
    // this test's own, not shared with the other tests' in-process apis (CI caught a second
    // stream of another test counted here).
    let p = Platform::start(Options {
        stream: true,
        run: Run::AllBinaries,
        ..Options::default()
    })
    .await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let vid = web.publish(&ann, "Live through web", "public").await;
    // Signed out, as a visitor's EventSource asks (cookies would be sent as they are).
    let resp = reqwest::Client::new()
        .get(web.url(&format!("/api/videos/{vid}/live")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("opening the stream through web");
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-length").is_none(), "{h:?}");
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    // The first count comes at once, not when some buffer fills.
    read_until(&mut body, &mut seen, "data: {\"viewers\":1}").await;
    // web opened a connection of its own for the stream (its pooled ones to the api were warm
    // from the sign-ups), so the api answers it outside hyper, at a few KiB while idle.
    let metrics = reqwest::get(p._api.url("/metrics"))
        .await
        .expect("the api's metrics")
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nhttp_connections_taken_over 1\n"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("taken_over"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A danmaku posted through the site reaches the stream within 2 s.
    let sent = Instant::now();
    let posted = web
        .post(&format!("/api/videos/{vid}/danmaku"))
        .by(&bob)
        .same_origin()
        .json(json!({"text": "through the proxy", "at_ms": 1000, "color": "#ffcc00"}))
        .await;
    assert_eq!(posted.status, 201, "{}", posted.text());
    let arrived = read_until(&mut body, &mut seen, "through the proxy").await;
    assert!(
        arrived - sent < Duration::from_secs(2),
        "{:?}",
        arrived - sent
    );
    assert!(seen.contains("event: danmaku\n"), "{seen}");
    // Without the site's Origin a danmaku is refused like any other write.
    let foreign = web
        .post(&format!("/api/videos/{vid}/danmaku"))
        .by(&bob)
        .header("origin", "http://evil.example")
        .json(json!({"text": "x", "at_ms": 0}))
        .await;
    assert_eq!(foreign.status, 403);

    // The viewer leaves: web lets its own connection to the api go at once, so the api's count
    // drops (and its stream ends) without waiting for a heartbeat write to fail.
    drop(body);
    let api_metrics = p._api.url("/metrics");
    svc::testing::eventually(
        "the api's stream through web to end once its viewer left",
        Duration::from_secs(5),
        || {
            let url = api_metrics.clone();
            async move {
                let text = reqwest::get(url).await.ok()?.text().await.ok()?;
                text.contains("\nhttp_connections_taken_over 0\n")
                    .then_some(())
            }
        },
    )
    .await;
}

/// The `aria-pressed` of the page's `id="favorite"` or `id="follow"` button.
fn pressed(page: &str, id: &str) -> Option<bool> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let rest = &page[at..];
    let value = rest.split("aria-pressed=\"").nth(1)?.split('"').next()?;
    Some(value == "true")
}

#[tokio::test]
async fn the_heart_and_follow_forms_work_without_javascript_and_fill_the_two_pages() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let vid = web.publish(&ann, "Harbour", "public").await;
    let watch = format!("/watch/{vid}");

    // Signed out: the watch page links both buttons to sign in, and shows the live bar.
    let page = web.page(&watch, None).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains(&format!("href=\"/login?next=%2Fwatch%2F{vid}\"")),
        "{text}"
    );
    assert!(text.contains("id=\"danmaku-layer\"") && text.contains("id=\"danmaku-bar\""));
    assert!(text.contains("/static/live.js?v="), "{text}");
    assert!(
        text.contains("id=\"danmaku-invite\""),
        "signed out: an invitation, no form"
    );
    assert!(!text.contains("id=\"danmaku-form\""));
    for path in ["/favorites", "/subscriptions"] {
        let r = web.page(path, None).await;
        r.assert_redirect(&format!("/login?next={}", path.replace('/', "%2F")));
    }

    // bob: the heart and Follow are off, then on through their forms.
    let text = web.page(&watch, Some(&bob)).await.text();
    assert_eq!(pressed(&text, "favorite"), Some(false), "{text}");
    assert_eq!(pressed(&text, "follow"), Some(false), "{text}");
    assert!(text.contains("id=\"danmaku-form\""));
    let r = web
        .post(&format!("{watch}/favorite"))
        .by(&bob)
        .same_origin()
        .html()
        .form(&[("on", "1")])
        .await;
    r.assert_redirect(&watch);
    let r = web
        .post("/u/ann/follow")
        .by(&bob)
        .same_origin()
        .html()
        .form(&[("on", "1"), ("back", &watch)])
        .await;
    r.assert_redirect(&watch);
    let text = web.page(&watch, Some(&bob)).await.text();
    assert_eq!(pressed(&text, "favorite"), Some(true), "{text}");
    assert!(
        text.contains("<span id=\"favorite-count\">1</span>"),
        "{text}"
    );
    assert_eq!(pressed(&text, "follow"), Some(true), "{text}");
    // The channel counts its follower; its owner has no Follow button on their own things.
    let channel = web.page("/u/ann", Some(&bob)).await.text();
    assert!(channel.contains("1 follower<"), "{channel}");
    assert_eq!(pressed(&channel, "follow"), Some(true));
    let own = web.page("/u/ann", Some(&ann)).await.text();
    assert!(!own.contains("id=\"follow\""), "{own}");
    assert!(!web
        .page(&watch, Some(&ann))
        .await
        .text()
        .contains("id=\"follow\""));

    // The two pages.
    let favorites = web.page("/favorites", Some(&bob)).await;
    assert_eq!(favorites.status, 200);
    assert!(favorites.shows(&vid), "{}", favorites.text());
    let subscriptions = web.page("/subscriptions", Some(&bob)).await;
    assert!(subscriptions.shows(&vid), "{}", subscriptions.text());
    let empty = web.page("/subscriptions", Some(&ann)).await.text();
    assert!(empty.contains("id=\"no-subscriptions\""), "{empty}");
    let r = web.page("/favorites?before=forged", Some(&bob)).await;
    assert_eq!(r.status, 400);

    // Off again; an unsafe `back` goes to the channel instead; a foreign post is refused.
    let r = web
        .post("/u/ann/follow")
        .by(&bob)
        .same_origin()
        .html()
        .form(&[("on", "0"), ("back", "//evil.example/")])
        .await;
    r.assert_redirect("/u/ann");
    let r = web
        .post(&format!("{watch}/favorite"))
        .by(&bob)
        .same_origin()
        .html()
        .form(&[("on", "0")])
        .await;
    r.assert_redirect(&watch);
    assert!(!web.page("/favorites", Some(&bob)).await.shows(&vid));
    assert!(!web.page("/subscriptions", Some(&bob)).await.shows(&vid));
    let r = web
        .post(&format!("{watch}/favorite"))
        .by(&bob)
        .header("origin", "http://evil.example")
        .form(&[("on", "1")])
        .await;
    assert_eq!(r.status, 403);
    // Signed out, the forms send to sign in; following oneself is the api's refusal as a page.
    let r = web
        .post("/u/ann/follow")
        .same_origin()
        .html()
        .form(&[("on", "1"), ("back", &watch)])
        .await;
    r.assert_redirect(&format!("/login?next=%2Fwatch%2F{vid}"));
    let r = web
        .post("/u/ann/follow")
        .by(&ann)
        .same_origin()
        .html()
        .form(&[("on", "1")])
        .await;
    r.assert_page(422, "cannot follow yourself");
    let r = web.page(&format!("{watch}/favorite"), Some(&bob)).await;
    assert_eq!(r.status, 405);
}

/// The danmaku pinned between 0:05 and 0:06 before the browser comes: what the watch page's
/// screenshots show on screen, in every mode and a few colours and scripts.
const SEEDED: &[(&str, u32, &str, &str)] = &[
    ("前方高能！", 5000, "scroll", "#ffffff"),
    ("What a view 🌅", 5100, "scroll", "#ffe133"),
    ("The harbour at dusk", 5200, "top", "#fe0302"),
    ("666", 5300, "scroll", "#a0ee00"),
    ("Where is this?", 5400, "bottom", "#ffffff"),
    ("<i>not italic</i>", 5500, "scroll", "#4266be"),
    ("この景色いいね", 5700, "scroll", "#ff7204"),
    ("Beautiful", 5900, "scroll", "#cc0273"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_on_one_video_see_each_others_danmaku_fly_live_and_the_count() {
    let _one_browser = crate::e2e::BROWSER.lock().await;
    let p = Platform::start(Options::all_binaries()).await;
    let web = &p.web;
    let clip = p.dir.path().join("harbour.mp4");
    crate::support::make_mp4(&clip, 20, "640x360");
    let ann = web.register("ann").await;
    let vid = web
        .create_video_as(
            &ann,
            json!({"name": "Harbour at dusk", "visibility": "public"}),
        )
        .await;
    web.upload(&ann, &vid, std::fs::read(&clip).expect("the clip"))
        .await;
    svc::testing::eventually("the video processed", Duration::from_secs(90), || {
        let get = web.get(&format!("/api/videos/{vid}")).by(&ann);
        async move { (get.await.json()["state"] == "ready").then_some(()) }
    })
    .await;
    // Each seeded danmaku by its own user: one every 2 s each is the limit.
    for (i, (text, at_ms, mode, color)) in SEEDED.iter().enumerate() {
        let who = web.register(&format!("viewer{i}")).await;
        let r = web
            .post(&format!("/api/videos/{vid}/danmaku"))
            .by(&who)
            .same_origin()
            .json(json!({"text": text, "at_ms": at_ms, "mode": mode, "color": color}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let bob = web.register("bob").await;
    let shots = crate::e2e::screenshot_dir("live");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", web.url("")),
        ("VID", vid.clone()),
        ("OWNER", "ann".to_string()),
        ("SESSION", crate::e2e::session_of(&bob)),
        ("SHOTS", shots.display().to_string()),
    ];
    let logs = [p.web_service.process()];
    let r = crate::e2e::run_browser("live.cjs", &env, &logs).await;

    // Both pages count both.
    assert_eq!(r["count_a"], "2 watching now", "{r:#}");
    assert_eq!(r["count_b"], "2 watching now", "{r:#}");
    assert_eq!(r["bar_visible"], true);
    assert_eq!(r["invite"], "Sign in to send danmaku.");
    // Sent in A, flying over B's video within 2 s, as text, in the chosen colour.
    let latency = r["latency_ms"].as_u64().expect("a latency");
    println!("a danmaku from one browser to the other in {latency} ms");
    assert!(latency < 2000, "{latency} ms");
    assert_eq!(
        r["sender_input_after"], "",
        "the field is emptied once sent"
    );
    assert_eq!(r["markup_children"], 0, "markup in a danmaku stays text");
    assert_eq!(r["color"], "rgb(255, 225, 51)");
    assert!(r["moved_px"].as_i64().unwrap() > 10, "{r:#}");
    assert_eq!(r["over_video"], true);
    // A seek back shows it again at its moment (0:02); a seek forwards over it does not.
    let replay = r["replay_at"].as_f64().unwrap();
    assert!((1.95..2.7).contains(&replay), "shown again at {replay}");
    assert_eq!(r["after_forward_seek"], 2, "{r:#}");
    // A comment, live in the other page, its time a link; no reload.
    assert_eq!(r["comment_seek_link"], "2");
    assert_eq!(r["b_navigations"], 1);
    // The toggle hides the layer and what comes while it is hidden; it is remembered.
    assert_eq!(r["toggle_pressed"], "false");
    assert_eq!(r["layer_hidden"], true);
    assert_eq!(r["hidden_shown"], 0);
    assert_eq!(r["layer_children_hidden"], 0);
    assert_eq!(r["toggle_after"], "true");
    assert_eq!(r["density_kept"], "many");
    assert_eq!(r["hidden_after_reload"], "true");
    assert!(
        r["too_fast"].as_str().unwrap().contains("too fast; wait"),
        "{r:#}"
    );
    assert_eq!(r["count_after_close"], "1 watching now");
    // The seeded ones on screen for the pictures, at both sizes.
    assert!(r["on_screen"].as_u64().unwrap() >= 5, "{r:#}");
    assert!(r["on_screen_phone"].as_u64().unwrap() >= 3, "{r:#}");
    // The heart and Follow, kept, and the two pages.
    assert_eq!(r["favorite_count"], "1");
    assert_eq!(r["follow_label"], "Following");
    assert_eq!(r["a_navigations"], 1, "no reload for the buttons");
    assert_eq!(r["favorite_after_reload"], "true");
    assert_eq!(r["follow_after_reload"], "true");
    assert_eq!(r["favorites"], json!([vid]));
    assert_eq!(r["subscriptions"], json!([vid]));
    assert_eq!(r["followers"], "1 follower");
    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    for name in [
        "watch-danmaku",
        "favorites",
        "subscriptions",
        "channel-following",
    ] {
        for size in ["", "-phone"] {
            let file = shots.join(format!("{name}{size}.png"));
            assert!(file.is_file(), "{} is missing", file.display());
        }
    }
}

/// What was removed leaves open watch pages (`live_gone.cjs`): a comment deleted in another
/// session leaves the list; a deleted video shows the notice above the player, disables the forms
/// and its stream is not reopened; a video made private is taken from others but stays on its
/// owner's page, whose stream goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_comments_and_videos_leave_open_watch_pages() {
    let _one_browser = crate::e2e::BROWSER.lock().await;
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let vid = web.publish(&ann, "Soon deleted", "public").await;
    let vid2 = web.publish(&ann, "Soon private", "public").await;
    let shots = crate::e2e::screenshot_dir("live-gone");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", web.url("")),
        ("VID", vid.clone()),
        ("VID2", vid2.clone()),
        ("OWNER", "ann".to_string()),
        ("OWNER_SESSION", crate::e2e::session_of(&ann)),
        ("SESSION", crate::e2e::session_of(&bob)),
        ("SHOTS", shots.display().to_string()),
    ];
    // Every service runs in-process here: its log is the test's own output.
    let r = crate::e2e::run_browser("live_gone.cjs", &env, &[]).await;

    // The comment came and went live, without a reload.
    assert_eq!(r["comment_shown"], true, "{r:#}");
    assert_eq!(r["comment_delete_status"], 204);
    assert_eq!(r["comment_after_delete"], false);
    assert_eq!(r["no_comments_back"], true, "the empty list says so again");
    assert_eq!(r["bob_navigations"], 1);
    // The deleted video: the notice, above the player, the player stopped, the forms off.
    assert_eq!(r["video_delete_status"], 204);
    assert_eq!(r["notice"], "This video was deleted by its owner.");
    assert_eq!(r["notice_role"], "alert");
    assert_eq!(r["notice_above_player"], true);
    assert_eq!(r["player"], json!({"paused": true, "controls": false}));
    assert_eq!(r["forms_disabled"], json!([true, true, true, true]));
    assert_eq!(r["viewers_hidden"], true);
    // One stream request in all: none after the retry delay has passed.
    assert_eq!(
        r["live_requests"],
        json!({"before": 1, "after": 1}),
        "{r:#}"
    );
    // Private: the others are told; the owner keeps the video and the stream.
    assert_eq!(r["private_status"], 200);
    assert_eq!(r["private_notice"], "This video is now private.");
    assert_eq!(r["private_forms_disabled"], true);
    assert_eq!(r["owner_badge"], "Private");
    assert_eq!(r["owner_notice"], false);
    assert_eq!(r["owner_live_comment"], true);
    assert_eq!(r["owner_forms_enabled"], true);
    assert_eq!(
        r["owner_live_requests"], 1,
        "the owner's stream never broke"
    );
    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    for name in ["watch-deleted", "watch-private"] {
        for size in ["", "-phone"] {
            let file = shots.join(format!("{name}{size}.png"));
            assert!(file.is_file(), "{} is missing", file.display());
        }
    }
}
