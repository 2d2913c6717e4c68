//! A video's other files (issue 12, items 2-4): the HLS ladder under `/videos/{vid}/hls/`, the
//! storyboard and the owner's original, served by playback's byte serving with its ranges,
//! validators, caching and visibility. The objects are written straight into storage under
//! `svc::storage::keys`, as the scheduler publishes them; the ladder that real clients (an
//! hls.js-like walk and ffprobe) play is made by ffmpeg at test time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use svc::storage::keys;
use svc::{VideoId, VideoState, Visibility};

use crate::helpers::{ffmpeg, noise, spawn_app, spawn_app_with, OwnedVideo, TestApp, Viewer};

/// For tests that change a video's row between requests: no row cache, so every request sees
/// the change at once (the cache's own delay is `visibility`'s business).
const NO_ROW_CACHE: &[(&str, &str)] = &[("PLAYBACK_CACHE_TTL", "0")];

/// One of a video's files besides the progressive one: its URL path under `/videos/{vid}`,
/// its storage key and the type it is served as.
struct File {
    path: &'static str,
    key: fn(&VideoId) -> String,
    content_type: &'static str,
}

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

const FILES: [File; 5] = [
    File {
        path: "hls/master.m3u8",
        key: keys::hls_master,
        content_type: PLAYLIST,
    },
    File {
        path: "hls/240p.m3u8",
        key: |v| keys::hls_playlist(v, 240),
        content_type: PLAYLIST,
    },
    File {
        path: "hls/240p.mp4",
        key: |v| keys::hls_media(v, 240),
        content_type: "video/mp4",
    },
    File {
        path: "storyboard.jpg",
        key: keys::storyboard_image,
        content_type: "image/jpeg",
    },
    File {
        path: "storyboard.vtt",
        key: keys::storyboard_vtt,
        content_type: "text/vtt",
    },
];

/// A new user's `ready` video with `visibility`, and every file of [`FILES`] in storage, each
/// holding distinct bytes (returned in the same order).
async fn processed_video(app: &TestApp, visibility: Visibility) -> (OwnedVideo, Vec<Vec<u8>>) {
    let video = app.owned_video(&noise(5000), visibility).await;
    app.set_state(&video.vid, VideoState::Ready).await;
    let vid = VideoId::parse(&video.vid).unwrap();
    let mut contents = Vec::new();
    for (i, file) in FILES.iter().enumerate() {
        let mut bytes = noise(3000 + 1000 * i);
        bytes.rotate_left(i * 7);
        app.put_object(&(file.key)(&vid), &bytes).await;
        contents.push(bytes);
    }
    (video, contents)
}

/// `GET path` signed out, with `headers`.
async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    app.request(Method::GET, path, Viewer::SignedOut, headers)
        .await
}

fn url_of(vid: &str, file: &File) -> String {
    format!("/videos/{vid}/{}", file.path)
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Asserts the caching and CORS headers an answer to `viewer` carries: today's public ones
/// for a video anyone may see, `private, no-store` without CORS for its owner.
#[track_caller]
fn assert_audience(resp: &reqwest::Response, private: bool, context: &str) {
    let (caching, origin) = if private {
        ("private, no-store", None)
    } else {
        ("public, no-cache", Some("*".to_string()))
    };
    assert_eq!(
        header(resp, "cache-control").as_deref(),
        Some(caching),
        "{context}"
    );
    assert_eq!(
        header(resp, "access-control-allow-origin"),
        origin,
        "{context}"
    );
}

/// The status, caching headers and body of a 404 for an unknown video's `path` under
/// `/videos/{vid}/`: what a hidden one must look like.
async fn unknown(
    app: &TestApp,
    path: &str,
) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    let url = format!("/videos/{}/{path}", VideoId::random());
    let resp = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    not_found_answer(resp).await
}

