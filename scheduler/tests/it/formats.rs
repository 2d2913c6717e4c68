//! Every kind of upload people have, through `process_video` and `make_ladder` with real
//! ffmpeg, then read back as a viewer would: ffprobe over HTTP from the streamserver for the
//! progressive rendition and the HLS master playlist, the storyboard's WebVTT and sprite.

use mysql_async::prelude::Queryable;
use scheduler::Outcome;
use svc::jobs::JobKind::{MakeLadder, ProcessVideo};
use svc::storage::keys;
use svc::VideoId;

use crate::helpers::{run_one, test_config, Processed, Streamer, TestEnv};
use crate::samples::Sample;

/// An uploaded sample, processed and laddered.
struct Case {
    env: TestEnv,
    vid: VideoId,
    /// The `process_video` job's id.
    job: u64,
    streamer: Streamer,
    _samples: tempfile::TempDir,
}

impl Case {
    /// Uploads `sample`, runs its processing job and, when processing made it ready, its
    /// ladder job.
    async fn run(sample: Sample) -> Case {
        let env = TestEnv::new().await;
        let samples = tempfile::tempdir().unwrap();
        let file = sample.make(samples.path());
        let vid = env.uploaded(&file, sample.content_type()).await;
        let job = env.enqueue(ProcessVideo, &vid).await;
        let runner = env.runner(test_config());
        let outcome = run_one(&runner).await;
        if env.processed(&vid).await.state == "ready" {
            assert_eq!(outcome, Outcome::Done);
            let ladder: u64 = env
                .count(&format!(
                    "SELECT COUNT(*) FROM jobs WHERE kind = '{}' AND video_id = '{vid}'",
                    MakeLadder.as_str()
                ))
                .await;
            assert_eq!(ladder, 1, "ready queues the ladder");
            assert_eq!(run_one(&runner).await, Outcome::Done, "the ladder job");
        }
        let streamer = Streamer::start(&env).await;
        Case {
            env,
            vid,
            job,
            streamer,
            _samples: samples,
        }
    }

    async fn row(&self) -> Processed {
        self.env.processed(&self.vid).await
    }

    /// ffprobe's streams of the progressive rendition, read over HTTP as a browser would.
    async fn progressive(&self) -> Vec<serde_json::Value> {
        let json = self.streamer.probe(
            &format!("/videos/{}", self.vid),
            "stream=codec_type,codec_name,profile,pix_fmt,width,height:stream_side_data=rotation",
        ).await;
        json["streams"].as_array().unwrap().clone()
    }

