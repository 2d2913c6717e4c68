//! The api's configuration, from environment variables (all listed in `.env.example`).
//!
//! `Debug` prints the whole configuration safely: the database URL's password is redacted by
//! `svc::config::DatabaseUrl`, `MEDIA_SIGNING_KEY` prints as `***` (`svc::media::MediaKey`), and
//! no other setting is a secret.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use svc::config::{Common, ConfigError, DatabaseUrl, Env};
use svc::media::MediaKey;

use crate::live::Settings;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `DATABASE_URL`; its `Debug` hides the password.
    pub database_url: DatabaseUrl,
    /// `API_ADDR`, default 127.0.0.1:8000.
    pub addr: SocketAddr,
    /// `DB_POOL_SIZE`, default 32.
    pub db_pool_size: usize,
    /// `DB_WAIT`: how long start-up waits for the database, default 30s.
    pub db_wait: Duration,
    /// `SESSION_TTL`: how long a session lives after its last renewal, default 30m.
    pub session_ttl: Duration,
    /// `SESSION_SWEEP_INTERVAL`: how often expired sessions are deleted (and the sessions gauge
    /// refreshed), default 1m.
    pub session_sweep_interval: Duration,
    /// `SESSION_CACHE_TTL`: how long this process trusts a session it has looked up without
    /// asking the database again, default 2s; `0` disables the cache. A session revoked on
    /// another api process stops working here within this time.
    pub session_cache_ttl: Duration,
    /// `AUTH_RATE_PER_MIN`: login and register attempts per client IP per minute, default 20.
    pub auth_rate_per_min: u32,
    /// `AUTH_BURST`: attempts a client may make at once before the rate applies, default 10.
    pub auth_burst: u32,
    /// `READ_RATE_PER_MINUTE`: reads without a session per client IP per minute, default 600,
    /// with a burst of a tenth of that; `0` means unlimited.
    pub read_rate_per_minute: u32,
    /// `SEARCH_RATE_PER_MINUTE`: searches per client IP per minute, signed in or not, default
    /// 60, with a burst of a tenth of that; `0` means unlimited.
    pub search_rate_per_minute: u32,
    /// `TRUSTED_PROXIES`: comma-separated IPs whose `X-Forwarded-For` is believed, default
    /// `127.0.0.1,::1` (web runs on the same machine and forwards the client's address).
    pub trusted_proxies: Vec<IpAddr>,
    /// `PASSWORD_HASH_CONCURRENCY`: Argon2 hashes run at once, default 4. Each takes 19 MiB,
    /// so this caps the memory a login storm can take.
    pub hash_concurrency: u32,
    /// `DANMAKU_INTERVAL`: how long a user waits between two danmaku, default 2s (per api
    /// process); `0` turns the limit off.
    pub danmaku_interval: Duration,
    /// `LIVE_POLL_INTERVAL`, `LIVE_HEARTBEAT`, `LIVE_NODE_TIMEOUT`, `LIVE_EVENT_RETENTION`: the
    /// live fan-out (`crate::live`).
    pub live: Settings,
    /// `MEDIA_URL`: the media origin's public base URL (`https://media.example.org`), where
    /// browsers reach the streamserver directly; unset, media URLs stay relative to the site
    /// (web proxies them). Needs `MEDIA_SIGNING_KEY`.
    pub media_url: Option<String>,
    /// `MEDIA_SIGNING_KEY`: the key media grants and upload tokens are signed with, shared with
    /// the streamserver (`svc::media`).
    pub media_key: Option<MediaKey>,
    /// `MEDIA_GRANT_TTL`: how long a signed media URL or an upload token works, default 10m.
    pub media_grant_ttl: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let media_url = svc::media::origin_from_env(env, "MEDIA_URL")?;
        let media_key = MediaKey::from_env(env)?;
        if media_url.is_some() && media_key.is_none() {
            return Err(ConfigError {
                name: "MEDIA_SIGNING_KEY".into(),
                value: String::new(),
                reason: "must be set when MEDIA_URL is: private videos' media URLs are signed \
                         with it (the streamserver needs the same key; try `openssl rand -hex 32`)"
                    .into(),
            });
        }
        Ok(Config {
            common: Common::from_env(env)?,
            database_url: DatabaseUrl::from_env(env)?,
            addr: env.addr("API_ADDR", "127.0.0.1:8000")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
            session_ttl: positive_duration(env, "SESSION_TTL", Duration::from_secs(30 * 60))?,
            session_sweep_interval: positive_duration(
                env,
                "SESSION_SWEEP_INTERVAL",
                Duration::from_secs(60),
            )?,
            session_cache_ttl: env.duration("SESSION_CACHE_TTL", Duration::from_secs(2))?,
            auth_rate_per_min: auth_rate(env)?,
            auth_burst: env.positive("AUTH_BURST", 10)?,
            read_rate_per_minute: env.get("READ_RATE_PER_MINUTE", 600)?,
            search_rate_per_minute: env.get("SEARCH_RATE_PER_MINUTE", 60)?,
            trusted_proxies: env.ip_list("TRUSTED_PROXIES", "127.0.0.1,::1")?,
            hash_concurrency: env.positive("PASSWORD_HASH_CONCURRENCY", 4)?,
            danmaku_interval: env.duration("DANMAKU_INTERVAL", Duration::from_secs(2))?,
            live: Settings {
                poll_interval: positive_duration(
                    env,
                    "LIVE_POLL_INTERVAL",
                    Duration::from_millis(250),
                )?,
                heartbeat: positive_duration(env, "LIVE_HEARTBEAT", Duration::from_secs(15))?,
                node_timeout: positive_duration(env, "LIVE_NODE_TIMEOUT", Duration::from_secs(15))?,
                retention: positive_duration(
                    env,
                    "LIVE_EVENT_RETENTION",
                    Duration::from_secs(600),
                )?,
            },
            media_url,
            media_key,
            media_grant_ttl: positive_duration(
                env,
                "MEDIA_GRANT_TTL",
                Duration::from_secs(10 * 60),
            )?,
        })
    }
}

