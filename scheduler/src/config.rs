//! The scheduler's configuration, from environment variables (all listed in `.env.example`).
//!
//! Only reading and validating values belongs here; what they mean for the runner is documented
//! where they are used (`runner.rs`, `work/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use svc::config::{Common, ConfigError, DatabaseUrl, Env, StorageConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: Common,
    /// `DATABASE_URL` (its `Debug` hides the password).
    pub database_url: DatabaseUrl,
    /// `SCHEDULER_ADDR`, default 127.0.0.1:9001. Internal: keep it on loopback.
    pub addr: SocketAddr,
    /// `DB_POOL_SIZE`, default 32.
    pub db_pool_size: usize,
    /// `DB_WAIT`: how long start-up waits for the database, default 30s.
    pub db_wait: Duration,
    /// `STORAGE_BACKEND` (`local`, `STORAGE_DIR`; or `s3`, `S3_*`) and `SCRATCH_DIR`: where
    /// videos and everything made of them live, and where ffmpeg works (`runner.scratch_dir`).
    pub storage: StorageConfig,
    pub runner: RunnerConfig,
    /// `RECONCILE_CRON`: when storage is reconciled against the database, default daily 03:30 UTC.
    pub reconcile_cron: String,
    /// `HOUSEKEEPING_CRON`: when old done jobs are purged, expired uploads swept and abandoned
    /// pending videos removed, default every 10 minutes.
    pub housekeeping_cron: String,
    pub housekeeping: Housekeeping,
    /// `RECONCILE_GRACE`: how old an unowned object must be before the reconciler queues its
    /// deletion, default 1h.
    pub reconcile_grace: Duration,
}

/// How long housekeeping (`housekeeping.rs`) keeps what it removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Housekeeping {
    /// `JOB_RETENTION`: how long done jobs stay readable, default 7d.
    pub job_retention: Duration,
    /// `PENDING_VIDEO_TTL`: how long a `pending` video whose upload never started (or was
    /// abandoned) is kept, default 1d, at least [`MIN_PENDING_VIDEO_TTL`].
    pub pending_video_ttl: Duration,
    /// `UNFINISHED_TTL`: how long a multipart upload nobody finished (S3: a process killed
    /// while uploading) and a scratch file are left before they are removed, default 1d,
    /// counted from when this scheduler first saw them.
    pub unfinished_ttl: Duration,
}

impl Default for Housekeeping {
    fn default() -> Self {
        Housekeeping {
            job_retention: Duration::from_secs(7 * 86400),
            pending_video_ttl: Duration::from_secs(86400),
            unfinished_ttl: Duration::from_secs(86400),
        }
    }
}

/// The shortest `PENDING_VIDEO_TTL`: a new video is `pending` until its upload starts, which
/// takes the site's page a moment, but a script may take longer; a TTL near zero would remove
/// videos before their uploads begin.
pub const MIN_PENDING_VIDEO_TTL: Duration = Duration::from_secs(60);

/// What the runner and its job kinds need; separate so tests can build runners directly.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// `SCHEDULER_CRON`: when the dispatcher wakes (tokio-cron-scheduler syntax, seconds first),
    /// default every 3 seconds.
    pub cron: String,
    /// `JOB_BATCH`: how many due jobs one dispatch claims, default 200.
    pub batch: usize,
    /// `JOB_WORKERS`: executor tasks, default 8.
    pub workers: usize,
    /// `JOB_LEASE`: how long a claim is valid without renewal; a job whose lease passes is
    /// claimable again by any scheduler. The runner renews the leases it holds every third of
    /// this while it lives (`runner.rs`), so it bounds how long a dead scheduler's jobs wait,
    /// not how long a job may run. Default 2m.
    pub lease: Duration,
    /// `JOB_BACKOFF`: the delay after a job's first failure, doubled each further failure,
    /// default 5s.
    pub backoff: Duration,
    /// `JOB_BACKOFF_MAX`: the cap of that delay, default 15m.
    pub backoff_max: Duration,
    /// `DRAIN_TIMEOUT` (shared): how long running jobs may finish after SIGTERM.
    pub drain_timeout: Duration,
    /// `FFMPEG`: the ffmpeg executable, default `ffmpeg` from PATH.
    pub ffmpeg: PathBuf,
    /// `FFPROBE`: the ffprobe executable, default `ffprobe` from PATH.
    pub ffprobe: PathBuf,
    /// `FFMPEG_TIMEOUT`: the longest one ffmpeg or ffprobe run may take before it is killed,
    /// default 4m; a transcode may take [`TRANSCODE_TIME_FACTOR`] times the video's duration
    /// when that is longer (`work::encode`).
    pub ffmpeg_timeout: Duration,
    /// `TRANSCODE_CONCURRENCY`: how many ffmpeg transcodes (progressive renditions, ladder
    /// rungs, storyboards) this scheduler runs at once, over every job kind, default 1.
    pub transcode_concurrency: usize,
    /// `SCRATCH_DIR` (see `svc::config::StorageConfig`): the local directory where ffmpeg
    /// reads its scratch copy of a video and writes what it makes.
    pub scratch_dir: PathBuf,
}

