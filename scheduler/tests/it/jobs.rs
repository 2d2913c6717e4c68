//! The runner's guarantees: many jobs over two runners each done exactly once, lease expiry,
//! retries with growing backoff, deletion semantics, shutdown releasing claims, unknown kinds,
//! housekeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scheduler::{Housekeeping, Outcome};
use svc::jobs::JobKind::{self, DeleteVideo};
use svc::storage::keys;
use svc::{VideoId, VideoState};
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

use crate::helpers::{run_one, test_config, CountingStorage, TestEnv};

#[tokio::test]
async fn two_runners_drain_a_thousand_jobs_each_exactly_once() {
    let env = TestEnv::new().await;
    let mut vids = Vec::new();
    {
        let mut conn = env.conn().await;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .unwrap();
        for _ in 0..1000 {
            let vid = VideoId::random();
            env.write(&keys::video(&vid), b"video bytes");
            svc::jobs::enqueue(&mut tx, DeleteVideo, &vid)
                .await
                .unwrap();
            vids.push(vid);
        }
        tx.commit().await.unwrap();
    }
    // One tally per runner: together they must cover every key exactly once, and each runner
    // must have done a share (the queue really is shared).
    let tallies = [
        Arc::new(Mutex::new(HashMap::new())),
        Arc::new(Mutex::new(HashMap::new())),
    ];
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut owners = Vec::new();
    for tally in &tallies {
        let storage = Arc::new(CountingStorage {
            inner: env.storage.clone(),
            deletes: tally.clone(),
        });
        let runner = Arc::new(env.runner_on(storage, test_config()));
        owners.push(runner.owner().to_string());
        let cron = JobScheduler::new().await.unwrap();
        tasks.push(tokio::spawn(runner.run(cron, shutdown.clone())));
    }
    assert_ne!(owners[0], owners[1]);

    env.wait_for_count(
        "SELECT COUNT(*) FROM jobs WHERE state = 'done'",
        1000,
        Duration::from_secs(120),
    )
    .await;
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let a = tallies[0].lock().unwrap().clone();
    let b = tallies[1].lock().unwrap().clone();
    assert!(!a.is_empty() && !b.is_empty(), "both runners took jobs");
    let mut deletes = a;
    for (key, n) in b.iter() {
        *deletes.entry(key.clone()).or_default() += n;
    }
    for vid in &vids {
        for key in keys::of_video(vid) {
            assert_eq!(deletes.get(&key), Some(&1), "{key}");
        }
        assert!(!env.path(&keys::video(vid)).exists());
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs WHERE lease_owner IS NOT NULL OR attempts > 0")
            .await,
        0
    );
}

#[tokio::test]
async fn a_job_whose_lease_expired_is_taken_again_and_the_old_owner_cannot_record_it() {
    let env = TestEnv::new().await;
    let vid = VideoId::random();
    env.write(&keys::video(&vid), b"x");
    let id = env.enqueue(DeleteVideo, &vid).await;

    let crashed = env.runner(test_config());
    let taken = crashed.dispatch_once().await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].kind, Ok(DeleteVideo));
    assert_eq!(taken[0].video_id.as_ref(), Some(&vid));
    let other = env.runner(test_config());
    assert!(
        other.dispatch_once().await.unwrap().is_empty(),
        "a leased job must not be claimed twice"
    );

    // Time passes beyond the lease: the first runner is presumed dead.
    env.update_job(
        id,
        "lease_until = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 1 SECOND)",
    )
    .await;
    let retaken = other.dispatch_once().await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].id, id);
    assert_eq!(
        env.job(id).await.lease_owner.as_deref(),
        Some(other.owner())
    );
    assert_eq!(other.execute_one(&retaken[0]).await, Outcome::Done);
    let row = env.job(id).await;
    assert_eq!(row.state, "done");
    assert!(row.finished);
    assert!(!env.path(&keys::video(&vid)).exists());

    // The presumed-dead runner wakes up and finishes too: idempotent work, nothing recorded.
    assert_eq!(crashed.execute_one(&taken[0]).await, Outcome::LeaseLost);
    assert_eq!(env.job(id).await.state, "done");
}

/// A directory where the video file should be: `remove_file` fails with EISDIR even for root,
/// so this is a real deletion failure, not a simulated one.
fn unremovable(env: &TestEnv, vid: &VideoId) {
    let path = env.path(&keys::video(vid));
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("inside"), b"x").unwrap();
}

