//! The api's configuration, from environment variables (all listed in `.env.example`).

use std::net::SocketAddr;
use std::time::Duration;

use svc::config::{Common, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `API_ADDR`, default 127.0.0.1:8000.
    pub addr: SocketAddr,
    /// `DB_POOL_SIZE`, default 32.
    pub db_pool_size: usize,
    /// `DB_WAIT`: how long start-up waits for the database, default 30s.
    pub db_wait: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: Common::from_env(env)?,
            addr: env.addr("API_ADDR", "127.0.0.1:8000")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
        })
    }
}
