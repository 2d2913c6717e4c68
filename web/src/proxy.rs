//! The same-origin reverse proxy: `/api/<rest>` to the api as `/<rest>`, and `/videos/`,
//! `/upload/`, `/files/`, `/thumbnails/` to the streamserver unchanged (SPEC section 6).
//!
//! Bodies stream both ways through hyper with backpressure and are never collected, so a 1 GiB
//! upload or a long video costs web a few buffers, not the file. The upstream URL is always built
//! from the configured base plus the request's path: the request's authority is never used, so
//! nothing but the two upstreams is reachable (no open proxy). Which requests reach this module
//! (the route table) and the `Origin` check are `routes.rs`; page rendering does not belong here.
//!
//! Every request through here is a hot path (each video byte a browser plays): what is the same
//! for every request (the upstreams' parsed base URLs, the metric handles) is made once in
//! [`Proxy::new`], and the upstream connections' buffers are sized in `upstream.rs`.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use metrics::{Counter, Gauge};
use svc::http::Body;

use crate::error::WebError;
use crate::live_upstream;
use crate::upstream::{self, error_chain};

/// Which upstream a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upstream {
    Api,
    Stream,
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1) plus `Proxy-*` and `Expect`: they describe one
/// connection, not the message, so they are never forwarded. `Expect: 100-continue` was already
/// answered by web's own server when it started reading the body. Typed names, not strings:
/// removing by `&str` parses and lowercases the name again on every request.
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
const X_USER_NAME: HeaderName = HeaderName::from_static("x-user-name");

/// The HTTP client to both upstreams and where they are.
pub struct Proxy {
    client: upstream::Client,
    /// How long opening a live stream's own connection to the api may take
    /// ([`crate::live_upstream`]).
    connect_timeout: Duration,
    api: Target,
    stream: Target,
    trust_forwarded_for: bool,
    /// `X-Forwarded-Proto`, the same for every request.
    forwarded_proto: HeaderValue,
}

/// What the proxy needs to know about the client besides the request itself.
pub struct Caller {
    /// The connection's peer, for `X-Forwarded-For`.
    pub peer: IpAddr,
    /// The session id from the `session` cookie, if any.
    pub session: Option<String>,
}

/// One upstream's base URL, parsed once, and its metrics, registered once: a proxied request
/// then clones handles instead of formatting and parsing a URL and looking its metrics up by
/// name and label (the profile of 4 KiB requests showed both).
struct Target {
    upstream: Upstream,
    /// The base URL as configured, for error messages and `Location` rewriting.
    base: String,
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path without its trailing slash; usually empty.
    prefix: String,
    request_bytes: Counter,
    response_bytes: Counter,
    in_flight: Gauge,
}

impl Target {
    /// `base` was checked by `Config` (an `http://` URL with a host); a base that still does
    /// not parse is a programming error caught at start-up, not per request.
    fn new(upstream: Upstream, base: &str) -> Self {
        let uri: Uri = base
            .parse()
            .unwrap_or_else(|e| panic!("upstream URL {base:?} was validated by Config: {e}"));
        let prefix = uri.path().trim_end_matches('/').to_string();
        let parts = uri.into_parts();
        let label = upstream.label();
        Target {
            upstream,
            base: base.to_string(),
            scheme: parts.scheme.unwrap_or(Scheme::HTTP),
            authority: parts
                .authority
                .unwrap_or_else(|| panic!("upstream URL {base:?} has no host")),
            prefix,
            request_bytes: metrics::counter!("web_proxy_request_bytes_total", "upstream" => label),
            response_bytes: metrics::counter!("web_proxy_response_bytes_total", "upstream" => label),
            in_flight: metrics::gauge!("web_proxy_in_flight", "upstream" => label),
        }
    }

    /// The upstream URL for `path_and_query`: the base's scheme, authority and path prefix,
    /// never the request's own authority.
    fn uri(&self, path_and_query: PathAndQuery) -> Result<Uri, WebError> {
        let invalid = || WebError::BadRequest("the request path is not a valid URL path".into());
        let path_and_query = if self.prefix.is_empty() {
            path_and_query
        } else {
            PathAndQuery::try_from(format!("{}{}", self.prefix, path_and_query.as_str()))
                .map_err(|_| invalid())?
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|_| invalid())
    }
}

