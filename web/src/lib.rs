//! The web service: server-rendered pages and the same-origin reverse proxy to api and streamserver (SPEC section 6).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does.

pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use svc::http::Body;
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;

/// Shared state of the web's request handlers.
pub struct Web {
    pub http: reqwest::Client,
    pub config: Config,
}

impl svc::App for Web {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        svc::router::not_found()
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The web, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Web>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let server = Server::bind(config.addr, "web")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on WEB_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout);
        Ok(Application {
            server,
            state: Arc::new(Web { http, config }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<Web> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        self.server.run(self.state.clone(), shutdown).await;
    }
}
