//! The runner's guarantees: many jobs over two runners each done exactly once, lease expiry,
//! retries with growing backoff, deletion semantics, shutdown releasing claims, housekeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::Outcome;
use svc::jobs::DELETE_VIDEO;
use svc::storage::keys;
use tokio_cron_scheduler::JobScheduler;
use tokio_util::sync::CancellationToken;

use crate::helpers::{test_config, CountingStorage, TestEnv};

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
            let vid = uuid::Uuid::new_v4().to_string();
            env.write(&keys::video(&vid), b"video bytes");
            svc::jobs::enqueue(&mut tx, DELETE_VIDEO, &vid)
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

    let mut done = 0;
    for _ in 0..1200 {
        done = env
            .count("SELECT COUNT(*) FROM jobs WHERE state = 'done'")
            .await;
        if done == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(done, 1000, "not every job finished");

    let a = tallies[0].lock().unwrap().clone();
    let b = tallies[1].lock().unwrap().clone();
    assert!(!a.is_empty() && !b.is_empty(), "both runners took jobs");
    let mut deletes = a;
    for (key, n) in b.iter() {
        *deletes.entry(key.clone()).or_default() += n;
    }
    for vid in &vids {
        assert_eq!(deletes.get(&keys::video(vid)), Some(&1), "video {vid}");
        assert_eq!(
            deletes.get(&keys::thumbnail(vid)),
            Some(&1),
            "thumbnail {vid}"
        );
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
    let vid = uuid::Uuid::new_v4().to_string();
    env.write(&keys::video(&vid), b"x");
    let id = env.enqueue(DELETE_VIDEO, &vid).await;

    let crashed = env.runner(test_config());
    let taken = crashed.dispatch_once().await.unwrap();
    assert_eq!(taken.len(), 1);
    let other = env.runner(test_config());
    assert!(
        other.dispatch_once().await.unwrap().is_empty(),
        "a leased job must not be claimed twice"
    );

    // Time passes beyond the lease: the first runner is presumed dead.
    env.conn()
        .await
        .exec_drop(
            "UPDATE jobs SET lease_until = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 1 SECOND) WHERE id = ?",
            (id,),
        )
        .await
        .unwrap();
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
fn unremovable(env: &TestEnv, vid: &str) {
    let path = env.path(&keys::video(vid));
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("inside"), b"x").unwrap();
}

async fn make_due(env: &TestEnv, id: u64) {
    env.conn()
        .await
        .exec_drop(
            "UPDATE jobs SET run_after = UTC_TIMESTAMP(6) WHERE id = ?",
            (id,),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_job_is_retried_with_growing_backoff_then_fails_for_good() {
    let env = TestEnv::new().await;
    let vid = uuid::Uuid::new_v4().to_string();
    unremovable(&env, &vid);
    let id = env.enqueue(DELETE_VIDEO, &vid).await;
    env.conn()
        .await
        .exec_drop("UPDATE jobs SET max_attempts = 4 WHERE id = ?", (id,))
        .await
        .unwrap();
    let runner = env.runner(test_config());

    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let jobs = runner.dispatch_once().await.unwrap();
        assert_eq!(jobs.len(), 1, "attempt {attempt}");
        assert!(matches!(
            runner.execute_one(&jobs[0]).await,
            Outcome::Retry(_)
        ));
        let row = env.job(id).await;
        assert_eq!(row.state, "queued");
        assert_eq!(row.attempts, attempt);
        assert!(row.lease_owner.is_none());
        delays.push(row.retry_delay_us);
        // Not due yet: a dispatch now finds nothing.
        assert!(runner.dispatch_once().await.unwrap().is_empty());
        make_due(&env, id).await;
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

    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(runner.execute_one(&jobs[0]).await, Outcome::GaveUp);
    let row = env.job(id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 4));
    assert!(runner.dispatch_once().await.unwrap().is_empty());

    // Fixed by hand and queued again: it now completes.
    std::fs::remove_dir_all(env.path(&keys::video(&vid))).unwrap();
    env.enqueue(DELETE_VIDEO, &vid).await;
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(runner.execute_one(&jobs[0]).await, Outcome::Done);
    assert_eq!(env.job(id).await.state, "done");
}

#[tokio::test]
async fn deleting_a_video_removes_its_files_and_uploads_and_gone_files_are_fine() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let runner = env.runner(test_config());

    // Everything present: file, thumbnail, two uploads with bytes.
    let vid = uuid::Uuid::new_v4().to_string();
    env.write(&keys::video(&vid), b"v");
    env.write(&keys::thumbnail(&vid), b"t");
    let up1 = env.upload(user, &vid, 3600, false).await;
    let up2 = env.upload(user, &vid, 3600, true).await;
    env.write(&keys::upload(&up1), b"partial");
    env.write(&keys::upload(&up2), b"whole");
    // An unrelated upload stays.
    let other_vid = uuid::Uuid::new_v4().to_string();
    let other = env.upload(user, &other_vid, 3600, false).await;
    env.write(&keys::upload(&other), b"other");

    // Already gone: no files at all, an upload row without bytes.
    let gone = uuid::Uuid::new_v4().to_string();
    let gone_up = env.upload(user, &gone, 3600, false).await;

    let a = env.enqueue(DELETE_VIDEO, &vid).await;
    let b = env.enqueue(DELETE_VIDEO, &gone).await;
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    assert_eq!(env.job(a).await.state, "done");
    assert_eq!(env.job(b).await.state, "done");
    for key in [
        keys::video(&vid),
        keys::thumbnail(&vid),
        keys::upload(&up1),
        keys::upload(&up2),
    ] {
        assert!(!env.path(&key).exists(), "{key}");
    }
    assert!(env.path(&keys::upload(&other)).exists());
    let left: Vec<String> = env
        .conn()
        .await
        .query("SELECT id FROM uploads")
        .await
        .unwrap();
    assert_eq!(left, vec![other]);
    assert!(!left.contains(&gone_up));
}

#[tokio::test]
async fn a_deletion_of_a_video_that_still_exists_is_refused_and_retried() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = env.video(user, "ready").await;
    env.write(&keys::video(&vid), b"still listed");
    let id = env.enqueue(DELETE_VIDEO, &vid).await;
    let runner = env.runner(test_config());
    let jobs = runner.dispatch_once().await.unwrap();
    assert!(matches!(
        runner.execute_one(&jobs[0]).await,
        Outcome::Retry(_)
    ));
    let row = env.job(id).await;
    assert!(row.last_error.unwrap().contains("still exists"));
    assert!(env.path(&keys::video(&vid)).exists());
}

