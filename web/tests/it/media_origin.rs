//! The media origin (issue 16): with `MEDIA_URL`, pages point every media file at the
//! streamserver directly (signed for what only the owner may see), old same-origin media links
//! redirect there, uploads get a token through web's proxy; without it, everything is as before.
//! A URL the api names off the media origin never reaches a page. Then the browser runs (one
//! origin for the site, another for the media): playing, seeking and uploading with
//! `web/tests/e2e/media_origin.cjs`, and the renewal of short grants with
//! `web/tests/e2e/media_origin_renewal.cjs`: under a progressive file on time while it plays
//! or is paused, and after a refusal; under hls.js after a refusal (with two rungs and one).

use std::time::Duration;

use serde_json::{json, Value};
use svc::jobs::JobKind;
use svc::VideoId;

use crate::e2e::{run_browser, screenshot_dir, BROWSER};
use crate::site::{Reply, Visitor};
use crate::support::{make_mp4, make_mp4_at, Media, Options, Platform, Run};

/// Every value of `attr="..."` on the page, in order.
fn attrs(page: &Reply, attr: &str) -> Vec<String> {
    let start = format!(" {attr}=\"");
    page.text()
        .split(&start)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(crate::site::unescape)
        .collect()
}

/// The player's `src` on a watch or embed page.
fn player_src(page: &Reply) -> String {
    let text = page.text();
    let at = text
        .find("<video id=\"player\"")
        .expect("a player on the page");
    let video = &text[at..at + text[at..].find('>').expect("the end of the tag")];
    let src = video.split(" src=\"").nth(1).expect("a src");
    crate::site::unescape(&src[..src.find('"').unwrap()])
}

/// The `<video id="player">` tag itself.
fn player_tag(page: &Reply) -> String {
    let text = page.text();
    let at = text
        .find("<video id=\"player\"")
        .expect("a player on the page");
    text[at..at + text[at..].find('>').unwrap()].to_string()
}

/// The streamserver's address, which the platform made the media origin.
fn media_of(p: &Platform) -> String {
    p.stream_direct().url("")
}

/// Registers ann and publishes a public and a private video of hers (a real file uploaded
/// through web, as before), both processed to `ready`: only then does her own watch page show
/// the player.
async fn ann_with_videos(p: &Platform) -> (Visitor, String, String) {
    let web = &p.web;
    let ann = web.register("ann").await;
    let file = p.dir.path().join("short.mp4");
    make_mp4(&file, 2, "320x180");
    let bytes = std::fs::read(&file).expect("reading the test video");
    let mut vids = Vec::new();
    for (title, visibility) in [("Sunrise", "public"), ("Diary", "private")] {
        let body = serde_json::json!({ "name": title, "visibility": visibility });
        let vid = web.create_video_as(&ann, body).await;
        web.upload(&ann, &vid, bytes.clone()).await;
        vids.push(vid);
    }
    for vid in &vids {
        let path = format!("/api/user/ann/videos/{vid}");
        svc::testing::eventually("the video processed", Duration::from_secs(90), || async {
            let v = web.get(&path).by(&ann).await.json();
            (v["state"] == "ready").then_some(())
        })
        .await;
    }
    let private = vids.pop().unwrap();
    (ann, vids.pop().unwrap(), private)
}

/// The platform with its scheduler (which processes uploads), in-process.
fn processing(media: Option<Media>) -> Options {
    Options {
        stream: true,
        scheduler: true,
        media,
        ..Options::default()
    }
}

