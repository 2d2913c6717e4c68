//! The `video_info` table as the api uses it: create a pending video, read one, edit its name,
//! description and visibility, list an author's videos and the public feed newest first by
//! keyset, search, and delete one (inside the caller's transaction). The upload and processing
//! columns are written by streamserver and scheduler; a video's ladder rungs are in
//! `video_renditions` (`store::renditions`).
//!
//! Who sees what is `svc::video::visible` and its SQL spellings `svc::visible_to!` and
//! `svc::listed!`, spliced into the statements here; no statement spells the rule itself.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};
use svc::{VideoId, VideoState, Visibility};

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
    pub visibility: Visibility,
    pub description: String,
    /// Percent of the transcode running now; `None` when none runs.
    pub processing_progress: Option<u8>,
    /// The uploader's file name (shown to the owner only).
    pub original_name: Option<String>,
    /// Whether processing published the storyboard.
    pub has_storyboard: bool,
}

impl VideoRow {
    /// Whether `viewer_id` (0: signed out) may see the video, by the one rule.
    pub fn visible_to(&self, viewer_id: u32) -> bool {
        svc::video::visible(self.author_id == viewer_id, self.state, self.visibility)
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
            visibility: take_word(&mut row, 14, "visibility", Visibility::parse)?,
            description: take(&mut row, 15)?,
            processing_progress: take(&mut row, 16)?,
            original_name: take(&mut row, 17)?,
            has_storyboard: take(&mut row, 18)?,
        })
    }
}

/// Takes a `state` column.
fn take_state(row: &mut Row, idx: usize) -> Result<VideoState, mysql_async::Error> {
    take_word(row, idx, "state", VideoState::parse)
}

/// Takes an ENUM column of the words this build knows (`state`, `visibility`); a spelling it
/// does not know (a newer build's) is an error like any undecodable row, never a guess.
fn take_word<T>(
    row: &mut Row,
    idx: usize,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, mysql_async::Error> {
    let raw: String = take(row, idx)?;
    parse(&raw).ok_or_else(|| {
        mysql_async::Error::Other(
            format!("video_info.{column} {raw:?} is not a known {column}").into(),
        )
    })
}

/// The columns `VideoRow::from_row` reads, after `id, author_id, <author name>`.
macro_rules! video_columns {
    () => {
        "v.name, v.display_ctime, v.create_time, v.state, v.size, v.duration_ms, v.width,
         v.height, v.content_type, v.has_thumbnail, v.failure_reason, v.visibility,
         v.description, v.processing_progress, v.original_name, v.has_storyboard"
    };
}

const FIND: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    " FROM video_info v JOIN users u ON u.id = v.author_id WHERE v.id = ?"
);

// One author's list needs no join: the caller knows the author's name and passes it as the
// first parameter, which saves a users lookup per row on the busiest route. The owner (second
// `?`: whether the viewer is the author) sees every video; anyone else what is listed.
// Served by `ix_video_author_time (author_id, create_time, id)`.
const LIST: &str = concat!(
    "SELECT v.id, v.author_id, ?, ",
    video_columns!(),
    " FROM video_info v WHERE v.author_id = ? AND (? OR ",
    svc::listed!("v"),
    ")"
);

// The public feed, served by `ix_video_visibility_time (visibility, create_time, id)`: the
// public rows newest first, the few unplayable ones among them skipped. STRAIGHT_JOIN: the
// listed table drives, as in the comment lists.
const FEED: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    " FROM video_info v STRAIGHT_JOIN users u ON u.id = v.author_id WHERE ",
    svc::listed!("v")
);

// Search: the full-text index finds the rows whose `search_text` holds every term (the BOOLEAN
// MODE expression of `crate::search::boolean_query`, bound twice), of which the listed ones are
// shown, best match first; equal scores newest first, so that the order is total and an offset
// names one position.
const SEARCH: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    ", MATCH (v.search_text) AGAINST (? IN BOOLEAN MODE) AS score
       FROM video_info v STRAIGHT_JOIN users u ON u.id = v.author_id
      WHERE MATCH (v.search_text) AGAINST (? IN BOOLEAN MODE) AND ",
    svc::listed!("v"),
    " ORDER BY score DESC, v.create_time DESC, v.id DESC LIMIT ? OFFSET ?"
);

