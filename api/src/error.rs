//! The api's one error type. Each variant says which status it maps to; [`ApiError::code`] maps
//! it to the shared table of codes (`svc::http::ErrorCode`, which also gives the status) in one
//! place, and [`ApiError::into_response`] writes the `{"error","error_code"}` body of SPEC
//! section 3.
//!
//! Database and internal failures carry their cause into the log only: the client sees a
//! generic message.

use http::{header, HeaderValue, Response, StatusCode};
use svc::http::{error_json, Body, BodyError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400, code 001: malformed JSON, wrong types, unknown or missing fields, bad query values.
    #[error("{0}")]
    BadRequest(String),
    /// 401, code 002: no session, an unknown, expired or revoked one, or a failed login.
    #[error("{0}")]
    NotAuthenticated(&'static str),
    /// 403: logged in, but not allowed to do this to this resource.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such user, video or comment (or not visible to this user).
    #[error("{0}")]
    NotFound(&'static str),
    /// 409: the resource already exists (a taken user name).
    #[error("{0}")]
    Conflict(&'static str),
    /// 413: the body is over the limit.
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// 415: a body that says it is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed JSON whose values are out of bounds (name, password, title, comment).
    #[error("{0}")]
    Invalid(String),
    /// 429 with `Retry-After`: too many login, register, signed-out read or search requests
    /// from one client.
    #[error("too many requests from your address; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 429 with `Retry-After`: one user doing something faster than allowed (a danmaku every
    /// `DANMAKU_INTERVAL`); `what` says what, as a sentence start.
    #[error("{what} too fast; wait {retry_after_secs} s before the next one")]
    UserRateLimited {
        what: &'static str,
        retry_after_secs: u64,
    },
    /// 503: the process is shutting down (a live stream asked for while it drains).
    #[error("{0}")]
    Unavailable(&'static str),
    /// 500, code 003: the database failed.
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
    /// 500, code 004: anything else that is our fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The one decision of what a client is told: each variant's code in the shared table, which
    /// also fixes the status it is sent with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::NotAuthenticated(_) => ErrorCode::NotAuthenticated,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::TooLarge { .. } => ErrorCode::TooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Invalid(_) => ErrorCode::Invalid,
            ApiError::RateLimited { .. } => ErrorCode::TooManyRequests,
            ApiError::UserRateLimited { .. } => ErrorCode::TooManyRequests,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Db(_) => ErrorCode::Database,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    pub fn into_response(self) -> Response<Body> {
        let message = match &self {
            ApiError::Db(e) => {
                tracing::error!(error = %e, "database operation failed");
                "DB ops failed".to_string()
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "Internal service error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = error_json(self.code(), &message);
        if let ApiError::RateLimited { retry_after_secs }
        | ApiError::UserRateLimited {
            retry_after_secs, ..
        } = self
        {
            // RFC 9110 section 10.2.3: delay-seconds.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        resp
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => ApiError::TooLarge { limit },
            BodyError::Read(e) => {
                ApiError::BadRequest(format!("request body could not be read: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes and statuses clients saw before the shared table, kept exactly.
    fn every_variant() -> Vec<(ApiError, u16, &'static str)> {
        vec![
            (ApiError::BadRequest("x".into()), 400, "001"),
            (ApiError::NotAuthenticated("x"), 401, "002"),
            (ApiError::Forbidden("x"), 403, "403"),
            (ApiError::NotFound("x"), 404, "404"),
            (ApiError::Conflict("x"), 409, "409"),
            (ApiError::TooLarge { limit: 1 }, 413, "413"),
            (ApiError::UnsupportedMediaType("x".into()), 415, "415"),
            (ApiError::Invalid("x".into()), 422, "422"),
            (
                ApiError::RateLimited {
                    retry_after_secs: 3,
                },
                429,
                "429",
            ),
            (
                ApiError::UserRateLimited {
                    what: "You are sending danmaku",
                    retry_after_secs: 2,
                },
                429,
                "429",
            ),
            (ApiError::Unavailable("x"), 503, "503"),
            (
                ApiError::Db(mysql_async::Error::Other("secret detail".into())),
                500,
                "003",
            ),
            (ApiError::Internal("secret detail".into()), 500, "004"),
        ]
    }

    #[test]
    fn every_variant_has_its_status_and_code() {
        for (e, status, code) in every_variant() {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.code().as_str(), code, "{e:?}");
            assert_eq!(e.code().status(), e.status(), "{e:?}");
        }
    }

    #[tokio::test]
    async fn the_body_carries_the_same_code_and_status() {
        use http_body_util::BodyExt;
        for (e, status, code) in every_variant() {
            let resp = e.into_response();
            assert_eq!(resp.status().as_u16(), status);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["error_code"], code, "{body}");
            let message = body["error"].as_str().unwrap();
            assert!(!message.is_empty(), "{body}");
            assert!(!message.contains("secret detail"), "{body}");
        }
    }

    #[test]
    fn internals_never_reach_the_client_and_429_says_when() {
        let resp = ApiError::Internal("secret detail".into()).into_response();
        assert_eq!(resp.status(), 500);
        let resp = ApiError::RateLimited {
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
    }
}
