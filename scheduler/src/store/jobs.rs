//! The `jobs` table from the consumer side: claiming due jobs under a lease, recording outcomes
//! (each guarded by the lease owner, so a process that lost its lease cannot overwrite the work
//! of the one that took the job over), releasing claims at shutdown, purging old done jobs, and
//! the reads behind `GET /video-delete-record/{vid}` and `/metrics`. Producers queue through
//! `svc::jobs::enqueue`; only the scheduler's own `delete_object` kind, which is about no video,
//! is queued here.

use std::collections::HashSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, IsolationLevel, Pool, TxOpts};
use svc::jobs::JobKind;
use svc::VideoId;

use super::placeholders;

/// A claimed job, as the executor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    /// What to do, or `Err` with the spelling of a kind this build does not know (a newer
    /// scheduler queued it): such a job is failed with a message, never run.
    pub kind: Result<JobKind, String>,
    /// `None` for jobs not about one video (`delete_object`), and for an id no video can have.
    pub video_id: Option<VideoId>,
    pub payload: Option<String>,
    /// Failures so far.
    pub attempts: u32,
    pub max_attempts: u32,
}

impl Job {
    /// The kind as `jobs.kind` spells it, for logs and metric labels.
    pub fn kind_name(&self) -> &str {
        match &self.kind {
            Ok(kind) => kind.as_str(),
            Err(unknown) => unknown,
        }
    }
}

type JobRow = (u64, String, Option<String>, Option<String>, u32, u32);