#[tokio::test]
async fn a_failing_job_is_retried_with_growing_backoff_then_fails_for_good() {
    let env = TestEnv::new().await;
    let vid = VideoId::random();
    unremovable(&env, &vid);
    let id = env.enqueue(DeleteVideo, &vid).await;
    env.update_job(id, "max_attempts = 4").await;
    let runner = env.runner(test_config());

    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let outcome = run_one(&runner).await;
        assert!(matches!(outcome, Outcome::Retry(_)), "attempt {attempt}");
        let row = env.job(id).await;
        assert_eq!(row.state, "queued");
        assert_eq!(row.attempts, attempt);
        assert!(row.lease_owner.is_none());
        delays.push(row.retry_delay_us);
        // Not due yet: a dispatch now finds nothing.
        assert!(runner.dispatch_once().await.unwrap().is_empty());
        env.update_job(id, "run_after = UTC_TIMESTAMP(6)").await;
    }
    let row = env.job(id).await;
    assert_eq!(row.attempts, 3);
    let error = row.last_error.unwrap();
    assert!(error.contains(&keys::video(&vid)), "{error}");
    assert!(
        delays[0] < delays[1] && delays[1] < delays[2],
        "backoff must grow: {delays:?}"
    );
    assert_eq!(delays, vec![1_000_000, 2_000_000, 4_000_000]);
    assert!(env.path(&keys::video(&vid)).exists(), "nothing dropped");

    assert_eq!(run_one(&runner).await, Outcome::GaveUp);
    let row = env.job(id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 4));
    assert!(runner.dispatch_once().await.unwrap().is_empty());

    // Fixed by hand and queued again: it now completes.
    std::fs::remove_dir_all(env.path(&keys::video(&vid))).unwrap();
    env.enqueue(DeleteVideo, &vid).await;
    assert_eq!(run_one(&runner).await, Outcome::Done);
    assert_eq!(env.job(id).await.state, "done");
}

#[tokio::test]
async fn deleting_a_video_removes_its_files_and_uploads_and_gone_files_are_fine() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let runner = env.runner(test_config());

    // Everything present: file, thumbnail, two uploads with bytes.
    let vid = VideoId::random();
    env.write(&keys::video(&vid), b"v");
    env.write(&keys::thumbnail(&vid), b"t");
    let up1 = env.upload(user, &vid, 3600, false).await;
    let up2 = env.upload(user, &vid, 3600, true).await;
    env.write(&keys::upload(&up1), b"partial");
    env.write(&keys::upload(&up2), b"whole");
    // An unrelated upload stays.
    let other_vid = VideoId::random();
    let other = env.upload(user, &other_vid, 3600, false).await;
    env.write(&keys::upload(&other), b"other");

    // Already gone: no files at all, an upload row without bytes.
    let gone = VideoId::random();
    let gone_up = env.upload(user, &gone, 3600, false).await;

    let a = env.enqueue(DeleteVideo, &vid).await;
    let b = env.enqueue(DeleteVideo, &gone).await;
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    assert_eq!(env.job(a).await.state, "done");
    assert_eq!(env.job(b).await.state, "done");
    let mut removed = keys::of_video(&vid).to_vec();
    removed.extend([keys::upload(&up1), keys::upload(&up2)]);
    for key in removed {
        assert!(!env.path(&key).exists(), "{key}");
    }
    assert!(env.path(&keys::upload(&other)).exists());
    let left: Vec<String> = env.rows("SELECT id FROM uploads").await;
    assert_eq!(left, vec![other]);
    assert!(!left.contains(&gone_up));
}

#[tokio::test]
async fn a_deletion_of_a_video_that_still_exists_is_refused_and_retried() {
    let env = TestEnv::new().await;
    let vid = env.stored_video(VideoState::Ready, b"still listed").await;
    let id = env.enqueue(DeleteVideo, &vid).await;
    let runner = env.runner(test_config());
    assert!(matches!(run_one(&runner).await, Outcome::Retry(_)));
    let row = env.job(id).await;
    assert!(row.last_error.unwrap().contains("still exists"));
    assert!(env.path(&keys::video(&vid)).exists());
}

