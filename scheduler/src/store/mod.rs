//! SQL for the tables the scheduler reads and writes, one module per table. Functions take a
//! connection (or a pool where they own a transaction) so callers can compose them; no business
//! decisions live here.

pub mod jobs;
pub mod uploads;
pub mod videos;

/// Placeholders `?, ?, ?` for an `IN (...)` list of `n` values (`n` > 0).
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
