//! The two tables of the live fan-out (`crate::live`): `live_events`, the log of what a video's
//! live viewers are told, and `live_presence`, how many streams each api node holds per video.
//!
//! An event is written in the transaction of the change it tells of ([`publish`]); every node's
//! one poller reads the rows after the last id it delivered ([`after`]), and a reconnecting
//! stream reads its video's rows it missed ([`replay`]). Deciding when and for whom is
//! `crate::live`'s business, not this module's.
//!
//! A row of a kind this build does not know (written by a newer api node during a rolling
//! upgrade) is skipped by both reads, logged at debug and counted in
//! `api_live_events_unknown_total`: a later kind must never stall an older node's poller.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};
use svc::VideoId;

use super::{changed, take};

/// What an event tells: its SSE `event:` name, as stored in `live_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new danmaku (its object).
    Danmaku,
    /// A danmaku was deleted (`{"id"}`).
    DanmakuDelete,
    /// A new comment (its object).
    Comment,
    /// A comment was deleted (`{"id", "video_id"}`).
    CommentDelete,
    /// The video was deleted or made private (`{"reason"}`, `crate::live::Gone`); the streams
    /// of viewers who may no longer see it end after it.
    VideoGone,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Danmaku,
        EventKind::DanmakuDelete,
        EventKind::Comment,
        EventKind::CommentDelete,
        EventKind::VideoGone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Danmaku => "danmaku",
            EventKind::DanmakuDelete => "danmaku_delete",
            EventKind::Comment => "comment",
            EventKind::CommentDelete => "comment_delete",
            EventKind::VideoGone => "video_gone",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// One row of `live_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    pub video_id: String,
    pub kind: EventKind,
    /// The event's `data`: one line of JSON.
    pub payload: String,
}

/// A row as the poller reads it: its id always, so the poller moves past it, and its event when
/// this build knows the row's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub id: u64,
    pub event: Option<Event>,
}

impl Event {
    /// The row's id, and its event unless its kind is unknown to this build (a newer node wrote
    /// it): that one is logged at debug and counted, not an error, so the reader skips it.
    fn from_row(mut row: Row) -> Result<Logged, mysql_async::Error> {
        let id: u64 = take(&mut row, 0)?;
        let kind: String = take(&mut row, 2)?;
        let Some(kind) = EventKind::parse(&kind) else {
            tracing::debug!(id, %kind, "live events: a kind this node does not know; skipped");
            metrics::counter!(UNKNOWN_KINDS).increment(1);
            return Ok(Logged { id, event: None });
        };
        let event = Event {
            id,
            video_id: take(&mut row, 1)?,
            kind,
            payload: take(&mut row, 3)?,
        };
        Ok(Logged {
            id,
            event: Some(event),
        })
    }
}

/// The counter of rows skipped for their unknown kind.
pub const UNKNOWN_KINDS: &str = "api_live_events_unknown_total";

/// Records an event of `video_id` for its live viewers. Called inside the transaction of the
/// change, so the event exists exactly when the change does.
pub async fn publish<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    kind: EventKind,
    payload: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO live_events (video_id, kind, payload, created_at)
         VALUES (?, ?, ?, UTC_TIMESTAMP(6))",
        (video_id.as_str(), kind.as_str(), payload),
    )
    .await
}

/// The newest event id (0 when there is none): where a poller starts.
pub async fn last_id<Q: Queryable>(conn: &mut Q) -> Result<u64, mysql_async::Error> {
    let id: Option<Option<u64>> = conn.query_first("SELECT MAX(id) FROM live_events").await?;
    Ok(id.flatten().unwrap_or(0))
}

/// The step between consecutive auto-increment ids (1 unless the server is set up for
/// multi-primary replication), so the poller can tell a gap from the next id.
pub async fn id_step<Q: Queryable>(conn: &mut Q) -> Result<u64, mysql_async::Error> {
    let step: Option<u64> = conn
        .query_first("SELECT @@auto_increment_increment")
        .await?;
    Ok(step.unwrap_or(1).max(1))
}

/// Up to `limit` events after `id`, in id order: a poller's read, a range of the primary key.
/// A row of an unknown kind comes back without its event, so the poller moves past its id.
pub async fn after<Q: Queryable>(
    conn: &mut Q,
    id: u64,
    limit: u32,
) -> Result<Vec<Logged>, mysql_async::Error> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT id, video_id, kind, payload FROM live_events
              WHERE id > ? ORDER BY id LIMIT ?",
            (id, limit),
        )
        .await?;
    rows.into_iter().map(Event::from_row).collect()
}

