//! The streamserver service: rate-limited upload (plain, multipart, resumable) and Range playback (SPEC section 4).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does.

pub mod conditional;
pub mod config;
mod error;
mod ingest;
mod limits;
pub mod range;
mod routes;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use svc::http::{Body, PeerAddr, RouteName};
use svc::router::{method_not_allowed, not_found, Router};
use svc::storage::{LocalStorage, Storage};
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::Error;

use routes::{playback, tus, upload};

/// The routes, in one table (SPEC section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Video,
    Thumbnail,
    Upload,
    TusCollection,
    TusUpload,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Video => "video",
            Route::Thumbnail => "thumbnail",
            Route::Upload => "upload",
            Route::TusCollection => "tus_collection",
            Route::TusUpload => "tus_upload",
        }
    }
}

fn routes() -> Router<Route> {
    Router::new(&[
        ("/videos/{vid}", Route::Video),
        ("/thumbnails/{vid}", Route::Thumbnail),
        ("/upload/{vid}", Route::Upload),
        ("/files", Route::TusCollection),
        ("/files/", Route::TusCollection),
        ("/files/{id}", Route::TusUpload),
    ])
}

/// Shared state of the streamserver's request handlers.
pub struct Stream {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: Config,
    limits: limits::Limits,
    locks: ingest::VideoLocks,
    rows: playback::RowCache,
    router: Router<Route>,
}

impl Stream {
    pub fn new(pool: mysql_async::Pool, storage: Arc<dyn Storage>, config: Config) -> Self {
        Stream {
            pool,
            storage,
            limits: limits::Limits::new(&config),
            rows: playback::RowCache::new(config.playback_cache_ttl),
            config,
            locks: ingest::VideoLocks::default(),
            router: routes(),
        }
    }

    async fn dispatch(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        let Some((route, params)) = self.router.at(&path) else {
            return not_found();
        };
        let param = params
            .get("vid")
            .or_else(|| params.get("id"))
            .unwrap_or("")
            .to_owned();
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .map(|p| p.0.ip())
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
        let client = self.limits.client_ip(peer, req.headers());
        let tus = matches!(route, Route::TusCollection | Route::TusUpload);
        let mut resp = match self.limits.check_rate(client) {
            Err(e) => e.into_response(),
            Ok(()) => self.route(route, &param, req, client).await,
        };
        if tus {
            resp = tus::finish(resp);
        }
        resp.extensions_mut().insert(RouteName(route.name()));
        resp
    }

    async fn route(
        &self,
        route: Route,
        param: &str,
        req: Request<Incoming>,
        client: std::net::IpAddr,
    ) -> Response<Body> {
        let tus_call = matches!(route, Route::TusCollection | Route::TusUpload)
            && req.method() != Method::OPTIONS;
        if tus_call {
            if let Some(resp) = tus::version_mismatch(req.headers()) {
                return resp;
            }
        }
        let result = match (route, req.method().clone()) {
            (Route::Video, Method::GET | Method::HEAD) => {
                playback::video(self, &req, param, client).await
            }
            (Route::Video, Method::OPTIONS) => Ok(playback::preflight()),
            (Route::Video, _) => {
                return method_not_allowed(&[Method::GET, Method::HEAD, Method::OPTIONS])
            }
            (Route::Thumbnail, Method::GET | Method::HEAD) => {
                playback::thumbnail(self, &req, param).await
            }
            (Route::Thumbnail, _) => return method_not_allowed(&[Method::GET, Method::HEAD]),
            (Route::Upload, Method::PUT | Method::POST) => upload::upload(self, req, param).await,
            (Route::Upload, _) => return method_not_allowed(&[Method::POST, Method::PUT]),
            (Route::TusCollection, Method::OPTIONS) | (Route::TusUpload, Method::OPTIONS) => {
                Ok(tus::options(self))
            }
            (Route::TusCollection, Method::POST) => tus::create(self, req).await,
            (Route::TusCollection, _) => {
                return method_not_allowed(&[Method::OPTIONS, Method::POST])
            }
            (Route::TusUpload, Method::HEAD) => tus::head(self, req, param).await,
            (Route::TusUpload, Method::PATCH) => tus::patch(self, req, param).await,
            (Route::TusUpload, Method::DELETE) => tus::terminate(self, req, param).await,
            (Route::TusUpload, _) => {
                return method_not_allowed(&[
                    Method::OPTIONS,
                    Method::HEAD,
                    Method::PATCH,
                    Method::DELETE,
                ])
            }
        };
        result.unwrap_or_else(Error::into_response)
    }
}

impl svc::App for Stream {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        self.dispatch(req).await
    }

    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await?;
        self.storage
            .check_writable()
            .await
            .map_err(|e| format!("storage not writable: {e}"))
    }
}

/// The streamserver, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Stream>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = svc::db::pool(&config.common.database_url, config.db_pool_size)?;
        svc::db::wait_until_up(&pool, config.db_wait)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let storage: Arc<dyn Storage> = Arc::new(
            LocalStorage::new(&config.storage_dir)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot use STORAGE_DIR={}: {e}",
                        config.storage_dir.display()
                    )
                })?
                .inline_reads(config.inline_reads),
        );
        let server = Server::bind(config.addr, "streamserver")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on STREAM_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout);
        Ok(Application {
            server,
            state: Arc::new(Stream::new(pool, storage, config)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<Stream> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        self.server.run(self.state.clone(), shutdown).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.state.pool.clone().disconnect())
            .await;
    }
}
