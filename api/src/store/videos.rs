//! The `video_info` table as the api uses it: create a pending video, read one, edit its name,
//! description and visibility, list an author's videos and the public feed newest first by
//! keyset, walk the search index for a page of results, find the videos the search index has
//! not caught up with, and delete one (inside the caller's transaction). The upload and processing
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
use crate::search::{self, Plan, Tier};

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
    /// How many users have it among their favourites (`store::favorites` keeps it).
    pub favorite_count: u64,
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

    /// The row of a statement that selects `id, author_id, <author name>, video_columns!()`
    /// (other modules' lists too); columns after [`ROW_COLUMNS`] are left alone.
    pub(crate) fn from_row(mut row: Row) -> Result<Self, mysql_async::Error> {
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
            favorite_count: take(&mut row, 19)?,
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
         v.description, v.processing_progress, v.original_name, v.has_storyboard,
         v.favorite_count"
    };
}
pub(crate) use video_columns;

/// How many columns `VideoRow::from_row` reads: a statement's own columns come after them.
pub const ROW_COLUMNS: usize = 20;

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

/// What a new video is made of.
pub struct NewVideo<'a> {
    pub id: &'a VideoId,
    pub author_id: u32,
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: Visibility,
}

/// Inserts a `pending` video. `display_ctime` keeps the original's format
/// (`Apr 23 2019, 11:25:47`), in UTC, from the same clock reading as `create_time`. The caller
/// writes its postings (`store::search::insert`) in the same transaction, hence the current
/// `search_version`.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    v: &NewVideo<'_>,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO video_info
                (id, author_id, name, description, visibility, search_version, display_ctime,
                 create_time)
         VALUES (?, ?, ?, ?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(6), '%b %d %Y, %H:%i:%s'),
                 UTC_TIMESTAMP(6))",
        (
            v.id.as_str(),
            v.author_id,
            v.name,
            v.description,
            v.visibility.as_str(),
            search::VERSION,
        ),
    )
    .await
}

/// The editable text of a video and what indexed it.
pub struct VideoText {
    pub author_id: u32,
    pub name: String,
    pub description: String,
    /// The tokeniser version of its postings (`search::VERSION`; 0: none).
    pub search_version: u8,
}

/// The editable text of a video, locking the row until the transaction ends so that two
/// edits, or an edit and a delete, do not interleave.
pub async fn lock_text<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
) -> Result<Option<VideoText>, mysql_async::Error> {
    let row: Option<(u32, String, String, u8)> = conn
        .exec_first(
            "SELECT author_id, name, description, search_version FROM video_info
              WHERE id = ? FOR UPDATE",
            (id.as_str(),),
        )
        .await?;
    Ok(
        row.map(|(author_id, name, description, search_version)| VideoText {
            author_id,
            name,
            description,
            search_version,
        }),
    )
}

/// Writes an edit: the name and description (whole, as they are after the edit) and the
/// visibility when it changes. The caller has written the postings of that text in the same
/// transaction (or they were current already), hence the current `search_version`.
pub async fn update<Q: Queryable>(
    conn: &mut Q,
    id: &VideoId,
    name: &str,
    description: &str,
    visibility: Option<Visibility>,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE video_info
            SET name = ?, description = ?, search_version = ?,
                visibility = COALESCE(?, visibility)
          WHERE id = ?",
        (
            name,
            description,
            search::VERSION,
            visibility.map(Visibility::as_str),
            id.as_str(),
        ),
    )
    .await
}

/// A video whose postings an older tokeniser wrote, or none did.
pub struct Unindexed {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `create_time` as MySQL writes it, for the postings.
    pub create_time: String,
}

/// Up to `batch` videos below search `version`, locked until the transaction ends. Rows another
/// transaction holds (an edit, another api's indexer) are skipped, not waited for: two indexers
/// take different rows, and an edit writes the postings itself. Served by
/// `ix_video_search_version`.
pub async fn lock_unindexed<Q: Queryable>(
    conn: &mut Q,
    version: u8,
    batch: u32,
) -> Result<Vec<Unindexed>, mysql_async::Error> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT id, name, description, create_time FROM video_info
              WHERE search_version < ? LIMIT ? FOR UPDATE SKIP LOCKED",
            (version, batch),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            Ok(Unindexed {
                id: take(&mut row, 0)?,
                name: take(&mut row, 1)?,
                description: take(&mut row, 2)?,
                create_time: take_time(&mut row, 3)?.key,
            })
        })
        .collect()
}

/// How many videos are below search `version`.
pub async fn count_unindexed<Q: Queryable>(
    conn: &mut Q,
    version: u8,
) -> Result<u64, mysql_async::Error> {
    let n: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM video_info WHERE search_version < ?",
            (version,),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Records that `ids` are indexed by tokeniser `version`.
pub async fn set_search_version<Q: Queryable>(
    conn: &mut Q,
    ids: &[&str],
    version: u8,
) -> Result<(), mysql_async::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE video_info SET search_version = ? WHERE id IN ({})",
        super::search::placeholders(ids.len(), "?")
    );
    let mut params: Vec<Value> = vec![version.into()];
    params.extend(ids.iter().map(|&id| Value::from(id)));
    conn.exec_drop(sql, params).await
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

