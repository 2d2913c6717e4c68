//! Reconciliation: the safety net under every other cleanup path. It lists storage page by
//! page (every prefix in `svc::storage::keys::PREFIXES`, `tmp/` where staging and scratch
//! files live included, at any depth: `hls/<vid>/<file>` too), finds objects no row owns that
//! are older than the grace period, and queues one `delete_object` job per orphan; the runner
//! deletes them with retries like any other job. Memory stays at one page, whatever the bucket
//! holds.
//! The grace period keeps it away from objects whose row is still being written (an upload
//! being published, a scratch file being remuxed).
//!
//! Who owns a key is `svc::storage::keys::owner_of`, beside the key layout it inverts; this
//! module only asks the database whether those owners still exist.

use std::time::{Duration, SystemTime};

use svc::storage::keys::{self, owner_of, Owner};

use crate::store;
use crate::work::{Context, WorkError};

/// How many objects one listing request returns (S3's own maximum).
pub const PAGE: usize = 1000;

/// What one reconciliation pass saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects listed.
    pub scanned: usize,
    /// Listing requests made (pages).
    pub pages: usize,
    /// Unowned objects older than the grace period.
    pub orphans: usize,
    /// Deletion jobs queued (or re-queued) for them.
    pub queued: usize,
}

/// Lists storage and queues the deletion of every orphan older than `grace`.
pub async fn reconcile_once(ctx: &Context, grace: Duration) -> Result<Report, WorkError> {
    reconcile_paged(ctx, grace, PAGE).await
}

/// [`reconcile_once`] listing `page` objects per request.
pub async fn reconcile_paged(
    ctx: &Context,
    grace: Duration,
    page: usize,
) -> Result<Report, WorkError> {
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = Report::default();
    let mut conn = ctx.pool.get_conn().await?;
    for prefix in keys::PREFIXES {
        let mut after: Option<String> = None;
        loop {
            let listed = ctx
                .storage
                .list_page(prefix, after.as_deref(), page)
                .await
                .map_err(WorkError::storage(prefix))?;
            report.pages += 1;
            report.scanned += listed.objects.len();
            let old = listed
                .objects
                .into_iter()
                .filter(|o| o.modified < cutoff)
                .filter_map(|o| Some((owner_of(&o.key)?, o.key)))
                .collect();
            for key in unowned(&mut conn, old).await? {
                report.orphans += 1;
                let prefix = key.split('/').next().unwrap_or_default().to_string();
                metrics::counter!("scheduler_reconcile_orphans_total", "prefix" => prefix)
                    .increment(1);
                store::jobs::enqueue_object_deletion(&mut conn, &key).await?;
                report.queued += 1;
            }
            match listed.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    metrics::counter!("scheduler_reconcile_queued_total").increment(report.queued as u64);
    tracing::info!(
        scanned = report.scanned,
        pages = report.pages,
        orphans = report.orphans,
        queued = report.queued,
        "reconciliation finished"
    );
    Ok(report)
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
