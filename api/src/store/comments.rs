//! The `comments` table: add, read, list a video's comments newest first by keyset, delete.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use svc::VideoId;

use super::{take, take_time};
use crate::domain::{CommentId, Cursor};

#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: String,
    pub video_id: String,
    pub author_id: u32,
    pub author: String,
    pub content: String,
    /// RFC 3339 UTC.
    pub time: String,
    /// `time` as MySQL prints a `DATETIME(6)`, for the page cursor.
    pub time_key: String,
}

impl CommentRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            time: self.time_key.clone(),
            id: self.id.clone(),
        }
    }

    fn from_row(mut row: Row) -> Result<Self, mysql_async::Error> {
        let time = take_time(&mut row, 5)?;
        Ok(CommentRow {
            id: take(&mut row, 0)?,
            video_id: take(&mut row, 1)?,
            author_id: take(&mut row, 2)?,
            author: take(&mut row, 3)?,
            content: take(&mut row, 4)?,
            time: time.rfc3339,
            time_key: time.key,
        })
    }
}

// STRAIGHT_JOIN everywhere here: left to itself, with few users the optimizer drives from
// `users` through the author index, then sorts every row of that author in a temporary table on
// disk (TEXT columns): measured at a third of the throughput on the list.
const SELECT: &str = "SELECT c.id, c.video_id, c.author_id, u.login_name, c.content, c.time
   FROM comments c STRAIGHT_JOIN users u ON u.id = c.author_id";

pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    id: &CommentId,
    video_id: &VideoId,
    author_id: u32,
    content: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO comments (id, video_id, author_id, content, time)
         VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))",
        (id.as_str(), video_id.as_str(), author_id, content),
    )
    .await
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    id: &CommentId,
) -> Result<Option<CommentRow>, mysql_async::Error> {
    let row: Option<Row> = conn
        .exec_first(format!("{SELECT} WHERE c.id = ?"), (id.as_str(),))
        .await?;
    row.map(CommentRow::from_row).transpose()
}

// A page of a video's comments together with the video's visibility check, in one statement.
// The check is an uncorrelated EXISTS, evaluated once; the plan stays the plain list's: comments
// newest first straight from `ix_comments_video_time (video_id, time, id)`, each author by
// primary key. (Joining `video_info` first instead made MariaDB sort on disk for some executions.)
const PAGE: &str = concat!(
    "SELECT c.id, c.video_id, c.author_id, u.login_name, c.content, c.time
   FROM comments c STRAIGHT_JOIN users u ON u.id = c.author_id
  WHERE c.video_id = ?
    AND EXISTS (SELECT 1 FROM video_info v WHERE v.id = ? AND ",
    svc::visible_to!("v"),
    ")"
);

/// Up to `limit` comments of the video older than `before`, newest first by `(time, id)`, if
/// `viewer_id` (0: signed out) may see the video; otherwise none. An empty answer is ambiguous
/// (no comments, or no visible video): the caller checks the video then.
pub async fn page<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    viewer_id: u32,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<CommentRow>, mysql_async::Error> {
    let video_id = video_id.as_str();
    let rows: Vec<Row> = match before {
        None => {
            conn.exec(
                format!("{PAGE} ORDER BY c.time DESC, c.id DESC LIMIT ?"),
                (video_id, video_id, viewer_id, limit),
            )
            .await?
        }
        Some(cur) => {
            conn.exec(
                format!(
                    "{PAGE} AND (c.time < ? OR (c.time = ? AND c.id < ?))
                     ORDER BY c.time DESC, c.id DESC LIMIT ?"
                ),
                (
                    video_id, video_id, viewer_id, &cur.time, &cur.time, &cur.id, limit,
                ),
            )
            .await?
        }
    };
    rows.into_iter().map(CommentRow::from_row).collect()
}

pub async fn delete<Q: Queryable>(conn: &mut Q, id: &CommentId) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM comments WHERE id = ?", (id.as_str(),))
        .await
}
