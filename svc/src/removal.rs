//! Removing a video, the one way two processes do it: the api when its owner deletes it, the
//! scheduler when housekeeping removes an abandoned `pending` one. Both must leave the same
//! database behind (no comment of a missing video, the files queued for deletion) and tell the
//! same live viewers, so the statements live here once.

use mysql_async::prelude::Queryable;

use crate::jobs::{self, JobKind};
use crate::video::VideoId;

/// The `live_events` row that tells a removed video's live viewers it went: kind `video_gone`,
/// reason `deleted` (api's `live::Gone::Deleted`, which reads it back).
pub const GONE_KIND: &str = "video_gone";
pub const GONE_DELETED: &str = r#"{"reason":"deleted"}"#;

/// Removes `video_id` inside the caller's transaction, which has checked under the row's lock
/// that it may: its comments, its row (its danmaku, favourites, renditions and search postings go
/// with it by foreign key), a `delete_video` job for its files, and a `video_gone` event that ends every
/// live stream of it.
pub async fn remove_video<Q: Queryable>(
    tx: &mut Q,
    video_id: &VideoId,
) -> Result<(), mysql_async::Error> {
    let id = video_id.as_str();
    tx.exec_drop("DELETE FROM comments WHERE video_id = ?", (id,))
        .await?;
    tx.exec_drop("DELETE FROM video_info WHERE id = ?", (id,))
        .await?;
    jobs::enqueue(tx, JobKind::DeleteVideo, video_id).await?;
    tx.exec_drop(
        "INSERT INTO live_events (video_id, kind, payload, created_at)
         VALUES (?, ?, ?, UTC_TIMESTAMP(6))",
        (id, GONE_KIND, GONE_DELETED),
    )
    .await
}
