use svc::testing::{smoke_test_binary, TestDb};

#[tokio::test]
async fn the_real_binary_becomes_ready_and_exits_cleanly_on_sigterm() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().to_str().unwrap();
    smoke_test_binary(
        env!("CARGO_BIN_EXE_scheduler"),
        "SCHEDULER_ADDR",
        &[
            ("DATABASE_URL", &db.url),
            ("DRAIN_TIMEOUT", "5s"),
            ("STORAGE_DIR", storage),
        ],
    )
    .await;
}
