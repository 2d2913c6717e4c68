//! `Api`, the state every request handler shares (the pool, the configuration, sessions,
//! password hashing, the per-client limits and the live fan-out), and the periodic housekeeping
//! over it.
//!
//! How a request reaches a handler is `routes`' business and how the process starts and stops is
//! `lib.rs`'s; neither belongs here, so this module imports neither and both import it.

use std::sync::Arc;

use crate::auth::{Passwords, Sessions};
use crate::config::Config;
use crate::live::Hub;
use crate::ratelimit::Limits;
use crate::store;

/// Shared state of the api's request handlers.
pub struct Api {
    pub pool: mysql_async::Pool,
    pub config: Config,
    pub sessions: Sessions,
    pub passwords: Passwords,
    pub limits: Limits,
    /// This process's share of the live updates (`GET /videos/{vid}/live`).
    pub live: Arc<Hub>,
}

impl Api {
    /// One round of housekeeping: delete expired sessions, refresh the `api_sessions_active`
    /// gauge, and forget idle rate-limit and cache entries. Returns how many sessions went.
    pub async fn sweep_once(&self) -> Result<u64, mysql_async::Error> {
        const BATCH: u32 = 1000;
        let mut conn = self.pool.get_conn().await?;
        let mut swept = 0;
        loop {
            let n = store::sessions::sweep_expired(&mut conn, BATCH).await?;
            swept += n;
            if n < u64::from(BATCH) {
                break;
            }
        }
        let active = store::sessions::count_active(&mut conn).await?;
        metrics::gauge!("api_sessions_active").set(active as f64);
        self.limits.forget_idle();
        self.sessions.prune_cache();
        Ok(swept)
    }
}
