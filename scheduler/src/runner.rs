//! The job runner: a producer (the dispatcher) and N consumers (executor tasks) over a bounded
//! tokio channel (SPEC section 5).
//!
//! A tokio-cron-scheduler job (`SCHEDULER_CRON`, every 3 s by default) only wakes the
//! dispatcher through a `Notify`; wake-ups that arrive while a dispatch is running coalesce into
//! one, so dispatches never overlap and an idle process does one cheap claim query per tick and
//! nothing else. A dispatch claims a batch of due jobs under a lease
//! ([`store::jobs::claim`]) only once the channel has room for the whole batch, so claimed jobs
//! wait in memory for at most about one batch's worth of work. When a batch comes back full the
//! dispatcher claims again at once instead of waiting for the next tick: a backlog drains at the
//! executors' speed.
//!
//! While the runner lives, a heartbeat renews every lease it holds each third of `JOB_LEASE`
//! ([`Runner::renew_leases`]): a job runs as long as it needs (a long transcode is never taken
//! by a second scheduler), and the jobs of a scheduler that died are claimable one lease later.
//! Outcomes are recorded only while this process still owns the lease, so a job taken over by
//! another scheduler after a lease expiry is never marked twice. Successes go through one
//! completer task that records whatever has finished meanwhile in one transaction (one commit
//! per batch during a backlog); failures are recorded one by one with their backoff. On shutdown the dispatcher
//! stops, running jobs get up to the drain timeout to finish, and every claim not finished is
//! released (queued again with the lease cleared) for another scheduler to take at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use svc::jobs::JobKind;
use svc::storage::Storage;
use svc::VideoId;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;
use crate::store::jobs::{self, Failure, Job};
use crate::work::{self, Context};

/// How long shutdown waits for the database to record the last outcomes and releases.
const FINAL_DB_WAIT: Duration = Duration::from_secs(10);

/// How often the queue gauges of `/metrics` are refreshed, at most.
const STATS_EVERY: Duration = Duration::from_secs(15);

/// What happened to one executed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed; queued again after this delay.
    Retry(Duration),
    /// Failed for the last time: `failed`.
    GaveUp,
    /// Failed for a reason another try would not change (a file that is not a video): `failed`
    /// after this one attempt, the tool's words in `last_error`.
    Refused,
    /// The lease had passed to another scheduler; nothing recorded.
    LeaseLost,
    /// The outcome could not be written (database down); the lease will expire and the job
    /// will run again.
    Unrecorded,
}

/// One scheduler's consumer side of the `jobs` queue.
pub struct Runner {
    ctx: Context,
    /// This runner's `lease_owner`: host, process id and a random part, so two runners in one
    /// process (as in tests) are as distinct as two processes.
    owner: String,
    wake: Notify,
}

