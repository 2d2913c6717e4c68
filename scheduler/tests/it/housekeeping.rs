//! Housekeeping's removal of abandoned `pending` videos: removed after `PENDING_VIDEO_TTL` with
//! their comments, a queued `delete_video` job that then clears storage and a `video_gone` event
//! for their live viewers; kept while young,
//! while an upload of them can still finish, and once they have their file. Time is moved by
//! setting `create_time` in the past, never by waiting.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::housekeeping::{housekeeping_once, remove_abandoned_video};
use scheduler::{Housekeeping, Outcome};
use svc::storage::keys;
use svc::{VideoId, VideoState};

use crate::helpers::{test_config, TestEnv, Traces};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);

/// What is left of a video housekeeping removed before its job ran: the job alone.
const REMOVED: Traces = Traces {
    rows: 0,
    comments: 0,
    uploads: 0,
    deletions: 1,
    gone_events: 1,
};

/// An old pending video with a comment (of `user`, on their own video): what housekeeping
/// removes unless something else keeps it.
async fn abandoned_video(env: &TestEnv, user: u32) -> VideoId {
    let vid = env.video(user, VideoState::Pending).await;
    env.comment(user, &vid).await;
    env.age_video(&vid, 2 * DAY).await;
    vid
}

#[tokio::test]
async fn an_old_pending_video_never_uploaded_goes_with_its_comments_and_its_files() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = abandoned_video(&env, user).await;
    let (other, commenter) = (env.user().await, env.user().await);
    env.comment(commenter, &vid).await;
    // Storage may hold a stray file: here a partial upload that expired, and a file whose
    // publishing failed after the rename (the video stayed pending).
    let expired = env.upload(user, &vid, -60, false).await;
    env.write(&keys::upload(&expired), b"partial");
    env.write(&keys::video(&vid), b"orphaned file");
    // Another user's, never touched at all.
    let bare = env.video(other, VideoState::Pending).await;
    env.age_video(&bare, DAY + HOUR).await;

    let runner = env.runner(test_config());
    housekeeping_once(runner.context(), &Housekeeping::default()).await;

    assert_eq!(env.traces_of(&vid).await, REMOVED);
    assert_eq!(env.traces_of(&bare).await, REMOVED);
    assert_eq!(env.count("SELECT COUNT(*) FROM video_info").await, 0);
    // The queued jobs clear whatever storage held for them.
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    for key in [keys::video(&vid), keys::upload(&expired)] {
        assert!(!env.path(&key).exists(), "{key} should be gone");
    }
    // A second run finds nothing more to do.
    housekeeping_once(runner.context(), &Housekeeping::default()).await;
    assert_eq!(env.count("SELECT COUNT(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn young_uploading_and_published_videos_are_kept() {
    let env = TestEnv::new().await;
    let user = env.user().await;

    let young = env.video(user, VideoState::Pending).await;
    env.comment(user, &young).await;
    env.age_video(&young, DAY - HOUR).await;
    // Old, but its upload can still finish: not expired, not completed.
    let uploading = abandoned_video(&env, user).await;
    let live = env.upload(user, &uploading, 3600, false).await;
    env.write(&keys::upload(&live), b"first chunks");
    let mut published = Vec::new();
    for state in [VideoState::Uploaded, VideoState::Ready, VideoState::Failed] {
        let vid = env.video(user, state).await;
        env.comment(user, &vid).await;
        env.age_video(&vid, 30 * DAY).await;
        published.push(vid);
    }
    // The control: abandoned like the test's other videos, so a run that removes nothing
    // would be noticed.
    let abandoned = abandoned_video(&env, user).await;

    let runner = env.runner(test_config());
    // A longer TTL keeps even the abandoned one.
    let patient = Housekeeping {
        pending_video_ttl: 3 * DAY,
        ..Housekeeping::default()
    };
    housekeeping_once(runner.context(), &patient).await;
    assert_eq!(env.count("SELECT COUNT(*) FROM video_info").await, 6);
    assert_eq!(env.count("SELECT COUNT(*) FROM jobs").await, 0);

    housekeeping_once(runner.context(), &Housekeeping::default()).await;
    assert_eq!(env.traces_of(&abandoned).await, REMOVED);
    let kept = |uploads| Traces {
        rows: 1,
        comments: 1,
        uploads,
        deletions: 0,
        gone_events: 0,
    };
    assert_eq!(env.traces_of(&young).await, kept(0));
    assert_eq!(env.traces_of(&uploading).await, kept(1));
    assert!(env.path(&keys::upload(&live)).exists());
    for vid in &published {
        assert_eq!(env.traces_of(vid).await, kept(0), "{vid}");
    }
}

/// Between housekeeping listing a video and removing it, an upload may start, finish, or the
/// owner may delete the video: the removal looks again under the row's lock and lets it be.
#[tokio::test]
async fn a_video_that_changed_since_it_was_listed_is_left_alone() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let runner = env.runner(test_config());
    let ctx = runner.context();

    let vid = abandoned_video(&env, user).await;
    let upload = env.upload(user, &vid, 3600, false).await;
    assert!(!remove_abandoned_video(ctx, &vid, DAY).await.unwrap());
    assert_eq!(env.traces_of(&vid).await.rows, 1);
    // Once that upload has expired, nothing keeps the video.
    env.conn()
        .await
        .exec_drop(
            "UPDATE uploads SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?",
            (&upload,),
        )
        .await
        .unwrap();
    assert!(remove_abandoned_video(ctx, &vid, DAY).await.unwrap());
    assert_eq!(
        env.traces_of(&vid).await,
        Traces {
            uploads: 1,
            ..REMOVED
        },
        "the expired upload's row is left to the upload sweep and the video's job"
    );

    let published = abandoned_video(&env, user).await;
    env.conn()
        .await
        .exec_drop(
            "UPDATE video_info SET state = ? WHERE id = ?",
            (VideoState::Uploaded.as_str(), published.as_str()),
        )
        .await
        .unwrap();
    assert!(!remove_abandoned_video(ctx, &published, DAY).await.unwrap());
    assert_eq!(env.traces_of(&published).await.rows, 1);

    let deleted = VideoId::random();
    assert!(!remove_abandoned_video(ctx, &deleted, DAY).await.unwrap());
    assert_eq!(env.traces_of(&deleted).await.deletions, 0);
}
