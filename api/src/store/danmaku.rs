//! The `danmaku` table: add one, read one, read a window of a video's timeline in time order by
//! keyset, delete one. Rows go with their video (`ON DELETE CASCADE`).

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use svc::VideoId;

use super::{take, take_time};

/// A danmaku with its author's name, as the danmaku object needs it.
#[derive(Debug, Clone)]
pub struct DanmakuRow {
    pub id: u64,
    pub video_id: String,
    pub author_id: u32,
    pub author: String,
    pub at_ms: u32,
    pub text: String,
    /// `scroll`, `top` or `bottom`.
    pub mode: String,
    /// `#rrggbb`.
    pub color: String,
    /// RFC 3339 UTC.
    pub time: String,
}

impl DanmakuRow {
    fn from_row(mut row: Row) -> Result<Self, mysql_async::Error> {
        Ok(DanmakuRow {
            id: take(&mut row, 0)?,
            video_id: take(&mut row, 1)?,
            author_id: take(&mut row, 2)?,
            author: take(&mut row, 3)?,
            at_ms: take(&mut row, 4)?,
            text: take(&mut row, 5)?,
            mode: take(&mut row, 6)?,
            color: take(&mut row, 7)?,
            time: take_time(&mut row, 8)?.rfc3339,
        })
    }
}

/// What a new danmaku is made of (checked by the caller).
pub struct NewDanmaku<'a> {
    pub video_id: &'a VideoId,
    pub author_id: u32,
    pub at_ms: u32,
    pub text: &'a str,
    pub mode: &'a str,
    pub color: &'a str,
}

// STRAIGHT_JOIN: the danmaku drive, each author by primary key (as in the comment lists).
const SELECT: &str = "SELECT d.id, d.video_id, d.author_id, u.login_name, d.at_ms, d.text,
        d.mode, d.color, d.created_at
   FROM danmaku d STRAIGHT_JOIN users u ON u.id = d.author_id";

/// Inserts a danmaku and returns its id. A video deleted meanwhile fails with MySQL error 1452
/// (the foreign key), which the caller turns into 404.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    d: &NewDanmaku<'_>,
) -> Result<u64, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "INSERT INTO danmaku (video_id, author_id, at_ms, text, mode, color, created_at)
             VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
            (
                d.video_id.as_str(),
                d.author_id,
                d.at_ms,
                d.text,
                d.mode,
                d.color,
            ),
        )
        .await?;
    let id = result.last_insert_id();
    result.drop_result().await?;
    id.ok_or_else(|| mysql_async::Error::Other("INSERT gave no id".into()))
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    id: u64,
) -> Result<Option<DanmakuRow>, mysql_async::Error> {
    let row: Option<Row> = conn
        .exec_first(format!("{SELECT} WHERE d.id = ?"), (id,))
        .await?;
    row.map(DanmakuRow::from_row).transpose()
}

/// Where a window's page starts: after this `(at_ms, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    pub at_ms: u32,
    pub id: u64,
}

// A window of the timeline together with the video's visibility check in one statement, as the
// comment pages do: an uncorrelated EXISTS evaluated once, the rows straight from
// `ix_danmaku_video_at (video_id, at_ms, id)` in index order, so no sort however many the video
// has.
const WINDOW: &str = concat!(
    "SELECT d.id, d.video_id, d.author_id, u.login_name, d.at_ms, d.text, d.mode, d.color,
        d.created_at
   FROM danmaku d STRAIGHT_JOIN users u ON u.id = d.author_id
  WHERE d.video_id = ? AND d.at_ms >= ? AND d.at_ms < ?
    AND (d.at_ms > ? OR (d.at_ms = ? AND d.id > ?))
    AND EXISTS (SELECT 1 FROM video_info v WHERE v.id = ? AND ",
    svc::visible_to!("v"),
    ")
  ORDER BY d.at_ms, d.id LIMIT ?"
);

/// Up to `limit` danmaku of the video with `from_ms <= at_ms < to_ms` after `after`, in
/// timeline order `(at_ms, id)`, if `viewer_id` (0: signed out) may see the video; otherwise
/// none. An empty answer is ambiguous (nothing there, or no visible video): the caller checks
/// the video then.
pub async fn window<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    viewer_id: u32,
    from_ms: u32,
    to_ms: u32,
    after: Option<After>,
    limit: u32,
) -> Result<Vec<DanmakuRow>, mysql_async::Error> {
    // Without `after`, a position just before the window, `(from_ms - 1, 0)`: the window's own
    // `at_ms >= from_ms` then decides alone.
    let (at, id) = match after {
        Some(a) => (i64::from(a.at_ms), a.id),
        None => (i64::from(from_ms) - 1, 0),
    };
    let rows: Vec<Row> = conn
        .exec(
            WINDOW,
            (
                video_id.as_str(),
                from_ms,
                to_ms,
                at,
                at,
                id,
                video_id.as_str(),
                viewer_id,
                limit,
            ),
        )
        .await?;
    rows.into_iter().map(DanmakuRow::from_row).collect()
}

pub async fn delete<Q: Queryable>(conn: &mut Q, id: u64) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM danmaku WHERE id = ?", (id,))
        .await
}