async fn not_found_answer(
    resp: reqwest::Response,
) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    (
        resp.status(),
        header(&resp, "cache-control"),
        header(&resp, "access-control-allow-origin"),
        resp.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn every_file_is_served_with_its_type_ranges_and_validators() {
    let app = spawn_app().await;
    let (video, contents) = processed_video(&app, Visibility::Public).await;
    for (file, bytes) in FILES.iter().zip(&contents) {
        let url = url_of(&video.vid, file);
        let len = bytes.len();
        let get = |headers| fetch(&app, &url, headers);

        let resp = get(&[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(header(&resp, "content-type").unwrap(), file.content_type);
        assert_eq!(header(&resp, "content-length").unwrap(), len.to_string());
        assert_eq!(header(&resp, "accept-ranges").unwrap(), "bytes");
        assert_audience(&resp, false, &url);
        let expose = header(&resp, "access-control-expose-headers").unwrap();
        assert!(expose.contains("Content-Range"), "{url}: {expose}");
        // A strong validator from the object's size and modification time, and its date.
        let etag = header(&resp, "etag").unwrap();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "{url}: {etag}"
        );
        let modified = header(&resp, "last-modified").unwrap();
        assert!(httpdate::parse_http_date(&modified).is_ok(), "{modified}");
        assert_eq!(resp.bytes().await.unwrap(), bytes.as_slice(), "{url}");

        let resp = app
            .request(Method::HEAD, &url, Viewer::SignedOut, &[])
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(header(&resp, "content-length").unwrap(), len.to_string());
        assert_eq!(header(&resp, "etag").as_deref(), Some(etag.as_str()));
        assert!(resp.bytes().await.unwrap().is_empty());

        let resp = get(&[("range", "bytes=10-19")]).await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{url}");
        let range = format!("bytes 10-19/{len}");
        assert_eq!(header(&resp, "content-range").unwrap(), range);
        assert_eq!(header(&resp, "content-type").unwrap(), file.content_type);
        assert_audience(&resp, false, &url);
        assert_eq!(resp.bytes().await.unwrap(), &bytes[10..20], "{url}");

        let resp = get(&[("range", "bytes=-5")]).await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{url}");
        assert_eq!(resp.bytes().await.unwrap(), &bytes[len - 5..], "{url}");

        let headers = [("range", "bytes=999999-")];
        let resp = app
            .request(Method::GET, &url, Viewer::SignedOut, &headers)
            .await;
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{url}");
        let unsatisfiable = format!("bytes */{len}");
        assert_eq!(header(&resp, "content-range").unwrap(), unsatisfiable);
        assert_audience(&resp, false, &url);

        // Conditional requests with the validator just given (RFC 9110 section 13).
        let cases: [(&[(&str, &str)], StatusCode); 5] = [
            (&[("if-none-match", &etag)], StatusCode::NOT_MODIFIED),
            (
                &[("if-modified-since", &modified)],
                StatusCode::NOT_MODIFIED,
            ),
            (
                &[("range", "bytes=0-9"), ("if-range", &etag)],
                StatusCode::PARTIAL_CONTENT,
            ),
            (
                &[("range", "bytes=0-9"), ("if-range", "\"0-stale\"")],
                StatusCode::OK,
            ),
            (
                &[("if-match", "\"0-other\"")],
                StatusCode::PRECONDITION_FAILED,
            ),
        ];
        for (headers, status) in cases {
            let resp = app
                .request(Method::GET, &url, Viewer::SignedOut, headers)
                .await;
            assert_eq!(resp.status(), status, "{url} {headers:?}");
            assert_audience(&resp, false, &format!("{url} {headers:?}"));
            if status == StatusCode::NOT_MODIFIED {
                assert_eq!(header(&resp, "etag").as_deref(), Some(etag.as_str()));
            }
        }
    }

    // A file published again (a ladder redone) is a new representation: a new validator, and
    // a cache's old one gets the new bytes. The streamserver may serve the old file from the
    // handle it keeps for a moment (`REUSE_OPENED_FILES`), but only whole, with its own
    // validator: a 304 here.
    let vid = VideoId::parse(&video.vid).unwrap();
    let url = url_of(&video.vid, &FILES[2]);
    let old = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
    let old_etag = header(&old, "etag").unwrap();
    let replaced = noise(7777);
    app.put_object(&(FILES[2].key)(&vid), &replaced).await;
    let headers = [("if-none-match", old_etag.as_str())];
    let published = Instant::now();
    let resp = loop {
        let resp = app
            .request(Method::GET, &url, Viewer::SignedOut, &headers)
            .await;
        if resp.status() != StatusCode::NOT_MODIFIED {
            break resp;
        }
        assert!(
            published.elapsed() < Duration::from_secs(5),
            "the file published again was still not served after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ne!(header(&resp, "etag").unwrap(), old_etag);
    assert_eq!(resp.bytes().await.unwrap(), replaced);
}

#[tokio::test]
async fn only_the_ladders_rungs_and_files_that_exist_are_served() {
    let app = spawn_app().await;
    let (video, _) = processed_video(&app, Visibility::Public).await;
    let vid = &video.vid;
    // Names that are not a file of the ladder: other heights, other spellings, other files.
    for name in [
        "144p.m3u8",
        "2160p.mp4",
        "0240p.mp4",
        "240P.mp4",
        "240p.ts",
        "240.mp4",
        "index.m3u8",
        "master.m3u8.bak",
        "..%2F..%2Fvideos%2Fx",
    ] {
        let url = format!("/videos/{vid}/hls/{name}");
        let resp = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{url}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error_code"], "404", "{url}");
    }
    // A rung of the ladder whose files were not made (yet).
    for name in ["360p.m3u8", "360p.mp4", "1080p.mp4"] {
        let url = format!("/videos/{vid}/hls/{name}");
        let resp = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{url}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    }
    // Other methods; the CORS preflight a cross-origin player's Range request triggers.
    for file in &FILES {
        let url = url_of(vid, file);
        let resp = app
            .request(Method::DELETE, &url, Viewer::SignedOut, &[])
            .await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{url}");
        assert_eq!(header(&resp, "allow").unwrap(), "GET, HEAD, OPTIONS");
        let resp = app
            .request(Method::OPTIONS, &url, Viewer::SignedOut, &[])
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{url}");
        let allowed = header(&resp, "access-control-allow-headers").unwrap();
        assert!(allowed.contains("Range"), "{allowed}");
    }
    // The id is parsed as everywhere: another spelling names no video.
    let simple = vid.replace('-', "");
    let url = format!("/videos/{simple}/hls/master.m3u8");
    let resp = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_ladder_and_storyboard_wait_until_the_video_is_ready() {
    let app = spawn_app_with(NO_ROW_CACHE).await;
    let (video, contents) = processed_video(&app, Visibility::Public).await;
    let owner = Viewer::Header(&video.sid);
    for state in [
        VideoState::Pending,
        VideoState::Uploaded,
        VideoState::Processing,
        VideoState::Failed,
    ] {
        app.set_state(&video.vid, state).await;
        for file in &FILES {
            let url = url_of(&video.vid, file);
            for viewer in [owner, Viewer::SignedOut] {
                let resp = app.request(Method::GET, &url, viewer, &[]).await;
                let answer = not_found_answer(resp).await;
                assert_eq!(
                    answer,
                    unknown(&app, file.path).await,
                    "{state} {url} {viewer:?}"
                );
            }
        }
    }
    app.set_state(&video.vid, VideoState::Ready).await;
    for (file, bytes) in FILES.iter().zip(&contents) {
        let url = url_of(&video.vid, file);
        let resp = app.request(Method::GET, &url, Viewer::SignedOut, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(resp.bytes().await.unwrap(), bytes.as_slice());
    }
}

#[tokio::test]
async fn a_private_videos_ladder_and_storyboard_are_its_owners_alone() {
    let app = spawn_app().await;
    let (video, contents) = processed_video(&app, Visibility::Private).await;
    let (_, other) = app.user().await;
    for (file, bytes) in FILES.iter().zip(&contents) {
        let url = url_of(&video.vid, file);
        let nobody = unknown(&app, file.path).await;
        for viewer in [
            Viewer::SignedOut,
            Viewer::Header(&other),
            Viewer::Cookie(&other),
            Viewer::Cookie("not-a-session"),
        ] {
            let resp = app.request(Method::GET, &url, viewer, &[]).await;
            assert_eq!(not_found_answer(resp).await, nobody, "{url} {viewer:?}");
        }
        for owner in [Viewer::Header(&video.sid), Viewer::Cookie(&video.sid)] {
            let context = format!("{url} {owner:?}");
            let resp = app.request(Method::GET, &url, owner, &[]).await;
            assert_eq!(resp.status(), StatusCode::OK, "{context}");
            assert_audience(&resp, true, &context);
            assert!(header(&resp, "access-control-expose-headers").is_none());
            let etag = header(&resp, "etag").unwrap();
            assert_eq!(resp.bytes().await.unwrap(), bytes.as_slice(), "{context}");
            let headers = [("range", "bytes=1-2")];
            let resp = app.request(Method::GET, &url, owner, &headers).await;
            assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{context}");
            assert_audience(&resp, true, &context);
            assert_eq!(resp.bytes().await.unwrap(), &bytes[1..3]);
            let headers = [("if-none-match", etag.as_str())];
            let resp = app.request(Method::GET, &url, owner, &headers).await;
            assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{context}");
            assert_audience(&resp, true, &context);
        }
    }
}

/// What the owner's download of the original is: status, type, disposition, caching, body.
async fn download(app: &TestApp, vid: &str, viewer: Viewer<'_>) -> reqwest::Response {
    let url = format!("/videos/{vid}/original");
    app.request(Method::GET, &url, viewer, &[]).await
}

#[tokio::test]
async fn the_original_is_its_owners_alone_whatever_the_visibility() {
    let app = spawn_app_with(NO_ROW_CACHE).await;
    let (_, other) = app.user().await;
    for visibility in Visibility::ALL {
        let progressive = noise(6000);
        let video = app.owned_video(&progressive, visibility).await;
        app.set_state(&video.vid, VideoState::Ready).await;
        let original = noise(9000)[1000..].to_vec();
        let vid = VideoId::parse(&video.vid).unwrap();
        app.put_object(&keys::original(&vid), &original).await;
        app.set_original(&video.vid, true, Some("Été à Paris.avi"), "video/x-msvideo")
            .await;
        let nobody = unknown(&app, "original").await;
        for viewer in [
            Viewer::SignedOut,
            Viewer::Header(&other),
            Viewer::Cookie("not-a-session"),
        ] {
            let resp = download(&app, &video.vid, viewer).await;
            let context = format!("{visibility} {viewer:?}");
            assert_eq!(not_found_answer(resp).await, nobody, "{context}");
        }

        let owner = Viewer::Cookie(&video.sid);
        let resp = download(&app, &video.vid, owner).await;
        assert_eq!(resp.status(), StatusCode::OK, "{visibility}");
        assert_eq!(header(&resp, "content-type").unwrap(), "video/x-msvideo");
        assert_eq!(
            header(&resp, "content-disposition").unwrap(),
            "attachment; filename=\"_t_ _ Paris.avi\"; \
             filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Paris.avi"
        );
        assert_audience(&resp, true, visibility.as_str());
        let etag = header(&resp, "etag").unwrap();
        assert_eq!(resp.bytes().await.unwrap(), original, "{visibility}");
        let url = format!("/videos/{}/original", video.vid);
        let headers = [("range", "bytes=100-199"), ("if-range", etag.as_str())];
        let resp = app.request(Method::GET, &url, owner, &headers).await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{visibility}");
        assert_audience(&resp, true, visibility.as_str());
        assert!(header(&resp, "content-disposition").is_some());
        assert_eq!(resp.bytes().await.unwrap(), &original[100..200]);
        let resp = app.request(Method::HEAD, &url, owner, &[]).await;
        assert_eq!(header(&resp, "content-length").unwrap(), "8000");

        // Without a kept original the progressive file is the original (remuxed at most),
        // with its hash as the validator; a name never sent is made from the id and type.
        app.set_original(&video.vid, false, None, "video/quicktime")
            .await;
        let resp = download(&app, &video.vid, owner).await;
        assert_eq!(resp.status(), StatusCode::OK, "{visibility}");
        assert_eq!(header(&resp, "content-type").unwrap(), "video/quicktime");
        assert_eq!(
            header(&resp, "content-disposition").unwrap(),
            format!("attachment; filename=\"{}.mov\"", video.vid)
        );
        let sha = app.video_row(&video.vid).await.2.unwrap();
        assert_eq!(header(&resp, "etag").unwrap(), format!("\"{sha}\""));
        assert_eq!(resp.bytes().await.unwrap(), progressive, "{visibility}");

        let resp = app.request(Method::OPTIONS, &url, owner, &[]).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&resp, "allow").unwrap(), "GET, HEAD");
    }
}

#[tokio::test]
async fn the_original_is_there_once_the_video_has_bytes() {
    let app = spawn_app_with(NO_ROW_CACHE).await;
    let (_, sid, vid) = app.user_with_video().await;
    let owner = Viewer::Header(&sid);
    // Pending: nothing uploaded yet.
    let resp = download(&app, &vid, owner).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Being transcoded (not playable, and so hidden from everyone else): the owner already
    // has the original that processing kept.
    let video_id = VideoId::parse(&vid).unwrap();
    let original = noise(4000);
    app.put_object(&keys::original(&video_id), &original).await;
    app.set_state(&vid, VideoState::Processing).await;
    app.set_original(&vid, true, Some("phone.mov"), "video/quicktime")
        .await;
    let resp = download(&app, &vid, owner).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), original);
    let resp = download(&app, &vid, Viewer::SignedOut).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // What is being transcoded is not played, not even to its owner.
    app.put_object(&keys::video(&video_id), &noise(100)).await;
    let resp = app
        .request(Method::GET, &format!("/videos/{vid}"), owner, &[])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // A failed video keeps its bytes for its owner too.
    app.set_state(&vid, VideoState::Failed).await;
    assert_eq!(download(&app, &vid, owner).await.status(), StatusCode::OK);
    // The file gone (deleted with the video): 404, not an error.
    std::fs::remove_file(app.path(&keys::original(&video_id))).unwrap();
    let resp = download(&app, &vid, owner).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
}

/// The top-level ISO BMFF boxes of `bytes` (type, size), or `None` if they do not tile it
/// exactly: a byte range of the ladder's file must be whole boxes.
fn boxes(bytes: &[u8]) -> Option<Vec<(String, usize)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let size = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = String::from_utf8_lossy(bytes.get(at + 4..at + 8)?).into_owned();
        if size < 8 {
            return None;
        }
        out.push((kind, size));
        at += size;
    }
    (at == bytes.len()).then_some(out)
}

