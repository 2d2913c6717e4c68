//! The one HTTP client web uses to reach its upstreams (api and streamserver): hyper-util's
//! pooled client over plain HTTP/1.1 connections.
//!
//! The proxy needs hyper bodies streamed both ways with backpressure, so the client is hyper's;
//! the pages' calls to the api (`api.rs`) use the same client rather than a second HTTP stack.
//! Where requests go and what they carry is decided by `proxy.rs` and `api.rs`, not here.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use svc::http::Body;

/// A pooled client to the upstreams, cheap to clone (clones share the pool).
pub type Client = hyper_util::client::legacy::Client<HttpConnector, Body>;

/// The most bytes one upstream connection buffers, in either direction.
///
/// hyper's default read buffer grows per connection to about 400 KiB, and each read of a
/// streamed body hands the filled buffer on as the body's chunk, so the next read allocates a
/// fresh one. With 64 connections playing 1 MiB ranges that left web at 45-60 MiB RSS after the
/// load (glibc keeps the freed blocks in its per-thread arenas). Capped at 64 KiB (the loopback
/// MTU; the streamserver writes 32 KiB chunks) the buffer still starts small for small answers,
/// grows for a video and stays warm in the cache: bench/web-proxy.sh measured 15-17 MiB after
/// the same load, for up to ~10% more CPU per MiB (more, smaller syscalls; over 80% of the
/// proxy's time is the kernel copying and sending whatever the size). Caps of 128 and 256 KiB
/// left 24 and 43 MiB.
const MAX_BUFFER: usize = 64 * 1024;

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A client whose connection attempts give up after `connect_timeout` (then the request is a
/// 502) and whose idle connections close after [`IDLE_TIMEOUT`]: well before the upstreams'
/// header read timeout (10 s by default) closes them, so a pooled connection is never reused at
/// the moment the upstream closes it. The pool needs its own timer for that: without one,
/// hyper-util only drops an expired connection when a request happens to look at it, so a
/// burst's connections (and their buffers) stayed open until the upstream closed them.
pub fn client(connect_timeout: Duration) -> Client {
    build(connect_timeout, IDLE_TIMEOUT)
}

fn build(connect_timeout: Duration, idle_timeout: Duration) -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(idle_timeout)
        .pool_timer(TokioTimer::new())
        .http1_max_buf_size(MAX_BUFFER)
        .build(connector)
}

/// An error with all its causes, for the log (`client error (Connect): tcp connect error:
/// Connection refused`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use http::Request;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn idle_pooled_connections_are_closed_after_the_idle_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // One keep-alive answer, then wait for the client to close the connection.
        let upstream = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before sending its request");
                head.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            let answered = Instant::now();
            let n = socket.read(&mut buf).await.unwrap();
            (n, answered.elapsed())
        });

        let client = build(Duration::from_secs(5), Duration::from_millis(200));
        let req = Request::get(format!("http://{addr}/"))
            .body(svc::http::empty_body())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        // Reading the body to its end puts the connection back in the pool.
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");

        let (read, idle_for) = tokio::time::timeout(Duration::from_secs(10), upstream)
            .await
            .expect("the idle pooled connection was never closed")
            .unwrap();
        assert_eq!(read, 0, "the client sent more bytes instead of closing");
        assert!(idle_for >= Duration::from_millis(150), "{idle_for:?}");
        // The client, and so its pool, lived the whole time: the timer closed the connection.
        drop(client);
    }
}
