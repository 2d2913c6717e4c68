//! Reconciliation: the safety net under every other cleanup path. It lists storage (every
//! prefix in `svc::storage::keys::PREFIXES`, and `tmp/` where staging and scratch files live),
//! finds objects no row owns that are older than the grace period, and queues one
//! `delete_object` job per orphan; the runner deletes them with retries like any other job.
//! The grace period keeps it away from objects whose row is still being written (an upload
//! being published, a scratch file being remuxed).
//!
//! Ownership: `videos/<vid>` and `thumbnails/<vid>.jpg` belong to the `video_info` row `<vid>`;
//! `uploads/<id>` to the `uploads` row `<id>`; nothing in `tmp/` is owned.

use std::time::{Duration, SystemTime};

use svc::storage::keys;

use crate::store;
use crate::work::{Context, WorkError};

/// Who owns a storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The `video_info` row with this id.
    Video(String),
    /// The `uploads` row with this id.
    Upload(String),
    /// No row can own it (staging leftovers, names no code writes).
    Nobody,
}

/// The owner of `key`, or `None` for a key outside the prefixes the reconciler looks at.
pub fn owner_of(key: &str) -> Option<Owner> {
    let (prefix, name) = key.split_once('/')?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(match prefix {
        "videos" => Owner::Video(name.to_string()),
        "thumbnails" => match name.strip_suffix(".jpg") {
            Some(id) if !id.is_empty() => Owner::Video(id.to_string()),
            _ => Owner::Nobody,
        },
        "uploads" => Owner::Upload(name.to_string()),
        "tmp" => Owner::Nobody,
        _ => return None,
    })
}

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
    let mut report = Report::default();
    let mut old = Vec::new();
    for prefix in keys::PREFIXES.iter().copied().chain(["tmp/"]) {
        let objects = ctx
            .storage
            .list(prefix)
            .await
            .map_err(WorkError::storage(prefix))?;
        report.scanned += objects.len();
        old.extend(
            objects
                .into_iter()
                .filter(|o| o.modified < cutoff)
                .filter_map(|o| Some((owner_of(&o.key)?, o.key))),
        );
    }

    let mut conn = ctx.pool.get_conn().await?;
    let video_ids: Vec<String> = old
        .iter()
        .filter_map(|(owner, _)| match owner {
            Owner::Video(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let upload_ids: Vec<String> = old
        .iter()
        .filter_map(|(owner, _)| match owner {
            Owner::Upload(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let videos = store::videos::existing(&mut conn, &video_ids).await?;
    let uploads = store::uploads::existing(&mut conn, &upload_ids).await?;

    for (owner, key) in &old {
        let (orphan, video_id) = match owner {
            Owner::Video(id) => (!videos.contains(id), id.as_str()),
            Owner::Upload(id) => (!uploads.contains(id), ""),
            Owner::Nobody => (true, ""),
        };
        if !orphan {
            continue;
        }
        report.orphans += 1;
        let prefix = key.split('/').next().unwrap_or_default().to_string();
        metrics::counter!("scheduler_reconcile_orphans_total", "prefix" => prefix).increment(1);
        // The jobs table holds video ids of 36 characters; anything else is recorded by key only.
        let video_id = if video_id.len() <= 36 { video_id } else { "" };
        store::jobs::enqueue_object_deletion(&mut conn, video_id, key).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_follow_the_key_layout() {
        let vid = "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
        assert_eq!(
            owner_of(&keys::video(vid)),
            Some(Owner::Video(vid.to_string()))
        );
        assert_eq!(
            owner_of(&keys::thumbnail(vid)),
            Some(Owner::Video(vid.to_string()))
        );
        assert_eq!(
            owner_of(&keys::upload("u1")),
            Some(Owner::Upload("u1".to_string()))
        );
        assert_eq!(owner_of("tmp/abc"), Some(Owner::Nobody));
        assert_eq!(owner_of("thumbnails/abc.png"), Some(Owner::Nobody));
        assert_eq!(owner_of("thumbnails/.jpg"), Some(Owner::Nobody));
        assert_eq!(owner_of("other/abc"), None);
        assert_eq!(owner_of("videos/"), None);
        assert_eq!(owner_of("videos/a/b"), None);
        assert_eq!(owner_of("videos"), None);
    }
}