impl Proxy {
    /// A proxy to the api at `api_url` and the streamserver at `stream_url` (both checked by
    /// `Config`). Registers the proxy's metrics, so the metrics recorder must already be
    /// installed (`svc::Server::bind` does it).
    pub fn new(
        client: upstream::Client,
        connect_timeout: Duration,
        api_url: &str,
        stream_url: &str,
        trust_forwarded_for: bool,
        secure: bool,
    ) -> Self {
        Proxy {
            client,
            connect_timeout,
            api: Target::new(Upstream::Api, api_url),
            stream: Target::new(Upstream::Stream, stream_url),
            trust_forwarded_for,
            forwarded_proto: HeaderValue::from_static(if secure { "https" } else { "http" }),
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
        let target = PathAndQuery::try_from(target)
            .map_err(|_| WebError::BadRequest("the request path is not a valid URL path".into()))?;
        if is_live_stream(path) && req.method() == Method::GET {
            return self.forward_live(target, req, caller).await;
        }
        self.forward(&self.client, &self.api, target, req, caller)
            .await
    }

    /// Forwards a request to the streamserver with its path and query unchanged (the parsed
    /// path is reused, not copied).
    pub async fn to_stream(
        &self,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let target = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        self.forward(&self.client, &self.stream, target, req, caller)
            .await
    }

    /// Forwards `req` to `target` at `path_and_query` and streams the answer back.
    async fn forward(
        &self,
        client: &upstream::Client,
        target: &Target,
        path_and_query: PathAndQuery,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let (mut parts, body) = req.into_parts();
        if let Some(range) = parts
            .headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
        {
            // Seeks show up here: the access log alone cannot tell a seek from a first play.
            // The path says which file: the progressive one or an HLS rung's.
            tracing::info!(range, path = path_and_query.as_str(), "range request");
        }
        let uri = target.uri(path_and_query)?;
        self.rewrite_request_headers(&mut parts.headers, target.upstream, &caller);
        parts.uri = uri;
        // The upstream connection is HTTP/1.1 whatever the browser spoke to web.
        parts.version = Version::HTTP_11;
        // Most proxied requests (every GET) have no body: an empty one costs no allocation
        // and no counting.
        let body = if hyper::body::Body::is_end_stream(&body) {
            svc::http::empty_body()
        } else {
            counted(body, target.request_bytes.clone(), None)
                .map_err(Into::into)
                .boxed_unsync()
        };
        let in_flight = InFlight::start(&target.in_flight);

        let resp = client
            .request(Request::from_parts(parts, body))
            .await
            .map_err(|e| {
                WebError::Upstream(format!(
                    "{:?} at {}: {}",
                    target.upstream,
                    target.base,
                    error_chain(&e)
                ))
            })?;
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        rewrite_location(&mut parts.headers, &target.base);
        // The guard lives in the body: the exchange is in flight until the last byte is sent
        // or the client goes away, long after this function returned.
        let body = counted(body, target.response_bytes.clone(), Some(in_flight))
            .map_err(Into::into)
            .boxed_unsync();
        Ok(Response::from_parts(parts, body))
    }

    /// Forwards a live stream's `GET` to the api on a connection of its own, read without the
    /// HTTP client's buffers ([`crate::live_upstream`]): each stream is the first request of its
    /// connection, which the api answers outside hyper too, and an idle stream costs both sides
    /// little. The headers are rewritten as for any api request.
    async fn forward_live(
        &self,
        path_and_query: PathAndQuery,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let target = &self.api;
        let (mut parts, _) = req.into_parts();
        self.rewrite_request_headers(&mut parts.headers, target.upstream, &caller);
        let path = format!("{}{}", target.prefix, path_and_query.as_str());
        let authority = match target.authority.port_u16() {
            Some(_) => target.authority.as_str().to_string(),
            None => format!("{}:80", target.authority.host()),
        };
        let in_flight = InFlight::start(&target.in_flight);
        let answer = live_upstream::request(
            &authority,
            self.connect_timeout,
            &parts.method,
            &path,
            &parts.headers,
        )
        .await
        .map_err(|e| {
            WebError::Upstream(format!("{:?} at {}: {e}", target.upstream, target.base))
        })?;
        let mut headers = answer.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::CONTENT_LENGTH);
        let frames = answer.body.into_stream().map_ok(Frame::data);
        let body = counted(
            StreamBody::new(frames),
            target.response_bytes.clone(),
            Some(in_flight),
        )
        .map_err(Into::into)
        .boxed_unsync();
        let mut resp = Response::new(body);
        *resp.status_mut() = answer.status;
        *resp.headers_mut() = headers;
        Ok(resp)
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
        // From the `String` itself: no second copy.
        if let Ok(value) = HeaderValue::try_from(forwarded_for) {
            headers.insert(X_FORWARDED_FOR, value);
        }
        if let Some(host) = original_host {
            headers.insert(X_FORWARDED_HOST, host);
        }
        headers.insert(X_FORWARDED_PROTO, self.forwarded_proto.clone());
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

/// Whether an api path (`/videos/{vid}/live`) is a video's live stream.
fn is_live_stream(api_path: &str) -> bool {
    api_path
        .strip_prefix("/videos/")
        .and_then(|rest| rest.strip_suffix("/live"))
        .is_some_and(|vid| !vid.is_empty() && !vid.contains('/'))
}

/// Counts proxied exchanges in flight per upstream (gauge `web_proxy_in_flight`); a drop guard,
/// so the count is right however the exchange ends.
struct InFlight(Gauge);

impl InFlight {
    fn start(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// `body` unchanged, counting its data bytes into `bytes`, holding `guard` until it is dropped.
fn counted<B>(
    body: B,
    bytes: Counter,
    guard: Option<InFlight>,
) -> http_body_util::combinators::MapFrame<B, impl FnMut(Frame<Bytes>) -> Frame<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
{
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
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            // `from_bytes` lowercases; an empty or malformed token names nothing.
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
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
        h.insert("connection", HeaderValue::from_static("close, , X-Secret"));
        h.append("connection", HeaderValue::from_static("X-Other"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-other", HeaderValue::from_static("1"));
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
    fn only_a_videos_live_stream_takes_its_own_connection() {
        assert!(is_live_stream("/videos/0b6a1c9e/live"));
        for other in [
            "/videos/0b6a1c9e",
            "/videos//live",
            "/videos/a/b/live",
            "/videos/0b6a1c9e/live/x",
            "/user/ann/live",
        ] {
            assert!(!is_live_stream(other), "{other}");
        }
    }

    #[test]
    fn upstream_urls_keep_the_base_and_the_request_path() {
        let plain = Target::new(Upstream::Stream, "http://127.0.0.1:9000");
        let pq = PathAndQuery::from_static("/videos/abc?x=1");
        assert_eq!(
            plain.uri(pq.clone()).unwrap(),
            "http://127.0.0.1:9000/videos/abc?x=1"
        );
        let prefixed = Target::new(Upstream::Api, "http://api.internal:8000/v1/");
        assert_eq!(
            prefixed.uri(pq).unwrap(),
            "http://api.internal:8000/v1/videos/abc?x=1"
        );
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
