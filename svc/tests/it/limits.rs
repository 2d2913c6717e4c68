//! The caps the server loop puts on each connection (issue 15, item 7), tried as an attacker
//! would over raw TCP: oversized request heads get 431, a client that sends nothing or trickles
//! its headers is cut off at the header read timeout, and one address cannot hold more than its
//! share of connections. Also what `/metrics` adds: readiness and process figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{text, Body};
use svc::server::ConnectionLimits;
use svc::testing::{eventually, TestServer};
use svc::{App, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Answers every request with 200 "hello"; ready or not as told.
struct Hello {
    ready: bool,
}

impl App for Hello {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        text(StatusCode::OK, "hello")
    }
    async fn ready(&self) -> Result<(), String> {
        if self.ready {
            Ok(())
        } else {
            Err("test says no".into())
        }
    }
}

async fn serve(limits: ConnectionLimits) -> TestServer {
    let server = Server::bind(([127, 0, 0, 1], 0).into(), "test")
        .await
        .unwrap()
        .drain_timeout(Duration::from_secs(2))
        .connection_limits(limits);
    TestServer::spawn_on(server, Arc::new(Hello { ready: true }))
}

/// A connection to `addr` from the loopback address `from` (all of 127.0.0.0/8 is local on
/// Linux, so a test can be several clients).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Everything the server sends until it closes (or resets) the connection.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends `head` on a fresh connection (while also reading, since the server may answer and
/// close before the head is all sent) and returns what came back.
async fn send_head(addr: SocketAddr, head: Vec<u8>) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        // The server stops reading at its cap; the rest of the write may fail, as intended.
        let _ = writer.write_all(&head).await;
        writer
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut got)).await;
    drop(writing.await);
    String::from_utf8_lossy(&got).into_owned()
}

