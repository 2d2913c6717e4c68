//! What every request handler shares: the database pool, storage, configuration, the admission
//! limits, the per-video upload locks and the playback row cache.
//!
//! Only the state lives here; handlers are in `routes`, the route table in `routes/mod.rs`.

use std::sync::Arc;

use svc::storage::Storage;

use crate::cache::RowCache;
use crate::config::Config;
use crate::limits::{Limits, VideoLocks};

/// Shared state of the streamserver's request handlers.
pub struct Stream {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: Config,
    pub(crate) limits: Limits,
    pub(crate) locks: VideoLocks,
    pub(crate) rows: RowCache,
}

impl Stream {
    pub fn new(pool: mysql_async::Pool, storage: Arc<dyn Storage>, config: Config) -> Self {
        Stream {
            pool,
            storage,
            limits: Limits::new(&config),
            rows: RowCache::new(config.playback_cache_ttl),
            config,
            locks: VideoLocks::default(),
        }
    }
}
