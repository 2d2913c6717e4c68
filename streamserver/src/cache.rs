//! Short-lived in-process memory of database answers (`PLAYBACK_CACHE_TTL`, default 1 s, at most
//! 2 s), so a popular video's range requests do not each cost a database round trip: playable
//! video rows, and the user behind a session when a private video is played by its owner.
//!
//! The TTL is the only invalidation: a video made private, a deletion or a revoked session is
//! seen at most one TTL late on every streamserver, which is why the configuration caps it
//! (`config.rs`). Deciding what may be cached is the caller's business; this module only
//! remembers.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many entries a cache is emptied rather than managed: it only smooths bursts.
const CACHE_MAX: usize = 10_000;

/// Values kept for a fixed time after they were put; a zero TTL keeps nothing.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value put for `key` less than the TTL ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_for_the_ttl_and_never_with_a_zero_ttl() {
        let cache = TtlCache::new(Duration::from_secs(60));
        assert_eq!(cache.get("a"), None);
        cache.put("a".to_string(), 1);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), None);

        let off = TtlCache::new(Duration::ZERO);
        off.put("a".to_string(), 1);
        assert_eq!(off.get("a"), None);
    }

    #[test]
    fn values_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_millis(1));
        cache.put(1u8, 1);
        let put = Instant::now();
        // Spin on the clock rather than sleep: the assertion is about elapsed time only.
        while put.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..CACHE_MAX {
            cache.put(i, i);
        }
        assert_eq!(cache.get(&0), Some(0));
        cache.put(CACHE_MAX, CACHE_MAX);
        assert_eq!(cache.get(&0), None);
        assert_eq!(cache.get(&CACHE_MAX), Some(CACHE_MAX));
    }
}
