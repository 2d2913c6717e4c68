//! `make_ladder` step by step: what is visible while a rung is made, a rerun after a crash, and
//! deleting a video while (and after) its ladder is made.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::{Outcome, RunnerConfig};
use svc::jobs::JobKind::{DeleteVideo, MakeLadder, ProcessVideo};
use svc::storage::keys;
use svc::VideoId;

use crate::helpers::{run_one, test_config, Hook, TestEnv};
use crate::samples::{h264_mp4, Sample};

/// A 640x360 H.264 upload (kept as it came), processed: ready, its ladder queued.
async fn ready_video(env: &TestEnv, samples: &tempfile::TempDir) -> VideoId {
    let file = h264_mp4(samples.path(), 2.0, "640x360");
    let vid = env.uploaded(&file, "video/mp4").await;
    env.enqueue(ProcessVideo, &vid).await;
    assert_eq!(run_one(&env.runner(test_config())).await, Outcome::Done);
    assert_eq!(env.processed(&vid).await.state, "ready");
    vid
}

fn hooked(hook: &Hook) -> RunnerConfig {
    RunnerConfig {
        ffmpeg: hook.program.clone(),
        ..test_config()
    }
}

fn exists(env: &TestEnv, key: &str) -> bool {
    env.path(key).exists()
}

/// Every file under the storage root whose path names `vid`.
fn files_of(root: &Path, vid: &VideoId) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.to_string_lossy().contains(vid.as_str()) {
                    found.push(path.to_string_lossy().into_owned());
                }
                dirs.push(path);
            } else if path.to_string_lossy().contains(vid.as_str()) {
                found.push(path.to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn a_rung_is_published_before_it_is_ready_and_the_master_after_every_rung() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = ready_video(&env, &samples).await;
    let hook = Hook::new(1_000_000);
    hook.hold_matching("scale=640:360");
    let runner = env.runner(hooked(&hook));
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs[0].kind, Ok(MakeLadder));
    let job = tokio::spawn(async move { runner.execute_one(&jobs[0]).await });
    hook.started().await;

    // The 360p rung is being made: 240p is published and ready, 360p neither, no master.
    let rows = env.renditions(&vid).await;
    let ready: Vec<(u16, bool)> = rows.iter().map(|r| (r.0, r.4)).collect();
    assert_eq!(ready, vec![(240, true), (360, false)]);
    assert_eq!((rows[0].1, rows[1].1), (426, 640), "widths");
    assert!(exists(&env, &keys::hls_media(&vid, 240)));
    assert!(exists(&env, &keys::hls_playlist(&vid, 240)));
    assert!(!exists(&env, &keys::hls_media(&vid, 360)));
    assert!(!exists(&env, &keys::hls_playlist(&vid, 360)));
    assert!(!exists(&env, &keys::hls_master(&vid)));
    assert!(!env.processed(&vid).await.has_storyboard);
    // 240p is about a third of the pixels; the held 360p rung reports half of itself.
    svc::testing::eventually(
        "progress past the first rung",
        Duration::from_secs(10),
        || async {
            let p = env.processed(&vid).await.progress?;
            (p >= 50).then_some(())
        },
    )
    .await;

    hook.go();
    assert_eq!(job.await.unwrap(), Outcome::Done);
    assert!(env.renditions(&vid).await.iter().all(|r| r.4));
    let master = std::fs::read_to_string(env.path(&keys::hls_master(&vid))).unwrap();
    assert!(master.contains("RESOLUTION=426x240,") && master.contains("RESOLUTION=640x360,"));
    let row = env.processed(&vid).await;
    assert!(row.has_storyboard);
    assert_eq!(row.progress, None);
    assert!(env.scratch_files().is_empty(), "{:?}", env.scratch_files());
}

/// The ladder is offered (every rung ready: the api's `hls_url`) only once its master playlist
/// is there: when the master cannot be published, the last rung stays unready.
#[tokio::test]
async fn the_last_rung_is_ready_only_once_the_master_is_published() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = ready_video(&env, &samples).await;
    // A non-empty directory where the master goes: publishing it (a rename) fails.
    let blocker = env.path(&keys::hls_master(&vid));
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let hook = Hook::new(1_000_000);
    let runner = env.runner(hooked(&hook));
    let outcome = run_one(&runner).await;
    let errors: Vec<(Option<String>,)> = env
        .conn()
        .await
        .exec("SELECT last_error FROM jobs", ())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Retry(_)),
        "{outcome:?} {errors:?}"
    );
    let ready: Vec<(u16, bool)> = env
        .renditions(&vid)
        .await
        .iter()
        .map(|r| (r.0, r.4))
        .collect();
    assert_eq!(ready, vec![(240, true), (360, false)], "{errors:?}");

    std::fs::remove_dir_all(&blocker).unwrap();
    scheduler::work::ladder::make_ladder(runner.context(), &vid)
        .await
        .unwrap();
    assert!(env.renditions(&vid).await.iter().all(|r| r.4));
    assert!(exists(&env, &keys::hls_master(&vid)));
}

