//! How transcodes share the machine and survive interruptions: the lease heartbeat, the
//! `TRANSCODE_CONCURRENCY` limit, progress, the time limit, a remux ffmpeg refuses for good,
//! and SIGTERM / SIGKILL of the real executable mid-transcode. Real ffmpeg behind a [`Hook`]
//! the tests hold and watch.

use std::sync::Arc;
use std::time::Duration;

use scheduler::{Outcome, RunnerConfig};
use svc::jobs::JobKind::{MakeLadder, ProcessVideo};
use svc::storage::keys;
use svc::VideoId;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

use crate::helpers::{gone, run_one, signal, start_binary, test_config, Hook, TestEnv};
use crate::samples::Sample;

/// A two-second HEVC upload (which is transcoded) of a new video; the samples' directory
/// lives as long as the test.
async fn hevc_upload(env: &TestEnv, samples: &tempfile::TempDir, seconds: f64) -> VideoId {
    let file = Sample::Hevc.make_lasting(samples.path(), seconds);
    env.uploaded(&file, Sample::Hevc.content_type()).await
}

fn hooked(hook: &Hook) -> RunnerConfig {
    RunnerConfig {
        ffmpeg: hook.program.clone(),
        ..test_config()
    }
}

/// Runs `runner`'s loop until the returned token is cancelled.
async fn run_loop(
    runner: Arc<scheduler::Runner>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let shutdown = CancellationToken::new();
    let cron = JobScheduler::new().await.unwrap();
    let task = tokio::spawn(runner.run(cron, shutdown.clone()));
    (shutdown, task)
}

/// The number of progressive transcodes ffmpeg was asked for.
fn progressive_transcodes(hook: &Hook) -> usize {
    hook.calls()
        .iter()
        .filter(|c| c.contains("libx264") && c.contains("+faststart"))
        .count()
}

#[tokio::test]
async fn a_transcode_longer_than_the_lease_finishes_once_and_is_never_claimed_twice() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = hevc_upload(&env, &samples, 2.0).await;
    let id = env.enqueue(ProcessVideo, &vid).await;
    let hook = Hook::new(1_000_000);
    hook.hold();
    let config = RunnerConfig {
        lease: Duration::from_secs(2),
        ..hooked(&hook)
    };
    let first = Arc::new(env.runner(config.clone()));
    let (shutdown, task) = run_loop(first.clone()).await;
    hook.started().await;

    // For more than two whole leases a second scheduler finds nothing to claim: the first
    // renews its lease while ffmpeg runs.
    let second = env.runner(config);
    let held = format!(
        "SELECT TIMESTAMPDIFF(MICROSECOND, updated_at, UTC_TIMESTAMP(6)) > 5000000,
                lease_until > UTC_TIMESTAMP(6), lease_owner FROM jobs WHERE id = {id}"
    );
    svc::testing::eventually("two leases to pass", Duration::from_secs(30), || async {
        let claimed = second.dispatch_once().await.unwrap();
        assert!(
            claimed.is_empty(),
            "claimed by a second scheduler: {claimed:?}"
        );
        let rows: Vec<(bool, bool, String)> = env.rows(&held).await;
        let (long_enough, leased, owner) = rows[0].clone();
        assert!(leased, "the lease is current");
        assert_eq!(owner, first.owner());
        long_enough.then_some(())
    })
    .await;

    hook.go();
    env.wait_for_count(
        &format!("SELECT COUNT(*) FROM jobs WHERE id = {id} AND state = 'done'"),
        1,
        Duration::from_secs(30),
    )
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let job = env.job(id).await;
    assert_eq!((job.attempts, job.last_error), (0, None));
    assert_eq!(progressive_transcodes(&hook), 1, "transcoded once");
    assert_eq!(env.processed(&vid).await.state, "ready");
}

#[tokio::test]
async fn one_transcode_at_a_time_with_two_jobs_at_once() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let a = hevc_upload(&env, &samples, 2.0).await;
    let b = hevc_upload(&env, &samples, 2.0).await;
    env.enqueue(ProcessVideo, &a).await;
    env.enqueue(ProcessVideo, &b).await;
    let hook = Hook::new(1_000_000);
    // Each transcode lasts at least 0.3 s, so two let through together would overlap.
    hook.slow("0.3");
    let config = RunnerConfig {
        transcode_concurrency: 1,
        workers: 4,
        ..hooked(&hook)
    };
    let runner = Arc::new(env.runner(config));
    let (shutdown, task) = run_loop(runner).await;
    // Both progressive renditions, both ladders (a rung and a storyboard each).
    env.wait_for_count(
        "SELECT COUNT(*) FROM jobs WHERE state = 'done'",
        4,
        Duration::from_secs(60),
    )
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let (started, most) = hook.transcodes();
    assert_eq!(started, 6);
    assert_eq!(most, 1, "never two transcodes at once");
    for vid in [&a, &b] {
        assert!(env.processed(vid).await.has_storyboard);
    }
}

