//! tus 1.0.0 under `/files/`, driven by hand so each protocol rule is checked on its own.

use base64::Engine;
use mysql_async::prelude::Queryable;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{fake_mp4, noise, spawn_app, spawn_app_with, TestApp};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn create(app: &TestApp, sid: &str, vid: &str, length: usize) -> reqwest::Response {
    app.client
        .post(app.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", sid)
        .header("upload-length", length.to_string())
        .header(
            "upload-metadata",
            format!("filename {},video_id {},whatever", b64("a.mp4"), b64(vid)),
        )
        .send()
        .await
        .unwrap()
}

async fn patch(
    app: &TestApp,
    sid: &str,
    location: &str,
    offset: usize,
    body: &[u8],
    checksum: Option<String>,
) -> reqwest::Response {
    let mut req = app
        .client
        .patch(app.url(location))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", sid)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string());
    if let Some(c) = checksum {
        req = req.header("upload-checksum", c);
    }
    req.body(body.to_vec()).send().await.unwrap()
}

async fn head(app: &TestApp, sid: &str, location: &str) -> reqwest::Response {
    app.client
        .head(app.url(location))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", sid)
        .send()
        .await
        .unwrap()
}

fn sha256_header(bytes: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

#[tokio::test]
async fn options_advertises_the_protocol() {
    let app = spawn_app().await;
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/files/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let h = resp.headers();
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-max-size"], (1u64 << 30).to_string().as_str());
    assert_eq!(h["tus-checksum-algorithm"], "sha256");
    let ext = h["tus-extension"].to_str().unwrap();
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{e}");
    }
}

#[tokio::test]
async fn upload_in_chunks_with_checksums_and_publish() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;
    let file = fake_mp4(250_000);

    let resp = create(&app, &sid, &vid, file.len()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().get("upload-expires").is_some());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/files/"));

    let resp = head(&app, &sid, &location).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["upload-offset"], "0");
    assert_eq!(
        resp.headers()["upload-length"],
        file.len().to_string().as_str()
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");

    let resp = patch(
        &app,
        &sid,
        &location,
        0,
        &file[..100_000],
        Some(sha256_header(&file[..100_000])),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["upload-offset"], "100000");
    assert!(resp.headers().get("upload-expires").is_some());

    // Wrong offset: 409, nothing written.
    let resp = patch(&app, &sid, &location, 50_000, &file[50_000..60_000], None).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    // Wrong checksum: 460, the chunk discarded.
    let resp = patch(
        &app,
        &sid,
        &location,
        100_000,
        &file[100_000..150_000],
        Some(sha256_header(b"something else")),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 460);
    let resp = head(&app, &sid, &location).await;
    assert_eq!(resp.headers()["upload-offset"], "100000");
    // Wrong content type: 415.
    let resp = app
        .client
        .patch(app.url(&location))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", &sid)
        .header("upload-offset", "100000")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Someone else: 403.
    let (_, other) = app.user().await;
    let resp = patch(&app, &other, &location, 100_000, &file[100_000..], None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = patch(&app, &sid, &location, 100_000, &file[100_000..], None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        resp.headers()["upload-offset"],
        file.len().to_string().as_str()
    );

    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(file.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&file)));
    assert_eq!(app.process_jobs(&vid).await, 1);
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        file
    );
    // Published by rename: the upload's bytes are gone from uploads/.
    assert!(app.files_in("uploads").is_empty());
    let resp = head(&app, &sid, &location).await;
    assert_eq!(
        resp.headers()["upload-offset"],
        file.len().to_string().as_str()
    );

    // A second upload for the same (now uploaded) video: 409 at creation.
    let resp = create(&app, &sid, &vid, 1000).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn creation_with_upload_and_termination() {
    let app = spawn_app().await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;
    let file = fake_mp4(40_000);
    let resp = app
        .client
        .post(app.url("/files"))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", &sid)
        .header("upload-length", file.len().to_string())
        .header("upload-metadata", format!("video_id {}", b64(&vid)))
        .header("content-type", "application/offset+octet-stream")
        .body(file[..10_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["upload-offset"], "10000");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(app.files_in("uploads").len(), 1);

    let resp = app
        .client
        .delete(app.url(&location))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.files_in("uploads").is_empty());
    let resp = head(&app, &sid, &location).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.video_row(&vid).await.0, "pending");
}

#[tokio::test]
async fn bad_requests_are_refused_with_reasons() {
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "1MiB")]).await;
    let (user, sid) = app.user().await;
    let vid = app.pending_video(user).await;

    // Wrong or missing protocol version: 412 with Tus-Version.
    let resp = app
        .client
        .post(app.url("/files/"))
        .header("tus-resumable", "0.2.2")
        .header("x-session-id", &sid)
        .header("upload-length", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(resp.headers()["tus-version"], "1.0.0");
    // No session.
    let resp = app
        .client
        .post(app.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "100")
        .header("upload-metadata", format!("video_id {}", b64(&vid)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Too large for the limit.
    let resp = create(&app, &sid, &vid, 2 << 20).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // No video_id.
    let resp = app
        .client
        .post(app.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", &sid)
        .header("upload-length", "100")
        .header("upload-metadata", format!("filename {}", b64("a.mp4")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("video_id"));
    // Someone else's video, an unknown video.
    let (_, other) = app.user().await;
    assert_eq!(
        create(&app, &other, &vid, 100).await.status(),
        StatusCode::FORBIDDEN
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        create(&app, &sid, &unknown, 100).await.status(),
        StatusCode::NOT_FOUND
    );
    // Unknown upload.
    let resp = head(&app, &sid, &format!("/files/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    let resp = patch(
        &app,
        &sid,
        &format!("/files/{}", uuid::Uuid::new_v4()),
        0,
        b"x",
        None,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Expired: 410.
    let location = create(&app, &sid, &vid, 100).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let mut conn = app.db.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE uploads SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE",
        (),
    )
    .await
    .unwrap();
    let resp = patch(&app, &sid, &location, 0, b"x", None).await;
    assert_eq!(resp.status(), StatusCode::GONE);

    // Completed with bytes that are not a video: 415 and nothing kept.
    let location = create(&app, &sid, &vid, 5000).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let resp = patch(&app, &sid, &location, 0, &noise(5000), None).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.video_row(&vid).await.0, "pending");
    assert!(app.files_in("videos").is_empty());
    assert_eq!(
        app.files_in("uploads").len(),
        1,
        "only the expired upload's file is left (the scheduler sweeps it)"
    );
    // A chunk past Upload-Length: 413.
    let location = create(&app, &sid, &vid, 100).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let resp = patch(&app, &sid, &location, 0, &fake_mp4(200), None).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
