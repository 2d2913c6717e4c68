//! What exactly crosses the proxy, seen from the upstream's side: a header-echo server stands in
//! the upstream's place (the one thing a real api cannot show is the headers it was sent), and
//! web runs in-process exactly as `main` builds it.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};
use svc::http::Body;
use svc::testing::TestServer;

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

async fn setup() -> (TestServer, TestServer) {
    let echo = Arc::new(Echo {
        base: std::sync::OnceLock::new(),
    });
    let upstream = TestServer::spawn(echo.clone()).await;
    let _ = echo.base.set(upstream.url(""));
    let env = svc::Env::from_pairs(&[
        ("WEB_ADDR", "127.0.0.1:0"),
        ("API_URL", &upstream.url("")),
        ("STREAM_URL", &upstream.url("")),
    ]);
    let config = web::Config::from_env(&env).unwrap();
    let app = web::Application::build(config).await.unwrap();
    let web = TestServer::spawn(app.state()).await;
    (upstream, web)
}

async fn echoed(resp: reqwest::Response) -> (reqwest::header::HeaderMap, Value) {
    assert_eq!(resp.status(), 201);
    let headers = resp.headers().clone();
    (headers, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_api_sees_the_session_header_and_never_the_client_identity_or_hop_headers() {
    let (_upstream, web) = setup().await;
    let sid = "7d3f1c1e-0000-4000-8000-000000000001";
    let resp = reqwest::Client::new()
        .post(web.url("/api/user/ann/videos?limit=5"))
        .header("cookie", format!("session={sid}; user=ann; other=1"))
        .header("x-user-name", "admin")
        .header("x-session-id", "forged")
        .header("x-forwarded-for", "10.9.8.7")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "hop")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eA==")
        .header("x-request-id", "req-123")
        .header("origin", web.url(""))
        .body("{}")
        .send()
        .await
        .unwrap();
    let (resp_headers, body) = echoed(resp).await;
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
    assert_eq!(h["x-forwarded-host"], web.addr.to_string());
    // Response side: hop-by-hop headers stop at web; an upstream Location becomes a site path.
    assert!(resp_headers.get("keep-alive").is_none());
    assert!(resp_headers.get("proxy-authenticate").is_none());
    assert_eq!(resp_headers["location"], "/files/abc");

    // Without a cookie, a script's own session header passes (it cannot be forged cross-site).
    let resp = reqwest::Client::new()
        .get(web.url("/api/user/ann"))
        .header("x-session-id", sid)
        .send()
        .await
        .unwrap();
    let (_, body) = echoed(resp).await;
    assert_eq!(body["headers"]["x-session-id"], sid);
    assert_eq!(body["path"], "/user/ann");
}

#[tokio::test]
async fn stream_requests_keep_their_path_range_and_tus_headers() {
    let (_upstream, web) = setup().await;
    let resp = reqwest::Client::new()
        .patch(web.url("/files/abc?x=1"))
        .header("cookie", "session=s1; user=ann")
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "1048576")
        .header("upload-checksum", "sha256 abc=")
        .header("content-type", "application/offset+octet-stream")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    let (resp_headers, body) = echoed(resp).await;
    let h = &body["headers"];
    assert_eq!(body["path"], "/files/abc?x=1");
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["upload-offset"], "1048576");
    assert_eq!(h["upload-checksum"], "sha256 abc=");
    assert_eq!(h["content-type"], "application/offset+octet-stream");
    assert_eq!(h["content-length"], "10");
    // The streamserver authenticates by cookie or header: both arrive.
    assert_eq!(h["x-session-id"], "s1");
    assert!(h["cookie"].as_str().unwrap().contains("session=s1"));
    assert_eq!(resp_headers["upload-offset"], "42");
    assert_eq!(resp_headers["tus-resumable"], "1.0.0");

    let resp = reqwest::Client::new()
        .get(web.url("/videos/v1"))
        .header("range", "bytes=100-")
        .header("if-range", "\"etag\"")
        .header("if-none-match", "\"x\"")
        .send()
        .await
        .unwrap();
    let (_, body) = echoed(resp).await;
    let h = &body["headers"];
    assert_eq!(body["path"], "/videos/v1");
    assert_eq!(h["range"], "bytes=100-");
    assert_eq!(h["if-range"], "\"etag\"");
    assert_eq!(h["if-none-match"], "\"x\"");
}
