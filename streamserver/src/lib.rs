//! The streamserver service: rate-limited upload (plain, multipart, resumable) and Range playback (SPEC section 4).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does. The route table and dispatch are in `routes/mod.rs`,
//! the handlers' shared state in `state.rs`.

mod access;
mod cache;
pub mod conditional;
pub mod config;
mod cors;
mod error;
mod ingest;
mod limits;
mod meters;
pub mod range;
mod routes;
mod state;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use svc::http::Body;
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::Error;
/// The route table, for the test that checks `openapi.json` against it.
pub use routes::Route;
pub use state::Stream;

impl svc::App for Stream {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        routes::dispatch(self, req).await
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

/// How long an opened file serves further requests for it (`LocalStorage::reuse_opened`), at
/// most `PLAYBACK_CACHE_TTL` (so `0` turns it off too): a file the scheduler replaces by rename
/// is served from its old handle for at most this long, a shorter window than the cached row's.
const REUSE_OPENED_FILES: Duration = Duration::from_millis(250);

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = svc::db::pool(config.database_url.expose(), config.db_pool_size)?;
        svc::db::wait_until_up(&pool, config.db_wait)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let reads = svc::storage::LocalReads {
            inline: config.inline_reads,
            reuse_opened: config.playback_cache_ttl.min(REUSE_OPENED_FILES),
        };
        let storage = svc::storage::connect(&config.storage, reads)
            .map_err(|e| anyhow::anyhow!("cannot use the storage {:?}: {e}", config.storage))?;
        let server = Server::bind(config.addr, "streamserver")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on STREAM_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout)
            .connection_limits(config.common.connections.clone());
        // At zero from the start, so the storage-errors alert has a series to watch.
        metrics::counter!("stream_storage_errors_total").increment(0);
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