#[tokio::test]
async fn shutdown_releases_claims_that_never_started() {
    let env = TestEnv::new().await;
    for _ in 0..5 {
        env.enqueue(DELETE_VIDEO, &uuid::Uuid::new_v4().to_string())
            .await;
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

#[tokio::test]
async fn an_unknown_job_kind_is_kept_and_retried_not_dropped() {
    let env = TestEnv::new().await;
    let id = env.enqueue("future_kind", "x").await;
    let runner = env.runner(test_config());
    let jobs = runner.dispatch_once().await.unwrap();
    assert!(matches!(
        runner.execute_one(&jobs[0]).await,
        Outcome::Retry(_)
    ));
    assert!(env
        .job(id)
        .await
        .last_error
        .unwrap()
        .contains("unknown job kind"));
}

#[tokio::test]
async fn housekeeping_purges_old_done_jobs_and_sweeps_expired_uploads() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = uuid::Uuid::new_v4().to_string();
    let expired = env.upload(user, &vid, -60, false).await;
    let expired_but_complete = env.upload(user, &vid, -60, true).await;
    let live = env.upload(user, &vid, 3600, false).await;
    for id in [&expired, &expired_but_complete, &live] {
        env.write(&keys::upload(id), b"bytes");
    }
    let old = env
        .enqueue(DELETE_VIDEO, &uuid::Uuid::new_v4().to_string())
        .await;
    let recent = env
        .enqueue(DELETE_VIDEO, &uuid::Uuid::new_v4().to_string())
        .await;
    let failed = env
        .enqueue(DELETE_VIDEO, &uuid::Uuid::new_v4().to_string())
        .await;
    let mut conn = env.conn().await;
    conn.exec_drop(
        "UPDATE jobs SET state = 'done', finished_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 8 DAY) WHERE id = ?",
        (old,),
    )
    .await
    .unwrap();
    conn.exec_drop(
        "UPDATE jobs SET state = 'done', finished_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 6 DAY) WHERE id = ?",
        (recent,),
    )
    .await
    .unwrap();
    conn.exec_drop(
        "UPDATE jobs SET state = 'failed', finished_at = DATE_SUB(UTC_TIMESTAMP(6), INTERVAL 30 DAY) WHERE id = ?",
        (failed,),
    )
    .await
    .unwrap();

    let runner = env.runner(test_config());
    scheduler::housekeeping_once(runner.context(), Duration::from_secs(7 * 86400)).await;

    let ids: Vec<u64> = conn.query("SELECT id FROM jobs ORDER BY id").await.unwrap();
    assert_eq!(ids, vec![recent, failed]);
    let uploads: Vec<String> = conn.query("SELECT id FROM uploads").await.unwrap();
    assert_eq!(uploads.len(), 2);
    assert!(!uploads.contains(&expired));
    assert!(!env.path(&keys::upload(&expired)).exists());
    assert!(env.path(&keys::upload(&expired_but_complete)).exists());
    assert!(env.path(&keys::upload(&live)).exists());
}
