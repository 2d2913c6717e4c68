//! The reverse proxy against the real api and streamserver: Range and conditional requests pass
//! through unchanged, a 200 MiB upload streams without raising web's memory, identity comes only
//! from the session cookie, foreign origins are refused, a dead upstream is a 502.

use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use reqwest::Method;
use serde_json::json;

use crate::site::{patterned, PWD};
use crate::support::{dead_url, web_alone, Options, Platform, Run, WebStorage};

/// Both ways web passes bytes on: proxied, and sent from the file the streamserver names
/// (`STORAGE_DIR` set, as `./deploy.sh` runs it).
#[tokio::test]
async fn range_and_conditional_requests_pass_through_unchanged() {
    for web_storage in [WebStorage::Unset, WebStorage::Shared] {
        ranges_and_conditions_through(web_storage).await;
    }
}

async fn ranges_and_conditions_through(web_storage: WebStorage) {
    let p = Platform::start(Options {
        web_storage,
        ..Options::with_stream()
    })
    .await;
    let (web, stream) = (&p.web, p.stream_direct());
    let ranger = web.register("ranger").await;
    let vid = web.create_video(&ranger, "clip").await;
    let body = patterned(3 << 20);
    web.upload(&ranger, &vid, body.clone()).await;

    let path = format!("/videos/{vid}");
    for range in [
        "bytes=1048576-1048675",
        "bytes=0-",
        "bytes=0-1",
        "bytes=-100",
    ] {
        let via_web = web
            .get(&path)
            .header("range", range)
            // A client cannot ask for what only web may.
            .header("x-local-file-accept", "1")
            .await;
        let direct = stream.get(&path).header("range", range).await;
        assert_eq!(direct.status, 206, "{range}");
        via_web.assert_same_bytes_as(&direct, &format!("{web_storage:?} {range}"));
    }
    let mid = web
        .get(&path)
        .header("range", "bytes=1048576-1048675")
        .await;
    assert_eq!(
        mid.header("content-range"),
        format!("bytes 1048576-1048675/{}", body.len())
    );
    assert_eq!(&mid.body[..], &body[1048576..1048676]);

    // Unsatisfiable: 416 with the length, as the streamserver says it.
    let past = web.get(&path).header("range", "bytes=99999999-").await;
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        format!("bytes */{}", body.len())
    );

    // Conditional requests: the ETag revalidates through web.
    let full = web.get(&path).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body.len(), body.len());
    let again = web
        .get(&path)
        .header("if-none-match", full.header("etag"))
        .await;
    assert_eq!(again.status, 304);

    // HEAD keeps the length and sends no body.
    let head = web.head(&path).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), body.len().to_string());
    // An unknown video is the streamserver's 404, not a web page or a 200.
    let unknown = web
        .get("/videos/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(unknown.status, 404);
    // The request id the client sent comes back (that it reaches the upstream is shown by
    // `headers::the_proxy_forwards_exactly_its_prefixes`).
    let traced = web
        .get(&path)
        .header("x-request-id", "trace-me-42")
        .header("range", "bytes=0-1")
        .await;
    assert_eq!(traced.header("x-request-id"), "trace-me-42");
}

