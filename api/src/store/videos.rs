//! The `video_info` table as the api uses it: create a pending video, read one, list an
//! author's videos newest first by keyset, and delete one (inside the caller's transaction).
//! The upload and processing columns are written by streamserver and scheduler.

use mysql_async::prelude::Queryable;
use mysql_async::Row;

use super::take;
use crate::domain::Cursor;

/// A video with its author's name, as the video object needs it.
#[derive(Debug, Clone)]
pub struct VideoRow {
    pub id: String,
    pub author_id: u32,
    pub author: String,
    pub name: String,
    pub display_ctime: String,
    /// RFC 3339 UTC.
    pub create_time: String,
    /// `create_time` as MySQL prints a `DATETIME(6)`, for the page cursor.
    pub create_time_key: String,
    pub state: String,
    pub size: Option<u64>,
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub content_type: Option<String>,
    pub has_thumbnail: bool,
    pub failure_reason: Option<String>,
}

impl VideoRow {
    /// Playable means streamserver will serve it (SPEC: `uploaded` or `ready`); only those are
    /// shown to anyone but the owner.
    pub fn is_playable(&self) -> bool {
        matches!(self.state.as_str(), "uploaded" | "ready")
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            time: self.create_time_key.clone(),
            id: self.id.clone(),
        }
    }

    fn from_row(mut row: Row) -> Result<Self, mysql_async::Error> {
        Ok(VideoRow {
            id: take(&mut row, 0)?,
            author_id: take(&mut row, 1)?,
            author: take(&mut row, 2)?,
            name: take(&mut row, 3)?,
            display_ctime: take(&mut row, 4)?,
            create_time: take(&mut row, 5)?,
            create_time_key: take(&mut row, 6)?,
            state: take(&mut row, 7)?,
            size: take(&mut row, 8)?,
            duration_ms: take(&mut row, 9)?,
            width: take(&mut row, 10)?,
            height: take(&mut row, 11)?,
            content_type: take(&mut row, 12)?,
            has_thumbnail: take(&mut row, 13)?,
            failure_reason: take(&mut row, 14)?,
        })
    }
}

// STRAIGHT_JOIN: read the listed table first, through its (parent, time, id) index, and join
// each row's author by primary key. Left to itself, with few users the optimizer drives from
// `users` through the author index instead, then sorts every row of that author in a temporary
// table on disk (TEXT columns): measured at a third of the throughput.
const SELECT: &str = "SELECT v.id, v.author_id, u.login_name, v.name, v.display_ctime,
        DATE_FORMAT(v.create_time, '%Y-%m-%dT%H:%i:%s.%fZ'),
        DATE_FORMAT(v.create_time, '%Y-%m-%d %H:%i:%s.%f'),
        v.state, v.size, v.duration_ms, v.width, v.height, v.content_type, v.has_thumbnail,
        v.failure_reason
   FROM video_info v STRAIGHT_JOIN users u ON u.id = v.author_id";

/// Inserts a `pending` video. `display_ctime` keeps the original's format
/// (`Apr 23 2019, 11:25:47`), in UTC, from the same clock reading as `create_time`.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    id: &str,
    author_id: u32,
    name: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO video_info (id, author_id, name, display_ctime, create_time)
         VALUES (?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(6), '%b %d %Y, %H:%i:%s'), UTC_TIMESTAMP(6))",
        (id, author_id, name),
    )
    .await
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    id: &str,
) -> Result<Option<VideoRow>, mysql_async::Error> {
    let row: Option<Row> = conn
        .exec_first(format!("{SELECT} WHERE v.id = ?"), (id,))
        .await?;
    row.map(VideoRow::from_row).transpose()
}

/// Who owns the video and whether it is playable, without the rest of the row: the check the
/// comment routes make before their own query.
pub async fn access<Q: Queryable>(
    conn: &mut Q,
    id: &str,
) -> Result<Option<(u32, bool)>, mysql_async::Error> {
    conn.exec_first(
        "SELECT author_id, state IN ('uploaded', 'ready') FROM video_info WHERE id = ?",
        (id,),
    )
    .await
}

/// Up to `limit` of the author's videos older than `before`, newest first by
/// `(create_time, id)`; unplayable ones only when `include_unplayable` (the owner's view).
/// Served by the index `ix_video_author_time (author_id, create_time, id)`.
pub async fn list<Q: Queryable>(
    conn: &mut Q,
    author_id: u32,
    include_unplayable: bool,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let rows: Vec<Row> = match before {
        None => {
            conn.exec(
                format!(
                    "{SELECT} WHERE v.author_id = ? AND (? OR v.state IN ('uploaded', 'ready'))
                     ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
                ),
                (author_id, include_unplayable, limit),
            )
            .await?
        }
        Some(c) => {
            conn.exec(
                format!(
                    "{SELECT} WHERE v.author_id = ? AND (? OR v.state IN ('uploaded', 'ready'))
                       AND (v.create_time < ? OR (v.create_time = ? AND v.id < ?))
                     ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
                ),
                (
                    author_id,
                    include_unplayable,
                    &c.time,
                    &c.time,
                    &c.id,
                    limit,
                ),
            )
            .await?
        }
    };
    rows.into_iter().map(VideoRow::from_row).collect()
}

/// The video's author, locking the row until the transaction ends so a concurrent delete or
/// comment cannot interleave.
pub async fn lock_author<Q: Queryable>(
    conn: &mut Q,
    id: &str,
) -> Result<Option<u32>, mysql_async::Error> {
    conn.exec_first(
        "SELECT author_id FROM video_info WHERE id = ? FOR UPDATE",
        (id,),
    )
    .await
}

pub async fn delete<Q: Queryable>(conn: &mut Q, id: &str) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM video_info WHERE id = ?", (id,))
        .await
}
