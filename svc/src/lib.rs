//! Shared plumbing for the four services: configuration, telemetry, the HTTP server loop and its
//! router and body helpers, the database pool and migrations, session lookup, video storage,
//! metrics and test support.
//!
//! Admission rule: code lives here only when two binaries or more need it and it holds no product
//! logic of its own. The schema (`migrations/`) and the session lookup are the deliberate
//! exceptions, because every process reads the same tables.

pub mod config;
pub mod db;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod migrate;
pub mod router;
pub mod server;
pub mod sessions;
pub mod storage;
pub mod telemetry;
pub mod testing;

pub use config::{ConfigError, Env};
pub use http::{Body, BoxError};
pub use server::{App, Server};
