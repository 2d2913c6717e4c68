//! The scheduler on S3 (a real S3-compatible server, moto, started by each test): processing
//! from a scratch copy with the ladder, deletion that empties the bucket of a video, the
//! reconciler paging through the bucket, and housekeeping's sweep of uploads nobody finishes.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::reconcile::reconcile_paged;
use scheduler::Outcome;
use svc::jobs::JobKind::{DeleteVideo, ProcessVideo};
use svc::storage::{keys, Storage};
use svc::testing::S3Server;
use svc::{VideoId, VideoState};

use crate::helpers::{make_media, run_one, test_config, TestEnv};

/// A test database and scratch directory (`TestEnv`) with a bucket as storage.
struct OnS3 {
    env: TestEnv,
    storage: Arc<dyn Storage>,
    _server: S3Server,
}

impl OnS3 {
    async fn new() -> Self {
        let env = TestEnv::new().await;
        let server = S3Server::start().await;
        let bucket = server.bucket().await;
        let config = server.config(&bucket, &env.path("tmp"));
        let storage = svc::storage::connect(&config, svc::storage::LocalReads::default()).unwrap();
        OnS3 {
            env,
            storage,
            _server: server,
        }
    }

    fn runner(&self) -> scheduler::Runner {
        self.env.runner_on(self.storage.clone(), test_config())
    }

    async fn put(&self, key: &str, bytes: &[u8]) {
        let mut staged = self.storage.stage(key).await.unwrap();
        staged.write(bytes).await.unwrap();
        staged.publish().await.unwrap();
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.storage.list(prefix).await.unwrap();
        listed.into_iter().map(|o| o.key).collect()
    }

    async fn unfinished(&self) -> usize {
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        self.storage.unfinished(later).await.unwrap().len()
    }

    /// A tus upload of `video_id` as the streamserver leaves it on S3 after a PATCH of
    /// `bytes`: a multipart upload with a tail object, its token in the row, expiring in
    /// `expires_in_secs`. Returns its id.
    async fn tus_upload(&self, video_id: &VideoId, bytes: usize, expires_in_secs: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let key = keys::upload(&id);
        let token = self.storage.create_append(&key).await.unwrap();
        let mut object = self
            .storage
            .open_append(&key, token.as_deref())
            .await
            .unwrap()
            .unwrap();
        object.write(&vec![7u8; bytes]).await.unwrap();
        let token = object.sync().await.unwrap();
        object.committed().await.unwrap();
        let user = self.env.user().await;
        self.env
            .conn()
            .await
            .exec_drop(
                "INSERT INTO uploads (id, video_id, user_id, upload_length, upload_offset,
                                      storage_token, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)",
                (
                    &id,
                    video_id.as_str(),
                    user,
                    bytes * 2,
                    bytes,
                    token,
                    expires_in_secs,
                ),
            )
            .await
            .unwrap();
        id
    }
}

/// Deletes the video's row and queues its deletion, as the api does.
async fn delete_as_the_api_does(env: &TestEnv, vid: &VideoId) {
    let mut conn = env.conn().await;
    conn.exec_drop("DELETE FROM video_info WHERE id = ?", (vid.as_str(),))
        .await
        .unwrap();
    svc::jobs::enqueue(&mut conn, DeleteVideo, vid)
        .await
        .unwrap();
}

