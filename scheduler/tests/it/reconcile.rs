//! The reconciler: orphans older than the grace period are queued and then deleted; owned and
//! fresh objects are left alone.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::reconcile::reconcile_once;
use scheduler::Outcome;
use svc::jobs::JobKind;
use svc::storage::keys;
use svc::{VideoId, VideoState};

use crate::helpers::{run_one, test_config, TestEnv};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn the_reconciler_queues_old_orphans_and_leaves_owned_and_fresh_files_alone() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let old = 2 * HOUR;

    let owned = env.video(user, VideoState::Ready).await;
    env.write_aged(&keys::video(&owned), b"v", old);
    env.write_aged(&keys::thumbnail(&owned), b"t", old);
    let owned_upload = env.upload(user, &owned, 3600, false).await;
    env.write_aged(&keys::upload(&owned_upload), b"u", old);

    let orphan = VideoId::random();
    env.write_aged(&keys::video(&orphan), b"v", old);
    env.write_aged(&keys::thumbnail(&orphan), b"t", old);
    let orphan_upload = "deadbeefdeadbeefdeadbeefdeadbeef";
    env.write_aged(&keys::upload(orphan_upload), b"u", old);
    env.write_aged("tmp/stale-staging", b"s", old);

    let fresh = VideoId::random();
    env.write(&keys::video(&fresh), b"being published right now");
    env.write("tmp/in-progress", b"s");

    let runner = env.runner(test_config());
    let report = reconcile_once(runner.context(), HOUR).await.unwrap();
    assert_eq!(report.scanned, 9);
    assert_eq!(report.orphans, 4);
    assert_eq!(report.queued, 4);

    let mut queued: Vec<String> = env
        .rows("SELECT payload FROM jobs WHERE kind = 'delete_object'")
        .await;
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
    reconcile_once(runner.context(), HOUR).await.unwrap();
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

/// `delete_object` is the one kind about no video: even for the file of a (deleted) video its
/// row holds NULL, not the video's id nor an empty string, and it runs all the same.
#[tokio::test]
async fn a_delete_object_job_is_stored_without_a_video_and_still_runs() {
    let env = TestEnv::new().await;
    let orphan = VideoId::random();
    let key = keys::video(&orphan);
    env.write_aged(&key, b"v", 2 * HOUR);
    let runner = env.runner(test_config());
    assert_eq!(
        reconcile_once(runner.context(), HOUR).await.unwrap().queued,
        1
    );

    let rows: Vec<(u64, String, Option<String>, Option<String>)> = env
        .rows("SELECT id, kind, video_id, payload FROM jobs")
        .await;
    let [(id, kind, video_id, payload)] = &rows[..] else {
        panic!("one job expected: {rows:?}");
    };
    assert_eq!(kind, JobKind::DeleteObject.as_str());
    assert_eq!(*video_id, None);
    assert_eq!(payload.as_deref(), Some(key.as_str()));

    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, Ok(JobKind::DeleteObject));
    assert_eq!(jobs[0].video_id, None);
    assert_eq!(runner.execute_one(&jobs[0]).await, Outcome::Done);
    let row = env.job(*id).await;
    assert_eq!((row.state.as_str(), row.video_id), ("done", None));
    assert!(!env.path(&key).exists());
}

#[tokio::test]
async fn an_orphan_that_gained_an_owner_before_its_deletion_ran_is_kept() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let upload_id = "0123456789abcdef0123456789abcdef";
    env.write_aged(&keys::upload(upload_id), b"u", 2 * HOUR);
    let runner = env.runner(test_config());
    let report = reconcile_once(runner.context(), HOUR).await.unwrap();
    assert_eq!(report.queued, 1);
    // The row shows up (a slow tus creation) before the deletion runs.
    env.conn()
        .await
        .exec_drop(
            "INSERT INTO uploads (id, video_id, user_id, expires_at)
             VALUES (?, ?, ?, DATE_ADD(UTC_TIMESTAMP(6), INTERVAL 1 DAY))",
            (upload_id, VideoId::random().as_str(), user),
        )
        .await
        .unwrap();
    assert_eq!(run_one(&runner).await, Outcome::Done);
    assert!(env.path(&keys::upload(upload_id)).exists());
}

/// Every key a video owns is known to the reconciler, the two-level HLS keys included: an
/// orphan's renditions, original and storyboard are queued and deleted, an owned video's are
/// kept, and the orphan's emptied HLS directory goes with its last object.
#[tokio::test]
async fn orphaned_renditions_originals_and_storyboards_are_found_and_deleted() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let old = 2 * HOUR;
    let owned = env.video(user, VideoState::Ready).await;
    let orphan = VideoId::random();
    let keys_of = |vid: &VideoId| {
        vec![
            keys::original(vid),
            keys::hls_master(vid),
            keys::hls_playlist(vid, 240),
            keys::hls_media(vid, 240),
            keys::hls_media(vid, 1080),
            keys::storyboard_image(vid),
            keys::storyboard_vtt(vid),
        ]
    };
    for vid in [&owned, &orphan] {
        for key in keys_of(vid) {
            env.write_aged(&key, b"x", old);
        }
    }
    // A file in an orphan's HLS directory that no code writes is still the orphan's.
    env.write_aged(&format!("hls/{orphan}/stray.tmp"), b"x", old);

    let runner = env.runner(test_config());
    let report = reconcile_once(runner.context(), HOUR).await.unwrap();
    assert_eq!(report.scanned, 15);
    assert_eq!(report.orphans, 8);
    let mut queued: Vec<String> = env
        .rows("SELECT payload FROM jobs WHERE kind = 'delete_object'")
        .await;
    queued.sort();
    let mut expected = keys_of(&orphan);
    expected.push(format!("hls/{orphan}/stray.tmp"));
    expected.sort();
    assert_eq!(queued, expected);

    let jobs = runner.dispatch_once().await.unwrap();
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    for key in &expected {
        assert!(!env.path(key).exists(), "{key} should be deleted");
    }
    for key in keys_of(&owned) {
        assert!(env.path(&key).exists(), "{key} must stay");
    }

    // The local backend's directory of an HLS ladder goes with its last object.
    assert!(!env.path(&format!("hls/{orphan}")).exists());
    assert!(env.path(&format!("hls/{owned}")).is_dir());
}
