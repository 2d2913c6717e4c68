//! `process_video` with real ffmpeg on media generated at test time.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use scheduler::work::mp4;
use scheduler::Outcome;
use sha2::{Digest, Sha256};
use svc::jobs::JobKind::ProcessVideo;
use svc::storage::keys;
use svc::{VideoId, VideoState};

use crate::helpers::{fake_tool, make_media, run_one, run_tool, test_config, TestEnv};

/// A 3 s 320x240 H.264 + AAC MP4 with the index (`moov`) after the media data: ffmpeg's
/// default without `+faststart`.
fn moov_at_end_mp4(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("late-moov.mp4");
    make_media(
        &out,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=3:size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    out
}

fn kinds(boxes: &[mp4::BoxHeader]) -> Vec<String> {
    boxes
        .iter()
        .map(|b| String::from_utf8_lossy(&b.kind).into_owned())
        .collect()
}

type VideoRow = (
    String,
    Option<u64>,
    Option<u32>,
    Option<u32>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<u64>,
    Option<String>,
);

async fn video_row(env: &TestEnv, vid: &VideoId) -> VideoRow {
    env.conn()
        .await
        .exec_first(
            "SELECT CAST(state AS CHAR), duration_ms, width, height, video_codec, audio_codec,
               has_thumbnail, failure_reason, size, sha256
             FROM video_info WHERE id = ?",
            (vid.as_str(),),
        )
        .await
        .unwrap()
        .unwrap()
}

/// Asserts that the video is `failed` with a reason its owner reads containing `says`.
async fn assert_failed(env: &TestEnv, vid: &VideoId, says: &str) {
    let (state, .., reason, _, _) = video_row(env, vid).await;
    assert_eq!(state, "failed");
    let reason = reason.unwrap_or_default();
    assert!(reason.contains(says), "{reason:?}");
}

async fn process(env: &TestEnv, config: scheduler::RunnerConfig, vid: &VideoId) -> (u64, Outcome) {
    let id = env.enqueue(ProcessVideo, vid).await;
    (id, run_one(&env.runner(config)).await)
}

#[tokio::test]
async fn an_mp4_with_its_index_at_the_end_is_made_faststart_probed_and_thumbnailed() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = env.video(user, VideoState::Uploaded).await;
    let source = moov_at_end_mp4(env.root());
    let key = keys::video(&vid);
    std::fs::rename(&source, env.path(&key)).unwrap();
    let before = kinds(&mp4::top_level_boxes(&env.path(&key)).await.unwrap());
    let pos = |v: &[String], k: &str| v.iter().position(|x| x == k).unwrap();
    assert!(
        pos(&before, "mdat") < pos(&before, "moov"),
        "the generated file must start with moov at the end: {before:?}"
    );

    let (id, outcome) = process(&env, test_config(), &vid).await;
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(env.job(id).await.state, "done");

    let after = kinds(&mp4::top_level_boxes(&env.path(&key)).await.unwrap());
    assert!(
        pos(&after, "moov") < pos(&after, "mdat"),
        "moov must now come first: {after:?}"
    );
    let (state, duration, width, height, vcodec, acodec, thumb, reason, size, sha) =
        video_row(&env, &vid).await;
    assert_eq!(state, "ready", "{reason:?}");
    let duration = duration.unwrap();
    assert!((2900..=3200).contains(&duration), "duration {duration}");
    assert_eq!((width, height), (Some(320), Some(240)));
    assert_eq!(vcodec.as_deref(), Some("h264"));
    assert_eq!(acodec.as_deref(), Some("aac"));
    assert!(thumb);
    assert_eq!(reason, None);
    let bytes = std::fs::read(env.path(&key)).unwrap();
    assert_eq!(size, Some(bytes.len() as u64));
    assert_eq!(sha, Some(hex::encode(Sha256::digest(&bytes))));
    // No scratch files left behind.
    assert_eq!(std::fs::read_dir(env.path("tmp")).unwrap().count(), 0);

    let jpeg_path = env.path(&keys::thumbnail(&vid));
    let jpeg = std::fs::read(&jpeg_path).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "JPEG start of image");
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "JPEG end of image");
    let probed = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            jpeg_path.to_str().unwrap(),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&probed).trim(), "mjpeg,320,240");

    // Ready queues the ladder.
    let ladder: Vec<(String, String)> = env
        .rows("SELECT kind, CAST(state AS CHAR) FROM jobs WHERE kind = 'make_ladder'")
        .await;
    assert_eq!(
        ladder,
        vec![("make_ladder".to_string(), "queued".to_string())]
    );

    // Processing again (an at-least-once replay) changes nothing.
    let runner = env.runner(test_config());
    scheduler::work::process::process_video(runner.context(), &vid)
        .await
        .unwrap();
    assert_eq!(std::fs::read(env.path(&key)).unwrap(), bytes);
}

