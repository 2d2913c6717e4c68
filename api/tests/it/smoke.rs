//! The real `api` executable: becomes ready on a fresh database and exits 0 on SIGTERM.

use svc::testing::{smoke_test_binary, TestDb};

#[tokio::test]
async fn the_real_binary_becomes_ready_and_exits_cleanly_on_sigterm() {
    let db = TestDb::empty().await;
    smoke_test_binary(
        env!("CARGO_BIN_EXE_api"),
        "API_ADDR",
        &[("DATABASE_URL", &db.url), ("DRAIN_TIMEOUT", "5s")],
    )
    .await;
}