#[tokio::test]
async fn pages_point_media_at_the_media_origin_signed_only_for_the_owners_private_video() {
    let p = Platform::start(processing(Some(Media::default()))).await;
    let media = media_of(&p);
    let (ann, public, private) = ann_with_videos(&p).await;

    // A public video, signed out: plain URLs on the media origin, fetched without cookies.
    let page = p.web.page(&format!("/watch/{public}"), None).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(player_src(&page), format!("{media}/videos/{public}"));
    let tag = player_tag(&page);
    assert!(tag.contains(" crossorigin=\"anonymous\""), "{tag}");
    assert!(!tag.contains("data-expires"), "nothing signed: {tag}");
    assert!(
        page.text()
            .contains(&format!("<body data-media=\"{media}\">")),
        "the scripts learn the media origin"
    );
    // The same for its owner: a public video's URLs stay plain and cacheable.
    let page = p.web.page(&format!("/watch/{public}"), Some(&ann)).await;
    assert_eq!(player_src(&page), format!("{media}/videos/{public}"));
    let plain = p
        .stream_direct()
        .get(&format!("/videos/{public}"))
        .header("range", "bytes=0-99")
        .await;
    assert_eq!(plain.status, 206, "the plain URL plays without a cookie");

    // The owner's private video: signed URLs, which work without a cookie, with a Range.
    let page = p.web.page(&format!("/watch/{private}"), Some(&ann)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let src = player_src(&page);
    assert!(
        src.starts_with(&format!("{media}/s/")) && src.ends_with(&format!("/videos/{private}")),
        "{src}"
    );
    let tag = player_tag(&page);
    assert!(tag.contains(" crossorigin=\"anonymous\""), "{tag}");
    let expires: u64 = attrs(&page, "data-expires")[0].parse().unwrap();
    let now: u64 = attrs(&page, "data-now")[0].parse().unwrap();
    assert!(expires > now && expires <= now + 600, "{expires} {now}");
    assert_eq!(attrs(&page, "data-vid"), std::slice::from_ref(&private));
    let signed_path = src.strip_prefix(&media).unwrap();
    let bytes = p
        .stream_direct()
        .get(signed_path)
        .header("range", "bytes=0-99")
        .await;
    assert_eq!(bytes.status, 206, "{}", bytes.text());
    assert_eq!(bytes.body.len(), 100);
    let unsigned = p.stream_direct().get(&format!("/videos/{private}")).await;
    assert_eq!(
        unsigned.status, 404,
        "the plain URL of a private video opens nothing"
    );

    // The studio lists both, the private one with its signed thumbnail if it has one, and no
    // media URL anywhere off the media origin.
    let studio = p.web.page("/studio", Some(&ann)).await;
    assert_eq!(studio.status, 200);
    for url in attrs(&studio, "src").into_iter().chain(attrs(&page, "src")) {
        assert!(
            url.starts_with(&format!("{media}/")) || url.starts_with("/static/"),
            "{url}"
        );
    }
    // The page never needs the session: an upload token comes through web's proxy.
    let vid = p.web.create_video(&ann, "Later").await;
    let token = p
        .web
        .post(&format!("/api/videos/{vid}/upload-token"))
        .by(&ann)
        .same_origin()
        .await;
    assert_eq!(token.status, 200, "{}", token.text());
    let token = token.json();
    assert!(token["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(token["resumable_upload_url"], format!("{media}/files/"));
}

#[tokio::test]
async fn without_a_media_origin_pages_are_as_before() {
    let p = Platform::start(processing(None)).await;
    let (ann, public, private) = ann_with_videos(&p).await;
    for (vid, who) in [(&public, None), (&private, Some(&ann))] {
        let page = p.web.page(&format!("/watch/{vid}"), who).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(player_src(&page), format!("/videos/{vid}"));
        let tag = player_tag(&page);
        assert!(
            !tag.contains("crossorigin") && !tag.contains("data-expires"),
            "{tag}"
        );
        assert!(
            page.text().contains("<body>"),
            "no media origin for the scripts"
        );
    }
    // Media are proxied, the owner's private one with her cookie.
    let bytes = p
        .web
        .get(&format!("/videos/{private}"))
        .by(&ann)
        .header("range", "bytes=0-9")
        .await;
    assert_eq!(bytes.status, 206);
    let embed = p.web.get(&format!("/embed/{public}")).await;
    assert_eq!(player_src(&embed), format!("/videos/{public}"));
}

#[tokio::test]
async fn old_media_links_redirect_to_the_media_origin_and_uploads_stay_proxied() {
    let p = Platform::start(processing(Some(Media::default()))).await;
    let media = media_of(&p);
    let (ann, public, _) = ann_with_videos(&p).await;
    for (method, path) in [
        ("GET", format!("/videos/{public}?t=5")),
        ("HEAD", format!("/videos/{public}/hls/master.m3u8")),
        ("GET", format!("/thumbnails/{public}")),
    ] {
        let call = match method {
            "GET" => p.web.get(&path),
            _ => p.web.head(&path),
        };
        let reply = call.by(&ann).await;
        assert_eq!(reply.status, 307, "{method} {path}");
        assert_eq!(reply.header("location"), format!("{media}{path}"));
    }
    // The owner's download of the original needs the session, so it stays on the site.
    let original = p
        .web
        .get(&format!("/videos/{public}/original"))
        .by(&ann)
        .await;
    assert_eq!(original.status, 200, "{}", original.text());
    assert!(original
        .header("content-disposition")
        .starts_with("attachment"));
    // Uploads keep going through web: ann_with_videos uploaded through `/upload/`, and a tus
    // creation is answered by the streamserver, not redirected.
    let vid = p.web.create_video(&ann, "By tus").await;
    let created = p
        .web
        .post("/files/")
        .by(&ann)
        .same_origin()
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "4096")
        .header(
            "upload-metadata",
            &format!("video_id {}", base64(vid.as_bytes())),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
}

#[tokio::test]
async fn a_url_the_api_names_off_the_media_origin_never_reaches_a_page() {
    // web's media origin is not the one the api signs for: every URL of the api's is foreign.
    let p = Platform::start(processing(Some(Media {
        web_media_url: Some("http://127.0.0.1:9"),
        ..Media::default()
    })))
    .await;
    let api_media = media_of(&p);
    let (ann, public, private) = ann_with_videos(&p).await;
    for (path, who) in [
        (format!("/watch/{public}"), None),
        (format!("/watch/{private}"), Some(&ann)),
        ("/studio".to_string(), Some(&ann)),
        ("/".to_string(), None),
        (format!("/embed/{public}"), None),
    ] {
        let page = p.web.page(&path, who).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.text().contains(&api_media),
            "{path} names the api's media URL: {}",
            page.text()
        );
    }
    let page = p.web.page(&format!("/watch/{private}"), Some(&ann)).await;
    assert_eq!(
        player_src(&page),
        format!("http://127.0.0.1:9/videos/{private}")
    );
}

/// Base64 (RFC 4648 section 4, padded), as tus' `Upload-Metadata` wants its values.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The browser run: the site on one origin, the streamserver as the media origin on another
/// port (grants living 20 s, so the private page renews one while it is open). For a public
/// and a private video, uploaded through the studio to the media origin with tus: the page
/// plays and seeks (Range requests answered 206 from the media origin), and no request to the
/// media origin carries a cookie while the site's session cookie exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_plays_seeks_and_uploads_on_a_media_origin_without_sending_it_cookies() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options {
        media: Some(Media {
            grant_ttl: Some("20s"),
            ..Media::default()
        }),
        ..Options::all_binaries()
    })
    .await;
    let media = media_of(&p);
    let video = p.dir.path().join("pattern.mp4");
    make_mp4(&video, 8, "640x360");
    let shots = screenshot_dir("media");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", p.web.url("")),
        ("MEDIA_URL", media.clone()),
        ("VIDEO_FILE", video.display().to_string()),
        ("SHOTS", shots.display().to_string()),
    ];
    let procs = [
        p.web_service.process(),
        p.stream.as_ref().unwrap().process(),
        p.scheduler.as_ref().unwrap().process(),
    ];
    let result = run_browser("media_origin.cjs", &env, &procs).await;

    assert_eq!(result["session_cookie"], true, "the site has its session");
    assert_eq!(
        result["cookies_to_media"],
        Value::Array(vec![]),
        "requests to the media origin that carried a Cookie"
    );
    let tus = &result["tus"];
    assert!(tus["requests"].as_u64().unwrap() >= 2, "{tus}");
    assert_eq!(tus["all_bearer"], true, "{tus}");
    for kind in ["public", "private"] {
        let v = &result[kind];
        assert_eq!(v["state"], "ready", "{kind}: {v}");
        let src = v["src"].as_str().unwrap();
        assert!(src.starts_with(&format!("{media}/")), "{kind}: {src}");
        assert_eq!(
            src.starts_with(&format!("{media}/s/")),
            kind == "private",
            "{kind}: {src}"
        );
        assert_eq!(v["crossorigin"], "anonymous", "{kind}");
        let duration = v["duration"].as_f64().unwrap();
        assert!((duration - 8.0).abs() < 0.5, "{kind}: {v}");
        assert!(
            v["after_seek"].as_f64().unwrap() > duration / 2.0,
            "{kind}: {v}"
        );
        assert!(
            v["partial_from_media"].as_u64().unwrap() >= 1,
            "{kind}: no 206 from the media origin: {v}"
        );
        assert_eq!(v["refused"], 0, "{kind}: 403s from the media origin: {v}");
    }
    // The private page renewed its grant before it expired and played on under the new one.
    let renewal = &result["renewal"];
    assert_ne!(renewal["before"], renewal["after"], "{renewal}");
    assert!(renewal["after"].as_str().is_some_and(|g| !g.is_empty()));
    assert!(
        renewal["played_to"].as_f64().unwrap() > renewal["played_from"].as_f64().unwrap(),
        "{renewal}"
    );
    assert!(
        result["studio_thumbnails"].as_u64().unwrap() >= 2,
        "{result}"
    );
    for name in ["watch", "watch-phone", "studio", "studio-phone"] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }
}

