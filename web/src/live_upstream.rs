//! The api's live streams (`/api/videos/{vid}/live`, server-sent events), read by web on a bare
//! connection of their own instead of through the HTTP client.
//!
//! A viewer's stream sits idle for minutes between events, and web holds one upstream connection
//! per viewer. Through hyper's client each held an 8 KiB read buffer, an 8 KiB write buffer, a
//! connection task and the client's dispatch channel: about 21 of the 38.5 KiB a stream cost web
//! (`bench/live.sh`). Here the request head is written once, the response head read once, and
//! the body read only when the socket has bytes, into a buffer that is let go as soon as its
//! bytes are handed on: an idle stream holds the socket and a few words of state.
//!
//! The request goes out with `Connection: close` (the api answers the stream on a connection it
//! takes over, and the stream ends the connection); the answer is framed by its own headers:
//! `Transfer-Encoding: chunked` (RFC 9112 section 7.1: what the api sends for a stream),
//! `Content-Length` (an error answer) or, without either, the end of the connection. What the
//! upstream sends that this module cannot read is an error of the body, so the browser's
//! response ends unfinished and `EventSource` reconnects, as it does when the api goes away.

use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The most bytes a response head may have: the server loop's own cap on request heads.
const MAX_HEAD: usize = 64 * 1024;

/// The most header fields of a response head.
const MAX_FIELDS: usize = 100;

/// How many bytes one read asks for.
const READ_SIZE: usize = 4096;

/// The longest chunk-size line (hex digits, extensions) accepted.
const MAX_SIZE_LINE: usize = 1024;

/// An answer's status and headers, and its body as it arrives.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Reader,
}

/// Sends `method path` with `headers` (already rewritten for the upstream: no hop-by-hop
/// field, the session and forwarding fields set) to `authority` (`host:port`) and reads the
/// answer's head. Errors are the connection's: refused, timed out, or an answer that is not
/// HTTP/1.1.
pub async fn request(
    authority: &str,
    connect_timeout: Duration,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> io::Result<Answer> {
    let mut stream = tokio::time::timeout(connect_timeout, TcpStream::connect(authority))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    stream
        .write_all(&request_head(authority, method, path, headers))
        .await?;
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let (status, headers, framing) = loop {
        if let Some(head) = parse_head(&mut buf, method)? {
            break head;
        }
        if buf.len() >= MAX_HEAD {
            return Err(invalid("the answer's head is over 64 KiB"));
        }
        if read(&mut stream, &mut buf).await? == 0 {
            return Err(invalid("the connection closed before the answer's head"));
        }
    };
    Ok(Answer {
        status,
        headers,
        body: Reader {
            stream,
            buf,
            framing,
        },
    })
}

/// `METHOD path HTTP/1.1`, `Host`, the fields, `Connection: close`. Field values come from
/// `HeaderValue`s, which hold no line break, so nothing can be smuggled into the head.
fn request_head(authority: &str, method: &Method, path: &str, headers: &HeaderMap) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    for part in [
        method.as_str(),
        " ",
        path,
        " HTTP/1.1\r\nhost: ",
        authority,
        "\r\n",
    ] {
        head.extend_from_slice(part.as_bytes());
    }
    for (name, value) in headers {
        if name == header::HOST || name == header::CONNECTION {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// The answer's head if `buf` holds all of it (consumed from `buf`), with how its body is
/// framed; `None` while it is incomplete. Interim answers (1xx) are skipped.
fn parse_head(
    buf: &mut BytesMut,
    method: &Method,
) -> io::Result<Option<(StatusCode, HeaderMap, Framing)>> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut parsed = httparse::Response::new(&mut fields);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(invalid(&format!("a malformed answer head: {e}"))),
        };
        let code = parsed.code.ok_or_else(|| invalid("no status"))?;
        let status = StatusCode::from_u16(code).map_err(|_| invalid("a bad status"))?;
        let mut headers = HeaderMap::with_capacity(parsed.headers.len());
        for field in parsed.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| invalid("a bad header name"))?;
            let value =
                HeaderValue::from_bytes(field.value).map_err(|_| invalid("a bad header value"))?;
            headers.append(name, value);
        }
        buf.advance(len);
        if status.is_informational() {
            continue;
        }
        let framing = framing(status, &headers, method)?;
        return Ok(Some((status, headers, framing)));
    }
}