#[tokio::test]
async fn random_bytes_named_mp4_are_refused_at_once_with_a_reason() {
    let env = TestEnv::new().await;
    let noise: Vec<u8> = (0..64 * 1024)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let vid = env.stored_video(VideoState::Uploaded, &noise).await;

    let (id, outcome) = process(&env, test_config(), &vid).await;
    assert_eq!(outcome, Outcome::Refused, "a bad file is not retried");
    let row = env.job(id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1));
    assert!(row.finished);
    let error = row.last_error.unwrap();
    assert!(
        error.starts_with("refused: ffprobe exited with 1:"),
        "{error}"
    );
    assert!(
        error.contains("Invalid data found"),
        "the tool's words: {error}"
    );
    assert_failed(
        &env,
        &vid,
        "This file is damaged or incomplete; upload it again.",
    )
    .await;
    assert!(!video_row(&env, &vid).await.6, "no thumbnail");
    assert!(!env.path(&keys::thumbnail(&vid)).exists());
}

#[tokio::test]
async fn a_file_without_a_video_stream_fails_with_that_reason() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let vid = env.video(user, VideoState::Uploaded).await;
    let audio = env.root().join("tone.m4a");
    make_media(
        &audio,
        &["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"],
    );
    std::fs::rename(&audio, env.path(&keys::video(&vid))).unwrap();
    let (_, outcome) = process(&env, test_config(), &vid).await;
    assert_eq!(outcome, Outcome::Refused);
    assert_failed(&env, &vid, "This file has no video track.").await;
}

#[tokio::test]
async fn a_video_deleted_before_processing_is_done_with_nothing_made() {
    let env = TestEnv::new().await;
    let vid = VideoId::random();
    let (id, outcome) = process(&env, test_config(), &vid).await;
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(env.job(id).await.state, "done");
    assert!(!env.path(&keys::thumbnail(&vid)).exists());
}

#[tokio::test]
async fn a_missing_ffprobe_is_retried_with_a_clear_error_then_fails_the_video() {
    let env = TestEnv::new().await;
    let vid = env.stored_video(VideoState::Uploaded, b"whatever").await;
    let config = scheduler::RunnerConfig {
        ffprobe: PathBuf::from("/nonexistent/ffprobe"),
        ..test_config()
    };
    let (id, outcome) = process(&env, config.clone(), &vid).await;
    assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
    let row = env.job(id).await;
    let error = row.last_error.unwrap();
    assert!(error.contains("/nonexistent/ffprobe not found"), "{error}");
    assert!(error.contains("FFPROBE"), "{error}");
    assert_eq!(video_row(&env, &vid).await.0, "uploaded");

    // Out of attempts: the video is marked failed so its owner is not left waiting.
    env.update_job(id, "max_attempts = 2, run_after = UTC_TIMESTAMP(6)")
        .await;
    assert_eq!(run_one(&env.runner(config)).await, Outcome::GaveUp);
    assert_failed(
        &env,
        &vid,
        "Processing failed after 2 tries because of a problem on this site, not with your \
         file; upload it again later.",
    )
    .await;
    let (.., reason, _, _) = video_row(&env, &vid).await;
    assert!(
        !reason.unwrap().contains("ffprobe"),
        "the tool's words are the operator's"
    );
    let row = env.job(id).await;
    assert_eq!(row.state, "failed");
    assert!(row
        .last_error
        .unwrap()
        .contains("/nonexistent/ffprobe not found"));
}

#[tokio::test]
async fn a_hung_ffprobe_is_killed_at_the_timeout_and_the_job_retried() {
    let env = TestEnv::new().await;
    let vid = env.stored_video(VideoState::Uploaded, b"whatever").await;
    let tools = tempfile::tempdir().unwrap();
    let pid_file = tools.path().join("pid");
    let probe = fake_tool(
        tools.path(),
        "ffprobe",
        &format!("echo $$ > '{}'\nexec sleep 60\n", pid_file.display()),
    );
    let config = scheduler::RunnerConfig {
        ffprobe: probe,
        ffmpeg_timeout: Duration::from_secs(2),
        ..test_config()
    };
    let (id, outcome) = process(&env, config, &vid).await;
    assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
    let error = env.job(id).await.last_error.unwrap();
    assert!(
        error.contains("did not finish within 2s and was killed"),
        "{error}"
    );
    assert_eq!(video_row(&env, &vid).await.0, "uploaded");

    // The hung process is gone (or a zombie about to be reaped), not left running.
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let what = format!("ffprobe {pid} to stop after its timeout");
    svc::testing::eventually(&what, Duration::from_secs(5), || async {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => Some(()),
            Ok(stat) => stat.contains(") Z ").then_some(()),
        }
    })
    .await;
}
