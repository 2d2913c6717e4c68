//! What every request handler shares: the database pool, storage, configuration, the admission
//! limits, the per-video upload locks and the playback caches (video rows, session owners).
//!
//! Only the state lives here; handlers are in `routes`, the route table in `routes/mod.rs`.

use std::sync::Arc;

use svc::storage::Storage;
use svc::VideoId;

use crate::cache::TtlCache;
use crate::config::Config;
use crate::limits::{Limits, VideoLocks};
use crate::store::PlaybackRow;

/// Shared state of the streamserver's request handlers.
pub struct Stream {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: Config,
    pub(crate) limits: Limits,
    pub(crate) locks: VideoLocks,
    /// Playable video rows, for `PLAYBACK_CACHE_TTL`.
    pub(crate) rows: TtlCache<VideoId, Arc<PlaybackRow>>,
    /// Session id -> user id of live sessions read for private playback, for the same TTL.
    pub(crate) sessions: TtlCache<String, u32>,
}

impl Stream {
    pub fn new(pool: mysql_async::Pool, storage: Arc<dyn Storage>, config: Config) -> Self {
        Stream {
            pool,
            storage,
            limits: Limits::new(&config),
            rows: TtlCache::new(config.playback_cache_ttl),
            sessions: TtlCache::new(config.playback_cache_ttl),
            config,
            locks: VideoLocks::default(),
        }
    }
}
