//! The media origin (issue 16): signed paths (`/s/<token>/videos/<vid>...`) that open a private
//! video's files to the viewer the api signed them for, without a session; upload tokens
//! (`Authorization: Bearer`) that stand in for the session on uploads, plain and tus; and CORS
//! that lets any origin read public media but only the site (`PUBLIC_URL`) read signed media and
//! upload. Grants are minted here with `svc::media` exactly as the api mints them.

use std::process::Command;

use base64::Engine;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use svc::media::MediaKey;
use svc::storage::keys;
use svc::{VideoId, VideoState, Visibility};

use crate::helpers::{fake_mp4, noise, spawn_app, spawn_app_with, TestApp};
use crate::renditions::make_rung;

const KEY: &str = "a test media key of at least thirty-two bytes";
const SITE: &str = "http://site.example:8080";
const ELSEWHERE: &str = "http://elsewhere.example";

fn key() -> MediaKey {
    MediaKey::new(KEY).unwrap()
}

/// A grant lasting a minute from now.
fn soon() -> u64 {
    svc::media::now() + 60
}

/// A streamserver that takes grants from the api sharing [`KEY`], for the site [`SITE`], and
/// keeps no rows cached (tests change them between requests).
async fn media_origin() -> TestApp {
    spawn_app_with(&[
        ("MEDIA_SIGNING_KEY", KEY),
        ("PUBLIC_URL", SITE),
        ("PLAYBACK_CACHE_TTL", "0"),
    ])
    .await
}

/// A new user's playable video holding `bytes`, with `visibility`: (owner id, video id).
async fn video_of_new_user(app: &TestApp, bytes: &[u8], visibility: Visibility) -> (u32, String) {
    let (owner, _) = app.user().await;
    let vid = app.pending_video(owner).await;
    app.publish(&vid, bytes, "video/mp4").await;
    app.set_visibility(&vid, visibility).await;
    (owner, vid)
}