/// A `name{labels} value` line of a Prometheus text exposition, or 0.
fn metric(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_upload_through_web_keeps_its_memory_flat() {
    // web runs as its own process so that its memory and metrics are its own.
    let p = Platform::start(Options {
        stream: true,
        run: Run::WebBinary,
        ..Options::default()
    })
    .await;
    let (web, process) = (&p.web, p.web_service.process());
    let big = web.register("bigfile").await;
    let vid = web.create_video(&big, "clip").await;
    let before = process.rss_kib();
    const MIB: usize = 1 << 20;
    let total = 200 * MIB;
    let first = Bytes::from(patterned(MIB));
    let rest = Bytes::from(vec![7u8; MIB]);
    let chunks =
        stream::iter((0..200).map(move |i| {
            Ok::<_, std::io::Error>(if i == 0 { first.clone() } else { rest.clone() })
        }));
    let mut upload = tokio::spawn(
        web.request(Method::PUT, &format!("/upload/{vid}"))
            .by(&big)
            .header("content-type", "video/mp4")
            .header("content-length", &total.to_string())
            .body(reqwest::Body::wrap_stream(chunks))
            .into_future(),
    );
    // Sample web's memory while the bytes flow, until the upload's answer arrives.
    let mut peak = before;
    let mut sample = tokio::time::interval(Duration::from_millis(50));
    let reply = loop {
        tokio::select! {
            done = &mut upload => break done.expect("the upload task"),
            _ = sample.tick() => peak = peak.max(process.rss_kib()),
        }
    };
    assert!(
        (200..300).contains(&reply.status),
        "upload: {} {}",
        reply.status,
        reply.text()
    );
    peak = peak.max(process.rss_kib());
    let rise_mib = (peak.saturating_sub(before)) as f64 / 1024.0;
    println!(
        "web RSS before {before} KiB, peak {peak} KiB, rise {rise_mib:.1} MiB for a 200 MiB upload"
    );
    assert!(
        rise_mib < 40.0,
        "web's RSS rose by {rise_mib:.1} MiB during a 200 MiB upload"
    );
    // The whole file arrived.
    let head = web.head(&format!("/videos/{vid}")).await;
    assert_eq!(head.header("content-length"), total.to_string());

    // web's own metrics: every byte counted, and no exchange left in flight once bodies are done.
    let idle = "web_proxy_in_flight{upstream=\"streamserver\"} 0";
    let metrics = svc::testing::eventually(idle, Duration::from_secs(10), || {
        let get = web.get("/metrics");
        async move { Some(get.await.text()).filter(|m| m.contains(idle)) }
    })
    .await;
    let sent = metric(
        &metrics,
        "web_proxy_request_bytes_total{upstream=\"streamserver\"}",
    );
    assert!(sent >= total as f64, "{sent} bytes counted of {total}");
    assert!(
        metric(
            &metrics,
            "web_proxy_response_bytes_total{upstream=\"streamserver\"}"
        ) > 0.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn identity_comes_only_from_the_session_cookie() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let alice = web.register("alice").await;
    // A spoofed X-User-Name without a session is nobody.
    web.get("/api/session")
        .header("x-user-name", "alice")
        .await
        .assert_json_error(401, "002");
    let spoofed = web
        .post("/api/user/alice/videos")
        .header("x-user-name", "alice")
        .same_origin()
        .json(json!({ "name": "not mine" }))
        .await;
    assert_eq!(spoofed.status, 401);
    // The cookie becomes the session header.
    let own = web.get("/api/user/alice/videos").by(&alice).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.json()["videos"], json!([]));
    // A signed-in user claiming another name still acts as themself: bob's page is bob's.
    let bob = web.register("bob").await;
    let claimed = web
        .post("/api/user/alice/videos")
        .by(&bob)
        .header("x-user-name", "alice")
        .same_origin()
        .json(json!({ "name": "spoof" }))
        .await;
    assert_eq!(claimed.status, 403);
    // Only the api is reachable under /api: no climbing out, no operational endpoints, and an
    // absolute-form target is answered from the api's own path, never fetched from its host.
    for target in [
        "/api/../metrics",
        "/api/%2e%2e/metrics",
        "/api/user/..%2F..%2Fmetrics",
        "/api/metrics",
        "/api/readyz",
    ] {
        assert_eq!(
            web.raw_get_status(target, "127.0.0.1").await,
            404,
            "{target}"
        );
    }
    let status = web
        .raw_get_status("http://example.com/api/session", "example.com")
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let evil = "http://evil.example";
    let refused = web
        .credentials("/register", "victim", PWD)
        .header("origin", evil)
        .html()
        .await;
    refused.assert_page(403, "another web site");
    assert!(refused.set_cookies().is_empty());
    // Nothing was created: registering the name from the site itself works.
    let victim = web.register("victim").await;
    web.post("/api/user/victim/videos")
        .by(&victim)
        .header("origin", evil)
        .json(json!({ "name": "csrf" }))
        .await
        .assert_json_error(403, "403");
    // Referer counts when Origin is absent.
    let logout = web
        .post("/logout")
        .by(&victim)
        .header("referer", "http://evil.example/page")
        .await;
    assert_eq!(logout.status, 403);
    // Every path is checked before it is looked up, the proxied ones and unknown ones too.
    for path in ["/files/", "/upload/x", "/no/such/page"] {
        let foreign = web.post(path).header("origin", "null").await;
        assert_eq!(foreign.status, 403, "{path}");
    }
    // The session still works: the refused logout did nothing.
    let still = web.get("/api/user/victim/videos").by(&victim).await;
    assert_eq!(still.status, 200);
}

#[tokio::test]
async fn a_dead_upstream_is_a_502_never_an_empty_200() {
    let (_web, web) = web_alone(&dead_url(), &dead_url()).await;
    web.get("/")
        .cookie("session=00000000-0000-4000-8000-000000000000; user=ann")
        .html()
        .await
        .assert_page(502, "not answering");
    for (method, path) in [
        (Method::GET, "/api/user/ann"),
        (Method::GET, "/videos/00000000-0000-4000-8000-000000000000"),
        (Method::POST, "/files/"),
        (Method::GET, "/thumbnails/x"),
    ] {
        let reply = web.request(method, path).await;
        reply.assert_json_error(502, "502");
        let error = reply.json()["error"].as_str().unwrap_or("").to_string();
        assert!(error.contains("unavailable"), "{path}: {error}");
    }
    // A browser asking for a video or thumbnail gets the page, not JSON; the api's and tus's
    // clients are scripts and always get JSON.
    web.get("/thumbnails/x")
        .html()
        .await
        .assert_page(502, "not answering");
    for path in ["/api/user/ann", "/files/"] {
        web.post(path).html().await.assert_json_error(502, "502");
    }
    // Sign-in with the api down says so instead of pretending the password was wrong.
    let login = web.credentials("/login", "ann", "whatever12").html().await;
    login.assert_page(502, "not answering");
}
