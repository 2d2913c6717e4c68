//! The HTTP server loop shared by all four processes.
//!
//! It accepts connections (HTTP/1.1 and HTTP/2 on one port), opens one tracing span per request
//! with method, path, status, latency and `X-Request-Id`, answers `/healthz`, `/readyz` and
//! `/metrics` itself, counts every request by route and status, turns a panicking handler into a
//! 500, and shuts down gracefully: on the shutdown signal it stops accepting, lets in-flight
//! requests finish for up to the drain timeout, then returns.
//!
//! What a service *does* lives in its [`App`]; nothing service-specific belongs here.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use http::{header::HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{field::Empty, Instrument};

use crate::http::{self as h, Body, PeerAddr, RequestId, RouteName};

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
}

/// A bound listener waiting to serve an [`App`].
pub struct Server {
    listener: TcpListener,
    name: &'static str,
    drain_timeout: Duration,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, name: &'static str) -> std::io::Result<Self> {
        // The recorder must exist before the first request is counted.
        crate::metrics::handle();
        let listener = TcpListener::bind(addr).await?;
        Ok(Server {
            listener,
            name,
            drain_timeout: Duration::from_secs(30),
        })
    }

    /// How long in-flight requests may run after the shutdown signal.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
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
        } = self;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(service = name, %addr, "listening");
        }
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
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
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(serve_request(&*app, req, peer).await) }
            });
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
            });
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
fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

async fn serve_request<A: App>(
    app: &A,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
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
        let mut resp = match (req.method(), req.uri().path()) {
            (&Method::GET | &Method::HEAD, "/healthz") => {
                with_route(h::text(StatusCode::OK, "ok\n"), "healthz")
            }
            (&Method::GET | &Method::HEAD, "/readyz") => with_route(readiness(app).await, "readyz"),
            (&Method::GET, "/metrics") => {
                let mut resp = h::text(StatusCode::OK, crate::metrics::render());
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                with_route(resp, "metrics")
            }
            _ => match AssertUnwindSafe(app.handle(req)).catch_unwind().await {
                Ok(resp) => resp,
                Err(_) => {
                    tracing::error!("handler panicked");
                    h::error_json(h::ErrorCode::Internal, "Internal service error")
                }
            },
        };
        if let Some(value) = id_header {
            resp.headers_mut().insert(X_REQUEST_ID, value);
        }
        let route = resp
            .extensions()
            .get::<RouteName>()
            .map_or("unmatched", |r| r.0);
        let status = resp.status().as_u16();
        let elapsed = started.elapsed();
        metrics::counter!(
            "http_requests_total",
            "route" => route,
            "method" => method.as_str().to_owned(),
            "status" => status.to_string()
        )
        .increment(1);
        metrics::histogram!("http_request_duration_seconds", "route" => route)
            .record(elapsed.as_secs_f64());
        let span = tracing::Span::current();
        span.record("status", status);
        span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
        tracing::info!(route, "request finished");
        resp
    }
    .instrument(span)
    .await
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
