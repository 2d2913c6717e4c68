//! The web's configuration, from environment variables (all listed in `.env.example`).
//!
//! Only settings of the web process live here; the shared ones (`DRAIN_TIMEOUT`, `LOG_FORMAT`)
//! come from `svc::config::Common`.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// `PUBLIC_URL`: the site's address as visitors reach it (`https://videos.example.org`),
    /// for the absolute URLs of link previews (Open Graph), feeds and "Copy link"; default
    /// http://127.0.0.1:8080. No trailing slash.
    pub public_url: String,
    /// `MEDIA_URL`: where browsers reach the streamserver directly (issue 16), such as
    /// `https://media.example.org`; no path, no trailing slash. Unset (the default): every
    /// media URL stays on this site, through the proxy. Set: pages point media there (as the
    /// api's video objects give it) and old `/videos/` and `/thumbnails/` links redirect there.
    pub media_url: Option<String>,
    /// `STORAGE_DIR`, the streamserver's local storage directory, when web runs on the same
    /// host (as `./deploy.sh` installs it, with one environment for all four processes): web
    /// then sends the bytes of large media answers from the file itself once the streamserver
    /// has checked the request ([`svc::local_file`]). Unset, or with `STORAGE_BACKEND=s3`:
    /// every byte is proxied.
    pub local_files: Option<PathBuf>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: Common::from_env(env)?,
            addr: env.addr("WEB_ADDR", "127.0.0.1:8080")?,
            api_url: url(env, "API_URL", "http://127.0.0.1:8000", UrlKind::Upstream)?,
            stream_url: url(
                env,
                "STREAM_URL",
                "http://127.0.0.1:9000",
                UrlKind::Upstream,
            )?,
            cookie_secure: env.get("COOKIE_SECURE", false)?,
            session_ttl: env.duration("SESSION_TTL", Duration::from_secs(30 * 60))?,
            trust_forwarded_for: env.get("TRUST_FORWARDED_FOR", false)?,
            upstream_connect_timeout: env
                .duration("UPSTREAM_CONNECT_TIMEOUT", Duration::from_secs(5))?,
            public_url: url(env, "PUBLIC_URL", "http://127.0.0.1:8080", UrlKind::Public)?,
            media_url: match env.raw("MEDIA_URL") {
                None => None,
                Some(_) => Some(url(env, "MEDIA_URL", "", UrlKind::Public)?),
            },
            local_files: match env.raw("STORAGE_BACKEND").map(str::trim) {
                None | Some("" | "local") => env.raw("STORAGE_DIR").map(PathBuf::from),
                Some(_) => None,
            },
        })
    }
}

/// What a URL variable names, and so what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlKind {
    /// An upstream: `http://host:port` with an optional path prefix. Only plain HTTP:
    /// upstreams sit on loopback or a private network.
    Upstream,
    /// The site (or its media origin) as visitors reach it: `http://` or `https://` and a
    /// host, no path (every page link is written from the root, and the streamserver serves
    /// from its root, so a prefix would break them).
    Public,
}

/// A URL variable of `kind`, without its trailing slash; a query is never allowed.
fn url(env: &Env, name: &str, default: &str, kind: UrlKind) -> Result<String, ConfigError> {
    let raw = env.string(name, default);
    let bad = |reason: String| ConfigError {
        name: name.into(),
        value: raw.clone(),
        reason,
    };
    let (schemes, example) = match kind {
        UrlKind::Upstream => ("an http://", "http://127.0.0.1:8000"),
        UrlKind::Public => ("an http:// or https://", "https://videos.example.org"),
    };
    let uri: http::Uri = raw
        .parse()
        .map_err(|_| bad(format!("expected a URL such as {example}")))?;
    let scheme_ok = match kind {
        UrlKind::Upstream => uri.scheme_str() == Some("http"),
        UrlKind::Public => matches!(uri.scheme_str(), Some("http" | "https")),
    };
    let has_host = uri.authority().is_some_and(|a| !a.host().is_empty());
    if !scheme_ok || !has_host {
        return Err(bad(format!(
            "expected {schemes} URL with a host, such as {example}"
        )));
    }
    if uri.query().is_some() {
        return Err(bad("must not have a query".into()));
    }
    if kind == UrlKind::Public && !matches!(uri.path(), "" | "/") {
        return Err(bad(
            "must be the site's origin alone, without a path (the site is served from /)".into(),
        ));
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
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.media_url, None);
        let c = Config::from_env(&Env::from_pairs(&[
            ("STREAM_URL", "http://s:9/"),
            ("PUBLIC_URL", "https://videos.example.org/"),
            ("MEDIA_URL", "https://media.example.org:8443/"),
        ]))
        .unwrap();
        assert_eq!(
            c.media_url.as_deref(),
            Some("https://media.example.org:8443")
        );
        assert_eq!(c.stream_url, "http://s:9");
        assert_eq!(c.public_url, "https://videos.example.org");
        for (name, value) in [
            ("API_URL", "ftp://x"),
            ("API_URL", "not a url"),
            ("STREAM_URL", "https://x:1"),
            ("COOKIE_SECURE", "maybe"),
            ("PUBLIC_URL", "videos.example.org"),
            ("PUBLIC_URL", "ftp://videos.example.org"),
            ("PUBLIC_URL", "https://videos.example.org/sub"),
            ("PUBLIC_URL", "https://videos.example.org/?x=1"),
            ("PUBLIC_URL", "not a url"),
            ("MEDIA_URL", "media.example.org"),
            ("MEDIA_URL", "https://media.example.org/videos"),
            ("MEDIA_URL", "https://media.example.org?x=1"),
        ] {
            let e = Config::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
        }
    }
}