/// ann's private video, `seconds` long at 640x360, taken through the scheduler's processing job
/// (probed, remuxed, thumbnailed: `ready`) and no further: the job is run here, once, so the
/// ladder job it queues is never taken and her watch page plays the progressive file, as it
/// does while a fresh upload's qualities are being prepared.
async fn private_without_a_ladder(p: &Platform, seconds: u32) -> (Visitor, String) {
    let ann = p.web.register("ann").await;
    let file = p.dir.path().join("long.mp4");
    make_mp4(&file, seconds, "640x360");
    let body = json!({ "name": "Diary", "visibility": "private" });
    let vid = p.web.create_video_as(&ann, body).await;
    let bytes = std::fs::read(&file).expect("reading the test video");
    p.web.upload(&ann, &vid, bytes).await;

    let storage = p.storage().display().to_string();
    let env = svc::Env::from_pairs(&[
        ("DATABASE_URL", p.database_url()),
        ("STORAGE_DIR", &storage),
    ]);
    let config = scheduler::Config::from_env(&env).expect("a scheduler configuration");
    let store = svc::storage::connect(&config.storage, svc::storage::LocalReads::default())
        .expect("opening the storage");
    let pool = svc::db::pool(p.database_url(), 2).expect("a database pool");
    let runner = scheduler::Runner::new(pool, store, config.runner);
    let job = svc::testing::eventually("the processing job", Duration::from_secs(20), || async {
        let jobs = runner.dispatch_once().await.expect("claiming jobs");
        jobs.into_iter().find(|j| {
            j.kind == Ok(JobKind::ProcessVideo)
                && j.video_id.as_ref().map(VideoId::as_str) == Some(vid.as_str())
        })
    })
    .await;
    assert_eq!(runner.execute_one(&job).await, scheduler::Outcome::Done);
    let v = p
        .web
        .get(&format!("/api/videos/{vid}"))
        .by(&ann)
        .await
        .json();
    assert_eq!(v["state"], "ready", "{v}");
    assert!(v["hls_url"].is_null(), "no ladder yet: {v}");
    (ann, vid)
}

