//! The `video_info` table as the api uses it: create a pending video, read one, list an
//! author's videos newest first by keyset, and delete one (inside the caller's transaction).
//! The upload and processing columns are written by streamserver and scheduler.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use svc::{VideoId, VideoState};

use super::{take, take_time};
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
    pub state: VideoState,
    pub size: Option<u64>,
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub content_type: Option<String>,
    pub has_thumbnail: bool,
    pub failure_reason: Option<String>,
}

impl VideoRow {
    /// Whether `viewer_id` may see the video: its owner always, anyone else once it is playable
    /// (SPEC section 2: streamserver serves it).
    pub fn visible_to(&self, viewer_id: u32) -> bool {
        self.author_id == viewer_id || self.state.is_playable()
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            time: self.create_time_key.clone(),
            id: self.id.clone(),
        }
    }

    fn from_row(mut row: Row) -> Result<Self, mysql_async::Error> {
        let created = take_time(&mut row, 5)?;
        Ok(VideoRow {
            id: take(&mut row, 0)?,
            author_id: take(&mut row, 1)?,
            author: take(&mut row, 2)?,
            name: take(&mut row, 3)?,
            display_ctime: take(&mut row, 4)?,
            create_time: created.rfc3339,
            create_time_key: created.key,
            state: take_state(&mut row, 6)?,
            size: take(&mut row, 7)?,
            duration_ms: take(&mut row, 8)?,
            width: take(&mut row, 9)?,
            height: take(&mut row, 10)?,
            content_type: take(&mut row, 11)?,
            has_thumbnail: take(&mut row, 12)?,
            failure_reason: take(&mut row, 13)?,
        })
    }
}

/// Takes a `state` column. The column is an ENUM of the states this build knows; a spelling it
/// does not know (a newer build's state) is an error like any undecodable row, never a guess.
fn take_state(row: &mut Row, idx: usize) -> Result<VideoState, mysql_async::Error> {
    let raw: String = take(row, idx)?;
    VideoState::parse(&raw).ok_or_else(|| {
        mysql_async::Error::Other(format!("video_info.state {raw:?} is not a known state").into())
    })
}

/// The columns `VideoRow::from_row` reads, after `id, author_id, <author name>`.
macro_rules! video_columns {
    () => {
        "v.name, v.display_ctime, v.create_time, v.state, v.size, v.duration_ms, v.width,
         v.height, v.content_type, v.has_thumbnail, v.failure_reason"
    };
}

const FIND: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    " FROM video_info v JOIN users u ON u.id = v.author_id WHERE v.id = ?"
);

// One author's list needs no join: the caller knows the author's name and passes it as the
// first parameter, which saves a users lookup per row on the busiest route.
const LIST: &str = concat!(
    "SELECT v.id, v.author_id, ?, ",
    video_columns!(),
    " FROM video_info v WHERE v.author_id = ? AND (? OR v.state IN ",
    svc::playable_states!(),
    ")"
);

/// Inserts a `pending` video. `display_ctime` keeps the original's format
/// (`Apr 23 2019, 11:25:47`), in UTC, from the same clock reading as `create_time`.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
    author_id: u32,
    name: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO video_info (id, author_id, name, display_ctime, create_time)
         VALUES (?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(6), '%b %d %Y, %H:%i:%s'), UTC_TIMESTAMP(6))",
        (id.as_str(), author_id, name),
    )
    .await
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<VideoRow>, mysql_async::Error> {
    let row: Option<Row> = conn.exec_first(FIND, (id.as_str(),)).await?;
    row.map(VideoRow::from_row).transpose()
}

/// Who owns the video and its state, without the rest of the row: the check the comment routes
/// make before their own query.
pub async fn access<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<(u32, VideoState)>, mysql_async::Error> {
    let row: Option<Row> = conn
        .exec_first(
            "SELECT author_id, state FROM video_info WHERE id = ?",
            (id.as_str(),),
        )
        .await?;
    row.map(|mut row| Ok((take(&mut row, 0)?, take_state(&mut row, 1)?)))
        .transpose()
}

/// Up to `limit` of the author's videos older than `before`, newest first by
/// `(create_time, id)`; unplayable ones only when `include_unplayable` (the owner's view).
/// Served by the index `ix_video_author_time (author_id, create_time, id)`.
pub async fn list<Q: Queryable>(
    conn: &mut Q,
    author_id: u32,
    author: &str,
    include_unplayable: bool,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let rows: Vec<Row> = match before {
        None => {
            conn.exec(
                format!("{LIST} ORDER BY v.create_time DESC, v.id DESC LIMIT ?"),
                (author, author_id, include_unplayable, limit),
            )
            .await?
        }
        Some(c) => {
            conn.exec(
                format!(
                    "{LIST} AND (v.create_time < ? OR (v.create_time = ? AND v.id < ?))
                     ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
                ),
                (
                    author,
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
    id: &VideoId,
) -> Result<Option<u32>, mysql_async::Error> {
    conn.exec_first(
        "SELECT author_id FROM video_info WHERE id = ? FOR UPDATE",
        (id.as_str(),),
    )
    .await
}

pub async fn delete<Q: Queryable>(conn: &mut Q, id: &VideoId) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM video_info WHERE id = ?", (id.as_str(),))
        .await
}