#[tokio::test]
async fn shutdown_releases_claims_that_never_started() {
    let env = TestEnv::new().await;
    for _ in 0..5 {
        env.enqueue(DeleteVideo, &VideoId::random()).await;
    }
    let runner = Arc::new(env.runner(test_config()));
    let claimed = runner.dispatch_once().await.unwrap();
    assert_eq!(claimed.len(), 5);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs WHERE state = 'running'")
            .await,
        5
    );

    // Shut down before any executor took them (the signal arrived first).
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let cron = JobScheduler::new().await.unwrap();
    runner.clone().run(cron, shutdown).await.unwrap();

    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND lease_owner IS NULL
               AND lease_until IS NULL AND attempts = 0 AND run_after <= UTC_TIMESTAMP(6)"
        )
        .await,
        5
    );
    // Another scheduler can take them at once.
    assert_eq!(
        env.runner(test_config())
            .dispatch_once()
            .await
            .unwrap()
            .len(),
        5
    );
}

/// A kind written by a newer scheduler is not run as anything else: the attempt fails with a
/// message naming it, the row keeps its kind for the scheduler that knows it, and once out of
/// attempts it is `failed` with that message, its video untouched.
#[tokio::test]
async fn an_unknown_job_kind_is_failed_with_a_message_and_not_run() {
    let env = TestEnv::new().await;
    let vid = env
        .stored_video(VideoState::Uploaded, b"not to be touched")
        .await;
    assert_eq!(JobKind::parse("transcode_video"), None);
    let id = env.insert_job("transcode_video", Some(vid.as_str())).await;
    env.update_job(id, "max_attempts = 2").await;
    let runner = env.runner(test_config());

    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, Err("transcode_video".to_string()));
    assert_eq!(jobs[0].kind_name(), "transcode_video");
    assert!(matches!(
        runner.execute_one(&jobs[0]).await,
        Outcome::Retry(_)
    ));
    let message = "unknown job kind \"transcode_video\"; a newer scheduler may know it";
    let row = env.job(id).await;
    assert_eq!(
        (row.kind.as_str(), row.state.as_str()),
        ("transcode_video", "queued")
    );
    assert_eq!(row.last_error.as_deref(), Some(message));

    env.update_job(id, "run_after = UTC_TIMESTAMP(6)").await;
    assert_eq!(run_one(&runner).await, Outcome::GaveUp);
    let row = env.job(id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 2));
    assert_eq!(row.last_error.as_deref(), Some(message));
    assert!(env.path(&keys::video(&vid)).exists(), "nothing was run");
    let states: Vec<String> = env.rows("SELECT CAST(state AS CHAR) FROM video_info").await;
    assert_eq!(states, ["uploaded"], "a video is failed only by processing");
}

/// A job of a kind about one video whose row has no usable id fails with that said, rather
/// than working on nothing.
#[tokio::test]
async fn a_video_job_without_a_video_id_is_failed_with_a_message() {
    let env = TestEnv::new().await;
    let id = env.insert_job(DeleteVideo.as_str(), None).await;
    let runner = env.runner(test_config());
    assert!(matches!(run_one(&runner).await, Outcome::Retry(_)));
    let error = env.job(id).await.last_error.unwrap();
    assert!(
        error.contains("a delete_video job needs a video id"),
        "{error}"
    );
}

#[tokio::test]
async fn housekeeping_purges_old_done_jobs_and_sweeps_expired_uploads() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = VideoId::random();
    let expired = env.upload(user, &vid, -60, false).await;
    let expired_but_complete = env.upload(user, &vid, -60, true).await;
    let live = env.upload(user, &vid, 3600, false).await;
    for id in [&expired, &expired_but_complete, &live] {
        env.write(&keys::upload(id), b"bytes");
    }
    let [old, recent, failed] = [
        env.enqueue(DeleteVideo, &VideoId::random()).await,
        env.enqueue(DeleteVideo, &VideoId::random()).await,
        env.enqueue(DeleteVideo, &VideoId::random()).await,
    ];
    for (id, state, days) in [
        (old, "done", 8),
        (recent, "done", 6),
        (failed, "failed", 30),
    ] {
        let set = format!(
            "state = '{state}', finished_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL {days} DAY)"
        );
        env.update_job(id, &set).await;
    }

    let runner = env.runner(test_config());
    scheduler::housekeeping::housekeeping_once(runner.context(), &Housekeeping::default()).await;

    let ids: Vec<u64> = env.rows("SELECT id FROM jobs ORDER BY id").await;
    assert_eq!(ids, vec![recent, failed]);
    let uploads: Vec<String> = env.rows("SELECT id FROM uploads").await;
    assert_eq!(uploads.len(), 2);
    assert!(!uploads.contains(&expired));
    assert!(!env.path(&keys::upload(&expired)).exists());
    assert!(env.path(&keys::upload(&expired_but_complete)).exists());
    assert!(env.path(&keys::upload(&live)).exists());
}
