//! The cron work (reconciliation and housekeeping) of two schedulers on one database and one
//! storage, run at the same moment, as two nodes' timers will: each orphan is queued once and
//! each abandoned video removed once, however the two interleave, and neither run fails.

use std::time::Duration;

use scheduler::housekeeping::housekeeping_once;
use scheduler::reconcile::reconcile_once;
use scheduler::{Housekeeping, Outcome};
use svc::storage::keys;
use svc::{VideoId, VideoState};

use crate::helpers::{test_config, TestEnv};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);

#[tokio::test]
async fn two_schedulers_running_their_cron_work_at_once_do_each_thing_once() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let mut orphans = Vec::new();
    for _ in 0..40 {
        let orphan = VideoId::random();
        env.write_aged(&keys::video(&orphan), b"v", 2 * HOUR);
        orphans.push(keys::video(&orphan));
    }
    for _ in 0..40 {
        let vid = env.video(user, VideoState::Pending).await;
        env.comment(user, &vid).await;
        env.age_video(&vid, 2 * DAY).await;
    }
    let kept = env.video(user, VideoState::Ready).await;
    env.write_aged(&keys::video(&kept), b"mine", 2 * HOUR);

    let (a, b) = (env.runner(test_config()), env.runner(test_config()));
    let settings = Housekeeping::default();
    for _ in 0..3 {
        let (ra, rb, (), ()) = tokio::join!(
            reconcile_once(a.context(), HOUR),
            reconcile_once(b.context(), HOUR),
            housekeeping_once(a.context(), &settings),
            housekeeping_once(b.context(), &settings),
        );
        ra.expect("node a's reconcile");
        rb.expect("node b's reconcile");
    }

    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs WHERE kind = 'delete_object'")
            .await,
        40,
        "each orphan queued once"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs WHERE kind = 'delete_video'")
            .await,
        40,
        "each abandoned video queued for deletion once"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM video_info").await,
        1,
        "only the ready video is left"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM comments").await, 0);

    // Both nodes drain the queue at once; every job runs exactly once and succeeds.
    let mut done = 0;
    loop {
        let (ja, jb) = tokio::join!(a.dispatch_once(), b.dispatch_once());
        let (ja, jb) = (ja.unwrap(), jb.unwrap());
        if ja.is_empty() && jb.is_empty() {
            break;
        }
        for (runner, job) in ja.iter().map(|j| (&a, j)).chain(jb.iter().map(|j| (&b, j))) {
            assert_eq!(runner.execute_one(job).await, Outcome::Done, "{job:?}");
            done += 1;
        }
    }
    assert_eq!(done, 80);
    for key in &orphans {
        assert!(!env.path(key).exists(), "{key} should be deleted");
    }
    assert!(
        env.path(&keys::video(&kept)).exists(),
        "an owned file stays"
    );
}
