//! Long-lived responses served outside hyper, so an idle stream costs little (issue 14: an idle
//! live stream under 8 KiB).
//!
//! hyper's HTTP/1 connection allocates an 8 KiB buffer for response heads when it starts and an
//! 8 KiB read buffer at its first read, and keeps both while the connection lives (hyper 1.x,
//! `proto/h1/io.rs`: `WriteBuf::new`, `INIT_BUFFER_SIZE`); the parsed request's header values are
//! slices of that read buffer. For ordinary requests that is the right trade. For a server-sent
//! events stream held open by thousands of idle viewers it is most of what each one costs.
//!
//! So the server loop reads the *first* request head of an HTTP/1.1 connection itself, and when
//! the app takes the request over ([`App::takes_over`]) answers it here, keeping no buffer
//! between writes: the response head goes out, then each body chunk as it comes, in the chunked
//! coding of RFC 9112 section 7.1 when the body's size is not known in advance. Everything else
//! (HTTP/2, a request the app leaves, a head that is malformed, too large, unfinished, HTTP/1.0,
//! or one announcing a body) goes to hyper with every byte read so far put back in front, and is
//! answered exactly as it always was: the caps, the 400s and 431s remain hyper's.
//!
//! After a taken-over response the connection carries on under hyper when both sides keep it
//! alive, so a client that reuses it is served as usual. A body of unknown size (a stream) ends
//! when the app ends it, when the client closes its side of the connection (RFC 9112 section
//! 9.6), or at the shutdown signal. Only the first request of a connection can be taken over:
//! later ones on a kept-alive connection are hyper's, answered the same but at hyper's cost.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::time::SystemTime;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::preface::Replay;
use super::{limits, App};
use crate::http::Body;

/// What the first request of an HTTP/1 connection turned out to be.
pub(super) enum First {
    /// The app takes it over; its head has been consumed from the bytes read ahead.
    TakenOver(Box<Request<()>>),
    /// Anything else: hyper reads it from the bytes ahead.
    Hyper,
}

/// Reads the request line, asks the app whether it takes the request over and, if it does,
/// the rest of the head. Reads stop at `max_head` bytes: hyper answers a longer head.
pub(super) async fn first_request<A: App>(
    io: &mut Replay<TcpStream>,
    app: &A,
    max_head: usize,
) -> io::Result<First> {
    loop {
        match request_line(io.ahead()) {
            Line::Complete { method, path } => {
                if super::is_builtin(path) || !app.takes_over(&method, path) {
                    return Ok(First::Hyper);
                }
                break;
            }
            Line::Invalid => return Ok(First::Hyper),
            Line::Partial => {}
        }
        if io.ahead().len() >= max_head || io.read_ahead().await? == 0 {
            return Ok(First::Hyper);
        }
    }
    loop {
        match parse_head(io.ahead()) {
            Head::Complete(req, len) => {
                io.consume(len);
                return Ok(First::TakenOver(req));
            }
            Head::Refused => return Ok(First::Hyper),
            Head::Partial => {}
        }
        if io.ahead().len() >= max_head || io.read_ahead().await? == 0 {
            return Ok(First::Hyper);
        }
    }
}

/// How a taken-over response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Whole, and both sides keep the connection: hyper serves the next request.
    KeepAlive,
    /// The connection closes.
    Close,
}

/// Answers a taken-over request: through the same request span, metrics and header-line cap as
/// every other request, then written here.
pub(super) async fn serve<A: App>(
    app: &A,
    req: Request<()>,
    io: &mut Replay<TcpStream>,
    peer: SocketAddr,
    max_header_line: usize,
    shutdown: &CancellationToken,
) -> Ended {
    let _counted = TakenOver::new();
    let keep_alive = !asks_to_close(req.headers());
    // Boxed: the app's future (database calls and all) is gone once the response is ready, and
    // its size is not carried by the stream that follows.
    let resp = Box::pin(super::serve_request(req, peer, max_header_line, |req| {
        super::guarded(app.take_over(req))
    }))
    .await;
    match respond(io, resp, keep_alive, shutdown).await {
        Ok(Ended::KeepAlive) if !shutdown.is_cancelled() => Ended::KeepAlive,
        Ok(_) => Ended::Close,
        Err(e) => {
            tracing::debug!(error = %e, %peer, "a taken-over response ended with an error");
            Ended::Close
        }
    }
}

