//! The ffmpeg command lines of every rendition (the progressive MP4, the HLS rungs, the
//! storyboard, the remux) and the one way a transcode runs ([`transcode`]): holding one of
//! `TRANSCODE_CONCURRENCY` permits, through `nice`, within a time limit derived from the
//! video's duration ([`time_limit`]), writing `processing_progress` at most once a second.
//!
//! The numbers, and why:
//! - H.264 High, 8-bit 4:2:0, AAC-LC: what every browser and phone decodes in hardware.
//! - `-preset veryfast -crf 23`: about real time at 1080p on two cores, at a quality viewers do
//!   not tell from `medium` at these sizes; CRF spends little on easy pictures.
//! - Capped (`-maxrate`, `-bufsize` twice that) at 400k/800k/1.4M/2.8M/5M for 240p..1080p
//!   ([`VIDEO_CAPS`]), 1.5 times that above 31 fps: about 0.1 bit per pixel per frame at 30 fps,
//!   in line with Apple's HLS authoring guide and YouTube's recommendations, so that each rung
//!   fits a connection of about twice the rung below. AAC at 128 kbit/s stereo on every rung
//!   (switching rungs never changes the sound).
//! - Keyframes forced every 4 s (`-force_key_frames`, no scene-cut keyframes) in every
//!   rendition, so the rungs' 4 s HLS segments start at the same instants and a player can
//!   switch between them at any segment boundary.
//! - Frame rate at most the source's: 60 fps at most, 30 fps for rungs up to 480p.
//! - Container metadata is dropped (`-map_metadata -1`): phones write the place a clip was
//!   filmed there, and the renditions are public.
//!
//! Where the inputs and outputs live and what happens to them is `process.rs`' and
//! `ladder.rs`'.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use svc::VideoId;

use super::context::{Context, WorkError};
use super::media::{fit, Media, Muxer};
use super::tools::{self, Finished};
use crate::config::TRANSCODE_TIME_FACTOR;
use crate::store;

/// Every rendition's segment length and keyframe interval, in seconds.
pub const SEGMENT_SECONDS: u32 = 4;

/// The audio bitrate of every rendition, bits per second.
pub const AUDIO_BITRATE: u32 = 128_000;

/// The progressive rendition is at most 1080p: above that it would be a file few viewers can
/// stream, and the ladder tops out there too.
pub const PROGRESSIVE_MAX_SHORT_SIDE: u32 = 1080;

/// The video bitrate cap of each rung (bits per second) at up to 31 fps.
pub const VIDEO_CAPS: [(u16, u32); 5] = [
    (240, 400_000),
    (360, 800_000),
    (480, 1_400_000),
    (720, 2_800_000),
    (1080, 5_000_000),
];

/// How often `processing_progress` is written while a transcode runs, at most.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The frame a rendition is encoded to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    /// The highest frame rate it keeps; a faster source is reduced to this.
    pub max_fps: f64,
    /// `-maxrate`, bits per second.
    pub maxrate: u32,
}

impl Picture {
    /// The progressive rendition: the source's display size up to 1080p, up to 60 fps.
    pub fn progressive(media: &Media) -> Self {
        let (width, height) = fit(media.display_size(), PROGRESSIVE_MAX_SHORT_SIDE);
        Self::sized(media, width, height, 60.0)
    }

    /// The ladder rung `rung` (a height of `svc::storage::keys::LADDER_HEIGHTS`): the short
    /// side at `rung`, or the source's own when that is smaller (never upscaled).
    pub fn rung(media: &Media, rung: u16) -> Self {
        let (width, height) = fit(media.display_size(), u32::from(rung));
        let max_fps = if rung <= 480 { 30.0 } else { 60.0 };
        Self::sized(media, width, height, max_fps)
    }

    fn sized(media: &Media, width: u32, height: u32, max_fps: f64) -> Self {
        let fps = media.video.fps.map_or(max_fps, |f| f.min(max_fps));
        Picture {
            width,
            height,
            max_fps,
            maxrate: video_cap(width.min(height), fps),
        }
    }

    /// What the rendition needs at its peak, video and audio, for a master playlist before it
    /// is measured.
    pub fn bandwidth(&self, has_audio: bool) -> u32 {
        self.maxrate + if has_audio { AUDIO_BITRATE } else { 0 }
    }
}

/// The video bitrate cap for a picture whose short side is `short` at `fps`: that of the
/// first rung at least as large (the top rung's above it), 1.5 times that above 31 fps.
pub fn video_cap(short: u32, fps: f64) -> u32 {
    let base = VIDEO_CAPS
        .iter()
        .find(|(rung, _)| u32::from(*rung) >= short)
        .unwrap_or(&VIDEO_CAPS[VIDEO_CAPS.len() - 1])
        .1;
    if fps > 31.0 {
        base / 2 * 3
    } else {
        base
    }
}

