//! The web service: server-rendered pages and the same-origin reverse proxy to api and
//! streamserver (SPEC section 6).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does. This file holds the service's state ([`Web`]) and its
//! start-up; where each request goes is `routes.rs`, the one route table and dispatch. Pages live
//! in `pages.rs`, the proxy in `proxy.rs`, the one HTTP client to the upstreams in `upstream.rs`.

pub mod api;
pub mod assets;
pub mod config;
pub mod error;
pub mod identity;
pub mod live_upstream;
pub mod media;
pub mod messages;
pub mod pages;
pub mod proxy;
pub mod routes;
pub mod session;
pub mod upstream;
pub mod urls;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::api::ApiClient;
use crate::identity::Identities;
use crate::media::MediaOrigin;
use crate::proxy::Proxy;
use crate::session::CookiePolicy;

/// Shared state of the web's request handlers.
pub struct Web {
    pub api: ApiClient,
    /// Who each session cookie belongs to, asked of the api and cached for a moment.
    pub identities: Identities,
    pub proxy: Proxy,
    pub cookies: CookiePolicy,
    /// Where pages point media: this site, or the media origin (`MEDIA_URL`).
    pub media: MediaOrigin,
    pub config: Config,
}

/// The web, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Web>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let server = Server::bind(config.addr, "web")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on WEB_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout)
            .connection_limits(config.common.connections.clone());
        // One client, so pages and proxy share the pool of connections to the api.
        let client = upstream::client(config.upstream_connect_timeout);
        let web = Web {
            api: ApiClient::new(client.clone(), &config.api_url),
            identities: Identities::default(),
            proxy: Proxy::new(
                client,
                config.upstream_connect_timeout,
                &config.api_url,
                &config.stream_url,
                config.trust_forwarded_for,
                config.cookie_secure,
                config.local_files.clone(),
            ),
            cookies: CookiePolicy {
                secure: config.cookie_secure,
                max_age: config.session_ttl,
            },
            media: MediaOrigin::new(config.media_url.clone()),
            config,
        };
        Ok(Application {
            server,
            state: Arc::new(web),
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
