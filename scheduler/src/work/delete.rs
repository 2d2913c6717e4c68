//! Deleting stored objects: a deleted video's objects (every key of
//! `svc::storage::keys::of_video`: its file, original, thumbnail, HLS rungs and master playlist,
//! storyboard) and uploads (`delete_video`), the expired never-finished uploads (swept by
//! housekeeping; on S3 their multipart uploads are aborted and their tails deleted, as their
//! storage tokens describe), the multipart uploads nobody will finish
//! ([`abort_unfinished_uploads`]), and single orphans found by the reconciler
//! (`delete_object`).
//!
//! Bytes go first, rows after: if a run stops half-way, the rows still point at what is left and
//! the retry finishes it. An object already gone counts as deleted; any other I/O error (a
//! permission problem, a directory where a file should be) fails the job so it is retried and
//! shows up in `last_error`, never silently dropped.

use std::time::{Duration, SystemTime};

use svc::storage::keys::{self, owner_of, Owner};
use svc::VideoId;

use super::context::{Context, WorkError};
use crate::store;
use crate::store::uploads::UploadBytes;

/// Removes every object the video can own (`keys::of_video`) and every `uploads/<id>` of the
/// video, then those `uploads` rows. Refuses while the video row still exists: the api deletes the row and
/// queues this job in one transaction, so a live row means someone queued a deletion by hand
/// for a video that is still listed, and deleting its file would break it.
pub async fn delete_video(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let (exists, uploads) = store::videos::deletion_view(&mut conn, video_id).await?;
    if exists {
        return Err(WorkError::Other(format!(
            "video {video_id} still exists; delete it through the api first"
        )));
    }
    delete_keys(ctx, &keys::of_video(video_id)).await?;
    if !uploads.is_empty() {
        delete_uploads(ctx, &mut conn, &uploads).await?;
    }
    Ok(())
}

/// Removes the objects `keys`; one already gone counts as removed.
pub async fn delete_keys(ctx: &Context, keys: &[impl AsRef<str>]) -> Result<(), WorkError> {
    for key in keys.iter().map(AsRef::as_ref) {
        ctx.storage
            .delete(key)
            .await
            .map_err(WorkError::storage(key))?;
    }
    Ok(())
}

/// What a job that made files for `video_id` does on finding its row gone: the video was
/// deleted meanwhile and its deletion job may have run already, so whatever this job
/// published is removed now rather than left to the reconciler.
pub async fn deleted_meanwhile(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    tracing::info!(%video_id, "video deleted while it was processed; removing what was made");
    delete_keys(ctx, &keys::of_video(video_id)).await?;
    Ok(())
}

/// Removes the bytes of `uploads` (finished or not, as their storage tokens describe them),
/// then their rows.
pub async fn delete_uploads(
    ctx: &Context,
    conn: &mut mysql_async::Conn,
    uploads: &[UploadBytes],
) -> Result<(), WorkError> {
    for upload in uploads {
        let key = keys::upload(&upload.id);
        ctx.storage
            .discard_append(&key, upload.token.as_deref())
            .await
            .map_err(WorkError::storage(&key))?;
    }
    let ids: Vec<String> = uploads.iter().map(|u| u.id.clone()).collect();
    store::uploads::delete(conn, &ids).await?;
    Ok(())
}

/// Removes expired uploads that never completed (SPEC section 5), at most `limit` per call;
/// returns how many. Runs from housekeeping, which is periodic, so an upload that fails here is
/// simply tried again next time (and logged).
pub async fn sweep_expired_uploads(ctx: &Context, limit: usize) -> Result<usize, WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let uploads = store::uploads::expired(&mut conn, limit).await?;
    let mut removed = 0;
    for upload in &uploads {
        match delete_uploads(ctx, &mut conn, std::slice::from_ref(upload)).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(upload = %upload.id, error = %e, "could not remove an expired upload")
            }
        }
    }
    Ok(removed)
}

/// Aborts the multipart uploads nobody will finish (S3; the local backend has none): those of
/// a process killed while uploading (a plain upload, a published rendition) and those of tus
/// uploads whose row is gone, once `ttl` has passed both by the store's clock and since this
/// scheduler first saw them (some stores, moto among them, report no true start time; a
/// restarted scheduler waits `ttl` again, which only delays the clean-up). A tus upload with a
/// row is left to [`sweep_expired_uploads`]. Returns how many were aborted.
pub async fn abort_unfinished_uploads(ctx: &Context, ttl: Duration) -> Result<usize, WorkError> {
    let now = SystemTime::now();
    let cutoff = now.checked_sub(ttl).unwrap_or(SystemTime::UNIX_EPOCH);
    let found = ctx
        .storage
        .unfinished(cutoff)
        .await
        .map_err(WorkError::storage("(multipart uploads)"))?;
    let tus_ids: Vec<String> = found
        .iter()
        .filter_map(|u| match owner_of(&u.key) {
            Some(Owner::Upload(id)) => Some(id),
            _ => None,
        })
        .collect();
    let live = {
        let mut conn = ctx.pool.get_conn().await?;
        store::uploads::existing(&mut conn, &tus_ids).await?
    };
    let due: Vec<_> = {
        let mut seen = ctx
            .unfinished_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|id, _| found.iter().any(|u| &u.upload_id == id));
        found
            .into_iter()
            .filter(|u| !matches!(owner_of(&u.key), Some(Owner::Upload(id)) if live.contains(&id)))
            .filter(|u| *seen.entry(u.upload_id.clone()).or_insert(now) <= cutoff)
            .collect()
    };
    let mut aborted = 0;
    for upload in &due {
        match ctx.storage.abort(upload).await {
            Ok(()) => {
                aborted += 1;
                tracing::info!(key = %upload.key, "aborted a multipart upload nobody finished");
            }
            Err(e) => {
                tracing::warn!(key = %upload.key, error = %e, "could not abort an unfinished upload")
            }
        }
    }
    Ok(aborted)
}

/// Removes one object the reconciler found unowned, unless a row has claimed it since (its
/// owner is worked out again from the key, by `svc::storage::keys::owner_of`).
pub async fn delete_object(ctx: &Context, key: &str) -> Result<(), WorkError> {
    let Some(owner) = owner_of(key) else {
        return Err(WorkError::Other(format!(
            "{key:?} is not a key the reconciler deletes"
        )));
    };
    let mut conn = ctx.pool.get_conn().await?;
    let owned = match &owner {
        Owner::Video(id) => !store::videos::existing(&mut conn, std::slice::from_ref(id))
            .await?
            .is_empty(),
        Owner::Upload(id) => !store::uploads::existing(&mut conn, std::slice::from_ref(id))
            .await?
            .is_empty(),
        Owner::Nobody => false,
    };
    if owned {
        tracing::info!(key, "object is owned again; not deleting it");
        return Ok(());
    }
    delete_keys(ctx, &[key]).await
}