fn job_from_row((id, kind, video_id, payload, attempts, max_attempts): JobRow) -> Job {
    Job {
        id,
        kind: JobKind::parse(&kind).ok_or(kind),
        video_id: video_id.as_deref().and_then(VideoId::parse),
        payload,
        attempts,
        max_attempts,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Claims up to `limit` due jobs for `owner` until now + `lease`: queued jobs whose `run_after`
/// has come, then running jobs whose lease expired (their scheduler died or hung). `FOR UPDATE
/// SKIP LOCKED` lets several schedulers claim at once without waiting on or taking each other's
/// rows; READ COMMITTED avoids gap locks that would stall producers' inserts meanwhile.
pub async fn claim(
    pool: &Pool,
    owner: &str,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Job>, mysql_async::Error> {
    let mut opts = TxOpts::default();
    opts.with_isolation_level(IsolationLevel::ReadCommitted);
    let mut tx = pool.start_transaction(opts).await?;
    let mut jobs: Vec<Job> = tx
        .exec_map(
            "SELECT id, kind, video_id, payload, attempts, max_attempts FROM jobs
             WHERE state = 'queued' AND run_after <= UTC_TIMESTAMP(6)
             ORDER BY run_after, id LIMIT ? FOR UPDATE SKIP LOCKED",
            (limit as u64,),
            job_from_row,
        )
        .await?;
    if jobs.len() < limit {
        let expired: Vec<Job> = tx
            .exec_map(
                "SELECT id, kind, video_id, payload, attempts, max_attempts FROM jobs
                 WHERE state = 'running' AND lease_until < UTC_TIMESTAMP(6)
                 ORDER BY lease_until, id LIMIT ? FOR UPDATE SKIP LOCKED",
                ((limit - jobs.len()) as u64,),
                job_from_row,
            )
            .await?;
        jobs.extend(expired);
    }
    if jobs.is_empty() {
        tx.rollback().await?;
        return Ok(jobs);
    }
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_owner = ?,
           lease_until = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND),
           updated_at = UTC_TIMESTAMP(6)
         WHERE id IN ({})",
        placeholders(jobs.len())
    );
    let mut params: Vec<mysql_async::Value> = vec![owner.into(), micros(lease).into()];
    params.extend(jobs.iter().map(|j| j.id.into()));
    tx.exec_drop(sql, params).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Marks the job done, only if `owner` still holds it. `false` means the lease was lost (it
/// expired and another scheduler took the job): that scheduler records the outcome instead.
pub async fn complete(conn: &mut Conn, id: u64, owner: &str) -> Result<bool, mysql_async::Error> {
    conn.exec_drop(
        "UPDATE jobs SET state = 'done', finished_at = UTC_TIMESTAMP(6), lease_owner = NULL,
           lease_until = NULL, updated_at = UTC_TIMESTAMP(6)
         WHERE id = ? AND state = 'running' AND lease_owner = ?",
        (id, owner),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// Marks done, in one transaction, those of `ids` that `owner` still holds; returns them. The
/// runner batches completions through this so a backlog costs one commit per batch rather than
/// one per job.
pub async fn complete_many(
    pool: &Pool,
    ids: &[u64],
    owner: &str,
) -> Result<HashSet<u64>, mysql_async::Error> {
    let mut opts = TxOpts::default();
    opts.with_isolation_level(IsolationLevel::ReadCommitted);
    let mut tx = pool.start_transaction(opts).await?;
    let select = format!(
        "SELECT id FROM jobs WHERE state = 'running' AND lease_owner = ? AND id IN ({}) FOR UPDATE",
        placeholders(ids.len())
    );
    let mut params: Vec<mysql_async::Value> = vec![owner.into()];
    params.extend(ids.iter().map(|id| (*id).into()));
    let owned: Vec<u64> = tx.exec(select, params).await?;
    if !owned.is_empty() {
        let update = format!(
            "UPDATE jobs SET state = 'done', finished_at = UTC_TIMESTAMP(6), lease_owner = NULL,
               lease_until = NULL, updated_at = UTC_TIMESTAMP(6)
             WHERE id IN ({})",
            placeholders(owned.len())
        );
        tx.exec_drop(update, owned.clone()).await?;
    }
    tx.commit().await?;
    Ok(owned.into_iter().collect())
}

/// What a failure did to the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Queued again after the delay.
    Retry(Duration),
    /// Out of attempts: `failed` for good.
    GaveUp,
    /// Refused at once: the failure will not change with another try (see
    /// `work::WorkError::is_permanent`), so the job is `failed` after this one attempt.
    Refused,
    /// The lease was lost; nothing was recorded.
    LeaseLost,
}

/// The delay before retry number `attempts` (1 after the first failure): `base` doubled per
/// further failure, at most `cap`.
pub fn backoff(attempts: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
    base.saturating_mul(factor).min(cap)
}

/// Records a failed attempt of a job `owner` holds: `attempts + 1`, `last_error`, and either
/// back to `queued` with `run_after` = now + backoff, or `failed` once `max_attempts` is reached
/// or at once when the failure is `permanent`.
pub async fn fail(
    conn: &mut Conn,
    job: &Job,
    owner: &str,
    error: &str,
    permanent: bool,
    (base, cap): (Duration, Duration),
) -> Result<Failure, mysql_async::Error> {
    let attempts = job.attempts + 1;
    let outcome = if permanent {
        Failure::Refused
    } else if attempts >= job.max_attempts {
        Failure::GaveUp
    } else {
        Failure::Retry(backoff(attempts, base, cap))
    };
    let (state, delay) = match outcome {
        Failure::Retry(d) => ("queued", d),
        _ => ("failed", Duration::ZERO),
    };
    // MySQL columns are TEXT (64 KiB); an error message longer than a few lines is noise.
    let error: String = error.chars().take(4000).collect();
    conn.exec_drop(
        "UPDATE jobs SET state = ?, attempts = ?, last_error = ?,
           run_after = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND),
           finished_at = IF(? = 'failed', UTC_TIMESTAMP(6), NULL),
           lease_owner = NULL, lease_until = NULL, updated_at = UTC_TIMESTAMP(6)
         WHERE id = ? AND state = 'running' AND lease_owner = ?",
        (state, attempts, error, micros(delay), state, job.id, owner),
    )
    .await?;
    if conn.affected_rows() == 1 {
        Ok(outcome)
    } else {
        Ok(Failure::LeaseLost)
    }
}

/// Extends every lease `owner` holds to now + `lease`: the runner's heartbeat, so a job runs
/// as long as it needs while its scheduler lives, and is claimable one lease after it dies.
/// Returns how many jobs it holds.
pub async fn renew(pool: &Pool, owner: &str, lease: Duration) -> Result<u64, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_drop(
        "UPDATE jobs SET lease_until = DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND)
         WHERE state = 'running' AND lease_owner = ?",
        (micros(lease), owner),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// Gives back every job `owner` holds (claimed but not finished): queued again at once, lease
/// cleared, attempts unchanged, so another scheduler can take them without waiting for the lease.
pub async fn release(pool: &Pool, owner: &str) -> Result<u64, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    conn.exec_drop(
        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
           run_after = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)
         WHERE state = 'running' AND lease_owner = ?",
        (owner,),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// Deletes done jobs finished more than `retention` ago, in slices so no statement holds many
/// locks. Failed jobs stay: a person should look at them.
pub async fn purge_done(pool: &Pool, retention: Duration) -> Result<u64, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let mut total = 0;
    loop {
        conn.exec_drop(
            "DELETE FROM jobs WHERE state = 'done'
               AND finished_at < DATE_SUB(UTC_TIMESTAMP(6), INTERVAL ? MICROSECOND)
             LIMIT 5000",
            (micros(retention),),
        )
        .await?;
        let n = conn.affected_rows();
        total += n;
        if n < 5000 {
            return Ok(total);
        }
    }
}

/// Queues the deletion of one storage object, once per key: queued again if an earlier
/// deletion of the same key finished (the object came back) or failed. The job is about no
/// video, so its `video_id` is NULL.
pub async fn enqueue_object_deletion<Q: Queryable>(
    conn: &mut Q,
    key: &str,
) -> Result<(), mysql_async::Error> {
    let kind = JobKind::DeleteObject.as_str();
    conn.exec_drop(
        "INSERT INTO jobs (kind, video_id, dedupe_key, payload)
         VALUES (?, NULL, CONCAT(?, ':', ?), ?)
         ON DUPLICATE KEY UPDATE
           attempts = IF(state IN ('done', 'failed'), 0, attempts),
           last_error = IF(state IN ('done', 'failed'), NULL, last_error),
           run_after = IF(state IN ('done', 'failed'), UTC_TIMESTAMP(6), run_after),
           finished_at = IF(state IN ('done', 'failed'), NULL, finished_at),
           updated_at = UTC_TIMESTAMP(6),
           state = IF(state IN ('done', 'failed'), 'queued', state)",
        (kind, kind, key, key),
    )
    .await
}

/// The state of a video's deletion job, for `GET /video-delete-record/{vid}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeleteRecord {
    pub video_id: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// The deletion job of `video_id`, if one was ever queued (and not yet purged).
pub async fn delete_record<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<Option<DeleteRecord>, mysql_async::Error> {
    let row: Option<(String, u32, Option<String>)> = conn
        .exec_first(
            "SELECT state, attempts, last_error FROM jobs WHERE dedupe_key = CONCAT(?, ':', ?)",
            (JobKind::DeleteVideo.as_str(), video_id.as_str()),
        )
        .await?;
    Ok(row.map(|(state, attempts, last_error)| DeleteRecord {
        video_id: video_id.to_string(),
        state,
        attempts,
        last_error,
    }))
}

/// Queue depth by kind and state (done jobs excluded: they are history, not depth) and the age
/// in seconds of the oldest due queued job.
pub async fn queue_stats(
    pool: &Pool,
) -> Result<(Vec<(String, String, u64)>, f64), mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    let depth: Vec<(String, String, u64)> = conn
        .query(
            "SELECT kind, CAST(state AS CHAR), COUNT(*) FROM jobs
             WHERE state IN ('queued', 'running', 'failed') GROUP BY kind, state",
        )
        .await?;
    let oldest: Option<Option<i64>> = conn
        .query_first(
            "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(run_after), UTC_TIMESTAMP(6)) FROM jobs
             WHERE state = 'queued' AND run_after <= UTC_TIMESTAMP(6)",
        )
        .await?;
    let age = oldest.flatten().unwrap_or(0).max(0) as f64 / 1e6;
    Ok((depth, age))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(1, base, cap), Duration::from_secs(5));
        assert_eq!(backoff(2, base, cap), Duration::from_secs(10));
        assert_eq!(backoff(3, base, cap), Duration::from_secs(20));
        assert_eq!(backoff(4, base, cap), Duration::from_secs(40));
        assert_eq!(backoff(5, base, cap), cap);
        assert_eq!(backoff(1000, base, cap), cap);
        assert_eq!(backoff(0, base, cap), base);
    }
}
