//! What each job kind does. Every kind is idempotent: running it again after a crash, a lost
//! lease or a retry reaches the same end state, because the runner guarantees at-least-once, not
//! exactly-once. Claiming, leases, retries and outcomes are the runner's business, not this
//! module's: a kind returns `Ok` when its work is done (including "nothing to do") and `Err` when
//! it should be retried.

pub mod delete;
pub mod mp4;
pub mod process;
pub mod tools;

use std::io;
use std::sync::Arc;

use svc::storage::Storage;

use crate::config::RunnerConfig;
use crate::store::jobs::{Job, DELETE_OBJECT};

/// What job kinds work with.
#[derive(Clone)]
pub struct Context {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: RunnerConfig,
}

/// Why a job did not finish; the job is retried and this text becomes its `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("database error: {0}")]
    Db(#[from] mysql_async::Error),
    #[error("storage error on {key}: {source}")]
    Storage { key: String, source: io::Error },
    #[error(transparent)]
    Tool(#[from] tools::ToolError),
    #[error("{0}")]
    Other(String),
}

impl WorkError {
    pub fn storage(key: &str) -> impl FnOnce(io::Error) -> WorkError + '_ {
        move |source| WorkError::Storage {
            key: key.to_string(),
            source,
        }
    }
}

/// Runs `job`'s work.
pub async fn run(ctx: &Context, job: &Job) -> Result<(), WorkError> {
    match job.kind.as_str() {
        svc::jobs::DELETE_VIDEO => delete::delete_video(ctx, &job.video_id).await,
        svc::jobs::PROCESS_VIDEO => process::process_video(ctx, &job.video_id).await,
        DELETE_OBJECT => {
            let key = job.payload.as_deref().unwrap_or_default();
            delete::delete_object(ctx, key).await
        }
        other => Err(WorkError::Other(format!(
            "unknown job kind {other:?}; a newer scheduler may know it"
        ))),
    }
}
