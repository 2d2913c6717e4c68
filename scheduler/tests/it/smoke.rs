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

/// The real binary under SIGTERM: the job an executor is running finishes, the claims no
/// executor started are released for another scheduler, and the process exits 0.
#[tokio::test]
async fn sigterm_finishes_the_running_job_and_releases_the_unstarted_claims() {
    use mysql_async::prelude::Queryable;
    use std::os::unix::fs::PermissionsExt;

    let env = crate::helpers::TestEnv::new().await;
    let user = env.user().await;
    for _ in 0..10 {
        let vid = env.video(user, "uploaded").await;
        env.write(&svc::storage::keys::video(&vid), b"not a video");
        env.enqueue(svc::jobs::PROCESS_VIDEO, &vid).await;
    }
    // A slow "ffprobe": answers the start-up version check at once, then takes two seconds per
    // file and rejects it, so the one job an executor runs is still running at SIGTERM.
    let tools = tempfile::tempdir().unwrap();
    let started = tools.path().join("started");
    let probe = tools.path().join("ffprobe");
    std::fs::write(
        &probe,
        format!(
            "#!/bin/sh\n[ \"$1\" = -version ] && exit 0\ntouch '{}'\nsleep 2\necho 'slow reject' >&2\nexit 1\n",
            started.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env("DATABASE_URL", &env.db.url)
        .env("SCHEDULER_ADDR", format!("127.0.0.1:{port}"))
        .env("STORAGE_DIR", env.root())
        .env("FFPROBE", &probe)
        .env("JOB_WORKERS", "1")
        .env("JOB_BATCH", "10")
        .env("DRAIN_TIMEOUT", "20s")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut running = 0;
    for _ in 0..300 {
        running = env
            .count("SELECT COUNT(*) FROM jobs WHERE state = 'running'")
            .await;
        if running == 10 && started.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(running, 10, "the scheduler never claimed the jobs");
    assert!(started.exists(), "no job started");

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exit within 30 s of SIGTERM")
        .unwrap();
    assert!(
        out.status.success(),
        "exit status {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let states: Vec<(String, u64)> = env
        .conn()
        .await
        .query(
            "SELECT CAST(state AS CHAR), COUNT(*) FROM jobs
             WHERE lease_owner IS NULL AND lease_until IS NULL AND attempts = 0
             GROUP BY state ORDER BY CAST(state AS CHAR)",
        )
        .await
        .unwrap();
    assert_eq!(
        states,
        vec![("done".to_string(), 1), ("queued".to_string(), 9)]
    );
    let reasons: Vec<String> = env
        .conn()
        .await
        .query("SELECT failure_reason FROM video_info WHERE state = 'failed'")
        .await
        .unwrap();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("slow reject"), "{reasons:?}");
}
