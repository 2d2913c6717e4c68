//! The scheduler service: the durable job runner: deletion, post-upload processing (probing,
//! remuxing or transcoding, the HLS ladder and the storyboard), reconciliation (SPEC section 5,
//! issue 12).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does. The runner (`runner.rs`) consumes the `jobs` table;
//! job kinds live in `work/`; the periodic clean-ups in `reconcile.rs` and `housekeeping.rs`;
//! SQL in `store/`; the small internal HTTP API and its one route table in `routes.rs`, over the
//! state in `state.rs`.

pub mod config;
pub mod error;
pub mod housekeeping;
pub mod reconcile;
pub mod routes;
pub mod runner;
pub mod state;
pub mod store;
pub mod work;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use svc::http::Body;
use svc::Server;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

pub use config::{Config, Housekeeping, RunnerConfig};
pub use runner::{Outcome, Runner};
pub use state::Scheduler;

impl svc::App for Scheduler {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        routes::handle(self, req).await
    }

    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await?;
        self.storage
            .check_writable()
            .await
            .map_err(|e| format!("storage not writable: {e}"))?;
        work::tools::check(&self.config.runner.ffmpeg, &self.config.runner.ffprobe).await
    }
}

/// The scheduler, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Scheduler>,
    runner: Arc<Runner>,
    cron: JobScheduler,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = svc::db::pool(config.database_url.expose(), config.db_pool_size)?;
        let applied = svc::db::migrate_when_up(&pool, config.db_wait).await?;
        tracing::info!(applied, "database schema up to date");
        let storage =
            svc::storage::connect(&config.storage, svc::storage::LocalReads::default())
                .map_err(|e| anyhow::anyhow!("cannot use the storage {:?}: {e}", config.storage))?;
        let mut config = config;
        config.runner.scratch_dir = scratch_dir(&config.runner.scratch_dir)?;
        if let Err(e) = work::tools::check(&config.runner.ffmpeg, &config.runner.ffprobe).await {
            // Deletions still work; processing jobs fail and retry until ffmpeg is there.
            tracing::error!(error = %e, "ffmpeg/ffprobe unusable: videos cannot be processed and /readyz reports 503");
        }
        let runner = Arc::new(Runner::new(
            pool.clone(),
            storage.clone(),
            config.runner.clone(),
        ));
        let cron = maintenance(&config, &runner).await?;
        let server = Server::bind(config.addr, "scheduler")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on SCHEDULER_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout)
            .connection_limits(config.common.connections.clone());
        // At zero from the start, so the failed-jobs alert has a series to watch.
        for kind in svc::jobs::JobKind::ALL {
            metrics::counter!("scheduler_jobs_failed_total", "kind" => kind.as_str()).increment(0);
        }
        Ok(Application {
            server,
            state: Arc::new(Scheduler {
                pool,
                storage,
                config,
                runner: Some(runner.clone()),
            }),
            runner,
            cron,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<Scheduler> {
        self.state.clone()
    }

    pub fn runner(&self) -> Arc<Runner> {
        self.runner.clone()
    }

    /// Serves and runs jobs until `shutdown` is cancelled, then drains both.
    pub async fn run(self, shutdown: CancellationToken) {
        let jobs = tokio::spawn(self.runner.clone().run(self.cron, shutdown.clone()));
        self.server.run(self.state.clone(), shutdown).await;
        match jobs.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the job runner stopped with an error"),
            Err(e) => tracing::error!(error = %e, "the job runner panicked"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.state.pool.clone().disconnect())
            .await;
    }
}

/// Creates the scratch directory and makes its path absolute: ffmpeg runs inside it and is
/// handed scratch paths, which must not be read relative to it.
fn scratch_dir(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)
        .and_then(|()| dir.canonicalize())
        .map_err(|e| anyhow::anyhow!("cannot use SCRATCH_DIR={}: {e}", dir.display()))
}

/// The periodic jobs besides dispatch: reconciliation and housekeeping (purging old done jobs,
/// sweeping expired uploads, removing abandoned pending videos). Each skips a tick while its
/// previous run is still going.
async fn maintenance(config: &Config, runner: &Arc<Runner>) -> anyhow::Result<JobScheduler> {
    let cron = JobScheduler::new().await?;
    let ctx = runner.context().clone();
    let grace = config.reconcile_grace;
    cron.add(periodic(
        "RECONCILE_CRON",
        &config.reconcile_cron,
        ctx.clone(),
        move |ctx| async move {
            if let Err(e) = reconcile::reconcile_once(&ctx, grace).await {
                tracing::error!(error = %e, "reconciliation failed");
            }
        },
    )?)
    .await?;
    let settings = config.housekeeping;
    cron.add(periodic(
        "HOUSEKEEPING_CRON",
        &config.housekeeping_cron,
        ctx,
        move |ctx| async move { housekeeping::housekeeping_once(&ctx, &settings).await },
    )?)
    .await?;
    Ok(cron)
}

fn periodic<F, Fut>(
    var: &str,
    schedule: &str,
    ctx: work::Context,
    task: F,
) -> anyhow::Result<tokio_cron_scheduler::Job>
where
    F: Fn(work::Context) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let running = Arc::new(tokio::sync::Mutex::new(()));
    tokio_cron_scheduler::Job::new_async(schedule, move |_, _| {
        let running = running.clone();
        let ctx = ctx.clone();
        let task = task.clone();
        Box::pin(async move {
            let Ok(_guard) = running.try_lock() else {
                return;
            };
            task(ctx).await;
        })
    })
    .map_err(|e| anyhow::anyhow!("invalid {var}={schedule:?}: {e}"))
}