/// The video filter chain: deinterlace, tone-map HDR to SDR, scale to the picture with square
/// pixels, reduce the frame rate, 8-bit 4:2:0. Rotation needs nothing here: ffmpeg turns the
/// frames upright before the chain (`-autorotate`, its default) and writes no rotation into
/// the output.
pub fn video_filters(media: &Media, picture: &Picture) -> String {
    let mut filters = Vec::new();
    if media.video.interlaced {
        filters.push("yadif=deint=interlaced".to_string());
    }
    if media.is_hdr() {
        filters.push(
            "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
             tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv"
                .to_string(),
        );
    }
    filters.push(format!(
        "scale={}:{}:flags=bicubic,setsar=1",
        picture.width, picture.height
    ));
    if media.video.fps.is_some_and(|f| f > picture.max_fps + 0.5) {
        filters.push(format!("fps={}", picture.max_fps));
    }
    filters.push("format=yuv420p".to_string());
    filters.join(",")
}

fn strings(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// The first video and first audio stream of `src` (every other stream is left out: data
/// tracks, subtitles, a second language); no container metadata or chapters.
fn input(src: &Path) -> Vec<OsString> {
    let mut args = strings(&["-i"]);
    args.push(src.as_os_str().to_owned());
    args.extend(strings(&[
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
    ]));
    args
}

/// H.264 High + AAC at `picture`.
fn codecs(media: &Media, picture: &Picture) -> Vec<OsString> {
    let maxrate = picture.maxrate.to_string();
    let bufsize = (u64::from(picture.maxrate) * 2).to_string();
    let keyframes = format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})");
    let audio = AUDIO_BITRATE.to_string();
    let filters = video_filters(media, picture);
    let mut args = strings(&[
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        "23",
        "-maxrate",
        &maxrate,
        "-bufsize",
        &bufsize,
        "-force_key_frames",
        &keyframes,
        "-sc_threshold",
        "0",
        "-vf",
        &filters,
        "-c:a",
        "aac",
        "-b:a",
        &audio,
        // Sparse or badly interleaved inputs (AVI, FLV) need more room to line streams up.
        "-max_muxing_queue_size",
        "4096",
    ]);
    if media.audio_channels.is_some_and(|c| c > 2) {
        args.extend(strings(&["-ac", "2"]));
    }
    args
}

/// The progressive rendition: a faststart MP4 named `out` in the scratch directory.
pub fn progressive_args(src: &Path, media: &Media, out: &str) -> Vec<OsString> {
    let mut args = input(src);
    args.extend(codecs(media, &Picture::progressive(media)));
    args.extend(strings(&["-movflags", "+faststart", "-f", "mp4", out]));
    args
}

/// One ladder rung as HLS (RFC 8216, version 7): fMP4 segments of [`SEGMENT_SECONDS`] in one
/// file, `media` (the init segment, then every fragment), addressed by byte ranges from the
/// VOD playlist `playlist`; both in the scratch directory.
pub fn rung_args(
    src: &Path,
    media: &Media,
    picture: &Picture,
    playlist: &str,
    media_file: &str,
) -> Vec<OsString> {
    let mut args = input(src);
    args.extend(codecs(media, picture));
    let seconds = SEGMENT_SECONDS.to_string();
    args.extend(strings(&[
        "-f",
        "hls",
        "-hls_time",
        &seconds,
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "single_file",
        "-hls_segment_filename",
        media_file,
        playlist,
    ]));
    args
}

/// The remux: the first video and audio stream copied into `muxer`'s container (`+faststart`
/// for MP4, so the index comes first).
pub fn remux_args(src: &Path, muxer: Muxer, out: &Path) -> Vec<OsString> {
    let mut args = input(src);
    args.extend(strings(&["-c", "copy"]));
    if muxer == Muxer::Mp4 {
        args.extend(strings(&["-movflags", "+faststart"]));
    }
    args.extend(strings(&["-f", muxer.format()]));
    args.push(out.as_os_str().to_owned());
    args
}

/// A storyboard's layout: one tile every `every` seconds, `tile` pixels each, `columns` x
/// `rows` of them in one sprite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storyboard {
    pub every: u32,
    pub tile: (u32, u32),
    pub columns: u32,
    pub rows: u32,
}

