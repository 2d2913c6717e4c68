//! The HTTP server loop shared by all four processes.
//!
//! It accepts connections (HTTP/1.1 and HTTP/2 on one port) within the caps of [`limits`]
//! (request head size, header read timeout, connections per client), opens one tracing span per
//! request with method, path, status, latency and `X-Request-Id`, answers `/healthz`, `/readyz`
//! and `/metrics` itself (with readiness and process figures, [`scrape`]), counts every request
//! by route and status, turns a panicking handler into a 500, and shuts down gracefully: on the
//! shutdown signal it stops accepting, lets in-flight requests finish for up to the drain
//! timeout, then returns. A request the app takes over (a long-lived stream) is written by
//! [`takeover`] outside hyper's per-connection buffers, through the same span and metrics.
//!
//! What a service *does* lives in its [`App`]; nothing service-specific belongs here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use http::{header::HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{field::Empty, Instrument};

use crate::http::{self as h, Body, ErrorCode, PeerAddr, RequestId, RouteName};

pub mod limits;
mod preface;
mod scrape;
mod takeover;

pub use limits::ConnectionLimits;
use limits::{ClientSlot, ClientSlots};
use preface::{Protocol, Replay};
use takeover::{Ended, First};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A service's request handling, as the server loop sees it.
pub trait App: Send + Sync + 'static {
    /// Handles one request. `/healthz`, `/readyz` and `/metrics` never reach it. The request
    /// carries [`PeerAddr`] and [`RequestId`] extensions; the response may carry a
    /// [`RouteName`] extension to label its metrics.
    fn handle(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;

    /// Whether the service can do its work (database reachable, storage writable). `Err` holds
    /// a short detail that `/readyz` shows with its 503.
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send;

    /// Whether the app answers a request with this method and path itself, on the bare
    /// connection ([`App::take_over`]), instead of through hyper: for long-lived streams, of which
    /// hyper's buffers would be most of the cost ([`takeover`]). Asked only of the first request
    /// of an HTTP/1.1 connection and never of the built-in routes; the default declines.
    fn takes_over(&self, method: &Method, path: &str) -> bool {
        let _ = (method, path);
        false
    }

    /// Answers a request that [`App::takes_over`] accepted, with the same extensions as
    /// [`App::handle`]. The request has no body (one with a body stays with hyper). The response
    /// is written by the server loop: a body of unknown size is chunked, and ends when it ends,
    /// when the client goes or at the shutdown signal.
    fn take_over(&self, req: Request<()>) -> impl Future<Output = Response<Body>> + Send {
        let _ = req;
        async { crate::router::not_found() }
    }
}

/// A bound listener waiting to serve an [`App`].
pub struct Server {
    listener: TcpListener,
    name: &'static str,
    drain_timeout: Duration,
    limits: ConnectionLimits,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, name: &'static str) -> std::io::Result<Self> {
        // The recorder must exist before the first request is counted.
        crate::metrics::handle();
        scrape::describe();
        // Zero, not absent, until something happens: alerts and dashboards see the series.
        metrics::gauge!("http_connections_open").increment(0.0);
        metrics::gauge!("http_connections_taken_over").increment(0.0);
        for reason in ["client_cap", "header_timeout", "head_too_large"] {
            metrics::counter!("http_connections_rejected_total", "reason" => reason).increment(0);
        }
        let listener = TcpListener::bind(addr).await?;
        Ok(Server {
            listener,
            name,
            drain_timeout: Duration::from_secs(30),
            limits: ConnectionLimits::default(),
        })
    }

    /// How long in-flight requests may run after the shutdown signal.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The caps on each connection (`Common::connections` reads them from the environment).
    pub fn connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `app` until `shutdown` is cancelled, then drains and returns.
    pub async fn run<A: App>(self, app: Arc<A>, shutdown: CancellationToken) {
        let Server {
            listener,
            name,
            drain_timeout,
            limits,
        } = self;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(service = name, %addr, "listening");
        }
        let protocols = Arc::new(Protocols::new(&limits));
        let limits = Arc::new(limits);
        let slots = ClientSlots::default();
        let graceful = GracefulShutdown::new();

        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let slot = match limits.cap_for(peer.ip()) {
                None => None,
                Some(cap) => match slots.try_acquire(peer.ip(), cap) {
                    Some(slot) => Some(slot),
                    None => {
                        metrics::counter!("http_connections_rejected_total", "reason" => "client_cap")
                            .increment(1);
                        tracing::debug!(%peer, cap, "too many connections from one client");
                        tokio::spawn(refuse_over_cap(stream, cap));
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let conn = Connection {
                stream,
                peer,
                _slot: slot,
            };
            tokio::spawn(conn.serve(
                app.clone(),
                protocols.clone(),
                limits.clone(),
                graceful.watcher(),
                shutdown.clone(),
            ));
        }

        // Closing the listener makes new connections fail at once instead of queueing.
        drop(listener);
        tracing::info!(service = name, timeout = ?drain_timeout, "shutting down, draining in-flight requests");
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!(service = name, "all connections closed"),
            _ = tokio::time::sleep(drain_timeout) => {
                tracing::warn!(service = name, "drain timeout reached; closing remaining connections")
            }
        }
    }
}

