//! The one task per api process that keeps the viewer counts, the heartbeats and the tables of the
//! fan-out in order. Every second:
//!
//! 1. this node's stream counts that changed since the last write go to `live_presence` (one
//!    upsert, one delete for videos nobody watches here any more); every third of
//!    `LIVE_NODE_TIMEOUT` all of this node's rows are touched, so the others keep counting them;
//! 2. the other live nodes' counts of the videos watched here are read (one grouped query) and
//!    each channel whose total changed gets a `viewers` event;
//! 3. every `LIVE_HEARTBEAT`, every channel gets the heartbeat comment;
//! 4. every minute, events older than `LIVE_EVENT_RETENTION` and the rows of nodes silent for
//!    four node timeouts are deleted (by every node; the deletes are idempotent).
//!
//! At shutdown the node's rows are deleted, so the others stop counting its streams at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Pool;

use super::Hub;
use crate::store;

/// How often counts are written, read and told: the "at most once a second".
const TICK: Duration = Duration::from_secs(1);

/// How often old events and dead nodes' rows are deleted.
const CLEANUP: Duration = Duration::from_secs(60);

/// Videos per statement when reading other nodes' counts.
const CHUNK: usize = 500;

/// Events deleted per statement (the cleanup loops until a batch comes back short).
const FORGET_BATCH: u32 = 5_000;

/// What this node last wrote, and when it last did what.
struct State {
    written: HashMap<String, u32>,
    touched: Instant,
    beat: Instant,
    cleaned: Instant,
}

/// Runs until the hub closes, then deletes this node's presence rows.
pub async fn run(hub: Arc<Hub>, pool: Pool) {
    let closing = hub.closing();
    let now = Instant::now();
    let mut state = State {
        written: HashMap::new(),
        touched: now,
        beat: now,
        cleaned: now - CLEANUP,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = closing.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = once(&hub, &pool, &mut state).await {
            tracing::warn!(error = %e, "live presence: a round failed; will retry");
            // Write everything again next time: what was written is no longer certain.
            state.written.clear();
        }
    }
    match pool.get_conn().await {
        Ok(mut conn) => {
            if let Err(e) = store::live::leave(&mut conn, hub.node()).await {
                tracing::warn!(error = %e, "live presence: could not remove this node's rows");
            }
        }
        Err(e) => tracing::warn!(error = %e, "live presence: could not remove this node's rows"),
    }
}

async fn once(hub: &Hub, pool: &Pool, state: &mut State) -> Result<(), mysql_async::Error> {
    let settings = &hub.settings;
    if state.beat.elapsed() >= settings.heartbeat {
        state.beat = Instant::now();
        hub.heartbeat();
    }
    let counts = hub.local_counts();
    let changed: Vec<(&str, u32)> = counts
        .iter()
        .filter(|(video, n)| *n > 0 && state.written.get(video) != Some(n))
        .map(|(video, n)| (video.as_str(), *n))
        .collect();
    let watched: HashMap<&str, u32> = counts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    let gone: Vec<String> = state
        .written
        .keys()
        .filter(|video| watched.get(video.as_str()).is_none_or(|n| *n == 0))
        .cloned()
        .collect();
    let touch = !state.written.is_empty() && state.touched.elapsed() >= settings.node_timeout / 3;
    let cleanup = state.cleaned.elapsed() >= CLEANUP;
    if changed.is_empty() && gone.is_empty() && !touch && !cleanup && counts.is_empty() {
        return Ok(());
    }

    let mut conn = pool.get_conn().await?;
    let node = hub.node();
    store::live::set_viewers(&mut conn, node, &changed).await?;
    for (video, n) in &changed {
        state.written.insert(video.to_string(), *n);
    }
    let gone_refs: Vec<&str> = gone.iter().map(String::as_str).collect();
    store::live::clear_viewers(&mut conn, node, &gone_refs).await?;
    for video in &gone {
        state.written.remove(video);
    }
    if touch {
        store::live::touch_node(&mut conn, node).await?;
        state.touched = Instant::now();
    }

    let videos: Vec<&str> = watched
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(v, _)| *v)
        .collect();
    let mut remote = HashMap::new();
    let timeout = settings.node_timeout.as_secs().max(1);
    for chunk in videos.chunks(CHUNK) {
        remote.extend(store::live::others_viewers(&mut conn, node, chunk, timeout).await?);
    }
    hub.recount(&remote);

    if cleanup {
        state.cleaned = Instant::now();
        let age = settings.retention.as_secs().max(1);
        loop {
            let n = store::live::forget_events(&mut conn, age, FORGET_BATCH).await?;
            if n < u64::from(FORGET_BATCH) {
                break;
            }
        }
        store::live::forget_dead_nodes(&mut conn, timeout * 4).await?;
    }
    Ok(())
}