/// `#EXT-X-BYTERANGE:<len>@<offset>` or `BYTERANGE="<len>@<offset>"` as a byte range.
fn byterange(value: &str) -> std::ops::Range<usize> {
    let (len, offset) = value.trim_matches('"').split_once('@').expect("len@offset");
    let (len, offset): (usize, usize) = (len.parse().unwrap(), offset.parse().unwrap());
    offset..offset + len
}

/// Makes one rung of a ladder in `dir` as the scheduler does: H.264/AAC, fMP4 in one file
/// (`<h>p.mp4`) with a byte-range playlist (`<h>p.m3u8`), 1 s segments.
pub fn make_rung(dir: &Path, width: u32, height: u16) {
    let name = |ext: &str| dir.join(format!("{height}p.{ext}")).display().to_string();
    let (media, playlist) = (name("mp4"), name("m3u8"));
    let source = format!("testsrc=size={width}x{height}:rate=25:duration=2");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &source,
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
    ];
    // Keyframes every second, so that every 1 s segment starts with one.
    let codecs = "-c:v libx264 -preset veryfast -pix_fmt yuv420p -g 25 -keyint_min 25 \
                  -sc_threshold 0 -c:a aac -b:a 64k";
    let hls = "-f hls -hls_time 1 -hls_playlist_type vod -hls_segment_type fmp4 \
               -hls_flags single_file";
    args.extend(codecs.split_whitespace().chain(hls.split_whitespace()));
    args.extend([
        "-hls_fmp4_init_filename",
        &media,
        "-hls_segment_filename",
        &media,
    ]);
    args.push(&playlist);
    ffmpeg(&args);
}