/// An MPEG-4 Part 2 upload (which browsers do not play) goes the longest way on S3: a scratch
/// copy is downloaded for ffprobe, the original moved to `originals/` by a copy in the bucket,
/// the H.264 rendition and thumbnail uploaded from scratch, then the ladder and storyboard
/// made from another scratch copy. Deleting the video then removes every object it had, a
/// leftover tus upload's multipart upload and tail included; nothing stays in scratch.
#[tokio::test]
async fn a_clip_on_s3_is_processed_with_its_ladder_and_its_deletion_empties_the_bucket() {
    let s3 = OnS3::new().await;
    let samples = tempfile::tempdir().unwrap();
    let file = samples.path().join("clip.mp4");
    make_media(
        &file,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let vid = s3.env.uploaded_to(&*s3.storage, &file, "video/mp4").await;
    s3.env.enqueue(ProcessVideo, &vid).await;
    assert_eq!(run_one(&s3.runner()).await, Outcome::Done);
    let processed = s3.env.processed(&vid).await;
    assert_eq!(processed.state, "ready", "{processed:?}");
    assert!(processed.has_original);
    assert_eq!(processed.codecs.0.as_deref(), Some("h264"));
    assert_eq!(run_one(&s3.runner()).await, Outcome::Done, "the ladder");
    let processed = s3.env.processed(&vid).await;
    assert!(processed.has_storyboard);
    let renditions = s3.env.renditions(&vid).await;
    assert_eq!(renditions.len(), 1);
    assert!(renditions[0].4, "the 240p rung is ready");

    let mut expected = vec![
        keys::video(&vid),
        keys::original(&vid),
        keys::thumbnail(&vid),
        keys::hls_master(&vid),
        keys::hls_playlist(&vid, 240),
        keys::hls_media(&vid, 240),
        keys::storyboard_image(&vid),
        keys::storyboard_vtt(&vid),
    ];
    expected.sort();
    assert_eq!(s3.keys("").await, expected);
    // The original is the upload's bytes; the rendition is what the row says it is.
    let original = tempfile::NamedTempFile::new().unwrap();
    s3.storage
        .fetch_file(&keys::original(&vid), original.path())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(original.path()).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let rendition = s3.storage.stat(&keys::video(&vid)).await.unwrap().unwrap();
    assert_eq!(Some(rendition.size), processed.file.0);
    let master = s3
        .storage
        .stat(&keys::hls_master(&vid))
        .await
        .unwrap()
        .unwrap();
    assert!(master.size > 0);
    assert_eq!(s3.env.scratch_files(), Vec::<String>::new());

    let upload = s3.tus_upload(&vid, 6 << 20, 3600).await;
    assert_eq!(s3.unfinished().await, 1);
    assert_eq!(s3.keys("uploads/").await.len(), 1, "the upload's tail");
    delete_as_the_api_does(&s3.env, &vid).await;
    assert_eq!(run_one(&s3.runner()).await, Outcome::Done);
    assert_eq!(s3.keys("").await, Vec::<String>::new());
    assert_eq!(s3.unfinished().await, 0);
    let rows = s3
        .env
        .count(&format!(
            "SELECT COUNT(*) FROM uploads WHERE id = '{upload}'"
        ))
        .await;
    assert_eq!(rows, 0);
    assert_eq!(s3.env.scratch_files(), Vec::<String>::new());
}

/// The reconciler lists the bucket a page at a time (here 4 objects a page) and queues every
/// orphan, HLS keys two levels deep and stale upload tails included; owned objects stay.
#[tokio::test]
async fn the_reconciler_pages_through_the_bucket() {
    let s3 = OnS3::new().await;
    let user = s3.env.user().await;
    let owned = s3.env.video(user, VideoState::Ready).await;
    let upload_owner = s3.env.video(user, VideoState::Pending).await;
    let live_upload = s3.tus_upload(&upload_owner, 10, 3600).await;
    let mut kept = vec![
        keys::video(&owned),
        keys::thumbnail(&owned),
        keys::hls_media(&owned, 240),
        keys::tail(&keys::upload(&live_upload), 10),
    ];
    for key in &kept[..3] {
        s3.put(key, b"x").await;
    }
    let mut orphans = Vec::new();
    for _ in 0..4 {
        let gone = VideoId::random();
        orphans.extend([
            keys::video(&gone),
            keys::hls_playlist(&gone, 360),
            keys::storyboard_vtt(&gone),
        ]);
    }
    orphans.push(keys::tail(&keys::upload("no-such-upload"), 99));
    orphans.push(format!("{}left-by-a-crash", keys::SCRATCH));
    for key in &orphans {
        s3.put(key, b"x").await;
    }

    let runner = s3.runner();
    let report = reconcile_paged(runner.context(), Duration::ZERO, 4)
        .await
        .unwrap();
    assert_eq!(report.scanned, kept.len() + orphans.len());
    assert_eq!(report.orphans, orphans.len());
    assert!(
        report.pages > keys::PREFIXES.len(),
        "more than one page: {report:?}"
    );
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), orphans.len());
    for job in &jobs {
        assert_eq!(runner.execute_one(job).await, Outcome::Done);
    }
    kept.sort();
    assert_eq!(s3.keys("").await, kept);
}

/// Housekeeping on S3: an expired tus upload goes with its multipart upload and tail; a
/// multipart upload of a process killed mid-upload is aborted once `UNFINISHED_TTL` has
/// passed since this scheduler first saw it; a live tus upload's is left alone.
#[tokio::test]
async fn housekeeping_on_s3_sweeps_what_interrupted_uploads_leave() {
    let s3 = OnS3::new().await;
    let user = s3.env.user().await;
    let video = s3.env.video(user, VideoState::Pending).await;
    let expired = s3.tus_upload(&video, 6 << 20, -60).await;
    let live = s3.tus_upload(&video, 10, 3600).await;
    let mut killed = s3
        .storage
        .stage(&keys::video(&VideoId::random()))
        .await
        .unwrap();
    killed.write(&vec![1u8; 6 << 20]).await.unwrap();
    // A process killed mid-upload never drops (and so never aborts) its staged object.
    std::mem::forget(killed);
    assert_eq!(s3.unfinished().await, 3);

    let runner = s3.runner();
    let ctx = runner.context();
    let removed = scheduler::work::delete::sweep_expired_uploads(ctx, 100)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(s3.unfinished().await, 2);
    assert!(s3.keys(&keys::upload(&expired)).await.is_empty());

    // Seen for the first time now: kept for the whole TTL, whatever the store says.
    let hour = Duration::from_secs(3600);
    let aborted = scheduler::work::delete::abort_unfinished_uploads(ctx, hour)
        .await
        .unwrap();
    assert_eq!(aborted, 0);
    let aborted = scheduler::work::delete::abort_unfinished_uploads(ctx, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(aborted, 1, "the killed upload's, not the live tus upload's");
    assert_eq!(s3.unfinished().await, 1);
    let left = s3
        .storage
        .unfinished(std::time::SystemTime::now() + hour)
        .await
        .unwrap();
    assert_eq!(left[0].key, keys::upload(&live));
}
