//! The web's one error type: the code each variant is answered with (from svc's one table), the
//! words a person reads, and the JSON error body of SPEC section 3 for proxied `/api`, tus and
//! other script requests.
//!
//! The HTML error page is a view (`views::error_page`); which of the two a request gets is
//! decided with its route in `routes.rs`. Upstream failures carry their cause into the log only;
//! the words say what happened in a way a person can act on, never the internals.

use svc::http::{error_json, Body, ErrorCode};

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The api or the streamserver could not be reached or broke mid-answer: 502.
    #[error("upstream failed: {0}")]
    Upstream(String),
    /// No such page or thing: 404.
    #[error("not found")]
    NotFound,
    /// A state-changing request from another site (`Origin`/`Referer` mismatch): 403.
    #[error("cross-origin request refused")]
    ForeignOrigin,
    /// The api refused the action (403 not yours, 404 gone, 422 invalid, ...): the code of its
    /// status (`ErrorCode::for_status`) and its message are shown as they are.
    #[error("api said {}: {message}", code.as_str())]
    Api { code: ErrorCode, message: String },
    /// A malformed form or path: 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A form post that is not `application/x-www-form-urlencoded`: 415.
    #[error("a form post of another content type")]
    NotAForm,
    /// A form post larger than `limit` bytes: 413.
    #[error("a form post over {limit} bytes")]
    FormTooLarge { limit: usize },
    /// Rendering a template failed (a bug): 500.
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

impl WebError {
    /// The code, and with it the status, the error is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            WebError::Upstream(_) => ErrorCode::BadGateway,
            WebError::NotFound => ErrorCode::NotFound,
            WebError::ForeignOrigin => ErrorCode::Forbidden,
            WebError::Api { code, .. } => *code,
            WebError::BadRequest(_) => ErrorCode::BadRequest,
            WebError::NotAForm => ErrorCode::UnsupportedMediaType,
            WebError::FormTooLarge { .. } => ErrorCode::TooLarge,
            WebError::Render(_) => ErrorCode::Internal,
        }
    }

    /// Whether the api answered with `code` (a 401 means the session is gone, a 404 that the
    /// thing is).
    pub fn is_api(&self, code: ErrorCode) -> bool {
        matches!(self, WebError::Api { code: c, .. } if *c == code)
    }

    /// The title and explanation a person sees.
    pub fn words(&self) -> (String, String) {
        let (title, message): (&str, String) = match self {
            WebError::Upstream(_) => (
                "Service unavailable",
                "Part of the site is not answering right now. Nothing you did caused this; \
                 please try again in a minute."
                    .into(),
            ),
            WebError::NotFound => (
                "Not found",
                "There is nothing here. The video or page may have been deleted, or the link \
                 is mistyped."
                    .into(),
            ),
            WebError::ForeignOrigin => (
                "Request refused",
                "This request came from another web site, so it was refused to protect your \
                 account. Go back to the site and try again from there."
                    .into(),
            ),
            WebError::Api { code, message } => (api_title(*code), message.clone()),
            WebError::BadRequest(m) => ("Bad request", m.clone()),
            WebError::NotAForm => (
                "That did not work",
                "send this form as application/x-www-form-urlencoded".into(),
            ),
            WebError::FormTooLarge { limit } => (
                "That did not work",
                format!("the form is larger than {limit} bytes"),
            ),
            WebError::Render(_) => (
                "Something went wrong",
                "The page could not be shown. Please try again.".into(),
            ),
        };
        (title.into(), message)
    }

    /// Logs what the client is not told: upstream and rendering failures with their cause.
    pub fn log(&self) {
        match self {
            WebError::Upstream(cause) => tracing::error!(%cause, "upstream failed"),
            WebError::Render(e) => tracing::error!(error = %e, "template failed"),
            WebError::Api { code, .. } if code.status().is_server_error() => {
                tracing::warn!(status = %code.status(), "api failed")
            }
            _ => {}
        }
    }

    /// The JSON error body (`/api`, tus, scripts).
    pub fn to_json(&self) -> http::Response<Body> {
        let message = match self {
            WebError::Upstream(_) => "upstream service unavailable; try again shortly".to_string(),
            _ => self.words().1,
        };
        error_json(self.code(), &message)
    }
}

/// The title of the page showing an api refusal.
fn api_title(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Forbidden => "Not allowed",
        ErrorCode::NotFound => "Not found",
        ErrorCode::TooManyRequests => "Too many requests",
        c if c.status().is_server_error() => "Something went wrong",
        _ => "That did not work",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn every_error_answers_with_its_code_and_status() {
        let cases = [
            (WebError::Upstream("x".into()), "502", 502),
            (WebError::NotFound, "404", 404),
            (WebError::ForeignOrigin, "403", 403),
            (WebError::BadRequest("x".into()), "001", 400),
            (WebError::NotAForm, "415", 415),
            (WebError::FormTooLarge { limit: 1 }, "413", 413),
            (
                WebError::Api {
                    code: ErrorCode::for_status(StatusCode::CONFLICT),
                    message: "taken".into(),
                },
                "409",
                409,
            ),
            (
                WebError::Api {
                    code: ErrorCode::for_status(StatusCode::UNAUTHORIZED),
                    message: "who?".into(),
                },
                "002",
                401,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code().as_str(), code, "{error}");
            assert_eq!(error.to_json().status().as_u16(), status, "{error}");
        }
    }

    #[test]
    fn api_refusals_keep_their_message_and_get_a_title() {
        let e = WebError::Api {
            code: ErrorCode::Forbidden,
            message: "not yours".into(),
        };
        assert_eq!(e.words(), ("Not allowed".into(), "not yours".into()));
        assert!(e.is_api(ErrorCode::Forbidden) && !e.is_api(ErrorCode::NotFound));
        assert_eq!(api_title(ErrorCode::Unavailable), "Something went wrong");
        assert_eq!(api_title(ErrorCode::Invalid), "That did not work");
    }
}
