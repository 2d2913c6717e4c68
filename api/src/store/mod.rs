//! SQL, one module per table. Functions take any `Queryable` (a pooled connection or a
//! transaction) so handlers can compose them; they know nothing of HTTP.
//!
//! Times are written with `UTC_TIMESTAMP(6)` (no clock but the database's decides an order) and
//! read back as `DATETIME(6)` values, formatted here.

pub mod comments;
pub mod danmaku;
pub mod favorites;
pub mod follows;
pub mod live;
pub mod renditions;
pub mod search;
pub mod sessions;
pub mod users;
pub mod videos;

use mysql_async::prelude::FromValue;
use mysql_async::{Row, Value};

/// A stored UTC time in the two forms the api needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339 UTC with microseconds (`2026-01-02T03:04:05.123456Z`), for clients.
    pub rfc3339: String,
    /// As MySQL writes a `DATETIME(6)` (`2026-01-02 03:04:05.123456`), for page cursors.
    pub key: String,
}

impl Stamp {
    fn from_value(v: Value) -> Option<Self> {
        let Value::Date(y, mo, d, h, mi, s, us) = v else {
            return None;
        };
        let date = format!("{y:04}-{mo:02}-{d:02}");
        let time = format!("{h:02}:{mi:02}:{s:02}.{us:06}");
        Some(Stamp {
            rfc3339: format!("{date}T{time}Z"),
            key: format!("{date} {time}"),
        })
    }
}

/// Takes a `DATETIME` column. Formatting here rather than with `DATE_FORMAT` in SQL keeps that
/// work off the database, which is the busier side of every list request.
pub fn take_time(row: &mut Row, idx: usize) -> Result<Stamp, mysql_async::Error> {
    let value: Value = take(row, idx)?;
    Stamp::from_value(value)
        .ok_or_else(|| mysql_async::Error::Other(format!("column {idx} is not a DATETIME").into()))
}

/// Runs a write and returns how many rows it changed (an idempotent `INSERT IGNORE` or
/// `DELETE` learns whether it did anything).
pub async fn changed<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    sql: &str,
    params: impl Into<mysql_async::Params> + Send,
) -> Result<u64, mysql_async::Error> {
    let result = conn.exec_iter(sql, params).await?;
    let n = result.affected_rows();
    result.drop_result().await?;
    Ok(n)
}

/// Takes column `idx` of `row`, turning a missing column or a type mismatch into an error rather
/// than a panic.
pub fn take<T: FromValue>(row: &mut Row, idx: usize) -> Result<T, mysql_async::Error> {
    match row.take_opt::<T, usize>(idx) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(mysql_async::Error::Other(
            format!("column {idx}: {e}").into(),
        )),
        None => Err(mysql_async::Error::Other(
            format!("column {idx} missing").into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_format_as_rfc3339_and_as_mysql_writes_them() {
        let s = Stamp::from_value(Value::Date(2026, 1, 2, 3, 4, 5, 67)).unwrap();
        assert_eq!(s.rfc3339, "2026-01-02T03:04:05.000067Z");
        assert_eq!(s.key, "2026-01-02 03:04:05.000067");
        assert!(Stamp::from_value(Value::NULL).is_none());
        assert!(Stamp::from_value(Value::Bytes(b"x".to_vec())).is_none());
    }
}