/// Tiles are this wide; their height keeps the picture's aspect.
pub const STORYBOARD_TILE_WIDTH: u32 = 160;
/// A storyboard has at most about this many tiles: a tile every second up to 100 s, then
/// every `ceil(duration / 100)` seconds.
pub const STORYBOARD_MAX_TILES: u32 = 100;
const STORYBOARD_COLUMNS: u32 = 10;

impl Storyboard {
    /// The layout for a video of `duration` whose frames are `picture` (width, height).
    pub fn plan(duration: Duration, picture: (u32, u32)) -> Self {
        let seconds = duration.as_secs_f64().max(0.001);
        let every = ((seconds / f64::from(STORYBOARD_MAX_TILES)).ceil() as u32).max(1);
        let (w, h) = picture;
        let tile_height =
            ((f64::from(STORYBOARD_TILE_WIDTH) * f64::from(h) / f64::from(w.max(1)) / 2.0).round()
                as u32)
                .max(1)
                * 2;
        // The frame-rate filter makes a tile at 0, every, 2 x every, ... up to the end; one
        // spare place keeps a tile that rounding adds at the end in the picture.
        let tiles = (seconds / f64::from(every)).floor() as u32 + 2;
        let columns = tiles.min(STORYBOARD_COLUMNS);
        Storyboard {
            every,
            tile: (STORYBOARD_TILE_WIDTH, tile_height),
            columns,
            rows: tiles.div_ceil(columns),
        }
    }

    pub fn capacity(&self) -> u32 {
        self.columns * self.rows
    }

    /// The WebVTT file (W3C WebVTT, with media fragment `#xywh=` regions) mapping each of
    /// `tiles` tiles' time range to its region of `image` (a URL relative to the VTT's); the
    /// last range ends at `duration`.
    pub fn vtt(&self, tiles: u32, duration: Duration, image: &str) -> String {
        let tiles = tiles.min(self.capacity());
        let end_ms = duration.as_millis() as u64;
        let mut vtt = String::from("WEBVTT\n");
        for k in 0..tiles {
            let start = u64::from(k * self.every) * 1000;
            let end = if k + 1 == tiles {
                end_ms.max(start)
            } else {
                u64::from((k + 1) * self.every) * 1000
            };
            let (w, h) = self.tile;
            let (x, y) = ((k % self.columns) * w, (k / self.columns) * h);
            vtt.push_str(&format!(
                "\n{} --> {}\n{image}#xywh={x},{y},{w},{h}\n",
                timestamp(start),
                timestamp(end)
            ));
        }
        vtt
    }
}

/// `hh:mm:ss.mmm`, as WebVTT writes cue times.
fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The storyboard run: `src`'s frames every `board.every` seconds, scaled, tiled into the JPEG
/// `sprite`; each frame that becomes a tile is also listed in the text file `list` (one
/// `frame:` line each), so the WebVTT file names exactly the tiles the sprite holds. Both are
/// names in the scratch directory, which ffmpeg runs in: nothing in the filter graph needs
/// escaping.
pub fn storyboard_args(src: &Path, board: &Storyboard, sprite: &str, list: &str) -> Vec<OsString> {
    let (w, h) = board.tile;
    let filters = format!(
        "fps=1/{},scale={w}:{h},setsar=1,metadata=mode=add:key=tile:value=1,\
         metadata=mode=print:file={list},tile={}x{}",
        board.every, board.columns, board.rows
    );
    let mut args = strings(&["-i"]);
    args.push(src.as_os_str().to_owned());
    args.extend(strings(&[
        "-map",
        "0:v:0",
        "-an",
        "-vf",
        &filters,
        "-frames:v",
        "1",
        "-q:v",
        "5",
        "-c:v",
        "mjpeg",
        "-f",
        "image2",
        sprite,
    ]));
    args
}

/// How many tiles a storyboard run listed (see [`storyboard_args`]).
pub fn listed_tiles(list: &str) -> u32 {
    list.lines().filter(|l| l.starts_with("frame:")).count() as u32
}

/// The longest a transcode of a video of `duration` may run: [`TRANSCODE_TIME_FACTOR`] times
/// its duration, or `FFMPEG_TIMEOUT` when that is longer (or the duration is unknown). The
/// time spent waiting for a permit does not count.
pub fn time_limit(ctx: &Context, duration: Option<Duration>) -> Duration {
    let scaled = duration.map_or(Duration::ZERO, |d| d * TRANSCODE_TIME_FACTOR);
    scaled.max(ctx.config.ffmpeg_timeout)
}