#[tokio::test]
async fn two_transcodes_run_together_when_the_limit_allows_it() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let a = hevc_upload(&env, &samples, 2.0).await;
    let b = hevc_upload(&env, &samples, 2.0).await;
    env.enqueue(ProcessVideo, &a).await;
    env.enqueue(ProcessVideo, &b).await;
    let hook = Hook::new(1_000_000);
    hook.hold();
    let config = RunnerConfig {
        transcode_concurrency: 2,
        ..hooked(&hook)
    };
    let runner = Arc::new(env.runner(config));
    let (shutdown, task) = run_loop(runner).await;
    // Both held at once: the limit (and this test's way of seeing overlap) is real.
    svc::testing::eventually(
        "two transcodes at once",
        Duration::from_secs(20),
        || async { (hook.transcodes().0 == 2).then_some(()) },
    )
    .await;
    hook.go();
    env.wait_for_count(
        "SELECT COUNT(*) FROM jobs WHERE state = 'done'",
        4,
        Duration::from_secs(60),
    )
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(hook.transcodes().1, 2);
}

#[tokio::test]
async fn progress_is_written_while_transcodes_run_and_cleared_after() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = hevc_upload(&env, &samples, 2.0).await;
    env.enqueue(ProcessVideo, &vid).await;
    // A held transcode reports one second of its two.
    let hook = Hook::new(1_000_000);
    hook.hold();
    let runner = env.runner(hooked(&hook));
    let jobs = runner.dispatch_once().await.unwrap();
    let job = tokio::spawn(async move { (runner.execute_one(&jobs[0]).await, runner) });
    hook.started().await;
    // One second of about two (the audio's priming can add a few tens of milliseconds).
    let about_half = |p: Option<u8>| p.is_some_and(|p| (45..=50).contains(&p));
    svc::testing::eventually(
        "about 50% while processing",
        Duration::from_secs(10),
        || async {
            let row = env.processed(&vid).await;
            (row.state == "processing" && about_half(row.progress)).then_some(())
        },
    )
    .await;
    assert!(
        !env.path(&keys::video(&vid)).exists(),
        "nothing is served while the transcode runs"
    );
    hook.go();
    let (outcome, runner) = job.await.unwrap();
    assert_eq!(outcome, Outcome::Done);
    let row = env.processed(&vid).await;
    assert_eq!((row.state.as_str(), row.progress), ("ready", None));

    // The ladder reports its rungs the same way, while the video stays ready.
    hook.hold();
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs[0].kind, Ok(MakeLadder));
    let job = tokio::spawn(async move { runner.execute_one(&jobs[0]).await });
    hook.started().await;
    svc::testing::eventually(
        "the ladder at about 50%",
        Duration::from_secs(10),
        || async {
            let row = env.processed(&vid).await;
            (row.state == "ready" && about_half(row.progress)).then_some(())
        },
    )
    .await;
    hook.go();
    assert_eq!(job.await.unwrap(), Outcome::Done);
    assert_eq!(env.processed(&vid).await.progress, None);
}

#[tokio::test]
async fn a_transcode_past_its_time_limit_is_killed_and_redone_from_the_start() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    // 0.05 s of video: the limit is FFMPEG_TIMEOUT (1 s), not ten times the duration.
    let vid = hevc_upload(&env, &samples, 0.05).await;
    let id = env.enqueue(ProcessVideo, &vid).await;
    let hook = Hook::new(25_000);
    hook.hold();
    let config = RunnerConfig {
        ffmpeg_timeout: Duration::from_secs(1),
        ..hooked(&hook)
    };
    let runner = env.runner(config);
    let outcome = run_one(&runner).await;
    assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
    let job = env.job(id).await;
    let error = job.last_error.unwrap();
    assert!(
        error.contains("did not finish within 1s and was killed"),
        "{error}"
    );
    gone(hook.started().await).await;
    let row = env.processed(&vid).await;
    assert_eq!((row.state.as_str(), row.progress), ("processing", None));
    assert!(!env.path(&keys::video(&vid)).exists());
    assert!(env.path(&keys::original(&vid)).exists());
    assert!(env.scratch_files().is_empty(), "{:?}", env.scratch_files());

    // The retry (with time enough on a loaded machine) starts again from the original.
    hook.go();
    env.update_job(id, "run_after = UTC_TIMESTAMP(6)").await;
    assert_eq!(run_one(&env.runner(hooked(&hook))).await, Outcome::Done);
    assert_eq!(env.processed(&vid).await.state, "ready");
    assert_eq!(progressive_transcodes(&hook), 2);
}

#[tokio::test]
async fn a_remux_ffmpeg_refuses_for_good_is_transcoded_in_the_same_attempt() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let file = Sample::H264Mov.make(samples.path());
    let vid = env.uploaded(&file, Sample::H264Mov.content_type()).await;
    let id = env.enqueue(ProcessVideo, &vid).await;
    let hook = Hook::new(1_000_000);
    hook.refuse("-c copy");
    assert_eq!(run_one(&env.runner(hooked(&hook))).await, Outcome::Done);
    let job = env.job(id).await;
    assert_eq!(
        (job.state.as_str(), job.attempts, job.last_error),
        ("done", 0, None)
    );
    let calls = hook.calls();
    let remux = calls.iter().position(|c| c.contains("-c copy")).unwrap();
    let transcode = calls.iter().position(|c| c.contains("libx264")).unwrap();
    assert!(remux < transcode, "{calls:#?}");
    let row = env.processed(&vid).await;
    assert_eq!(row.state, "ready");
    assert!(row.has_original);
    assert_eq!(row.content_type.as_deref(), Some("video/mp4"));
}

