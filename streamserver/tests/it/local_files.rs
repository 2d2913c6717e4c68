//! Local-file answers (svc::local_file): a trusted proxy that offers to send a file itself gets
//! the usual headers and the file's name instead of its bytes, and the stream slot stays taken
//! until the proxy ends its request body; nobody else gets one.

use std::time::UNIX_EPOCH;

use bytes::Bytes;
use reqwest::StatusCode;
use svc::testing::eventually;

use crate::helpers::{noise, spawn_app_with, TestApp, PATIENCE};

const ACCEPT: &str = "x-local-file-accept";
const LOCAL_FILE: &str = "x-local-file";

/// A `GET` of the video offering to send its file, with a request body (the lease) that stays
/// open until the returned sender is dropped.
async fn offer(
    app: &TestApp,
    vid: &str,
    range: &str,
) -> (reqwest::Response, tokio::sync::mpsc::Sender<Bytes>) {
    let (lease, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), rx))
    });
    let body = reqwest::Body::wrap_stream(chunks);
    let resp = app
        .client
        .get(app.url(&format!("/videos/{vid}")))
        .header(ACCEPT, "1")
        // hyper sends a GET's body of unknown length only when told to chunk it.
        .header("transfer-encoding", "chunked")
        .header("range", range)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp, lease)
}

#[tokio::test]
async fn a_trusted_proxy_gets_the_file_named_and_the_slot_is_held_until_its_lease_ends() {
    let app = spawn_app_with(&[("MAX_STREAMS_PER_IP", "1")]).await;
    let bytes = noise(3 << 20);
    let vid = app.published_video(&bytes, "video/mp4").await;
    let direct = app.get_video(&vid, &[("range", "bytes=1048576-")]).await;
    assert_eq!(direct.status(), StatusCode::PARTIAL_CONTENT);
    let direct_headers = direct.headers().clone();
    drop(direct.bytes().await.unwrap());

    let (resp, lease) = offer(&app, &vid, "bytes=1048576-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    // What a client would get about the bytes, without the bytes and their length.
    for name in [
        "content-range",
        "etag",
        "last-modified",
        "content-type",
        "accept-ranges",
    ] {
        assert_eq!(resp.headers().get(name), direct_headers.get(name), "{name}");
    }
    assert_eq!(resp.headers().get("content-length"), None);
    let file = app.path(&format!("videos/{vid}"));
    let meta = std::fs::metadata(&file).unwrap();
    let modified = meta.modified().unwrap().duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(
        resp.headers()[LOCAL_FILE],
        format!(
            "1048576-{} {} {} videos/{vid}",
            bytes.len(),
            bytes.len(),
            modified.as_nanos()
        )
        .as_str()
    );

    // The slot is the proxy's while it sends: the client's next stream is refused.
    let refused = app.get_video(&vid, &[("range", "bytes=0-")]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Ending the lease ends the (empty) answer and frees the slot.
    drop(lease);
    assert!(resp.bytes().await.unwrap().is_empty());
    let next = eventually("the slot after the lease ended", PATIENCE, || async {
        let r = app.get_video(&vid, &[("range", "bytes=0-9")]).await;
        (r.status() == StatusCode::PARTIAL_CONTENT).then_some(r)
    })
    .await;
    assert_eq!(next.bytes().await.unwrap(), bytes[..10]);
}

#[tokio::test]
async fn a_proxy_that_goes_mid_lease_frees_the_slot() {
    let app = spawn_app_with(&[("MAX_STREAMS_PER_IP", "1")]).await;
    let vid = app.published_video(&noise(1 << 20), "video/mp4").await;
    let (resp, lease) = offer(&app, &vid, "bytes=0-").await;
    assert!(resp.headers().contains_key(LOCAL_FILE));
    // The connection closes with the lease unfinished.
    drop((resp, lease));
    eventually("the slot after the proxy went", PATIENCE, || async {
        let r = app.get_video(&vid, &[("range", "bytes=0-9")]).await;
        (r.status() == StatusCode::PARTIAL_CONTENT).then_some(())
    })
    .await;
}

#[tokio::test]
async fn small_multipart_and_refused_answers_to_an_offer_are_the_usual_ones() {
    let app = spawn_app_with(&[]).await;
    let bytes = noise(1 << 20);
    let vid = app.published_video(&bytes, "video/mp4").await;
    // One read chunk (32 KiB) or less: the bytes themselves, once the lease ends.
    let (small, lease) = offer(&app, &vid, "bytes=100-199").await;
    assert_eq!(small.status(), StatusCode::PARTIAL_CONTENT);
    assert!(!small.headers().contains_key(LOCAL_FILE));
    drop(lease);
    assert_eq!(small.bytes().await.unwrap(), bytes[100..200]);
    // Several ranges: multipart/byteranges, as ever.
    let (multi, lease) = offer(&app, &vid, "bytes=0-99999,200000-299999").await;
    assert!(!multi.headers().contains_key(LOCAL_FILE));
    let ctype = multi.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ctype.starts_with("multipart/byteranges"), "{ctype}");
    drop(lease);
    assert!(multi.bytes().await.unwrap().len() > 200_000);
    // Unknown video: the 404.
    let unknown = uuid::Uuid::new_v4().to_string();
    let (missing, lease) = offer(&app, &unknown, "bytes=0-").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    drop(lease);
    assert!(!missing.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn nobody_but_a_trusted_proxy_gets_a_file_named() {
    // This client (127.0.0.1) is not a trusted proxy here.
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "10.0.0.9")]).await;
    let bytes = noise(1 << 20);
    let vid = app.published_video(&bytes, "video/mp4").await;
    let (resp, lease) = offer(&app, &vid, "bytes=0-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert!(!resp.headers().contains_key(LOCAL_FILE));
    drop(lease);
    assert_eq!(resp.bytes().await.unwrap(), bytes);
}
