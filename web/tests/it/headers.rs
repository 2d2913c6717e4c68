//! What exactly crosses the proxy, seen from the upstream's side: a header-echo server stands in
//! the upstream's place (the one thing a real api cannot show is the headers it was sent), and
//! web runs in-process exactly as `main` builds it. The echo's answer is the proof that a request
//! arrived, and with what: no waiting on logs.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use reqwest::Method;
use serde_json::{json, Map, Value};
use svc::http::Body;
use svc::testing::TestServer;

use crate::site::{Call, Reply, Site};
use crate::support::{web_alone, Service};

/// Answers every request with its method, path and headers as JSON, plus a few response headers
/// a proxy must filter or rewrite.
struct Echo {
    base: std::sync::OnceLock<String>,
}

impl svc::App for Echo {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let mut headers = Map::new();
        for (name, value) in req.headers() {
            headers.insert(
                name.as_str().to_string(),
                Value::String(value.to_str().unwrap_or("?").to_string()),
            );
        }
        let body = json!({
            "method": req.method().as_str(),
            "path": req.uri().path_and_query().map(|p| p.as_str()),
            "headers": headers,
        });
        let mut resp = svc::http::json(StatusCode::CREATED, &body);
        let h = resp.headers_mut();
        let base = self.base.get().cloned().unwrap_or_default();
        h.insert("location", format!("{base}/files/abc").parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("proxy-authenticate", "Basic".parse().unwrap());
        h.insert("upload-offset", "42".parse().unwrap());
        h.insert("tus-resumable", "1.0.0".parse().unwrap());
        resp
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

/// web in front of one echo server standing in for both upstreams.
async fn setup() -> (TestServer, Service, Site) {
    let echo = Arc::new(Echo {
        base: std::sync::OnceLock::new(),
    });
    let upstream = TestServer::spawn(echo.clone()).await;
    let _ = echo.base.set(upstream.url(""));
    let (service, web) = web_alone(&upstream.url(""), &upstream.url("")).await;
    (upstream, service, web)
}

/// What the echo was sent: the reply must be its 201.
fn echoed(reply: &Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn the_api_sees_the_session_header_and_never_the_client_identity_or_hop_headers() {
    let (_upstream, _web, web) = setup().await;
    let sid = "7d3f1c1e-0000-4000-8000-000000000001";
    let reply = web
        .post("/api/user/ann/videos?limit=5")
        .cookie(&format!("session={sid}; user=ann; other=1"))
        .header("x-user-name", "admin")
        .header("x-session-id", "forged")
        .header("x-forwarded-for", "10.9.8.7")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "hop")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eA==")
        .header("x-request-id", "req-123")
        .same_origin()
        .body("{}")
        .await;
    let body = echoed(&reply);
    let h = &body["headers"];
    assert_eq!(body["path"], "/user/ann/videos?limit=5");
    assert_eq!(body["method"], "POST");
    assert_eq!(
        h["x-session-id"], sid,
        "the cookie wins over a client header"
    );
    for gone in [
        "x-user-name",
        "cookie",
        "x-private",
        "te",
        "proxy-authorization",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the api: {h}");
    }
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "the peer replaces a client's claim"
    );
    assert_eq!(h["x-request-id"], "req-123");
    assert_eq!(h["x-forwarded-host"], format!("127.0.0.1:{}", web.port));
    // Response side: hop-by-hop headers stop at web; an upstream Location becomes a site path.
    assert!(reply.headers.get("keep-alive").is_none());
    assert!(reply.headers.get("proxy-authenticate").is_none());
    assert_eq!(reply.header("location"), "/files/abc");

    // Without a cookie, a script's own session header passes (it cannot be forged cross-site).
    let reply = web.get("/api/user/ann").header("x-session-id", sid).await;
    let body = echoed(&reply);
    assert_eq!(body["headers"]["x-session-id"], sid);
    assert_eq!(body["path"], "/user/ann");
}

#[tokio::test]
async fn stream_requests_keep_their_path_range_and_tus_headers() {
    let (_upstream, _web, web) = setup().await;
    let patch = web
        .request(Method::PATCH, "/files/abc?x=1")
        .cookie("session=s1; user=ann")
        .body(vec![1u8; 10]);
    let tus = [
        ("tus-resumable", "1.0.0"),
        ("upload-offset", "1048576"),
        ("upload-checksum", "sha256 abc="),
        ("content-type", "application/offset+octet-stream"),
    ];
    let (reply, body) = passed_on(patch, &tus).await;
    let h = &body["headers"];
    assert_eq!(body["path"], "/files/abc?x=1");
    assert_eq!(h["content-length"], "10");
    // The streamserver authenticates by cookie or header: both arrive.
    assert_eq!(h["x-session-id"], "s1");
    assert!(h["cookie"].as_str().unwrap().contains("session=s1"));
    assert_eq!(reply.header("upload-offset"), "42");
    assert_eq!(reply.header("tus-resumable"), "1.0.0");

    let playback = [
        ("range", "bytes=100-"),
        ("if-range", "\"etag\""),
        ("if-none-match", "\"x\""),
        ("x-request-id", "trace-me-42"),
    ];
    let (reply, body) = passed_on(web.get("/videos/v1"), &playback).await;
    assert_eq!(body["path"], "/videos/v1");
    assert_eq!(reply.header("x-request-id"), "trace-me-42");
}

/// Sends `call` with `headers` and checks that each reached the upstream as it was sent.
async fn passed_on(mut call: Call, headers: &[(&str, &str)]) -> (Reply, Value) {
    for (name, value) in headers {
        call = call.header(name, value);
    }
    let reply = call.await;
    let body = echoed(&reply);
    for (name, value) in headers {
        assert_eq!(body["headers"][name], *value, "{name}: {body}");
    }
    (reply, body)
}

/// From outside, the one route table sends each proxied prefix (bare or with a rest) to its
/// upstream as the string prefixes did, and nothing else.
#[tokio::test]
async fn the_proxy_forwards_exactly_its_prefixes() {
    let (_upstream, _web, web) = setup().await;
    for (method, path, upstream_path) in [
        (Method::GET, "/api/", "/"),
        (Method::GET, "/api/user/ann/", "/user/ann/"),
        (Method::GET, "/api//user", "//user"),
        (Method::GET, "/videos/", "/videos/"),
        (Method::HEAD, "/videos/v1", "/videos/v1"),
        (Method::PUT, "/upload/", "/upload/"),
        (Method::GET, "/thumbnails/", "/thumbnails/"),
        (
            Method::GET,
            "/thumbnails/v1.jpg?x=1",
            "/thumbnails/v1.jpg?x=1",
        ),
        (Method::POST, "/files", "/files"),
        (Method::POST, "/files/", "/files/"),
        (Method::DELETE, "/files/abc/", "/files/abc/"),
        (Method::OPTIONS, "/files/", "/files/"),
    ] {
        let reply = web.request(method.clone(), path).await;
        assert_eq!(reply.status, 201, "{method} {path}");
        if method != Method::HEAD {
            let body = echoed(&reply);
            assert_eq!(body["path"], upstream_path, "{method} {path}");
            assert_eq!(body["method"], method.as_str(), "{method} {path}");
        }
    }
    // Neighbours of the prefixes are web's own 404s: the echo never sees them.
    for path in [
        "/api",
        "/apix",
        "/videos",
        "/videosx",
        "/upload",
        "/filesx",
        "/thumbnails",
    ] {
        web.get(path).await.assert_json_error(404, "404");
        web.get(path).html().await.assert_page(404, "Not found");
    }
    // Refused `/api` paths are JSON for every client.
    web.get("/api/metrics")
        .html()
        .await
        .assert_json_error(404, "404");
}
