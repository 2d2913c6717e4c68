//! Passwords and sessions: Argon2id hashing off the async threads, and the session life cycle
//! (create on register and login, authenticate with sliding renewal, revoke on logout, sweep).
//! Who a session belongs to is read with `svc::sessions::lookup`, the lookup streamserver uses
//! too; the cache, the renewal and the revocation are the api's own.
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
use svc::sessions::SessionUser;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::canonical_uuid;
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

    /// A slot to hash in, waiting for one while `concurrency` hashes run.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.permits.clone().acquire_owned().await.map_err(internal)
    }

    /// The PHC string (`$argon2id$v=19$...`) of `pwd` with a fresh random salt.
    pub async fn hash(&self, pwd: String) -> Result<String, ApiError> {
        let permit = self.permit().await?;
        blocking(move || {
            let _permit = permit;
            hash_now(&pwd)
        })
        .await
    }

    /// Whether `pwd` matches `phc`; with `None` (unknown user) it does the same work against
    /// the dummy hash and answers false.
    pub async fn verify(&self, pwd: String, phc: Option<String>) -> Result<bool, ApiError> {
        let permit = self.permit().await?;
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

/// Who reads: the session's user, or nobody (a signed-out visitor). What a reader may see is
/// decided by `svc::video::visible` and its SQL spellings, with [`Reader::user_id`] as the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader(pub Option<Viewer>);

impl Reader {
    /// The viewer's user id for the visibility rule; 0 when signed out (no user has id 0:
    /// `users.id` counts from 1), so a signed-out reader owns nothing.
    pub fn user_id(&self) -> u32 {
        self.0.as_ref().map_or(0, |v| v.user_id)
    }

    /// The viewer's id if they are the user named `name`.
    pub fn id_if_named(&self, name: &str) -> Option<u32> {
        self.0
            .as_ref()
            .filter(|v| v.user_name == name)
            .map(|v| v.user_id)
    }
}

/// The user a request is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub session_id: String,
    pub user_id: u32,
    pub user_name: String,
}

impl Viewer {
    /// 403 with `why` unless `path_user`, the user name a route acts for, is the viewer's own.
    pub fn must_be(&self, path_user: &str, why: &'static str) -> Result<(), ApiError> {
        if self.user_name == path_user {
            Ok(())
        } else {
            Err(ApiError::Forbidden(why))
        }
    }
}

