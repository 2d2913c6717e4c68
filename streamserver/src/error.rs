//! The streamserver's one error type and how each variant reaches the client.
//!
//! Handlers return `Result<Response<Body>, Error>`; [`Error::code`] is the one place that maps a
//! variant to its code in `svc::http::ErrorCode` (which decides the status), and
//! [`Error::into_response`] the one place that writes the `{"error","error_code"}` body and the
//! headers some statuses carry. Database and I/O causes are logged here and never shown.

use http::{header, HeaderValue, Response, StatusCode};
use svc::http::{error_json, Body, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400, code 001: a malformed request (headers or body).
    #[error("{0}")]
    BadRequest(String),
    /// 401, code 002: no valid session or upload token.
    #[error("not authenticated: send a valid session (X-Session-Id header or session cookie) or an upload token (Authorization: Bearer <token>)")]
    Unauthenticated,
    /// 403: someone else's video.
    #[error("this video belongs to another user")]
    Forbidden,
    /// 403: a signed path or upload token that is malformed, expired or not for this request.
    #[error("{0}")]
    Grant(#[from] svc::media::GrantError),
    /// 403: an upload token that is malformed, expired or not for this video, in words for an
    /// upload (what was sent is kept).
    #[error("{}", upload_refusal(*.0))]
    UploadGrant(svc::media::GrantError),
    /// 403: a signed path or upload token sent to a streamserver without `MEDIA_SIGNING_KEY`.
    #[error("this media server does not accept signed links or upload tokens (it has no MEDIA_SIGNING_KEY); use the site's own links")]
    NoGrants,
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

/// Why an upload token was refused, and that the bytes already taken are not lost.
fn upload_refusal(e: svc::media::GrantError) -> &'static str {
    use svc::media::GrantError;
    match e {
        GrantError::Expired => {
            "this upload's token has expired; reload the page to get a new one and resume: the \
             bytes sent so far are kept"
        }
        GrantError::Malformed => {
            "this upload token is malformed; reload the page to get a new one and resume"
        }
        GrantError::Invalid => {
            "this upload token is not valid for this video; reload the page to get a new one and resume"
        }
    }
}

impl Error {
    /// The code the client is sent; the status is the code's.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::Unauthenticated => ErrorCode::NotAuthenticated,
            Error::Forbidden | Error::Grant(_) | Error::UploadGrant(_) | Error::NoGrants => {
                ErrorCode::Forbidden
            }
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Gone => ErrorCode::Gone,
            Error::PreconditionFailed(_) => ErrorCode::PreconditionFailed,
            Error::TooLarge(_) => ErrorCode::TooLarge,
            Error::Unsupported(_) => ErrorCode::UnsupportedMediaType,
            Error::RangeNotSatisfiable(_) => ErrorCode::RangeNotSatisfiable,
            Error::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            Error::ChecksumMismatch => ErrorCode::ChecksumMismatch,
            Error::Db(_) => ErrorCode::Database,
            Error::Io(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    pub fn not_found(what: &str) -> Self {
        Error::NotFound(format!("{what} not found"))
    }

    /// What the client reads: the variant's text, except for internal failures, whose cause
    /// goes to the log and never to the client.
    fn message(&self) -> String {
        match self {
            Error::Db(e) => {
                tracing::error!(error = %e, "database error");
                "Database error".to_string()
            }
            Error::Io(e) => {
                metrics::counter!("stream_storage_errors_total").increment(1);
                tracing::error!(error = %e, "I/O error");
                "Internal service error".to_string()
            }
            _ => self.to_string(),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = error_json(self.code(), &self.message());
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response<Body>) -> serde_json::Value {
        use http_body_util::BodyExt;
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The answers clients saw before the codes moved into `svc::http::ErrorCode`.
    #[tokio::test]
    async fn every_variant_keeps_its_status_code_and_message() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (Error::BadRequest("bad".into()), 400, "001"),
            (Error::Unauthenticated, 401, "002"),
            (Error::Forbidden, 403, "403"),
            (Error::Grant(svc::media::GrantError::Expired), 403, "403"),
            (
                Error::UploadGrant(svc::media::GrantError::Expired),
                403,
                "403",
            ),
            (Error::NoGrants, 403, "403"),
            (Error::not_found("video"), 404, "404"),
            (Error::Conflict("c".into()), 409, "409"),
            (Error::Gone, 410, "410"),
            (Error::PreconditionFailed("p".into()), 412, "412"),
            (Error::TooLarge("t".into()), 413, "413"),
            (Error::Unsupported("u".into()), 415, "415"),
            (Error::RangeNotSatisfiable(10), 416, "416"),
            (
                Error::TooManyRequests {
                    message: "slow".into(),
                    retry_after: 0,
                },
                429,
                "429",
            ),
            (Error::ChecksumMismatch, 460, "460"),
            (Error::Io(std::io::Error::other("disk on fire")), 500, "004"),
        ];
        for (error, status, code) in cases {
            let text = error.to_string();
            let internal = matches!(error, Error::Io(_));
            let resp = error.into_response();
            assert_eq!(resp.status().as_u16(), status, "{text}");
            let headers = resp.headers().clone();
            let body = body_of(resp).await;
            assert_eq!(body["error_code"], code, "{text}");
            if internal {
                assert_eq!(body["error"], "Internal service error");
            } else {
                assert_eq!(body["error"], text.as_str());
            }
            match status {
                416 => assert_eq!(headers[header::CONTENT_RANGE], "bytes */10"),
                // A Retry-After of 0 would invite a busy loop: at least one second.
                429 => assert_eq!(headers[header::RETRY_AFTER], "1"),
                _ => {}
            }
        }
        assert_eq!(Error::not_found("video").to_string(), "video not found");
    }
}
