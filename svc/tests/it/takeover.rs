//! Requests an app takes over (`App::takes_over`): the first request of an HTTP/1.1 connection
//! that the app claims is answered outside hyper, streams included, and everything else is
//! still hyper's, on the same server and the same connection. Read over raw TCP, as the bytes
//! on the wire are the point.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{error_json, stream, text, Body, ErrorCode};
use svc::testing::{eventually, TestServer};
use svc::{App, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Takes over `GET /stream...`: `/stream` is an endless stream of `tick` chunks, `/stream/missing`
/// a 404, `/stream/panic` a panic. Every answer says which path served it (`x-served-by`).
#[derive(Default)]
struct Streamer {
    /// Stream bodies alive now.
    alive: Arc<AtomicUsize>,
}

/// Counts a stream body while it lives.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn served_by(mut resp: Response<Body>, by: &'static str) -> Response<Body> {
    resp.headers_mut()
        .insert("x-served-by", HeaderValue::from_static(by));
    resp
}

impl App for Streamer {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        served_by(text(StatusCode::OK, format!("hyper {path}")), "hyper")
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }

    fn takes_over(&self, method: &Method, path: &str) -> bool {
        // `/healthz` too, to show that built-in routes are never offered.
        method == Method::GET && (path.starts_with("/stream") || path == "/healthz")
    }

    async fn take_over(&self, req: Request<()>) -> Response<Body> {
        match req.uri().path() {
            "/stream" => {
                self.alive.fetch_add(1, Ordering::SeqCst);
                let alive = Alive(self.alive.clone());
                let ticks = futures_util::stream::unfold(alive, |alive| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from_static(b"tick\n")),
                        alive,
                    ))
                });
                served_by(stream(StatusCode::OK, ticks), "takeover")
            }
            "/stream/panic" => panic!("take_over bug"),
            _ => served_by(
                error_json(ErrorCode::NotFound, "no such stream"),
                "takeover",
            ),
        }
    }
}

/// One response as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Header lines, names lowercased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    async fn connect(srv: &TestServer) -> Self {
        Client {
            reader: BufReader::new(TcpStream::connect(srv.addr).await.unwrap()),
        }
    }

    async fn send(&mut self, raw: &str) {
        self.reader
            .get_mut()
            .write_all(raw.as_bytes())
            .await
            .unwrap();
    }

    async fn get(&mut self, path: &str) {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"))
            .await;
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("a line within 10 s")
            .unwrap();
        line
    }

    /// The status line and headers.
    async fn head(&mut self) -> Answer {
        let status = self.line().await;
        // `HTTP/1.1 200 OK` (or 1.0, hyper's answer to an HTTP/1.0 request).
        assert!(status.starts_with("HTTP/1."), "a status line: {status:?}");
        let status = status[9..12].parse().unwrap();
        let mut headers = vec![];
        loop {
            let line = self.line().await;
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.trim_end().split_once(": ").expect("a header line");
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        Answer {
            status,
            headers,
            body: String::new(),
        }
    }

    /// One chunk of a chunked body; `None` for the last (empty) one.
    async fn chunk(&mut self) -> Option<String> {
        let size = usize::from_str_radix(self.line().await.trim_end(), 16).unwrap();
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).await.unwrap();
        assert_eq!(&data[size..], b"\r\n");
        data.truncate(size);
        (size > 0).then(|| String::from_utf8(data).unwrap())
    }

    /// A whole response with a `content-length` or a short chunked body.
    async fn answer(&mut self) -> Answer {
        let mut answer = self.head().await;
        if let Some(len) = answer.header("content-length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.reader.read_exact(&mut body).await.unwrap();
            answer.body = String::from_utf8(body).unwrap();
        } else {
            while let Some(chunk) = self.chunk().await {
                answer.body.push_str(&chunk);
            }
        }
        answer
    }

    /// Whether the server has closed the connection (reads nothing more within 5 s but its end).
    async fn closed(&mut self) -> bool {
        let mut rest = vec![];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(0))
        )
    }
}

async fn spawn(drain: Duration) -> (TestServer, Arc<Streamer>) {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), "test")
        .await
        .unwrap()
        .drain_timeout(drain);
    let app = Arc::new(Streamer::default());
    (TestServer::spawn_on(server, app.clone()), app)
}

