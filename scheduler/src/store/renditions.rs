//! `video_renditions`, one row per rung of a video's HLS ladder (migration 0007): planned with
//! `ready = FALSE` when the ladder job starts, set ready once that rung's media file and
//! playlist are published. Rows go with their video (`ON DELETE CASCADE`). The api reads them
//! for the video object; only the scheduler writes them.

use mysql_async::prelude::Queryable;
use svc::VideoId;

use super::placeholders;

/// One rung as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The rung (one of `svc::storage::keys::LADDER_HEIGHTS`): the rendition's short side, or
    /// the lowest rung of a source smaller than it.
    pub height: u16,
    /// The rendition's frame width.
    pub width: u32,
    /// Peak bits per second: planned from the encoder's cap, then measured from the segments.
    pub bandwidth: u32,
    /// RFC 6381 codecs, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    pub ready: bool,
}

/// Records the ladder `planned` for the video: rows missing are inserted not ready, rows of
/// rungs no longer planned are removed, rows already there keep their state (a rerun after a
/// crash does not forget the rungs it finished).
pub async fn plan<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    planned: &[Rendition],
) -> Result<(), mysql_async::Error> {
    if planned.is_empty() {
        return Ok(());
    }
    let heights: Vec<u16> = planned.iter().map(|r| r.height).collect();
    let mut params: Vec<mysql_async::Value> = vec![video_id.as_str().into()];
    params.extend(heights.iter().map(|h| (*h).into()));
    conn.exec_drop(
        format!(
            "DELETE FROM video_renditions WHERE video_id = ? AND height NOT IN ({})",
            placeholders(heights.len())
        ),
        params,
    )
    .await?;
    conn.exec_batch(
        "INSERT IGNORE INTO video_renditions (video_id, height, width, bandwidth, codecs, ready)
         VALUES (?, ?, ?, ?, ?, FALSE)",
        planned.iter().map(|r| {
            (
                video_id.as_str(),
                r.height,
                r.width,
                r.bandwidth,
                r.codecs.as_str(),
            )
        }),
    )
    .await
}

/// The video's rungs, lowest first.
pub async fn list<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<Vec<Rendition>, mysql_async::Error> {
    conn.exec_map(
        "SELECT height, width, bandwidth, codecs, ready FROM video_renditions
         WHERE video_id = ? ORDER BY height",
        (video_id.as_str(),),
        |(height, width, bandwidth, codecs, ready)| Rendition {
            height,
            width,
            bandwidth,
            codecs,
            ready,
        },
    )
    .await
}

/// Records what was measured of a made rung, and marks it ready when `ready` (the ladder's last
/// rung is marked only once the master playlist naming it is published, by [`mark_ready`], so
/// that a video never offers an `hls_url` whose master is not there yet). `false` if its row is
/// gone (the video was deleted meanwhile).
pub async fn record<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    height: u16,
    bandwidth: u32,
    codecs: &str,
    ready: bool,
) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_renditions SET ready = ?, bandwidth = ?, codecs = ?
         WHERE video_id = ? AND height = ?",
        (ready, bandwidth, codecs, video_id.as_str(), height),
    )
    .await?;
    exists(conn, video_id, height).await
}

/// Marks a recorded rung ready. `false` if its row is gone.
pub async fn mark_ready<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    height: u16,
) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_renditions SET ready = TRUE WHERE video_id = ? AND height = ?",
        (video_id.as_str(), height),
    )
    .await?;
    exists(conn, video_id, height).await
}

async fn exists<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    height: u16,
) -> Result<bool, mysql_async::Error> {
    let found: Option<u16> = conn
        .exec_first(
            "SELECT height FROM video_renditions WHERE video_id = ? AND height = ?",
            (video_id.as_str(), height),
        )
        .await?;
    Ok(found.is_some())
}
