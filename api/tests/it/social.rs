//! Danmaku, favourites and follows (issue 14), each route from the owner's, another user's and a
//! signed-out side, with the bad inputs a client can send: empty, too long, a moment outside the
//! video, a bad colour, an unknown video, someone else's private video.

use reqwest::Method;
use serde_json::{json, Value};
use svc::Visibility;

use crate::helpers::{spawn_app, TestApp};

/// An api without the danmaku interval (tests post quickly), with ann, bob and carol.
async fn app_with_users() -> (TestApp, String, String, String) {
    let app = spawn_app(&[("DANMAKU_INTERVAL", "0")]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    (app, ann, bob, carol)
}

fn danmaku_path(vid: &str) -> String {
    format!("/videos/{vid}/danmaku")
}

async fn post_danmaku(app: &TestApp, vid: &str, session: &str, body: Value) -> Value {
    app.post(&danmaku_path(vid), Some(session), body)
        .await
        .expect(201)
        .body
}

/// The `(at_ms, text)` of a window's danmaku, in order.
fn timeline(body: &Value) -> Vec<(u64, String)> {
    body["danmaku"]
        .as_array()
        .unwrap_or_else(|| panic!("no danmaku array in {body}"))
        .iter()
        .map(|d| {
            (
                d["at_ms"].as_u64().unwrap(),
                d["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn danmaku_are_posted_at_a_moment_and_read_back_by_window_in_time_order() {
    let (app, ann, bob, _) = app_with_users().await;
    let vid = app
        .published("ann", &ann, "Clip", "", Visibility::Public)
        .await;
    // The whole object, as sent: the text trimmed, the colour in lower case.
    let d = post_danmaku(
        &app,
        &vid,
        &bob,
        json!({"text": "  <b>666</b> 哈哈  ", "at_ms": 1500, "mode": "top", "color": "#FFCC00"}),
    )
    .await;
    assert_eq!(d["text"], "<b>666</b> 哈哈");
    assert_eq!(
        (&d["at_ms"], &d["mode"], &d["color"]),
        (&json!(1500), &json!("top"), &json!("#ffcc00"))
    );
    assert_eq!((&d["author"], &d["video_id"]), (&json!("bob"), &json!(vid)));
    assert!(d["id"].as_u64().is_some() && d["author_id"].as_u64().is_some());
    assert!(d["time"].as_str().unwrap().ends_with('Z'));
    // Defaults: scrolling white. The owner may post on their own video; the end is allowed.
    let plain = post_danmaku(&app, &vid, &ann, json!({"text": "end", "at_ms": 5000})).await;
    assert_eq!(
        (&plain["mode"], &plain["color"]),
        (&json!("scroll"), &json!("#ffffff"))
    );
    for (at, text) in [
        (0, "start"),
        (1500, "same moment"),
        (2999, "b"),
        (3000, "c"),
        (4000, "d"),
    ] {
        post_danmaku(
            &app,
            &vid,
            &bob,
            json!({"text": text, "at_ms": at, "mode": "bottom"}),
        )
        .await;
    }
    // A window: from_ms inclusive, to_ms exclusive, in (at_ms, id) order; signed out too.
    let window = app
        .read(
            &format!("{}?from_ms=1500&to_ms=3000", danmaku_path(&vid)),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        timeline(&window.body),
        [
            (1500, "<b>666</b> 哈哈".to_string()),
            (1500, "same moment".into()),
            (2999, "b".into())
        ]
    );
    assert_eq!(window.body["next"], Value::Null);
    // The whole timeline, two a page.
    let mut all = vec![];
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            None => format!("{}?limit=2", danmaku_path(&vid)),
            Some(c) => format!("{}?limit=2&after={c}", danmaku_path(&vid)),
        };
        let page = app.get(&url, &bob).await.expect(200);
        let part = timeline(&page.body);
        assert!(part.len() <= 2);
        all.extend(part);
        match page.body["next"].as_str() {
            Some(c) => next = Some(c.to_string()),
            None => break,
        }
    }
    let ats: Vec<u64> = all.iter().map(|(at, _)| *at).collect();
    assert_eq!(ats, [0, 1500, 1500, 2999, 3000, 4000, 5000]);
    // An empty window of a visible video is 200 with nothing.
    let empty = app
        .read(
            &format!("{}?from_ms=4001&to_ms=4999", danmaku_path(&vid)),
            None,
        )
        .await
        .expect(200);
    assert_eq!(empty.body, json!({"danmaku": [], "next": null}));
}

#[tokio::test]
async fn bad_danmaku_are_refused_with_a_message() {
    let (app, ann, bob, _) = app_with_users().await;
    let vid = app
        .published("ann", &ann, "Clip", "", Visibility::Public)
        .await;
    let path = danmaku_path(&vid);
    let bad = |text: &str, at_ms: i64, extra: Value| {
        let mut body = json!({"text": text, "at_ms": at_ms});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    // Out of bounds: 422 with what is wrong.
    for (body, says) in [
        (bad("", 0, json!({})), "empty"),
        (bad("   ", 0, json!({})), "empty"),
        (bad(&"a".repeat(101), 0, json!({})), "101 characters"),
        (bad("two\nlines", 0, json!({})), "one line"),
        (bad("ok", 5001, json!({})), "0 to 5000"),
        (bad("ok", -1, json!({})), "0 to 5000"),
        (bad("ok", 0, json!({"color": "red"})), "six hex digits"),
        (bad("ok", 0, json!({"color": "#ffcc0"})), "six hex digits"),
    ] {
        let r = app.post(&path, Some(&bob), body.clone()).await;
        r.assert_error(422, "422");
        assert!(
            r.body["error"].as_str().unwrap().contains(says),
            "{body}: {r:?}"
        );
    }
    // Malformed: 400 naming the field.
    for (body, says) in [
        (bad("ok", 0, json!({"mode": "sideways"})), "sideways"),
        (json!({"text": "ok", "at_ms": 1.5}), "floating point"),
        (json!({"text": "ok"}), "at_ms"),
        (bad("ok", 0, json!({"size": 3})), "size"),
        (json!(["ok", 0]), "JSON object"),
    ] {
        let r = app.post(&path, Some(&bob), body.clone()).await;
        r.assert_error(400, "001");
        assert!(
            r.body["error"].as_str().unwrap().contains(says),
            "{body}: {r:?}"
        );
    }
    // No session; an unknown video; a private one of someone else (its owner may post).
    app.post(&path, None, bad("ok", 0, json!({})))
        .await
        .assert_error(401, "002");
    let unknown = svc::VideoId::random().to_string();
    app.post(&danmaku_path(&unknown), Some(&bob), bad("ok", 0, json!({})))
        .await
        .assert_error(404, "404");
    let private = app
        .published("ann", &ann, "Mine", "", Visibility::Private)
        .await;
    app.post(&danmaku_path(&private), Some(&bob), bad("ok", 0, json!({})))
        .await
        .assert_error(404, "404");
    post_danmaku(&app, &private, &ann, bad("mine", 0, json!({}))).await;
    // Nothing of the refused ones was stored.
    assert_eq!(app.rows("danmaku").await, 1);
    // A video not processed yet has no known length: any moment within a day, for its owner.
    let pending = app.new_video("ann", &ann, "Soon").await;
    post_danmaku(&app, &pending, &ann, bad("early", 3_600_000, json!({}))).await;
    app.post(
        &danmaku_path(&pending),
        Some(&ann),
        bad("late", 86_400_001, json!({})),
    )
    .await
    .assert_error(422, "422");
    // Reading: bad windows are 400; private and unknown videos 404 to others, signed out too.
    for q in [
        "from_ms=-1",
        "to_ms=x",
        "from_ms=9&to_ms=1",
        "limit=0",
        "limit=1001",
        "after=forged",
    ] {
        app.read(&format!("{path}?{q}"), None)
            .await
            .assert_error(400, "001");
    }
    for who in [None, Some(bob.as_str())] {
        app.read(&danmaku_path(&private), who)
            .await
            .assert_error(404, "404");
        app.read(&danmaku_path(&unknown), who)
            .await
            .assert_error(404, "404");
    }
    let own = app
        .read(&danmaku_path(&private), Some(&ann))
        .await
        .expect(200);
    assert_eq!(timeline(&own.body), [(0, "mine".to_string())]);
    let r = app.call(Method::PUT, &path, Some(&bob), None).await;
    r.assert_error(405, "405");
    assert_eq!(r.headers["allow"], "GET, POST");
}

#[tokio::test]
async fn one_danmaku_every_two_seconds_per_user_then_429_with_retry_after() {
    // The default interval.
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let vid = app
        .published("ann", &ann, "Clip", "", Visibility::Public)
        .await;
    let body = json!({"text": "first", "at_ms": 0});
    post_danmaku(&app, &vid, &bob, body.clone()).await;
    let r = app
        .post(&danmaku_path(&vid), Some(&bob), body.clone())
        .await;
    r.assert_error(429, "429");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert!(
        r.body["error"].as_str().unwrap().contains("danmaku"),
        "{r:?}"
    );
    // Another user has their own allowance; an invalid body does not spend one.
    post_danmaku(&app, &vid, &ann, body.clone()).await;
    app.post(
        &danmaku_path(&vid),
        Some(&ann),
        json!({"text": "", "at_ms": 0}),
    )
    .await
    .assert_error(422, "422");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    post_danmaku(&app, &vid, &bob, body).await;
}

#[tokio::test]
async fn a_danmaku_is_deleted_by_its_author_or_the_video_owner_only() {
    let (app, ann, bob, carol) = app_with_users().await;
    let vid = app
        .published("ann", &ann, "Clip", "", Visibility::Public)
        .await;
    let other = app
        .published("ann", &ann, "Other", "", Visibility::Public)
        .await;
    let mut ids = vec![];
    for text in ["one", "two", "three"] {
        let d = post_danmaku(&app, &vid, &bob, json!({"text": text, "at_ms": 0})).await;
        ids.push(d["id"].as_u64().unwrap());
    }
    let item = |vid: &str, id: &str| format!("/videos/{vid}/danmaku/{id}");
    // Not theirs: carol 403; signed out 401; under another video, unknown or not a number: 404.
    app.delete(&item(&vid, &ids[0].to_string()), &carol)
        .await
        .assert_error(403, "403");
    app.call(Method::DELETE, &item(&vid, &ids[0].to_string()), None, None)
        .await
        .assert_error(401, "002");
    for (v, id) in [
        (other.as_str(), ids[0].to_string()),
        (vid.as_str(), "999999".to_string()),
        (vid.as_str(), "x1".to_string()),
        (vid.as_str(), "+1".to_string()),
    ] {
        app.delete(&item(v, &id), &bob)
            .await
            .assert_error(404, "404");
    }
    // Its author, then the video's owner.
    app.delete(&item(&vid, &ids[0].to_string()), &bob)
        .await
        .expect(204);
    app.delete(&item(&vid, &ids[1].to_string()), &ann)
        .await
        .expect(204);
    app.delete(&item(&vid, &ids[1].to_string()), &ann)
        .await
        .assert_error(404, "404");
    let left = app.read(&danmaku_path(&vid), None).await.expect(200);
    assert_eq!(timeline(&left.body), [(0, "three".to_string())]);
    // A video made private: its danmaku are 404 to bob, even his own.
    app.set_visibility(&vid, Visibility::Private).await;
    app.delete(&item(&vid, &ids[2].to_string()), &bob)
        .await
        .assert_error(404, "404");
}

#[tokio::test]
async fn deleting_a_video_removes_its_danmaku_and_favourites_with_its_comments() {
    let (app, ann, bob, _) = app_with_users().await;
    let vid = app
        .published("ann", &ann, "Clip", "", Visibility::Public)
        .await;
    let keep = app
        .published("ann", &ann, "Keep", "", Visibility::Public)
        .await;
    for v in [&vid, &keep] {
        post_danmaku(&app, v, &bob, json!({"text": "x", "at_ms": 0})).await;
        app.comment(v, &bob, "y").await;
        app.call(
            Method::PUT,
            &format!("/user/bob/favorites/{v}"),
            Some(&bob),
            None,
        )
        .await
        .expect(200);
    }
    app.delete(&format!("/user/ann/videos/{vid}"), &ann)
        .await
        .expect(204);
    for table in ["danmaku", "favorites", "comments"] {
        let n = app
            .sql_count(
                &format!("SELECT COUNT(*) FROM {table} WHERE video_id = ?"),
                (&vid,),
            )
            .await;
        assert_eq!(n, 0, "{table} of the deleted video");
        let kept = app
            .sql_count(
                &format!("SELECT COUNT(*) FROM {table} WHERE video_id = ?"),
                (&keep,),
            )
            .await;
        assert_eq!(kept, 1, "{table} of the other video");
    }
    let list = app.get("/user/bob/favorites", &bob).await.expect(200);
    assert_eq!(list.ids("videos"), [keep]);
}

fn fav(user: &str, vid: &str) -> String {
    format!("/user/{user}/favorites/{vid}")
}

#[tokio::test]
async fn favourites_are_their_owners_counted_on_the_video_and_listed_newest_first() {
    let (app, ann, bob, carol) = app_with_users().await;
    let mut vids = vec![];
    for title in ["a", "b", "c"] {
        vids.push(
            app.published("ann", &ann, title, "", Visibility::Public)
                .await,
        );
    }
    // Marked twice by bob and once by carol: counted once each.
    for _ in 0..2 {
        let r = app
            .call(Method::PUT, &fav("bob", &vids[0]), Some(&bob), None)
            .await
            .expect(200);
        assert_eq!(
            r.body,
            json!({"video_id": vids[0], "favorited": true, "favorite_count": 1})
        );
    }
    let r = app
        .call(Method::PUT, &fav("carol", &vids[0]), Some(&carol), None)
        .await
        .expect(200);
    assert_eq!(r.body["favorite_count"], 2);
    let object = app
        .read(&format!("/videos/{}", vids[0]), None)
        .await
        .expect(200);
    assert_eq!(object.body["favorite_count"], 2);
    let listed = app.read("/videos", None).await.expect(200);
    let counts: Vec<&Value> = listed.body["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["favorite_count"])
        .collect();
    assert!(
        counts.contains(&&json!(2)) && counts.contains(&&json!(0)),
        "{counts:?}"
    );
    // The heart's question, for the user alone.
    let state = app.get(&fav("bob", &vids[0]), &bob).await.expect(200);
    assert_eq!(
        state.body,
        json!({"video_id": vids[0], "favorited": true, "favorite_count": 2})
    );
    let state = app.get(&fav("bob", &vids[1]), &bob).await.expect(200);
    assert_eq!(state.body["favorited"], false);
    // Someone else's favourites: 403 whatever the method; signed out 401.
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        app.call(m.clone(), &fav("bob", &vids[1]), Some(&carol), None)
            .await
            .assert_error(403, "403");
        app.call(m, &fav("bob", &vids[1]), None, None)
            .await
            .assert_error(401, "002");
    }
    app.read("/user/bob/favorites", Some(&carol))
        .await
        .assert_error(403, "403");
    app.read("/user/bob/favorites", None)
        .await
        .assert_error(401, "002");
    // Unknown, malformed and someone else's private videos: 404.
    let private = app
        .published("ann", &ann, "p", "", Visibility::Private)
        .await;
    for v in [
        svc::VideoId::random().to_string(),
        "nope".to_string(),
        private.clone(),
    ] {
        for m in [Method::GET, Method::PUT, Method::DELETE] {
            app.call(m, &fav("bob", &v), Some(&bob), None)
                .await
                .assert_error(404, "404");
        }
    }
    // Newest first, paged.
    app.call(Method::PUT, &fav("bob", &vids[1]), Some(&bob), None)
        .await
        .expect(200);
    app.call(Method::PUT, &fav("bob", &vids[2]), Some(&bob), None)
        .await
        .expect(200);
    let pages = app
        .pages("/user/bob/favorites", "videos", Some(&bob), 2)
        .await;
    assert_eq!(
        pages,
        [
            vec![vids[2].clone(), vids[1].clone()],
            vec![vids[0].clone()]
        ]
    );
    app.read("/user/bob/favorites?before=forged", Some(&bob))
        .await
        .assert_error(400, "001");
    // Unmarked (twice: nothing more changes).
    for _ in 0..2 {
        let r = app.delete(&fav("bob", &vids[0]), &bob).await.expect(200);
        assert_eq!(
            r.body,
            json!({"video_id": vids[0], "favorited": false, "favorite_count": 1})
        );
    }
    // A favourite whose video went private leaves the list but can still be removed.
    app.set_visibility(&vids[1], Visibility::Private).await;
    assert_eq!(
        app.get("/user/bob/favorites", &bob).await.ids("videos"),
        [vids[2].clone()]
    );
    app.call(Method::PUT, &fav("bob", &vids[1]), Some(&bob), None)
        .await
        .assert_error(404, "404");
    let r = app.delete(&fav("bob", &vids[1]), &bob).await.expect(200);
    assert_eq!(r.body["favorited"], false);
    // The owner may mark their own private video.
    app.call(Method::PUT, &fav("ann", &private), Some(&ann), None)
        .await
        .expect(200);
    let r = app
        .call(Method::POST, &fav("bob", &vids[0]), Some(&bob), None)
        .await;
    r.assert_error(405, "405");
    assert_eq!(r.headers["allow"], "GET, PUT, DELETE");
}

fn follow(user: &str, other: &str) -> String {
    format!("/user/{user}/following/{other}")
}

#[tokio::test]
async fn follows_are_counted_on_the_profile_and_feed_the_followed_channels_newest_videos() {
    let (app, ann, bob, carol) = app_with_users().await;
    // bob follows ann and carol (twice: once counted).
    for _ in 0..2 {
        let r = app
            .call(Method::PUT, &follow("bob", "ann"), Some(&bob), None)
            .await
            .expect(200);
        assert_eq!(
            r.body,
            json!({"user_name": "ann", "following": true, "follower_count": 1})
        );
    }
    app.call(Method::PUT, &follow("bob", "carol"), Some(&bob), None)
        .await
        .expect(200);
    app.call(Method::PUT, &follow("carol", "ann"), Some(&carol), None)
        .await
        .expect(200);
    let profile = |name: &'static str| {
        let app = &app;
        async move {
            app.read(&format!("/user/{name}"), None)
                .await
                .expect(200)
                .body
        }
    };
    let p = profile("ann").await;
    assert_eq!(
        (&p["follower_count"], &p["following_count"]),
        (&json!(2), &json!(0))
    );
    let p = profile("bob").await;
    assert_eq!(
        (&p["follower_count"], &p["following_count"]),
        (&json!(0), &json!(2))
    );
    let state = app.get(&follow("bob", "ann"), &bob).await.expect(200);
    assert_eq!(state.body["following"], true);
    let state = app.get(&follow("carol", "bob"), &carol).await.expect(200);
    assert_eq!(state.body["following"], false);
    // Bad requests: oneself 422; an unknown or impossible name 404; another's list 403;
    // signed out 401.
    let r = app
        .call(Method::PUT, &follow("bob", "bob"), Some(&bob), None)
        .await;
    r.assert_error(422, "422");
    for other in ["nobody", "no%20body"] {
        for m in [Method::GET, Method::PUT, Method::DELETE] {
            app.call(m, &follow("bob", other), Some(&bob), None)
                .await
                .assert_error(404, "404");
        }
    }
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        app.call(m.clone(), &follow("bob", "ann"), Some(&carol), None)
            .await
            .assert_error(403, "403");
        app.call(m, &follow("bob", "ann"), None, None)
            .await
            .assert_error(401, "002");
    }

    // The feed: the followed channels' public playable videos, newest first, paged.
    let a1 = app
        .published("ann", &ann, "a1", "", Visibility::Public)
        .await;
    let c1 = app
        .published("carol", &carol, "c1", "", Visibility::Public)
        .await;
    app.published("ann", &ann, "hidden", "", Visibility::Unlisted)
        .await;
    app.published("ann", &ann, "mine", "", Visibility::Private)
        .await;
    app.new_video("ann", &ann, "not uploaded").await;
    let a2 = app
        .published("ann", &ann, "a2", "", Visibility::Public)
        .await;
    app.published("bob", &bob, "own", "", Visibility::Public)
        .await;
    let pages = app.pages("/feed", "videos", Some(&bob), 2).await;
    assert_eq!(pages, [vec![a2.clone(), c1.clone()], vec![a1.clone()]]);
    let first = app.get("/feed", &bob).await.expect(200);
    assert_eq!(first.body["videos"][0]["author"], "ann");
    assert_eq!(first.body["videos"][0]["favorite_count"], 0);
    // Unfollowed (twice: nothing more changes): gone from the feed.
    for _ in 0..2 {
        let r = app.delete(&follow("bob", "carol"), &bob).await.expect(200);
        assert_eq!(
            r.body,
            json!({"user_name": "carol", "following": false, "follower_count": 0})
        );
    }
    assert_eq!(app.get("/feed", &bob).await.ids("videos"), [a2, a1]);
    // Nobody followed: an empty feed. Signed out: 401. A forged cursor: 400.
    let none = app.register("dave").await;
    assert_eq!(
        app.get("/feed", &none).await.expect(200).body,
        json!({"videos": [], "next": null})
    );
    app.read("/feed", None).await.assert_error(401, "002");
    app.get("/feed?before=forged", &bob)
        .await
        .assert_error(400, "001");
    app.get("/feed?limit=0", &bob)
        .await
        .assert_error(400, "001");
    let r = app.call(Method::POST, "/feed", Some(&bob), None).await;
    r.assert_error(405, "405");
}

/// A video whose processing failed will never be watched: even its owner, the only one who
/// sees it, is refused a comment, a danmaku or a favourite (409, saying why and what to do), and
/// nothing is written. Another user still gets the 404 of a video they cannot see.
#[tokio::test]
async fn a_failed_video_takes_no_comments_danmaku_or_favourites_even_from_its_owner() {
    let (app, ann, bob, _) = app_with_users().await;
    let vid = app
        .published("ann", &ann, "Broken clip", "", Visibility::Public)
        .await;
    app.set_state(&vid, svc::VideoState::Failed).await;
    let comments = format!("/videos/{vid}/comments");
    let refusals = [
        app.post(&comments, Some(&ann), json!({"content": "hello?"}))
            .await,
        app.post(
            &danmaku_path(&vid),
            Some(&ann),
            json!({"text": "666", "at_ms": 0}),
        )
        .await,
        app.call(Method::PUT, &fav("ann", &vid), Some(&ann), None)
            .await,
    ];
    for r in &refusals {
        r.assert_error(409, "409");
        let message = r.body["error"].as_str().unwrap();
        assert!(
            message.contains("failed processing") && message.contains("new video"),
            "{message}"
        );
    }
    for table in ["comments", "danmaku", "favorites"] {
        let rows = app
            .sql_count(
                &format!("SELECT COUNT(*) FROM {table} WHERE video_id = ?"),
                (&vid,),
            )
            .await;
        assert_eq!(rows, 0, "{table}");
    }
    app.post(&comments, Some(&bob), json!({"content": "hello?"}))
        .await
        .assert_error(404, "404");
    app.call(Method::PUT, &fav("bob", &vid), Some(&bob), None)
        .await
        .assert_error(404, "404");
    // Once it plays (a new upload of the file would make a new video; here the state is set),
    // the same requests are taken.
    app.set_state(&vid, svc::VideoState::Ready).await;
    app.post(&comments, Some(&ann), json!({"content": "hello?"}))
        .await
        .expect(201);
    app.call(Method::PUT, &fav("ann", &vid), Some(&ann), None)
        .await
        .expect(200);
}
