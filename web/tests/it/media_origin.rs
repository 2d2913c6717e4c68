//! The media origin (issue 16): with `MEDIA_URL`, pages point every media file at the
//! streamserver directly (signed for what only the owner may see), old same-origin media links
//! redirect there, uploads get a token through web's proxy; without it, everything is as before.
//! A URL the api names off the media origin never reaches a page. The browser run (one origin
//! for the site, another for the media) is the last test here, with `web/tests/e2e/media_origin.cjs`.

use std::time::Duration;

use serde_json::Value;

use crate::e2e::{run_browser, screenshot_dir, BROWSER};
use crate::site::{Reply, Visitor};
use crate::support::{make_mp4, Media, Options, Platform};

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