/// Runs `media_origin_renewal.cjs` in `scenario` on ann's page of `vid`, with web as its
/// executable (its log in the report) and api and streamserver in-process.
async fn renewal_run(p: &Platform, ann: &Visitor, vid: &str, scenario: &str) -> Value {
    let env = [
        ("BASE_URL", p.web.url("")),
        ("MEDIA_URL", media_of(p)),
        ("VID", vid.to_string()),
        ("SESSION", crate::e2e::session_of(ann)),
        ("SCENARIO", scenario.to_string()),
    ];
    run_browser("media_origin_renewal.cjs", &env, &[p.web_service.process()]).await
}

/// The platform of the renewal runs: grants living `ttl`, no scheduler (the test runs the one
/// job it needs), web as its executable so that the media origin's CORS knows its origin.
fn renewing(ttl: &'static str) -> Options {
    Options {
        stream: true,
        run: Run::WebBinary,
        media: Some(Media {
            grant_ttl: Some(ttl),
            ..Media::default()
        }),
        ..Options::default()
    }
}

/// A position in seconds from the browser run's result.
fn secs(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// The grant a step of the run ended on, checked to be new (not `previous`) and to be the one
/// the player's source now carries.
fn renewed<'a>(step: &'a Value, previous: &str, vid: &str) -> &'a str {
    let grant = step["grant"].as_str().unwrap();
    assert!(!grant.is_empty() && grant != previous, "{step}");
    assert!(
        step["src"]
            .as_str()
            .unwrap()
            .contains(&format!("/s/{grant}/videos/{vid}")),
        "{step}"
    );
    grant
}

