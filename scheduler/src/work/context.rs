//! What every job kind works with ([`Context`]) and how it fails ([`WorkError`]). Apart from
//! `work/mod.rs` so that the kinds, which `mod.rs` dispatches to, import this and not their
//! dispatcher.

use std::io;
use std::sync::Arc;

use svc::storage::Storage;

use super::tools;
use crate::config::RunnerConfig;

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
