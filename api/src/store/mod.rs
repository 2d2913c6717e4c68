//! SQL, one module per table. Functions take any `Queryable` (a pooled connection or a
//! transaction) so handlers can compose them; they know nothing of HTTP.
//!
//! Times are written with `UTC_TIMESTAMP(6)` and read back as RFC 3339 strings formatted by the
//! database, so no clock but the database's decides an order.

pub mod comments;
pub mod sessions;
pub mod users;
pub mod videos;

use mysql_async::prelude::FromValue;
use mysql_async::Row;

/// `DATE_FORMAT` pattern turning a `DATETIME(6)` into RFC 3339 UTC (`2026-01-02T03:04:05.123456Z`).
pub const RFC3339: &str = "%Y-%m-%dT%H:%i:%s.%fZ";

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
