//! Plain uploads (`PUT` raw, `POST` multipart): the happy paths and every refusal, checking
//! the database and the storage directory afterwards, not only the status.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use svc::testing::eventually;

use crate::helpers::{
    assert_not_a_video, error_code, fake_mp4, make_mp4, noise, spawn_app, spawn_app_with, PATIENCE,
    SNIFF_LEN,
};

#[tokio::test]
async fn put_publishes_the_file_and_queues_processing() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_mp4(dir.path(), 1, false)).unwrap();
    let resp = app.put(&vid, Some(&sid), clip.clone()).await;
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
    let resp = app.get_video(&vid, &[("range", "bytes=0-1")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-type"], "video/mp4");

    // Already uploaded: 409, and the published file is untouched.
    let resp = app.put(&vid, Some(&sid), fake_mp4(1000)).await;
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
    let (user, sid, vid) = app.user_with_video().await;
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
    let resp = app.put(&vid, None, fake_mp4(100)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(resp).await, "002");
    let resp = app
        .put(&vid, Some(&uuid::Uuid::new_v4().to_string()), fake_mp4(100))
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app.put(&vid, Some(&other_sid), fake_mp4(100)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(resp).await, "403");
    // Unknown video.
    let resp = app
        .put(&uuid::Uuid::new_v4().to_string(), Some(&sid), fake_mp4(100))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Another spelling of the video's id names no video (only the canonical one does, as in
    // the api).
    let resp = app
        .put(&vid.replace('-', ""), Some(&sid), fake_mp4(100))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "404");
    // Not a video, long or shorter than the sniffed head.
    assert_not_a_video(app.put(&vid, Some(&sid), noise(5000)).await).await;
    assert_not_a_video(app.put(&vid, Some(&sid), b"tiny".to_vec()).await).await;
    // Over the limit with a Content-Length: refused, and the message names the limit.
    let resp = app.put(&vid, Some(&sid), fake_mp4(70_000)).await;
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

#[tokio::test]
async fn oversize_content_length_is_refused_before_reading_and_truncated_bodies_vanish() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;

    // 413 at once from the header alone: no body is sent at all.
    let head = format!(
        "PUT /upload/{vid} HTTP/1.1\r\nHost: x\r\nX-Session-Id: {sid}\r\nContent-Length: 5000000000\r\nConnection: close\r\n\r\n"
    );
    let answer = app.raw(&head).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("1 GiB"), "{answer}");

    // A client that disconnects mid-body.
    let head = format!(
        "PUT /upload/{vid} HTTP/1.1\r\nHost: x\r\nX-Session-Id: {sid}\r\nContent-Length: 1000000\r\n\r\n"
    );
    app.raw_abandoned(&head, &fake_mp4(300_000)).await;
    // The server notices the broken body on its own schedule; until then the video is locked
    // by that upload (409 "in progress"). Nothing of it may ever become visible.
    let retry = eventually(
        "the broken upload to let go of the video",
        PATIENCE,
        || async {
            assert!(app.files_in("videos").is_empty());
            assert_eq!(app.video_row(&vid).await.0, "pending");
            let resp = app.put(&vid, Some(&sid), fake_mp4(10_000)).await;
            (resp.status() != StatusCode::CONFLICT).then_some(resp.status())
        },
    )
    .await;
    // And the video can still be uploaded, leaving no staging file behind.
    assert_eq!(retry, StatusCode::CREATED);
    assert!(app.files_in("tmp").is_empty());
    assert_eq!(app.video_row(&vid).await.1, Some(10_000));
}

#[tokio::test]
async fn of_two_concurrent_uploads_exactly_one_wins() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let winner_bytes = fake_mp4(50_000);
    let first = app
        .upload_under_way(&vid, &sid, winner_bytes.clone(), 20_000)
        .await;
    let second = app.put(&vid, Some(&sid), fake_mp4(40_000)).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(first.finish().await.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        winner_bytes
    );
    assert_eq!(app.process_jobs(&vid).await, 1);
}

#[tokio::test]
async fn a_put_of_a_non_video_is_refused_before_the_rest_of_it_is_sent() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    // The body's first bytes, and then nothing: the sender holds the rest back until the
    // answer has come, so a 415 can only come from those first bytes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let req = app
        .client
        .put(app.url(&format!("/upload/{vid}")))
        .header("x-session-id", &sid)
        .header("content-length", "50000000")
        .body(reqwest::Body::wrap_stream(body));
    let response = tokio::spawn(req.send());
    tx.send(Ok(noise(SNIFF_LEN))).await.unwrap();
    let resp = tokio::time::timeout(PATIENCE, response)
        .await
        .expect("an answer before the rest of the body")
        .unwrap()
        .unwrap();
    assert_not_a_video(resp).await;
    drop(tx);
    eventually(
        "the refused upload's staging file to go",
        PATIENCE,
        || async { app.files_in("tmp").is_empty().then_some(()) },
    )
    .await;
    assert_eq!(app.video_row(&vid).await.0, "pending");
    assert!(app.files_in("videos").is_empty());

    // The same video then takes a real one.
    let resp = app.put(&vid, Some(&sid), fake_mp4(10_000)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
