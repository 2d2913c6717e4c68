//! The scheduler's reads and writes of `video_info`: the state machine's last step
//! (`uploaded` -> `ready` | `failed`, SPEC section 5) and the ownership checks of the reconciler.
//! Every state change is guarded by `state = 'uploaded'`, so replaying a job cannot undo a later
//! change and a deleted row is simply not updated. States are bound from [`VideoState`], never
//! spelled here.

use std::collections::HashSet;

use mysql_async::prelude::Queryable;
use svc::{VideoId, VideoState};

/// What ffprobe found, as stored on `video_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub duration_ms: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub audio_codec: Option<String>,
    pub bitrate: Option<u64>,
}

/// The video's state, or `None` if the row is gone.
pub async fn state<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<Option<VideoState>, mysql_async::Error> {
    let raw: Option<String> = conn
        .exec_first(
            "SELECT CAST(state AS CHAR) FROM video_info WHERE id = ?",
            (video_id.as_str(),),
        )
        .await?;
    raw.map(|raw| {
        VideoState::parse(&raw).ok_or_else(|| {
            mysql_async::Error::Other(format!("video_info.state {raw:?} is no known state").into())
        })
    })
    .transpose()
}

/// What deleting `video_id` needs to know, in one round trip: whether its row still exists, and
/// the ids of its uploads.
pub async fn deletion_view<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<(bool, Vec<String>), mysql_async::Error> {
    let rows: Vec<(bool, Option<String>)> = conn
        .exec(
            "SELECT EXISTS(SELECT 1 FROM video_info WHERE id = ?), u.id
             FROM (SELECT 1) AS one LEFT JOIN uploads u ON u.video_id = ?",
            (video_id.as_str(), video_id.as_str()),
        )
        .await?;
    let exists = rows.first().is_some_and(|(exists, _)| *exists);
    Ok((exists, rows.into_iter().filter_map(|(_, id)| id).collect()))
}

/// Which of `ids` have a `video_info` row.
pub async fn existing<Q: Queryable>(
    conn: &mut Q,
    ids: &[VideoId],
) -> Result<HashSet<VideoId>, mysql_async::Error> {
    let found = super::existing_ids(conn, "video_info", ids).await?;
    Ok(found.iter().filter_map(|id| VideoId::parse(id)).collect())
}

/// Records a new file published by processing (the faststart remux): its size and hash, and a
/// new `uploaded_at`, which is the file's `Last-Modified` and part of its ETag.
pub async fn set_file<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    size: u64,
    sha256: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info SET size = ?, sha256 = ?, uploaded_at = UTC_TIMESTAMP(6)
         WHERE id = ? AND state = ?",
        (
            size,
            sha256,
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
        ),
    )
    .await
}

/// `uploaded` -> `ready` with the probe results. `false` if the row is gone or no longer
/// `uploaded`.
pub async fn mark_ready(
    conn: &mut mysql_async::Conn,
    video_id: &VideoId,
    probe: &Probe,
    has_thumbnail: bool,
) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info SET state = ?, duration_ms = ?, width = ?, height = ?,
           video_codec = ?, audio_codec = ?, bitrate = ?, has_thumbnail = ?, failure_reason = NULL
         WHERE id = ? AND state = ?",
        (
            VideoState::Ready.as_str(),
            probe.duration_ms,
            probe.width,
            probe.height,
            &probe.video_codec,
            &probe.audio_codec,
            probe.bitrate,
            has_thumbnail,
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
        ),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// `uploaded` -> `failed` with a reason the web shows to the owner.
pub async fn mark_failed<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    reason: &str,
) -> Result<(), mysql_async::Error> {
    let reason: String = reason.chars().take(500).collect();
    conn.exec_drop(
        "UPDATE video_info SET state = ?, failure_reason = ? WHERE id = ? AND state = ?",
        (
            VideoState::Failed.as_str(),
            reason,
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
        ),
    )
    .await
}
