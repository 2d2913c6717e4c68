//! Reconciliation: the safety net under every other cleanup path. It lists storage (every
//! prefix in `svc::storage::keys::PREFIXES`, `tmp/` where staging and scratch files live
//! included), finds objects no row owns that are older than the grace period, and queues one
//! `delete_object` job per orphan; the runner deletes them with retries like any other job.
//! The grace period keeps it away from objects whose row is still being written (an upload
//! being published, a scratch file being remuxed).
//!
//! Who owns a key is `svc::storage::keys::owner_of`, beside the key layout it inverts; this
//! module only asks the database whether those owners still exist.

use std::time::{Duration, SystemTime};

use svc::storage::keys::{self, owner_of, Owner};

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
        let objects = ctx
            .storage
            .list(prefix)
            .await
            .map_err(WorkError::storage(prefix))?;
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
