//! The browser side of sign-in: reading and writing the `session` and `user` cookies, and the
//! `Origin` check that refuses state-changing requests from other sites.
//!
//! The session id lives only in an `HttpOnly; SameSite=Lax` cookie, so page JavaScript never sees
//! it. The `user` cookie (also HttpOnly) remembers the signed-in name so pages can address the
//! api's `/user/{name}` routes; it grants nothing: every action is authorised by the api from the
//! session alone, so a forged name only makes the api refuse.

use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method};

use crate::urls;

pub const SESSION_COOKIE: &str = "session";
pub const USER_COOKIE: &str = "user";

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

/// The session id and user name a signed-in browser carries.
pub struct SignedIn {
    pub session: String,
    pub user: String,
}

pub fn signed_in(headers: &HeaderMap) -> Option<SignedIn> {
    let session = cookie(headers, SESSION_COOKIE)?;
    let user = cookie(headers, USER_COOKIE)?;
    let user = percent_encoding::percent_decode_str(user)
        .decode_utf8()
        .ok()?;
    Some(SignedIn {
        session: session.to_string(),
        user: user.into_owned(),
    })
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

    /// `Set-Cookie` values that sign the browser in (or renew the sign-in's lifetime, which the
    /// api renews on every use).
    pub fn sign_in(&self, session: &str, user: &str) -> [HeaderValue; 2] {
        let age = self.max_age.as_secs();
        let user = urls::segment(user);
        [
            header_value(format!("{SESSION_COOKIE}={session}{}", self.attrs(age))),
            header_value(format!("{USER_COOKIE}={user}{}", self.attrs(age))),
        ]
    }

    /// `Set-Cookie` values that remove both cookies.
    pub fn sign_out(&self) -> [HeaderValue; 2] {
        [
            header_value(format!("{SESSION_COOKIE}={}", self.attrs(0))),
            header_value(format!("{USER_COOKIE}={}", self.attrs(0))),
        ]
    }
}

/// Cookie values are built from a UUID and a percent-encoded name, so they are always valid
/// header text; the fallback only guards against a future change breaking that.
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
        let s = signed_in(&h).unwrap();
        assert_eq!((s.session.as_str(), s.user.as_str()), ("abc", "ann b"));
        assert!(signed_in(&headers(&[("cookie", "session=")])).is_none());
    }

    #[test]
    fn cookie_flags() {
        let p = CookiePolicy {
            secure: false,
            max_age: Duration::from_secs(1800),
        };
        let [s, u] = p.sign_in("sid", "ann");
        assert_eq!(
            s,
            "session=sid; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800"
        );
        assert_eq!(u, "user=ann; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800");
        let p = CookiePolicy { secure: true, ..p };
        assert!(p.sign_in("sid", "ann")[0]
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        assert!(p.sign_out()[0].to_str().unwrap().contains("Max-Age=0"));
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
