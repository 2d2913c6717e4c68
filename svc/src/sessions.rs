//! Resolving a session id to its user, for the services that authenticate requests (api and
//! streamserver). Creating, renewing and revoking sessions is the api's business and lives there.

use std::time::Duration;

use mysql_async::prelude::Queryable;

/// The user a live session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: u32,
    pub user_name: String,
    /// How long the session had left when it was read (the api renews it when this runs low).
    pub expires_in: Duration,
}

/// The user behind `session_id`, or `None` when the id is unknown, malformed or expired.
pub async fn lookup<Q: Queryable>(
    conn: &mut Q,
    session_id: &str,
) -> Result<Option<SessionUser>, mysql_async::Error> {
    // Session ids are UUIDs; anything else cannot match, so skip the round trip.
    if uuid::Uuid::parse_str(session_id).is_err() {
        return Ok(None);
    }
    let row: Option<(u32, String, i64)> = conn
        .exec_first(
            "SELECT u.id, u.login_name, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), s.expires_at)
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.session_id = ? AND s.expires_at > UTC_TIMESTAMP(3)",
            (session_id,),
        )
        .await?;
    Ok(row.map(|(user_id, user_name, left)| SessionUser {
        user_id,
        user_name,
        expires_in: Duration::from_micros(left.max(0).unsigned_abs()),
    }))
}