    /// Asserts the progressive rendition is H.264 High 4:2:0 `width` x `height` with AAC, no
    /// rotation left, and that the row says so.
    async fn assert_transcoded(&self, width: u64, height: u64) {
        let streams = self.progressive().await;
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        assert_eq!(video["codec_name"], "h264", "{video}");
        assert_eq!(video["profile"], "High", "{video}");
        assert_eq!(video["pix_fmt"], "yuv420p", "{video}");
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(width), Some(height))
        );
        assert!(
            video.get("side_data_list").is_none(),
            "no rotation left: {video}"
        );
        let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
        assert_eq!(audio["codec_name"], "aac", "{audio}");
        assert_eq!(streams.len(), 2, "{streams:?}");

        let row = self.row().await;
        assert_eq!(row.state, "ready", "{row:?}");
        assert_eq!(row.size, (Some(width as u32), Some(height as u32)));
        assert_eq!(row.codecs, (Some("h264".into()), Some("aac".into())));
        assert_eq!(row.content_type.as_deref(), Some("video/mp4"));
        assert!(row.has_original, "the original is kept for its owner");
        assert_eq!(row.progress, None);
        let progressive = std::fs::read(self.env.path(&keys::video(&self.vid))).unwrap();
        assert_eq!(row.file.0, Some(progressive.len() as u64));
        let original = self.env.path(&keys::original(&self.vid));
        assert!(original.exists(), "originals/<vid> holds the upload");
    }

    /// Asserts the ladder has `rungs` (height, width, frame height), every row ready, and that
    /// ffprobe reading the master playlist over HTTP finds each of them; and that the
    /// storyboard parses and fits its sprite.
    async fn assert_ladder(&self, rungs: &[(u16, u64, u64)]) {
        let rows = self.env.renditions(&self.vid).await;
        let heights: Vec<u16> = rows.iter().map(|r| r.0).collect();
        let expected: Vec<u16> = rungs.iter().map(|r| r.0).collect();
        assert_eq!(heights, expected);
        for (height, width, bandwidth, codecs, ready) in &rows {
            assert!(ready, "{height}p ready");
            assert!(*bandwidth > 0);
            assert!(codecs.starts_with("avc1.64"), "{codecs}");
            let rung = rungs.iter().find(|r| r.0 == *height).unwrap();
            assert_eq!(u64::from(*width), rung.1);
        }

        let master = String::from_utf8(
            self.streamer
                .get(&format!("/videos/{}/hls/master.m3u8", self.vid))
                .await
                .to_vec(),
        )
        .unwrap();
        assert!(
            master.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n"),
            "{master}"
        );
        for (height, width, frame_height) in rungs {
            assert!(
                master.contains(&format!("RESOLUTION={width}x{frame_height},")),
                "{master}"
            );
            assert!(master.contains(&format!("\n{height}p.m3u8\n")), "{master}");
        }
        let json = self.streamer.probe(
            &format!("/videos/{}/hls/master.m3u8", self.vid),
            "program=program_id:program_tags=variant_bitrate:program_stream=codec_type,codec_name,profile,width,height",
        ).await;
        let programs = json["programs"].as_array().unwrap();
        assert_eq!(programs.len(), rungs.len(), "{json}");
        let mut sizes: Vec<(u64, u64)> = programs
            .iter()
            .map(|p| {
                let video = p["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["codec_type"] == "video")
                    .unwrap();
                assert_eq!(video["codec_name"], "h264");
                (
                    video["width"].as_u64().unwrap(),
                    video["height"].as_u64().unwrap(),
                )
            })
            .collect();
        sizes.sort();
        let mut expected: Vec<(u64, u64)> = rungs.iter().map(|r| (r.1, r.2)).collect();
        expected.sort();
        assert_eq!(sizes, expected);

        // A media playlist addresses its one file by byte ranges.
        let lowest = rungs[0].0;
        let playlist = String::from_utf8(
            self.streamer
                .get(&format!("/videos/{}/hls/{lowest}p.m3u8", self.vid))
                .await
                .to_vec(),
        )
        .unwrap();
        assert!(
            playlist.contains(&format!("#EXT-X-MAP:URI=\"{lowest}p.mp4\",BYTERANGE=")),
            "{playlist}"
        );
        assert!(playlist.contains("#EXT-X-BYTERANGE:"), "{playlist}");
        assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");

        self.assert_storyboard().await;
        assert_eq!(self.row().await.progress, None);
    }

    async fn assert_storyboard(&self) {
        assert!(self.row().await.has_storyboard);
        let vtt = self
            .streamer
            .get(&format!("/videos/{}/storyboard.vtt", self.vid))
            .await;
        let vtt = String::from_utf8(vtt.to_vec()).unwrap();
        let sprite = self
            .streamer
            .probe(
                &format!("/videos/{}/storyboard.jpg", self.vid),
                "stream=codec_name,width,height",
            )
            .await;
        let sprite = &sprite["streams"][0];
        assert_eq!(sprite["codec_name"], "mjpeg");
        let (sw, sh) = (
            sprite["width"].as_u64().unwrap(),
            sprite["height"].as_u64().unwrap(),
        );
        let cues = parse_vtt(&vtt);
        assert!(cues.len() >= 2, "a 2 s video has a tile a second: {vtt}");
        let mut last_end = 0;
        for (start, end, (x, y, w, h)) in &cues {
            assert_eq!(*start, last_end, "cues follow each other: {vtt}");
            assert!(end > start, "{vtt}");
            assert!(
                x + w <= sw && y + h <= sh,
                "tile inside the {sw}x{sh} sprite: {vtt}"
            );
            assert_eq!(*w, 160);
            last_end = *end;
        }
        assert!(
            (1900..=2100).contains(&last_end),
            "the last cue ends at the end: {vtt}"
        );
    }
}

/// One WebVTT cue of a storyboard: start and end in milliseconds, and the `#xywh=` region.
type Cue = (u64, u64, (u64, u64, u64, u64));

/// The cues of a storyboard's WebVTT file, each pointing into `storyboard.jpg`; panics on
/// anything else.
fn parse_vtt(vtt: &str) -> Vec<Cue> {
    let ms = |t: &str| {
        let (hms, millis) = t.split_once('.').unwrap();
        let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + millis.parse::<u64>().unwrap()
    };
    let mut blocks = vtt.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "{vtt}");
    blocks
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut lines = block.lines();
            let (start, end) = lines.next().unwrap().split_once(" --> ").unwrap();
            let target = lines.next().unwrap();
            let xywh = target.strip_prefix("storyboard.jpg#xywh=").unwrap();
            let n: Vec<u64> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
            assert_eq!(lines.next(), None, "{block}");
            (ms(start), ms(end), (n[0], n[1], n[2], n[3]))
        })
        .collect()
}

/// The one rung a 320x240 source gets.
const LOW_LANDSCAPE: [(u16, u64, u64); 1] = [(240, 320, 240)];

