//! Telling HTTP/1 from HTTP/2 on one port, under the header read timeout.
//!
//! An HTTP/2 client without TLS starts with the connection preface (RFC 9113, section 3.4);
//! anything else is HTTP/1. hyper-util's `auto` builder makes the same choice but waits for
//! those bytes without a deadline, so a client that connects and sends nothing would hold its
//! connection forever. Here the server loop reads them under its own timeout, then hands the
//! connection to hyper's HTTP/1 or HTTP/2 builder with the bytes put back in front ([`Replay`]).
//! An HTTP/1 connection's first request line is read ahead the same way, to ask the app whether
//! it takes the request over (`takeover`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// RFC 9113, section 3.4.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How many bytes one read ahead asks for: most request heads arrive whole in one read.
const READ_AHEAD: usize = 1024;

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    Http1,
    Http2,
}

/// Reads until the bytes so far are the whole HTTP/2 preface or cannot begin it. `None` when
/// the client closes before sending a byte.
pub(super) async fn detect<T>(io: T) -> io::Result<Option<(Protocol, Replay<T>)>>
where
    T: AsyncRead + Unpin,
{
    let mut replay = Replay {
        ahead: Vec::new(),
        pos: 0,
        io,
    };
    loop {
        if replay.read_ahead().await? == 0 {
            if replay.ahead().is_empty() {
                return Ok(None);
            }
            // A few bytes then EOF: hyper answers whatever they are (or nothing).
            return Ok(Some((Protocol::Http1, replay)));
        }
        let head = replay.ahead();
        let n = head.len().min(H2_PREFACE.len());
        if head[..n] != H2_PREFACE[..n] {
            return Ok(Some((Protocol::Http1, replay)));
        }
        if n == H2_PREFACE.len() {
            return Ok(Some((Protocol::Http2, replay)));
        }
    }
}

/// A connection whose first bytes were already read: they are read again first, then the
/// buffer that held them is freed.
#[derive(Debug)]
pub(super) struct Replay<T> {
    ahead: Vec<u8>,
    /// How much of `ahead` was read again (or consumed) already.
    pos: usize,
    io: T,
}

impl<T: AsyncRead + Unpin> Replay<T> {
    /// The bytes read ahead and not consumed yet.
    pub(super) fn ahead(&self) -> &[u8] {
        &self.ahead[self.pos..]
    }

    /// Reads up to [`READ_AHEAD`] more bytes behind those already read; 0 at the end of the
    /// connection.
    pub(super) async fn read_ahead(&mut self) -> io::Result<usize> {
        self.ahead.reserve(READ_AHEAD);
        self.io.read_buf(&mut self.ahead).await
    }

    /// Takes the first `n` bytes ahead as consumed (a request head read here, not by hyper).
    pub(super) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.ahead.len());
        self.release_if_done();
    }

    /// The connection itself, for what the buffer does not concern (peeking, addresses).
    pub(super) fn get_ref(&self) -> &T {
        &self.io
    }

    fn release_if_done(&mut self) {
        if self.pos == self.ahead.len() && self.ahead.capacity() > 0 {
            self.ahead = Vec::new();
            self.pos = 0;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Replay<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.ahead.len() {
            let n = (this.ahead.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.ahead[this.pos..this.pos + n]);
            this.pos += n;
            this.release_if_done();
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Replay<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn detected(chunks: &[&[u8]]) -> Option<(Protocol, Vec<u8>)> {
        let (client, server) = tokio::io::duplex(1024);
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let writer = tokio::spawn(async move {
            let mut client = client;
            for chunk in chunks {
                client.write_all(&chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            client.shutdown().await.unwrap();
        });
        let result = detect(server).await.unwrap();
        writer.await.unwrap();
        let (protocol, mut replay) = result?;
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        Some((protocol, all))
    }

    #[tokio::test]
    async fn http1_is_seen_at_the_first_byte_and_every_byte_is_read_again() {
        let (protocol, bytes) = detected(&[b"GET / HTTP/1.1\r\n\r\n"]).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(bytes, b"GET / HTTP/1.1\r\n\r\n");
        // `P` could begin the preface, `PU` cannot.
        let (protocol, bytes) = detected(&[b"P", b"UT /x HTTP/1.1\r\n\r\n"]).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        assert_eq!(bytes, b"PUT /x HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn the_http2_preface_is_recognised_even_in_pieces() {
        let (protocol, bytes) = detected(&[b"PRI * HTTP/2.0\r\n", b"\r\nSM\r\n\r\n", b"frames"])
            .await
            .unwrap();
        assert_eq!(protocol, Protocol::Http2);
        assert_eq!(bytes, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nframes");
    }

    #[tokio::test]
    async fn a_client_that_sends_nothing_is_none() {
        assert!(detected(&[]).await.is_none());
        // A partial preface then EOF is left to HTTP/1, which answers or closes.
        let (protocol, bytes) = detected(&[b"PRI *"]).await.unwrap();
        assert_eq!(
            (protocol, bytes.as_slice()),
            (Protocol::Http1, &b"PRI *"[..])
        );
    }
}