#[tokio::test]
async fn an_hls_ladder_made_by_ffmpeg_plays_through_the_server() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let rungs: [(u32, u16); 2] = [(320, 240), (480, 360)];
    let work = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        for (width, height) in rungs {
            make_rung(&work, width, height);
        }
    })
    .await
    .unwrap();
    let master = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-STREAM-INF:BANDWIDTH=528000,RESOLUTION=320x240,CODECS=\"avc1.64000d,mp4a.40.2\"\n\
        240p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=928000,RESOLUTION=480x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n\
        360p.m3u8\n";
    let video = app.owned_video(&noise(1000), Visibility::Unlisted).await;
    app.set_state(&video.vid, VideoState::Ready).await;
    let vid = VideoId::parse(&video.vid).unwrap();
    app.put_object(&keys::hls_master(&vid), master.as_bytes())
        .await;
    for (_, height) in rungs {
        let file = |ext: &str| std::fs::read(dir.path().join(format!("{height}p.{ext}")));
        app.put_object(&keys::hls_playlist(&vid, height), &file("m3u8").unwrap())
            .await;
        app.put_object(&keys::hls_media(&vid, height), &file("mp4").unwrap())
            .await;
    }

    // What hls.js does: the master, each variant's playlist (relative to the master's URL),
    // then byte ranges of the one media file: the init segment, then fragments.
    let base = format!("/videos/{}/hls/", video.vid);
    let resp = fetch(&app, &format!("{base}master.m3u8"), &[]).await;
    assert_eq!(header(&resp, "content-type").unwrap(), PLAYLIST);
    let listed = resp.text().await.unwrap();
    let variants: Vec<&str> = listed.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(variants, ["240p.m3u8", "360p.m3u8"]);
    for (variant, (_, height)) in variants.iter().zip(rungs) {
        let resp = fetch(&app, &format!("{base}{variant}"), &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{variant}");
        let playlist = resp.text().await.unwrap();
        assert!(playlist.contains("#EXT-X-VERSION:7"), "{playlist}");
        let media = std::fs::read(dir.path().join(format!("{height}p.mp4"))).unwrap();
        let map = playlist
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MAP:"))
            .expect("an init segment");
        let uri = format!("URI=\"{height}p.mp4\"");
        assert!(map.starts_with(&uri), "{map}");
        let init = byterange(map.split("BYTERANGE=").nth(1).unwrap());
        let fragments: Vec<_> = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
            .map(byterange)
            .collect();
        assert!(fragments.len() >= 2, "{playlist}");
        let mut wanted = vec![init];
        wanted.extend(fragments);
        for (i, part) in wanted.into_iter().enumerate() {
            let range = format!("bytes={}-{}", part.start, part.end - 1);
            let media_url = format!("{base}{height}p.mp4");
            let resp = fetch(&app, &media_url, &[("range", &range)]).await;
            assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(header(&resp, "content-type").unwrap(), "video/mp4");
            let content_range = format!("bytes {}-{}/{}", part.start, part.end - 1, media.len());
            assert_eq!(header(&resp, "content-range").unwrap(), content_range);
            let bytes = resp.bytes().await.unwrap();
            assert!(bytes == media[part.clone()], "{range}");
            let kinds: Vec<String> = boxes(&bytes)
                .unwrap_or_else(|| panic!("{range} is not whole boxes"))
                .into_iter()
                .map(|(kind, _)| kind)
                .collect();
            let expected: &[&str] = if i == 0 {
                &["ftyp", "moov"]
            } else {
                &["moof", "mdat"]
            };
            for kind in expected {
                assert!(kinds.iter().any(|k| k == kind), "{range}: {kinds:?}");
            }
        }
    }

    // A real HLS client: ffprobe reads the master playlist over HTTP and every variant
    // through it (its byte ranges are Range requests).
    let url = app.url(&format!("{base}master.m3u8"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height:format=duration",
                "-of",
                "json",
            ])
            .arg(&url)
            .output()
            .expect("running ffprobe")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = probed["streams"].as_array().unwrap();
    let video_sizes: Vec<(u64, u64)> = streams
        .iter()
        .filter(|s| s["codec_name"] == "h264")
        .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(video_sizes, [(320, 240), (480, 360)], "{probed}");
    assert!(streams.iter().any(|s| s["codec_name"] == "aac"), "{probed}");
    let duration: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 2.0).abs() < 0.2, "{probed}");
}
