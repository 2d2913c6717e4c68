//! The web's configuration, from environment variables (all listed in `.env.example`).

use std::net::SocketAddr;

use svc::config::{Common, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `WEB_ADDR`, default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// `API_URL`: where the api listens, default http://127.0.0.1:8000.
    pub api_url: String,
    /// `STREAM_URL`: where the streamserver listens, default http://127.0.0.1:9000.
    pub stream_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: Common::from_env(env)?,
            addr: env.addr("WEB_ADDR", "127.0.0.1:8080")?,
            api_url: env.string("API_URL", "http://127.0.0.1:8000"),
            stream_url: env.string("STREAM_URL", "http://127.0.0.1:9000"),
        })
    }
}
