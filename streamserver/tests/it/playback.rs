//! Byte-serving conformance (RFC 9110 sections 13 and 14) against the real server, on the local
//! backend and on S3 (the same checks: the bytes come from ranged GETs to the bucket there).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::helpers::{error_code, noise, spawn_app, spawn_app_on, Backend, TestApp};

const LEN: usize = 100_000;

async fn get(app: &TestApp, vid: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    app.get_video(vid, headers).await
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("missing header {name}"))
}

#[tokio::test]
async fn byte_serving_conformance() {
    conformance(spawn_app().await).await
}

#[tokio::test]
async fn byte_serving_conformance_on_s3() {
    conformance(spawn_app_on(Backend::S3, &[]).await).await
}

async fn conformance(app: TestApp) {
    let bytes = noise(LEN);
    let vid = app.published_video(&bytes, "video/mp4").await;
    let sha = app.video_row(&vid).await.2.unwrap();
    let etag = format!("\"{sha}\"");
    // The row's upload time, in whole seconds: 2024-05-01 12:00:00 UTC on the local backend,
    // just after the object was written on S3.
    let uploaded = app.uploaded_at(&vid).await;
    let hour = std::time::Duration::from_secs(3600);
    let at = httpdate::fmt_http_date(uploaded);
    let before = httpdate::fmt_http_date(uploaded - hour);
    let earlier = httpdate::fmt_http_date(uploaded - 24 * hour);

    // Whole file.
    let resp = get(&app, &vid, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(header(&h, "accept-ranges"), "bytes");
    assert_eq!(header(&h, "content-type"), "video/mp4");
    assert_eq!(header(&h, "content-length"), LEN.to_string());
    assert_eq!(header(&h, "etag"), etag);
    assert_eq!(header(&h, "last-modified"), at);
    assert!(header(&h, "access-control-expose-headers").contains("Content-Range"));
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    // Single, open, suffix ranges and the browser probes.
    let cases: &[(&str, usize, usize)] = &[
        ("bytes=0-499", 0, 500),
        ("bytes=1000-", 1000, LEN),
        ("bytes=-500", LEN - 500, LEN),
        ("bytes=0-", 0, LEN),
        ("bytes=0-1", 0, 2),
        ("bytes=99990-200000", 99990, LEN),
    ];
    for (range, start, end) in cases {
        let resp = get(&app, &vid, &[("range", range)]).await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let h = resp.headers().clone();
        assert_eq!(
            header(&h, "content-range"),
            format!("bytes {start}-{}/{LEN}", end - 1),
            "{range}"
        );
        assert_eq!(header(&h, "content-length"), (end - start).to_string());
        assert_eq!(header(&h, "content-type"), "video/mp4");
        assert_eq!(resp.bytes().await.unwrap(), &bytes[*start..*end], "{range}");
    }

    // Unsatisfiable: 416 with the length.
    for range in ["bytes=100000-", "bytes=200000-300000", "bytes=-0"] {
        let resp = get(&app, &vid, &[("range", range)]).await;
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            header(resp.headers(), "content-range"),
            format!("bytes */{LEN}")
        );
    }

    // Unknown unit and bad syntax are ignored: 200 with everything.
    for range in ["items=0-5", "bytes=5-1", "bytes=abc"] {
        let resp = get(&app, &vid, &[("range", range)]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{range}");
        assert_eq!(resp.bytes().await.unwrap().len(), LEN);
    }

    // Multiple ranges: multipart/byteranges.
    let resp = get(&app, &vid, &[("range", "bytes=0-9,100-109")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let ctype = header(resp.headers(), "content-type").to_string();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type")
        .to_string();
    let declared: usize = header(resp.headers(), "content-length").parse().unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), declared);
    let mut expected = Vec::new();
    expected.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-9/{LEN}\r\n\r\n"
        )
        .as_bytes(),
    );
    expected.extend_from_slice(&bytes[0..10]);
    expected.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 100-109/{LEN}\r\n\r\n"
        )
        .as_bytes(),
    );
    expected.extend_from_slice(&bytes[100..110]);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(body.as_ref(), expected.as_slice());

    // Preconditions (RFC 9110 section 13.2.2), each with the status it must get.
    let (at, before, earlier) = (at.as_str(), before.as_str(), earlier.as_str());
    let r = ("range", "bytes=10-19");
    let cases: &[(&[(&str, &str)], StatusCode)] = &[
        // If-Range: current validator -> 206, stale -> 200 with everything.
        (&[r, ("if-range", &etag)], StatusCode::PARTIAL_CONTENT),
        (&[r, ("if-range", "\"0000stale\"")], StatusCode::OK),
        (&[r, ("if-range", at)], StatusCode::PARTIAL_CONTENT),
        (&[r, ("if-range", before)], StatusCode::OK),
        // If-None-Match and If-Modified-Since: 304 with the validators, no body.
        (&[("if-none-match", &etag)], StatusCode::NOT_MODIFIED),
        (&[("if-modified-since", at)], StatusCode::NOT_MODIFIED),
        (&[("if-modified-since", earlier)], StatusCode::OK),
        // If-None-Match wins over If-Modified-Since.
        (
            &[("if-none-match", "\"other\""), ("if-modified-since", at)],
            StatusCode::OK,
        ),
        // If-Match with a wrong tag: 412.
        (
            &[("if-match", "\"other\"")],
            StatusCode::PRECONDITION_FAILED,
        ),
    ];
    for (headers, status) in cases {
        let resp = get(&app, &vid, headers).await;
        assert_eq!(resp.status(), *status, "{headers:?}");
        assert_eq!(header(resp.headers(), "etag"), etag, "{headers:?}");
        let body = resp.bytes().await.unwrap();
        let expected: &[u8] = match *status {
            StatusCode::OK => &bytes,
            StatusCode::PARTIAL_CONTENT => &bytes[10..20],
            StatusCode::NOT_MODIFIED => b"",
            _ => {
                let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(error["error_code"], "412");
                continue;
            }
        };
        assert_eq!(body.as_ref(), expected, "{headers:?}");
    }

    // HEAD: the same headers as GET, no body.
    for range in [None, Some("bytes=0-1")] {
        let mut get_req = app.client.get(app.url(&format!("/videos/{vid}")));
        let mut head_req = app.client.head(app.url(&format!("/videos/{vid}")));
        if let Some(r) = range {
            get_req = get_req.header("range", r);
            head_req = head_req.header("range", r);
        }
        let g = get_req.send().await.unwrap();
        let hd = head_req.send().await.unwrap();
        assert_eq!(g.status(), hd.status());
        for name in [
            "content-length",
            "content-type",
            "content-range",
            "etag",
            "last-modified",
            "accept-ranges",
            "cache-control",
        ] {
            assert_eq!(g.headers().get(name), hd.headers().get(name), "{name}");
        }
        assert!(hd.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unknown_pending_and_malformed_videos_are_404_json() {
    let app = spawn_app().await;
    let (user, _) = app.user().await;
    let pending = app.pending_video(user).await;
    for vid in [
        uuid::Uuid::new_v4().to_string(),
        pending,
        "not-a-uuid".to_string(),
    ] {
        let resp = get(&app, &vid, &[("range", "bytes=0-")]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{vid}");
        assert_eq!(error_code(resp).await, "404");
    }
    let resp = app
        .client
        .delete(app.url(&format!("/videos/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.headers().get("allow").is_some());
}

/// A video has one URL: its id in the canonical form, in any case (`svc::VideoId`, as the api
/// reads it). The other spellings of the same UUID (simple, braced, URN) used to be served too;
/// now they name no video.
#[tokio::test]
async fn only_the_canonical_spelling_of_an_id_names_a_video() {
    let app = spawn_app().await;
    let bytes = noise(1000);
    let vid = app.published_video(&bytes, "video/mp4").await;
    let resp = get(&app, &vid.to_uppercase(), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), bytes);
    app.put_thumbnail(&vid, b"\xFF\xD8").await;
    let simple = vid.replace('-', "");
    for other in [
        simple.clone(),
        format!("%7B{vid}%7D"),
        format!("urn:uuid:{vid}"),
    ] {
        let resp = get(&app, &other, &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{other}");
        assert_eq!(error_code(resp).await, "404");
        let thumbnail = app.url(&format!("/thumbnails/{other}"));
        let resp = app.client.get(thumbnail).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{other}");
    }
    // Braces exactly as typed, not percent-encoded.
    let answer = app
        .raw(&format!(
            "GET /videos/{{{vid}}} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ))
        .await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let thumbnail = app.url(&format!("/thumbnails/{vid}"));
    let resp = app.client.get(thumbnail).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_file_that_disagrees_with_the_database_gets_no_validators() {
    let app = spawn_app().await;
    let vid = app.published_video(&noise(5000), "video/mp4").await;
    // The scheduler replaced the file (faststart remux) but has not updated the row yet.
    std::fs::write(app.path(&format!("videos/{vid}")), noise(4000)).unwrap();
    let resp = get(&app, &vid, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("etag").is_none());
    assert_eq!(header(resp.headers(), "content-length"), "4000");
    assert_eq!(resp.bytes().await.unwrap().len(), 4000);
    let sha = app.video_row(&vid).await.2.unwrap();
    let resp = get(
        &app,
        &vid,
        &[("range", "bytes=0-9"), ("if-range", &format!("\"{sha}\""))],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // A remux that keeps the size: the file is newer than the row's upload time.
    let same_size = app.published_video(&noise(5000), "video/mp4").await;
    let resp = get(&app, &same_size, &[]).await;
    assert!(resp.headers().get("etag").is_some());
    let mut other = noise(5000);
    other.reverse();
    std::fs::write(app.path(&format!("videos/{same_size}")), &other).unwrap();
    let resp = get(&app, &same_size, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("etag").is_none());
    assert!(resp.headers().get("last-modified").is_none());
    assert_eq!(resp.bytes().await.unwrap(), other);
}

#[tokio::test]
async fn thumbnails_appear_once_made() {
    thumbnails(spawn_app().await).await
}

#[tokio::test]
async fn thumbnails_appear_once_made_on_s3() {
    thumbnails(spawn_app_on(Backend::S3, &[]).await).await
}

async fn thumbnails(app: TestApp) {
    let vid = app.published_video(&noise(100), "video/mp4").await;
    let url = app.url(&format!("/thumbnails/{vid}"));
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let jpeg = b"\xFF\xD8\xFF\xE0fake jpeg".to_vec();
    app.put_thumbnail(&vid, &jpeg).await;
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(resp.headers(), "content-type"), "image/jpeg");
    assert!(header(resp.headers(), "cache-control").contains("max-age"));
    let etag = header(resp.headers(), "etag").to_string();
    assert_eq!(resp.bytes().await.unwrap(), jpeg);
    let resp = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
}
