//! The same-origin reverse proxy: `/api/<rest>` to the api as `/<rest>`, and `/videos/`,
//! `/upload/`, `/files/`, `/thumbnails/` to the streamserver unchanged (SPEC section 6).
//!
//! Bodies stream both ways through hyper with backpressure and are never collected, so a 1 GiB
//! upload or a long video costs web a few buffers, not the file. The upstream URL is always built
//! from the configured base plus the request's path: the request's authority is never used, so
//! nothing but the two upstreams is reachable (no open proxy). Which requests reach this module
//! (the route table) and the `Origin` check are `routes.rs`; page rendering does not belong here.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::body::Incoming;
use svc::http::Body;

use crate::error::WebError;
use crate::upstream::{self, error_chain};

/// Which upstream a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upstream {
    Api,
    Stream,
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1) plus `Proxy-*` and `Expect`: they describe one
/// connection, not the message, so they are never forwarded. `Expect: 100-continue` was already
/// answered by web's own server when it started reading the body.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
const X_USER_NAME: HeaderName = HeaderName::from_static("x-user-name");

/// The HTTP client to both upstreams and their base URLs.
pub struct Proxy {
    client: upstream::Client,
    api_url: String,
    stream_url: String,
    trust_forwarded_for: bool,
    secure: bool,
}

/// What the proxy needs to know about the client besides the request itself.
pub struct Caller {
    /// The connection's peer, for `X-Forwarded-For`.
    pub peer: IpAddr,
    /// The session id from the `session` cookie, if any.
    pub session: Option<String>,
}

impl Proxy {
    pub fn new(
        client: upstream::Client,
        api_url: &str,
        stream_url: &str,
        trust_forwarded_for: bool,
        secure: bool,
    ) -> Self {
        Proxy {
            client,
            api_url: api_url.to_string(),
            stream_url: stream_url.to_string(),
            trust_forwarded_for,
            secure,
        }
    }

    /// Forwards an `/api/<rest>` request to the api as `/<rest>` with its query, unless
    /// [`api_path`] refuses the path (404).
    pub async fn to_api(
        &self,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let path = api_path(req.uri().path()).ok_or(WebError::NotFound)?;
        let target = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        self.forward(Upstream::Api, &target, req, caller).await
    }

    /// Forwards a request to the streamserver with its path and query unchanged.
    pub async fn to_stream(
        &self,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let target = req.uri().path_and_query().map_or_else(
            || req.uri().path().to_string(),
            |pq| pq.as_str().to_string(),
        );
        self.forward(Upstream::Stream, &target, req, caller).await
    }

    /// Forwards `req` to `upstream` at `path_and_query` and streams the answer back.
    async fn forward(
        &self,
        upstream: Upstream,
        path_and_query: &str,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let base = match upstream {
            Upstream::Api => &self.api_url,
            Upstream::Stream => &self.stream_url,
        };
        let uri: Uri = format!("{base}{path_and_query}")
            .parse()
            .map_err(|_| WebError::BadRequest("the request path is not a valid URL path".into()))?;
        let (mut parts, body) = req.into_parts();
        if let Some(range) = parts
            .headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
        {
            // Seeks show up here: the access log alone cannot tell a seek from a first play.
            // The path says which file: the progressive one or an HLS rung's.
            tracing::info!(range, path = %path_and_query, "range request");
        }
        self.rewrite_request_headers(&mut parts.headers, upstream, &caller);
        parts.uri = uri;
        // The upstream connection is HTTP/1.1 whatever the browser spoke to web.
        parts.version = Version::HTTP_11;
        let label = upstream.label();
        let body = counted(body, "web_proxy_request_bytes_total", label, None)
            .map_err(Into::into)
            .boxed_unsync();
        let in_flight = InFlight::start(label);

        let resp = self
            .client
            .request(Request::from_parts(parts, body))
            .await
            .map_err(|e| {
                WebError::Upstream(format!("{upstream:?} at {base}: {}", error_chain(&e)))
            })?;
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        rewrite_location(&mut parts.headers, base);
        // The guard lives in the body: the exchange is in flight until the last byte is sent
        // or the client goes away, long after this function returned.
        let body = counted(
            body,
            "web_proxy_response_bytes_total",
            label,
            Some(in_flight),
        )
        .map_err(Into::into)
        .boxed_unsync();
        Ok(Response::from_parts(parts, body))
    }

