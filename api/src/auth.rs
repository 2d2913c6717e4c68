//! Passwords and sessions: Argon2id hashing off the async threads, and the session life cycle
//! (create on register and login, authenticate with sliding renewal, revoke on logout, sweep).
//!
//! Identity comes only from `X-Session-Id`; nothing a client says about who it is (`X-User-Name`,
//! `author_id`) is read anywhere in this crate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use http::HeaderMap;
use mysql_async::prelude::Queryable;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::store;

/// The header carrying the session id (the original's name).
pub const SESSION_HEADER: &str = "x-session-id";

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: the OWASP minimum), run on the
/// blocking pool, at most `concurrency` at once so a login storm cannot take all the memory.
pub struct Passwords {
    /// Held by the blocking task itself, so a client that hangs up mid-hash does not free its
    /// slot while the hash is still running.
    permits: Arc<Semaphore>,
    /// A real hash of a password nobody has, verified against when the user name is unknown so
    /// that "no such user" costs the same as "wrong password".
    dummy: String,
}

impl Passwords {
    pub async fn new(concurrency: u32) -> Result<Self, ApiError> {
        let permits = Arc::new(Semaphore::new(concurrency.max(1) as usize));
        let dummy = blocking(|| hash_now("no user has this password")).await?;
        Ok(Passwords { permits, dummy })
    }

    /// The PHC string (`$argon2id$v=19$...`) of `pwd` with a fresh random salt.
    pub async fn hash(&self, pwd: String) -> Result<String, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(internal)?;
        blocking(move || {
            let _permit = permit;
            hash_now(&pwd)
        })
        .await
    }

    /// Whether `pwd` matches `phc`; with `None` (unknown user) it does the same work against
    /// the dummy hash and answers false.
    pub async fn verify(&self, pwd: String, phc: Option<String>) -> Result<bool, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(internal)?;
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let matches = blocking(move || {
            let _permit = permit;
            Ok(Argon2::default()
                .verify_password(pwd.as_bytes(), phc.as_str())
                .is_ok())
        })
        .await?;
        Ok(known && matches)
    }
}

fn hash_now(pwd: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(pwd.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The user a request is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub session_id: String,
    pub user_id: u32,
    pub user_name: String,
}

struct Cached {
    user_id: u32,
    user_name: String,
    /// When the database last confirmed the session.
    checked: Instant,
    /// Local estimate of its expiry.
    expires: Instant,
}

/// Session life cycle, with a short in-process cache of confirmed sessions.
pub struct Sessions {
    ttl: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

/// Past this many cached sessions the cache starts over rather than grow.
const CACHE_MAX: usize = 100_000;

impl Sessions {
    pub fn new(ttl: Duration, cache_ttl: Duration) -> Self {
        Sessions {
            ttl,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // The map holds no invariants a panic could break; keep using it.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a session for `user_id` and returns its id (UUIDv4).
    pub async fn create<Q: Queryable>(
        &self,
        conn: &mut Q,
        user_id: u32,
    ) -> Result<String, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        store::sessions::insert(conn, &id, user_id, self.ttl).await?;
        Ok(id)
    }

    /// The viewer behind the request's `X-Session-Id`, or 401.
    ///
    /// A session confirmed by the database less than `SESSION_CACHE_TTL` ago is trusted from
    /// the cache. Otherwise the database is asked, and the expiry is pushed `SESSION_TTL` ahead
    /// only when less than half of it remains, so an active user's requests do not each write.
    pub async fn authenticate(
        &self,
        pool: &mysql_async::Pool,
        headers: &HeaderMap,
    ) -> Result<Viewer, ApiError> {
        const MISSING: &str =
            "user authentication failed: log in and send the session id in X-Session-Id";
        const INVALID: &str =
            "user authentication failed: the session is unknown, expired or logged out";
        let raw = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ApiError::NotAuthenticated(MISSING))?;
        // Stored ids are lower-case hyphenated UUIDs; anything else cannot match.
        let session_id = match uuid::Uuid::parse_str(raw) {
            Ok(u) if raw.len() == 36 => u.hyphenated().to_string(),
            _ => return Err(ApiError::NotAuthenticated(INVALID)),
        };
        let now = Instant::now();
        if let Some(c) = self.cache().get(&session_id) {
            if now.duration_since(c.checked) < self.cache_ttl && now < c.expires {
                return Ok(Viewer {
                    user_id: c.user_id,
                    user_name: c.user_name.clone(),
                    session_id,
                });
            }
        }
        let mut conn = pool.get_conn().await?;
        let Some(live) = store::sessions::find(&mut conn, &session_id).await? else {
            self.cache().remove(&session_id);
            return Err(ApiError::NotAuthenticated(INVALID));
        };
        let remaining = if live.remaining < self.ttl / 2 {
            store::sessions::renew(&mut conn, &session_id, self.ttl).await?;
            self.ttl
        } else {
            live.remaining
        };
        drop(conn);
        if !self.cache_ttl.is_zero() {
            let mut cache = self.cache();
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                session_id.clone(),
                Cached {
                    user_id: live.user_id,
                    user_name: live.user_name.clone(),
                    checked: now,
                    expires: now + remaining,
                },
            );
        }
        Ok(Viewer {
            session_id,
            user_id: live.user_id,
            user_name: live.user_name,
        })
    }

    /// Logs a session out: gone from the cache at once and from the database.
    pub async fn revoke<Q: Queryable>(
        &self,
        conn: &mut Q,
        session_id: &str,
    ) -> Result<(), ApiError> {
        self.cache().remove(session_id);
        store::sessions::delete(conn, session_id).await?;
        Ok(())
    }

    /// Drops cache entries too old to be trusted anyway.
    pub fn prune_cache(&self) {
        let now = Instant::now();
        let cache_ttl = self.cache_ttl;
        self.cache()
            .retain(|_, c| now.duration_since(c.checked) < cache_ttl && now < c.expires);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let p = Passwords::new(2).await.unwrap();
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(p
            .verify("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!p
            .verify("wrong horse".into(), Some(h.clone()))
            .await
            .unwrap());
        // Unknown user: false even for the dummy's own password.
        assert!(!p
            .verify("no user has this password".into(), None)
            .await
            .unwrap());
        // Two hashes of one password differ (random salt).
        assert_ne!(h, p.hash("correct horse".into()).await.unwrap());
        // A corrupt stored hash is a failed login, not a panic.
        assert!(!p.verify("x".into(), Some("garbage".into())).await.unwrap());
    }
}