#[tokio::test]
async fn a_transient_remux_failure_is_retried_not_transcoded() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let file = Sample::H264Mov.make(samples.path());
    let vid = env.uploaded(&file, Sample::H264Mov.content_type()).await;
    let id = env.enqueue(ProcessVideo, &vid).await;
    // The disk is full: ffmpeg's words say so.
    let tools = tempfile::tempdir().unwrap();
    let full = crate::helpers::fake_tool(
        tools.path(),
        "ffmpeg",
        "echo 'av_interleaved_write_frame(): No space left on device' >&2\nexit 1\n",
    );
    let runner = env.runner(RunnerConfig {
        ffmpeg: full,
        ..test_config()
    });
    assert!(matches!(run_one(&runner).await, Outcome::Retry(_)));
    let error = env.job(id).await.last_error.unwrap();
    assert!(error.contains("No space left on device"), "{error}");
    let row = env.processed(&vid).await;
    assert_eq!(row.state, "uploaded", "still served as it came");
    assert!(!row.has_original);
}

/// The real executable stopped mid-transcode by `how`; returns the job and video.
async fn interrupted(
    how: &str,
    env: &TestEnv,
    hook: &Hook,
    samples: &tempfile::TempDir,
) -> (u64, VideoId) {
    // Six seconds read in real time: still running when the signal comes.
    let vid = hevc_upload(env, samples, 6.0).await;
    let id = env.enqueue(ProcessVideo, &vid).await;
    hook.realtime();
    let program = hook.program.to_str().unwrap().to_string();
    let mut child = start_binary(
        env,
        &[
            ("FFMPEG", program.as_str()),
            ("DRAIN_TIMEOUT", "1s"),
            ("JOB_LEASE", "2s"),
            ("JOB_WORKERS", "1"),
        ],
    )
    .await;
    let ffmpeg = hook.started().await;
    // ffmpeg is writing the rendition into scratch.
    svc::testing::eventually("the scratch rendition", Duration::from_secs(10), || async {
        env.scratch_files()
            .iter()
            .any(|f| f.ends_with(".mp4"))
            .then_some(())
    })
    .await;
    assert!(
        !env.path(&keys::video(&vid)).exists(),
        "nothing half-written is visible"
    );
    signal(child.id().unwrap(), how);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the scheduler stops")
        .unwrap();
    if how == "-TERM" {
        assert!(status.success(), "{status}");
    } else {
        // A killed scheduler's ffmpeg runs on into its scratch file; stop it here.
        signal(ffmpeg, "-KILL");
    }
    gone(ffmpeg).await;
    let row = env.processed(&vid).await;
    assert_eq!(row.state, "processing");
    assert!(
        !env.path(&keys::video(&vid)).exists(),
        "nothing half-written is visible"
    );
    assert!(env.path(&keys::original(&vid)).exists());
    (id, vid)
}

#[tokio::test]
async fn sigterm_mid_transcode_leaves_nothing_visible_and_the_next_claim_redoes_it() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let hook = Hook::new(0);
    let (id, vid) = interrupted("-TERM", &env, &hook, &samples).await;
    // Released at shutdown, its scratch file removed with it.
    let job = env.job(id).await;
    assert_eq!(
        (job.state.as_str(), job.attempts, job.lease_owner),
        ("queued", 0, None)
    );
    assert!(env.scratch_files().is_empty(), "{:?}", env.scratch_files());

    assert_eq!(run_one(&env.runner(test_config())).await, Outcome::Done);
    let row = env.processed(&vid).await;
    assert_eq!((row.state.as_str(), row.progress), ("ready", None));
}

#[tokio::test]
async fn sigkill_mid_transcode_leaves_only_scratch_and_the_job_is_retaken_after_one_lease() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let hook = Hook::new(0);
    let (id, vid) = interrupted("-KILL", &env, &hook, &samples).await;
    let job = env.job(id).await;
    assert_eq!(job.state, "running", "nobody released it");
    let leftovers = env.scratch_files();
    assert!(
        !leftovers.is_empty(),
        "the dead run's output stays in scratch only"
    );

    // Claimable once its lease (2 s) has passed, then done from the start.
    let runner = env.runner(test_config());
    let jobs = svc::testing::eventually("the lease to expire", Duration::from_secs(10), || async {
        let jobs = runner.dispatch_once().await.unwrap();
        (!jobs.is_empty()).then_some(jobs)
    })
    .await;
    assert_eq!(jobs[0].id, id);
    assert_eq!(runner.execute_one(&jobs[0]).await, Outcome::Done);
    assert_eq!(env.processed(&vid).await.state, "ready");
    // What the killed run left in scratch was never published; the reconciler removes it.
    for name in leftovers {
        assert!(env.path(&format!("tmp/{name}")).exists());
    }
}
