//! The scheduler's reads and writes of `video_info`: the state machine's last steps
//! (`uploaded` -> `processing` -> `ready` | `failed`, SPEC section 5 and issue 12), the file
//! and probe columns, `processing_progress`, `has_original` and `has_storyboard`, the ownership
//! checks of the reconciler, and finding and deleting abandoned `pending` videos for
//! housekeeping. Every state change is guarded by the state it leaves, so replaying a job
//! cannot undo a later change and a deleted row is simply not updated. States are bound from
//! [`VideoState`], never spelled here.

use std::collections::HashSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use svc::{VideoId, VideoState};

use super::uploads::UploadBytes;

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
/// its uploads (with their storage tokens).
pub async fn deletion_view<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<(bool, Vec<UploadBytes>), mysql_async::Error> {
    let rows: Vec<(bool, Option<String>, Option<String>)> = conn
        .exec(
            "SELECT EXISTS(SELECT 1 FROM video_info WHERE id = ?), u.id, u.storage_token
             FROM (SELECT 1) AS one LEFT JOIN uploads u ON u.video_id = ?",
            (video_id.as_str(), video_id.as_str()),
        )
        .await?;
    let exists = rows.first().is_some_and(|(exists, _, _)| *exists);
    let uploads = rows
        .into_iter()
        .filter_map(|(_, id, token)| Some(UploadBytes { id: id?, token }))
        .collect();
    Ok((exists, uploads))
}

/// What makes the video `v` abandoned, the one statement of the rule both queries below use:
/// still `pending` (bound first), created more than a TTL ago (bound second, in seconds), and
/// no upload of it that could still finish: none unfinished and unexpired. An expired upload
/// cannot be resumed (410), so it does not keep its video; its bytes go with the video's
/// `delete_video` job, or with the sweep of expired uploads, whichever comes first.
const ABANDONED: &str = "v.state = ? AND v.create_time < UTC_TIMESTAMP(6) - INTERVAL ? SECOND
     AND NOT EXISTS (SELECT 1 FROM uploads u
                     WHERE u.video_id = v.id AND u.completed_at IS NULL
                       AND u.expires_at > UTC_TIMESTAMP(6))";

/// Up to `limit` abandoned videos ([`ABANDONED`] with `ttl`), oldest first. Housekeeping runs
/// this every few minutes; `ix_video_state_time` (migration 0012) makes it a range scan of the
/// pending rows in creation order.
pub async fn abandoned<Q: Queryable>(
    conn: &mut Q,
    ttl: Duration,
    limit: usize,
) -> Result<Vec<VideoId>, mysql_async::Error> {
    let ids: Vec<String> = conn
        .exec(
            format!(
                "SELECT v.id FROM video_info v WHERE {ABANDONED} ORDER BY v.create_time LIMIT ?"
            ),
            (VideoState::Pending.as_str(), ttl.as_secs(), limit as u64),
        )
        .await?;
    Ok(ids.iter().filter_map(|id| VideoId::parse(id)).collect())
}

/// Locks the row of `video_id` (`FOR UPDATE`, inside the caller's transaction) if it is still
/// abandoned; `false` if it is not, or gone: an upload started or finished since it was listed,
/// or the owner deleted it. Publishing an upload locks the row the same way, so the two cannot
/// both go ahead.
pub async fn lock_abandoned<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    ttl: Duration,
) -> Result<bool, mysql_async::Error> {
    let found: Option<String> = conn
        .exec_first(
            format!("SELECT v.id FROM video_info v WHERE v.id = ? AND {ABANDONED} FOR UPDATE"),
            (
                video_id.as_str(),
                VideoState::Pending.as_str(),
                ttl.as_secs(),
            ),
        )
        .await?;
    Ok(found.is_some())
}

/// Which of `ids` have a `video_info` row.
pub async fn existing<Q: Queryable>(
    conn: &mut Q,
    ids: &[VideoId],
) -> Result<HashSet<VideoId>, mysql_async::Error> {
    let found = super::existing_ids(conn, "video_info", ids).await?;
    Ok(found.iter().filter_map(|id| VideoId::parse(id)).collect())
}

/// What processing needs to know about a video before it starts: its state and whether
/// `originals/<vid>` holds its original (`has_original`); `None` if the row is gone.
pub async fn processing_view<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<Option<(VideoState, bool)>, mysql_async::Error> {
    let row: Option<(String, bool)> = conn
        .exec_first(
            "SELECT CAST(state AS CHAR), has_original FROM video_info WHERE id = ?",
            (video_id.as_str(),),
        )
        .await?;
    row.map(|(raw, has_original)| {
        VideoState::parse(&raw)
            .map(|state| (state, has_original))
            .ok_or_else(|| {
                mysql_async::Error::Other(
                    format!("video_info.state {raw:?} is no known state").into(),
                )
            })
    })
    .transpose()
}

