//! The one error type of the scheduler's HTTP handlers and how each variant maps to a status
//! and an error body (`{"error", "error_code"}`, SPEC section 3).

use http::{Response, StatusCode};
use svc::http::{error_json, Body};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 "400": a path parameter is malformed; the message says what is expected.
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
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        match &self {
            Error::BadRequest(msg) => error_json(self.status(), "400", msg),
            Error::NotFound(msg) => error_json(self.status(), "404", msg),
            Error::Conflict(msg) => error_json(self.status(), "409", msg),
            Error::Db(e) => {
                tracing::error!(error = %e, "database error");
                error_json(self.status(), "003", "Database error; try again later")
            }
        }
    }
}
