//! SQL for the tables the scheduler reads and writes, one module per table. Functions take a
//! connection (or a pool where they own a transaction) so callers can compose them; no business
//! decisions live here.

use std::collections::HashSet;

use mysql_async::prelude::Queryable;

pub mod jobs;
pub mod renditions;
pub mod uploads;
pub mod videos;

/// Runs `sql` and returns how many rows it changed, on any `Queryable` (a connection or a
/// transaction).
pub(crate) async fn exec_affected<Q, P>(
    conn: &mut Q,
    sql: &str,
    params: P,
) -> Result<u64, mysql_async::Error>
where
    Q: Queryable,
    P: Into<mysql_async::Params> + Send,
{
    let result = conn.exec_iter(sql, params).await?;
    let changed = result.affected_rows();
    result.drop_result().await?;
    Ok(changed)
}

/// Placeholders `?, ?, ?` for an `IN (...)` list of `n` values (`n` > 0).
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Which of `ids` are the `id` of a row of `table` (one of this crate's own table names, never
/// client input), asked 500 at a time to keep each statement small.
async fn existing_ids<Q: Queryable>(
    conn: &mut Q,
    table: &'static str,
    ids: &[impl AsRef<str>],
) -> Result<HashSet<String>, mysql_async::Error> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT id FROM {table} WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let params: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
        let rows: Vec<String> = conn.exec(sql, params).await?;
        found.extend(rows);
    }
    Ok(found)
}