#[tokio::test]
async fn hevc_mp4_is_transcoded_to_h264_and_laddered() {
    let case = Case::run(Sample::Hevc).await;
    case.assert_transcoded(320, 240).await;
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn an_hdr_phone_clip_is_tone_mapped_to_8_bit_sdr() {
    let case = Case::run(Sample::HdrHevc).await;
    case.assert_transcoded(320, 240).await;
    let json = case
        .streamer
        .probe(
            &format!("/videos/{}", case.vid),
            "stream=codec_type,color_transfer,color_primaries",
        )
        .await;
    let video = &json["streams"][0];
    assert_eq!(video["color_transfer"], "bt709", "{video}");
    assert_ne!(video["color_primaries"], "bt2020", "{video}");
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn prores_mov_with_pcm_audio_is_transcoded_in_one_attempt() {
    let case = Case::run(Sample::ProRes).await;
    case.assert_transcoded(320, 240).await;
    let (attempts, errors): (u32, Option<String>) = case
        .env
        .conn()
        .await
        .exec_first(
            "SELECT attempts, last_error FROM jobs WHERE kind = 'process_video'",
            (),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((attempts, errors), (0, None), "no retries");
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn h264_444_with_pcm_audio_is_transcoded_to_420() {
    let case = Case::run(Sample::H264Yuv444).await;
    case.assert_transcoded(320, 240).await;
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn a_rotated_phone_clip_ends_portrait() {
    let case = Case::run(Sample::Portrait).await;
    case.assert_transcoded(240, 320).await;
    case.assert_ladder(&[(240, 240, 320)]).await;
    let thumbnail = case.env.path(&keys::thumbnail(&case.vid));
    let size = crate::helpers::run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
            thumbnail.to_str().unwrap(),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&size).trim(), "240,320");
}

#[tokio::test]
async fn avi_with_mpeg4_and_mp3_is_transcoded() {
    let case = Case::run(Sample::Avi).await;
    case.assert_transcoded(320, 240).await;
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn mpeg_ts_is_transcoded() {
    let case = Case::run(Sample::MpegTs).await;
    case.assert_transcoded(320, 240).await;
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn flv_is_transcoded() {
    let case = Case::run(Sample::Flv).await;
    case.assert_transcoded(320, 240).await;
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn vp9_webm_is_kept_as_it_came() {
    let samples = tempfile::tempdir().unwrap();
    let uploaded = std::fs::read(Sample::Vp9Webm.make(samples.path())).unwrap();
    let case = Case::run(Sample::Vp9Webm).await;
    let row = case.row().await;
    assert_eq!(row.state, "ready", "{row:?}");
    assert!(!row.has_original, "nothing transcoded, nothing kept aside");
    assert_eq!(row.content_type.as_deref(), Some("video/webm"));
    assert_eq!(row.codecs, (Some("vp9".into()), Some("opus".into())));
    let served = case.progressive().await;
    let video = served.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(
        (video["codec_name"].as_str(), video["pix_fmt"].as_str()),
        (Some("vp9"), Some("yuv420p"))
    );
    let stored = std::fs::read(case.env.path(&keys::video(&case.vid))).unwrap();
    assert_eq!(
        stored.len(),
        uploaded.len(),
        "the upload is served as it came"
    );
    assert!(!case.env.path(&keys::original(&case.vid)).exists());
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn an_h264_mov_is_remuxed_into_mp4_without_a_transcode() {
    let case = Case::run(Sample::H264Mov).await;
    let row = case.row().await;
    assert_eq!(row.state, "ready", "{row:?}");
    assert!(!row.has_original);
    assert_eq!(row.content_type.as_deref(), Some("video/mp4"));
    let stored = std::fs::read(case.env.path(&keys::video(&case.vid))).unwrap();
    assert_eq!(&stored[4..8], b"ftyp");
    assert_ne!(&stored[8..12], b"qt  ", "an MP4 brand now");
    let streams = case.progressive().await;
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    // Copied, not re-encoded: x264's ultrafast preset writes Constrained Baseline, the
    // transcode High.
    assert_eq!(video["profile"], "Constrained Baseline", "{video}");
    case.assert_ladder(&LOW_LANDSCAPE).await;
}

#[tokio::test]
async fn an_audio_only_file_fails_with_a_plain_reason_in_one_attempt() {
    let case = Case::run(Sample::AudioOnly).await;
    let row = case.row().await;
    assert_eq!(row.state, "failed");
    assert_eq!(
        row.failure_reason.as_deref(),
        Some("This file has no video track.")
    );
    let job = case.env.job(case.job).await;
    assert_eq!((job.state.as_str(), job.attempts), ("failed", 1), "{job:?}");
    let error = job.last_error.unwrap();
    assert!(
        error.contains("audio/aac"),
        "the operator sees what ffprobe saw: {error}"
    );
    assert!(case.env.renditions(&case.vid).await.is_empty());
}

#[tokio::test]
async fn a_truncated_file_fails_as_damaged_with_the_tool_s_words_for_the_operator() {
    let case = Case::run(Sample::Truncated).await;
    let row = case.row().await;
    assert_eq!(row.state, "failed");
    assert_eq!(
        row.failure_reason.as_deref(),
        Some("This file is damaged or incomplete; upload it again.")
    );
    let job = case.env.job(case.job).await;
    assert_eq!((job.state.as_str(), job.attempts), ("failed", 1), "{job:?}");
    let error = job.last_error.unwrap();
    assert!(
        error.starts_with("refused: ffprobe exited with 1: "),
        "{error}"
    );
    assert!(error.contains("moov atom not found"), "{error}");
    // Not served: playback is for playable videos.
    let resp = reqwest::get(case.streamer.url(&format!("/videos/{}", case.vid)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