/// How the body of an answer ends (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// In chunks, at the state given.
    Chunked(Chunk),
    /// After this many more bytes.
    Length(u64),
    /// At the end of the connection.
    Close,
}

/// Where a chunked body's reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// At a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to go.
    Data(u64),
    /// At the line end after a chunk's data.
    DataEnd,
    /// At the trailer section after the last chunk.
    Trailers,
}

fn framing(status: StatusCode, headers: &HeaderMap, method: &Method) -> io::Result<Framing> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Length(0));
    }
    if let Some(coding) = headers.get(header::TRANSFER_ENCODING) {
        return match coding.as_bytes().eq_ignore_ascii_case(b"chunked") {
            true => Ok(Framing::Chunked(Chunk::Size)),
            false => Err(invalid("a transfer coding other than chunked")),
        };
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    match (lengths.next(), lengths.next()) {
        (None, _) => Ok(Framing::Close),
        (Some(len), None) => std::str::from_utf8(len.as_bytes())
            .ok()
            .and_then(|l| l.trim().parse().ok())
            .map(Framing::Length)
            .ok_or_else(|| invalid("a bad Content-Length")),
        (Some(_), Some(_)) => Err(invalid("more than one Content-Length")),
    }
}

/// An answer's body being read: its connection, the bytes read and not yet handed on, and where
/// the framing is.
pub struct Reader {
    stream: TcpStream,
    buf: BytesMut,
    framing: Framing,
}

impl Reader {
    /// The body's data as it arrives, chunk by chunk, without the framing.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        futures_util::stream::try_unfold(self, |mut reader| async move {
            match reader.next_data().await? {
                Some(data) => Ok(Some((data, reader))),
                None => Ok(None),
            }
        })
    }

    /// The next piece of data, `None` at the end of the body.
    async fn next_data(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(step) = self.step()? {
                return Ok(step);
            }
            // Nothing to hand on: let the buffer go while waiting (an idle stream holds none).
            if self.buf.is_empty() {
                self.buf = BytesMut::new();
            }
            if read(&mut self.stream, &mut self.buf).await? == 0 {
                return match self.framing {
                    Framing::Close => Ok(None),
                    _ => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream closed the connection in the middle of the answer",
                    )),
                };
            }
        }
    }

    /// What the bytes in the buffer make: `Some(Some(data))`, `Some(None)` at the end of the
    /// body, `None` when more bytes are needed.
    fn step(&mut self) -> io::Result<Option<Option<Bytes>>> {
        loop {
            match self.framing {
                Framing::Length(0) => return Ok(Some(None)),
                Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (left.min(self.buf.len() as u64)) as usize;
                    let data = self.buf.split_to(n).freeze();
                    let left = left - n as u64;
                    self.framing = match self.framing {
                        Framing::Length(_) => Framing::Length(left),
                        _ if left == 0 => Framing::Chunked(Chunk::DataEnd),
                        _ => Framing::Chunked(Chunk::Data(left)),
                    };
                    return Ok(Some(Some(data)));
                }
                Framing::Close => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Some(self.buf.split().freeze())));
                }
                Framing::Chunked(Chunk::Size) => {
                    let Some(line) = self.line()? else {
                        return Ok(None);
                    };
                    let size = chunk_size(&line)?;
                    self.framing = Framing::Chunked(match size {
                        0 => Chunk::Trailers,
                        n => Chunk::Data(n),
                    });
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    let Some(line) = self.line()? else {
                        return Ok(None);
                    };
                    if !line.is_empty() {
                        return Err(invalid("a chunk longer than its size"));
                    }
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    let Some(line) = self.line()? else {
                        return Ok(None);
                    };
                    // Trailer fields are not passed on; an empty line ends the body.
                    if line.is_empty() {
                        self.framing = Framing::Length(0);
                    }
                }
            }
        }
    }

    /// The next line of the buffer without its line end (consumed), `None` while incomplete.
    fn line(&mut self) -> io::Result<Option<Bytes>> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let mut line = self.buf.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                Ok(Some(line.freeze()))
            }
            None if self.buf.len() > MAX_SIZE_LINE => Err(invalid("a framing line is too long")),
            None => Ok(None),
        }
    }
}