impl Runner {
    pub fn new(pool: mysql_async::Pool, storage: Arc<dyn Storage>, config: RunnerConfig) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().chars().take(30).collect::<String>())
            .unwrap_or_default();
        let random = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("{host}:{}:{}", std::process::id(), &random[..12]);
        Runner {
            ctx: Context::new(pool, storage, config),
            owner,
            wake: Notify::new(),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Asks the dispatcher to look for due jobs now (what the cron job does each tick).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims up to one batch of due jobs for this runner.
    pub async fn dispatch_once(&self) -> Result<Vec<Job>, mysql_async::Error> {
        let config = &self.ctx.config;
        jobs::claim(&self.ctx.pool, &self.owner, config.lease, config.batch).await
    }

    /// Runs one claimed job and records its outcome.
    pub async fn execute_one(&self, job: &Job) -> Outcome {
        let result = self.work(job).await;
        self.record(job, result).await
    }

    async fn work(&self, job: &Job) -> Result<(), work::WorkError> {
        let started = Instant::now();
        let result = work::run(&self.ctx, job).await;
        metrics::histogram!("scheduler_job_duration_seconds", "kind" => job.kind_name().to_owned())
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// Records a batch of finished jobs at once (see [`jobs::complete_many`]).
    async fn record_done(&self, finished: &[Job]) {
        let ids: Vec<u64> = finished.iter().map(|j| j.id).collect();
        match jobs::complete_many(&self.ctx.pool, &ids, &self.owner).await {
            Ok(owned) => {
                for job in finished {
                    if owned.contains(&job.id) {
                        metrics::counter!("scheduler_jobs_done_total", "kind" => job.kind_name().to_owned())
                            .increment(1);
                    } else {
                        tracing::warn!(
                            job = job.id,
                            kind = job.kind_name(),
                            "lease lost before the job finished; another scheduler owns it now"
                        );
                    }
                }
            }
            Err(e) => {
                // The leases expire and the jobs run again: at-least-once, and the work is
                // idempotent.
                tracing::error!(jobs = ids.len(), error = %e, "cannot record finished jobs");
            }
        }
    }

    /// Records one job's outcome, counts and logs it, and marks the video of a processing job
    /// that gave up `failed`.
    async fn record(&self, job: &Job, result: Result<(), work::WorkError>) -> Outcome {
        let mut conn = match self.ctx.pool.get_conn().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "cannot record a job's outcome");
                return Outcome::Unrecorded;
            }
        };
        let outcome = match self.write_outcome(&mut conn, job, &result).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "cannot record a job's outcome");
                Outcome::Unrecorded
            }
        };
        observe(job, &result, outcome);
        if outcome == Outcome::GaveUp {
            self.gave_up(&mut conn, job).await;
        }
        outcome
    }

    /// Writes `result` to the job's row, only while this runner still holds its lease.
    async fn write_outcome(
        &self,
        conn: &mut mysql_async::Conn,
        job: &Job,
        result: &Result<(), work::WorkError>,
    ) -> Result<Outcome, mysql_async::Error> {
        let Err(e) = result else {
            let owned = jobs::complete(conn, job.id, &self.owner).await?;
            return Ok(if owned {
                Outcome::Done
            } else {
                Outcome::LeaseLost
            });
        };
        let config = &self.ctx.config;
        let error = e.to_string();
        let failure = jobs::fail(
            conn,
            job,
            &self.owner,
            &error,
            e.is_permanent(),
            (config.backoff, config.backoff_max),
        )
        .await?;
        Ok(match failure {
            Failure::Retry(d) => Outcome::Retry(d),
            Failure::GaveUp => Outcome::GaveUp,
            Failure::Refused => Outcome::Refused,
            Failure::LeaseLost => Outcome::LeaseLost,
        })
    }

    /// A processing job that gave up leaves its video `failed` rather than `uploaded` (or
    /// `processing`) forever, so its owner sees why instead of waiting. (A refused one has
    /// already said why: `work::process` marks its video with the reason.)
    async fn gave_up(&self, conn: &mut mysql_async::Conn, job: &Job) {
        let (Ok(JobKind::ProcessVideo), Some(video_id)) = (&job.kind, &job.video_id) else {
            return;
        };
        // The cause (a tool, storage, the database) is the operator's: it stays in the job's
        // `last_error`; the owner learns that it was not their file.
        let reason = format!(
            "Processing failed after {} tries because of a problem on this site, not with \
             your file; upload it again later.",
            job.attempts + 1
        );
        if let Err(e) = crate::store::videos::mark_failed(conn, video_id, &reason).await {
            tracing::error!(%video_id, error = %e, "cannot mark the video failed");
        }
    }

    /// Runs the dispatcher and the executors until `shutdown`, with the dispatch tick added to
    /// `cron` (which may hold other jobs; it is started here and shut down on return).
    pub async fn run(
        self: Arc<Self>,
        mut cron: JobScheduler,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        self.start_ticks(&mut cron).await?;
        let batch = self.ctx.config.batch;
        // Room for two batches: executors work through one while the next is claimed.
        let (tx, rx) = mpsc::channel::<Job>(batch * 2);
        // Finished jobs go to one completer, which records whatever has piled up in one
        // transaction: one job when the queue is quiet, hundreds during a backlog.
        let (done_tx, done_rx) = mpsc::channel::<Job>(batch * 2);
        let completer = tokio::spawn(self.clone().record_done_until_closed(done_rx));
        let stop_taking = CancellationToken::new();
        let executors = self.spawn_executors(rx, done_tx, &stop_taking);
        // Renews the claims until they are all recorded or released, draining included.
        let heartbeat = tokio::spawn(self.clone().renew_leases_forever());

        // The first dispatch happens at once, not a tick later.
        self.wake();
        self.dispatch_until(&tx, &shutdown).await;

        if let Err(e) = cron.shutdown().await {
            tracing::warn!(error = %e, "stopping the cron scheduler");
        }
        stop_taking.cancel();
        drop(tx);
        self.drain(executors).await;
        heartbeat.abort();
        self.record_and_release(completer).await;
        Ok(())
    }

    /// Extends every lease this runner holds to now + `JOB_LEASE` (the heartbeat's one step);
    /// returns how many jobs it holds.
    pub async fn renew_leases(&self) -> Result<u64, mysql_async::Error> {
        jobs::renew(&self.ctx.pool, &self.owner, self.ctx.config.lease).await
    }

    /// The heartbeat: [`Runner::renew_leases`] every third of the lease, so two renewals can
    /// fail (the database away for a moment) before a lease runs out.
    async fn renew_leases_forever(self: Arc<Self>) {
        let every = self.ctx.config.lease / 3;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = self.renew_leases().await {
                tracing::warn!(error = %e, "renewing job leases failed; trying again at the next beat");
            }
        }
    }

    /// Adds the dispatch tick (`SCHEDULER_CRON`) to `cron`, which only wakes the dispatcher,
    /// and starts `cron`.
    async fn start_ticks(self: &Arc<Self>, cron: &mut JobScheduler) -> anyhow::Result<()> {
        let schedule = self.ctx.config.cron.clone();
        let runner = self.clone();
        let tick = tokio_cron_scheduler::Job::new_async(schedule.as_str(), move |_, _| {
            runner.wake();
            Box::pin(async {})
        })
        .map_err(|e| anyhow::anyhow!("invalid SCHEDULER_CRON={schedule:?}: {e}"))?;
        cron.add(tick).await?;
        cron.start().await?;
        Ok(())
    }

    /// The completer: records finished jobs, whatever has piled up at a time, until every
    /// executor has dropped its sender.
    async fn record_done_until_closed(self: Arc<Self>, mut done: mpsc::Receiver<Job>) {
        let limit = self.ctx.config.batch.max(1);
        let mut finished = Vec::with_capacity(limit);
        while done.recv_many(&mut finished, limit).await > 0 {
            self.record_done(&finished).await;
            finished.clear();
        }
    }

    /// Starts `JOB_WORKERS` executors sharing the receiving end of the dispatch channel.
    fn spawn_executors(
        self: &Arc<Self>,
        jobs: mpsc::Receiver<Job>,
        done: mpsc::Sender<Job>,
        stop_taking: &CancellationToken,
    ) -> JoinSet<()> {
        let jobs = Arc::new(Mutex::new(jobs));
        let mut executors = JoinSet::new();
        for _ in 0..self.ctx.config.workers {
            let runner = self.clone();
            executors.spawn(runner.execute_until(jobs.clone(), done.clone(), stop_taking.clone()));
        }
        executors
    }

    /// One executor: takes jobs until the channel closes or `stop_taking` is cancelled, and
    /// runs each; a success goes to the completer, a failure is recorded at once with its
    /// backoff.
    async fn execute_until(
        self: Arc<Self>,
        jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
        done: mpsc::Sender<Job>,
        stop_taking: CancellationToken,
    ) {
        loop {
            let job = {
                let mut jobs = jobs.lock().await;
                tokio::select! {
                    biased;
                    _ = stop_taking.cancelled() => None,
                    job = jobs.recv() => job,
                }
            };
            let Some(job) = job else { break };
            match self.work(&job).await {
                Ok(()) => {
                    // A processed video has queued its ladder: claim it now, not a tick later.
                    if job.kind == Ok(JobKind::ProcessVideo) {
                        self.wake();
                    }
                    if done.send(job).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    self.record(&job, Err(e)).await;
                }
            }
        }
    }

    /// Lets the running jobs finish within the drain timeout, then abandons the rest (their
    /// ffmpeg is killed with them).
    async fn drain(&self, mut executors: JoinSet<()>) {
        let timeout = self.ctx.config.drain_timeout;
        let drained = tokio::time::timeout(timeout, async {
            while executors.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(?timeout, "drain timeout reached; abandoning running jobs");
            executors.shutdown().await;
        }
    }

    /// Once every executor is gone: waits for the completer, which sees its channel close once
    /// it has recorded what they finished, then releases the claims nobody started. Both steps
    /// talk to the database, and one that stopped answering must not keep the process from
    /// exiting (the leases expire instead).
    async fn record_and_release(&self, completer: JoinHandle<()>) {
        match tokio::time::timeout(FINAL_DB_WAIT, completer).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the completion recorder panicked"),
            Err(_) => tracing::error!("recording finished jobs timed out; they will run again"),
        }
        match tokio::time::timeout(FINAL_DB_WAIT, jobs::release(&self.ctx.pool, &self.owner))
            .await
            .unwrap_or_else(|_| Err(mysql_async::Error::Other("timed out".into())))
        {
            Ok(released) => tracing::info!(released, "released unfinished job claims"),
            Err(e) => {
                tracing::error!(error = %e, "cannot release job claims; they become claimable when their lease expires")
            }
        }
    }

    /// The dispatcher loop: waits for a wake-up, then claims and hands over batches until one
    /// comes back short.
    async fn dispatch_until(&self, tx: &mpsc::Sender<Job>, shutdown: &CancellationToken) {
        let batch = self.ctx.config.batch;
        let mut stats_at: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
            }
            loop {
                // Claim only when the whole batch fits: claimed jobs must not wait long.
                let permits = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    permits = tx.reserve_many(batch) => match permits {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let claimed = match self.dispatch_once().await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming jobs failed; trying again next tick");
                        break;
                    }
                };
                let full = claimed.len() == batch;
                if !claimed.is_empty() {
                    tracing::debug!(claimed = claimed.len(), "dispatching jobs");
                }
                for (permit, job) in permits.zip(claimed) {
                    permit.send(job);
                }
                if stats_at.is_none_or(|at| at.elapsed() >= STATS_EVERY) {
                    stats_at = Some(Instant::now());
                    self.refresh_stats().await;
                }
                if !full {
                    break;
                }
            }
        }
    }

    /// Sets the queue gauges: depth by kind and state, and the age of the oldest due job.
    pub async fn refresh_stats(&self) {
        match jobs::queue_stats(&self.ctx.pool).await {
            Ok((depth, oldest)) => {
                for kind in JobKind::ALL {
                    for state in ["queued", "running", "failed"] {
                        let n = depth
                            .iter()
                            .find(|(k, s, _)| k == kind.as_str() && s == state)
                            .map_or(0, |(_, _, n)| *n);
                        metrics::gauge!("scheduler_jobs", "kind" => kind.as_str(), "state" => state)
                            .set(n as f64);
                    }
                }
                metrics::gauge!("scheduler_oldest_due_job_age_seconds").set(oldest);
            }
            Err(e) => tracing::warn!(error = %e, "reading queue statistics failed"),
        }
    }
}

