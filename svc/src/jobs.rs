//! The vocabulary of the `jobs` table ([`JobKind`]) and queueing deferred work into it (SPEC
//! section 5). Three processes produce jobs (api: deletions; streamserver: processing after
//! upload; scheduler: its endpoints and the reconciler) and the scheduler consumes them; this
//! module is the one place that knows how a job row is written, so every producer queues the same
//! way. Claiming and running jobs is the scheduler's business and lives there.

use std::fmt;

use mysql_async::prelude::Queryable;

use crate::video::VideoId;

/// What a job does. `jobs.kind` holds [`JobKind::as_str`]; a row whose kind this build does not
/// know (written by a newer version) parses to `None` and is failed with a message, not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Remove a video's file, thumbnail and partial uploads (after its row is gone).
    DeleteVideo,
    /// Probe an uploaded video, remux it (browsers play it) or transcode a progressive rendition
    /// (they do not), thumbnail it and mark it ready (or failed); then queue `MakeLadder`.
    ProcessVideo,
    /// Make a ready video's adaptive HLS ladder and its storyboard.
    MakeLadder,
    /// Remove one storage object nobody owns; queued by the reconciler, the key in `payload`.
    /// The only kind not about one video: its `video_id` is NULL.
    DeleteObject,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::DeleteVideo,
        JobKind::ProcessVideo,
        JobKind::MakeLadder,
        JobKind::DeleteObject,
    ];

    /// The spelling in `jobs.kind` and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::DeleteVideo => "delete_video",
            JobKind::ProcessVideo => "process_video",
            JobKind::MakeLadder => "make_ladder",
            JobKind::DeleteObject => "delete_object",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Queues a job of `kind` for `video_id`, at most once per (kind, video): queueing again while
/// one is queued, running or done changes nothing; a job that had failed for good is queued
/// afresh. Call it inside the caller's transaction so the job commits with the change that
/// needs it.
pub async fn enqueue<Q: Queryable>(
    conn: &mut Q,
    kind: JobKind,
    video_id: &VideoId,
) -> Result<(), mysql_async::Error> {
    let (kind, video_id) = (kind.as_str(), video_id.as_str());
    conn.exec_drop(
        "INSERT INTO jobs (kind, video_id, dedupe_key) VALUES (?, ?, CONCAT(?, ':', ?))
         ON DUPLICATE KEY UPDATE
           attempts = IF(state = 'failed', 0, attempts),
           last_error = IF(state = 'failed', NULL, last_error),
           run_after = IF(state = 'failed', UTC_TIMESTAMP(6), run_after),
           updated_at = UTC_TIMESTAMP(6),
           state = IF(state = 'failed', 'queued', state)",
        (kind, video_id, kind, video_id),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_kinds_do_not_parse() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
            assert!(kind.as_str().len() <= 32, "jobs.kind is VARCHAR(32)");
        }
        assert_eq!(JobKind::parse("transcode_video"), None);
        assert_eq!(JobKind::parse(""), None);
        assert_eq!(JobKind::DeleteVideo.to_string(), "delete_video");
    }
}
