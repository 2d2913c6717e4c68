//! Who a `session` cookie belongs to: the api's answer to `GET /session`, kept for a moment.
//!
//! The browser carries only its session id (`session.rs`); the name shown in the header, the
//! "is this my video" checks and the `/user/{me}/...` calls all come from this answer, so a
//! forged name cookie has nothing to change. Every page view needs the answer, so it is cached
//! per session id for [`TTL`] (at most 2 s, like the api's own session cache: a revoked or
//! expired session stops counting as signed in here within that time), in a map of at most
//! [`CAPACITY`] entries so a flood of made-up cookies cannot grow it. "No such session" is
//! cached too, for the same reason. What a signed-in visitor may do is still decided by the api
//! on every call, from the session alone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::{ApiClient, Ctx, Me};
use crate::error::WebError;

/// How long an answer is trusted.
pub const TTL: Duration = Duration::from_secs(2);
const _: () = assert!(
    TTL.as_millis() <= 2000,
    "the contract caps the cache at 2 s"
);

/// The most sessions remembered at once.
pub const CAPACITY: usize = 10_000;

/// The cached answers: session id -> who it is (`None`: the api does not know the session).
pub struct Identities {
    ttl: Duration,
    capacity: usize,
    answers: Mutex<HashMap<String, (Instant, Option<Me>)>>,
}

impl Default for Identities {
    fn default() -> Self {
        Identities::new(TTL, CAPACITY)
    }
}

impl Identities {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Identities {
            ttl,
            capacity,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// Who `session` belongs to, from the cache or the api; `None` when the api does not know
    /// it (expired, revoked or made up). An unreachable api is an error, not "signed out": the
    /// page would be wrong either way, and saying so is clearer.
    pub async fn who(
        &self,
        api: &ApiClient,
        ctx: &Ctx<'_>,
        session: &str,
    ) -> Result<Option<Me>, WebError> {
        if let Some(answer) = self.cached(session, Instant::now()) {
            return Ok(answer);
        }
        let answer = api.session(ctx, session).await?;
        self.remember(session, answer.clone(), Instant::now());
        Ok(answer)
    }

    /// Forgets `session` (it was just revoked here).
    pub fn forget(&self, session: &str) {
        self.lock().remove(session);
    }

    fn cached(&self, session: &str, now: Instant) -> Option<Option<Me>> {
        let answers = self.lock();
        let (at, answer) = answers.get(session)?;
        (now.duration_since(*at) < self.ttl).then(|| answer.clone())
    }

    fn remember(&self, session: &str, answer: Option<Me>, now: Instant) {
        let mut answers = self.lock();
        if answers.len() >= self.capacity && !answers.contains_key(session) {
            // Full: drop what has expired; if that frees nothing, start over rather than grow.
            answers.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if answers.len() >= self.capacity {
                answers.clear();
            }
        }
        answers.insert(session.to_string(), (now, answer));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<Me>)>> {
        // A panic while holding the lock leaves nothing half-written (every change is one
        // insert, remove or retain), so a poisoned map is still sound.
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Option<Me> {
        Some(Me {
            user_id: 7,
            user_name: "ann".into(),
        })
    }

    #[test]
    fn answers_are_trusted_for_the_ttl_only() {
        let ids = Identities::new(Duration::from_secs(2), 10);
        let t0 = Instant::now();
        ids.remember("s1", ann(), t0);
        ids.remember("s2", None, t0);
        assert_eq!(
            ids.cached("s1", t0 + Duration::from_millis(1999)),
            Some(ann())
        );
        assert_eq!(
            ids.cached("s2", t0),
            Some(None),
            "unknown sessions are cached too"
        );
        assert_eq!(ids.cached("s1", t0 + Duration::from_secs(2)), None);
        assert_eq!(ids.cached("s3", t0), None);
        ids.forget("s1");
        assert_eq!(ids.cached("s1", t0), None);
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let ids = Identities::new(Duration::from_secs(2), 3);
        let t0 = Instant::now();
        for i in 0..3 {
            ids.remember(&format!("old{i}"), None, t0);
        }
        // Expired entries make room first.
        let later = t0 + Duration::from_secs(3);
        ids.remember("fresh", ann(), later);
        assert_eq!(ids.len(), 1);
        // A flood of live entries never grows the map past its capacity.
        for i in 0..100 {
            ids.remember(&format!("flood{i}"), None, later);
            assert!(ids.len() <= 3);
        }
        // Updating a known session does not evict anything.
        ids.remember("flood99", ann(), later);
        assert_eq!(ids.cached("flood99", later), Some(ann()));
    }
}
