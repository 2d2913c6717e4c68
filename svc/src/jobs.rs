//! Queueing deferred work into the `jobs` table (SPEC section 5). Three processes produce jobs
//! (api: deletions; streamserver: processing after upload; scheduler: its endpoints and the
//! reconciler) and the scheduler consumes them; this module is the one place that knows how a job
//! row is written, so every producer queues the same way. Claiming and running jobs is the
//! scheduler's business and lives there.

use mysql_async::prelude::Queryable;

/// Remove a video's file, thumbnail and partial uploads.
pub const DELETE_VIDEO: &str = "delete_video";
/// Probe, fix the index, thumbnail and mark ready (or failed) an uploaded video.
pub const PROCESS_VIDEO: &str = "process_video";

/// Queues a job of `kind` for `video_id`, at most once per (kind, video): queueing again while
/// one is queued, running or done changes nothing; a job that had failed for good is queued
/// afresh. Call it inside the caller's transaction so the job commits with the change that
/// needs it.
pub async fn enqueue<Q: Queryable>(
    conn: &mut Q,
    kind: &str,
    video_id: &str,
) -> Result<(), mysql_async::Error> {
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
