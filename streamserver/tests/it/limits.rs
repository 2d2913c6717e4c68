//! Admission limits: concurrent streams per IP, request rate, and slots freed when a client
//! goes away.

use reqwest::StatusCode;
use svc::testing::eventually;

use crate::helpers::{error_code, fake_mp4, noise, spawn_app_with, PATIENCE};

#[tokio::test]
async fn the_n_plus_first_stream_is_refused_and_an_aborted_one_frees_its_slot() {
    let app = spawn_app_with(&[("MAX_STREAMS_PER_IP", "2")]).await;
    // Big enough that a client that does not read keeps the stream open.
    let vid = app.published_video(&noise(48 << 20), "video/mp4").await;
    let a = app.get_video(&vid, &[]).await;
    let b = app.get_video(&vid, &[]).await;
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(b.status(), StatusCode::OK);
    let c = app.get_video(&vid, &[]).await;
    assert_eq!(c.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(c.headers().get("retry-after").is_some());
    assert_eq!(error_code(c).await, "429");
    // HEAD costs no stream slot.
    let url = app.url(&format!("/videos/{vid}"));
    assert_eq!(
        app.client.head(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Abort one: its slot comes back once the server sees the connection gone.
    drop(a);
    let d = eventually("the aborted stream's slot", PATIENCE, || async {
        let d = app.get_video(&vid, &[("range", "bytes=0-9")]).await;
        (d.status() == StatusCode::PARTIAL_CONTENT).then_some(d)
    })
    .await;
    assert_eq!(d.bytes().await.unwrap().len(), 10);
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
    // Requests are labelled by their route's pattern, never by a concrete path.
    assert!(metrics.contains(r#"route="/videos/{vid}""#), "{metrics}");
    assert!(!metrics.contains(&vid), "{metrics}");
}

#[tokio::test]
async fn the_request_rate_is_limited_per_client() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    let vid = uuid::Uuid::new_v4().to_string();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.get_video(&vid, &[]).await.status());
    }
    assert_eq!(statuses[..3], [StatusCode::NOT_FOUND; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the trusted proxy (web) has its own budget.
    let resp = app
        .get_video(&vid, &[("x-forwarded-for", "198.51.100.20")])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_beyond_the_global_limit_wait_their_turn() {
    let app = spawn_app_with(&[("MAX_UPLOADS", "1")]).await;
    let (user, sid) = app.user().await;
    let first = app.pending_video(user).await;
    let second = app.pending_video(user).await;
    let slow = app
        .upload_under_way(&first, &sid, fake_mp4(20_000), 10_000)
        .await;
    let refused = app.put(&second, Some(&sid), fake_mp4(5_000)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_some());
    assert_eq!(app.video_row(&second).await.0, "pending");

    assert_eq!(slow.finish().await.status(), StatusCode::CREATED);
    let resp = app.put(&second, Some(&sid), fake_mp4(5_000)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
