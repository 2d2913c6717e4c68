//! Shared plumbing for the four services: configuration, telemetry, the HTTP server loop and its
//! router and body helpers, the one table of error codes, the check of each OpenAPI document
//! against its route table, the database pool and migrations, session lookup, video storage and
//! its key layout, metrics and test support (behind the `testing` feature, for the crates' tests
//! only).
//!
//! Admission rule: code lives here only when two binaries or more need it and it holds no product
//! logic of its own. The deliberate exceptions are the shared vocabulary every process reads and
//! writes the same way: the schema (`migrations/`), the session lookup, a video's id and states
//! (`video`), job kinds (`jobs`), storage keys (`storage::keys`) and removing a video
//! (`removal`), which the api and the scheduler must do alike.

pub mod build;
pub mod config;
pub mod db;
pub mod http;
pub mod jobs;
pub mod local_file;
pub mod media;
pub mod metrics;
pub mod migrate;
pub mod openapi;
pub mod removal;
pub mod router;
pub mod server;
pub mod sessions;
pub mod storage;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod video;

pub use config::{ConfigError, Env};
pub use http::{Body, BoxError};
pub use server::{App, Server};
pub use video::{VideoId, VideoState, Visibility};
