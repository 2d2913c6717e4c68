//! The streamserver's configuration, from environment variables (all listed in `.env.example`).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use svc::config::{Backend, Common, ConfigError, DatabaseUrl, Env, StorageConfig};
use svc::media::MediaKey;

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
    /// `STORAGE_BACKEND` (`local`, `STORAGE_DIR`; or `s3`, `S3_*`): where videos,
    /// thumbnails, renditions and uploads live.
    pub storage: StorageConfig,
    /// `PLAYBACK_REDIRECT`: `proxy` (default: the streamserver serves every byte) or
    /// `presigned` (S3 only: public and unlisted files answer 307 to a presigned URL).
    pub playback_redirect: PlaybackRedirect,
    /// `PRESIGN_TTL`: how long a presigned URL works, default 60s, between 1s and 1h. A video
    /// made private keeps playing for whoever holds a URL until it expires.
    pub presign_ttl: Duration,
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
    /// `UPLOAD_IDLE_TIMEOUT`: how long an upload body (plain or tus PATCH) may bring no byte
    /// before it is given up with 400, freeing its upload slot and the video; default 60s.
    pub upload_idle_timeout: Duration,
    /// `PLAYBACK_CACHE_TTL`: how long a playable video's row, and the user behind a session
    /// playing a private video, are reused; default 1s, 0 = off, at most
    /// [`MAX_PLAYBACK_CACHE_TTL`].
    pub playback_cache_ttl: Duration,
    /// `MEDIA_SIGNING_KEY`: the key the api signs media grants and upload tokens with
    /// (`svc::media`); without it signed paths and upload tokens are refused (403).
    pub media_key: Option<MediaKey>,
    /// `PUBLIC_URL`: the site's origin, the one origin CORS lets read signed media and upload
    /// (`crate::cors`); unset, no origin is.
    pub site_origin: Option<String>,
}

/// How playback hands out the bytes of videos anyone may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackRedirect {
    /// The streamserver serves them itself.
    Proxy,
    /// A 307 to a short-lived presigned URL of the bucket (or a CDN in front of it).
    Presigned,
}

impl FromStr for PlaybackRedirect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "proxy" | "off" | "none" => Ok(PlaybackRedirect::Proxy),
            "presigned" => Ok(PlaybackRedirect::Presigned),
            _ => Err("expected `proxy` or `presigned`".to_string()),
        }
    }
}

/// The largest object S3 copies in one request: a finished tus upload is moved into place by
/// such a copy, so `MAX_UPLOAD_SIZE` may not exceed it on S3.
pub const S3_MAX_COPY: u64 = 5 << 30;

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
        let storage = StorageConfig::from_env(env)?;
        let max_upload_size = env.bytes("MAX_UPLOAD_SIZE", 1 << 30)?;
        if let Backend::S3(s3) = &storage.backend {
            // S3 allows 10,000 parts per upload and copies at most 5 GiB at once.
            let limit = S3_MAX_COPY.min(10_000 * s3.part_size);
            if max_upload_size > limit {
                return Err(ConfigError {
                    name: "MAX_UPLOAD_SIZE".into(),
                    value: max_upload_size.to_string(),
                    reason: format!("must be at most {limit} bytes with STORAGE_BACKEND=s3"),
                });
            }
        }
        let playback_redirect = env.get("PLAYBACK_REDIRECT", PlaybackRedirect::Proxy)?;
        if playback_redirect == PlaybackRedirect::Presigned
            && matches!(storage.backend, Backend::Local(_))
        {
            return Err(ConfigError {
                name: "PLAYBACK_REDIRECT".into(),
                value: "presigned".into(),
                reason: "presigned URLs need STORAGE_BACKEND=s3".into(),
            });
        }
        let presign_ttl = env.duration("PRESIGN_TTL", Duration::from_secs(60))?;
        if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&presign_ttl) {
            return Err(ConfigError {
                name: "PRESIGN_TTL".into(),
                value: env.string("PRESIGN_TTL", ""),
                reason: "must be between 1s and 1h".into(),
            });
        }
        let upload_idle_timeout = env.duration("UPLOAD_IDLE_TIMEOUT", Duration::from_secs(60))?;
        if upload_idle_timeout.is_zero() {
            return Err(ConfigError {
                name: "UPLOAD_IDLE_TIMEOUT".into(),
                value: env.string("UPLOAD_IDLE_TIMEOUT", ""),
                reason: "must be more than 0".into(),
            });
        }
        Ok(Config {
            common: Common::from_env(env)?,
            database_url: DatabaseUrl::from_env(env)?,
            addr: env.addr("STREAM_ADDR", "127.0.0.1:9000")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
            storage,
            playback_redirect,
            presign_ttl,
            max_upload_size,
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
            upload_idle_timeout,
            playback_cache_ttl,
            media_key: MediaKey::from_env(env)?,
            site_origin: svc::media::origin_from_env(env, "PUBLIC_URL")?,
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
    fn presigned_playback_needs_s3_and_s3_bounds_the_upload_size() {
        let s3 = [
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "b"),
            ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = s3.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_env(&Env::from_pairs(&pairs))
        };
        let c = with(&[("PLAYBACK_REDIRECT", "presigned")]).unwrap();
        assert_eq!(c.playback_redirect, PlaybackRedirect::Presigned);
        assert_eq!(c.presign_ttl, Duration::from_secs(60));
        let e =
            Config::from_env(&Env::from_pairs(&[("PLAYBACK_REDIRECT", "presigned")])).unwrap_err();
        assert_eq!(e.name, "PLAYBACK_REDIRECT");
        assert!(e.reason.contains("STORAGE_BACKEND=s3"), "{}", e.reason);
        assert_eq!(
            with(&[("PLAYBACK_REDIRECT", "cdn")]).unwrap_err().name,
            "PLAYBACK_REDIRECT"
        );
        assert_eq!(
            with(&[("PRESIGN_TTL", "2h")]).unwrap_err().name,
            "PRESIGN_TTL"
        );
        assert_eq!(
            with(&[("MAX_UPLOAD_SIZE", "6GiB")]).unwrap_err().name,
            "MAX_UPLOAD_SIZE"
        );
        assert!(with(&[("MAX_UPLOAD_SIZE", "5GiB")]).is_ok());
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
    fn the_media_key_and_the_site_origin_are_optional_and_checked() {
        let c = Config::from_env(&Env::from_pairs(&[])).unwrap();
        assert!(c.media_key.is_none() && c.site_origin.is_none());
        let c = Config::from_env(&Env::from_pairs(&[
            ("MEDIA_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_URL", "https://videos.example.org/"),
        ]))
        .unwrap();
        assert!(c.media_key.is_some());
        assert_eq!(c.site_origin.as_deref(), Some("https://videos.example.org"));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        for (name, value) in [
            ("MEDIA_SIGNING_KEY", "too short"),
            ("PUBLIC_URL", "https://videos.example.org/watch"),
        ] {
            let e = Config::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
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
