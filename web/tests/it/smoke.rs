use svc::testing::smoke_test_binary;

#[tokio::test]
async fn the_real_binary_becomes_ready_and_exits_cleanly_on_sigterm() {
    smoke_test_binary(
        env!("CARGO_BIN_EXE_web"),
        "WEB_ADDR",
        &[("DRAIN_TIMEOUT", "5s")],
    )
    .await;
}
