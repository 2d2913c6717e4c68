//! Housekeeping (`HOUSEKEEPING_CRON`, every 10 minutes): the periodic clean-up of what nothing
//! else removes. Done jobs older than `JOB_RETENTION` are purged; expired uploads that never
//! completed are swept (bytes, then rows; `work::delete`); multipart uploads nobody will finish
//! are aborted and scratch files left by a killed scheduler removed, after `UNFINISHED_TTL`;
//! and `pending` videos whose upload never started, or was abandoned, are removed after
//! `PENDING_VIDEO_TTL` (here).
//!
//! Each step is retried by the next run rather than by jobs, so a failure is only logged. What
//! can be left of a removed video in storage goes through its `delete_video` job, like every
//! other video's; reconciling storage against the database is `reconcile.rs`'s.

use std::time::{Duration, SystemTime};

use mysql_async::TxOpts;
use svc::VideoId;

use crate::config::Housekeeping;
use crate::store;
use crate::work::{self, Context, WorkError};

/// At most this many uploads and videos are removed per run; the next run takes the rest.
const BATCH: usize = 1000;

/// One housekeeping run: purges old done jobs, sweeps expired uploads and what interrupted
/// uploads and transcodes left, removes abandoned pending videos.
pub async fn housekeeping_once(ctx: &Context, settings: &Housekeeping) {
    match store::jobs::purge_done(&ctx.pool, settings.job_retention).await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "purged old done jobs"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purging old jobs failed"),
    }
    match work::delete::sweep_expired_uploads(ctx, BATCH).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "removed expired uploads"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "sweeping expired uploads failed"),
    }
    match work::delete::abort_unfinished_uploads(ctx, settings.unfinished_ttl).await {
        Ok(n) if n > 0 => tracing::info!(aborted = n, "aborted unfinished multipart uploads"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "aborting unfinished multipart uploads failed"),
    }
    match remove_old_scratch(ctx, settings.unfinished_ttl).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "removed old scratch files"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "removing old scratch files failed"),
    }
    match remove_abandoned_videos(ctx, settings.pending_video_ttl, BATCH).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "removed pending videos never uploaded"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "removing abandoned pending videos failed"),
    }
}

/// Removes the files in `SCRATCH_DIR` last modified more than `ttl` ago: what a scheduler
/// killed mid-job left (a running job's files are written to as ffmpeg works, or read within
/// seconds of being fetched). Returns how many.
pub async fn remove_old_scratch(ctx: &Context, ttl: Duration) -> std::io::Result<usize> {
    let cutoff = SystemTime::now()
        .checked_sub(ttl)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut entries = match tokio::fs::read_dir(&ctx.config.scratch_dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        let meta = entry.metadata().await?;
        if meta.is_file() && meta.modified()? < cutoff {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Removes up to `limit` videos still `pending` more than `ttl` after they were created with
/// no upload that could still finish (`store::videos::abandoned` states the rule); returns how
/// many, each counted in `scheduler_pending_videos_removed_total`.
pub async fn remove_abandoned_videos(
    ctx: &Context,
    ttl: Duration,
    limit: usize,
) -> Result<usize, WorkError> {
    let candidates = {
        let mut conn = ctx.pool.get_conn().await?;
        store::videos::abandoned(&mut conn, ttl, limit).await?
    };
    let mut removed = 0;
    for video_id in &candidates {
        match remove_abandoned_video(ctx, video_id, ttl).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%video_id, error = %e, "could not remove an abandoned pending video")
            }
        }
    }
    Ok(removed)
}

/// Removes one abandoned video the way the api deletes a video (`svc::removal`), in one
/// transaction: its comments, its row, its `delete_video` job, which removes whatever storage
/// holds for it (a partial upload's bytes, a file whose publishing failed), and a `video_gone`
/// event that ends its owner's live stream on the processing page. Checked again under the row's
/// lock, since an upload may have started since the video was listed: `false` then, and
/// nothing changes.
pub async fn remove_abandoned_video(
    ctx: &Context,
    video_id: &VideoId,
    ttl: Duration,
) -> Result<bool, WorkError> {
    let mut tx = ctx.pool.start_transaction(TxOpts::default()).await?;
    if !store::videos::lock_abandoned(&mut tx, video_id, ttl).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    svc::removal::remove_video(&mut tx, video_id).await?;
    tx.commit().await?;
    metrics::counter!("scheduler_pending_videos_removed_total").increment(1);
    tracing::info!(%video_id, ?ttl, "removed a pending video never uploaded; file deletion queued");
    Ok(true)
}
