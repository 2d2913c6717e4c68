//! The web's configuration, from environment variables (all listed in `.env.example`).
//!
//! Only settings of the web process live here; the shared ones (`DRAIN_TIMEOUT`, `LOG_FORMAT`)
//! come from `svc::config::Common`.

use std::net::SocketAddr;
use std::time::Duration;

use svc::config::{Common, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `WEB_ADDR`, default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// `API_URL`: where the api listens, default http://127.0.0.1:8000.
    pub api_url: String,
    /// `STREAM_URL`: where the streamserver listens, default http://127.0.0.1:9000.
    pub stream_url: String,
    /// `COOKIE_SECURE`: add `Secure` to the session cookie (set it when the site is served over
    /// HTTPS), default false.
    pub cookie_secure: bool,
    /// `SESSION_TTL`: the cookie's `Max-Age`; must match the api's session lifetime, default 30m.
    pub session_ttl: Duration,
    /// `TRUST_FORWARDED_FOR`: when web sits behind a reverse proxy (nginx), keep the client's
    /// `X-Forwarded-For` and append the peer; otherwise the peer replaces it. Default false.
    pub trust_forwarded_for: bool,
    /// `UPSTREAM_CONNECT_TIMEOUT`: how long to wait for api or streamserver to accept a
    /// connection before answering 502, default 5s.
    pub upstream_connect_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: Common::from_env(env)?,
            addr: env.addr("WEB_ADDR", "127.0.0.1:8080")?,
            api_url: base_url(env, "API_URL", "http://127.0.0.1:8000")?,
            stream_url: base_url(env, "STREAM_URL", "http://127.0.0.1:9000")?,
            cookie_secure: env.get("COOKIE_SECURE", false)?,
            session_ttl: env.duration("SESSION_TTL", Duration::from_secs(30 * 60))?,
            trust_forwarded_for: env.get("TRUST_FORWARDED_FOR", false)?,
            upstream_connect_timeout: env
                .duration("UPSTREAM_CONNECT_TIMEOUT", Duration::from_secs(5))?,
        })
    }
}

/// An upstream base URL: `http://host:port` with an optional path prefix, no trailing slash,
/// no query. Only plain HTTP: upstreams sit on loopback or a private network.
fn base_url(env: &Env, name: &str, default: &str) -> Result<String, ConfigError> {
    let raw = env.string(name, default);
    let bad = |reason: &str| ConfigError {
        name: name.into(),
        value: raw.clone(),
        reason: reason.into(),
    };
    let uri: http::Uri = raw
        .parse()
        .map_err(|_| bad("expected a URL such as http://127.0.0.1:8000"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(bad(
            "expected an http:// URL with a host, such as http://127.0.0.1:8000",
        ));
    }
    if uri.query().is_some() {
        return Err(bad("must not have a query"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let c = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(c.api_url, "http://127.0.0.1:8000");
        assert!(!c.cookie_secure);
        assert_eq!(c.session_ttl, Duration::from_secs(1800));
        let c = Config::from_env(&Env::from_pairs(&[("STREAM_URL", "http://s:9/")])).unwrap();
        assert_eq!(c.stream_url, "http://s:9");
        for (name, value) in [
            ("API_URL", "ftp://x"),
            ("API_URL", "not a url"),
            ("STREAM_URL", "https://x:1"),
            ("COOKIE_SECURE", "maybe"),
        ] {
            let e = Config::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
        }
    }
}