/// hyper's HTTP/1 and HTTP/2 connection settings, made once per server.
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl Protocols {
    fn new(limits: &ConnectionLimits) -> Self {
        let mut http1 = http1::Builder::new();
        // hyper answers 431 itself past `max_header_size` (also while the head is still
        // incomplete, so a client cannot make it buffer more) and past `max_headers`.
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_head_bytes)
            .max_headers(limits::MAX_HEADERS);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        // h2 answers a larger header block with 431 on that stream (RFC 9113, section 10.5.1).
        // Pings find peers that vanished without closing.
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_head_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        Protocols { http1, http2 }
    }
}

/// An accepted connection, holding its place in its client's count until it ends.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    _slot: Option<ClientSlot>,
}

impl Connection {
    async fn serve<A: App>(
        self,
        app: Arc<A>,
        protocols: Arc<Protocols>,
        limits: Arc<ConnectionLimits>,
        watcher: Watcher,
        shutdown: CancellationToken,
    ) {
        let Connection {
            stream,
            peer,
            _slot,
        } = self;
        let _open = OpenConnection::new();
        // The first bytes fall under the header read timeout too: hyper's starts only once the
        // protocol is known (and, for HTTP/1, whether the app takes the request over).
        // Each stage is boxed so that what a connection holds while it streams is only what
        // streaming needs, not the largest of the stages.
        let opened = Box::pin(async {
            tokio::select! {
                // Once shutting down, a connection that has not yet spoken is not served.
                biased;
                _ = shutdown.cancelled() => None,
                opened = tokio::time::timeout(
                    limits.header_read_timeout,
                    open(stream, &*app, limits.max_head_bytes),
                ) => Some(opened),
            }
        })
        .await;
        let (protocol, mut io, taken) = match opened {
            None | Some(Ok(Ok(Opening::Closed))) => return,
            Some(Ok(Ok(Opening::Hyper(protocol, io)))) => (protocol, io, None),
            Some(Ok(Ok(Opening::TakenOver(req, io)))) => (Protocol::Http1, io, Some(req)),
            Some(Ok(Err(e))) => {
                tracing::debug!(error = %e, %peer, "connection failed before its first request");
                return;
            }
            Some(Err(_)) => {
                metrics::counter!("http_connections_rejected_total", "reason" => "header_timeout")
                    .increment(1);
                tracing::debug!(%peer, "no request within the header read timeout; closed");
                return;
            }
        };
        if let Some(req) = taken {
            // `watcher` is held meanwhile, so the drain waits for the answer too.
            let max_line = limits.max_header_line_bytes;
            let ended = Box::pin(takeover::serve(
                &*app, *req, &mut io, peer, max_line, &shutdown,
            ))
            .await;
            if ended == Ended::Close {
                return;
            }
        }
        let max_line = limits.max_header_line_bytes;
        let service = service_fn(move |req| {
            let app = app.clone();
            async move {
                let answered = serve_request(req, peer, max_line, |req| answer(&*app, req)).await;
                Ok::<_, Infallible>(answered)
            }
        });
        let io = TokioIo::new(io);
        let ended = match protocol {
            // No route upgrades a connection (web's proxy drops `Upgrade` as hop-by-hop).
            Protocol::Http1 => {
                Box::pin(watcher.watch(protocols.http1.serve_connection(io, service))).await
            }
            Protocol::Http2 => {
                Box::pin(watcher.watch(protocols.http2.serve_connection(io, service))).await
            }
        };
        if let Err(e) = ended {
            if e.is_timeout() {
                metrics::counter!("http_connections_rejected_total", "reason" => "header_timeout")
                    .increment(1);
            } else if e.is_parse_too_large() {
                metrics::counter!("http_connections_rejected_total", "reason" => "head_too_large")
                    .increment(1);
            }
            tracing::debug!(error = %e, %peer, "connection ended with an error");
        }
    }
}

