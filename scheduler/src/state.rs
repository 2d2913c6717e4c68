//! `Scheduler`, the state the HTTP handlers share: the pool, storage, the configuration and the
//! runner to wake.
//!
//! How a request reaches a handler is `routes`' business and how the process starts and stops is
//! `lib.rs`'s; neither belongs here, so this module imports neither and both import it.

use std::sync::Arc;

use svc::storage::Storage;

use crate::config::Config;
use crate::runner::Runner;

/// Shared state of the scheduler's request handlers.
pub struct Scheduler {
    pub pool: mysql_async::Pool,
    pub storage: Arc<dyn Storage>,
    pub config: Config,
    /// Woken when a deletion is queued over HTTP; `None` in tests that serve routes only.
    pub runner: Option<Arc<Runner>>,
}
