//! CORS for what the site's own pages do on the media origin (issue 16): read signed media and
//! upload (plain and tus). These answers go to exactly one origin, the site's (`PUBLIC_URL`),
//! and only when the request comes from it: `Access-Control-Allow-Origin` echoes that origin
//! with `Vary: Origin`, and any other origin gets no grant at all, so its scripts cannot read
//! the answer (Fetch standard, "CORS protocol"). No `Access-Control-Allow-Credentials`: nothing
//! here takes cookies across origins; signed paths and `Authorization: Bearer` upload tokens
//! carry the credential themselves.
//!
//! Media anyone may see is another matter, answered `*` by `routes::playback` (players on any
//! page may read it); a route is one or the other, never both (`routes::Route::is_site_only`).

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use svc::http::{empty, Body};

use crate::state::Stream as State;

/// What the site's scripts send to the media origin: tus's headers, `Authorization` for the
/// upload token, `Content-Type`, and `Range` with its validators for media.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Tus-Resumable, Upload-Length, \
     Upload-Offset, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Checksum, \
     X-HTTP-Method-Override, Range, If-Range, If-None-Match, If-Modified-Since";

/// What the site's scripts read: where a tus upload lives and how far it is, tus's own
/// headers, and byte serving's.
const EXPOSE_HEADERS: &str = "Location, Upload-Offset, Upload-Length, Upload-Expires, \
     Upload-Metadata, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, \
     Tus-Checksum-Algorithm, Content-Range, Content-Length, Accept-Ranges, ETag";

/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "86400";

/// The request's `Origin`, if it is the site's (`PUBLIC_URL`); `None` for any other, or when
/// this server has no `PUBLIC_URL`.
pub fn site_origin(state: &State, headers: &HeaderMap) -> Option<HeaderValue> {
    let site = state.config.site_origin.as_deref()?;
    headers
        .get(header::ORIGIN)
        .filter(|origin| origin.as_bytes() == site.as_bytes())
        .cloned()
}

/// Adds the site-only grant to an answer: `Vary: Origin` always (the answer depends on it),
/// `Access-Control-Allow-Origin` and the exposed headers when `origin` is the site's.
pub fn grant(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// A preflight's answer for a site-only route accepting `methods`: 204 with what may be sent
/// and for how long; [`grant`] (called by `routes::dispatch` on every site-only answer) decides
/// whether the origin gets it at all.
pub fn preflight(methods: &[Method]) -> Response<Body> {
    let mut resp = empty(StatusCode::NO_CONTENT);
    add_preflight(resp.headers_mut(), methods);
    resp
}

/// Adds a preflight's headers for `methods` to an answer (tus's `OPTIONS` is also its
/// discovery request, whose own headers stay).
pub fn add_preflight(headers: &mut HeaderMap, methods: &[Method]) {
    let list = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let pairs: [(HeaderName, HeaderValue); 3] = [
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        ),
        (
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_str(&list).unwrap_or(HeaderValue::from_static("OPTIONS")),
        ),
    ];
    for (name, value) in pairs {
        headers.insert(name, value);
    }
    if let Ok(allow) = HeaderValue::from_str(&list) {
        headers.insert(header::ALLOW, allow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grant_names_the_origin_or_nothing() {
        let mut h = HeaderMap::new();
        grant(&mut h, None);
        assert_eq!(h[header::VARY], "Origin");
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        let site = HeaderValue::from_static("https://videos.example.org");
        let mut h = HeaderMap::new();
        grant(&mut h, Some(site.clone()));
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], site);
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let exposed = h[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap();
        for name in ["Location", "Upload-Offset", "Content-Range", "ETag"] {
            assert!(exposed.contains(name), "{name}");
        }
    }

    #[test]
    fn a_preflight_allows_what_tus_sends() {
        let resp = preflight(&[Method::POST, Method::OPTIONS]);
        let h = resp.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "POST, OPTIONS");
        let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
        for name in ["Authorization", "Tus-Resumable", "Upload-Metadata", "Range"] {
            assert!(allowed.contains(name), "{name}");
        }
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], MAX_AGE);
    }
}
