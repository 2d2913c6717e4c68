//! The reverse proxy against the real api and streamserver binaries: Range and conditional
//! requests pass through unchanged, a 200 MiB upload streams without raising web's memory,
//! identity comes only from the session cookie, foreign origins are refused, a dead upstream is
//! a 502.

use bytes::Bytes;
use futures_util::stream;
use serde_json::Value;

use crate::support::{client, raw_get_status, register, Options, Platform, Proc};

/// Creates a video through web's `/api` proxy and returns its id.
async fn create_video(web: &Proc, cookie: &str, user: &str) -> String {
    let resp = client()
        .post(web.url(&format!("/api/user/{user}/videos")))
        .header("cookie", cookie)
        .header("origin", web.url(""))
        .json(&serde_json::json!({ "name": "clip" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["state"], "pending");
    v["id"].as_str().unwrap().to_string()
}

/// 24 bytes of an MP4 `ftyp` box: what the streamserver's magic-byte check wants to see.
const FTYP: &[u8] = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2";

fn patterned(len: usize) -> Vec<u8> {
    let mut body = FTYP.to_vec();
    body.extend((FTYP.len()..len).map(|i| (i % 251) as u8));
    body
}

#[tokio::test]
async fn range_and_conditional_requests_pass_through_unchanged() {
    let p = Platform::start(Options {
        stream: true,
        scheduler: false,
        dead_upstreams: false,
    })
    .await;
    let stream = p.stream.as_ref().unwrap();
    let cookie = register(&p.web, "ranger").await;
    let vid = create_video(&p.web, &cookie, "ranger").await;
    let body = patterned(3 << 20);
    let resp = client()
        .put(p.web.url(&format!("/upload/{vid}")))
        .header("cookie", &cookie)
        .header("origin", p.web.url(""))
        .header("content-type", "video/mp4")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "upload through web: {} {:?}",
        resp.status(),
        resp.text().await
    );

    let path = format!("/videos/{vid}");
    for range in [
        "bytes=1048576-1048675",
        "bytes=0-",
        "bytes=0-1",
        "bytes=-100",
    ] {
        let via_web = client()
            .get(p.web.url(&path))
            .header("range", range)
            .send()
            .await
            .unwrap();
        let direct = client()
            .get(stream.url(&path))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(via_web.status(), 206, "{range}");
        assert_eq!(direct.status(), 206, "{range}");
        for name in [
            "content-range",
            "content-length",
            "etag",
            "last-modified",
            "accept-ranges",
            "content-type",
        ] {
            assert_eq!(
                via_web.headers().get(name),
                direct.headers().get(name),
                "{range}: {name}"
            );
        }
        let (a, b) = (
            via_web.bytes().await.unwrap(),
            direct.bytes().await.unwrap(),
        );
        assert_eq!(a, b, "{range}");
    }
    let mid = client()
        .get(p.web.url(&path))
        .header("range", "bytes=1048576-1048675")
        .send()
        .await
        .unwrap();
    assert_eq!(
        mid.headers()["content-range"],
        format!("bytes 1048576-1048675/{}", body.len())
    );
    assert_eq!(&mid.bytes().await.unwrap()[..], &body[1048576..1048676]);

    // Unsatisfiable: 416 with the length, as the streamserver says it.
    let resp = client()
        .get(p.web.url(&path))
        .header("range", "bytes=99999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{}", body.len())
    );

    // Conditional requests: the ETag revalidates through web.
    let full = client().get(p.web.url(&path)).send().await.unwrap();
    assert_eq!(full.status(), 200);
    let etag = full.headers()["etag"].clone();
    assert_eq!(full.bytes().await.unwrap().len(), body.len());
    let resp = client()
        .get(p.web.url(&path))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    // HEAD keeps the length and sends no body.
    let head = client().head(p.web.url(&path)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], body.len().to_string());
    // An unknown video is the streamserver's 404, not a web page or a 200.
    let resp = client()
        .get(p.web.url("/videos/00000000-0000-4000-8000-000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // The request id the client sent comes back, and reached the streamserver.
    let resp = client()
        .get(p.web.url(&path))
        .header("x-request-id", "trace-me-42")
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-42");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        stream.log_text().contains("trace-me-42"),
        "the streamserver never saw the request id"
    );
    // web's own metrics: bytes proxied, and no exchange left in flight once bodies are done.
    let metrics = client()
        .get(p.web.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("web_proxy_response_bytes_total{upstream=\"streamserver\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("web_proxy_in_flight{upstream=\"streamserver\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_200_mib_upload_through_web_keeps_its_memory_flat() {
    let p = Platform::start(Options {
        stream: true,
        scheduler: false,
        dead_upstreams: false,
    })
    .await;
    let cookie = register(&p.web, "bigfile").await;
    let vid = create_video(&p.web, &cookie, "bigfile").await;
    let before = p.web.rss_kib();
    const MIB: usize = 1 << 20;
    let total = 200 * MIB;
    let mut first = patterned(MIB);
    first.truncate(MIB);
    let first = Bytes::from(first);
    let rest = Bytes::from(vec![7u8; MIB]);
    let chunks =
        stream::iter((0..200).map(move |i| {
            Ok::<_, std::io::Error>(if i == 0 { first.clone() } else { rest.clone() })
        }));
    let web_url = p.web.url(&format!("/upload/{vid}"));
    let upload = tokio::spawn({
        let cookie = cookie.clone();
        async move {
            client()
                .put(web_url)
                .header("cookie", cookie)
                .header("content-type", "video/mp4")
                .header("content-length", total.to_string())
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
        }
    });
    // Sample web's memory while the bytes flow.
    let mut peak = before;
    while !upload.is_finished() {
        peak = peak.max(p.web.rss_kib());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let resp = upload.await.unwrap().expect("the upload request");
    assert!(
        resp.status().is_success(),
        "upload: {} {:?}",
        resp.status(),
        resp.text().await
    );
    peak = peak.max(p.web.rss_kib());
    let rise_mib = (peak.saturating_sub(before)) as f64 / 1024.0;
    println!(
        "web RSS before {before} KiB, peak {peak} KiB, rise {rise_mib:.1} MiB for a 200 MiB upload"
    );
    assert!(
        rise_mib < 40.0,
        "web's RSS rose by {rise_mib:.1} MiB during a 200 MiB upload"
    );
    // The whole file arrived.
    let head = client()
        .head(p.web.url(&format!("/videos/{vid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["content-length"], total.to_string());
}

#[tokio::test]
async fn identity_comes_only_from_the_session_cookie() {
    let p = Platform::start(Options {
        stream: false,
        scheduler: false,
        dead_upstreams: false,
    })
    .await;
    let cookie = register(&p.web, "alice").await;
    // A spoofed X-User-Name without a session gets nowhere.
    let resp = client()
        .get(p.web.url("/api/user/alice/videos"))
        .header("x-user-name", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "002");
    let resp = client()
        .post(p.web.url("/api/user/alice/videos"))
        .header("x-user-name", "alice")
        .header("origin", p.web.url(""))
        .json(&serde_json::json!({ "name": "not mine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The cookie becomes the session header.
    let resp = client()
        .get(p.web.url("/api/user/alice/videos"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["videos"], serde_json::json!([]));
    // A signed-in user claiming another name still acts as themself: bob's page is bob's.
    let bob = register(&p.web, "bob").await;
    let resp = client()
        .post(p.web.url("/api/user/alice/videos"))
        .header("cookie", &bob)
        .header("x-user-name", "alice")
        .header("origin", p.web.url(""))
        .json(&serde_json::json!({ "name": "spoof" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Only the api is reachable under /api: no climbing out, no operational endpoints, and an
    // absolute-form target is answered from the api's own path, never fetched from its host.
    let port = p.web.port;
    for target in [
        "/api/../metrics",
        "/api/%2e%2e/metrics",
        "/api/user/..%2F..%2Fmetrics",
        "/api/metrics",
        "/api/readyz",
    ] {
        assert_eq!(
            raw_get_status(port, target, "127.0.0.1").await,
            404,
            "{target}"
        );
    }
    let status = raw_get_status(port, "http://example.com/api/user/alice", "example.com").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let p = Platform::start(Options {
        stream: false,
        scheduler: false,
        dead_upstreams: false,
    })
    .await;
    let evil = "http://evil.example";
    let resp = client()
        .post(p.web.url("/register"))
        .header("origin", evil)
        .header("accept", "text/html")
        .form(&[("user_name", "victim"), ("pwd", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("set-cookie").is_none());
    let page = resp.text().await.unwrap();
    assert!(page.contains("another web site"), "{page}");
    // Nothing was created: registering the name from the site itself works.
    let cookie = register(&p.web, "victim").await;
    let resp = client()
        .post(p.web.url("/api/user/victim/videos"))
        .header("cookie", &cookie)
        .header("origin", evil)
        .json(&serde_json::json!({ "name": "csrf" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "403");
    // Referer counts when Origin is absent.
    let resp = client()
        .post(p.web.url("/logout"))
        .header("cookie", &cookie)
        .header("referer", "http://evil.example/page")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    for path in ["/files/", "/upload/x"] {
        let resp = client()
            .post(p.web.url(path))
            .header("origin", "null")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    // The session still works: the refused logout did nothing.
    let resp = client()
        .get(p.web.url("/api/user/victim/videos"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_dead_upstream_is_a_502_never_an_empty_200() {
    let p = Platform::start(Options {
        stream: false,
        scheduler: false,
        dead_upstreams: true,
    })
    .await;
    let resp = client()
        .get(p.web.url("/"))
        .header(
            "cookie",
            "session=00000000-0000-4000-8000-000000000000; user=ann",
        )
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = resp.text().await.unwrap();
    assert!(page.contains("not answering"), "{page}");
    for (method, path) in [
        (reqwest::Method::GET, "/api/user/ann"),
        (
            reqwest::Method::GET,
            "/videos/00000000-0000-4000-8000-000000000000",
        ),
        (reqwest::Method::POST, "/files/"),
        (reqwest::Method::GET, "/thumbnails/x"),
    ] {
        let resp = client()
            .request(method, p.web.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error_code"], "502", "{path}");
        assert!(body["error"].as_str().unwrap().contains("unavailable"));
    }
    // A browser asking for a video page gets the page, not JSON.
    let resp = client()
        .get(p.web.url("/thumbnails/x"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    // Sign-in with the api down says so instead of pretending the password was wrong.
    let resp = client()
        .post(p.web.url("/login"))
        .header("accept", "text/html")
        .form(&[("user_name", "ann"), ("pwd", "whatever12")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
}