/// A transcode may run this many times the video's duration (or `FFMPEG_TIMEOUT`, whichever
/// is longer) before it is killed: veryfast x264 at 1080p runs at about real time on two cores
/// while the machine also serves, so ten times leaves room for a loaded machine and a slow
/// decoder (HEVC, ProRes) without letting a stuck encoder hold a transcode slot for ever.
pub const TRANSCODE_TIME_FACTOR: u32 = 10;

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            cron: "*/3 * * * * *".to_string(),
            batch: 200,
            workers: 8,
            lease: Duration::from_secs(2 * 60),
            backoff: Duration::from_secs(5),
            backoff_max: Duration::from_secs(15 * 60),
            drain_timeout: Duration::from_secs(30),
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            ffmpeg_timeout: Duration::from_secs(4 * 60),
            transcode_concurrency: 1,
            scratch_dir: std::env::temp_dir().join("clipshare-scratch"),
        }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = Common::from_env(env)?;
        let storage = StorageConfig::from_env(env)?;
        let d = RunnerConfig::default();
        let runner = RunnerConfig {
            cron: env.string("SCHEDULER_CRON", &d.cron),
            batch: env.positive("JOB_BATCH", d.batch as u32)? as usize,
            workers: env.positive("JOB_WORKERS", d.workers as u32)? as usize,
            lease: env.duration("JOB_LEASE", d.lease)?,
            backoff: env.duration("JOB_BACKOFF", d.backoff)?,
            backoff_max: env.duration("JOB_BACKOFF_MAX", d.backoff_max)?,
            drain_timeout: common.drain_timeout,
            ffmpeg: PathBuf::from(env.string("FFMPEG", "ffmpeg")),
            ffprobe: PathBuf::from(env.string("FFPROBE", "ffprobe")),
            ffmpeg_timeout: env.duration("FFMPEG_TIMEOUT", d.ffmpeg_timeout)?,
            transcode_concurrency: env
                .positive("TRANSCODE_CONCURRENCY", d.transcode_concurrency as u32)?
                as usize,
            scratch_dir: storage.scratch_dir.clone(),
        };
        let d = Housekeeping::default();
        let housekeeping = Housekeeping {
            job_retention: env.duration("JOB_RETENTION", d.job_retention)?,
            pending_video_ttl: env.duration("PENDING_VIDEO_TTL", d.pending_video_ttl)?,
            unfinished_ttl: env.duration("UNFINISHED_TTL", d.unfinished_ttl)?,
        };
        if housekeeping.pending_video_ttl < MIN_PENDING_VIDEO_TTL {
            return Err(ConfigError {
                name: "PENDING_VIDEO_TTL".into(),
                value: format!("{:?}", housekeeping.pending_video_ttl),
                reason: format!("must be at least {}m", MIN_PENDING_VIDEO_TTL.as_secs() / 60),
            });
        }
        if runner.lease < Duration::from_secs(1) {
            return Err(ConfigError {
                name: "JOB_LEASE".into(),
                value: format!("{:?}", runner.lease),
                reason: "must be at least 1s".into(),
            });
        }
        Ok(Config {
            database_url: DatabaseUrl::from_env(env)?,
            addr: env.addr("SCHEDULER_ADDR", "127.0.0.1:9001")?,
            db_pool_size: env.positive("DB_POOL_SIZE", 32)? as usize,
            db_wait: env.duration("DB_WAIT", Duration::from_secs(30))?,
            storage,
            runner,
            reconcile_cron: env.string("RECONCILE_CRON", "0 30 3 * * *"),
            housekeeping_cron: env.string("HOUSEKEEPING_CRON", "0 */10 * * * *"),
            housekeeping,
            reconcile_grace: env.duration("RECONCILE_GRACE", Duration::from_secs(3600))?,
            common,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn the_pending_video_ttl_is_a_day_unless_set_and_never_under_a_minute() {
        let c = config(&[]).unwrap();
        assert_eq!(c.housekeeping, Housekeeping::default());
        assert_eq!(
            c.housekeeping.pending_video_ttl,
            Duration::from_secs(24 * 3600)
        );
        let c = config(&[("PENDING_VIDEO_TTL", "2h"), ("JOB_RETENTION", "1d")]).unwrap();
        assert_eq!(c.housekeeping.pending_video_ttl, Duration::from_secs(7200));
        assert_eq!(c.housekeeping.job_retention, Duration::from_secs(86400));
        assert_eq!(
            config(&[("PENDING_VIDEO_TTL", "1m")])
                .unwrap()
                .housekeeping
                .pending_video_ttl,
            MIN_PENDING_VIDEO_TTL
        );
        for bad in ["30s", "0", "a day"] {
            let e = config(&[("PENDING_VIDEO_TTL", bad)]).unwrap_err();
            assert_eq!(e.name, "PENDING_VIDEO_TTL", "{bad}");
            assert!(e.to_string().contains("PENDING_VIDEO_TTL"), "{e}");
        }
    }

    #[test]
    fn one_transcode_at_a_time_and_a_two_minute_lease_unless_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.runner.transcode_concurrency, 1);
        assert_eq!(c.runner.lease, Duration::from_secs(120));
        let c = config(&[("TRANSCODE_CONCURRENCY", "3"), ("JOB_LEASE", "2s")]).unwrap();
        assert_eq!(c.runner.transcode_concurrency, 3);
        assert_eq!(c.runner.lease, Duration::from_secs(2));
        for bad in ["0", "-1", "two"] {
            let e = config(&[("TRANSCODE_CONCURRENCY", bad)]).unwrap_err();
            assert_eq!(e.name, "TRANSCODE_CONCURRENCY", "{bad}");
        }
        assert_eq!(
            config(&[("JOB_LEASE", "500ms")]).unwrap_err().name,
            "JOB_LEASE"
        );
    }
}