/// Counts a connection in `http_connections_taken_over` while its response is written here.
struct TakenOver;

impl TakenOver {
    fn new() -> Self {
        metrics::gauge!("http_connections_taken_over").increment(1.0);
        TakenOver
    }
}

impl Drop for TakenOver {
    fn drop(&mut self) {
        metrics::gauge!("http_connections_taken_over").decrement(1.0);
    }
}

/// Writes `resp`: its head, then its body as it comes. Nothing is kept between writes but the
/// body itself.
async fn respond(
    io: &mut Replay<TcpStream>,
    resp: Response<Body>,
    keep_alive: bool,
    shutdown: &CancellationToken,
) -> io::Result<Ended> {
    let (parts, mut body) = resp.into_parts();
    // RFC 9110 section 6.4.1: these answers have no content.
    let bodiless = parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    let length = if bodiless {
        Some(0)
    } else {
        body.size_hint().exact()
    };
    let head = response_head(&parts, (!bodiless).then_some(length), keep_alive);
    drop(parts);
    io.write_all(&head).await?;
    drop(head);
    if bodiless {
        return Ok(if keep_alive {
            Ended::KeepAlive
        } else {
            Ended::Close
        });
    }
    let chunked = length.is_none();
    // A client that sent more (a pipelined request) has not gone; its bytes wait for hyper.
    let mut watching = io.ahead().is_empty();
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.cancelled(), if chunked => {
                io.write_all(b"0\r\n\r\n").await?;
                return Ok(Ended::Close);
            }
            gone = client_gone(io.get_ref()), if watching => {
                if gone {
                    return Ok(Ended::Close);
                }
                watching = false;
                continue;
            }
            frame = body.frame() => frame,
        };
        match frame {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    // Trailers: not sent (no taken-over response has any).
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                if chunked {
                    write_chunk(io, &data).await?;
                } else {
                    io.write_all(&data).await?;
                }
            }
            Some(Err(e)) => {
                // As hyper does: the message stays incomplete, so the client knows it is cut.
                tracing::warn!(error = %e, "a taken-over response body failed");
                return Ok(Ended::Close);
            }
        }
    }
    if chunked {
        io.write_all(b"0\r\n\r\n").await?;
    }
    Ok(if keep_alive {
        Ended::KeepAlive
    } else {
        Ended::Close
    })
}

/// Whether the client closed its side: the end of the connection (or an error) is read where
/// the next request would be. Some bytes there are not an end.
async fn client_gone(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.peek(&mut probe).await, Ok(0) | Err(_))
}

/// One chunk of the chunked coding: its size in hex, the data, a line end.
async fn write_chunk(io: &mut Replay<TcpStream>, data: &[u8]) -> io::Result<()> {
    let mut framed = Vec::with_capacity(data.len() + 12);
    write!(framed, "{:x}\r\n", data.len())?;
    framed.extend_from_slice(data);
    framed.extend_from_slice(b"\r\n");
    io.write_all(&framed).await
}

/// The status line and headers. The framing headers are the writer's own (an app's
/// `content-length`, `transfer-encoding` or `connection` is dropped); `length` is `None` for a
/// response without content, `Some(None)` for a chunked one.
fn response_head(
    parts: &http::response::Parts,
    length: Option<Option<u64>>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    let status = parts.status;
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        line(&mut head, name.as_str(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::DATE) {
        let now = httpdate::fmt_http_date(SystemTime::now());
        line(&mut head, "date", now.as_bytes());
    }
    match length {
        None => {}
        Some(Some(n)) => line(&mut head, "content-length", n.to_string().as_bytes()),
        Some(None) => line(&mut head, "transfer-encoding", b"chunked"),
    }
    if !keep_alive {
        line(&mut head, "connection", b"close");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn line(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// `Connection: close` among the request's connection options (RFC 9112 section 9.6).
fn asks_to_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case("close"))
}

/// The request line as far as it has arrived.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Complete {
        method: Method,
        path: &'a str,
    },
    Partial,
    /// Not a request line this module reads (hyper answers it).
    Invalid,
}

