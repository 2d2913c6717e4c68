//! Plain uploads (`PUT` raw, `POST` multipart): the happy paths and every refusal, checking
//! the database and the storage directory afterwards, not only the status.

use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{fake_mp4, make_mp4, noise, spawn_app, spawn_app_with, TestApp};

async fn put(app: &TestApp, vid: &str, sid: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = app.client.put(app.url(&format!("/upload/{vid}")));
    if let Some(sid) = sid {
        req = req.header("x-session-id", sid);
    }
    req.body(body).send().await.unwrap()
}

async fn error_code(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    body["error_code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn put_publishes_the_file_and_queues_processing() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_mp4(dir.path(), 1, false)).unwrap();
    let resp = put(&app, &vid, Some(&sid), clip.clone()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: serde_json::Value = resp.json().await.unwrap();
    let sha = hex::encode(Sha256::digest(&clip));
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["size"], clip.len());
    assert_eq!(body["state"], "uploaded");
    assert_eq!(
        app.video_row(&vid).await,
        ("uploaded".to_string(), Some(clip.len() as u64), Some(sha))
    );
    assert_eq!(app.process_jobs(&vid).await, 1);
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        clip
    );
    assert!(app.files_in("tmp").is_empty());

    // Playable now, with the type sniffed at upload.
    let resp = app
        .client
        .get(app.url(&format!("/videos/{vid}")))
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-type"], "video/mp4");

    // Already uploaded: 409, and the published file is untouched.
    let resp = put(&app, &vid, Some(&sid), fake_mp4(1000)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(resp).await, "409");
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        clip
    );
    assert!(app.files_in("tmp").is_empty());
}

#[tokio::test]
async fn multipart_post_with_the_session_cookie() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;
    let file = fake_mp4(300_000);
    let boundary = "XyZzY";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = app
        .client
        .post(app.url(&format!("/upload/{vid}")))
        .header("cookie", format!("session={sid}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(file.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&file)));

    // A form without a `file` field is a 400 that says so.
    let vid2 = app.pending_video(user).await;
    let resp = app
        .client
        .post(app.url(&format!("/upload/{vid2}")))
        .header("x-session-id", &sid)
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("file"));
    assert_eq!(app.video_row(&vid2).await.0, "pending");
}

#[tokio::test]
async fn refusals_leave_nothing_behind() {
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "64KiB")]).await;
    let (user, sid) = app.user().await;
    let (_, other_sid) = app.user().await;
    let vid = app.pending_video(user).await;

    // No session, a bad session, someone else's session.
    let resp = put(&app, &vid, None, fake_mp4(100)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(resp).await, "002");
    let resp = put(
        &app,
        &vid,
        Some(&uuid::Uuid::new_v4().to_string()),
        fake_mp4(100),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = put(&app, &vid, Some(&other_sid), fake_mp4(100)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(resp).await, "403");
    // Unknown video.
    let resp = put(
        &app,
        &uuid::Uuid::new_v4().to_string(),
        Some(&sid),
        fake_mp4(100),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Not a video.
    let resp = put(&app, &vid, Some(&sid), noise(5000)).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(resp).await, "415");
    let resp = put(&app, &vid, Some(&sid), b"tiny".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Over the limit with a Content-Length: refused, and the message names the limit.
    let resp = put(&app, &vid, Some(&sid), fake_mp4(70_000)).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("64 KiB"), "{body}");
    // Over the limit without a Content-Length (chunked): refused while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = fake_mp4(70_000)
        .chunks(8192)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let resp = app
        .client
        .put(app.url(&format!("/upload/{vid}")))
        .header("x-session-id", &sid)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(app.video_row(&vid).await.0, "pending");
    assert!(app.files_in("videos").is_empty());
    assert!(app.files_in("tmp").is_empty());
    assert_eq!(app.process_jobs(&vid).await, 0);
}

/// A raw HTTP/1.1 request, to control exactly what reaches the server.
async fn raw(app: &TestApp, head: &str, body: &[u8], close_early: bool) -> String {
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    let _ = sock.write_all(body).await;
    if close_early {
        // Half the body, then the client vanishes.
        drop(sock);
        return String::new();
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn oversize_content_length_is_refused_before_reading_and_truncated_bodies_vanish() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;

    // 413 at once from the header alone: no body is sent at all.
    let head = format!(
        "PUT /upload/{vid} HTTP/1.1\r\nHost: x\r\nX-Session-Id: {sid}\r\nContent-Length: 5000000000\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(&app, &head, b"", false).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("1 GiB"), "{answer}");

    // A client that disconnects mid-body.
    let head = format!(
        "PUT /upload/{vid} HTTP/1.1\r\nHost: x\r\nX-Session-Id: {sid}\r\nContent-Length: 1000000\r\n\r\n"
    );
    raw(&app, &head, &fake_mp4(300_000), true).await;
    // The server notices the broken body on its own schedule; until then the video is locked
    // by that upload (409 "in progress"). Nothing of it may ever become visible.
    let mut retry = None;
    for _ in 0..100 {
        assert!(app.files_in("videos").is_empty());
        assert_eq!(app.video_row(&vid).await.0, "pending");
        let resp = put(&app, &vid, Some(&sid), fake_mp4(10_000)).await;
        if resp.status() != StatusCode::CONFLICT {
            retry = Some(resp.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the video can still be uploaded, leaving no staging file behind.
    assert_eq!(retry, Some(StatusCode::CREATED));
    assert!(app.files_in("tmp").is_empty());
    assert_eq!(app.video_row(&vid).await.1, Some(10_000));
}

#[tokio::test]
async fn of_two_concurrent_uploads_exactly_one_wins() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let first = {
        let req = app
            .client
            .put(app.url(&format!("/upload/{vid}")))
            .header("x-session-id", &sid)
            .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)));
        tokio::spawn(req.send())
    };
    let winner_bytes = fake_mp4(50_000);
    tx.send(Ok(winner_bytes[..20_000].to_vec())).await.unwrap();
    // Wait until the first upload is under way (its staging file exists).
    for _ in 0..500 {
        if !app.files_in("tmp").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !app.files_in("tmp").is_empty(),
        "the first upload never started"
    );
    let second = put(&app, &vid, Some(&sid), fake_mp4(40_000)).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    tx.send(Ok(winner_bytes[20_000..].to_vec())).await.unwrap();
    drop(tx);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        winner_bytes
    );
    assert_eq!(app.process_jobs(&vid).await, 1);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
