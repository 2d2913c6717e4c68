//! The scheduler's configuration, from environment variables (all listed in `.env.example`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use svc::config::{Common, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `SCHEDULER_ADDR`, default 127.0.0.1:9001.
    pub addr: SocketAddr,
    /// `DB_POOL_SIZE`, default 32.
    pub db_pool_size: usize,
    /// `DB_WAIT`: how long start-up waits for the database, default 30s.
    pub db_wait: Duration,
    /// `STORAGE_DIR`: where videos, thumbnails and uploads live, default var/storage.
    pub storage_dir: PathBuf,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: Common::from_env(env)?,
            addr: env.addr("SCHEDULER_ADDR", "127.0.0.1:9001")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
            storage_dir: PathBuf::from(env.string("STORAGE_DIR", "var/storage")),
        })
    }
}
