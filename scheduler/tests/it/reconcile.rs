//! The reconciler: orphans older than the grace period are queued and then deleted; owned and
//! fresh objects are left alone.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::reconcile::reconcile_once;
use scheduler::Outcome;
use svc::storage::keys;

use crate::helpers::{test_config, TestEnv};

#[tokio::test]
async fn the_reconciler_queues_old_orphans_and_leaves_owned_and_fresh_files_alone() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let hour = Duration::from_secs(3600);
    let old = 2 * hour;

    let owned = env.video(user, "ready").await;
    env.write_aged(&keys::video(&owned), b"v", old);
    env.write_aged(&keys::thumbnail(&owned), b"t", old);
    let owned_upload = env.upload(user, &owned, 3600, false).await;
    env.write_aged(&keys::upload(&owned_upload), b"u", old);

    let orphan = uuid::Uuid::new_v4().to_string();
    env.write_aged(&keys::video(&orphan), b"v", old);
    env.write_aged(&keys::thumbnail(&orphan), b"t", old);
    let orphan_upload = "deadbeefdeadbeefdeadbeefdeadbeef";
    env.write_aged(&keys::upload(orphan_upload), b"u", old);
    env.write_aged("tmp/stale-staging", b"s", old);

    let fresh = uuid::Uuid::new_v4().to_string();
    env.write(&keys::video(&fresh), b"being published right now");
    env.write("tmp/in-progress", b"s");

    let runner = env.runner(test_config());
    let report = reconcile_once(runner.context(), hour).await.unwrap();
    assert_eq!(report.scanned, 9);
    assert_eq!(report.orphans, 4);
    assert_eq!(report.queued, 4);

    let mut queued: Vec<String> = env
        .conn()
        .await
        .query("SELECT payload FROM jobs WHERE kind = 'delete_object' ORDER BY payload")
        .await
        .unwrap();
    queued.sort();
    let mut expected = vec![
        keys::thumbnail(&orphan),
        "tmp/stale-staging".to_string(),
        keys::upload(orphan_upload),
        keys::video(&orphan),
    ];
    expected.sort();
    assert_eq!(queued, expected);

    // Reconciling again does not queue twice.
    reconcile_once(runner.context(), hour).await.unwrap();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs").await,
        4,
        "queued once per key"
    );

    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 4);
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    for key in &expected {
        assert!(!env.path(key).exists(), "{key} should be deleted");
    }
    for key in [
        keys::video(&owned),
        keys::thumbnail(&owned),
        keys::upload(&owned_upload),
        keys::video(&fresh),
        "tmp/in-progress".to_string(),
    ] {
        assert!(env.path(&key).exists(), "{key} must stay");
    }
}

#[tokio::test]
async fn an_orphan_that_gained_an_owner_before_its_deletion_ran_is_kept() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let upload_id = "0123456789abcdef0123456789abcdef";
    env.write_aged(&keys::upload(upload_id), b"u", Duration::from_secs(7200));
    let runner = env.runner(test_config());
    let report = reconcile_once(runner.context(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(report.queued, 1);
    // The row shows up (a slow tus creation) before the deletion runs.
    env.conn()
        .await
        .exec_drop(
            "INSERT INTO uploads (id, video_id, user_id, expires_at)
             VALUES (?, ?, ?, DATE_ADD(UTC_TIMESTAMP(6), INTERVAL 1 DAY))",
            (upload_id, uuid::Uuid::new_v4().to_string(), user),
        )
        .await
        .unwrap();
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(runner.execute_one(&jobs[0]).await, Outcome::Done);
    assert!(env.path(&keys::upload(upload_id)).exists());
}
