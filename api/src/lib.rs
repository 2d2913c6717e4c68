//! The api service: users, sessions, videos and comments (SPEC section 3).
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
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// Shared state of the api's request handlers.
pub struct Api {
    pub pool: mysql_async::Pool,
    pub config: Config,
}

impl svc::App for Api {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        svc::router::not_found()
    }

    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await
    }
}

/// The api, bound and migrated, ready to run.
pub struct Application {
    server: Server,
    api: Arc<Api>,
}

impl Application {
    /// Connects to the database (waiting up to `DB_WAIT` for it), applies migrations and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = svc::db::pool(&config.common.database_url, config.db_pool_size)?;
        let applied = svc::db::migrate_when_up(&pool, config.db_wait).await?;
        tracing::info!(applied, "database schema up to date");
        let server = Server::bind(config.addr, "api")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on API_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout);
        Ok(Application {
            server,
            api: Arc::new(Api { pool, config }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn api(&self) -> Arc<Api> {
        self.api.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains and closes the pool.
    pub async fn run(self, shutdown: CancellationToken) {
        self.server.run(self.api.clone(), shutdown).await;
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.api.pool.clone().disconnect()).await;
    }
}
