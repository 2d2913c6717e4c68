//! SQL over `video_info`: what playback reads and what publishing an upload changes. Functions
//! take any `Queryable` so handlers can compose them inside one transaction. No HTTP in here.

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{FromRowError, Row};

/// What playback needs of a video.
#[derive(Debug, Clone)]
pub struct PlaybackRow {
    pub state: String,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub sha256: Option<String>,
    /// Upload time in whole seconds since the epoch (UTC).
    pub uploaded_at: Option<i64>,
}

impl FromRow for PlaybackRow {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        let (state, size, content_type, sha256, uploaded_at) = FromRow::from_row_opt(row)?;
        Ok(PlaybackRow {
            state,
            size,
            content_type,
            sha256,
            uploaded_at,
        })
    }
}

pub async fn playback<Q: Queryable>(
    conn: &mut Q,
    video_id: &str,
) -> Result<Option<PlaybackRow>, mysql_async::Error> {
    // The connection runs in UTC (svc::db), so UNIX_TIMESTAMP reads uploaded_at as UTC.
    conn.exec_first(
        "SELECT state, size, content_type, sha256,
                CAST(FLOOR(UNIX_TIMESTAMP(uploaded_at)) AS SIGNED)
         FROM video_info WHERE id = ?",
        (video_id,),
    )
    .await
}

/// The video's author and state.
pub async fn owner_and_state<Q: Queryable>(
    conn: &mut Q,
    video_id: &str,
) -> Result<Option<(u32, String)>, mysql_async::Error> {
    conn.exec_first(
        "SELECT author_id, state FROM video_info WHERE id = ?",
        (video_id,),
    )
    .await
}

/// The video's state, row-locked until the transaction ends.
pub async fn lock_state<Q: Queryable>(
    conn: &mut Q,
    video_id: &str,
) -> Result<Option<String>, mysql_async::Error> {
    conn.exec_first(
        "SELECT state FROM video_info WHERE id = ? FOR UPDATE",
        (video_id,),
    )
    .await
}

/// `pending` -> `uploaded` with the published file's facts; false when the video was not pending.
pub async fn mark_uploaded<Q: Queryable>(
    conn: &mut Q,
    video_id: &str,
    size: u64,
    content_type: &str,
    sha256: &str,
) -> Result<bool, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "UPDATE video_info SET state = 'uploaded', size = ?, content_type = ?, sha256 = ?,
                    uploaded_at = UTC_TIMESTAMP(6)
             WHERE id = ? AND state = 'pending'",
            (size, content_type, sha256, video_id),
        )
        .await?;
    let changed = result.affected_rows() == 1;
    result.drop_result().await?;
    Ok(changed)
}