/// Up to `limit` listed videos of `tier` matching `plan`, after `after` (a position in that
/// tier) if given, newest first.
///
/// One statement: sub-walks along the walked term's postings, newest first, each stopping after
/// `limit` videos that pass: every other term present (in the title, for the first tier), by a
/// primary-key lookup per candidate, rarest term first; for the second tier, not every term in
/// the title; and listed. The first tier walks the title postings; the second the title ones
/// (when some other term has description-only postings) and the description ones (when the
/// walked term has). Their union is joined to the rows. A page therefore reads about `limit`
/// postings when most candidates match, at most the walked term's when few do, and never sorts
/// more than the sub-walks returned.
pub async fn search<Q: Queryable>(
    conn: &mut Q,
    plan: &Plan,
    tier: Tier,
    after: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let walks: Vec<bool> = match tier {
        Tier::Title => vec![true],
        Tier::Anywhere => [
            (true, plan.others_in_descriptions),
            (false, plan.walk_in_descriptions),
        ]
        .into_iter()
        .filter(|&(_, may_match)| may_match)
        .map(|(in_title, _)| in_title)
        .collect(),
    };
    if walks.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Statement::default();
    q.push(concat!(
        "SELECT v.id, v.author_id, u.login_name, ",
        video_columns!(),
        " FROM ("
    ));
    for (i, &in_title) in walks.iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        sub_walk(&mut q, plan, tier, in_title, after, limit);
    }
    q.push(
        ") m STRAIGHT_JOIN video_info v ON v.id = m.video_id
             STRAIGHT_JOIN users u ON u.id = v.author_id
       ORDER BY m.create_time DESC, m.video_id DESC LIMIT ?",
    );
    q.bind(limit);
    let rows: Vec<Row> = conn.exec(q.sql, q.params).await?;
    rows.into_iter().map(VideoRow::from_row).collect()
}

/// SQL text and its parameters, built together so that every `?` gets its value in order.
#[derive(Default)]
struct Statement {
    sql: String,
    params: Vec<Value>,
}

impl Statement {
    fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// The value of the next `?` (the last one pushed so far).
    fn bind(&mut self, value: impl Into<Value>) {
        self.params.push(value.into());
    }
}

/// One sub-walk: the walked term's postings with this `in_title`, newest first, after `after`,
/// keeping the listed videos of `tier` that hold every other term.
///
/// Whether a candidate holds a term is a lookup of the whole primary key `(term, in_title,
/// create_time, video_id)`, whose last two the walked posting carries: all lookups of one term
/// fall in the few index pages that term occupies, which stay in memory. The first tier needs
/// the title posting; the second either (two outer joins, at most one of which finds a row,
/// since a video has one posting per term). `STRAIGHT_JOIN` keeps the walk first (its index
/// order is the result's order, so the `LIMIT` stops it) and `video_info` last, read only for
/// candidates that hold every term.
fn sub_walk(
    q: &mut Statement,
    plan: &Plan,
    tier: Tier,
    in_title: bool,
    after: Option<&Cursor>,
    limit: u32,
) {
    let posting = |alias: &str, title: bool| {
        format!(
            "search_postings {alias} ON {alias}.term = ? AND {alias}.in_title = {}
                AND {alias}.create_time = p.create_time AND {alias}.video_id = p.video_id",
            u8::from(title)
        )
    };
    q.push("(SELECT p.video_id, p.create_time FROM search_postings p");
    for (i, term) in plan.others.iter().enumerate() {
        match tier {
            Tier::Title => {
                q.push(&format!(
                    " STRAIGHT_JOIN {}",
                    posting(&format!("t{i}"), true)
                ));
                q.bind(term.as_str());
            }
            Tier::Anywhere => {
                q.push(&format!(" LEFT JOIN {}", posting(&format!("t{i}"), true)));
                q.bind(term.as_str());
                q.push(&format!(" LEFT JOIN {}", posting(&format!("d{i}"), false)));
                q.bind(term.as_str());
            }
        }
    }
    q.push(" STRAIGHT_JOIN video_info v ON v.id = p.video_id WHERE p.term = ?");
    q.bind(plan.walk.as_str());
    q.push(&format!(" AND p.in_title = {}", u8::from(in_title)));
    if let Some(c) = after {
        q.push(" AND (p.create_time < ? OR (p.create_time = ? AND p.video_id < ?))");
        q.bind(c.time.as_str());
        q.bind(c.time.as_str());
        q.bind(c.id.as_str());
    }
    if tier == Tier::Anywhere {
        for i in 0..plan.others.len() {
            q.push(&format!(
                " AND (t{i}.video_id IS NOT NULL OR d{i}.video_id IS NOT NULL)"
            ));
        }
        // Through a title posting, some other term must be only in the description. (Through
        // a description posting the walked term itself is not in the title.)
        if in_title {
            let titles: Vec<String> = (0..plan.others.len())
                .map(|i| format!("t{i}.video_id IS NOT NULL"))
                .collect();
            q.push(&format!(" AND NOT ({})", titles.join(" AND ")));
        }
    }
    q.push(concat!(" AND ", svc::listed!("v")));
    q.push(" ORDER BY p.create_time DESC, p.video_id DESC LIMIT ?)");
    q.bind(limit);
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
