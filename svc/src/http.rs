//! Response builders and request-body readers shared by every handler, so no handler assembles a
//! hyper body by hand, plus the request extensions the server loop attaches.
//!
//! Error *shapes* are a service's own business; the JSON error body of SPEC section 3
//! (`{"error","error_code"}`) lives here only because api, streamserver and scheduler all use it.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{
    combinators::UnsyncBoxBody, BodyExt, Empty, Full, LengthLimitError, Limited, StreamBody,
};
use serde::{de::DeserializeOwned, Serialize};

/// Any error a body can fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one response body type: full, empty or streamed.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// The socket peer of the connection a request came in on (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The request's `X-Request-Id`, taken from the request or generated (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The route a response was produced by, as a low-cardinality metrics label (a response
/// extension). Responses without one are counted under `unmatched`.
#[derive(Debug, Clone, Copy)]
pub struct RouteName(pub &'static str);

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body with no bytes.
pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(empty_body());
    *resp.status_mut() = status;
    resp
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", full(body.into()))
}

/// An HTML response.
pub fn html(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    with_type(status, "text/html; charset=utf-8", full(body.into()))
}

/// A JSON response. Serialising our own response types cannot fail; if it ever did the client
/// gets a generic 500 rather than a half-written body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, "application/json", full(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "serialising a response failed");
            error_json(ErrorCode::Internal, "Internal service error")
        }
    }
}

/// The one table of error codes, for every process: each code with the status it is sent with.
/// The original project's four codes stay (SPEC section 3); every other code is its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400 `001`: a malformed request (body, header, path or query).
    BadRequest,
    /// 401 `002`: no valid session.
    NotAuthenticated,
    /// 500 `003`: the database failed.
    Database,
    /// 500 `004`: anything else that failed inside.
    Internal,
    /// 403 `403`.
    Forbidden,
    /// 404 `404`.
    NotFound,
    /// 405 `405`, with `Allow`.
    MethodNotAllowed,
    /// 409 `409`: conflicts with the current state.
    Conflict,
    /// 410 `410`: an expired resumable upload.
    Gone,
    /// 412 `412`: a failed precondition (tus version).
    PreconditionFailed,
    /// 413 `413`: over a size limit.
    TooLarge,
    /// 415 `415`: the wrong content type, or not a video.
    UnsupportedMediaType,
    /// 416 `416`, with `Content-Range: bytes */LEN`.
    RangeNotSatisfiable,
    /// 422 `422`: well-formed but out of bounds.
    Invalid,
    /// 429 `429`, with `Retry-After`.
    TooManyRequests,
    /// 431 `431`: a request header line over 16 KiB (the server loop's cap).
    HeaderFieldsTooLarge,
    /// 460 `460`: a tus chunk whose checksum does not match (tus 1.0.0, checksum extension).
    ChecksumMismatch,
    /// 502 `502`: an upstream did not answer (web's proxy).
    BadGateway,
    /// 503 `503`: not ready, or shutting down.
    Unavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::BadRequest,
        ErrorCode::NotAuthenticated,
        ErrorCode::Database,
        ErrorCode::Internal,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::Gone,
        ErrorCode::PreconditionFailed,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::Invalid,
        ErrorCode::TooManyRequests,
        ErrorCode::HeaderFieldsTooLarge,
        ErrorCode::ChecksumMismatch,
        ErrorCode::BadGateway,
        ErrorCode::Unavailable,
    ];

    /// The `error_code` field.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "001",
            ErrorCode::NotAuthenticated => "002",
            ErrorCode::Database => "003",
            ErrorCode::Internal => "004",
            ErrorCode::Forbidden => "403",
            ErrorCode::NotFound => "404",
            ErrorCode::MethodNotAllowed => "405",
            ErrorCode::Conflict => "409",
            ErrorCode::Gone => "410",
            ErrorCode::PreconditionFailed => "412",
            ErrorCode::TooLarge => "413",
            ErrorCode::UnsupportedMediaType => "415",
            ErrorCode::RangeNotSatisfiable => "416",
            ErrorCode::Invalid => "422",
            ErrorCode::TooManyRequests => "429",
            ErrorCode::HeaderFieldsTooLarge => "431",
            ErrorCode::ChecksumMismatch => "460",
            ErrorCode::BadGateway => "502",
            ErrorCode::Unavailable => "503",
        }
    }

    /// The status the code is sent with.
    pub fn status(self) -> StatusCode {
        let code = match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::NotAuthenticated => 401,
            ErrorCode::Database | ErrorCode::Internal => 500,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::Gone => 410,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::TooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RangeNotSatisfiable => 416,
            ErrorCode::Invalid => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::HeaderFieldsTooLarge => 431,
            ErrorCode::ChecksumMismatch => 460,
            ErrorCode::BadGateway => 502,
            ErrorCode::Unavailable => 503,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The code for an error status produced elsewhere (an upstream's answer that web turns into
    /// a page or JSON); 500 and unknown statuses are [`ErrorCode::Internal`].
    pub fn for_status(status: StatusCode) -> Self {
        Self::ALL
            .into_iter()
            .find(|c| c.status() == status && *c != ErrorCode::Database)
            .unwrap_or(ErrorCode::Internal)
    }
}

/// The error body of SPEC section 3: `{"error": "<human text>", "error_code": "<code>"}`, sent
/// with the code's status.
pub fn error_json(code: ErrorCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message, "error_code": code.as_str() });
    with_type(code.status(), "application/json", full(body.to_string()))
}