/// A chunk-size line's size: hex digits, then optional extensions (`;name=value`), ignored.
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = std::str::from_utf8(digits)
        .map_err(|_| invalid("a bad chunk size"))?
        .trim();
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("a bad chunk size"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| invalid("a bad chunk size"))
}

/// Reads what the socket has into `buf`, which grows only once there is something to read;
/// 0 at the end of the connection.
async fn read(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        buf.reserve(READ_SIZE);
        match stream.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            read => return read,
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// An upstream that reads one request head, answers `answer` in pieces of `piece` bytes
    /// (each written alone, so the reader meets every split), and returns the head it read.
    async fn upstream(
        answer: &'static [u8],
        piece: usize,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(
                    socket.read(&mut byte).await.unwrap(),
                    1,
                    "the request head ended"
                );
                head.push(byte[0]);
            }
            for part in answer.chunks(piece) {
                socket.write_all(part).await.unwrap();
                socket.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            String::from_utf8(head).unwrap()
        });
        (addr, task)
    }

    async fn fetch(answer: &'static [u8], piece: usize) -> (Answer, String) {
        let (addr, task) = upstream(answer, piece).await;
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", HeaderValue::from_static("41"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        let got = request(
            &addr,
            Duration::from_secs(5),
            &Method::GET,
            "/videos/v/live?x=1",
            &headers,
        )
        .await
        .unwrap();
        (got, task.await.unwrap())
    }

    async fn body(answer: Answer) -> io::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = answer.body.into_stream().try_collect().await?;
        Ok(chunks.concat())
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
        transfer-encoding: chunked\r\n\r\n\
        d\r\nretry: 3000\n\n\r\n\
        1C;ext=1\r\nevent: viewers\ndata: {\"n\":1}\r\n\
        0\r\nx-trailer: dropped\r\n\r\n";

    #[tokio::test]
    async fn a_chunked_stream_is_read_whole_however_it_is_split() {
        for piece in [1, 2, 3, 7, 64, 4096] {
            let (answer, head) = fetch(CHUNKED, piece).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.headers["content-type"], "text/event-stream");
            let got = body(answer).await.unwrap();
            assert_eq!(
                got, b"retry: 3000\n\nevent: viewers\ndata: {\"n\":1}",
                "piece {piece}"
            );
            // The request: its line, the upstream's host, the fields, and our own close.
            assert!(
                head.starts_with("GET /videos/v/live?x=1 HTTP/1.1\r\nhost: 127.0.0.1:"),
                "{head}"
            );
            assert!(head.contains("\r\nlast-event-id: 41\r\n"), "{head}");
            assert!(head.ends_with("\r\nconnection: close\r\n\r\n"), "{head}");
            assert!(!head.contains("keep-alive"), "{head}");
        }
    }

    #[tokio::test]
    async fn a_sized_answer_and_one_ending_with_the_connection_are_read_whole() {
        let (answer, _) = fetch(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nnope!",
            3,
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(body(answer).await.unwrap(), b"nope!");
        let (answer, _) = fetch(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", 4).await;
        assert_eq!(body(answer).await.unwrap(), b"until the end");
    }

    #[tokio::test]
    async fn a_cut_or_malformed_body_is_an_error_not_an_end() {
        let cut: &[&'static [u8]] = &[
            // Closed in the middle of a chunk, of a size line, before the last chunk.
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nonly a part",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
        ];
        for answer in cut {
            let (got, _) = fetch(answer, 5).await;
            let e = body(got).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        }
        let malformed: &[&'static [u8]] = &[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        ];
        for answer in malformed {
            let (got, _) = fetch(answer, 64).await;
            let e = body(got).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        }
    }

    #[tokio::test]
    async fn answers_that_cannot_be_framed_are_refused() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            let (addr, _task) = upstream(answer, 64).await;
            let refused = request(
                &addr,
                Duration::from_secs(5),
                &Method::GET,
                "/",
                &HeaderMap::new(),
            )
            .await
            .err()
            .expect("refused");
            assert_eq!(refused.kind(), io::ErrorKind::InvalidData, "{refused}");
        }
    }
}
