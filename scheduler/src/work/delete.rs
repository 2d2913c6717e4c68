//! Deleting stored objects: a deleted video's objects (every key of
//! `svc::storage::keys::of_video`: its file, original, thumbnail, HLS rungs and master playlist,
//! storyboard) and uploads (`delete_video`), the expired never-finished uploads (swept by
//! housekeeping), and single orphans found by the reconciler (`delete_object`).
//!
//! Bytes go first, rows after: if a run stops half-way, the rows still point at what is left and
//! the retry finishes it. An object already gone counts as deleted; any other I/O error (a
//! permission problem, a directory where a file should be) fails the job so it is retried and
//! shows up in `last_error`, never silently dropped.

use svc::storage::keys::{self, owner_of, Owner};
use svc::VideoId;

use super::context::{Context, WorkError};
use crate::store;

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
    remove_hls_dir(ctx, video_id);
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
    remove_hls_dir(ctx, video_id);
    Ok(())
}

/// Removes the directory `hls/<vid>/` that held the video's rungs, once it is empty: the local
/// backend keeps two-level keys in a directory of their own, which deleting the objects leaves
/// behind. Anything else in it keeps it (and the reconciler finds that).
pub fn remove_hls_dir(ctx: &Context, video_id: &VideoId) {
    let Some(dir) = ctx.storage.local_path(&format!("hls/{video_id}")) else {
        return;
    };
    match std::fs::remove_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::debug!(dir = %dir.display(), error = %e, "hls directory kept"),
    }
}

/// Removes the bytes of the uploads `ids`, then their rows.
pub async fn delete_uploads(
    ctx: &Context,
    conn: &mut mysql_async::Conn,
    ids: &[String],
) -> Result<(), WorkError> {
    let keys: Vec<String> = ids.iter().map(|id| keys::upload(id)).collect();
    delete_keys(ctx, &keys).await?;
    store::uploads::delete(conn, ids).await?;
    Ok(())
}

/// Removes expired uploads that never completed (SPEC section 5), at most `limit` per call;
/// returns how many. Runs from housekeeping, which is periodic, so an upload that fails here is
/// simply tried again next time (and logged).
pub async fn sweep_expired_uploads(ctx: &Context, limit: usize) -> Result<usize, WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let ids = store::uploads::expired(&mut conn, limit).await?;
    let mut removed = 0;
    for id in &ids {
        match delete_uploads(ctx, &mut conn, std::slice::from_ref(id)).await {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(upload = %id, error = %e, "could not remove an expired upload")
            }
        }
    }
    Ok(removed)
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
