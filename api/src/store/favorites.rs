//! The `favorites` table and the count it keeps in `video_info.favorite_count`: add and remove a
//! favourite (idempotently, the count changed in the same transaction only when a row did),
//! whether a user has one, and a user's favourites newest first by keyset.
//!
//! A change locks the video's row first (`lock_video`), so concurrent favourites of one video
//! queue on that lock instead of deadlocking: the foreign-key check of the insert takes a shared
//! lock on the same row that the count's update would then have to upgrade.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use svc::{VideoId, VideoState, Visibility};

use super::videos::{video_columns, VideoRow, ROW_COLUMNS};
use super::{changed, take_time};
use crate::domain::Cursor;

/// Who owns the video, its state and visibility, locking its row until the transaction ends.
pub async fn lock_video<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<(u32, VideoState, Visibility)>, mysql_async::Error> {
    let row: Option<(u32, String, String)> = conn
        .exec_first(
            "SELECT author_id, state, visibility FROM video_info WHERE id = ? FOR UPDATE",
            (id.as_str(),),
        )
        .await?;
    let Some((owner, state, visibility)) = row else {
        return Ok(None);
    };
    let unknown = |what: &str, raw: &str| {
        mysql_async::Error::Other(format!("video_info.{what} {raw:?} is unknown").into())
    };
    let state = VideoState::parse(&state).ok_or_else(|| unknown("state", &state))?;
    let visibility =
        Visibility::parse(&visibility).ok_or_else(|| unknown("visibility", &visibility))?;
    Ok(Some((owner, state, visibility)))
}

/// Makes the video a favourite of the user; `true` when it was not one yet (the count went up).
pub async fn add<Q: Queryable>(
    conn: &mut Q,
    user_id: u32,
    video_id: &VideoId,
) -> Result<bool, mysql_async::Error> {
    let added = changed(
        conn,
        "INSERT IGNORE INTO favorites (user_id, video_id, created_at)
         VALUES (?, ?, UTC_TIMESTAMP(6))",
        (user_id, video_id.as_str()),
    )
    .await?
        == 1;
    if added {
        conn.exec_drop(
            "UPDATE video_info SET favorite_count = favorite_count + 1 WHERE id = ?",
            (video_id.as_str(),),
        )
        .await?;
    }
    Ok(added)
}

/// Removes the favourite; `true` when there was one (the count went down).
pub async fn remove<Q: Queryable>(
    conn: &mut Q,
    user_id: u32,
    video_id: &VideoId,
) -> Result<bool, mysql_async::Error> {
    let removed = changed(
        conn,
        "DELETE FROM favorites WHERE user_id = ? AND video_id = ?",
        (user_id, video_id.as_str()),
    )
    .await?
        == 1;
    if removed {
        conn.exec_drop(
            "UPDATE video_info SET favorite_count = favorite_count - 1
              WHERE id = ? AND favorite_count > 0",
            (video_id.as_str(),),
        )
        .await?;
    }
    Ok(removed)
}

/// The video's favourite count.
pub async fn count<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<u64, mysql_async::Error> {
    let n: Option<u64> = conn
        .exec_first(
            "SELECT favorite_count FROM video_info WHERE id = ?",
            (video_id.as_str(),),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Whether the video is one of the user's favourites.
pub async fn has<Q: Queryable>(
    conn: &mut Q,
    user_id: u32,
    video_id: &VideoId,
) -> Result<bool, mysql_async::Error> {
    let found: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM favorites WHERE user_id = ? AND video_id = ?",
            (user_id, video_id.as_str()),
        )
        .await?;
    Ok(found.is_some())
}

/// A favourite in a user's list: the video as they may see it, and when it became a favourite.
pub struct Favorite {
    pub video: VideoRow,
    /// RFC 3339 UTC.
    pub time: String,
    /// `time` as MySQL prints a `DATETIME(6)`, for the page cursor.
    pub time_key: String,
}

impl Favorite {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            time: self.time_key.clone(),
            id: self.video.id.clone(),
        }
    }
}

// Newest favourite first, straight from `ix_favorites_user_time (user_id, created_at,
// video_id)` read backwards; each video by primary key, then its author. Favourites the user may
// no longer see (made private by their owner, or no longer playable) are left out; they come
// back if the video does.
const PAGE: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    ", f.created_at
   FROM favorites f STRAIGHT_JOIN video_info v ON v.id = f.video_id
        STRAIGHT_JOIN users u ON u.id = v.author_id
  WHERE f.user_id = ? AND ",
    svc::visible_to!("v")
);

/// Up to `limit` of the user's favourites older than `before`, newest first by
/// `(created_at, video_id)`.
pub async fn page<Q: Queryable>(
    conn: &mut Q,
    user_id: u32,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<Favorite>, mysql_async::Error> {
    let rows: Vec<Row> = match before {
        None => {
            conn.exec(
                format!("{PAGE} ORDER BY f.created_at DESC, f.video_id DESC LIMIT ?"),
                (user_id, user_id, limit),
            )
            .await?
        }
        Some(c) => {
            conn.exec(
                format!(
                    "{PAGE} AND (f.created_at < ? OR (f.created_at = ? AND f.video_id < ?))
                     ORDER BY f.created_at DESC, f.video_id DESC LIMIT ?"
                ),
                (user_id, user_id, &c.time, &c.time, &c.id, limit),
            )
            .await?
        }
    };
    rows.into_iter()
        .map(|mut row| {
            let at = take_time(&mut row, ROW_COLUMNS)?;
            Ok(Favorite {
                video: VideoRow::from_row(row)?,
                time: at.rfc3339,
                time_key: at.key,
            })
        })
        .collect()
}