fn positive_duration(env: &Env, name: &str, default: Duration) -> Result<Duration, ConfigError> {
    let d = env.duration(name, default)?;
    if d.is_zero() {
        return Err(ConfigError {
            name: name.into(),
            value: env.string(name, ""),
            reason: "must be longer than zero".into(),
        });
    }
    Ok(d)
}

/// `AUTH_RATE_PER_MINUTE`, spelt like the api's other per-minute rates; `AUTH_RATE_PER_MIN`, the
/// name it had first, is still read. Both set to different values is an error: which one the
/// operator meant cannot be guessed.
fn auth_rate(env: &Env) -> Result<u32, ConfigError> {
    const NAME: &str = "AUTH_RATE_PER_MINUTE";
    const OLD_NAME: &str = "AUTH_RATE_PER_MIN";
    match (env.raw(NAME), env.raw(OLD_NAME)) {
        (Some(new), Some(old)) if new.trim() != old.trim() => Err(ConfigError {
            name: NAME.to_string(),
            value: new.to_string(),
            reason: format!("{OLD_NAME}={old} (its older name) says otherwise; set only {NAME}"),
        }),
        (Some(_), _) => env.positive(NAME, 20),
        (None, _) => env.positive(OLD_NAME, 20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(1800));
        assert_eq!(c.auth_rate_per_min, 20);
        assert_eq!(c.read_rate_per_minute, 600);
        assert_eq!(c.search_rate_per_minute, 60);
        assert_eq!(c.danmaku_interval, Duration::from_secs(2));
        assert_eq!(c.live.poll_interval, Duration::from_millis(250));
        assert_eq!(c.live.heartbeat, Duration::from_secs(15));
        assert_eq!(c.live.node_timeout, Duration::from_secs(15));
        assert_eq!(c.live.retention, Duration::from_secs(600));
        assert_eq!(
            c.trusted_proxies,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn the_auth_rate_is_read_under_either_name_but_not_two_different_ones() {
        let rate = |pairs: &[(&str, &str)]| {
            Config::from_env(&Env::from_pairs(pairs)).map(|c| c.auth_rate_per_min)
        };
        assert_eq!(rate(&[("AUTH_RATE_PER_MINUTE", "7")]).unwrap(), 7);
        assert_eq!(rate(&[("AUTH_RATE_PER_MIN", "8")]).unwrap(), 8);
        let same = [("AUTH_RATE_PER_MINUTE", "9"), ("AUTH_RATE_PER_MIN", "9")];
        assert_eq!(rate(&same).unwrap(), 9);
        let e = rate(&[("AUTH_RATE_PER_MINUTE", "9"), ("AUTH_RATE_PER_MIN", "30")]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("AUTH_RATE_PER_MINUTE") && text.contains("AUTH_RATE_PER_MIN=30"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("SESSION_TTL", "0s"),
            ("SESSION_TTL", "forever"),
            ("SESSION_SWEEP_INTERVAL", "0"),
            ("AUTH_RATE_PER_MIN", "0"),
            ("AUTH_RATE_PER_MINUTE", "0"),
            ("AUTH_BURST", "x"),
            ("TRUSTED_PROXIES", "127.0.0.1,web.local"),
            ("PASSWORD_HASH_CONCURRENCY", "-1"),
            ("READ_RATE_PER_MINUTE", "-1"),
            ("SEARCH_RATE_PER_MINUTE", "lots"),
            ("DANMAKU_INTERVAL", "soon"),
            ("LIVE_POLL_INTERVAL", "0"),
            ("LIVE_HEARTBEAT", "0s"),
            ("LIVE_NODE_TIMEOUT", "-1"),
            ("LIVE_EVENT_RETENTION", "0"),
            ("DATABASE_URL", "not a url"),
        ] {
            let e = Config::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
    }

    #[test]
    fn the_database_url_is_read_and_its_password_never_printed() {
        let url = "mysql://app:s3cret@db.internal:3306/video";
        let c = Config::from_env(&Env::from_pairs(&[("DATABASE_URL", url)])).unwrap();
        assert_eq!(c.database_url.expose(), url);
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal:3306"), "{shown}");
    }

    #[test]
    fn read_and_search_limits_can_be_turned_off_with_zero() {
        let c = Config::from_env(&Env::from_pairs(&[
            ("READ_RATE_PER_MINUTE", "0"),
            ("SEARCH_RATE_PER_MINUTE", "0"),
        ]))
        .unwrap();
        assert_eq!((c.read_rate_per_minute, c.search_rate_per_minute), (0, 0));
    }

    #[test]
    fn a_media_origin_needs_the_signing_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let c = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert!(c.media_url.is_none() && c.media_key.is_none());
        assert_eq!(c.media_grant_ttl, Duration::from_secs(600));
        let e = Config::from_env(&Env::from_pairs(&[("MEDIA_URL", "http://127.0.0.1:9000")]))
            .unwrap_err();
        assert_eq!(e.name, "MEDIA_SIGNING_KEY");
        assert!(e.reason.contains("MEDIA_URL"), "{}", e.reason);
        let c = Config::from_env(&Env::from_pairs(&[
            ("MEDIA_URL", "https://media.example.org/"),
            ("MEDIA_SIGNING_KEY", key),
            ("MEDIA_GRANT_TTL", "5m"),
        ]))
        .unwrap();
        assert_eq!(c.media_url.as_deref(), Some("https://media.example.org"));
        assert_eq!(c.media_grant_ttl, Duration::from_secs(300));
        assert!(!format!("{c:?}").contains(key), "the key is never printed");
        for (name, value) in [
            ("MEDIA_URL", "https://media.example.org/path"),
            ("MEDIA_SIGNING_KEY", "short"),
            ("MEDIA_GRANT_TTL", "0"),
        ] {
            let e = Config::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
    }

    #[test]
    fn trusted_proxies_can_be_turned_off() {
        let c = Config::from_env(&Env::from_pairs(&[("TRUSTED_PROXIES", "none")])).unwrap();
        assert!(c.trusted_proxies.is_empty());
        let c =
            Config::from_env(&Env::from_pairs(&[("TRUSTED_PROXIES", "10.0.0.1, ::1")])).unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
    }
}
