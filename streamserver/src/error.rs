//! The streamserver's one error type and how each variant reaches the client.
//!
//! Handlers return `Result<Response<Body>, Error>`; `into_response` is the one place that picks
//! the status and the `{"error","error_code"}` body. Database and I/O causes are logged here and
//! never shown.

use http::{header, HeaderValue, Response, StatusCode};
use svc::http::{error_json, Body};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400, code 001: a malformed request (headers or body).
    #[error("{0}")]
    BadRequest(String),
    /// 401, code 002: no valid session.
    #[error("not authenticated: send a valid session (X-Session-Id header or session cookie)")]
    Unauthenticated,
    /// 403: someone else's video.
    #[error("this video belongs to another user")]
    Forbidden,
    /// 404: unknown video, upload or thumbnail.
    #[error("{0}")]
    NotFound(String),
    /// 409: wrong state or offset.
    #[error("{0}")]
    Conflict(String),
    /// 410: an expired resumable upload.
    #[error("this upload has expired; start a new one")]
    Gone,
    /// 412: a failed precondition (tus version, If-Match).
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: not a video, or the wrong request content type.
    #[error("{0}")]
    Unsupported(String),
    /// 416 with `Content-Range: bytes */LEN` (RFC 9110 section 15.5.17).
    #[error("the requested range is outside the video (it has {0} bytes)")]
    RangeNotSatisfiable(u64),
    /// 429 with Retry-After (seconds).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// 460 (tus checksum extension): the chunk's checksum does not match.
    #[error("Upload-Checksum does not match the bytes received; the chunk was discarded")]
    ChecksumMismatch,
    /// 500, code 003.
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
    /// 500, code 004.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Gone => StatusCode::GONE,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            Error::Db(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Error::NotFound(format!("{what} not found"))
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let (code, message) = match &self {
            Error::BadRequest(_) => ("001".to_string(), self.to_string()),
            Error::Unauthenticated => ("002".to_string(), self.to_string()),
            Error::Db(e) => {
                tracing::error!(error = %e, "database error");
                ("003".to_string(), "Database error".to_string())
            }
            Error::Io(e) => {
                tracing::error!(error = %e, "I/O error");
                ("004".to_string(), "Internal service error".to_string())
            }
            _ => (status.as_u16().to_string(), self.to_string()),
        };
        let mut resp = error_json(status, &code, &message);
        match self {
            Error::TooManyRequests { retry_after, .. } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            Error::RangeNotSatisfiable(len) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        resp
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