/// `uploaded` -> `processing`: the file is not served while its transcode runs. `false` if
/// the row is gone or no longer `uploaded`.
pub async fn mark_processing<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<bool, mysql_async::Error> {
    let changed = super::exec_affected(
        conn,
        "UPDATE video_info SET state = ?, processing_progress = 0 WHERE id = ? AND state = ?",
        (
            VideoState::Processing.as_str(),
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
        ),
    )
    .await?;
    Ok(changed == 1)
}

/// Records that `originals/<vid>` now holds the video's original.
pub async fn set_has_original<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info SET has_original = TRUE WHERE id = ?",
        (video_id.as_str(),),
    )
    .await
}

/// A progressive rendition processing published: what the streamserver serves it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub size: u64,
    pub sha256: String,
    pub content_type: &'static str,
}

/// Records a new file published while the video is still `uploaded` (a remux): its size,
/// hash and type, and a new `uploaded_at`, which is the file's `Last-Modified` and part of its
/// ETag.
pub async fn set_file<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    file: &File,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info SET size = ?, sha256 = ?, content_type = ?,
           uploaded_at = UTC_TIMESTAMP(6)
         WHERE id = ? AND state = ?",
        (
            file.size,
            &file.sha256,
            file.content_type,
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
        ),
    )
    .await
}

/// `uploaded` or `processing` -> `ready` with the probe results (and, after a transcode, the
/// new file); no transcode runs any more. `false` if the row is gone or in another state.
pub async fn mark_ready<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    probe: &Probe,
    has_thumbnail: bool,
    file: Option<&File>,
) -> Result<bool, mysql_async::Error> {
    let (size, sha256, content_type) = match file {
        Some(f) => (Some(f.size), Some(f.sha256.as_str()), Some(f.content_type)),
        None => (None, None, None),
    };
    let params: Vec<mysql_async::Value> = vec![
        VideoState::Ready.as_str().into(),
        probe.duration_ms.into(),
        probe.width.into(),
        probe.height.into(),
        probe.video_codec.as_str().into(),
        probe.audio_codec.as_deref().into(),
        probe.bitrate.into(),
        has_thumbnail.into(),
        size.into(),
        sha256.into(),
        content_type.into(),
        size.into(),
        video_id.as_str().into(),
        VideoState::Uploaded.as_str().into(),
        VideoState::Processing.as_str().into(),
    ];
    let changed = super::exec_affected(
        conn,
        "UPDATE video_info SET state = ?, duration_ms = ?, width = ?, height = ?,
           video_codec = ?, audio_codec = ?, bitrate = ?, has_thumbnail = ?,
           failure_reason = NULL, processing_progress = NULL,
           size = COALESCE(?, size), sha256 = COALESCE(?, sha256),
           content_type = COALESCE(?, content_type),
           uploaded_at = IF(? IS NULL, uploaded_at, UTC_TIMESTAMP(6))
         WHERE id = ? AND state IN (?, ?)",
        params,
    )
    .await?;
    Ok(changed == 1)
}

/// `uploaded` or `processing` -> `failed` with a reason the web shows to the owner.
pub async fn mark_failed<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    reason: &str,
) -> Result<(), mysql_async::Error> {
    let reason: String = reason.chars().take(500).collect();
    conn.exec_drop(
        "UPDATE video_info SET state = ?, failure_reason = ?, processing_progress = NULL
         WHERE id = ? AND state IN (?, ?)",
        (
            VideoState::Failed.as_str(),
            reason,
            video_id.as_str(),
            VideoState::Uploaded.as_str(),
            VideoState::Processing.as_str(),
        ),
    )
    .await
}

/// Sets `processing_progress` (a whole percent while a transcode runs, `None` when none does).
pub async fn set_progress(
    pool: &mysql_async::Pool,
    video_id: &VideoId,
    percent: Option<u8>,
) -> Result<(), mysql_async::Error> {
    pool.get_conn()
        .await?
        .exec_drop(
            "UPDATE video_info SET processing_progress = ? WHERE id = ?",
            (percent, video_id.as_str()),
        )
        .await
}

/// Records that the video's storyboard (sprite and WebVTT) is published. `false` if the row
/// is gone.
pub async fn set_has_storyboard<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info SET has_storyboard = TRUE WHERE id = ?",
        (video_id.as_str(),),
    )
    .await?;
    // Setting TRUE again matches the row without changing it, which MariaDB does not count.
    let found: Option<bool> = conn
        .exec_first(
            "SELECT has_storyboard FROM video_info WHERE id = ?",
            (video_id.as_str(),),
        )
        .await?;
    Ok(found == Some(true))
}