#[tokio::test]
async fn a_rerun_after_a_crash_redoes_only_the_unfinished_rung() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = ready_video(&env, &samples).await;
    let hook = Hook::new(1_000_000);
    let runner = env.runner(hooked(&hook));
    assert_eq!(run_one(&runner).await, Outcome::Done);
    let low = std::fs::metadata(env.path(&keys::hls_media(&vid, 240))).unwrap();

    // As if the scheduler had died while making 360p: its row not ready, no master, and a
    // half-written scratch file.
    env.conn()
        .await
        .exec_drop(
            "UPDATE video_renditions SET ready = FALSE WHERE video_id = ? AND height = 360",
            (vid.as_str(),),
        )
        .await
        .unwrap();
    std::fs::remove_file(env.path(&keys::hls_master(&vid))).unwrap();
    scheduler::work::ladder::make_ladder(runner.context(), &vid)
        .await
        .unwrap();

    let again = std::fs::metadata(env.path(&keys::hls_media(&vid, 240))).unwrap();
    assert_eq!(
        (again.ino(), again.mtime_nsec()),
        (low.ino(), low.mtime_nsec()),
        "240p kept"
    );
    let rungs = |size: &str| hook.calls().iter().filter(|c| c.contains(size)).count();
    assert_eq!(rungs("scale=426:240"), 1);
    assert_eq!(rungs("scale=640:360"), 2, "360p made again, from the start");
    assert!(env.renditions(&vid).await.iter().all(|r| r.4));
    assert!(exists(&env, &keys::hls_master(&vid)));
}

#[tokio::test]
async fn deleting_a_video_while_its_ladder_runs_leaves_nothing_behind() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let vid = ready_video(&env, &samples).await;
    let hook = Hook::new(1_000_000);
    hook.hold_matching("scale=426:240");
    let runner = env.runner(hooked(&hook));
    let jobs = runner.dispatch_once().await.unwrap();
    let job = tokio::spawn(async move { runner.execute_one(&jobs[0]).await });
    hook.started().await;

    // The owner deletes it (as the api does) and the deletion job runs at once.
    {
        let mut conn = env.conn().await;
        conn.exec_drop("DELETE FROM video_info WHERE id = ?", (vid.as_str(),))
            .await
            .unwrap();
        svc::jobs::enqueue(&mut conn, DeleteVideo, &vid)
            .await
            .unwrap();
    }
    assert_eq!(run_one(&env.runner(test_config())).await, Outcome::Done);
    hook.go();
    assert_eq!(job.await.unwrap(), Outcome::Done);
    assert_eq!(files_of(env.root(), &vid), Vec::<String>::new());
}

#[tokio::test]
async fn deleting_a_laddered_video_removes_every_rendition_original_and_storyboard() {
    let env = TestEnv::new().await;
    let samples = tempfile::tempdir().unwrap();
    let file = Sample::Hevc.make(samples.path());
    let vid = env.uploaded(&file, Sample::Hevc.content_type()).await;
    env.enqueue(ProcessVideo, &vid).await;
    let runner = env.runner(test_config());
    assert_eq!(run_one(&runner).await, Outcome::Done);
    assert_eq!(run_one(&runner).await, Outcome::Done);
    let made = files_of(env.root(), &vid);
    for key in [
        keys::video(&vid),
        keys::original(&vid),
        keys::thumbnail(&vid),
        keys::hls_master(&vid),
        keys::hls_playlist(&vid, 240),
        keys::hls_media(&vid, 240),
        keys::storyboard_image(&vid),
        keys::storyboard_vtt(&vid),
    ] {
        assert!(exists(&env, &key), "{key} in {made:?}");
    }

    env.conn()
        .await
        .exec_drop("DELETE FROM video_info WHERE id = ?", (vid.as_str(),))
        .await
        .unwrap();
    assert_eq!(
        env.renditions(&vid).await.len(),
        0,
        "rendition rows go with their video"
    );
    env.enqueue(DeleteVideo, &vid).await;
    assert_eq!(run_one(&runner).await, Outcome::Done);
    assert_eq!(files_of(env.root(), &vid), Vec::<String>::new());
}
