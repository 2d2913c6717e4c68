//! Playable video rows kept for a short time (`PLAYBACK_CACHE_TTL`, default 1 s), so a popular
//! video's range requests do not each cost a database round trip.
//!
//! Only playable rows are kept: a new upload shows up at once, a deletion or a replaced file
//! within the TTL (and playback catches a replaced file anyway by comparing sizes). Deciding
//! what is playable is playback's business; this module only remembers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use svc::VideoId;

use crate::store::PlaybackRow;

/// Past this many entries the cache is emptied rather than managed: it only smooths bursts.
const CACHE_MAX: usize = 10_000;

pub struct RowCache {
    ttl: Duration,
    rows: Mutex<HashMap<VideoId, (Instant, PlaybackRow)>>,
}

impl RowCache {
    pub fn new(ttl: Duration) -> Self {
        RowCache {
            ttl,
            rows: Mutex::new(HashMap::new()),
        }
    }

    /// The row put for `video_id` less than the TTL ago.
    pub fn get(&self, video_id: &VideoId) -> Option<PlaybackRow> {
        if self.ttl.is_zero() {
            return None;
        }
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.get(video_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, row)| row.clone())
    }

    pub fn put(&self, video_id: &VideoId, row: &PlaybackRow) {
        if self.ttl.is_zero() {
            return;
        }
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.len() >= CACHE_MAX {
            rows.clear();
        }
        rows.insert(video_id.clone(), (Instant::now(), row.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> PlaybackRow {
        PlaybackRow {
            state: Some(svc::VideoState::Ready),
            size: Some(1),
            content_type: None,
            sha256: None,
            uploaded_at: None,
        }
    }

    #[test]
    fn rows_are_kept_for_the_ttl_and_never_with_a_zero_ttl() {
        let vid = VideoId::random();
        let cache = RowCache::new(Duration::from_secs(60));
        assert!(cache.get(&vid).is_none());
        cache.put(&vid, &row());
        assert_eq!(cache.get(&vid).and_then(|r| r.size), Some(1));
        assert!(cache.get(&VideoId::random()).is_none());

        let off = RowCache::new(Duration::ZERO);
        off.put(&vid, &row());
        assert!(off.get(&vid).is_none());
    }
}
