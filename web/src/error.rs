//! The web's one error type and how each variant is shown: an HTML error page for a person, or
//! the JSON error body of SPEC section 3 for proxied `/api`, tus and other script requests.
//!
//! Upstream failures carry their cause into the log only; the page says what happened in words a
//! person can act on, never the internals.

use http::{header, HeaderValue, StatusCode};
use svc::http::{error_json, html, Body};

use crate::views::{ErrorPage, Layout};

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
    /// The api refused the action (403 not yours, 404 gone, 422 invalid, ...): its status and
    /// message are shown as they are.
    #[error("api said {status}: {message}")]
    Api { status: StatusCode, message: String },
    /// A malformed form or path: 400.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Rendering a template failed (a bug): 500.
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Upstream(_) => StatusCode::BAD_GATEWAY,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::ForeignOrigin => StatusCode::FORBIDDEN,
            WebError::Api { status, .. } => *status,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The title and explanation a person sees.
    fn words(&self) -> (String, String) {
        match self {
            WebError::Upstream(_) => (
                "Service unavailable".into(),
                "Part of the site is not answering right now. Nothing you did caused this; \
                 please try again in a minute."
                    .into(),
            ),
            WebError::NotFound => (
                "Not found".into(),
                "There is nothing here. The video or page may have been deleted, or the link \
                 is mistyped."
                    .into(),
            ),
            WebError::ForeignOrigin => (
                "Request refused".into(),
                "This request came from another web site, so it was refused to protect your \
                 account. Go back to the site and try again from there."
                    .into(),
            ),
            WebError::Api { status, message } => {
                let title = match *status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::TOO_MANY_REQUESTS => "Too many requests",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "That did not work",
                };
                (title.into(), message.clone())
            }
            WebError::BadRequest(m) => ("Bad request".into(), m.clone()),
            WebError::Render(_) => (
                "Something went wrong".into(),
                "The page could not be shown. Please try again.".into(),
            ),
        }
    }

    fn log(&self) {
        match self {
            WebError::Upstream(cause) => tracing::error!(%cause, "upstream failed"),
            WebError::Render(e) => tracing::error!(error = %e, "template failed"),
            WebError::Api { status, .. } if status.is_server_error() => {
                tracing::warn!(%status, "api failed")
            }
            _ => {}
        }
    }

    /// The JSON error body (`/api`, tus, scripts).
    pub fn to_json(&self) -> http::Response<Body> {
        self.log();
        let status = self.status();
        let (_, message) = self.words();
        let message = match self {
            WebError::Upstream(_) => "upstream service unavailable; try again shortly".to_string(),
            _ => message,
        };
        error_json(status, status.as_str(), &message)
    }

    /// The HTML error page, inside the site's layout.
    pub fn to_page(&self, layout: Layout) -> http::Response<Body> {
        self.log();
        let status = self.status();
        let (title, message) = self.words();
        let page = ErrorPage {
            layout,
            status: status.as_u16(),
            title,
            message,
        };
        let mut resp = match askama::Template::render(&page) {
            Ok(body) => html(status, body),
            // The error page itself failed: a plain line is still better than nothing.
            Err(_) => svc::http::text(status, "Something went wrong. Please try again.\n"),
        };
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        resp
    }
}
