//! The search indexer that runs once at start-up: it writes the postings of every video whose
//! `search_version` is below the api's tokeniser (`search::VERSION`), that is the videos that
//! existed before the index did, and all of them again after the tokeniser changes. Creates and
//! edits index their own video as they write it; this only catches up.
//!
//! It runs beside the server and never holds up `/readyz`: until it is done, the videos it has
//! not reached yet are simply not found. Each batch is one transaction that locks its rows with
//! `SKIP LOCKED`, so several api processes starting together share the work instead of
//! repeating it, and a batch that fails changes nothing and is tried again.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::search;
use crate::state::Api;
use crate::store;

/// Videos per transaction: a few hundred milliseconds of work at most, and short row locks for
/// an owner who edits one of them meanwhile.
pub const BATCH: u32 = 100;

/// Indexes videos below the current version until none is left (or `shutdown`), retrying a
/// failed batch after a pause that doubles up to a minute. Logs its progress.
pub async fn run(api: Arc<Api>, shutdown: CancellationToken) {
    let total = loop {
        match count(&api).await {
            Ok(0) => return,
            Ok(n) => break n,
            Err(e) => {
                tracing::warn!(error = %e, "counting videos to index for search failed");
                if pause(&shutdown, Duration::from_secs(5)).await {
                    return;
                }
            }
        }
    };
    tracing::info!(
        videos = total,
        version = search::VERSION,
        "indexing videos for search"
    );
    let mut done = 0u64;
    let mut backoff = Duration::from_secs(1);
    while !shutdown.is_cancelled() {
        match index_batch(&api, BATCH).await {
            Ok(0) => {
                tracing::info!(videos = done, "search index up to date");
                return;
            }
            Ok(n) => {
                done += n as u64;
                backoff = Duration::from_secs(1);
                if done % (10 * u64::from(BATCH)) < n as u64 {
                    tracing::info!(done, of = total, "indexing videos for search");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "indexing videos for search failed");
                if pause(&shutdown, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// How many videos are below the current version.
async fn count(api: &Api) -> Result<u64, mysql_async::Error> {
    let mut conn = api.pool.get_conn().await?;
    store::videos::count_unindexed(&mut conn, search::VERSION).await
}

/// Indexes up to `batch` videos below the current version in one transaction: lock them
/// (skipping rows someone else holds), replace their postings, record the version. Returns how
/// many it indexed; 0 when none is left that is not locked by someone else.
pub async fn index_batch(api: &Api, batch: u32) -> Result<usize, mysql_async::Error> {
    let mut conn = api.pool.get_conn().await?;
    let mut tx = conn.start_transaction(store::search::tx_options()).await?;
    let videos = store::videos::lock_unindexed(&mut tx, search::VERSION, batch).await?;
    let indexed: Vec<store::search::Indexed> = videos
        .iter()
        .map(|v| store::search::Indexed {
            video_id: &v.id,
            create_time: &v.create_time,
            postings: search::postings(&v.name, &v.description),
        })
        .collect();
    store::search::replace(&mut tx, &indexed).await?;
    let ids: Vec<&str> = videos.iter().map(|v| v.id.as_str()).collect();
    store::videos::set_search_version(&mut tx, &ids, search::VERSION).await?;
    tx.commit().await?;
    Ok(videos.len())
}

/// Sleeps for `how_long`; true when `shutdown` came first.
async fn pause(shutdown: &CancellationToken, how_long: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(how_long) => false,
    }
}