/// Counts and logs what happened to one executed job.
fn observe(job: &Job, result: &Result<(), work::WorkError>, outcome: Outcome) {
    let kind = job.kind_name();
    let label = kind.to_owned();
    let video_id = job.video_id.as_ref().map(VideoId::as_str);
    match (result, outcome) {
        (_, Outcome::Done) => {
            metrics::counter!("scheduler_jobs_done_total", "kind" => label).increment(1);
            tracing::debug!(job = job.id, kind, video_id, "job done");
        }
        (Err(e), Outcome::Retry(delay)) => {
            metrics::counter!("scheduler_job_attempts_failed_total", "kind" => label).increment(1);
            tracing::warn!(job = job.id, kind, video_id, attempts = job.attempts + 1,
                retry_in = ?delay, error = %e, "job failed; will retry");
        }
        (Err(e), Outcome::GaveUp) => {
            metrics::counter!("scheduler_jobs_failed_total", "kind" => label).increment(1);
            tracing::error!(job = job.id, kind, video_id, attempts = job.attempts + 1,
                error = %e, "job failed for good");
        }
        (Err(e), Outcome::Refused) => {
            metrics::counter!("scheduler_jobs_refused_total", "kind" => label).increment(1);
            tracing::info!(job = job.id, kind, video_id, error = %e,
                "job refused its input; not retried");
        }
        (_, Outcome::LeaseLost) => {
            tracing::warn!(
                job = job.id,
                kind,
                "lease lost before the job finished; another scheduler owns it now"
            );
        }
        _ => {}
    }
}