/// Whether the media origin answered a range request (206) under `grant` in the run.
fn served_under(result: &Value, grant: &str) -> bool {
    result["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .any(|a| a.starts_with("206 ") && a.contains(&format!("/s/{grant}/")))
}

/// The progressive file of the owner's private video, on grants of 8 s: the page renews at 6 s
/// while the video plays and again while it is paused. Each time the player's source takes the
/// new grant and goes on from the same moment, playing or paused as it was, with no error and
/// no refusal from the media origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progressive_private_video_plays_on_across_grant_renewals() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(renewing("8s")).await;
    let (ann, vid) = private_without_a_ladder(&p, 20).await;
    let result = renewal_run(&p, &ann, &vid, "renew").await;

    let page = &result["page"];
    assert_eq!(page["engine"], "progressive", "{page}");
    assert_eq!(page["hls"], Value::Null, "{page}");
    let first = page["first"].as_str().unwrap();
    assert!(!first.is_empty(), "a signed URL: {page}");
    let (expires, now): (u64, u64) = (
        page["expires"].as_str().unwrap().parse().unwrap(),
        page["now"].as_str().unwrap().parse().unwrap(),
    );
    assert!(
        (7..=9).contains(&expires.saturating_sub(now)),
        "an 8 s grant: {page}"
    );

    // Renewed while playing: the new grant in the source, playback on from where it was.
    let playing = &result["playing"];
    let second = renewed(playing, first, &vid);
    let swapped_at = secs(&playing["swapped_at"]);
    assert!(swapped_at > 1.0, "the swap came while playing: {playing}");
    assert!(
        (secs(&playing["resumed_at"]) - swapped_at).abs() < 0.5,
        "playback went on from where the old source stopped: {playing}"
    );
    assert_eq!(playing["paused"], false, "{playing}");
    assert!(secs(&playing["t"]) > swapped_at + 1.0, "{playing}");

    // Renewed while paused: still paused, at the same moment, under the newer grant.
    let paused = &result["paused"];
    let third = renewed(paused, second, &vid);
    assert_eq!(
        paused["paused"], true,
        "a paused video stays paused: {paused}"
    );
    assert!(
        (secs(&paused["t"]) - secs(&paused["held"])).abs() < 0.3,
        "it stays where it was paused: {paused}"
    );

    // And plays on from there, with no error on the way.
    let end = &result["end"];
    assert!(secs(&end["t"]) > secs(&paused["held"]) + 1.0, "{end}");
    assert_eq!(end["error"], Value::Null, "{end}");
    let log = result["log"].as_array().unwrap();
    assert!(
        log.iter().all(|e| e["type"] != "error"),
        "media errors: {log:?}"
    );
    assert_eq!(result["refused"], json!([]), "403s from the media origin");
    // Every grant the page used was served (206) by the media origin.
    for grant in [first, second, third] {
        assert!(
            served_under(&result, grant),
            "nothing served under {grant}: {}",
            result["answers"]
        );
    }
}

