//! The api service: users, sessions, videos and comments (SPEC section 3).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does. Modules: `routes` (the route table and one handler
//! module per resource), `request` (reading bodies and page parameters), `state` (the `Api` the
//! handlers share), `store` (SQL per table), `auth` (passwords and sessions), `domain` (parsed
//! input values), `search` (how text is cut into search tokens, for indexing and queries),
//! `indexer` (the start-up catch-up of the search index), `live` (the live updates' fan-out
//! across api processes), `ratelimit` (client IP and the per-client limits), `error`.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod indexer;
pub mod live;
pub mod ratelimit;
pub mod request;
pub mod routes;
pub mod search;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use svc::http::Body;
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::Api;

use auth::{Passwords, Sessions};
use ratelimit::Limits;

/// The server loop's view of the api: every request goes through the one route table.
impl svc::App for Api {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        routes::dispatch(self, req).await
    }

    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await
    }

    /// A live stream is written outside hyper, so an idle one costs a few KiB (issue 14).
    fn takes_over(&self, method: &http::Method, path: &str) -> bool {
        routes::takes_over(method, path)
    }

    async fn take_over(&self, req: Request<()>) -> Response<Body> {
        routes::dispatch_taken_over(self, req).await
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
        let pool = svc::db::pool(config.database_url.expose(), config.db_pool_size)?;
        let applied = svc::db::migrate_when_up(&pool, config.db_wait).await?;
        tracing::info!(applied, "database schema up to date");
        let passwords = Passwords::new(config.hash_concurrency)
            .await
            .map_err(|e| anyhow::anyhow!("preparing password hashing: {e}"))?;
        let server = Server::bind(config.addr, "api")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on API_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout)
            .connection_limits(config.common.connections.clone());
        // Register the api's own series at zero so dashboards see them before the first login.
        for result in ["ok", "failed"] {
            metrics::counter!("api_logins_total", "result" => result).increment(0);
        }
        let live = live::Hub::start(&pool, config.live.clone()).await?;
        let api = Api {
            pool,
            sessions: Sessions::new(config.session_ttl, config.session_cache_ttl),
            passwords,
            limits: Limits::new(&config),
            live,
            config,
        };
        Ok(Application {
            server,
            api: Arc::new(api),
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

    /// Serves until `shutdown` is cancelled, then drains and closes the pool. The session
    /// sweeper, the search indexer (which catches up once and ends) and the live fan-out's two
    /// tasks run alongside and stop with the server; the live streams end when it starts to
    /// drain, so they do not hold it up.
    pub async fn run(self, shutdown: CancellationToken) {
        let sweeper = tokio::spawn(sweep_periodically(self.api.clone(), shutdown.clone()));
        let indexer = tokio::spawn(indexer::run(self.api.clone(), shutdown.clone()));
        let hub = self.api.live.clone();
        let poller = tokio::spawn(live::run_poller(hub.clone(), self.api.pool.clone()));
        let presence = tokio::spawn(live::run_presence(hub.clone(), self.api.pool.clone()));
        let closer = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                hub.close();
            }
        });
        self.server.run(self.api.clone(), shutdown.clone()).await;
        shutdown.cancel();
        let _ = sweeper.await;
        let _ = indexer.await;
        let _ = closer.await;
        let _ = poller.await;
        let _ = presence.await;
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.api.pool.clone().disconnect()).await;
    }
}

async fn sweep_periodically(api: Arc<Api>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(api.config.session_sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match api.sweep_once().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(swept = n, "expired sessions deleted"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired sessions failed; will retry"),
        }
    }
}
