//! The one error type of the scheduler's HTTP handlers and how each variant maps to an
//! [`ErrorCode`] of svc's one table, which decides the status and the error body
//! (`{"error", "error_code"}`, SPEC section 3). Errors of the job runner are not here: they
//! become a job's `last_error` (`work::WorkError`).

use http::Response;
use svc::http::{error_json, Body, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 "001": a path parameter is malformed; the message says what is expected.
    #[error("{0}")]
    BadRequest(String),
    /// 404 "404": nothing by that id.
    #[error("{0}")]
    NotFound(String),
    /// 409 "409": the request conflicts with the current state (deleting a video that exists).
    #[error("{0}")]
    Conflict(String),
    /// 500 "003": the database failed; the cause goes to the log only.
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
}

impl Error {
    /// The code, and with it the status, each variant is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Db(_) => ErrorCode::Database,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let message = match &self {
            Error::Db(e) => {
                tracing::error!(error = %e, "database error");
                "Database error; try again later".to_string()
            }
            client_error => client_error.to_string(),
        };
        error_json(self.code(), &message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_variant_answers_with_its_code_and_hides_database_causes() {
        use http_body_util::BodyExt;

        let cases = [
            (Error::BadRequest("bad id".into()), 400, "001"),
            (Error::NotFound("none".into()), 404, "404"),
            (Error::Conflict("exists".into()), 409, "409"),
            (
                Error::Db(mysql_async::Error::Other("secret cause".into())),
                500,
                "003",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code().as_str(), code, "{error:?}");
            let resp = error.into_response();
            assert_eq!(resp.status().as_u16(), status);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error_code"], code);
            assert!(
                !body["error"].as_str().unwrap().contains("secret"),
                "{body}"
            );
        }
    }
}