/// Where a running transcode reports progress: `processing_progress` of `video`, as the
/// overall percent `base + span x (output time / total)`, so that several runs (the ladder's
/// rungs) add up to one bar.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    pub video: &'a VideoId,
    /// The duration of what the run reads.
    pub total: Duration,
    /// Fractions of the whole job (0 to 1) done before this run, and covered by it.
    pub base: f64,
    pub span: f64,
}

impl Progress<'_> {
    /// The whole percent for `us` microseconds of output, at most 99: 100 would say "done",
    /// which only the job's end says (by clearing the column).
    pub fn percent(&self, us: u64) -> u8 {
        let total = self.total.as_micros().max(1) as f64;
        let done = (us as f64 / total).clamp(0.0, 1.0);
        let overall = (self.base + self.span * done).clamp(0.0, 1.0);
        ((overall * 100.0).floor() as u8).min(99)
    }
}

/// Runs one transcode: waits for a `TRANSCODE_CONCURRENCY` permit, then runs `ffmpeg args`
/// niced in the scratch directory within `limit`, writing `progress` (when given) to the
/// database at most once a second. Returns how ffmpeg ended; what a failure means is the
/// caller's to say ([`WorkError::from_failed_run`]).
pub async fn transcode(
    ctx: &Context,
    args: &[OsString],
    limit: Duration,
    progress: Option<&Progress<'_>>,
) -> Result<Finished, WorkError> {
    let _permit = ctx
        .transcodes
        .acquire()
        .await
        .map_err(|_| WorkError::Other("the transcode permits are closed".to_string()))?;
    let mut all: Vec<&OsStr> = [
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-nostats",
        "-progress",
        "pipe:1",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    all.extend(args.iter().map(OsString::as_os_str));
    let made = AtomicU64::new(u64::MAX);
    let dir = ctx.config.scratch_dir.clone();
    let run = tools::run_niced(&ctx.config.ffmpeg, "FFMPEG", &all, &dir, limit, &made);
    tokio::pin!(run);
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown = None;
    loop {
        tokio::select! {
            finished = &mut run => return Ok(finished?),
            _ = ticks.tick() => {
                let (Some(progress), us) = (progress, made.load(Ordering::Relaxed)) else {
                    continue;
                };
                if us == u64::MAX {
                    continue;
                }
                let percent = progress.percent(us);
                if shown != Some(percent) {
                    shown = Some(percent);
                    if let Err(e) = store::videos::set_progress(&ctx.pool, progress.video, Some(percent)).await {
                        tracing::warn!(video_id = %progress.video, error = %e, "cannot record transcode progress");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::media::{Container, VideoStream};

    fn media(width: u32, height: u32, fps: f64) -> Media {
        Media {
            container: Container::Other("avi".into()),
            duration: Some(Duration::from_secs(60)),
            bitrate: None,
            video: VideoStream {
                codec: "mpeg4".into(),
                pix_fmt: Some("yuv420p".into()),
                width,
                height,
                sar: (1, 1),
                rotation: 0,
                fps: Some(fps),
                interlaced: false,
                transfer: None,
            },
            audio: Some("mp3".into()),
            audio_channels: Some(6),
        }
    }

    fn text(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn caps_follow_the_short_side_and_the_frame_rate() {
        assert_eq!(video_cap(240, 25.0), 400_000);
        assert_eq!(video_cap(241, 25.0), 800_000);
        assert_eq!(video_cap(1080, 30.0), 5_000_000);
        assert_eq!(video_cap(2160, 30.0), 5_000_000);
        assert_eq!(video_cap(720, 60.0), 4_200_000);
        let m = media(1920, 1080, 60.0);
        let low = Picture::rung(&m, 360);
        assert_eq!((low.width, low.height, low.max_fps), (640, 360, 30.0));
        assert_eq!(low.maxrate, 800_000, "reduced to 30 fps, so the 30 fps cap");
        let top = Picture::rung(&m, 1080);
        assert_eq!(top.maxrate, 7_500_000);
        assert_eq!(top.bandwidth(true), 7_628_000);
        let p = Picture::progressive(&media(3840, 2160, 25.0));
        assert_eq!((p.width, p.height, p.maxrate), (1920, 1080, 5_000_000));
    }

    #[test]
    fn the_progressive_command_line_maps_scales_and_faststarts() {
        let m = media(1920, 1080, 120.0);
        let args = text(&progressive_args(
            Path::new("/s/originals/v"),
            &m,
            "out.mp4",
        ));
        for part in [
            "-i /s/originals/v -map 0:v:0 -map 0:a:0? -map_metadata -1",
            "-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 23",
            "-maxrate 7500000 -bufsize 15000000",
            "-force_key_frames expr:gte(t,n_forced*4) -sc_threshold 0",
            "-vf scale=1920:1080:flags=bicubic,setsar=1,fps=60,format=yuv420p",
            "-c:a aac -b:a 128000",
            "-ac 2",
            "-movflags +faststart -f mp4 out.mp4",
        ] {
            assert!(args.contains(part), "{part:?} in {args}");
        }
        let mut hdr = media(1280, 720, 30.0);
        hdr.video.transfer = Some("arib-std-b67".into());
        hdr.video.interlaced = true;
        let filters = video_filters(&hdr, &Picture::progressive(&hdr));
        assert!(
            filters.starts_with("yadif=deint=interlaced,zscale=t=linear"),
            "{filters}"
        );
        assert!(filters.ends_with("scale=1280:720:flags=bicubic,setsar=1,format=yuv420p"));
    }

    #[test]
    fn a_rung_is_single_file_fmp4_hls() {
        let m = media(1280, 720, 25.0);
        let picture = Picture::rung(&m, 480);
        let args = text(&rung_args(
            Path::new("/s/v"),
            &m,
            &picture,
            "a.m3u8",
            "a.mp4",
        ));
        assert!(args.contains("scale=854:480"), "{args}");
        assert!(args.ends_with(
            "-f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 \
             -hls_flags single_file -hls_segment_filename a.mp4 a.m3u8"
        ));
        let remux = text(&remux_args(
            Path::new("/s/v"),
            Muxer::Mp4,
            Path::new("/t/o"),
        ));
        assert!(
            remux.ends_with("-c copy -movflags +faststart -f mp4 /t/o"),
            "{remux}"
        );
        let webm = text(&remux_args(
            Path::new("/s/v"),
            Muxer::Webm,
            Path::new("/t/o"),
        ));
        assert!(webm.ends_with("-c copy -f webm /t/o"), "{webm}");
    }

    #[test]
    fn storyboards_hold_at_most_about_a_hundred_tiles() {
        let two = Storyboard::plan(Duration::from_millis(2000), (426, 240));
        assert_eq!(two.every, 1);
        assert_eq!(two.tile, (160, 90));
        assert_eq!((two.columns, two.rows), (4, 1));
        let minute = Storyboard::plan(Duration::from_secs(60), (1920, 1080));
        assert_eq!((minute.every, minute.columns, minute.rows), (1, 10, 7));
        let hour = Storyboard::plan(Duration::from_secs(3600), (240, 320));
        assert_eq!(hour.every, 36);
        assert_eq!(hour.tile, (160, 214));
        assert_eq!((hour.columns, hour.rows), (10, 11));
        let args = text(&storyboard_args(Path::new("/s/v"), &two, "s.jpg", "s.txt"));
        assert!(
            args.contains(
                "fps=1/1,scale=160:90,setsar=1,metadata=mode=add:key=tile:value=1,\
             metadata=mode=print:file=s.txt,tile=4x1"
            ),
            "{args}"
        );
    }

    #[test]
    fn the_vtt_maps_each_listed_tile_to_its_region() {
        let board = Storyboard {
            every: 5,
            tile: (160, 90),
            columns: 2,
            rows: 2,
        };
        let list = "frame:0    pts:0       pts_time:0\ntile=1\nframe:1    pts:1       pts_time:5\n\
                    tile=1\nframe:2    pts:2       pts_time:10\ntile=1\n";
        assert_eq!(listed_tiles(list), 3);
        let vtt = board.vtt(3, Duration::from_millis(12_345), "storyboard.jpg");
        assert_eq!(
            vtt,
            "WEBVTT\n\
             \n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg#xywh=0,0,160,90\n\
             \n00:00:05.000 --> 00:00:10.000\nstoryboard.jpg#xywh=160,0,160,90\n\
             \n00:00:10.000 --> 00:00:12.345\nstoryboard.jpg#xywh=0,90,160,90\n"
        );
        // Never more cues than the sprite has places.
        assert_eq!(
            board
                .vtt(9, Duration::from_secs(60), "s.jpg")
                .matches("#xywh")
                .count(),
            4
        );
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }

    #[test]
    fn progress_adds_up_across_runs_and_stops_short_of_done() {
        let vid = VideoId::random();
        let whole = Progress {
            video: &vid,
            total: Duration::from_secs(2),
            base: 0.0,
            span: 1.0,
        };
        assert_eq!(whole.percent(0), 0);
        assert_eq!(whole.percent(1_000_000), 50);
        assert_eq!(whole.percent(5_000_000), 99);
        let second_half = Progress {
            base: 0.5,
            span: 0.5,
            ..whole.clone()
        };
        assert_eq!(second_half.percent(1_000_000), 75);
    }
}
