//! The scheduler service: the durable job runner: deletion, post-upload processing, reconciliation (SPEC section 5).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does.

pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use svc::http::Body;
use svc::storage::{LocalStorage, Storage};
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// Shared state of the scheduler's request handlers.
pub struct Scheduler {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: Config,
}

impl svc::App for Scheduler {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        svc::router::not_found()
    }

    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await?;
        self.storage
            .check_writable()
            .await
            .map_err(|e| format!("storage not writable: {e}"))
    }
}

/// The scheduler, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Scheduler>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = svc::db::pool(&config.common.database_url, config.db_pool_size)?;
        let applied = svc::db::migrate_when_up(&pool, config.db_wait).await?;
        tracing::info!(applied, "database schema up to date");
        let storage: Arc<dyn Storage> =
            Arc::new(LocalStorage::new(&config.storage_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot use STORAGE_DIR={}: {e}",
                    config.storage_dir.display()
                )
            })?);
        let server = Server::bind(config.addr, "scheduler")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on SCHEDULER_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout);
        Ok(Application {
            server,
            state: Arc::new(Scheduler {
                pool,
                storage,
                config,
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<Scheduler> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        self.server.run(self.state.clone(), shutdown).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.state.pool.clone().disconnect())
            .await;
    }
}
