use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{text, Body};
use svc::testing::{eventually, TestServer};
use svc::{App, Server};
use tokio::sync::Notify;

/// Answers `/slow` once the test releases it (and says when the request has arrived), panics
/// on `/panic`, and answers everything else at once.
#[derive(Default)]
struct SlowApp {
    arrived: Notify,
    release: Notify,
}

impl App for SlowApp {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() == "/slow" {
            self.arrived.notify_one();
            self.release.notified().await;
            return text(StatusCode::OK, "finished");
        }
        if req.uri().path() == "/panic" {
            panic!("handler bug");
        }
        text(StatusCode::OK, "fast")
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn in_flight_request_completes_and_new_connections_are_refused() {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), "test")
        .await
        .unwrap()
        .drain_timeout(Duration::from_secs(10));
    let app = Arc::new(SlowApp::default());
    let srv = TestServer::spawn_on(server, app.clone());
    let url = srv.url("/slow");
    let addr = srv.addr;
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    app.arrived.notified().await;
    srv.begin_shutdown();

    // The listener closes: a new connection is refused while the slow request still runs.
    eventually("the listener to close", Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(addr).await.err()
    })
    .await;
    assert!(
        !in_flight.is_finished(),
        "the in-flight request was cut off"
    );

    app.release.notify_one();
    let body = in_flight.await.unwrap().expect("in-flight request failed");
    assert_eq!(body, "finished");
    srv.stop().await;
}

#[tokio::test]
async fn drain_timeout_bounds_shutdown() {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), "test")
        .await
        .unwrap()
        .drain_timeout(Duration::from_millis(200));
    let app = Arc::new(SlowApp::default());
    let srv = TestServer::spawn_on(server, app.clone());
    let url = srv.url("/slow");
    // Never released: only the drain timeout can end it.
    let in_flight = tokio::spawn(async move { reqwest::get(url).await });
    app.arrived.notified().await;
    let started = std::time::Instant::now();
    srv.stop().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "stopped before the drain timeout: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1200),
        "drain timeout ignored: {took:?}"
    );
    // The server has given up on the request; in a real process the exit ends its connection.
    in_flight.abort();
}

#[tokio::test]
async fn builtins_request_ids_and_panics() {
    let srv = TestServer::spawn(Arc::new(SlowApp::default())).await;
    let client = reqwest::Client::new();
    let health = client.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let generated = health.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 36, "a UUID is generated: {generated}");

    let ready = client.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let echoed = client
        .get(srv.url("/anything"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");

    let panicked = client.get(srv.url("/panic")).send().await.unwrap();
    assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = panicked.text().await.unwrap();
    assert!(body.contains("\"error_code\":\"004\"") && !body.contains("handler bug"));

    // A made-up method is counted, under `OTHER`: clients cannot grow the label set.
    let brewed = client
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            srv.url("/anything"),
        )
        .send()
        .await
        .unwrap();
    let brewed_status = brewed.status().as_u16().to_string();

    let metrics = client.get(srv.url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_requests_total{"), "{text}");
    let counted = |method: &str, status: &str| {
        text.lines().any(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(&format!("method=\"{method}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(text.contains("route=\"healthz\""), "{text}");
    assert!(counted("GET", "200"), "{text}");
    assert!(counted("OTHER", &brewed_status), "{text}");
    assert!(!text.contains("BREW"), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}
