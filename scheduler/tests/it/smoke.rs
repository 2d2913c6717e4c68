//! The real executable: it becomes ready and exits cleanly on SIGTERM, finishing the job it is
//! running and releasing the claims it never started.

use std::time::Duration;

use svc::jobs::JobKind::ProcessVideo;
use svc::storage::keys;
use svc::testing::{smoke_test_binary, wait_ready, TestDb};
use svc::VideoState;

use crate::helpers::{fake_tool, start_binary, TestEnv};
use crate::samples::Sample;

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

/// On S3 the same, its `/readyz` checking the bucket (a probe object put and deleted).
#[tokio::test]
async fn the_real_binary_on_s3_becomes_ready_and_exits_cleanly_on_sigterm() {
    let db = TestDb::migrated().await;
    let scratch = tempfile::tempdir().unwrap();
    let server = svc::testing::S3Server::start().await;
    let bucket = server.bucket().await;
    let mut env: Vec<(&str, String)> = server.env(&bucket);
    env.push(("DATABASE_URL", db.url.clone()));
    env.push(("DRAIN_TIMEOUT", "5s".into()));
    env.push(("SCRATCH_DIR", scratch.path().to_str().unwrap().into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    smoke_test_binary(env!("CARGO_BIN_EXE_scheduler"), "SCHEDULER_ADDR", &env).await;
}

/// The real binary under SIGTERM: the job an executor is running finishes, the claims no
/// executor started are released for another scheduler, and the process exits 0.
#[tokio::test]
async fn sigterm_finishes_the_running_job_and_releases_the_unstarted_claims() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    for _ in 0..10 {
        let vid = env.video(user, VideoState::Uploaded).await;
        env.write(&keys::video(&vid), b"not a video");
        env.enqueue(ProcessVideo, &vid).await;
    }
    // A slow "ffprobe": answers the start-up version check at once; for a file it says it has
    // started, then takes two seconds and rejects it, so the one job an executor runs is still
    // running at SIGTERM.
    let tools = tempfile::tempdir().unwrap();
    let started = tools.path().join("started");
    let probe = fake_tool(
        tools.path(),
        "ffprobe",
        &format!(
            "[ \"$1\" = -version ] && exit 0\ntouch '{}'\nsleep 2\necho 'slow reject' >&2\nexit 1\n",
            started.display()
        ),
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduler"))
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
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    if let Err(why) = wait_ready(&mut child, &readyz).await {
        panic!("the scheduler {why}");
    }
    env.wait_for_count(
        "SELECT COUNT(*) FROM jobs WHERE state = 'running'",
        10,
        Duration::from_secs(15),
    )
    .await;
    svc::testing::eventually("a job to start", Duration::from_secs(15), || async {
        started.exists().then_some(())
    })
    .await;

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exit within 30 s of SIGTERM")
        .unwrap();
    assert!(
        out.status.success(),
        "exit status {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The running job finished: its file was refused (a permanent failure, one attempt).
    let states: Vec<(String, u32, u64)> = env
        .rows(
            "SELECT CAST(state AS CHAR), attempts, COUNT(*) FROM jobs
             WHERE lease_owner IS NULL AND lease_until IS NULL
             GROUP BY state, attempts ORDER BY CAST(state AS CHAR)",
        )
        .await;
    assert_eq!(
        states,
        vec![("failed".to_string(), 1, 1), ("queued".to_string(), 0, 9)]
    );
    let reasons: Vec<String> = env
        .rows("SELECT failure_reason FROM video_info WHERE state = 'failed'")
        .await;
    assert_eq!(
        reasons,
        ["This file is damaged or incomplete; upload it again."]
    );
    let errors: Vec<String> = env
        .rows("SELECT last_error FROM jobs WHERE state = 'failed'")
        .await;
    assert_eq!(errors, ["refused: ffprobe exited with 1: slow reject"]);
}

/// A scheduler killed outright (SIGKILL, the OOM killer) runs no drop handler, so only the
/// kernel can end its transcode: ffmpeg runs under `PR_SET_PDEATHSIG` and dies with it instead
/// of encoding on, orphaned, for a job another scheduler will redo.
#[tokio::test]
async fn a_killed_scheduler_takes_its_ffmpeg_with_it() {
    let env = TestEnv::new().await;
    let media = tempfile::tempdir().unwrap();
    let clip = Sample::Hevc.make_lasting(media.path(), 60.0);
    let vid = env.uploaded(&clip, Sample::Hevc.content_type()).await;
    env.enqueue(ProcessVideo, &vid).await;
    // The real ffmpeg, behind a wrapper that writes down the transcode's pid (`exec` keeps it).
    let tools = tempfile::tempdir().unwrap();
    let pid_file = tools.path().join("transcode.pid");
    let ffmpeg = fake_tool(
        tools.path(),
        "ffmpeg",
        &format!(
            "case \"$*\" in *-progress*) echo $$ > '{}.tmp'; mv '{0}.tmp' '{0}';; esac\nexec ffmpeg \"$@\"\n",
            pid_file.display()
        ),
    );

    let ffmpeg = ffmpeg.to_str().unwrap();
    let mut child = start_binary(&env, &[("FFMPEG", ffmpeg)]).await;
    let pid: u32 = svc::testing::eventually(
        "the transcode to start",
        Duration::from_secs(60),
        || async {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        },
    )
    .await;
    assert!(running(pid), "the transcode {pid} runs");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while running(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if ended.is_err() {
        // Do not leave it encoding on the test machine.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("ffmpeg {pid} outlived the scheduler that started it");
    }
}

/// Whether `pid` is a live process: it exists and is not a zombie waiting to be reaped.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which is in parentheses and may hold spaces.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}
