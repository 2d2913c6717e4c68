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
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, Uri, Version};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use metrics::{Counter, Gauge};
use svc::http::Body;
use svc::local_file::{self, LocalFile};

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
    /// The streamserver's local storage directory, when web sends its files itself
    /// ([`svc::local_file`]).
    local_files: Option<LocalFiles>,
}

/// Sending the streamserver's local files ([`svc::local_file`]): where they are, and what
/// happened to each offer (`web_local_files_total`).
struct LocalFiles {
    root: PathBuf,
    sent: Counter,
    /// The file was not the one the streamserver checked (replaced meanwhile, or web's
    /// `STORAGE_DIR` is not the streamserver's): the request was proxied instead.
    mismatched: Counter,
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
        local_files: Option<PathBuf>,
    ) -> Self {
        let outcome = |o| metrics::counter!("web_local_files_total", "outcome" => o);
        Proxy {
            client,
            connect_timeout,
            api: Target::new(Upstream::Api, api_url),
            stream: Target::new(Upstream::Stream, stream_url),
            trust_forwarded_for,
            forwarded_proto: HeaderValue::from_static(if secure { "https" } else { "http" }),
            local_files: local_files.map(|root| LocalFiles {
                root,
                sent: outcome("sent"),
                mismatched: outcome("mismatched"),
            }),
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
        self.forward(&self.api, target, req, caller).await
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
        match &self.local_files {
            Some(local) if req.method() == Method::GET && asks_many_bytes(req.headers()) => {
                self.offering_local_files(local, target, req, caller).await
            }
            _ => self.forward(&self.stream, target, req, caller).await,
        }
    }

    /// A `GET` to the streamserver offering to send a local file itself ([`svc::local_file`]):
    /// when the answer names one, web sends its bytes from `STORAGE_DIR` and then ends the
    /// lease; otherwise the answer is proxied as usual. A named file that is not the one the
    /// streamserver opened is proxied too, by asking again without the offer.
    async fn offering_local_files(
        &self,
        local: &LocalFiles,
        path_and_query: PathAndQuery,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let target = &self.stream;
        let (mut parts, _) = req.into_parts();
        log_range(&parts.headers, &path_and_query);
        parts.uri = target.uri(path_and_query)?;
        self.rewrite_request_headers(&mut parts.headers, target.upstream, &caller);
        parts.version = Version::HTTP_11;
        let again = Request::from_parts(parts.clone(), ());
        parts
            .headers
            .insert(local_file::ACCEPT, HeaderValue::from_static("1"));
        // hyper sends a GET's body of unknown length only when told to chunk it.
        parts.headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        let (lease, lease_body) = Lease::new();
        let in_flight = InFlight::start(&target.in_flight);
        let resp = self
            .send(target, Request::from_parts(parts, lease_body))
            .await?;
        let Some(file) = resp
            .headers()
            .get(local_file::LOCAL_FILE)
            .and_then(LocalFile::parse)
        else {
            // The streamserver answers as usual once the lease ends.
            drop(lease);
            return Ok(answer(target, resp, in_flight));
        };
        let opened = match svc::storage::open_read_only(&local.root, &file.key) {
            Ok(Some(object)) if file.is(&*object) => Some(object),
            outcome => {
                tracing::warn!(
                    key = file.key,
                    root = %local.root.display(),
                    found = ?outcome.as_ref().map(|o| o.as_ref().map(|o| (o.size(), o.modified()))),
                    "the streamserver named a local file web cannot open as it saw it; \
                     proxying (is STORAGE_DIR the streamserver's?)"
                );
                None
            }
        };
        let Some(object) = opened else {
            local.mismatched.increment(1);
            drop((lease, resp));
            let (parts, ()) = again.into_parts();
            let resp = self
                .send(target, Request::from_parts(parts, svc::http::empty_body()))
                .await?;
            return Ok(answer(target, resp, in_flight));
        };
        local.sent.increment(1);
        let (mut parts, upstream_body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.remove(local_file::LOCAL_FILE);
        let length = file.range.end - file.range.start;
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let bytes = object.read_range(file.range.clone(), LOCAL_CHUNK);
        let ended = Ended {
            lease: Some(lease),
            upstream: Some(upstream_body),
            _in_flight: in_flight,
        };
        let counter = target.response_bytes.clone();
        let paced = svc::storage::paced(bytes, 1, ended, move |n| counter.increment(n));
        let frames = paced.map_ok(Frame::data).map_err(Into::into);
        Ok(Response::from_parts(
            parts,
            StreamBody::new(frames).boxed_unsync(),
        ))
    }

    /// Sends `req` to `target`; a failure to reach it is a 502 naming the upstream.
    async fn send(
        &self,
        target: &Target,
        req: Request<Body>,
    ) -> Result<Response<Incoming>, WebError> {
        self.client.request(req).await.map_err(|e| {
            WebError::Upstream(format!(
                "{:?} at {}: {}",
                target.upstream,
                target.base,
                error_chain(&e)
            ))
        })
    }

    /// Forwards `req` to `target` at `path_and_query` and streams the answer back.
    async fn forward(
        &self,
        target: &Target,
        path_and_query: PathAndQuery,
        req: Request<Incoming>,
        caller: Caller,
    ) -> Result<Response<Body>, WebError> {
        let (mut parts, body) = req.into_parts();
        log_range(&parts.headers, &path_and_query);
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

        let resp = self.send(target, Request::from_parts(parts, body)).await?;
        Ok(answer(target, resp, in_flight))
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
        // Only web offers to send a local file, and only when it can (svc::local_file).
        headers.remove(local_file::ACCEPT);
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

/// Seeks show up in the log: the access log alone cannot tell a seek from a first play. The
/// path says which file: the progressive one or an HLS rung's.
fn log_range(headers: &HeaderMap, path_and_query: &PathAndQuery) {
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        tracing::info!(range, path = path_and_query.as_str(), "range request");
    }
}

/// The upstream's answer as the client gets it: no hop-by-hop headers (nor a local-file one),
/// `Location` on the site, the body streamed and counted. The in-flight guard lives in the
/// body: the exchange is in flight until the last byte is sent or the client goes away, long
/// after the handler returned.
fn answer(target: &Target, resp: Response<Incoming>, in_flight: InFlight) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(local_file::LOCAL_FILE);
    rewrite_location(&mut parts.headers, &target.base);
    let body = counted(body, target.response_bytes.clone(), Some(in_flight))
        .map_err(Into::into)
        .boxed_unsync();
    Response::from_parts(parts, body)
}

/// Whether a `GET` is worth offering to send a local file for: one range, open-ended or longer
/// than [`LOCAL_CHUNK`] (what players send for video; the streamserver answers smaller ones
/// itself). Anything else (no `Range`: playlists, thumbnails, cues, downloads; several ranges)
/// is proxied without the offer, which would only add the lease's round trip.
fn asks_many_bytes(headers: &HeaderMap) -> bool {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return false;
    };
    if spec.contains(',') {
        return false;
    }
    let many = |n: u64| n > LOCAL_CHUNK as u64;
    match spec.trim().split_once('-') {
        Some(("", suffix)) => suffix.trim().parse().is_ok_and(many),
        Some((first, "")) => first.trim().parse::<u64>().is_ok(),
        Some((first, last)) => match (first.trim().parse::<u64>(), last.trim().parse::<u64>()) {
            (Ok(first), Ok(last)) => last >= first && many(last - first + 1),
            _ => false,
        },
        None => false,
    }
}