struct Cached {
    user: SessionUser,
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

const MISSING: &str = "user authentication failed: log in and send the session id in X-Session-Id";
const INVALID: &str = "user authentication failed: the session is unknown, expired or logged out";

/// The session id a request carries, in the canonical spelling it is stored in: `None` when
/// there is none (no header, or a blank one), 401 when it cannot be one (anything but a UUID
/// cannot match, so the database is spared).
fn session_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    let raw = value
        .to_str()
        .map_err(|_| ApiError::NotAuthenticated(INVALID))?
        .trim();
    if raw.is_empty() {
        return Ok(None);
    }
    canonical_uuid(raw)
        .map(Some)
        .ok_or(ApiError::NotAuthenticated(INVALID))
}

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
        let session_id = session_id(headers)?.ok_or(ApiError::NotAuthenticated(MISSING))?;
        self.viewer(pool, session_id).await
    }

    /// For routes that anyone may read: the viewer when the request carries a session id, none
    /// when it carries none (or a blank one), and still 401 for a session id that is not (or no
    /// longer) a session, so that a client learns its session has ended rather than silently
    /// seeing less.
    pub async fn reader(
        &self,
        pool: &mysql_async::Pool,
        headers: &HeaderMap,
    ) -> Result<Reader, ApiError> {
        match session_id(headers)? {
            Some(session_id) => Ok(Reader(Some(self.viewer(pool, session_id).await?))),
            None => Ok(Reader(None)),
        }
    }

    async fn viewer(
        &self,
        pool: &mysql_async::Pool,
        session_id: String,
    ) -> Result<Viewer, ApiError> {
        let now = Instant::now();
        let user = match self.cached(&session_id, now) {
            Some(user) => user,
            None => {
                let (user, remaining) = self.confirm(pool, &session_id).await?;
                self.remember(&session_id, &user, now, remaining);
                user
            }
        };
        Ok(Viewer {
            session_id,
            user_id: user.user_id,
            user_name: user.user_name,
        })
    }

    /// The session's user if the cache may still vouch for it at `now`.
    fn cached(&self, session_id: &str, now: Instant) -> Option<SessionUser> {
        let cache = self.cache();
        let c = cache.get(session_id)?;
        (now.duration_since(c.checked) < self.cache_ttl && now < c.expires).then(|| c.user.clone())
    }

    /// Asks the database who the session belongs to and how long it has left, renewing it when
    /// less than half its TTL remains. An unknown or expired session is 401 and leaves the cache.
    async fn confirm(
        &self,
        pool: &mysql_async::Pool,
        session_id: &str,
    ) -> Result<(SessionUser, Duration), ApiError> {
        let mut conn = pool.get_conn().await?;
        let Some(user) = svc::sessions::lookup(&mut conn, session_id).await? else {
            self.cache().remove(session_id);
            return Err(ApiError::NotAuthenticated(INVALID));
        };
        let left = user.expires_in;
        if left >= self.ttl / 2 {
            return Ok((user, left));
        }
        store::sessions::renew(&mut conn, session_id, self.ttl).await?;
        Ok((user, self.ttl))
    }

    /// Caches a session the database confirmed at `checked`, with `remaining` time to live.
    fn remember(
        &self,
        session_id: &str,
        user: &SessionUser,
        checked: Instant,
        remaining: Duration,
    ) {
        if self.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            session_id.to_string(),
            Cached {
                user: user.clone(),
                checked,
                expires: checked + remaining,
            },
        );
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
    use http::HeaderValue;

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

    fn ann() -> SessionUser {
        SessionUser {
            user_id: 7,
            user_name: "ann".into(),
            expires_in: Duration::from_secs(1800),
        }
    }

    #[test]
    fn the_cache_vouches_only_within_its_ttl_and_the_sessions_own_expiry() {
        let sessions = Sessions::new(Duration::from_secs(1800), Duration::from_secs(2));
        let t0 = Instant::now();
        assert_eq!(sessions.cached("s", t0), None);
        sessions.remember("s", &ann(), t0, Duration::from_secs(1800));
        assert_eq!(sessions.cached("s", t0), Some(ann()));
        assert_eq!(
            sessions.cached("s", t0 + Duration::from_millis(1999)),
            Some(ann())
        );
        assert_eq!(sessions.cached("s", t0 + Duration::from_secs(2)), None);
        // A session about to expire is trusted only until it does.
        sessions.remember("t", &ann(), t0, Duration::from_secs(1));
        assert_eq!(
            sessions.cached("t", t0 + Duration::from_millis(999)),
            Some(ann())
        );
        assert_eq!(sessions.cached("t", t0 + Duration::from_secs(1)), None);
        assert_eq!(sessions.cached("other", t0), None);
    }

    #[test]
    fn a_zero_cache_ttl_caches_nothing() {
        let sessions = Sessions::new(Duration::from_secs(1800), Duration::ZERO);
        let t0 = Instant::now();
        sessions.remember("s", &ann(), t0, Duration::from_secs(1800));
        assert_eq!(sessions.cached("s", t0), None);
        assert!(sessions.cache().is_empty());
    }

    #[test]
    fn the_session_header_must_hold_a_uuid_spelled_any_case() {
        let id = uuid::Uuid::new_v4().to_string();
        let with = |value: HeaderValue| {
            let mut headers = HeaderMap::new();
            headers.insert(SESSION_HEADER, value);
            session_id(&headers)
        };
        let text = |s: &str| with(s.parse().unwrap());
        assert_eq!(text(&id).unwrap(), Some(id.clone()));
        assert_eq!(
            text(&format!(" {} ", id.to_uppercase())).unwrap(),
            Some(id.clone())
        );
        for bad in ["nope", "' OR 1=1 --", &id.replace('-', "")] {
            assert!(
                matches!(text(bad), Err(ApiError::NotAuthenticated(INVALID))),
                "{bad}"
            );
        }
        assert!(matches!(
            with(HeaderValue::from_bytes(b"\xff").unwrap()),
            Err(ApiError::NotAuthenticated(INVALID))
        ));
        // No header, or a blank one: no session (a signed-out reader).
        assert_eq!(session_id(&HeaderMap::new()).unwrap(), None);
        assert_eq!(text("  ").unwrap(), None);
    }

    #[test]
    fn a_viewer_acts_only_for_their_own_name() {
        let viewer = Viewer {
            session_id: "s".into(),
            user_id: 7,
            user_name: "ann".into(),
        };
        assert!(viewer.must_be("ann", "why").is_ok());
        for other in ["bob", "Ann", "ann ", ""] {
            assert!(matches!(
                viewer.must_be(other, "why"),
                Err(ApiError::Forbidden("why"))
            ));
        }
    }
}
