//! What every job kind works with ([`Context`]) and how it fails ([`WorkError`]), including the
//! one place that decides whether a failure can pass ([`WorkError::is_permanent`],
//! [`WorkError::from_failed_run`]). Apart from `work/mod.rs` so that the kinds, which `mod.rs`
//! dispatches to, import this and not their dispatcher.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use svc::storage::Storage;
use tokio::sync::Semaphore;

use super::tools;
use crate::config::RunnerConfig;

/// What job kinds work with.
#[derive(Clone)]
pub struct Context {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: RunnerConfig,
    /// `TRANSCODE_CONCURRENCY` permits, shared by every job kind of this scheduler: each
    /// ffmpeg transcode holds one while it runs (`work::encode`).
    pub transcodes: Arc<Semaphore>,
    /// Multipart upload id -> when this scheduler first saw it unfinished (`housekeeping`):
    /// what its age is counted from, whatever time the store reports.
    pub unfinished_seen: Arc<Mutex<HashMap<String, SystemTime>>>,
}

impl Context {
    pub fn new(pool: mysql_async::Pool, storage: Arc<dyn Storage>, config: RunnerConfig) -> Self {
        let transcodes = Arc::new(Semaphore::new(config.transcode_concurrency.max(1)));
        Context {
            pool,
            storage,
            config,
            transcodes,
            unfinished_seen: Arc::default(),
        }
    }
}

/// Why a job did not finish; the text becomes the job's `last_error`. Every variant but
/// [`WorkError::Refused`] is a fault that can pass, and the job is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
    #[error("storage error on {key}: {source}")]
    Storage { key: String, source: io::Error },
    #[error(transparent)]
    Tool(#[from] tools::ToolError),
    #[error("{0}")]
    Other(String),
    /// The input cannot be processed and another try would not change that (no video track, a
    /// damaged file): the job fails at once, its video says why.
    #[error("refused: {}", .0.detail)]
    Refused(Refusal),
}

/// Why an input is refused, twice: for its owner and for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A sentence the video's owner understands (`video_info.failure_reason`).
    pub reason: String,
    /// What the tool said, kept in the job's `last_error` for whoever runs the site.
    pub detail: String,
}

/// Words in a tool's error output that name a fault of this machine rather than of the input:
/// a full or failing disk, memory, file handles, permissions. A run that ends with one of these
/// is retried.
const MACHINE_FAULTS: [&str; 9] = [
    "No space left on device",
    "Disk quota exceeded",
    "Cannot allocate memory",
    "Input/output error",
    "Too many open files",
    "Resource temporarily unavailable",
    "Permission denied",
    "Read-only file system",
    "Stale file handle",
];

impl WorkError {
    pub fn storage(key: &str) -> impl FnOnce(io::Error) -> WorkError + '_ {
        move |source| WorkError::Storage {
            key: key.to_string(),
            source,
        }
    }

    /// An input refused with `reason` for its owner and `detail` for the operator.
    pub fn refused(reason: impl Into<String>, detail: impl Into<String>) -> Self {
        WorkError::Refused(Refusal {
            reason: reason.into(),
            detail: detail.into(),
        })
    }

    /// Whether another try cannot help: the one place the runner asks before retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, WorkError::Refused(_))
    }

    /// What a tool run that ended unsuccessfully means. Killed by a signal (the OOM killer, an
    /// operator), interrupted (ffmpeg exits 255 on SIGINT/SIGTERM) or stopped by one of
    /// [`MACHINE_FAULTS`]: a fault that can pass, retried. Anything else is about the input
    /// (ffmpeg refused it, could not decode it): refused at once, with `reason` for the owner
    /// and the tool's last three lines for the operator.
    pub fn from_failed_run(
        tool: &str,
        code: Option<i32>,
        stderr: &[u8],
        reason: &str,
    ) -> WorkError {
        let said = tools::last_lines(stderr, 3);
        let text = String::from_utf8_lossy(stderr);
        let machine = MACHINE_FAULTS.iter().any(|fault| text.contains(fault));
        match code {
            None | Some(255) => WorkError::Other(format!("{tool} was interrupted: {said}")),
            Some(_) if machine => WorkError::Other(format!("{tool} failed: {said}")),
            Some(code) => WorkError::refused(reason, format!("{tool} exited with {code}: {said}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASON: &str = "This file is damaged or incomplete; upload it again.";

    #[test]
    fn the_input_s_faults_are_permanent_and_the_machine_s_are_not() {
        let refused =
            WorkError::from_failed_run("ffmpeg", Some(1), b"moov atom not found\n", REASON);
        assert!(refused.is_permanent());
        let WorkError::Refused(r) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(r.reason, REASON);
        assert_eq!(r.detail, "ffmpeg exited with 1: moov atom not found");
        assert_eq!(
            refused.to_string(),
            "refused: ffmpeg exited with 1: moov atom not found"
        );

        let pcm = b"[mp4 @ 0x1] Could not find tag for codec pcm_s16le in stream #1, codec not \
                    currently supported in container\nError initializing output stream 0:1 --\n";
        assert!(WorkError::from_failed_run("ffmpeg", Some(1), pcm, REASON).is_permanent());

        for machine in [
            &b"av_interleaved_write_frame(): No space left on device\nError writing trailer"[..],
            b"Error while opening encoder: Cannot allocate memory",
            b"/storage/tmp/x.mp4: Permission denied",
        ] {
            let e = WorkError::from_failed_run("ffmpeg", Some(1), machine, REASON);
            assert!(!e.is_permanent(), "{e}");
        }
        // Killed by a signal (no exit code) or interrupted (255): try again.
        assert!(!WorkError::from_failed_run("ffmpeg", None, b"", REASON).is_permanent());
        assert!(
            !WorkError::from_failed_run("ffmpeg", Some(255), b"Exiting normally", REASON)
                .is_permanent()
        );
    }

    #[test]
    fn only_refusals_are_permanent() {
        let transient = [
            WorkError::Other("x".into()),
            WorkError::Db(mysql_async::Error::Other("down".into())),
            WorkError::storage("videos/x")(io::Error::other("disk")),
            WorkError::Tool(tools::ToolError::Timeout {
                program: "ffmpeg".into(),
                timeout: std::time::Duration::from_secs(1),
            }),
        ];
        for e in transient {
            assert!(!e.is_permanent(), "{e}");
        }
        assert!(WorkError::refused("no", "because").is_permanent());
    }
}
