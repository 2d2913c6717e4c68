//! The streamserver on S3 (a real S3-compatible server, moto, started by each test): tus uploads
//! that survive SIGKILL and resume through another streamserver process, plain and multipart
//! uploads streamed into multipart uploads, the type check at the first PATCH, and playback
//! with `PLAYBACK_REDIRECT=presigned`. Byte serving itself is checked on S3 by the same tests
//! as on the local backend (`playback.rs`, `visibility.rs`).

use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use svc::storage::keys;
use svc::testing::eventually;
use svc::{VideoId, VideoState, Visibility};
use tokio::sync::mpsc;

use crate::helpers::{
    assert_not_a_video, fake_mp4, free_port, noise, spawn_app_on, Backend, TestApp, PATIENCE,
};

const MIB: usize = 1 << 20;

/// A tus request to `base` + `path` as the holder of session `sid`.
fn tus(app: &TestApp, method: Method, url: &str, sid: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, url)
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", sid)
}

/// `PATCH` of `body` at `offset`; the answer.
async fn patch(
    app: &TestApp,
    url: &str,
    sid: &str,
    offset: usize,
    body: Vec<u8>,
) -> reqwest::Response {
    tus(app, Method::PATCH, url, sid)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The offset `HEAD` reports.
async fn offset(app: &TestApp, url: &str, sid: &str) -> usize {
    let resp = tus(app, Method::HEAD, url, sid).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Creates a tus upload of `length` bytes for `vid` at the server `base`; its path.
async fn create(app: &TestApp, base: &str, sid: &str, vid: &str, length: usize) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let resp = tus(app, Method::POST, &format!("{base}/files/"), sid)
        .header("upload-length", length.to_string())
        .header(
            "upload-metadata",
            format!("filename {},video_id {}", b64("clip.mp4"), b64(vid)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The issue's odd PATCH sizes (1 byte, 5 MiB - 1, 7 MiB: a part boundary crossed in the middle
/// of a request, then a tail), each through a different streamserver process, every process
/// SIGKILLed after its PATCH was acknowledged: the acknowledged offsets survive, and the bytes
/// published are the client's, to the last one.
#[tokio::test]
async fn tus_on_s3_survives_sigkill_and_resumes_through_another_streamserver() {
    let app = spawn_app_on(Backend::S3, &[]).await;
    let (_, sid, vid) = app.user_with_video().await;
    let sizes = [1, 5 * MIB - 1, 7 * MIB];
    let file = fake_mp4(sizes.iter().sum());
    let ports = [free_port(), free_port()];
    let base = |port: u16| format!("http://127.0.0.1:{port}");

    let mut server = app.start_binary(ports[0]).await;
    let location = create(&app, &base(ports[0]), &sid, &vid, file.len()).await;
    let mut sent = 0;
    for (i, size) in sizes.into_iter().enumerate() {
        // Each PATCH goes to the other process, which knows nothing but the row and the bucket.
        if i > 0 {
            server.kill().await.unwrap();
            server = app.start_binary(ports[i % 2]).await;
        }
        let url = format!("{}{location}", base(ports[i % 2]));
        assert_eq!(offset(&app, &url, &sid).await, sent, "before PATCH {i}");
        let resp = patch(&app, &url, &sid, sent, file[sent..sent + size].to_vec()).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "PATCH {i}");
        sent += size;
        assert_eq!(resp.headers()["upload-offset"], sent.to_string().as_str());
    }
    server.kill().await.unwrap();

    let (state, size, sha) = app.video_row(&vid).await;
    let digest = hex::encode(Sha256::digest(&file));
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(file.len() as u64));
    assert_eq!(sha.as_deref(), Some(digest.as_str()));
    let stored = app
        .object(&keys::video(&VideoId::parse(&vid).unwrap()))
        .await;
    assert_eq!(hex::encode(Sha256::digest(stored.unwrap())), digest);
    // Nothing of the upload is left: no tail, no object, no unfinished multipart upload.
    assert_eq!(app.keys("uploads/").await, Vec::<String>::new());
    assert_eq!(app.unfinished().await, 0);
    assert_eq!(app.process_jobs(&vid).await, 1);
}

/// A PATCH that arrives while another, from the same state, was recorded first (two
/// streamservers, one client retrying) is refused with 409, and the upload goes on from the
/// offset that was recorded.
#[tokio::test]
async fn of_two_patches_from_the_same_offset_on_s3_one_is_recorded() {
    let app = spawn_app_on(Backend::S3, &[]).await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = fake_mp4(6 * MIB);
    let location = create(&app, &app.url(""), &sid, &vid, file.len()).await;
    let url = app.url(&location);
    // The first PATCH's body is held until the second one has been recorded.
    let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let first = tokio::spawn(
        tus(&app, Method::PATCH, &url, &sid)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    tx.send(Ok(file[..100].to_vec())).await.unwrap();
    // The per-process lock refuses a second PATCH here while the first runs (423); a second
    // process has no such lock, which is what the row's token check is for: run it there.
    let other = free_port();
    let _second_server = app.start_binary(other).await;
    let second_url = format!("http://127.0.0.1:{other}{location}");
    let resp = patch(&app, &second_url, &sid, 0, file[..MIB].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    tx.send(Ok(file[100..200].to_vec())).await.unwrap();
    drop(tx);
    let resp = first.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(offset(&app, &url, &sid).await, MIB);
    let resp = patch(&app, &url, &sid, MIB, file[MIB..].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (state, _, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&file)));
}

/// The type check at the PATCH that completes the first bytes (issue 11) works on S3, where
/// those bytes wait in a tail object: the upload is refused and removed with its multipart
/// upload.
#[tokio::test]
async fn a_non_video_is_refused_at_its_first_patch_on_s3_and_leaves_nothing() {
    let app = spawn_app_on(Backend::S3, &[]).await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = noise(6 * MIB);
    let location = create(&app, &app.url(""), &sid, &vid, file.len()).await;
    let url = app.url(&location);
    // Ten bytes: not judged yet, kept in the tail.
    let resp = patch(&app, &url, &sid, 0, file[..10].to_vec()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.keys("uploads/").await.len(), 1, "the tail");
    assert_eq!(app.unfinished().await, 1);
    // The PATCH that completes the first bytes is judged on them, the tail's included.
    assert_not_a_video(patch(&app, &url, &sid, 10, file[10..].to_vec()).await).await;
    assert_eq!(app.upload_rows(&vid).await, 0);
    assert_eq!(app.keys("").await, Vec::<String>::new());
    assert_eq!(app.unfinished().await, 0);
    assert_eq!(app.type_and_state(&vid).await.1, "pending");
}

/// Plain and multipart uploads stream into a multipart upload of the video's key, completed
/// when the upload is published; one that breaks off is aborted.
#[tokio::test]
async fn plain_uploads_stream_into_the_bucket_and_broken_ones_are_aborted() {
    let app = spawn_app_on(Backend::S3, &[]).await;
    // PUT: three parts and a bit.
    let clip = fake_mp4(15 * MIB + 3);
    let (_, sid, vid) = app.user_with_video().await;
    let resp = app.put(&vid, Some(&sid), clip.clone()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let key = keys::video(&VideoId::parse(&vid).unwrap());
    assert!(app.object(&key).await.unwrap() == clip);
    assert_eq!(app.video_row(&vid).await.0, "uploaded");

    // Multipart POST, under one part: one PUT of the object.
    let small = fake_mp4(3 * MIB);
    let (_, sid, vid) = app.user_with_video().await;
    let boundary = "XyZzY";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&small);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = app
        .client
        .post(app.url(&format!("/upload/{vid}")))
        .header("x-session-id", &sid)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let key = keys::video(&VideoId::parse(&vid).unwrap());
    assert!(app.object(&key).await.unwrap() == small);

    // A PUT that breaks off after its first part: the multipart upload is aborted.
    let (_, sid, vid) = app.user_with_video().await;
    let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let sent = tokio::spawn(
        app.client
            .put(app.url(&format!("/upload/{vid}")))
            .header("x-session-id", &sid)
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    tx.send(Ok(fake_mp4(6 * MIB))).await.unwrap();
    eventually("the upload's multipart upload", PATIENCE, || async {
        (app.unfinished().await == 1).then_some(())
    })
    .await;
    tx.send(Err(std::io::Error::other("the client went away")))
        .await
        .unwrap();
    let _ = sent.await;
    eventually("the broken upload's abort", PATIENCE, || async {
        (app.unfinished().await == 0).then_some(())
    })
    .await;
    let key = keys::video(&VideoId::parse(&vid).unwrap());
    assert_eq!(app.object(&key).await, None);
    assert_eq!(app.video_row(&vid).await.0, "pending");
}

/// A GET through a client that does not follow redirects.
async fn get_unfollowed(app: &TestApp, path: &str, sid: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let mut req = client.get(app.url(path));
    if let Some(sid) = sid {
        req = req.header("x-session-id", sid);
    }
    req.send().await.unwrap()
}

/// What curl fetches from `url`: (bytes, content type), with `range` if given.
fn curl(url: &str, range: Option<&str>) -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("body");
    let mut cmd = std::process::Command::new("curl");
    cmd.args([
        "-sS",
        "--fail",
        "-o",
        out.to_str().unwrap(),
        "-w",
        "%{content_type}",
    ]);
    if let Some(range) = range {
        cmd.args(["-r", range]);
    }
    let done = cmd.arg(url).output().expect("running curl");
    assert!(
        done.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    (
        std::fs::read(out).unwrap(),
        String::from_utf8_lossy(&done.stdout).into_owned(),
    )
}

/// `PLAYBACK_REDIRECT=presigned`: every file of a public or unlisted video answers GET with a
/// 307 to a presigned URL that curl fetches from the bucket (whole or by range, with the
/// type playback would give); HEAD and everything only the owner may have are served by the
/// streamserver itself; what does not exist, or may not be seen, is the streamserver's 404.
#[tokio::test]
async fn presigned_playback_redirects_what_anyone_may_see_and_serves_the_rest_itself() {
    let app = spawn_app_on(
        Backend::S3,
        &[("PLAYBACK_REDIRECT", "presigned"), ("PRESIGN_TTL", "30s")],
    )
    .await;
    let bytes = noise(300_000);
    let jpeg = b"\xFF\xD8\xFF\xE0 a thumbnail".to_vec();
    for visibility in [Visibility::Public, Visibility::Unlisted] {
        let video = app.owned_video(&bytes, visibility).await;
        let path = format!("/videos/{}", video.vid);
        let resp = get_unfollowed(&app, &path, None).await;
        assert_eq!(
            resp.status(),
            StatusCode::TEMPORARY_REDIRECT,
            "{visibility}"
        );
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let (got, content_type) = curl(&location, None);
        assert!(got == bytes, "{visibility}: the bucket's bytes");
        assert_eq!(content_type, "video/mp4");
        let (part, _) = curl(&location, Some("1000-1999"));
        assert!(part == bytes[1000..2000]);
        // A client that follows the redirect gets its range from the bucket.
        let resp = app
            .client
            .get(app.url(&path))
            .header("range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(resp.bytes().await.unwrap(), &bytes[10..20]);
        // HEAD is answered here, with the validators of playback.
        let head = app.client.head(app.url(&path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-length"], "300000");
        assert!(head.headers().get("etag").is_some());
        // The thumbnail: 404 until it exists (this server's), then a redirect.
        let thumbnail = format!("/thumbnails/{}", video.vid);
        let resp = get_unfollowed(&app, &thumbnail, None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        app.put_thumbnail(&video.vid, &jpeg).await;
        let resp = get_unfollowed(&app, &thumbnail, None).await;
        assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
        let (got, content_type) = curl(resp.headers()["location"].to_str().unwrap(), None);
        assert_eq!((got, content_type.as_str()), (jpeg.clone(), "image/jpeg"));
        // The HLS ladder of a ready video.
        app.set_state(&video.vid, VideoState::Ready).await;
        let vid = VideoId::parse(&video.vid).unwrap();
        app.put_object(&keys::hls_master(&vid), b"#EXTM3U\n").await;
        let master = format!("{path}/hls/master.m3u8");
        let resp = eventually("the ladder of a ready video", PATIENCE, || async {
            let resp = get_unfollowed(&app, &master, None).await;
            (resp.status() == StatusCode::TEMPORARY_REDIRECT).then_some(resp)
        })
        .await;
        let (got, content_type) = curl(resp.headers()["location"].to_str().unwrap(), None);
        assert_eq!(got, b"#EXTM3U\n");
        assert_eq!(content_type, "application/vnd.apple.mpegurl");
        let resp = get_unfollowed(&app, &format!("{path}/hls/240p.m3u8"), None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "a rung never made");
        // The original is its owner's alone: served here, never redirected.
        let resp = get_unfollowed(&app, &format!("{path}/original"), Some(&video.sid)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "private, no-store");
        assert!(resp.bytes().await.unwrap() == bytes);
    }
    // A private video: always served by the streamserver, to its owner only.
    let video = app.owned_video(&bytes, Visibility::Private).await;
    let path = format!("/videos/{}", video.vid);
    let resp = get_unfollowed(&app, &path, Some(&video.sid)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    assert!(resp.headers().get("location").is_none());
    assert!(resp.bytes().await.unwrap() == bytes);
    let (_, other) = app.user().await;
    for sid in [None, Some(other.as_str())] {
        let resp = get_unfollowed(&app, &path, sid).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let thumbnail = get_unfollowed(&app, &format!("/thumbnails/{}", video.vid), sid).await;
        assert_eq!(thumbnail.status(), StatusCode::NOT_FOUND);
    }
    // Made public: redirected from the next request on (the row cache allowing).
    app.set_visibility(&video.vid, Visibility::Public).await;
    eventually("the redirect of a video made public", PATIENCE, || async {
        let resp = get_unfollowed(&app, &path, None).await;
        (resp.status() == StatusCode::TEMPORARY_REDIRECT).then_some(())
    })
    .await;
}

/// `/readyz` checks the bucket: ready while it answers, 503 once the S3 server is gone.
#[tokio::test]
async fn readyz_follows_the_bucket() {
    let mut app = spawn_app_on(Backend::S3, &[]).await;
    let readyz = app.url("/readyz");
    assert_eq!(
        app.client.get(&readyz).send().await.unwrap().status(),
        StatusCode::OK
    );
    drop(app.s3.take());
    let resp = app.client.get(&readyz).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = resp.text().await.unwrap();
    assert!(body.contains("storage"), "{body}");
}
