//! The streamserver's configuration, from environment variables (all listed in `.env.example`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use svc::config::{Common, ConfigError, DatabaseUrl, Env};

/// The longest `PLAYBACK_CACHE_TTL` accepted: a video made private must stop playing within
/// 2 s on every streamserver, and a cached row is the only thing that can keep it playing.
pub const MAX_PLAYBACK_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `DATABASE_URL` (its `Debug` hides the password).
    pub database_url: DatabaseUrl,
    /// `STREAM_ADDR`, default 127.0.0.1:9000.
    pub addr: SocketAddr,
    /// `DB_POOL_SIZE`, default 32.
    pub db_pool_size: usize,
    /// `DB_WAIT`: how long start-up waits for the database, default 30s.
    pub db_wait: Duration,
    /// `STORAGE_DIR`: where videos, thumbnails and uploads live, default var/storage.
    pub storage_dir: PathBuf,
    /// `MAX_UPLOAD_SIZE`: the largest video accepted, default 1GiB.
    pub max_upload_size: u64,
    /// `STREAM_CHUNK_SIZE`: bytes read per step while streaming; a stalled client holds at
    /// most `read_ahead` chunks. Default 32KiB: with the connection's own ~25 KiB that keeps a
    /// stalled stream under the 64 KiB budget at the same CPU per GB as 64KiB (bench/stream.sh).
    pub chunk_size: usize,
    /// `STREAM_READ_AHEAD`: chunks of one stream in memory at once (read, queued or being
    /// written), default 1.
    pub read_ahead: usize,
    /// `STREAM_INLINE_READS`: read playback chunks on the async workers rather than the
    /// blocking pool (see `LocalStorage::inline_reads`), default true.
    pub inline_reads: bool,
    /// `RATE_LIMIT_PER_SECOND` and `RATE_LIMIT_BURST`: requests per client IP.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// `MAX_STREAMS_PER_IP`: concurrent playback streams per client IP, default 16.
    pub max_streams_per_ip: u32,
    /// `MAX_STREAMS`: concurrent playback streams in all, default 1024.
    pub max_streams: u32,
    /// `MAX_UPLOADS`: concurrent uploads (plain and tus PATCH) in all, default 32.
    pub max_uploads: u32,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed, default 127.0.0.1,::1.
    pub trusted_proxies: Vec<IpAddr>,
    /// `TUS_EXPIRY`: how long an idle resumable upload lives, default 24h.
    pub tus_expiry: Duration,
    /// `PLAYBACK_CACHE_TTL`: how long a playable video's row, and the user behind a session
    /// playing a private video, are reused; default 1s, 0 = off, at most
    /// [`MAX_PLAYBACK_CACHE_TTL`].
    pub playback_cache_ttl: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let chunk = env.bytes("STREAM_CHUNK_SIZE", 32 * 1024)?;
        if !(4096..=16 * 1024 * 1024).contains(&chunk) {
            return Err(ConfigError {
                name: "STREAM_CHUNK_SIZE".into(),
                value: chunk.to_string(),
                reason: "must be between 4KiB and 16MiB".into(),
            });
        }
        let playback_cache_ttl = env.duration("PLAYBACK_CACHE_TTL", Duration::from_secs(1))?;
        if playback_cache_ttl > MAX_PLAYBACK_CACHE_TTL {
            return Err(ConfigError {
                name: "PLAYBACK_CACHE_TTL".into(),
                value: env.string("PLAYBACK_CACHE_TTL", ""),
                reason: "must be at most 2s: a video made private must stop playing within 2 s"
                    .into(),
            });
        }
        Ok(Config {
            common: Common::from_env(env)?,
            database_url: DatabaseUrl::from_env(env)?,
            addr: env.addr("STREAM_ADDR", "127.0.0.1:9000")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
            storage_dir: PathBuf::from(env.string("STORAGE_DIR", "var/storage")),
            max_upload_size: env.bytes("MAX_UPLOAD_SIZE", 1 << 30)?,
            chunk_size: chunk as usize,
            read_ahead: env.positive("STREAM_READ_AHEAD", 1)? as usize,
            inline_reads: env.get("STREAM_INLINE_READS", true)?,
            rate_per_second: env.positive("RATE_LIMIT_PER_SECOND", 100)?,
            rate_burst: env.positive("RATE_LIMIT_BURST", 200)?,
            max_streams_per_ip: env.positive("MAX_STREAMS_PER_IP", 16)?,
            max_streams: env.positive("MAX_STREAMS", 1024)?,
            max_uploads: env.positive("MAX_UPLOADS", 32)?,
            trusted_proxies: env.ip_list("TRUSTED_PROXIES", "127.0.0.1,::1")?,
            tus_expiry: env.duration("TUS_EXPIRY", Duration::from_secs(24 * 3600))?,
            playback_cache_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let c = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(c.max_upload_size, 1 << 30);
        assert_eq!(c.trusted_proxies.len(), 2);
        let e =
            Config::from_env(&Env::from_pairs(&[("TRUSTED_PROXIES", "1.2.3.4,nope")])).unwrap_err();
        assert_eq!(e.name, "TRUSTED_PROXIES");
        let e = Config::from_env(&Env::from_pairs(&[("MAX_STREAMS", "0")])).unwrap_err();
        assert_eq!(e.name, "MAX_STREAMS");
        let e = Config::from_env(&Env::from_pairs(&[("DATABASE_URL", "nope")])).unwrap_err();
        assert_eq!(e.name, "DATABASE_URL");
    }

    #[test]
    fn the_playback_cache_never_outlives_a_change_to_private_by_more_than_2s() {
        let ttl = |value: &str| {
            Config::from_env(&Env::from_pairs(&[("PLAYBACK_CACHE_TTL", value)]))
                .map(|c| c.playback_cache_ttl)
        };
        let default = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(default.playback_cache_ttl, Duration::from_secs(1));
        assert_eq!(ttl("0").unwrap(), Duration::ZERO);
        assert_eq!(ttl("2s").unwrap(), MAX_PLAYBACK_CACHE_TTL);
        assert_eq!(ttl("1500ms").unwrap(), Duration::from_millis(1500));
        for too_long in ["2001ms", "3s", "1m"] {
            let e = ttl(too_long).unwrap_err();
            assert_eq!(e.name, "PLAYBACK_CACHE_TTL", "{too_long}");
            assert!(e.reason.contains("at most 2s"), "{too_long}: {}", e.reason);
        }
    }

    #[test]
    fn the_configuration_can_be_logged_without_the_database_password() {
        let env = Env::from_pairs(&[("DATABASE_URL", "mysql://video:s3cret@db:3306/video")]);
        let c = Config::from_env(&env).unwrap();
        assert_eq!(
            c.database_url.expose(),
            "mysql://video:s3cret@db:3306/video"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