/// Up to `limit` events of one video with `after < id <= upto`, in id order: what a stream that
/// reconnects with `Last-Event-ID: after` missed; rows of unknown kinds come back without their
/// event. Served by `ix_live_events_video`.
pub async fn replay<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    after: u64,
    upto: u64,
    limit: u32,
) -> Result<Vec<Logged>, mysql_async::Error> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT id, video_id, kind, payload FROM live_events
              WHERE video_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
            (video_id.as_str(), after, upto, limit),
        )
        .await?;
    rows.into_iter().map(Event::from_row).collect()
}

/// Deletes up to `batch` events older than `age_secs`; returns how many went.
pub async fn forget_events<Q: Queryable>(
    conn: &mut Q,
    age_secs: u64,
    batch: u32,
) -> Result<u64, mysql_async::Error> {
    changed(
        conn,
        "DELETE FROM live_events
          WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ?",
        (age_secs, batch),
    )
    .await
}

/// Writes this node's viewer counts of `counts` (video, streams open), one statement for all.
pub async fn set_viewers<Q: Queryable>(
    conn: &mut Q,
    node: &str,
    counts: &[(&str, u32)],
) -> Result<(), mysql_async::Error> {
    if counts.is_empty() {
        return Ok(());
    }
    let rows = vec!["(?, ?, ?, UTC_TIMESTAMP(6))"; counts.len()].join(", ");
    let sql = format!(
        "INSERT INTO live_presence (node_id, video_id, viewers, updated_at) VALUES {rows}
         ON DUPLICATE KEY UPDATE viewers = VALUES(viewers), updated_at = VALUES(updated_at)"
    );
    let mut params = Vec::with_capacity(counts.len() * 3);
    for &(video, viewers) in counts {
        params.extend([Value::from(node), Value::from(video), Value::from(viewers)]);
    }
    conn.exec_drop(sql, params).await
}

/// Removes this node's rows of `videos` (no stream of them is open here any more).
pub async fn clear_viewers<Q: Queryable>(
    conn: &mut Q,
    node: &str,
    videos: &[&str],
) -> Result<(), mysql_async::Error> {
    if videos.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM live_presence WHERE node_id = ? AND video_id IN ({})",
        vec!["?"; videos.len()].join(", ")
    );
    let mut params = vec![Value::from(node)];
    params.extend(videos.iter().map(|&v| Value::from(v)));
    conn.exec_drop(sql, params).await
}

/// Tells the other nodes this node is alive: every row of its own is touched.
pub async fn touch_node<Q: Queryable>(conn: &mut Q, node: &str) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE live_presence SET updated_at = UTC_TIMESTAMP(6) WHERE node_id = ?",
        (node,),
    )
    .await
}

/// Every row of this node (at shutdown).
pub async fn leave<Q: Queryable>(conn: &mut Q, node: &str) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM live_presence WHERE node_id = ?", (node,))
        .await
}

/// How many streams the *other* nodes that were alive in the last `timeout_secs` hold open for
/// each of `videos` (videos nobody else watches are absent). Served by `ix_live_presence_video`.
pub async fn others_viewers<Q: Queryable>(
    conn: &mut Q,
    node: &str,
    videos: &[&str],
    timeout_secs: u64,
) -> Result<Vec<(String, u64)>, mysql_async::Error> {
    if videos.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT video_id, CAST(SUM(viewers) AS UNSIGNED) FROM live_presence
          WHERE video_id IN ({}) AND node_id <> ?
            AND updated_at > UTC_TIMESTAMP(6) - INTERVAL ? SECOND
          GROUP BY video_id",
        vec!["?"; videos.len()].join(", ")
    );
    let mut params: Vec<Value> = videos.iter().map(|&v| Value::from(v)).collect();
    params.extend([Value::from(node), Value::from(timeout_secs)]);
    conn.exec(sql, params).await
}

/// Deletes the rows of nodes silent for longer than `age_secs` (nodes that died).
pub async fn forget_dead_nodes<Q: Queryable>(
    conn: &mut Q,
    age_secs: u64,
) -> Result<u64, mysql_async::Error> {
    changed(
        conn,
        "DELETE FROM live_presence WHERE updated_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND",
        (age_secs,),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("viewers"), None);
    }
}
