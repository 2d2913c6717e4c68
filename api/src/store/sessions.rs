//! The `sessions` table: create, read the time left, renew, revoke and sweep. Who a session
//! belongs to is read through `svc::sessions::lookup`, as streamserver reads it.

use std::time::Duration;

use mysql_async::prelude::Queryable;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    session_id: &str,
    user_id: u32,
    ttl: Duration,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO sessions (session_id, user_id, expires_at, created_at)
         VALUES (?, ?, UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, UTC_TIMESTAMP(3))",
        (session_id, user_id, micros(ttl)),
    )
    .await
}

/// Moves the expiry to `ttl` from now (sliding sessions). Only a still-live session is renewed:
/// one that expired or was revoked meanwhile stays gone.
pub async fn renew<Q: Queryable>(
    conn: &mut Q,
    session_id: &str,
    ttl: Duration,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND
          WHERE session_id = ? AND expires_at > UTC_TIMESTAMP(3)",
        (micros(ttl), session_id),
    )
    .await
}

/// Revokes one session (logout).
pub async fn delete<Q: Queryable>(
    conn: &mut Q,
    session_id: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        .await
}

/// Deletes up to `batch` expired sessions and returns how many went. Small batches keep each
/// statement's locks short; the sweeper loops until a batch comes back short.
pub async fn sweep_expired<Q: Queryable>(
    conn: &mut Q,
    batch: u32,
) -> Result<u64, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "DELETE FROM sessions WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT ?",
            (batch,),
        )
        .await?;
    let deleted = result.affected_rows();
    result.drop_result().await?;
    Ok(deleted)
}

/// Sessions not yet expired, for the `api_sessions_active` gauge.
pub async fn count_active<Q: Queryable>(conn: &mut Q) -> Result<u64, mysql_async::Error> {
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM sessions WHERE expires_at > UTC_TIMESTAMP(3)")
        .await?;
    Ok(n.unwrap_or(0))
}