/// A streamed response: chunks are sent as the stream yields them, with backpressure.
pub fn stream<S, E>(status: StatusCode, chunks: S) -> Response<Body>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let frames = chunks.map_ok(http_body::Frame::data).map_err(Into::into);
    let mut resp = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    *resp.status_mut() = status;
    resp
}

/// The client's address: the socket peer, unless that peer is a trusted proxy (web, nginx); then
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Right-most, because
/// entries left of the last trusted hop were written by the client and can be forged. Used by
/// every per-client limit (api logins, streamserver rates and slots).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    // Several X-Forwarded-For fields are one comma-separated list in order (RFC 9110 5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Garbage in the chain: nothing past it can be believed; the proxy is the last
            // address known to be real.
            Err(_) => return peer,
        }
    }
    peer
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes than the limit: 413.
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The client went away or sent a broken body: 400.
    #[error("request body could not be read: {0}")]
    Read(BoxError),
}

/// Reads a whole request body, refusing more than `limit` bytes without buffering past it.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(e) => Err(BodyError::Read(e)),
    }
}

/// Parses JSON into `T`, turning serde's error into a message a person can act on
/// (it names the field and the position).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => {
                "request body is empty; expected a JSON object".to_string()
            }
            Category::Syntax | Category::Eof => format!("request body is not valid JSON: {e}"),
            Category::Data => format!("request body has the wrong shape: {e}"),
            Category::Io => format!("request body could not be read: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_distinct_and_maps_back_from_its_status() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} reuses a code");
            assert!(code.status().is_client_error() || code.status().is_server_error());
            if code != ErrorCode::Database {
                assert_eq!(ErrorCode::for_status(code.status()), code);
            }
        }
        assert_eq!(ErrorCode::BadRequest.as_str(), "001");
        assert_eq!(
            ErrorCode::for_status(StatusCode::IM_A_TEAPOT),
            ErrorCode::Internal
        );
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        user_name: String,
        pwd: String,
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        assert!(parse_json::<Login>(b"").unwrap_err().contains("empty"));
        assert!(parse_json::<Login>(b"{nope")
            .unwrap_err()
            .contains("not valid JSON"));
        let e = parse_json::<Login>(br#"{"user_name": 5, "pwd": "x"}"#).unwrap_err();
        assert!(e.contains("wrong shape") && e.contains("integer"), "{e}");
        let e = parse_json::<Login>(br#"{"user_name": "a"}"#).unwrap_err();
        assert!(e.contains("missing field `pwd`"), "{e}");
        let e = parse_json::<Login>(br#"{"user_name":"a","pwd":"b","x":1}"#).unwrap_err();
        assert!(e.contains("unknown field `x`"), "{e}");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn client_ip_believes_only_trusted_proxies() {
        let trusted = [ip("127.0.0.1"), ip("::1"), ip("10.0.0.2")];
        // A direct client: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        // Through web: the right-most untrusted hop.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4, 198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // Through nginx then web (two header fields): trusted hops are skipped.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &xff(&["198.51.100.7", "10.0.0.2"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // No header, or only trusted hops: the peer.
        assert_eq!(client_ip(ip("::1"), &xff(&[]), &trusted), ip("::1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["10.0.0.2"]), &trusted),
            ip("127.0.0.1")
        );
        // Garbage in the chain stops the walk.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4, junk"]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["2001:db8::1"]), &trusted),
            ip("2001:db8::1")
        );
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4"]), &[]),
            ip("127.0.0.1")
        );
    }

    #[tokio::test]
    async fn body_limit_is_enforced() {
        let body = Full::new(Bytes::from(vec![b'a'; 100]));
        assert!(matches!(
            read_body(body, 99).await,
            Err(BodyError::TooLarge { limit: 99 })
        ));
        let body = Full::new(Bytes::from(vec![b'a'; 100]));
        assert_eq!(read_body(body, 100).await.unwrap().len(), 100);
    }
}
