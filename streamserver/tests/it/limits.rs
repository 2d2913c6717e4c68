//! Admission limits: concurrent streams per IP, request rate, and slots freed when a client
//! goes away.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{fake_mp4, noise, spawn_app_with};

#[tokio::test]
async fn the_n_plus_first_stream_is_refused_and_an_aborted_one_frees_its_slot() {
    let app = spawn_app_with(&[("MAX_STREAMS_PER_IP", "2")]).await;
    // Big enough that a client that does not read keeps the stream open.
    let vid = app.published_video(&noise(48 << 20), "video/mp4").await;
    let url = app.url(&format!("/videos/{vid}"));
    let a = app.client.get(&url).send().await.unwrap();
    let b = app.client.get(&url).send().await.unwrap();
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(b.status(), StatusCode::OK);
    let c = app.client.get(&url).send().await.unwrap();
    assert_eq!(c.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(c.headers().get("retry-after").is_some());
    let body: serde_json::Value = c.json().await.unwrap();
    assert_eq!(body["error_code"], "429");
    // HEAD costs no stream slot.
    assert_eq!(
        app.client.head(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Abort one: its slot comes back once the server sees the connection gone.
    drop(a);
    let mut freed = false;
    for _ in 0..100 {
        let d = app
            .client
            .get(&url)
            .header("range", "bytes=0-9")
            .send()
            .await
            .unwrap();
        if d.status() == StatusCode::PARTIAL_CONTENT {
            assert_eq!(d.bytes().await.unwrap().len(), 10);
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the aborted stream's slot was never released");
    drop(b);

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("stream_rejections_total"), "{metrics}");
    assert!(metrics.contains("stream_bytes_served_total"));
    assert!(metrics.contains("stream_active_streams"));
}

#[tokio::test]
async fn the_request_rate_is_limited_per_client() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    let url = app.url(&format!("/videos/{}", uuid::Uuid::new_v4()));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.client.get(&url).send().await.unwrap().status());
    }
    assert_eq!(statuses[..3], [StatusCode::NOT_FOUND; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the trusted proxy (web) has its own budget.
    let resp = app
        .client
        .get(&url)
        .header("x-forwarded-for", "198.51.100.20")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_beyond_the_global_limit_wait_their_turn() {
    let app = spawn_app_with(&[("MAX_UPLOADS", "1")]).await;
    let (user, sid) = app.user().await;
    let first = app.pending_video(user).await;
    let second = app.pending_video(user).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let slow = tokio::spawn(
        app.client
            .put(app.url(&format!("/upload/{first}")))
            .header("x-session-id", &sid)
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    let bytes = fake_mp4(20_000);
    tx.send(Ok(bytes[..10_000].to_vec())).await.unwrap();
    for _ in 0..500 {
        if !app.files_in("tmp").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let put_second = || {
        app.client
            .put(app.url(&format!("/upload/{second}")))
            .header("x-session-id", &sid)
            .body(fake_mp4(5_000))
            .send()
    };
    let refused = put_second().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_some());
    assert_eq!(app.video_row(&second).await.0, "pending");

    tx.send(Ok(bytes[10_000..].to_vec())).await.unwrap();
    drop(tx);
    assert_eq!(slow.await.unwrap().unwrap().status(), StatusCode::CREATED);
    assert_eq!(put_second().await.unwrap().status(), StatusCode::CREATED);
}