/// What a new video is made of; `search_text` is `crate::search::index_text` of the name and
/// description.
pub struct NewVideo<'a> {
    pub id: &'a VideoId,
    pub author_id: u32,
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: Visibility,
    pub search_text: &'a str,
}

/// Inserts a `pending` video. `display_ctime` keeps the original's format
/// (`Apr 23 2019, 11:25:47`), in UTC, from the same clock reading as `create_time`.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    v: &NewVideo<'_>,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO video_info
                (id, author_id, name, description, visibility, search_text, display_ctime,
                 create_time)
         VALUES (?, ?, ?, ?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(6), '%b %d %Y, %H:%i:%s'),
                 UTC_TIMESTAMP(6))",
        (
            v.id.as_str(),
            v.author_id,
            v.name,
            v.description,
            v.visibility.as_str(),
            v.search_text,
        ),
    )
    .await
}

/// The editable text of a video (its author, name and description), locking the row until the
/// transaction ends so that two edits, or an edit and a delete, do not interleave.
pub async fn lock_text<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<(u32, String, String)>, mysql_async::Error> {
    conn.exec_first(
        "SELECT author_id, name, description FROM video_info WHERE id = ? FOR UPDATE",
        (id.as_str(),),
    )
    .await
}

/// Writes an edit: the name and description (whole, as they are after the edit), with the
/// `search_text` made from them, and the visibility when it changes.
pub async fn update<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
    name: &str,
    description: &str,
    visibility: Option<Visibility>,
    search_text: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info
            SET name = ?, description = ?, search_text = ?,
                visibility = COALESCE(?, visibility)
          WHERE id = ?",
        (
            name,
            description,
            search_text,
            visibility.map(Visibility::as_str),
            id.as_str(),
        ),
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

/// Who owns the video, its state and its visibility, without the rest of the row: the check
/// the comment routes make before their own query.
pub async fn access<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<(u32, VideoState, Visibility)>, mysql_async::Error> {
    let row: Option<Row> = conn
        .exec_first(
            "SELECT author_id, state, visibility FROM video_info WHERE id = ?",
            (id.as_str(),),
        )
        .await?;
    row.map(|mut row| {
        Ok((
            take(&mut row, 0)?,
            take_state(&mut row, 1)?,
            take_word(&mut row, 2, "visibility", Visibility::parse)?,
        ))
    })
    .transpose()
}

/// Up to `limit` of the author's videos older than `before`, newest first by
/// `(create_time, id)`: every one of them when `is_owner`, else the listed ones.
pub async fn list<Q: Queryable>(
    conn: &mut Q,
    author_id: u32,
    author: &str,
    is_owner: bool,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let params = vec![author.into(), author_id.into(), is_owner.into()];
    newest_first(conn, LIST, params, before, limit).await
}

/// Up to `limit` listed videos of every author older than `before`, newest first: the public
/// feed.
pub async fn feed<Q: Queryable>(
    conn: &mut Q,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    newest_first(conn, FEED, vec![], before, limit).await
}

/// One keyset page of `select` (a statement ending in its `WHERE` conditions, whose parameters
/// are `params`): the rows older than `before`, newest first by `(create_time, id)`.
async fn newest_first<Q: Queryable>(
    conn: &mut Q,
    select: &str,
    mut params: Vec<Value>,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let after = match before {
        None => "",
        Some(c) => {
            params.extend([
                c.time.as_str().into(),
                c.time.as_str().into(),
                c.id.as_str().into(),
            ]);
            " AND (v.create_time < ? OR (v.create_time = ? AND v.id < ?))"
        }
    };
    params.push(limit.into());
    let sql = format!("{select}{after} ORDER BY v.create_time DESC, v.id DESC LIMIT ?");
    let rows: Vec<Row> = conn.exec(sql, params).await?;
    rows.into_iter().map(VideoRow::from_row).collect()
}

/// Up to `limit` listed videos matching `expression` (a BOOLEAN MODE expression made by
/// `crate::search::boolean_query`), best match first, after skipping `offset` of them.
pub async fn search<Q: Queryable>(
    conn: &mut Q,
    expression: &str,
    offset: u32,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let rows: Vec<Row> = conn
        .exec(SEARCH, (expression, expression, limit, offset))
        .await?;
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
