//! What each job kind does. Every kind is idempotent: running it again after a crash, a lost
//! lease or a retry reaches the same end state, because the runner guarantees at-least-once, not
//! exactly-once. Claiming, leases, retries and outcomes are the runner's business, not this
//! module's: a kind returns `Ok` when its work is done (including "nothing to do"), `Err` when
//! it should be retried, and `Err(WorkError::Refused)` when its input cannot be processed and
//! another try would not change that.
//!
//! This module only dispatches a job to its kind; what every kind works with and how it fails
//! live in `context.rs`, which the kinds import instead of this module.

mod context;
pub mod delete;
pub mod encode;
pub mod ladder;
pub mod media;
pub mod mp4;
pub mod process;
mod scratch;
pub mod tools;

pub use context::{Context, Refusal, WorkError};

use svc::jobs::JobKind;
use svc::VideoId;

use crate::store::jobs::Job;

/// Runs `job`'s work. A kind this build does not know is an error, so the job is kept (and
/// retried, where a newer scheduler may take it) rather than dropped.
pub async fn run(ctx: &Context, job: &Job) -> Result<(), WorkError> {
    let kind = job.kind.as_ref().map_err(|unknown| {
        WorkError::Other(format!(
            "unknown job kind {unknown:?}; a newer scheduler may know it"
        ))
    })?;
    match kind {
        JobKind::DeleteVideo => delete::delete_video(ctx, video_of(job)?).await,
        JobKind::ProcessVideo => process::process_video(ctx, video_of(job)?).await,
        JobKind::MakeLadder => ladder::make_ladder(ctx, video_of(job)?).await,
        JobKind::DeleteObject => {
            let key = job.payload.as_deref().unwrap_or_default();
            delete::delete_object(ctx, key).await
        }
    }
}

/// The video a job of a kind about one video works on.
fn video_of(job: &Job) -> Result<&VideoId, WorkError> {
    job.video_id.as_ref().ok_or_else(|| {
        WorkError::Other(format!(
            "a {} job needs a video id and this one has none",
            job.kind_name()
        ))
    })
}
