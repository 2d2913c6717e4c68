//! The browser side of sign-in: reading and writing the `session` cookie, and the `Origin` check
//! that refuses state-changing requests from other sites.
//!
//! The session id lives only in an `HttpOnly; SameSite=Lax` cookie, so page JavaScript never sees
//! it. It is the one thing a browser carries about its sign-in: who it belongs to is the api's
//! answer to `GET /session` (`identity.rs`), never something the browser says, so one cookie
//! means one sign-in and there is nothing else to forge.

use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method};

pub const SESSION_COOKIE: &str = "session";

/// The value of cookie `name` in the request's `Cookie` headers (RFC 6265 section 5.4).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The session id the browser carries, if any; whether it is still good is the api's to say.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).map(str::to_owned)
}

/// How cookies are written.
#[derive(Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
    pub max_age: Duration,
}

impl CookiePolicy {
    fn attrs(&self, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
    }

    /// The `Set-Cookie` value that signs the browser in (or renews the sign-in's lifetime, which
    /// the api renews on every use).
    pub fn sign_in(&self, session: &str) -> HeaderValue {
        let age = self.max_age.as_secs();
        header_value(format!("{SESSION_COOKIE}={session}{}", self.attrs(age)))
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn sign_out(&self) -> HeaderValue {
        header_value(format!("{SESSION_COOKIE}={}", self.attrs(0)))
    }
}

/// A session id is a UUID the api made, so the value is always valid header text; the fallback
/// only guards against a future change breaking that.
fn header_value(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Whether the method changes state (RFC 9110 section 9.2.1: not safe).
pub fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a state-changing request comes from this site: its `Origin` (or, when a browser
/// omits that, its `Referer`) names the same host and port as `Host`. Requests with neither come
/// from non-browser clients (curl, tus clients), which cookies do not ride along with, so they
/// pass. `Origin: null` (sandboxed frames, some redirects) is foreign.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().unwrap_or("null"));
    let Some(source) = source else {
        return true;
    };
    let Some(host) = host else {
        return false;
    };
    let Ok(uri) = source.parse::<http::Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(authority)) => {
            authority.as_str().eq_ignore_ascii_case(host)
                || same_default_port(authority, uri.scheme_str(), host)
        }
        _ => false,
    }
}

/// `Origin: https://example.org` against `Host: example.org:443` and the like.
fn same_default_port(authority: &http::uri::Authority, scheme: Option<&str>, host: &str) -> bool {
    let default = if scheme == Some("https") { 443 } else { 80 };
    let port = authority.port_u16().unwrap_or(default);
    let (host_name, host_port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, p),
            Err(_) => (host, default),
        },
        _ => (host, default),
    };
    authority.host().eq_ignore_ascii_case(host_name) && port == host_port
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[
            ("cookie", "a=1; session=abc; user=ann%20b"),
            ("cookie", "x=y"),
        ]);
        assert_eq!(cookie(&h, "session"), Some("abc"));
        assert_eq!(cookie(&h, "x"), Some("y"));
        assert_eq!(cookie(&h, "sess"), None);
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert_eq!(session_id(&headers(&[("cookie", "session=")])), None);
        // A name alone signs nobody in.
        assert_eq!(session_id(&headers(&[("cookie", "user=ann")])), None);
    }

    #[test]
    fn cookie_flags() {
        let p = CookiePolicy {
            secure: false,
            max_age: Duration::from_secs(1800),
        };
        assert_eq!(
            p.sign_in("sid"),
            "session=sid; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800"
        );
        let p = CookiePolicy { secure: true, ..p };
        assert!(p.sign_in("sid").to_str().unwrap().ends_with("; Secure"));
        assert_eq!(
            p.sign_out(),
            "session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
        );
    }

    #[test]
    fn origin_check() {
        let ok = |pairs| same_origin(&headers(pairs));
        assert!(ok(&[("host", "127.0.0.1:8080")]));
        assert!(ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        assert!(ok(&[("host", "Site.org"), ("origin", "https://site.org")]));
        assert!(ok(&[
            ("host", "site.org:443"),
            ("origin", "https://site.org")
        ]));
        assert!(ok(&[
            ("host", "127.0.0.1:8080"),
            ("referer", "http://127.0.0.1:8080/watch/x")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8081")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:8080"), ("origin", "null")]));
        assert!(!ok(&[
            ("host", "site.org"),
            ("referer", "http://site.org.evil.example/")
        ]));
        assert!(!ok(&[("origin", "http://site.org")]));
        // Origin wins over a same-site Referer.
        assert!(!ok(&[
            ("host", "site.org"),
            ("origin", "http://evil.example"),
            ("referer", "http://site.org/")
        ]));
        assert!(changes_state(&Method::POST) && changes_state(&Method::PATCH));
        assert!(!changes_state(&Method::GET) && !changes_state(&Method::HEAD));
    }
}