/// Bytes read from a local file per step, as the streamserver's `STREAM_CHUNK_SIZE` default.
const LOCAL_CHUNK: usize = 32 * 1024;

/// The request body web keeps open while it sends a local file: dropping the `Lease` ends it,
/// with HTTP/1.1's last chunk, which tells the streamserver the file is sent.
struct Lease {
    _ends_when_dropped: tokio::sync::oneshot::Sender<()>,
}

impl Lease {
    fn new() -> (Lease, Body) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let ends = futures_util::stream::once(rx)
            .filter_map(|_| std::future::ready(None::<Result<Frame<Bytes>, svc::http::BoxError>>));
        let lease = Lease {
            _ends_when_dropped: tx,
        };
        (lease, StreamBody::new(ends).boxed_unsync())
    }
}

/// What a local-file answer holds until its body is dropped, which hyper does once it has
/// written the last byte (or the client went): then the lease ends, and the streamserver's
/// empty answer is read to its end by a task of its own, so that the upstream connection goes
/// back to the pool.
struct Ended {
    lease: Option<Lease>,
    upstream: Option<Incoming>,
    _in_flight: InFlight,
}

impl Drop for Ended {
    fn drop(&mut self) {
        drop(self.lease.take());
        // Outside a runtime (the process shutting down) the connection is simply closed.
        let runtime = tokio::runtime::Handle::try_current();
        if let (Some(mut upstream), Ok(runtime)) = (self.upstream.take(), runtime) {
            runtime.spawn(async move {
                let drained = async { while let Some(Ok(_)) = upstream.frame().await {} };
                // The streamserver ends its answer at once; a stuck one just loses the
                // connection.
                let _ = tokio::time::timeout(Duration::from_secs(5), drained).await;
            });
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
    fn only_requests_for_more_than_a_chunk_offer_to_send_a_local_file() {
        let offers = |range: Option<&'static str>| {
            let mut h = HeaderMap::new();
            if let Some(range) = range {
                h.insert(header::RANGE, HeaderValue::from_static(range));
            }
            asks_many_bytes(&h)
        };
        assert!(offers(Some("bytes=0-")));
        assert!(offers(Some("bytes=1048576-2097151")));
        assert!(offers(Some("bytes=-40000")));
        assert!(offers(Some("bytes=0-32768")));
        assert!(!offers(Some("bytes=0-32767")));
        assert!(!offers(Some("bytes=-100")));
        assert!(!offers(Some("bytes=0-99,200-")));
        assert!(!offers(Some("bytes=9-1")));
        assert!(!offers(Some("items=0-")));
        assert!(!offers(Some("bytes=x-")));
        assert!(!offers(None));
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
