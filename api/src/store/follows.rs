//! The `follows` table: follow and unfollow (idempotently), whether one user follows another, a
//! user's follower and following counts, and the feed of the channels a user follows.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::changed;
use super::videos::{video_columns, VideoRow};
use crate::domain::Cursor;

/// `follower` follows `followee` from now on; `true` when they did not yet. An unknown user
/// fails with MySQL error 1452 (a foreign key).
pub async fn add<Q: Queryable>(
    conn: &mut Q,
    follower: u32,
    followee: u32,
) -> Result<bool, mysql_async::Error> {
    Ok(changed(
        conn,
        "INSERT IGNORE INTO follows (follower_id, followee_id, created_at)
         VALUES (?, ?, UTC_TIMESTAMP(6))",
        (follower, followee),
    )
    .await?
        == 1)
}

/// `follower` stops following `followee`; `true` when they did.
pub async fn remove<Q: Queryable>(
    conn: &mut Q,
    follower: u32,
    followee: u32,
) -> Result<bool, mysql_async::Error> {
    Ok(changed(
        conn,
        "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
        (follower, followee),
    )
    .await?
        == 1)
}

/// Whether `follower` follows `followee`.
pub async fn has<Q: Queryable>(
    conn: &mut Q,
    follower: u32,
    followee: u32,
) -> Result<bool, mysql_async::Error> {
    let found: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?",
            (follower, followee),
        )
        .await?;
    Ok(found.is_some())
}

/// How many follow the user, and how many they follow: two index-only range counts
/// (`ix_follows_followee` and the primary key), whose cost grows with the counts.
pub async fn counts<Q: Queryable>(
    conn: &mut Q,
    user_id: u32,
) -> Result<(u64, u64), mysql_async::Error> {
    let row: Option<(u64, u64)> = conn
        .exec_first(
            "SELECT (SELECT COUNT(*) FROM follows WHERE followee_id = ?),
                    (SELECT COUNT(*) FROM follows WHERE follower_id = ?)",
            (user_id, user_id),
        )
        .await?;
    Ok(row.unwrap_or((0, 0)))
}

// The followed channels drive (the primary key from `follower_id`), each channel's videos come
// from `ix_video_author_time`, and the listed ones are sorted newest first. The sort reads every
// listed video of every followed channel older than the cursor: fine for following tens of
// channels of hundreds of videos (a few thousand rows); a much larger following would want a
// per-user inbox written when a video is published.
const FEED: &str = concat!(
    "SELECT v.id, v.author_id, u.login_name, ",
    video_columns!(),
    " FROM follows f STRAIGHT_JOIN video_info v ON v.author_id = f.followee_id
           STRAIGHT_JOIN users u ON u.id = v.author_id
     WHERE f.follower_id = ? AND ",
    svc::listed!("v")
);

/// Up to `limit` listed videos of the channels `follower` follows, older than `before`, newest
/// first by `(create_time, id)`.
pub async fn feed<Q: Queryable>(
    conn: &mut Q,
    follower: u32,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<Vec<VideoRow>, mysql_async::Error> {
    let mut params = vec![Value::from(follower)];
    let after = match before {
        None => "",
        Some(c) => {
            params.extend([
                Value::from(c.time.as_str()),
                Value::from(c.time.as_str()),
                Value::from(c.id.as_str()),
            ]);
            " AND (v.create_time < ? OR (v.create_time = ? AND v.id < ?))"
        }
    };
    params.push(limit.into());
    let sql = format!("{FEED}{after} ORDER BY v.create_time DESC, v.id DESC LIMIT ?");
    let rows: Vec<Row> = conn.exec(sql, params).await?;
    rows.into_iter().map(VideoRow::from_row).collect()
}