    /// The request's headers as the upstream gets them: no hop-by-hop headers and no client-sent
    /// identity; the session, the client's address and the site's host added.
    fn rewrite_request_headers(
        &self,
        headers: &mut HeaderMap,
        upstream: Upstream,
        caller: &Caller,
    ) {
        let original_host = headers.remove(header::HOST);
        strip_hop_by_hop(headers);
        // Identity comes only from the session (SPEC section 3): a client-sent user name is
        // dropped on every route, whatever the upstream does with it.
        headers.remove(X_USER_NAME);
        if let Some(session) = caller.session.as_deref() {
            // The cookie wins over a client-sent header so a page's JavaScript cannot act under
            // another session than the one the browser holds.
            if let Ok(value) = HeaderValue::from_str(session) {
                headers.insert(X_SESSION_ID, value);
            }
        }
        if upstream == Upstream::Api {
            // The api authenticates by header only; the browser's cookies are web's business.
            headers.remove(header::COOKIE);
        }
        let peer = caller.peer.to_string();
        let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(chain) if self.trust_forwarded_for => format!("{chain}, {peer}"),
            _ => peer,
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            headers.insert(X_FORWARDED_FOR, value);
        }
        if let Some(host) = original_host {
            headers.insert(X_FORWARDED_HOST, host);
        }
        headers.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if self.secure { "https" } else { "http" }),
        );
    }
}

impl Upstream {
    /// The `upstream` label of the proxy's metrics.
    fn label(self) -> &'static str {
        match self {
            Upstream::Api => "api",
            Upstream::Stream => "streamserver",
        }
    }
}

/// Counts proxied exchanges in flight per upstream (gauge `web_proxy_in_flight`); a drop guard,
/// so the count is right however the exchange ends.
struct InFlight(&'static str);

impl InFlight {
    fn start(upstream: &'static str) -> Self {
        metrics::gauge!("web_proxy_in_flight", "upstream" => upstream).increment(1.0);
        InFlight(upstream)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("web_proxy_in_flight", "upstream" => self.0).decrement(1.0);
    }
}

/// `body` unchanged, counting its data bytes into `counter`, holding `guard` until it is dropped.
fn counted<B>(
    body: B,
    counter: &'static str,
    upstream: &'static str,
    guard: Option<InFlight>,
) -> http_body_util::combinators::MapFrame<B, impl FnMut(Frame<Bytes>) -> Frame<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
{
    let bytes = metrics::counter!(counter, "upstream" => upstream);
    body.map_frame(move |frame| {
        let _held = &guard;
        if let Some(data) = frame.data_ref() {
            bytes.increment(data.len() as u64);
        }
        frame
    })
}

/// Removes the hop-by-hop headers and every header the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

/// A `Location` pointing at the upstream itself (a tus server that answers with absolute URLs)
/// becomes a path on the site, so the browser keeps talking to web (tus 1.0.0, creation
/// extension: the client resolves `Location` against the creation URL).
fn rewrite_location(headers: &mut HeaderMap, base: &str) {
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if let Some(rest) = location.strip_prefix(base) {
        if rest.starts_with('/') {
            if let Ok(value) = HeaderValue::from_str(rest) {
                headers.insert(header::LOCATION, value);
            }
        }
    }
}

/// The api path for a `/api/<rest>` request path, or `None` when it must not be forwarded: a
/// dot segment (plain or percent-encoded) that could climb out of the api's namespace, a
/// backslash, or one of the api's operational endpoints, which are not for the public.
pub fn api_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api")?;
    if !rest.starts_with('/') || rest.contains('\\') {
        return None;
    }
    let escapes = rest.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".." || lower.contains("%2f") || lower.contains("%5c")
    });
    if escapes {
        return None;
    }
    match rest {
        "/metrics" | "/healthz" | "/readyz" => None,
        _ => Some(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_stay_inside_the_api() {
        assert_eq!(api_path("/api/user"), Some("/user"));
        assert_eq!(api_path("/api/user/ann/videos"), Some("/user/ann/videos"));
        assert_eq!(api_path("/api"), None);
        assert_eq!(api_path("/apix/user"), None);
        assert_eq!(api_path("/api/../metrics"), None);
        assert_eq!(api_path("/api/user/%2e%2E/x"), None);
        assert_eq!(api_path("/api/user/.%2e"), None);
        assert_eq!(api_path("/api/user%2f..%2fx"), None);
        assert_eq!(api_path("/api/a\\b"), None);
        assert_eq!(api_path("/api/metrics"), None);
        assert_eq!(api_path("/api/user/a..b"), Some("/user/a..b"));
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("proxy-authorization", HeaderValue::from_static("x"));
        h.insert("range", HeaderValue::from_static("bytes=0-1"));
        h.insert("upload-offset", HeaderValue::from_static("5"));
        strip_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(h.contains_key("range") && h.contains_key("upload-offset"));
    }

    #[test]
    fn upstream_locations_become_site_paths() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("http://127.0.0.1:9000/files/abc"),
        );
        rewrite_location(&mut h, "http://127.0.0.1:9000");
        assert_eq!(h[header::LOCATION], "/files/abc");
        h.insert(header::LOCATION, HeaderValue::from_static("/files/x"));
        rewrite_location(&mut h, "http://127.0.0.1:9000");
        assert_eq!(h[header::LOCATION], "/files/x");
    }
}