/// The 403 path: the page's timers are held, so its grant (6 s) really expires at the media
/// origin first. A seek and play then asks the media origin for bytes the page does not have:
/// refused (403), the page reads the video object once for a new grant and plays from the
/// seek target under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_grant_refused_by_the_media_origin_is_renewed_once_and_playback_goes_on() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(renewing("6s")).await;
    let (ann, vid) = private_without_a_ladder(&p, 20).await;
    let result = renewal_run(&p, &ann, &vid, "refused").await;

    let first = refused_then_renewed_once(&result, "progressive", "its timers held");
    let after = &result["after"];
    let fresh = renewed(after, first, &vid);
    // Playing from the seek target, not from the start.
    let target = secs(&after["target"]);
    assert!(target > 10.0, "{after}");
    assert!(secs(&after["t"]) > target + 1.0, "{after}");
    assert_eq!(after["paused"], false, "{after}");
    assert_eq!(after["error"], Value::Null, "{after}");
    assert!(
        served_under(&result, fresh),
        "nothing served under the new grant: {}",
        result["answers"]
    );
}

/// What both 403 tests check first: the page started on `engine` with a signed URL; the grant
/// expired at the media origin before the page renewed it (`held`: how its timers were kept
/// back); the media origin refused under that first grant only; the page renewed by one read
/// of the video object. Returns the first grant.
fn refused_then_renewed_once<'a>(result: &'a Value, engine: &str, held: &str) -> &'a str {
    let page = &result["page"];
    assert_eq!(page["engine"], engine, "{page}");
    let first = page["first"].as_str().unwrap();
    assert!(!first.is_empty(), "a signed URL: {page}");
    let expired = &result["expired"];
    assert_eq!(expired["status"], 403, "{expired}");
    assert_eq!(
        expired["grant"], "",
        "the page had not renewed ({held}): {expired}"
    );
    assert_eq!(expired["reads"], json!([]), "no renewal before the refusal");
    let refused = result["refused"].as_array().unwrap();
    assert!(
        !refused.is_empty(),
        "the media origin refused nothing: {result}"
    );
    assert!(refused.iter().all(|g| g == first), "{refused:?}");
    let after = &result["after"];
    assert_eq!(after["reads"], json!([200]), "one renewal: {after}");
    first
}

/// ann's private video, `seconds` long at `size`, processed by the scheduler all the way: its
/// HLS ladder (one rung per height up to the source's) and storyboard made, so her watch page
/// plays it through hls.js.
async fn private_with_a_ladder(p: &Platform, seconds: u32, size: &str) -> (Visitor, String) {
    let ann = p.web.register("ann").await;
    let file = p.dir.path().join("long.mp4");
    make_mp4(&file, seconds, size);
    let body = json!({ "name": "Diary", "visibility": "private" });
    let vid = p.web.create_video_as(&ann, body).await;
    let bytes = std::fs::read(&file).expect("reading the test video");
    p.web.upload(&ann, &vid, bytes).await;
    let path = format!("/api/videos/{vid}");
    svc::testing::eventually(
        "the ladder and storyboard",
        Duration::from_secs(120),
        || async {
            let v = p.web.get(&path).by(&ann).await.json();
            let done = v["hls_url"].is_string() && v["storyboard_url"].is_string();
            (v["state"] == "ready" && done).then_some(())
        },
    )
    .await;
    (ann, vid)
}