/// `http_connections_rejected_total{reason}` in this test process (one recorder for all tests,
/// so only ever compared as "went up").
fn rejected(reason: &str) -> u64 {
    let series = format!("http_connections_rejected_total{{reason=\"{reason}\"}} ");
    svc::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn head_with(headers: &[(String, String)]) -> Vec<u8> {
    let mut head = String::from("GET /anything HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `count` header lines of `each` bytes (`x-pad-N: aaa…`), request line not counted.
fn padding(count: usize, each: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let name = format!("x-pad-{i:03}");
            let value = "a".repeat(each - name.len() - 2);
            (name, value)
        })
        .collect()
}

#[tokio::test]
async fn a_200_kb_request_head_is_refused_with_431() {
    let srv = serve(ConnectionLimits::default()).await;
    let before = rejected("head_too_large");
    // Thirteen lines of 15 KiB: each line is allowed, the head (195 KiB) is not.
    let answer = send_head(srv.addr, head_with(&padding(13, 15 * 1024))).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "a 195 KiB head was not refused with 431: {:?}",
        answer.lines().next()
    );
    // One 200 KB line, as in the issue.
    let one_line = vec![("x-big".to_string(), "b".repeat(200_000))];
    let answer = send_head(srv.addr, head_with(&one_line)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "{:?}",
        answer.lines().next()
    );
    eventually(
        "head_too_large to be counted twice",
        Duration::from_secs(5),
        || async { (rejected("head_too_large") >= before + 2).then_some(()) },
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn a_head_within_the_caps_is_served() {
    let srv = serve(ConnectionLimits::default()).await;
    // Just under the caps: 3 lines of 16 KiB (exactly the line cap) and small ones, < 64 KiB.
    let mut headers = padding(3, 16 * 1024);
    headers.extend(
        padding(10, 1000)
            .into_iter()
            .map(|(n, v)| (n.replace("pad", "small"), v)),
    );
    let answer = send_head(srv.addr, head_with(&headers)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 "),
        "{:?}",
        answer.lines().next()
    );
    assert!(answer.ends_with("hello"), "{answer}");
    srv.stop().await;
}

#[tokio::test]
async fn a_header_line_over_16_kib_is_431_with_a_message_naming_it() {
    let srv = serve(ConnectionLimits::default()).await;
    let resp = reqwest::Client::new()
        .get(srv.url("/anything"))
        .header("cookie", "c".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "431", "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("cookie") && message.contains("16384 bytes"),
        "{message}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn http2_is_served_and_its_header_list_is_capped_too() {
    let srv = serve(ConnectionLimits::default()).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let ok = client.get(srv.url("/anything")).send().await.unwrap();
    assert_eq!(ok.version(), http::Version::HTTP_2);
    assert_eq!(ok.status(), 200);
    // Over the line cap: the server's own 431.
    let line = client
        .get(srv.url("/anything"))
        .header("x-big", "b".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(line.status(), 431);
    // Over the header list cap: h2 refuses the stream with 431 before it reaches the app.
    let mut request = client.get(srv.url("/anything"));
    for (name, value) in padding(5, 15 * 1024) {
        request = request.header(name, value);
    }
    let answered = request.send().await;
    match answered {
        Ok(resp) => assert_eq!(resp.status(), 431),
        Err(e) => panic!("a 75 KiB header list over HTTP/2 got no 431: {e:?}"),
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let timeout = Duration::from_millis(600);
    let srv = serve(ConnectionLimits {
        header_read_timeout: timeout,
        ..ConnectionLimits::default()
    })
    .await;
    let before = rejected("header_timeout");
    let mut stream = TcpStream::connect(srv.addr).await.unwrap();
    let started = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut stream))
        .await
        .expect("a silent connection was never closed");
    let took = started.elapsed();
    assert!(got.is_empty(), "{got}");
    assert!(took >= timeout, "closed too early, after {took:?}");
    eventually(
        "the timeout to be counted",
        Duration::from_secs(5),
        || async { (rejected("header_timeout") > before).then_some(()) },
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_after_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let srv = serve(ConnectionLimits {
        header_read_timeout: timeout,
        ..ConnectionLimits::default()
    })
    .await;
    let stream = TcpStream::connect(srv.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // A head that never ends: one short header line every 100 ms, for up to 10 s.
    let trickle = tokio::spawn(async move {
        if writer
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n")
            .await
            .is_err()
        {
            return;
        }
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer
                .write_all(format!("x-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut got))
        .await
        .expect("the slowloris connection was still open after 10 s")
        .ok();
    let took = started.elapsed();
    trickle.abort();
    assert!(took >= timeout, "closed after {took:?}, before the timeout");
    // The first bytes came at once, so hyper's own timer ends it about one timeout later.
    assert!(took < timeout * 3, "closed only after {took:?}");
    srv.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let timeout = Duration::from_millis(600);
    let srv = serve(ConnectionLimits {
        header_read_timeout: timeout,
        ..ConnectionLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(srv.addr).await.unwrap();
    stream
        .write_all(b"GET /anything HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    let idle_from = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut stream))
        .await
        .expect("an idle keep-alive connection was never closed");
    assert!(rest.is_empty(), "{rest}");
    assert!(idle_from.elapsed() >= timeout * 9 / 10);
    srv.stop().await;
}

#[tokio::test]
async fn one_client_holds_at_most_its_cap_of_connections() {
    let srv = serve(ConnectionLimits {
        max_connections_per_client: Some(3),
        exempt: vec!["127.0.0.1".parse().unwrap()],
        ..ConnectionLimits::default()
    })
    .await;
    let client = [127, 0, 0, 2];
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from(client, srv.addr).await;
        // A complete exchange proves the server took this connection as one of the three.
        stream
            .write_all(b"GET /anything HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 "), "{:?}", &buf[..n]);
        held.push(stream);
    }

    let before = rejected("client_cap");
    let mut fourth = connect_from(client, srv.addr).await;
    let refused = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut fourth))
        .await
        .expect("the connection over the cap was not closed");
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    assert!(refused.contains("retry-after: 5"), "{refused}");
    assert!(
        refused.contains("\"error_code\":\"429\"") && refused.contains("at most 3"),
        "{refused}"
    );
    assert!(
        rejected("client_cap") > before,
        "the refusal was not counted"
    );

    // Another address, and the exempt proxy address, are not affected.
    let other = reqwest::Client::builder()
        .local_address(Some("127.0.0.3".parse().unwrap()))
        .build()
        .unwrap();
    assert_eq!(other.get(srv.url("/x")).send().await.unwrap().status(), 200);
    for _ in 0..5 {
        held.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    let proxy = reqwest::Client::new();
    assert_eq!(proxy.get(srv.url("/x")).send().await.unwrap().status(), 200);

    // Closing one gives the client its place back.
    drop(held.remove(0));
    eventually(
        "a freed place to be reused",
        Duration::from_secs(5),
        || async {
            let mut stream = connect_from(client, srv.addr).await;
            stream
                .write_all(b"GET /anything HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let answer = read_until_closed(&mut stream).await;
            answer.starts_with("HTTP/1.1 200 ").then_some(())
        },
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn metrics_tell_readiness_and_process_figures() {
    for (ready, expected) in [(true, "clipshare_ready 1"), (false, "clipshare_ready 0")] {
        let srv = TestServer::spawn(Arc::new(Hello { ready })).await;
        let url = srv.url("/metrics");
        // The gauge is process-wide and other tests' servers set it too: ask until this
        // server's answer is the one read back.
        let text = eventually(expected, Duration::from_secs(5), || {
            let url = url.clone();
            async move {
                let text = reqwest::get(url).await.ok()?.text().await.ok()?;
                text.lines().any(|l| l == expected).then_some(text)
            }
        })
        .await;
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_start_time_seconds",
            "http_connections_open",
            "http_connections_rejected_total{reason=\"header_timeout\"}",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "{name} missing from:\n{text}"
            );
        }
        srv.stop().await;
    }
}
