//! End to end in a real browser: the four real binaries, a fresh database, a temporary storage
//! directory and Debian's headless chromium driven by playwright-core: a person who uploads
//! (`web/tests/e2e/browser.cjs`), a visitor who is not signed in (`web/tests/e2e/visitor.cjs`),
//! an owner who watches their video being processed and the player's fallbacks
//! (`web/tests/e2e/processing.cjs`), and the ladder against the progressive file on a slow
//! connection (`web/tests/e2e/throttled.cjs`); the live layer's browser test (`live.rs`,
//! `web/tests/e2e/live.cjs`) shares the helpers here. Screenshots land in `var/screenshots/<test>/`
//! (ignored by git); the tests print the path.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use svc::http::Body;
use svc::testing::TestServer;

use crate::site::{not_a_video, Site, Visitor};
use crate::support::{make_avi, make_mp4, make_mp4_at, test_tool, Options, Platform, Proc};

/// One browser at a time: two chromiums beside four services each would make every step slow.
pub(crate) static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn screenshot_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../var/screenshots")).join(test);
    std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
    dir
}

/// Runs a browser script with `env` and returns the JSON line it prints last; a failed run
/// fails the test with the script's words and the tail of each service's log.
pub(crate) async fn run_browser(script: &str, env: &[(&str, String)], logs: &[&Proc]) -> Value {
    let script = format!("{}/tests/e2e/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new("node")
            .arg(&script)
            .env("PLAYWRIGHT_CORE", test_tool("node_modules/playwright-core"))
            .env("AXE", test_tool("node_modules/axe-core/axe.min.js"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run took over 5 minutes")
    .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let logs: String = logs
        .iter()
        .map(|p| format!("--- {} ---\n{}\n", p.log.display(), tail(&p.log_text())))
        .collect();
    assert!(out.status.success(), "browser run failed: {stderr}\n{logs}");
    let result = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .expect("the script's JSON result");
    println!("{result:#}");
    result
}

/// The first byte of every `range request` line in web's log (`range="bytes=N-..."`).
fn range_starts(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("range request"))
        .filter_map(|l| l.split("bytes=").nth(1))
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_uploads_watches_seeks_comments_and_deletes() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options::all_binaries()).await;
    let (web, scheduler) = (
        p.web_service.process(),
        p.scheduler.as_ref().expect("a scheduler").process(),
    );
    let video = p.dir.path().join("pattern.mp4");
    make_mp4(&video, 8, "640x360");
    let size = std::fs::metadata(&video).unwrap().len();
    assert!(
        size > 2 << 20,
        "the test video is {size} bytes; it must be several MiB"
    );
    let shots = screenshot_dir("uploader");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", p.web.url("")),
        ("VIDEO_FILE", video.display().to_string()),
        ("SHOTS", shots.display().to_string()),
    ];
    let result = run_browser("browser.cjs", &env, &[web, scheduler]).await;
    let vid = result["video_id"].as_str().expect("a video id").to_string();
    // A refused file: the plain message, next to the field, and not one byte sent.
    assert_eq!(
        result["refused_message"],
        "This file is not a video this site accepts. Choose a video file (MP4, MOV, WebM, \
         Matroska, AVI, MPEG-TS, M2TS, FLV, 3GP, 3G2, Ogg, WMV or MPEG-PS)."
    );
    assert_eq!(result["refused_invalid"], "true");
    assert_eq!(
        result["refused_tus_requests"], 0,
        "no tus request for a refused file"
    );
    assert_eq!(
        result["refused_videos"], 0,
        "no video made for a refused file"
    );
    // Leaving mid-upload asked first (and staying kept the upload); Cancel left nothing.
    assert_eq!(result["leave_dialog"], json!(["beforeunload"]));
    assert_eq!(
        result["pending_while_uploading_link"], 0,
        "the uploading card is no link"
    );
    let detail = result["progress_detail"].as_str().unwrap();
    assert!(
        detail.contains(" MB of ") && detail.contains("MB/s") && detail.contains(" left"),
        "{detail}"
    );
    assert_eq!(
        result["after_cancel_videos"], 0,
        "Cancel deletes the pending video"
    );
    // A stuck card: retried into the same video, then deleted.
    assert!(result["stuck_note"]
        .as_str()
        .unwrap()
        .contains("removed automatically after a day"));
    assert_eq!(result["retry_status"], "Uploading…");
    assert_eq!(result["retry_videos"], 1, "Retry goes into the stuck video");
    assert_eq!(result["after_delete_videos"], 0);
    // The resumed upload kept the title typed before resuming; "Ready to watch" links.
    assert_eq!(result["card_title"], "Test pattern, resumed");
    assert_eq!(result["ready_link"], format!("/watch/{vid}"));
    // Comments: no reload, the video played on; a time seeks; deleting asked first.
    assert_eq!(
        result["comment_url"],
        format!("{}/watch/{vid}", p.web.url(""))
    );
    let playing = &result["playing_after_comment"];
    assert_eq!(playing["paused"], false, "{playing}");
    assert!(
        playing["after"].as_f64() > playing["before"].as_f64(),
        "{playing}"
    );
    let seek = result["seek_to"].as_f64().unwrap();
    assert!((2.0..3.5).contains(&seek), "seek to 0:02 landed at {seek}");
    assert_eq!(result["comment_delete_asked"], true);
    // Whose comment, and how it starts (shortened to 40 characters).
    let label = result["delete_label"].as_str().unwrap();
    let whose = format!("Delete comment by {}: ", result["user"].as_str().unwrap());
    assert_eq!(
        label,
        format!("{whose}Nice test pattern at 0:02! <b>not bold<…")
    );
    // Signed-in header on error pages; sign-in from a watch link came back; visitors see no
    // owner-only details.
    assert_eq!(result["not_found"], json!({ "status": 404, "me": true }));
    assert_eq!(result["forbidden"], json!({ "status": 403, "me": true }));
    assert_eq!(
        result["sign_in_url"],
        format!("{}/login?next=%2Fwatch%2F{vid}", p.web.url(""))
    );
    assert_eq!(
        result["returned_to"],
        format!("{}/watch/{vid}", p.web.url(""))
    );
    assert_eq!(result["visitor_sees_resolution"], false);
    assert_eq!(
        result["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    assert_eq!(result["visibility"], "unlisted", "the upload form's choice");
    assert_eq!(result["badge"], "Unlisted", "the owner sees the visibility");
    assert_eq!(result["progress"].as_array().unwrap().last().unwrap(), 100);
    assert!(result["progress_before_reload"].as_f64().unwrap() >= 40.0);
    assert_eq!(
        result["cards"], 1,
        "the reload must resume, not start a second video"
    );
    assert!(result["duration_text"].as_str().unwrap().starts_with("0:0"));
    let duration = result["duration_s"].as_f64().unwrap();
    assert!((duration - 8.0).abs() < 0.5, "duration {duration}");
    assert!(result["after_seek"].as_f64().unwrap() > duration / 2.0);

    // The ladder plays through hls.js: the menu lists Auto and each rung (8 s at 640x360 makes
    // 360p and 240p), a seek to the middle lands there, choosing a rung makes the next segment
    // requests Range requests for that rung's file, and hovering the seek strip shows a frame
    // of the storyboard.
    let log = web.log_text();
    let hls = &result["hls"];
    assert_eq!(hls["engine"], "hls.js", "{hls}");
    assert!(hls["src"].as_str().unwrap().starts_with("blob:"), "{hls}");
    assert_eq!(hls["label"], "Quality");
    let options = hls["options"].as_array().unwrap();
    assert!(options[0].as_str().unwrap().starts_with("Auto"), "{hls}");
    assert_eq!(&options[1..], &[json!("360p"), json!("240p")], "{hls}");
    let hls_duration = hls["duration"].as_f64().unwrap();
    assert!((hls_duration - 8.0).abs() < 0.5, "{hls}");
    assert!(
        hls["after_seek"].as_f64().unwrap() > hls_duration / 2.0,
        "{hls}"
    );
    let switch = &hls["switch"];
    let after = switch["after"].as_array().unwrap();
    assert!(!after.is_empty(), "{switch}");
    assert_eq!(
        after[0]["h"], switch["to"],
        "the first segment after the switch: {switch}"
    );
    assert!(
        after
            .iter()
            .all(|s| s["range"].as_str().unwrap().starts_with("bytes=")),
        "segments are byte ranges of one file: {switch}"
    );
    let preview = &hls["preview"];
    assert_eq!(
        preview["image"],
        format!("/videos/{vid}/storyboard.jpg"),
        "{preview}"
    );
    assert!(preview["natural"].as_u64().unwrap() > 0, "{preview}");
    assert!(preview["width"].as_u64().unwrap() > 20, "{preview}");
    let rung = switch["to"].as_u64().unwrap();
    assert!(
        log.contains(&format!("/videos/{vid}/hls/{rung}p.mp4")),
        "web's log has no request for the chosen rung\n{}",
        tail(&log)
    );

    // The seek was served by a Range request past the first megabyte, unless chromium had
    // already buffered the bytes at the target before seeking (then it asks for nothing new).
    let starts = range_starts(&log);
    assert!(
        result["buffered_before_seek"] == true || starts.iter().any(|&s| s > 1 << 20),
        "no Range request started past 1 MiB: {starts:?}\n{}",
        tail(&log)
    );

    // The deletion reaches storage at the scheduler's next run.
    let file = p.storage().join("videos").join(&vid);
    let thumb = p.storage().join("thumbnails").join(format!("{vid}.jpg"));
    svc::testing::eventually(
        "the video and its thumbnail to leave storage",
        Duration::from_secs(30),
        || {
            let gone = !file.exists() && !thumb.exists();
            async move { gone.then_some(()) }
        },
    )
    .await;
    for name in [
        "studio",
        "studio-phone",
        "watch",
        "watch-phone",
        "upload",
        "login",
        "login-phone",
        "edit",
        "edit-phone",
        "front",
        "search",
        "channel",
        "not-found",
        "not-found-phone",
        "forbidden",
        "forbidden-phone",
        "studio-empty-phone",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "screenshot {name}.png missing"
        );
    }
}

/// A page on another origin (127.0.0.2, another site than web's 127.0.0.1) that frames the
/// embed player and, to show that it is refused, the watch page of the same video.
struct Embedder {
    page: String,
}

impl svc::App for Embedder {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        svc::http::html(StatusCode::OK, self.page.clone())
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

async fn embedder(web: &Site, vid: &str) -> TestServer {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>A blog</title></head>\
         <body><h1>A blog post with a video</h1>\
         <iframe id=\"embed\" src=\"{embed}\" width=\"640\" height=\"360\" allow=\"autoplay\"></iframe>\
         <iframe id=\"watch\" src=\"{watch}\" width=\"640\" height=\"360\"></iframe>\
         </body></html>",
        embed = web.url(&format!("/embed/{vid}")),
        watch = web.url(&format!("/watch/{vid}")),
    );
    let server = svc::Server::bind(([127, 0, 0, 2], 0).into(), "embedder")
        .await
        .expect("binding 127.0.0.2 (loopback)");
    TestServer::spawn_on(server, Arc::new(Embedder { page }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_visitor_finds_watches_and_embeds_public_videos_only() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options::all_binaries()).await;
    let web = &p.web;
    let video = p.dir.path().join("clip.mp4");
    make_mp4(&video, 8, "640x360");
    let bytes = std::fs::read(&video).expect("the test video");
    let ann = web.register("ann").await;
    let mut ids = Vec::new();
    for (title, visibility) in [
        ("Harbour at dusk", "public"),
        ("Secret garden", "unlisted"),
        ("Family dinner", "private"),
        ("我的第一个视频", "public"),
    ] {
        let body =
            json!({"name": title, "visibility": visibility, "description": "Filmed on a phone."});
        let vid = web.create_video_as(&ann, body).await;
        web.upload(&ann, &vid, bytes.clone()).await;
        ids.push(vid);
    }
    let [public, unlisted, private, chinese] = <[String; 4]>::try_from(ids).expect("four videos");
    // Processed (thumbnail, duration, faststart) before anyone looks.
    svc::testing::eventually("every video processed", Duration::from_secs(90), || {
        let list = web.get("/api/user/ann/videos").by(&ann);
        async move {
            let list = list.await.json();
            let videos = list["videos"].as_array().cloned().unwrap_or_default();
            (videos.len() == 4 && videos.iter().all(|v| v["state"] == "ready")).then_some(())
        }
    })
    .await;
    let other = embedder(web, &public).await;
    let shots = screenshot_dir("visitor");
    println!("screenshots: {}", shots.display());
    let session = session_of(&ann);
    let env = [
        ("BASE_URL", web.url("")),
        ("OTHER_ORIGIN", format!("http://{}", other.addr)),
        ("PUBLIC", public.clone()),
        ("UNLISTED", unlisted.clone()),
        ("PRIVATE", private.clone()),
        ("CHINESE", chinese.clone()),
        ("OWNER", "ann".to_string()),
        ("SESSION", session),
        ("SHOTS", shots.display().to_string()),
    ];
    let logs = [
        p.web_service.process(),
        p.scheduler.as_ref().expect("a scheduler").process(),
    ];
    let r = run_browser("visitor.cjs", &env, &logs).await;
    let ids = |key: &str| -> Vec<String> {
        serde_json::from_value(r[key].clone()).unwrap_or_else(|_| panic!("{key}: {r:#}"))
    };

    // The front page: the public videos' cards, newest first; the others on no list.
    assert_eq!(ids("front"), [chinese.clone(), public.clone()]);
    let card = r["card_text"].as_str().unwrap();
    assert!(card.starts_with("Harbour at dusk ann · "), "{card}");
    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    assert_eq!(r["card_duration"], "0:08");
    // The watch page, signed out: played and sought; comments invite signing in.
    assert_eq!(r["comment_form"], false);
    assert_eq!(r["invite"], "Sign in to join the conversation.");
    assert_eq!(r["invite_href"], format!("/login?next=%2Fwatch%2F{public}"));
    let duration = r["duration_s"].as_f64().unwrap();
    assert!((duration - 8.0).abs() < 0.5, "duration {duration}");
    assert!(r["after_seek"].as_f64().unwrap() > duration / 2.0);
    // The unlisted video by its link, and on no list.
    assert_eq!(r["unlisted_status"], 200);
    assert_eq!(r["unlisted_title"], "Secret garden");
    assert_eq!(r["channel_status"], 200);
    assert_eq!(ids("channel"), [chinese.clone(), public.clone()]);
    assert_eq!(r["feed_link"], "/u/ann/feed.xml");
    assert_eq!(ids("unlisted_search"), Vec::<String>::new());
    // The private one is a 404 page.
    assert_eq!(r["private_status"], 404);
    assert_eq!(r["private_heading"], "Not found");
    // The search box finds the Chinese title.
    assert_eq!(ids("search"), [chinese.as_str()]);
    assert!(r["search_url"]
        .as_str()
        .unwrap()
        .contains("/search?q=%E8%A7%86%E9%A2%91"));
    // The embed player played and sought inside another origin's page; the watch page did not
    // load in its frame.
    assert_eq!(r["embed_origin"], web.url(""));
    assert!(r["embed_after_seek"].as_f64().unwrap() > 5.2);
    assert_eq!(r["watch_frame_shows_page"], false, "{r:#}");
    assert!(
        !r["watch_frame_url"]
            .as_str()
            .unwrap_or("")
            .starts_with(&web.url("")),
        "the watch page loaded in a frame: {r:#}"
    );
    // Signed in as the owner: the private video with its badge, the studio with everything.
    assert_eq!(r["owner_private_status"], 200);
    assert_eq!(r["owner_badge"], "Private");
    assert_eq!(ids("studio").len(), 4);
    assert_eq!(r["edit_title"], "Harbour at dusk");
    for page in ["front", "search", "channel", "watch", "studio", "edit"] {
        for size in ["", "-phone"] {
            let file = shots.join(format!("{page}{size}.png"));
            assert!(file.is_file(), "{} is missing", file.display());
        }
    }
}

/// The value of `who`'s session cookie, which a browser script sets in its context.
pub(crate) fn session_of(who: &Visitor) -> String {
    who.cookie
        .strip_prefix("session=")
        .expect("a session cookie")
        .to_string()
}

fn list<T: serde::de::DeserializeOwned>(r: &Value, key: &str) -> Vec<T> {
    serde_json::from_value(r[key].clone()).unwrap_or_else(|e| panic!("{key}: {e}: {r:#}"))
}

/// A fallback case of `processing.cjs` (`f`): the player went from hls.js to the progressive
/// file of `vid`, and stayed there.
#[track_caller]
fn fell_back(f: &Value, vid: &str) {
    let engines: Vec<String> = list(f, "engines");
    assert!(engines.iter().any(|e| e == "hls.js"), "{f}");
    assert_eq!(
        engines.last().map(String::as_str),
        Some("progressive"),
        "{f}"
    );
    assert_eq!(f["src"], format!("/videos/{vid}"), "{f}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_watches_processing_live_and_the_player_then_its_qualities_appear_without_a_reload(
) {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options::all_binaries()).await;
    let web = &p.web;
    // A file browsers do not play, so processing transcodes it and reports a percentage: 12 s
    // of 1080p takes several seconds on two cores, long enough for the page's 2 s polls to see
    // the percentage move. Its ladder has all five rungs.
    let clip = p.dir.path().join("camera.avi");
    make_avi(&clip, 12, "1920x1080");
    let ann = web.register("ann").await;
    let vid = web
        .create_video_as(
            &ann,
            json!({"name": "Old camera clip", "visibility": "public"}),
        )
        .await;
    // And one that processing refuses: an MP4 header and nothing a decoder can read.
    let broken = web.create_video(&ann, "Not really a video").await;
    let broken_file = p.dir.path().join("broken.mp4");
    std::fs::write(&broken_file, not_a_video(100_000)).expect("writing the broken file");
    let shots = screenshot_dir("processing");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", web.url("")),
        ("SESSION", session_of(&ann)),
        ("VID", vid.clone()),
        ("VIDEO_FILE", clip.display().to_string()),
        ("BROKEN_VID", broken.clone()),
        ("BROKEN_FILE", broken_file.display().to_string()),
        ("SHOTS", shots.display().to_string()),
    ];
    let logs = [
        p.web_service.process(),
        p.scheduler.as_ref().expect("a scheduler").process(),
    ];
    let r = run_browser("processing.cjs", &env, &logs).await;

    // Before the upload: the owner's page waits for it; the upload itself went through web.
    assert_eq!(r["pending_label"], "Waiting for upload");
    assert_eq!(r["upload_status"], 201, "{r:#}");
    // The percentage moved on the page, only upwards, each value in its words.
    let seen = &r["seen"];
    let values: Vec<u64> = list(seen, "values");
    let labels: Vec<String> = list(seen, "labels");
    assert!(
        values.iter().any(|v| (1..100).contains(v)),
        "no percentage between 1 and 99 was shown: {values:?} {labels:?}"
    );
    assert!(
        values.len() >= 2 && values.windows(2).all(|w| w[0] < w[1]),
        "the percentage did not move forward live: {values:?}"
    );
    for v in &values {
        assert!(
            labels.contains(&format!("Processing… {v}%")),
            "{v} without its words: {labels:?}"
        );
    }
    assert_eq!(labels[0], "Waiting for upload", "{labels:?}");
    // The studio's card showed the same percentage and went on to ready by itself.
    let studio: Vec<String> = list(&r, "studio_labels");
    assert!(
        studio
            .iter()
            .any(|l| l.starts_with("Processing… ") && l.ends_with('%')),
        "{studio:?}"
    );
    assert_eq!(
        studio.last().map(String::as_str),
        Some("Ready to watch"),
        "{studio:?}"
    );
    // The player appeared in the same document: no navigation, the page's own variable kept.
    let player = &r["player"];
    assert_eq!(player["src"], format!("/videos/{vid}"), "{player}");
    assert_eq!(player["kept"], "same document", "{player}");
    assert_eq!(player["navigations"], 1, "{player}");
    // Then the ladder's progress, rung by rung, and the player took it up once it was made.
    let notes: Vec<String> = list(seen, "notes");
    let made: Vec<u32> = notes
        .iter()
        .filter_map(|n| n.strip_prefix("Preparing qualities… "))
        .filter_map(|n| n.strip_suffix(" of 5"))
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        !made.is_empty() && made.len() == notes.len() && made.iter().all(|&n| n < 5),
        "{notes:?}"
    );
    let upgraded = &r["upgraded"];
    assert_eq!(upgraded["engine"], "hls.js", "{upgraded}");
    assert_eq!(upgraded["note_hidden"], true, "{upgraded}");
    let options: Vec<String> = list(upgraded, "options");
    assert!(options[0].starts_with("Auto"), "{options:?}");
    assert_eq!(
        options[1..],
        ["1080p", "720p", "480p", "360p", "240p"],
        "{options:?}"
    );
    assert_eq!(upgraded["kept"], "same document", "{upgraded}");
    assert_eq!(upgraded["navigations"], 1, "{upgraded}");
    assert!(upgraded["played"].as_f64().unwrap() > 1.0, "{upgraded}");

    // hls.js failing for good (the master playlist a 404, or not a playlist at all): the
    // progressive file, which plays.
    for kind in ["404", "garbage"] {
        let f = &r["fallback"][kind];
        fell_back(f, &vid);
        assert!(f["hits"].as_u64().unwrap() >= 1, "{kind}: {f}");
        assert_eq!(f["menu"], false, "{kind}: {f}");
        assert!(f["played"].as_f64().unwrap() > 1.0, "{kind}: {f}");
    }
    // hls.js failing in the middle (its media files a 404 after a quality pick and a seek):
    // the progressive file from the seek target, not from the start, playing.
    let midway = &r["fallback"]["midway"];
    fell_back(midway, &vid);
    assert!(midway["refused"].as_u64().unwrap() >= 1, "{midway}");
    let target = midway["target"].as_f64().unwrap();
    assert!(target > 5.0, "{midway}");
    assert!(midway["t"].as_f64().unwrap() > target + 0.5, "{midway}");
    assert_eq!(midway["paused"], false, "{midway}");
    // A browser whose own HLS is Safari's: the master playlist straight into <video>, hls.js
    // loaded but never made.
    let native = &r["native"];
    let srcs: Vec<String> = list(native, "srcs");
    assert_eq!(
        srcs.first().map(String::as_str),
        Some(format!("/videos/{vid}/hls/master.m3u8").as_str()),
        "{native}"
    );
    let engines: Vec<String> = list(native, "engines");
    assert!(engines.iter().any(|e| e == "native"), "{native}");
    assert!(!engines.iter().any(|e| e == "hls.js"), "{native}");
    assert_eq!(native["hls_made"], 0, "{native}");
    assert_eq!(native["hls_type"], "function", "{native}");

    // The refused file: its reason, as the api gives it, where the player would be.
    let reason = web
        .get(&format!("/api/videos/{broken}"))
        .by(&ann)
        .await
        .json()["failure_reason"]
        .as_str()
        .expect("a failure reason")
        .to_string();
    let failed = &r["failed"];
    assert_eq!(
        failed["label"],
        format!("Processing failed: {reason}"),
        "{failed}"
    );
    assert_eq!(
        (&failed["bar"], &failed["hint"], &failed["player"]),
        (&json!(false), &json!(false), &json!(false)),
        "{failed}"
    );
    assert_eq!(
        failed["kept"],
        json!(["edit-link", "delete-video"]),
        "the page switched to the failure without a reload keeps only the owner's fixes: {failed}"
    );

    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    for name in [
        "watch-processing",
        "studio-processing",
        "watch-preparing",
        "watch-failed",
    ] {
        for size in ["", "-phone"] {
            let file = shots.join(format!("{name}{size}.png"));
            assert!(file.is_file(), "{} is missing", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_slow_connection_the_ladder_plays_on_where_the_progressive_file_stalls() {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options::all_binaries()).await;
    let web = &p.web;
    // 30 s of 1080p at 7 Mbit/s in an MP4 browsers play: processing keeps it as the progressive
    // rendition, over four times what a 1.5 Mbit/s connection carries.
    let clip = p.dir.path().join("heavy.mp4");
    make_mp4_at(&clip, 30, "1920x1080", 7);
    let bits = std::fs::metadata(&clip).expect("the clip").len() * 8;
    assert!(
        bits / 30 > 5_000_000,
        "the clip is {} kbit/s; it must be far above 1.5 Mbit/s",
        bits / 30_000
    );
    let ann = web.register("ann").await;
    let vid = web
        .create_video_as(
            &ann,
            json!({"name": "Harbour in 1080p", "visibility": "public"}),
        )
        .await;
    web.upload(&ann, &vid, std::fs::read(&clip).expect("the clip"))
        .await;
    let path = format!("/api/videos/{vid}");
    let video = svc::testing::eventually(
        "the ladder and storyboard",
        Duration::from_secs(240),
        || {
            let get = web.get(&path).by(&ann);
            async move {
                let v = get.await.json();
                (v["hls_url"].is_string() && v["storyboard_url"].is_string()).then_some(v)
            }
        },
    )
    .await;
    assert!(
        video["size"].as_u64().unwrap() * 8 / 30 > 5_000_000,
        "the progressive rendition is the original: {video}"
    );
    let shots = screenshot_dir("throttled");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", web.url("")),
        ("VID", vid.clone()),
        ("SHOTS", shots.display().to_string()),
    ];
    let logs = [
        p.web_service.process(),
        p.scheduler.as_ref().expect("a scheduler").process(),
    ];
    let r = run_browser("throttled.cjs", &env, &logs).await;
    let (hls, progressive) = (&r["hls"], &r["progressive"]);
    println!(
        "stalls after the first frame at 1.5 Mbit/s: HLS {}, progressive {}",
        hls["stalls"], progressive["stalls"]
    );
    // The ladder: 20 s of media after the first frame, in about 20 s, without one stall.
    assert_eq!(hls["engine"], "hls.js", "{hls}");
    assert_eq!(hls["stalls"], 0, "{hls}");
    let played = hls["played"].as_f64().unwrap();
    assert!(played >= 20.0, "{hls}");
    assert!(hls["wall"].as_f64().unwrap() < played + 3.0, "{hls}");
    // The progressive file on the same connection: it waits for data at least once.
    assert_eq!(progressive["engine"], "progressive", "{progressive}");
    assert!(
        progressive["stalls"].as_u64().unwrap() >= 1,
        "{progressive}"
    );
    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    for size in ["", "-phone"] {
        let file = shots.join(format!("watch-throttled{size}.png"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