/// The 403 path under hls.js, on a 40 s private video at `size` with grants of 8 s: the page's
/// clock runs at a fifth of real time (hls.js needs its timers), so the grant really expires
/// at the media origin long before the page would renew it. Then a quality picked from the
/// menu (hls.js drops what it buffered) and a seek and play: hls.js asks the media origin for
/// bytes it does not have, under the expired grant, and is refused (403); the page reads the
/// video object once for a new grant, and hls.js plays on from the seek target under it.
async fn hls_refusal_renewed_once(size: &str, scenario: &str) -> Value {
    let p = Platform::start(Options {
        scheduler: true,
        ..renewing("8s")
    })
    .await;
    let (ann, vid) = private_with_a_ladder(&p, 40, size).await;
    let result = renewal_run(&p, &ann, &vid, scenario).await;

    let first = refused_then_renewed_once(&result, "hls.js", "its clock slowed");
    // Only hls.js' files were refused.
    let answers = result["answers"].as_array().unwrap();
    let refusals = answers.iter().filter_map(Value::as_str);
    for refusal in refusals.filter(|a| a.starts_with("403 ")) {
        assert!(
            refusal.contains(&format!("/videos/{vid}/hls/")),
            "{refusal}"
        );
    }
    let after = &result["after"];
    let grant = after["grant"].as_str().unwrap();
    assert!(!grant.is_empty() && grant != first, "{after}");
    assert_eq!(after["engine"], "hls.js", "still hls.js: {after}");
    // Playing from the seek target, not from the start, with hls.js' files under the new grant.
    let target = secs(&after["target"]);
    assert!(target > 20.0, "{after}");
    assert!(secs(&after["t"]) > target + 1.0, "{after}");
    assert_eq!(after["paused"], false, "{after}");
    assert_eq!(after["error"], Value::Null, "{after}");
    let fresh = format!("/s/{grant}/videos/{vid}/hls/");
    assert!(
        answers
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.starts_with("206 ") && a.contains(&fresh)),
        "no segment served under the new grant: {answers:?}"
    );
    assert!(
        secs(&result["clock_ms"]) < 6000.0,
        "the page's clock reached its renewal: {result}"
    );
    result
}

/// Two rungs (240p, 360p): hls.js (1.5) answers the refusal by trying the other rung, and
/// goes on under the new grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_grant_refused_under_hls_js_is_renewed_once_and_playback_goes_on() {
    let _one_browser = BROWSER.lock().await;
    let result = hls_refusal_renewed_once("640x360", "hls-refused").await;
    assert_eq!(result["quality"]["options"].as_array().unwrap().len(), 3);
    // hls.js retried the refused fragment on the other rung; the viewer's pick came back.
    assert_eq!(result["quality"]["height"], 240, "{}", result["quality"]);
}

/// One rung: nothing for hls.js to switch to, so it asks the same rung again, under the new
/// grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_grant_refused_under_hls_js_with_one_quality_is_renewed_once() {
    let _one_browser = BROWSER.lock().await;
    let result = hls_refusal_renewed_once("320x180", "hls-refused").await;
    assert_eq!(result["quality"]["options"].as_array().unwrap().len(), 2);
}

