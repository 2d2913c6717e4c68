//! Tracing set-up: human-readable lines by default, one JSON object per line with
//! `LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).
//!
//! The per-request span itself is opened by the server loop (`server.rs`), not here.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless (the second call does nothing),
/// which lets tests start several apps in one process.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Quiet tracing for tests: nothing unless `TEST_LOG` is set, then human lines at `RUST_LOG`
/// (default `debug`) captured by the test harness.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_none() {
        return;
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
    let _ = fmt().with_env_filter(filter).with_test_writer().try_init();
}
