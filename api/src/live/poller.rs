//! The one task per api process that reads new `live_events` rows and hands them to the hub.
//!
//! Each round reads the rows after the hub's cursor in id order (a range of the primary key) and
//! delivers them while their ids follow on from the cursor. An id that is missing may belong to a
//! transaction that has taken it but not committed yet, and would then become visible after
//! later ones: the round stops there and the next rounds wait for it up to [`GAP_WAIT`], after
//! which the id is taken for a rolled-back insert and skipped. A row of a kind this build does
//! not know (a newer node wrote it) is passed over like a delivered one, so it never holds the
//! rows after it back. A full batch is followed at once by the next; otherwise the task sleeps
//! `LIVE_POLL_INTERVAL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Pool;

use super::{sse, Gone, Hub, GAP_WAIT};
use crate::store;

/// Rows read per round.
const BATCH: u32 = 500;

/// The longest wait between rounds while the database fails.
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// Where a round left off.
#[derive(Debug, Default)]
struct Gap {
    /// When the round first found the id after the cursor missing.
    since: Option<Instant>,
}

/// Runs until the hub closes. A database error is logged and the round retried after twice the
/// last wait (up to [`MOST_BACKOFF`]) while it lasts; the cursor stays, so nothing is skipped.
pub async fn run(hub: Arc<Hub>, pool: Pool) {
    let closing = hub.closing();
    let interval = hub.settings.poll_interval;
    let mut gap = Gap::default();
    let mut wait = interval;
    loop {
        let more = match round(&hub, &pool, &mut gap).await {
            Ok(more) => {
                wait = interval;
                more
            }
            Err(e) => {
                wait = (wait * 2).min(MOST_BACKOFF).max(interval);
                tracing::warn!(error = %e, retry_in = ?wait, "live events: reading failed");
                false
            }
        };
        if closing.is_cancelled() {
            return;
        }
        if !more {
            tokio::select! {
                _ = closing.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// One round; `true` when a full batch was delivered and more may be waiting.
async fn round(hub: &Hub, pool: &Pool, gap: &mut Gap) -> Result<bool, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let rows = store::live::after(&mut conn, hub.cursor(), BATCH).await?;
    drop(conn);
    let full = rows.len() == BATCH as usize;
    for row in rows {
        let expected = hub.cursor() + hub.step;
        if row.id > expected {
            let since = *gap.since.get_or_insert_with(Instant::now);
            if since.elapsed() < GAP_WAIT {
                return Ok(false);
            }
            tracing::debug!(
                missing_from = expected,
                next = row.id,
                "live events: gap given up"
            );
            metrics::counter!("api_live_gaps_skipped_total").increment(1);
        }
        gap.since = None;
        match row.event {
            Some(e) => hub.deliver(
                e.id,
                &e.video_id,
                sse::event(e.id, e.kind.as_str(), &e.payload),
                Gone::of_event(&e),
            ),
            None => hub.pass(row.id),
        }
    }
    Ok(full)
}