/// The studio's tus upload to the media origin (`media_origin_upload.cjs`) of a file `seconds`
/// long at 4 Mbit/s (several 2 MiB chunks), on a connection slowed to 1 MiB/s up, with upload
/// tokens living `ttl` and the page's clock slowed (its renewal on time never comes): the
/// token expires at the media origin during the upload, a request under it is refused (403)
/// without a byte taken, the page gets a new token from web and goes on from the server's
/// offset, as often as that happens; the stored file is the source, byte for byte. Returns the
/// tus requests that were refused.
async fn studio_upload_across_expiries(ttl: &'static str, seconds: u32) -> Vec<Value> {
    let p = Platform::start(renewing(ttl)).await;
    let ann = p.web.register("ann").await;
    let file = p.dir.path().join("long.mp4");
    make_mp4_at(&file, seconds, "640x360", 4);
    let source = std::fs::read(&file).expect("reading the test video");
    let env = [
        ("BASE_URL", p.web.url("")),
        ("MEDIA_URL", media_of(&p)),
        ("SESSION", crate::e2e::session_of(&ann)),
        ("VIDEO_FILE", file.display().to_string()),
    ];
    let result = run_browser("media_origin_upload.cjs", &env, &[p.web_service.process()]).await;

    assert!(
        result["status"].as_str().unwrap().starts_with("Uploaded"),
        "{result}"
    );
    let tus = result["tus"].as_array().unwrap();
    assert!(!tus[0]["token"].as_str().unwrap().is_empty(), "{result}");
    let refused: Vec<usize> = (0..tus.len())
        .filter(|&i| tus[i]["status"] == 403)
        .collect();
    assert!(!refused.is_empty(), "no request was refused: {result}");
    // Each refusal: under a token used before, then a new token (one more asked of web) for
    // a HEAD that finds the offset where the refused request left it, and a PATCH from there.
    for &i in &refused {
        let (old, next) = (&tus[i]["token"], &tus[i + 1]);
        assert_eq!(next["method"], "HEAD", "{result}");
        assert_ne!(&next["token"], old, "{result}");
        let at = next["server_offset"].as_u64().unwrap();
        assert!(at > 0, "{result}");
        if tus[i]["method"] == "PATCH" {
            assert_eq!(
                tus[i]["offset"].as_u64(),
                Some(at),
                "no byte taken: {result}"
            );
        }
        assert_eq!(tus[i + 2]["method"], "PATCH", "{result}");
        assert_eq!(tus[i + 2]["offset"].as_u64(), Some(at), "{result}");
    }
    let asked = vec![json!(200); refused.len() + 1];
    assert_eq!(result["token_answers"], json!(asked), "{result}");
    let last = tus.last().unwrap();
    assert_eq!(last["status"], 204, "{result}");
    assert_eq!(last["server_offset"].as_u64(), Some(source.len() as u64));

    let v = p.web.get("/api/user/ann/videos").by(&ann).await.json();
    let vid = v["videos"][0]["id"].as_str().unwrap().to_string();
    let stored = std::fs::read(p.storage().join(format!("videos/{vid}"))).expect("the stored file");
    assert_eq!(stored.len(), source.len());
    assert!(
        stored == source,
        "the stored file is the source, byte for byte"
    );
    refused.iter().map(|&i| tus[i].clone()).collect()
}

/// Tokens of 6 s and about 8 MiB: the token runs out once during the upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_upload_whose_token_expires_midway_renews_it_and_completes() {
    let _one_browser = BROWSER.lock().await;
    let refused = studio_upload_across_expiries("6s", 16).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
}

/// Tokens of 3 s and about 12 MiB: the token runs out again and again; each time it is renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_upload_whose_tokens_expire_again_and_again_renews_each_and_completes() {
    let _one_browser = BROWSER.lock().await;
    let refused = studio_upload_across_expiries("3s", 24).await;
    assert!(refused.len() >= 2, "{refused:?}");
}

/// hls.js giving up: the page's read of the video object is held back 4 s (a slow network), so
/// hls.js is refused on both rungs and reports a fatal error before the new grant comes. The page
/// starts hls.js again under the new grant, from the seek target, instead of falling back to
/// the progressive file under the expired one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_giving_up_on_an_expired_grant_is_started_again_under_the_new_one() {
    let _one_browser = BROWSER.lock().await;
    let result = hls_refusal_renewed_once("640x360", "hls-fatal").await;
    let errors = result["hls_errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["fatal"] == true && e["status"] == 403),
        "hls.js did not give up on a refusal: {errors:?}"
    );
    // Started again: the master playlist read anew, under the new grant.
    let grant = result["after"]["grant"].as_str().unwrap();
    let under = format!("200 /s/{grant}/videos/");
    assert!(
        result["answers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.starts_with(&under) && a.ends_with("/hls/master.m3u8")),
        "no master playlist under {grant}: {}",
        result["answers"]
    );
    // On the quality the viewer had picked before hls.js gave up.
    assert_eq!(result["quality"]["height"], 240, "{}", result["quality"]);
}