/// The signed path opening `/videos/<vid>` + `rest` for `viewer` until `expires`.
fn signed(vid: &str, rest: &str, viewer: u32, expires: u64) -> String {
    let prefix = format!("/videos/{vid}");
    format!("{}{rest}", key().sign_path(&prefix, vid, viewer, expires))
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Asserts a 403 with the JSON error whose message contains `says`.
async fn assert_refused(resp: reqwest::Response, says: &str, context: &str) {
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{context}");
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("application/json")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "403", "{context}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains(says), "{context}: {message}");
}

#[tokio::test]
async fn a_signed_path_opens_a_private_video_to_its_viewer_with_ranges() {
    let app = media_origin().await;
    let bytes = noise(5000);
    let (owner, vid) = video_of_new_user(&app, &bytes, Visibility::Private).await;

    // Without a grant it is the 404 it always was.
    let resp = get(&app, &format!("/videos/{vid}"), &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let path = signed(&vid, "", owner, soon());
    let resp = get(&app, &path, &[("range", "bytes=100-199")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, "content-range").unwrap(),
        "bytes 100-199/5000"
    );
    assert_eq!(header(&resp, "cache-control").unwrap(), "private, no-store");
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        None,
        "no Origin sent"
    );
    assert!(resp.bytes().await.unwrap() == bytes[100..200]);

    // HEAD and the whole file too.
    let resp = app.client.head(app.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length").unwrap(), "5000");
}

#[tokio::test]
async fn a_signed_path_is_refused_when_expired_for_another_video_viewer_or_path_or_tampered() {
    let app = media_origin().await;
    let (owner, vid) = video_of_new_user(&app, &noise(5000), Visibility::Private).await;
    let (other_owner, other) = video_of_new_user(&app, &noise(3000), Visibility::Private).await;
    let (stranger, _) = app.user().await;

    let expired = signed(&vid, "", owner, svc::media::now() - 1);
    assert_refused(get(&app, &expired, &[]).await, "expired", "expired").await;

    // The other video's genuine grant, put in front of this video's path.
    let theirs = signed(&other, "", other_owner, soon());
    let (token, _) = svc::media::split_signed(&theirs).unwrap();
    let swapped = format!("/s/{token}/videos/{vid}");
    assert_refused(get(&app, &swapped, &[]).await, "not valid", "another video").await;

    // A genuine grant for someone who may not see the video.
    let strangers = signed(&vid, "", stranger, soon());
    assert_refused(
        get(&app, &strangers, &[]).await,
        "not valid",
        "another viewer",
    )
    .await;

    // The path opened changed: the video's grant on its thumbnail, and the other way round.
    let mine = signed(&vid, "", owner, soon());
    let (token, _) = svc::media::split_signed(&mine).unwrap();
    app.put_thumbnail(&vid, b"\xff\xd8\xff\xe0 a jpeg").await;
    let thumbnail = format!("/s/{token}/thumbnails/{vid}");
    assert_refused(get(&app, &thumbnail, &[]).await, "not valid", "thumbnail").await;
    let thumbnail_grant = key().sign_path(&format!("/thumbnails/{vid}"), &vid, owner, soon());
    let (thumb_token, _) = svc::media::split_signed(&thumbnail_grant).unwrap();
    let video_path = format!("/s/{thumb_token}/videos/{vid}");
    assert_refused(get(&app, &video_path, &[]).await, "not valid", "video").await;

    // The token itself altered: its viewer, its expiry, its MAC, or not a token at all.
    let (expires, rest) = token.split_once('-').unwrap();
    let (_, mac) = rest.split_once('-').unwrap();
    let mut flipped = mac.to_string().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    for (bad, says) in [
        (format!("{expires}-{stranger}-{mac}"), "not valid"),
        (format!("{}-{owner}-{mac}", soon() + 600), "not valid"),
        (format!("{expires}-{owner}-{flipped}"), "not valid"),
        ("nonsense".to_string(), "malformed"),
    ] {
        let path = format!("/s/{bad}/videos/{vid}");
        assert_refused(get(&app, &path, &[]).await, says, &bad).await;
    }

    // The genuine grant still works after all that.
    let resp = get(&app, &mine, &[("range", "bytes=0-9")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn a_server_without_the_key_refuses_signed_paths_and_plain_urls_stay_as_they_were() {
    let app = spawn_app().await;
    let (owner, vid) = video_of_new_user(&app, &noise(2000), Visibility::Private).await;
    let path = signed(&vid, "", owner, soon());
    assert_refused(get(&app, &path, &[]).await, "MEDIA_SIGNING_KEY", "no key").await;

    let (_, public) = video_of_new_user(&app, &noise(2000), Visibility::Public).await;
    let resp = get(&app, &format!("/videos/{public}"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").unwrap(), "public, no-cache");
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), "*");
}

#[tokio::test]
async fn a_signed_thumbnail_is_served_privately() {
    let app = media_origin().await;
    let (owner, vid) = video_of_new_user(&app, &noise(2000), Visibility::Private).await;
    let jpeg = b"\xff\xd8\xff\xe0 the thumbnail".to_vec();
    app.put_thumbnail(&vid, &jpeg).await;
    let resp = get(&app, &format!("/thumbnails/{vid}"), &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no grant");

    let path = key().sign_path(&format!("/thumbnails/{vid}"), &vid, owner, soon());
    let resp = get(&app, &path, &[("origin", SITE)]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").unwrap(), "image/jpeg");
    assert_eq!(header(&resp, "cache-control").unwrap(), "private, no-store");
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), SITE);
    assert!(resp.bytes().await.unwrap() == jpeg);
}

#[tokio::test]
async fn a_signed_master_playlist_plays_with_its_relative_uris_under_the_same_grant() {
    let app = media_origin().await;
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || make_rung(&work, 320, 240))
        .await
        .unwrap();
    let (owner, vid) = video_of_new_user(&app, &noise(1000), Visibility::Private).await;
    app.set_state(&vid, VideoState::Ready).await;
    let id = VideoId::parse(&vid).unwrap();
    let master = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-STREAM-INF:BANDWIDTH=528000,RESOLUTION=320x240,CODECS=\"avc1.64000d,mp4a.40.2\"\n\
        240p.m3u8\n";
    app.put_object(&keys::hls_master(&id), master.as_bytes())
        .await;
    let file = |ext: &str| std::fs::read(dir.path().join(format!("240p.{ext}"))).unwrap();
    app.put_object(&keys::hls_playlist(&id, 240), &file("m3u8"))
        .await;
    let media = file("mp4");
    app.put_object(&keys::hls_media(&id, 240), &media).await;
    let cues = "WEBVTT\n\n00:00.000 --> 00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n";
    app.put_object(&keys::storyboard_vtt(&id), cues.as_bytes())
        .await;
    app.put_object(&keys::storyboard_image(&id), b"\xff\xd8\xff sprite")
        .await;

    // By hand, as hls.js resolves them: every URI relative to the playlist's own URL.
    let master_path = signed(&vid, "/hls/master.m3u8", owner, soon());
    let base = master_path.trim_end_matches("master.m3u8").to_string();
    let resp = get(&app, &master_path, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").unwrap(), "private, no-store");
    let listed = resp.text().await.unwrap();
    let variant = listed.lines().find(|l| !l.starts_with('#')).unwrap();
    let resp = get(&app, &format!("{base}{variant}"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK, "{variant}");
    let playlist = resp.text().await.unwrap();
    assert!(playlist.contains("URI=\"240p.mp4\""), "{playlist}");
    let resp = get(&app, &format!("{base}240p.mp4"), &[("range", "bytes=0-99")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert!(resp.bytes().await.unwrap() == media[..100]);
    // The storyboard's sprite, relative to its cues.
    let cues_path = signed(&vid, "/storyboard.vtt", owner, soon());
    let resp = get(&app, &cues_path, &[]).await;
    assert_eq!(resp.text().await.unwrap(), cues);
    let sprite = cues_path.replace("storyboard.vtt", "storyboard.jpg");
    assert_eq!(get(&app, &sprite, &[]).await.status(), StatusCode::OK);
    // Unsigned, the ladder is as hidden as the video.
    let plain = get(&app, &format!("/videos/{vid}/hls/master.m3u8"), &[]).await;
    assert_eq!(plain.status(), StatusCode::NOT_FOUND);

    // A real HLS client: ffprobe plays the signed master and, through it, the variant.
    let url = app.url(&master_path);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
            ])
            .args(["-of", "json"])
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
    assert!(
        streams
            .iter()
            .any(|s| s["codec_name"] == "h264" && s["height"] == 240),
        "{probed}"
    );
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A tus request with the upload token `token`.
fn tus(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("tus-resumable", "1.0.0")
        .header("authorization", format!("Bearer {token}"))
}

/// A tus `PATCH` of `body` at `offset` to the upload at `location`, with `token`.
fn tus_patch(
    app: &TestApp,
    location: &str,
    token: &str,
    offset: usize,
    body: Vec<u8>,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    tus(app, Method::PATCH, location, token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(body)
        .send()
}

/// `POST /files/` for `vid` with `token`.
async fn tus_create(app: &TestApp, vid: &str, token: &str, length: usize) -> reqwest::Response {
    tus(app, Method::POST, "/files/", token)
        .header("upload-length", length.to_string())
        .header("upload-metadata", format!("video_id {}", b64(vid)))
        .send()
        .await
        .unwrap()
}

/// `PUT /upload/{vid}` with the upload token `token`.
async fn put_with(app: &TestApp, vid: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/upload/{vid}")))
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_upload_token_uploads_its_video_once_and_nothing_else() {
    let app = media_origin().await;
    let (user, _, vid) = app.user_with_video().await;
    let other = app.pending_video(user).await;
    let token = key().sign_upload(&vid, user, soon());

    let resp = put_with(&app, &other, &token, fake_mp4(4000)).await;
    assert_refused(resp, "not valid", "another video").await;
    let expired = key().sign_upload(&vid, user, svc::media::now() - 1);
    let resp = put_with(&app, &vid, &expired, fake_mp4(4000)).await;
    assert_refused(resp, "expired", "expired").await;
    let resp = put_with(&app, &vid, "1-2-00", fake_mp4(4000)).await;
    assert_refused(resp, "malformed", "tampered").await;
    // A genuine token given to someone else is their credential, not the owner's.
    let (stranger, _) = app.user().await;
    let strangers = key().sign_upload(&vid, stranger, soon());
    let resp = put_with(&app, &vid, &strangers, fake_mp4(4000)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.type_and_state(&vid).await.1, "pending");

    let resp = put_with(&app, &vid, &token, fake_mp4(4000)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(app.type_and_state(&vid).await.1, "uploaded");
    // Used again once the upload is complete: the 409 any second upload gets.
    let resp = put_with(&app, &vid, &token, fake_mp4(4000)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = tus_create(&app, &vid, &token, 4000).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_upload_token_drives_a_resumable_upload_to_the_end() {
    let app = media_origin().await;
    let (user, _, vid) = app.user_with_video().await;
    let other = app.pending_video(user).await;
    let token = key().sign_upload(&vid, user, soon());
    let others = key().sign_upload(&other, user, soon());
    let file = fake_mp4(6000);

    let resp = tus_create(&app, &vid, &others, file.len()).await;
    assert_refused(resp, "not valid", "creation with another video's token").await;
    let resp = tus_create(&app, &vid, &token, file.len()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = header(&resp, "location").unwrap();

    let patch = |token: &str, offset: usize, body: &[u8]| {
        tus_patch(&app, &location, token, offset, body.to_vec())
    };
    let resp = patch(&others, 0, &file[..3000]).await.unwrap();
    assert_refused(resp, "not valid", "PATCH with another video's token").await;
    let resp = patch(&token, 0, &file[..3000]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = tus(&app, Method::HEAD, &location, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "upload-offset").unwrap(), "3000");
    let resp = patch(&token, 3000, &file[3000..]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.type_and_state(&vid).await.1, "uploaded");

    // Reused after completion: the upload and the video are done.
    let resp = patch(&token, 6000, b"more").await.unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = tus_create(&app, &vid, &token, 10).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);

    // Termination takes the token too, and another video's is refused.
    let second = app.pending_video(user).await;
    let token2 = key().sign_upload(&second, user, soon());
    let resp = tus_create(&app, &second, &token2, 100).await;
    let location2 = header(&resp, "location").unwrap();
    let resp = tus(&app, Method::DELETE, &location2, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = tus(&app, Method::DELETE, &location2, &token2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// An upload token that runs out in the middle of a resumable upload: the streamserver checks
/// the token on every request (`ingest::Uploader::user_for`), so the next PATCH is refused with
/// a 403 saying it expired and takes no byte; the studio page then asks web for a fresh token
/// (templates/static/app.js, `tokenOptions`), and HEAD + PATCH under it resume from the
/// durable offset to a file identical to the source.
#[tokio::test]
async fn an_upload_token_expiring_mid_upload_is_refused_and_a_fresh_one_resumes() {
    let app = media_origin().await;
    let (user, _, vid) = app.user_with_video().await;
    let file = fake_mp4(300_000);
    let first = 120_000;
    // Good for two to three seconds (grants count whole seconds): plenty for the first chunk.
    let expires = svc::media::now() + 3;
    let short = key().sign_upload(&vid, user, expires);

    let resp = tus_create(&app, &vid, &short, file.len()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = header(&resp, "location").unwrap();
    let patch = |token: &str, offset: usize, body: &[u8]| {
        tus_patch(&app, &location, token, offset, body.to_vec())
    };
    let resp = patch(&short, 0, &file[..first]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "upload-offset").unwrap(), first.to_string());

    // The token runs out: the media origin itself says so, on HEAD as on PATCH.
    let head = || tus(&app, Method::HEAD, &location, &short).send();
    svc::testing::eventually(
        "the upload token to expire",
        std::time::Duration::from_secs(10),
        || async { (head().await.unwrap().status() == StatusCode::FORBIDDEN).then_some(()) },
    )
    .await;
    assert!(svc::media::now() >= expires, "refused before it expired");
    let resp = patch(&short, first, &file[first..]).await.unwrap();
    // Said for an upload: what was sent is not lost.
    assert_refused(
        resp,
        "expired; reload the page to get a new one and resume: the bytes sent so far are kept",
        "PATCH after the token expired",
    )
    .await;

    // A fresh token for the same video (what `POST /videos/{vid}/upload-token` hands out):
    // the offset is where the first PATCH left it, and the upload resumes from there.
    let fresh = key().sign_upload(&vid, user, soon());
    let resp = tus(&app, Method::HEAD, &location, &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, "upload-offset").unwrap(),
        first.to_string(),
        "the refused PATCH took no byte"
    );
    assert_eq!(app.type_and_state(&vid).await.1, "pending");
    let resp = patch(&fresh, first, &file[first..]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&resp, "upload-offset").unwrap(),
        file.len().to_string()
    );

    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(file.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&file)));
    let stored = app
        .object(&keys::video(&VideoId::parse(&vid).unwrap()))
        .await
        .expect("the stored file");
    assert_eq!(
        hex::encode(Sha256::digest(&stored)),
        hex::encode(Sha256::digest(&file)),
        "the stored file is the source, byte for byte"
    );
}

/// `OPTIONS path` from `origin`, asking for `method` with `headers`.
async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn public_media_is_readable_from_any_origin() {
    let app = media_origin().await;
    let (_, vid) = video_of_new_user(&app, &noise(2000), Visibility::Public).await;
    let resp = preflight(&app, &format!("/videos/{vid}"), ELSEWHERE, "GET", "range").await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), "*");
    let allowed = header(&resp, "access-control-allow-headers").unwrap();
    assert!(allowed.contains("Range"), "{allowed}");
    let resp = get(&app, &format!("/videos/{vid}"), &[("origin", ELSEWHERE)]).await;
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), "*");
    assert_eq!(header(&resp, "cache-control").unwrap(), "public, no-cache");
    // Its thumbnail too: a page's `<img crossorigin="anonymous">` on the media origin needs it.
    app.put_thumbnail(&vid, b"\xff\xd8\xff\xe0 thumb").await;
    let resp = get(
        &app,
        &format!("/thumbnails/{vid}"),
        &[("origin", ELSEWHERE)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), "*");
}

#[tokio::test]
async fn signed_media_and_uploads_are_the_sites_alone() {
    let app = media_origin().await;
    let (owner, vid) = video_of_new_user(&app, &noise(2000), Visibility::Private).await;
    let (user, _, pending) = app.user_with_video().await;
    let upload_headers = "authorization,tus-resumable,upload-length,upload-metadata,content-type";
    let signed_path = signed(&vid, "", owner, soon());
    for (path, method, headers) in [
        (signed_path.as_str(), "GET", "range"),
        ("/files/", "POST", upload_headers),
        ("/files", "POST", upload_headers),
        (
            "/files/0b6a1c9e-5a53-4f3e-9d2c-4a1f6a9c2b11",
            "PATCH",
            upload_headers,
        ),
        (
            &format!("/upload/{pending}"),
            "PUT",
            "authorization,content-type",
        ),
    ] {
        let resp = preflight(&app, path, SITE, method, headers).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            header(&resp, "access-control-allow-origin").as_deref(),
            Some(SITE),
            "{path}"
        );
        assert_eq!(header(&resp, "vary").as_deref(), Some("Origin"), "{path}");
        let methods = header(&resp, "access-control-allow-methods").unwrap();
        assert!(methods.contains(method), "{path}: {methods}");
        let allowed = header(&resp, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for name in headers.split(',') {
            assert!(allowed.contains(name), "{path}: {name} in {allowed}");
        }
        assert!(header(&resp, "access-control-max-age").is_some(), "{path}");
        assert_eq!(header(&resp, "access-control-allow-credentials"), None);

        let resp = preflight(&app, path, ELSEWHERE, method, headers).await;
        assert_eq!(header(&resp, "access-control-allow-origin"), None, "{path}");
        assert_eq!(header(&resp, "vary").as_deref(), Some("Origin"), "{path}");
    }

    // The answers themselves: the site may read them, another origin may not.
    let resp = get(
        &app,
        &signed_path,
        &[("origin", SITE), ("range", "bytes=0-9")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), SITE);
    let exposed = header(&resp, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("Content-Range"), "{exposed}");
    let resp = get(&app, &signed_path, &[("origin", ELSEWHERE)]).await;
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    // A refusal is readable by the site too, so the page can show its message.
    let expired = signed(&vid, "", owner, svc::media::now() - 1);
    let resp = get(&app, &expired, &[("origin", SITE)]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), SITE);

    let token = key().sign_upload(&pending, user, soon());
    let resp = tus(&app, Method::POST, "/files/", &token)
        .header("origin", SITE)
        .header("upload-length", "100")
        .header("upload-metadata", format!("video_id {}", b64(&pending)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "access-control-allow-origin").unwrap(), SITE);
    let exposed = header(&resp, "access-control-expose-headers").unwrap();
    for name in ["Location", "Upload-Offset", "Tus-Resumable"] {
        assert!(exposed.contains(name), "{exposed}");
    }
}
