//! The `users` table: registration, lookup by name, and the counts the user page shows (videos,
//! followers, followed channels).

use mysql_async::prelude::Queryable;

/// A stored user, with the password hash needed to check a login.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: u32,
    pub login_name: String,
    pub pwd_hash: String,
}

/// Inserts a user and returns its id. A taken name fails with MySQL error 1062, which the
/// caller turns into 409.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    login_name: &str,
    pwd_hash: &str,
) -> Result<u32, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "INSERT INTO users (login_name, pwd_hash, created_at) VALUES (?, ?, UTC_TIMESTAMP(3))",
            (login_name, pwd_hash),
        )
        .await?;
    let id = result.last_insert_id();
    result.drop_result().await?;
    let id = id.ok_or_else(|| mysql_async::Error::Other("INSERT gave no id".into()))?;
    u32::try_from(id).map_err(|_| mysql_async::Error::Other("user id out of range".into()))
}

pub async fn find_by_name<Q: Queryable>(
    conn: &mut Q,
    login_name: &str,
) -> Result<Option<UserRow>, mysql_async::Error> {
    let row: Option<(u32, String, String)> = conn
        .exec_first(
            "SELECT id, login_name, pwd_hash FROM users WHERE login_name = ?",
            (login_name,),
        )
        .await?;
    Ok(row.map(|(id, login_name, pwd_hash)| UserRow {
        id,
        login_name,
        pwd_hash,
    }))
}

// The video count is of what the viewer finds in the user's list (`store::videos::list`): all
// of them for the owner, the listed ones for anyone else (unlisted videos are watchable by link
// but are not in the list, so they are not counted either). The follow counts are index-only
// range counts of `follows` (`ix_follows_followee`, the primary key).
const PROFILE: &str = concat!(
    "SELECT u.id,
            (SELECT COUNT(*) FROM video_info v
              WHERE v.author_id = u.id AND (u.id = ? OR ",
    svc::listed!("v"),
    ")),
            (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id),
            (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id)
       FROM users u WHERE u.login_name = ?"
);

/// What the user page counts.
pub struct Profile {
    pub id: u32,
    /// How many of their videos the viewer finds in their list.
    pub videos: u64,
    /// How many users follow them.
    pub followers: u64,
    /// How many channels they follow.
    pub following: u64,
}

/// A user's id and counts: how many of their videos `viewer_id` (0: signed out) finds in their
/// list (all of them when they are the viewer's own, else the listed ones), their followers and
/// whom they follow.
pub async fn profile<Q: Queryable>(
    conn: &mut Q,
    login_name: &str,
    viewer_id: u32,
) -> Result<Option<Profile>, mysql_async::Error> {
    let row: Option<(u32, u64, u64, u64)> =
        conn.exec_first(PROFILE, (viewer_id, login_name)).await?;
    Ok(row.map(|(id, videos, followers, following)| Profile {
        id,
        videos,
        followers,
        following,
    }))
}
