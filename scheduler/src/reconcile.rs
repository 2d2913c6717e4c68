//! Reconciliation: the safety net under every other cleanup path. It lists storage (every
//! prefix in `svc::storage::keys::PREFIXES`, `tmp/` where staging and scratch files live
//! included, and each video's directory under `hls/`), finds objects no row owns that are older
//! than the grace period, and queues one `delete_object` job per orphan; the runner deletes them
//! with retries like any other job.
//! The grace period keeps it away from objects whose row is still being written (an upload
//! being published, a scratch file being remuxed).
//!
//! Who owns a key is `svc::storage::keys::owner_of`, beside the key layout it inverts; this
//! module only asks the database whether those owners still exist.

use std::time::{Duration, SystemTime};

use svc::storage::keys::{self, owner_of, Owner};
use svc::storage::ObjectMeta;

use crate::store;
use crate::work::{Context, WorkError};

/// What one reconciliation pass saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects listed.
    pub scanned: usize,
    /// Unowned objects older than the grace period.
    pub orphans: usize,
    /// Deletion jobs queued (or re-queued) for them.
    pub queued: usize,
}

/// Lists storage and queues the deletion of every orphan older than `grace`.
pub async fn reconcile_once(ctx: &Context, grace: Duration) -> Result<Report, WorkError> {
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let (scanned, old) = objects_older_than(ctx, cutoff).await?;
    let mut report = Report {
        scanned,
        ..Report::default()
    };
    let mut conn = ctx.pool.get_conn().await?;
    for key in unowned(&mut conn, old).await? {
        report.orphans += 1;
        let prefix = key.split('/').next().unwrap_or_default().to_string();
        metrics::counter!("scheduler_reconcile_orphans_total", "prefix" => prefix).increment(1);
        store::jobs::enqueue_object_deletion(&mut conn, &key).await?;
        report.queued += 1;
    }
    metrics::counter!("scheduler_reconcile_queued_total").increment(report.queued as u64);
    tracing::info!(
        scanned = report.scanned,
        orphans = report.orphans,
        queued = report.queued,
        "reconciliation finished"
    );
    Ok(report)
}

/// How many objects storage holds under the prefixes, and those modified before `cutoff` with
/// their owners.
async fn objects_older_than(
    ctx: &Context,
    cutoff: SystemTime,
) -> Result<(usize, Vec<(Owner, String)>), WorkError> {
    let mut scanned = 0;
    let mut old = Vec::new();
    for prefix in keys::PREFIXES {
        let objects = list(ctx, prefix, cutoff).await?;
        scanned += objects.len();
        old.extend(
            objects
                .into_iter()
                .filter(|o| o.modified < cutoff)
                .filter_map(|o| Some((owner_of(&o.key)?, o.key))),
        );
    }
    Ok((scanned, old))
}

/// Every object under `prefix`. The local backend lists one directory level, and HLS keys are
/// two deep (`hls/<vid>/<file>`), so under `hls/` each video's directory is listed too (and
/// removed once it is empty and older than `cutoff`: what deleting a video's rungs leaves).
async fn list(
    ctx: &Context,
    prefix: &str,
    cutoff: SystemTime,
) -> Result<Vec<ObjectMeta>, WorkError> {
    let storage = &ctx.storage;
    let mut objects = storage
        .list(prefix)
        .await
        .map_err(WorkError::storage(prefix))?;
    let Some(dir) = prefix
        .strip_suffix('/')
        .filter(|p| *p == "hls")
        .and_then(|p| storage.local_path(p))
    else {
        return Ok(objects);
    };
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(objects),
        Err(e) => return Err(WorkError::storage(prefix)(e)),
    };
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(WorkError::storage(prefix))?
    {
        let meta = entry.metadata().await.map_err(WorkError::storage(prefix))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let sub = format!("{prefix}{name}/");
        let inside = storage.list(&sub).await.map_err(WorkError::storage(&sub))?;
        if inside.is_empty() && meta.modified().is_ok_and(|m| m < cutoff) {
            // Empty since before the grace period: nothing is being published into it.
            let _ = tokio::fs::remove_dir(entry.path()).await;
        }
        objects.extend(inside);
    }
    Ok(objects)
}

/// The keys of `objects` whose owner row does not exist (or that no row can own).
async fn unowned(
    conn: &mut mysql_async::Conn,
    objects: Vec<(Owner, String)>,
) -> Result<Vec<String>, mysql_async::Error> {
    let (mut video_ids, mut upload_ids) = (Vec::new(), Vec::new());
    for (owner, _) in &objects {
        match owner {
            Owner::Video(id) => video_ids.push(id.clone()),
            Owner::Upload(id) => upload_ids.push(id.clone()),
            Owner::Nobody => {}
        }
    }
    let videos = store::videos::existing(conn, &video_ids).await?;
    let uploads = store::uploads::existing(conn, &upload_ids).await?;
    Ok(objects
        .into_iter()
        .filter(|(owner, _)| match owner {
            Owner::Video(id) => !videos.contains(id),
            Owner::Upload(id) => !uploads.contains(id),
            Owner::Nobody => true,
        })
        .map(|(_, key)| key)
        .collect())
}
