//! The scheduler's side of the `uploads` table (tus state written by the streamserver): finding
//! the expired never-finished uploads and the rows that own `uploads/<id>` objects, and deleting
//! rows once their bytes are gone. (A deleted video's uploads are found by
//! `videos::deletion_view`, in the same query as the video's own row.)

use std::collections::HashSet;

use mysql_async::prelude::Queryable;

use super::placeholders;

/// An upload and what its bytes are in storage: the storage token the streamserver recorded
/// (`svc::storage::Token`; `None` on the local backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadBytes {
    pub id: String,
    pub token: Option<String>,
}

/// Up to `limit` uploads past their expiry that never completed.
pub async fn expired<Q: Queryable>(
    conn: &mut Q,
    limit: usize,
) -> Result<Vec<UploadBytes>, mysql_async::Error> {
    let rows: Vec<(String, Option<String>)> = conn
        .exec(
            "SELECT id, storage_token FROM uploads
             WHERE expires_at < UTC_TIMESTAMP(6) AND completed_at IS NULL
             ORDER BY expires_at LIMIT ?",
            (limit as u64,),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, token)| UploadBytes { id, token })
        .collect())
}

/// Deletes the rows `ids`.
pub async fn delete<Q: Queryable>(conn: &mut Q, ids: &[String]) -> Result<(), mysql_async::Error> {
    for chunk in ids.chunks(500) {
        let sql = format!(
            "DELETE FROM uploads WHERE id IN ({})",
            placeholders(chunk.len())
        );
        conn.exec_drop(sql, chunk.to_vec()).await?;
    }
    Ok(())
}

/// Which of `ids` have an `uploads` row.
pub async fn existing<Q: Queryable>(
    conn: &mut Q,
    ids: &[String],
) -> Result<HashSet<String>, mysql_async::Error> {
    super::existing_ids(conn, "uploads", ids).await
}