/// `METHOD origin-form HTTP/1.x` (RFC 9112 section 3); the path is the target without its query.
fn request_line(buf: &[u8]) -> Line<'_> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return Line::Partial;
    };
    let Ok(text) = std::str::from_utf8(&buf[..end]) else {
        return Line::Invalid;
    };
    let mut words = text.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Line::Invalid;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Line::Invalid;
    };
    if !target.starts_with('/') {
        return Line::Invalid;
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    Line::Complete { method, path }
}

/// A request head as far as it has arrived.
#[derive(Debug)]
enum Head {
    /// The whole head, and its length in bytes.
    Complete(Box<Request<()>>, usize),
    Partial,
    /// Left to hyper: malformed, HTTP/1.0, or with a body.
    Refused,
}

fn parse_head(buf: &[u8]) -> Head {
    let mut fields = [httparse::EMPTY_HEADER; limits::MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => match to_request(&parsed) {
            Some(req) => Head::Complete(Box::new(req), len),
            None => Head::Refused,
        },
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => Head::Refused,
    }
}

/// The parsed head as an `http` request; `None` for what this module leaves to hyper.
fn to_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<()>> {
    // HTTP/1.0 has no chunked coding and other keep-alive rules.
    if parsed.version != Some(1) {
        return None;
    }
    let mut req = Request::new(());
    *req.method_mut() = Method::from_bytes(parsed.method?.as_bytes()).ok()?;
    *req.uri_mut() = parsed.path?.parse::<Uri>().ok()?;
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    headers.reserve(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = header::HeaderName::from_bytes(field.name.as_bytes()).ok()?;
        headers.append(name, HeaderValue::from_bytes(field.value).ok()?);
    }
    // A body is hyper's to read.
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes() != b"0");
    (!has_body).then_some(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_read_once_whole_and_its_path_has_no_query() {
        assert_eq!(request_line(b"GET /videos/a/li"), Line::Partial);
        assert_eq!(
            request_line(b"GET /videos/a/live?x=1 HTTP/1.1\r\nHost"),
            Line::Complete {
                method: Method::GET,
                path: "/videos/a/live"
            }
        );
        assert_eq!(
            request_line(b"GET http://h/videos HTTP/1.1\r\n"),
            Line::Invalid
        );
        assert_eq!(request_line(b"G\xffT / HTTP/1.1\r\n"), Line::Invalid);
        assert_eq!(request_line(b"GET\r\n"), Line::Invalid);
    }

    #[test]
    fn a_whole_head_without_a_body_is_taken_and_the_rest_is_refused() {
        let head = b"GET /v?x=1 HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nX-Two: 2\r\n\r\nNEXT";
        let Head::Complete(req, len) = parse_head(head) else {
            panic!("a whole head");
        };
        assert_eq!(&head[len..], b"NEXT");
        assert_eq!(req.uri(), "/v?x=1");
        assert_eq!(req.headers().get_all("x-two").iter().count(), 2);
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Head::Partial
        ));
        for refused in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ] {
            assert!(matches!(parse_head(refused), Head::Refused), "{refused:?}");
        }
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            Head::Complete(..)
        ));
    }

    #[test]
    fn the_response_head_frames_the_body_itself() {
        let mut resp = Response::new(());
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let (parts, ()) = resp.into_parts();
        let chunked = String::from_utf8(response_head(&parts, Some(None), true)).unwrap();
        assert!(chunked.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(
            chunked.contains("\r\ndate: ")
                && chunked.ends_with("transfer-encoding: chunked\r\n\r\n")
        );
        assert!(!chunked.contains("99"));
        let sized = String::from_utf8(response_head(&parts, Some(Some(5)), false)).unwrap();
        assert!(sized.ends_with("content-length: 5\r\nconnection: close\r\n\r\n"));
    }

    #[test]
    fn connection_close_is_found_among_the_options() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONNECTION, HeaderValue::from_static(v));
            asks_to_close(&h)
        };
        assert!(with("close"));
        assert!(with("keep-alive, Close"));
        assert!(!with("keep-alive"));
        assert!(!asks_to_close(&HeaderMap::new()));
    }
}