#[tokio::test]
async fn a_taken_over_stream_is_chunked_and_ends_when_the_client_goes() {
    let (srv, app) = spawn(Duration::from_secs(5)).await;
    let mut c = Client::connect(&srv).await;
    c.get("/stream").await;
    let head = c.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-served-by"), Some("takeover"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert!(head.header("date").is_some(), "{head:?}");
    assert_eq!(head.header("x-request-id").map(str::len), Some(36));
    assert_eq!(c.chunk().await.as_deref(), Some("tick\n"));
    assert_eq!(c.chunk().await.as_deref(), Some("tick\n"));
    assert_eq!(app.alive.load(Ordering::SeqCst), 1);
    // The client goes without a word: the server sees its end and drops the stream.
    drop(c);
    eventually(
        "the stream to be dropped",
        Duration::from_secs(5),
        || async { (app.alive.load(Ordering::SeqCst) == 0).then_some(()) },
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn a_shutdown_ends_taken_over_streams_instead_of_waiting_for_the_drain() {
    // A drain far longer than the test: only the streams ending lets the server stop early.
    let (srv, app) = spawn(Duration::from_secs(60)).await;
    let mut clients = vec![];
    for _ in 0..3 {
        let mut c = Client::connect(&srv).await;
        c.get("/stream").await;
        assert_eq!(c.head().await.status, 200);
        assert_eq!(c.chunk().await.as_deref(), Some("tick\n"));
        clients.push(c);
    }
    let stopping = Instant::now();
    srv.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    for mut c in clients {
        // Whole chunks, then the last one, then the end of the connection.
        while c.chunk().await.is_some() {}
        assert!(c.closed().await);
    }
    assert_eq!(app.alive.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn taken_over_errors_are_the_usual_json_and_the_connection_goes_on_under_hyper() {
    let (srv, _app) = spawn(Duration::from_secs(5)).await;
    let mut c = Client::connect(&srv).await;
    c.send("GET /stream/missing HTTP/1.1\r\nHost: test\r\nX-Request-Id: abc-1\r\n\r\n")
        .await;
    let missing = c.answer().await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-served-by"), Some("takeover"));
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(missing.header("x-request-id"), Some("abc-1"));
    let body: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "no such stream", "error_code": "404"})
    );
    // Kept alive: the next request on the connection is hyper's, even for a path the app
    // would take over on a fresh connection.
    c.get("/stream").await;
    let again = c.answer().await;
    assert_eq!(
        (
            again.status,
            again.header("x-served-by"),
            again.body.as_str()
        ),
        (200, Some("hyper"), "hyper /stream")
    );
    c.get("/other").await;
    assert_eq!(c.answer().await.body, "hyper /other");

    // A panic in the taken-over handler is a 500 like any other.
    let mut c = Client::connect(&srv).await;
    c.get("/stream/panic").await;
    let panicked = c.answer().await;
    assert_eq!(panicked.status, 500);
    assert!(
        panicked.body.contains("\"error_code\":\"004\""),
        "{panicked:?}"
    );

    // One header line over the cap: the same 431 as through hyper.
    let mut c = Client::connect(&srv).await;
    let long = "a".repeat(20 * 1024);
    c.send(&format!(
        "GET /stream HTTP/1.1\r\nHost: test\r\nCookie: {long}\r\n\r\n"
    ))
    .await;
    let too_large = c.answer().await;
    assert_eq!(too_large.status, 431);
    assert!(too_large.body.contains("Cookie") || too_large.body.contains("cookie"));

    // `Connection: close` is honoured: the answer says so and the connection ends.
    let mut c = Client::connect(&srv).await;
    c.send("GET /stream/missing HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await;
    let closing = c.answer().await;
    assert_eq!(closing.header("connection"), Some("close"));
    assert!(c.closed().await);
    srv.stop().await;
}

#[tokio::test]
async fn what_the_app_does_not_take_over_is_served_by_hyper_as_before() {
    let (srv, _app) = spawn(Duration::from_secs(5)).await;
    let hyper = |a: &Answer| (a.status, a.header("x-served-by").map(str::to_string));
    let by_hyper = (200, Some("hyper".to_string()));
    // Another path, then the stream's path on the same kept-alive connection.
    let mut c = Client::connect(&srv).await;
    c.get("/other").await;
    assert_eq!(hyper(&c.answer().await), by_hyper);
    c.get("/stream").await;
    assert_eq!(hyper(&c.answer().await), by_hyper);
    // The stream's path with another method, with a body, over HTTP/1.0, or as a request line
    // sent a byte at a time followed by a pipelined second request.
    let mut c = Client::connect(&srv).await;
    c.send("HEAD /stream HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(c.head().await.header("x-served-by"), Some("hyper"));
    let mut c = Client::connect(&srv).await;
    c.send("GET /stream HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi")
        .await;
    assert_eq!(hyper(&c.answer().await), by_hyper);
    let mut c = Client::connect(&srv).await;
    c.send("GET /stream HTTP/1.0\r\nHost: test\r\n\r\n").await;
    let old = c.head().await;
    assert_eq!(old.header("x-served-by"), Some("hyper"));
    assert!(!old.headers.iter().any(|(n, _)| n == "transfer-encoding"));
    let mut c = Client::connect(&srv).await;
    for b in "GET /other HTTP/1.1\r\nHost: test\r\n\r\nGET /stream HTTP/1.1\r\nHost: test\r\n\r\n"
        .bytes()
    {
        c.send(std::str::from_utf8(&[b]).unwrap()).await;
    }
    assert_eq!(c.answer().await.body, "hyper /other");
    assert_eq!(c.answer().await.body, "hyper /stream");
    // A malformed request line is hyper's 400, as before.
    let mut c = Client::connect(&srv).await;
    c.send("GET /stream HTTP/9.9\r\n\r\n").await;
    assert_eq!(c.head().await.status, 400);
    // HTTP/2 is hyper's.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2.get(srv.url("/stream")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.headers()["x-served-by"], "hyper");
    // The built-in routes are never offered.
    let mut c = Client::connect(&srv).await;
    c.get("/healthz").await;
    assert_eq!(c.answer().await.body, "ok\n");
    srv.stop().await;
}