/// How a connection opened.
enum Opening {
    /// The client went before sending a byte.
    Closed,
    /// hyper serves it, reading the bytes read so far first.
    Hyper(Protocol, Replay<TcpStream>),
    /// The app takes over its first request, whose head has been read.
    TakenOver(Box<Request<()>>, Replay<TcpStream>),
}

/// Reads a connection's first bytes: the HTTP/2 preface, or an HTTP/1 request the app may take
/// over ([`takeover`]).
async fn open<A: App>(stream: TcpStream, app: &A, max_head: usize) -> std::io::Result<Opening> {
    let Some((protocol, mut io)) = preface::detect(stream).await? else {
        return Ok(Opening::Closed);
    };
    if protocol == Protocol::Http1 {
        if let First::TakenOver(req) = takeover::first_request(&mut io, app, max_head).await? {
            return Ok(Opening::TakenOver(req, io));
        }
    }
    Ok(Opening::Hyper(protocol, io))
}

/// Counts a connection in `http_connections_open` while it lives.
struct OpenConnection;

impl OpenConnection {
    fn new() -> Self {
        metrics::gauge!("http_connections_open").increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("http_connections_open").decrement(1.0);
    }
}

/// Answers a connection over its client's cap with 429 before closing it. The request is not
/// read, so the answer is plain HTTP/1.1 whatever the client speaks; what the client already
/// sent is read and dropped for a moment, since closing a socket with unread bytes resets it
/// and the client might lose the answer.
async fn refuse_over_cap(mut stream: TcpStream, cap: u32) {
    let body = serde_json::json!({
        "error": format!(
            "Too many open connections from your address (at most {cap}); close some and try again."
        ),
        "error_code": ErrorCode::TooManyRequests.as_str(),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 5\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A request id from the client is kept when it is short and printable, so one id can follow a
/// request through web, api and streamserver; anything else is replaced.
fn request_id<B>(req: &Request<B>) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Serves one request through `answer`, with what every request gets: its id, its span, its
/// log line and metrics, and the cap on one header line.
async fn serve_request<B, F, Fut>(
    mut req: Request<B>,
    peer: SocketAddr,
    max_header_line: usize,
    answer: F,
) -> Response<Body>
where
    F: FnOnce(Request<B>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let id = request_id(&req);
    let id_header = HeaderValue::from_str(&id).ok();
    if let Some(value) = &id_header {
        req.headers_mut().insert(X_REQUEST_ID, value.clone());
    }
    req.extensions_mut().insert(PeerAddr(peer));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.uri().path(),
        status = Empty,
        latency_ms = Empty,
        request_id = %id,
    );

    async move {
        let mut resp = match limits::oversized_header_line(req.headers(), max_header_line) {
            Some((name, len)) => header_too_large(name, len, max_header_line),
            None => answer(req).await,
        };
        if let Some(value) = id_header {
            resp.headers_mut().insert(X_REQUEST_ID, value);
        }
        let route = resp
            .extensions()
            .get::<RouteName>()
            .map_or("unmatched", |r| r.0);
        let status = resp.status();
        let elapsed = started.elapsed();
        let (requests, duration) = request_metrics(route, &method, status);
        requests.increment(1);
        duration.record(elapsed.as_secs_f64());
        let span = tracing::Span::current();
        span.record("status", status.as_u16());
        span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
        tracing::info!(route, "request finished");
        resp
    }
    .instrument(span)
    .await
}

/// The handles of `http_requests_total{route, method, status}` and
/// `http_request_duration_seconds{route}` for one request. Looking a labelled metric up by name
/// costs a label vector, two strings and a hash on every request; the handles are kept per
/// thread instead, keyed by the labels, of which there are few: routes are static names, a
/// method outside the standard ones is counted as `OTHER` (so that a client inventing methods
/// cannot grow the label set), and statuses are three digits.
fn request_metrics(route: &'static str, method: &Method, status: StatusCode) -> RequestMetrics {
    thread_local! {
        static HANDLES: RefCell<HashMap<MetricLabels, RequestMetrics>> = RefCell::new(HashMap::new());
    }
    let method = method_label(method);
    HANDLES.with_borrow_mut(|handles| {
        handles
            .entry((route, method, status.as_u16()))
            .or_insert_with(|| {
                let requests = metrics::counter!(
                    "http_requests_total",
                    "route" => route,
                    "method" => method,
                    "status" => status.as_str().to_owned()
                );
                let duration =
                    metrics::histogram!("http_request_duration_seconds", "route" => route);
                (requests, duration)
            })
            .clone()
    })
}

/// The `method` label: the method's name for the standard ones (RFC 9110 section 9 and PATCH),
/// `OTHER` for any other.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// `route`, `method` and `status`, as [`request_metrics`] keeps them.
type MetricLabels = (&'static str, &'static str, u16);

/// A request's count and its duration's histogram.
type RequestMetrics = (metrics::Counter, metrics::Histogram);

/// 431 for one header line over the cap (hyper itself refuses a head over the total cap).
fn header_too_large(name: &str, len: usize, max: usize) -> Response<Body> {
    tracing::info!(header = name, len, max, "request header line too large");
    h::error_json(
        ErrorCode::HeaderFieldsTooLarge,
        &format!(
            "The request header {name} is {len} bytes long; at most {max} bytes are accepted \
             per header line ({} KiB in all). Send a shorter one (for example, clear this \
             site's cookies).",
            limits::MAX_HEAD_BYTES / 1024
        ),
    )
}

/// The answer to a request within the caps: the built-in routes, else the app's.
async fn answer<A: App>(app: &A, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => {
            with_route(h::text(StatusCode::OK, "ok\n"), "healthz")
        }
        (&Method::GET | &Method::HEAD, "/readyz") => with_route(readiness(app).await, "readyz"),
        (&Method::GET, "/metrics") => {
            scrape::record_readiness(&app.ready().await);
            scrape::record_process();
            let mut resp = h::text(StatusCode::OK, crate::metrics::render());
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            with_route(resp, "metrics")
        }
        _ => guarded(app.handle(req)).await,
    }
}

/// The paths the server loop answers itself.
fn is_builtin(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The app's answer, or a 500 if its handler panics.
async fn guarded(handler: impl Future<Output = Response<Body>>) -> Response<Body> {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!("handler panicked");
            h::error_json(ErrorCode::Internal, "Internal service error")
        }
    }
}

fn with_route(mut resp: Response<Body>, route: &'static str) -> Response<Body> {
    resp.extensions_mut().insert(RouteName(route));
    resp
}

async fn readiness<A: App>(app: &A) -> Response<Body> {
    match app.ready().await {
        Ok(()) => h::json(StatusCode::OK, &serde_json::json!({ "status": "ready" })),
        Err(detail) => {
            tracing::warn!(%detail, "not ready");
            h::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "status": "unavailable", "detail": detail }),
            )
        }
    }
}
