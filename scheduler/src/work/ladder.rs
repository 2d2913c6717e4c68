//! `make_ladder`: the adaptive HLS ladder and the storyboard of a video that is already
//! playable (queued by `process.rs` when it becomes `ready`).
//!
//! The rungs are the heights of `svc::storage::keys::LADDER_HEIGHTS` not above the source's
//! short side (at least the lowest, at the source's own size when it is smaller); each is one
//! fMP4 file with a byte-range media playlist (RFC 8216 version 7, `#EXT-X-MAP` and
//! `#EXT-X-BYTERANGE`), so storage holds two objects per rung and playback is the
//! streamserver's Range code. The steps, each safe to repeat:
//! 1. plan: a `video_renditions` row per rung, not ready (rows already ready stay so);
//! 2. per rung not ready, lowest first: transcode into scratch (the whole rung, from the start),
//!    publish the media file, then the playlist, then mark the row ready with its measured
//!    peak bandwidth and codecs: a row is ready only after its files are, and a reader never
//!    sees a half-written file;
//! 3. once every rung is ready: the master playlist, from the published media playlists;
//! 4. the storyboard, from the lowest rung (small and keyframed every 4 s, so cheap to read):
//!    one sprite JPEG and a WebVTT file, then `has_storyboard`.
//!
//! `processing_progress` shows the rungs' overall percent and is cleared at the end. A failure
//! never fails the video, which stays playable as its progressive rendition; a refused source
//! fails the job at once.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use svc::storage::keys::{self, LADDER_HEIGHTS};
use svc::{VideoId, VideoState};

use super::context::{Context, WorkError};
use super::encode::{self, Picture, Progress, Storyboard, SEGMENT_SECONDS};
use super::media::{reasons, Media};
use super::process::{fetch, probe};
use super::scratch::Scratch;
use super::{delete, tools};
use crate::store::{self, renditions::Rendition};

/// The file names inside `hls/<vid>/`, as playlists refer to each other (relatively, so they
/// work through any proxy or media origin).
fn playlist_name(height: u16) -> String {
    format!("{height}p.m3u8")
}
fn media_name(height: u16) -> String {
    format!("{height}p.mp4")
}
/// The sprite's name as the WebVTT file refers to it (`/videos/{vid}/storyboard.jpg` beside
/// `/videos/{vid}/storyboard.vtt`).
const SPRITE_URL: &str = "storyboard.jpg";

/// Makes the ladder and the storyboard of the ready video `video_id`.
pub async fn make_ladder(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let result = ladder(ctx, video_id).await;
    if let Err(e) = store::videos::set_progress(&ctx.pool, video_id, None).await {
        tracing::warn!(%video_id, error = %e, "cannot clear the ladder's progress");
    }
    let Err(error) = result else {
        return Ok(());
    };
    let mut conn = ctx.pool.get_conn().await?;
    if store::videos::state(&mut conn, video_id).await?.is_none() {
        // Deleted while this ran (ffmpeg lost its input): nothing to retry or refuse.
        return delete::deleted_meanwhile(ctx, video_id).await;
    }
    Err(error)
}

/// One rung as planned: its row and the frame it is encoded to.
struct Rung {
    height: u16,
    picture: Picture,
}

/// The rungs of a source: [`LADDER_HEIGHTS`] up to its short side, at least the lowest.
fn rungs(media: &Media) -> Vec<Rung> {
    let (w, h) = media.display_size();
    let short = w.min(h);
    let mut heights: Vec<u16> = LADDER_HEIGHTS
        .iter()
        .copied()
        .filter(|&r| u32::from(r) <= short)
        .collect();
    if heights.is_empty() {
        heights.push(LADDER_HEIGHTS[0]);
    }
    heights
        .into_iter()
        .map(|height| Rung {
            height,
            picture: Picture::rung(media, height),
        })
        .collect()
}

async fn ladder(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let view = store::videos::processing_view(&mut conn, video_id).await?;
    drop(conn);
    let has_original = match view {
        Some((VideoState::Ready, has_original)) => has_original,
        other => {
            tracing::info!(%video_id, state = ?other.map(|(s, _)| s), "video not ready; no ladder to make");
            return Ok(());
        }
    };
    // The best source there is: the original when the progressive rendition is a transcode.
    let source_key = if has_original {
        keys::original(video_id)
    } else {
        keys::video(video_id)
    };
    let copy = fetch(ctx, &source_key).await?;
    let source = copy.path();
    let media = probe(ctx, source).await?;
    let rungs = rungs(&media);
    let has_audio = media.audio.is_some();
    let planned: Vec<Rendition> = rungs
        .iter()
        .map(|r| Rendition {
            height: r.height,
            width: r.picture.width,
            bandwidth: r.picture.bandwidth(has_audio),
            codecs: codecs(None, has_audio),
            ready: false,
        })
        .collect();
    let mut conn = ctx.pool.get_conn().await?;
    store::renditions::plan(&mut conn, video_id, &planned).await?;
    let stored = store::renditions::list(&mut conn, video_id).await?;
    drop(conn);

    let area = |r: &Rung| f64::from(r.picture.width) * f64::from(r.picture.height);
    let total: f64 = rungs.iter().map(area).sum();
    let mut done = 0.0;
    let top = rungs.last().map(|r| r.height);
    for rung in &rungs {
        let ready = stored.iter().any(|s| s.height == rung.height && s.ready);
        if !(ready && rung_published(ctx, video_id, rung.height).await?) {
            // The last rung is marked ready after the master playlist is published, below.
            let mark = Some(rung.height) != top;
            let progress = media.duration.map(|duration| Progress {
                video: video_id,
                total: duration,
                base: done / total,
                span: area(rung) / total,
            });
            if !make_rung(ctx, video_id, source, &media, rung, progress.as_ref(), mark).await? {
                return delete::deleted_meanwhile(ctx, video_id).await;
            }
        }
        done += area(rung);
    }
    publish_master(ctx, video_id, &media, &rungs).await?;
    // Every rung ready is what offers the ladder (the api's `hls_url`): only now that the
    // master playlist is there.
    if let Some(top) = top {
        let mut conn = ctx.pool.get_conn().await?;
        if !store::renditions::mark_ready(&mut conn, video_id, top).await? {
            return delete::deleted_meanwhile(ctx, video_id).await;
        }
    }
    if !storyboard(ctx, video_id, &media, &rungs[0]).await? {
        return delete::deleted_meanwhile(ctx, video_id).await;
    }
    tracing::info!(%video_id, rungs = rungs.len(), "ladder and storyboard ready");
    Ok(())
}

async fn rung_published(ctx: &Context, video_id: &VideoId, height: u16) -> Result<bool, WorkError> {
    for key in [
        keys::hls_media(video_id, height),
        keys::hls_playlist(video_id, height),
    ] {
        if ctx
            .storage
            .stat(&key)
            .await
            .map_err(WorkError::storage(&key))?
            .is_none()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Transcodes one rung into scratch and publishes its media file, then its playlist, then
/// records its row (ready when `mark`). `false` when the row is gone (the video was deleted).
async fn make_rung(
    ctx: &Context,
    video_id: &VideoId,
    source: &Path,
    media: &Media,
    rung: &Rung,
    progress: Option<&Progress<'_>>,
    mark: bool,
) -> Result<bool, WorkError> {
    let playlist = Scratch::new(ctx, "m3u8");
    let media_file = playlist.sibling(ctx, "mp4");
    let args = encode::rung_args(
        source,
        media,
        &rung.picture,
        playlist.name(),
        media_file.name(),
    );
    let finished = run(ctx, &args, media.duration, progress).await?;
    if !finished.status.success() {
        return Err(WorkError::from_failed_run(
            &format!("ffmpeg {}p rung", rung.height),
            finished.status.code(),
            &finished.stderr,
            reasons::UNCONVERTIBLE,
        ));
    }
    let text = tokio::fs::read_to_string(playlist.path())
        .await
        .map_err(WorkError::storage(playlist.name()))?;
    let text = text.replace(media_file.name(), &media_name(rung.height));
    let rates = Rates::of_playlist(&text).ok_or_else(|| {
        WorkError::Other(format!(
            "the {}p playlist ffmpeg wrote lists no segments",
            rung.height
        ))
    })?;
    let codecs = codecs(
        Some(&probe_json(ctx, media_file.path()).await?),
        media.audio.is_some(),
    );
    tokio::fs::write(playlist.path(), &text)
        .await
        .map_err(WorkError::storage(playlist.name()))?;
    for (file, key) in [
        (&media_file, keys::hls_media(video_id, rung.height)),
        (&playlist, keys::hls_playlist(video_id, rung.height)),
    ] {
        ctx.storage
            .publish_file(file.path(), &key)
            .await
            .map_err(WorkError::storage(&key))?;
    }
    let mut conn = ctx.pool.get_conn().await?;
    let marked =
        store::renditions::record(&mut conn, video_id, rung.height, rates.peak, &codecs, mark)
            .await?;
    tracing::info!(%video_id, height = rung.height, peak = rates.peak, average = rates.average, %codecs, "rung ready");
    Ok(marked)
}

/// Runs one transcode of the ladder within the time limit of the source's duration.
async fn run(
    ctx: &Context,
    args: &[OsString],
    duration: Option<Duration>,
    progress: Option<&Progress<'_>>,
) -> Result<tools::Finished, WorkError> {
    encode::transcode(ctx, args, encode::time_limit(ctx, duration), progress).await
}

/// ffprobe's streams of a file we made, as JSON.
async fn probe_json(ctx: &Context, path: &Path) -> Result<Vec<u8>, WorkError> {
    let args: [&std::ffi::OsStr; 7] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-print_format".as_ref(),
        "json".as_ref(),
        "-show_entries".as_ref(),
        "stream=codec_type,codec_name,profile,level".as_ref(),
        path.as_os_str(),
    ];
    let out = tools::run(
        &ctx.config.ffprobe,
        "FFPROBE",
        &args,
        ctx.config.ffmpeg_timeout,
    )
    .await?;
    if !out.status.success() {
        return Err(WorkError::Other(format!(
            "ffprobe cannot read a rung it made: {}",
            tools::last_line(&out.stderr)
        )));
    }
    Ok(out.stdout)
}

#[derive(Deserialize)]
struct CodecsJson {
    #[serde(default)]
    streams: Vec<CodecJson>,
}

#[derive(Deserialize)]
struct CodecJson {
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    level: Option<i64>,
}

/// The RFC 6381 codecs of a rung (for the master playlist's `CODECS`): `avc1.PPCCLL` from the
/// H.264 profile and level ffprobe reads in the file (ISO/IEC 14496-15), `mp4a.40.2` for
/// AAC-LC. Before the file exists (`None`), what the encoder is asked for at level 4.0.
pub fn codecs(probed: Option<&[u8]>, has_audio: bool) -> String {
    let streams = probed
        .and_then(|json| serde_json::from_slice::<CodecsJson>(json).ok())
        .map(|p| p.streams)
        .unwrap_or_default();
    let video = streams.iter().find(|s| {
        s.codec_type.as_deref() == Some("video") && s.codec_name.as_deref() == Some("h264")
    });
    let profile = match video.and_then(|v| v.profile.as_deref()) {
        Some("Main") => "4d40",
        Some("Baseline" | "Constrained Baseline") => "42e0",
        _ => "6400",
    };
    let level = video
        .and_then(|v| v.level)
        .filter(|l| (1..=255).contains(l))
        .unwrap_or(40);
    let mut codecs = format!("avc1.{profile}{level:02x}");
    let audio = streams
        .iter()
        .any(|s| s.codec_type.as_deref() == Some("audio"));
    if audio || (probed.is_none() && has_audio) {
        codecs.push_str(",mp4a.40.2");
    }
    codecs
}

/// A media playlist's bit rates, from its byte ranges and durations: the peak and the average
/// segment bit rate (RFC 8216 section 4.3.4.2, `BANDWIDTH` and `AVERAGE-BANDWIDTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub peak: u32,
    pub average: u32,
}

impl Rates {
    /// `None` when the playlist has no segment with a duration and a byte range. A segment
    /// shorter than half the target duration (the tail of the video) is counted together with
    /// the one before it: alone its keyframe would look like a burst no viewer ever needs.
    pub fn of_playlist(text: &str) -> Option<Self> {
        let mut segments: Vec<(f64, u64)> = Vec::new();
        let mut duration = None;
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("#EXTINF:") {
                duration = rest
                    .split(',')
                    .next()
                    .and_then(|d| d.trim().parse::<f64>().ok());
            } else if let Some(rest) = line.strip_prefix("#EXT-X-BYTERANGE:") {
                let length = rest
                    .split('@')
                    .next()
                    .and_then(|l| l.trim().parse::<u64>().ok());
                if let (Some(d), Some(len)) = (duration.take(), length) {
                    let short = d < f64::from(SEGMENT_SECONDS) / 2.0;
                    match segments.last_mut() {
                        Some(last) if short => {
                            last.0 += d;
                            last.1 += len;
                        }
                        _ => segments.push((d, len)),
                    }
                }
            }
        }
        let rate = |seconds: f64, bytes: u64| (bytes as f64 * 8.0 / seconds.max(0.001)).ceil();
        let peak = segments
            .iter()
            .map(|&(d, len)| rate(d, len))
            .fold(None, |max: Option<f64>, r| {
                Some(max.map_or(r, |m| m.max(r)))
            })?;
        let seconds: f64 = segments.iter().map(|s| s.0).sum();
        let bytes: u64 = segments.iter().map(|s| s.1).sum();
        Some(Rates {
            peak: peak.min(f64::from(u32::MAX)) as u32,
            average: rate(seconds, bytes).min(f64::from(u32::MAX)) as u32,
        })
    }
}

/// One variant of the master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub height: u16,
    pub width: u32,
    pub frame_height: u32,
    pub rates: Rates,
    pub codecs: String,
    pub fps: Option<f64>,
}

/// The master playlist (RFC 8216 section 4.3.4.2), lowest rung first, each variant's URI
/// relative: `240p.m3u8`.
pub fn master_playlist(variants: &[Variant]) -> String {
    let mut m3u8 = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let fps = v
            .fps
            .map(|f| format!(",FRAME-RATE={f:.3}"))
            .unwrap_or_default();
        m3u8.push_str(&format!(
            "\n#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\"{fps}\n{}\n",
            v.rates.peak,
            v.rates.average,
            v.width,
            v.frame_height,
            v.codecs,
            playlist_name(v.height)
        ));
    }
    m3u8
}

/// Writes the master playlist from the published media playlists (whichever run made them)
/// and the rows' codecs, and publishes it.
async fn publish_master(
    ctx: &Context,
    video_id: &VideoId,
    media: &Media,
    rungs: &[Rung],
) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let rows = store::renditions::list(&mut conn, video_id).await?;
    drop(conn);
    let mut variants = Vec::new();
    for rung in rungs {
        let key = keys::hls_playlist(video_id, rung.height);
        let text = read_text(ctx, &key).await?;
        let rates = Rates::of_playlist(&text)
            .ok_or_else(|| WorkError::Other(format!("{key} lists no segments")))?;
        let codecs = rows
            .iter()
            .find(|r| r.height == rung.height)
            .map_or_else(|| codecs(None, media.audio.is_some()), |r| r.codecs.clone());
        variants.push(Variant {
            height: rung.height,
            width: rung.picture.width,
            frame_height: rung.picture.height,
            rates,
            codecs,
            fps: media.video.fps.map(|f| f.min(rung.picture.max_fps)),
        });
    }
    let file = Scratch::new(ctx, "m3u8");
    let key = keys::hls_master(video_id);
    tokio::fs::write(file.path(), master_playlist(&variants))
        .await
        .map_err(WorkError::storage(&key))?;
    ctx.storage
        .publish_file(file.path(), &key)
        .await
        .map_err(WorkError::storage(&key))
}

/// A small stored text file (a playlist), read whole.
async fn read_text(ctx: &Context, key: &str) -> Result<String, WorkError> {
    use futures_util::TryStreamExt;
    let object = ctx
        .storage
        .open(key)
        .await
        .map_err(WorkError::storage(key))?
        .ok_or_else(|| WorkError::Other(format!("{key} is not in storage")))?;
    let pieces: Vec<bytes::Bytes> = object
        .read_range(0..object.size(), 64 << 10)
        .try_collect()
        .await
        .map_err(WorkError::storage(key))?;
    String::from_utf8(pieces.concat()).map_err(|_| WorkError::Other(format!("{key} is not UTF-8")))
}

/// Makes the storyboard from the lowest rung's file and publishes the sprite, then the WebVTT
/// file, then `has_storyboard`. `false` when the video row is gone.
async fn storyboard(
    ctx: &Context,
    video_id: &VideoId,
    media: &Media,
    lowest: &Rung,
) -> Result<bool, WorkError> {
    let Some(duration) = media.duration else {
        tracing::info!(%video_id, "duration unknown; no storyboard");
        return Ok(true);
    };
    let source = fetch(ctx, &keys::hls_media(video_id, lowest.height)).await?;
    let source = source.path();
    let board = Storyboard::plan(duration, (lowest.picture.width, lowest.picture.height));
    let sprite = Scratch::new(ctx, "jpg");
    let list = sprite.sibling(ctx, "tiles");
    let args = encode::storyboard_args(source, &board, sprite.name(), list.name());
    let finished = run(ctx, &args, Some(duration), None).await?;
    if !finished.status.success() {
        return Err(WorkError::from_failed_run(
            "ffmpeg storyboard",
            finished.status.code(),
            &finished.stderr,
            reasons::UNCONVERTIBLE,
        ));
    }
    let listed = tokio::fs::read_to_string(list.path())
        .await
        .map_err(WorkError::storage(list.name()))?;
    let tiles = encode::listed_tiles(&listed);
    let vtt = sprite.sibling(ctx, "vtt");
    tokio::fs::write(vtt.path(), board.vtt(tiles, duration, SPRITE_URL))
        .await
        .map_err(WorkError::storage(vtt.name()))?;
    for (file, key) in [
        (&sprite, keys::storyboard_image(video_id)),
        (&vtt, keys::storyboard_vtt(video_id)),
    ] {
        ctx.storage
            .publish_file(file.path(), &key)
            .await
            .map_err(WorkError::storage(&key))?;
    }
    let mut conn = ctx.pool.get_conn().await?;
    Ok(store::videos::set_has_storyboard(&mut conn, video_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::media::{Container, VideoStream};

    fn media(width: u32, height: u32) -> Media {
        Media {
            container: Container::Mp4,
            duration: Some(Duration::from_secs(10)),
            bitrate: None,
            video: VideoStream {
                codec: "h264".into(),
                pix_fmt: Some("yuv420p".into()),
                width,
                height,
                sar: (1, 1),
                rotation: 0,
                fps: Some(25.0),
                interlaced: false,
                transfer: None,
            },
            audio: Some("aac".into()),
            audio_channels: Some(2),
        }
    }

    fn heights(m: &Media) -> Vec<(u16, u32, u32)> {
        rungs(m)
            .iter()
            .map(|r| (r.height, r.picture.width, r.picture.height))
            .collect()
    }

    #[test]
    fn the_ladder_stops_at_the_source_and_always_has_its_lowest_rung() {
        assert_eq!(
            heights(&media(1920, 1080)),
            vec![
                (240, 426, 240),
                (360, 640, 360),
                (480, 854, 480),
                (720, 1280, 720),
                (1080, 1920, 1080)
            ]
        );
        assert_eq!(heights(&media(1280, 720)).len(), 4);
        assert_eq!(heights(&media(640, 480)).last(), Some(&(480, 640, 480)));
        // Portrait counts its width.
        assert_eq!(
            heights(&media(720, 1280)),
            vec![
                (240, 240, 426),
                (360, 360, 640),
                (480, 480, 854),
                (720, 720, 1280)
            ]
        );
        // A tiny source gets the lowest rung at its own size.
        assert_eq!(heights(&media(160, 120)), vec![(240, 160, 120)]);
        let mut rotated = media(320, 240);
        rotated.video.rotation = 90;
        assert_eq!(heights(&rotated), vec![(240, 240, 320)]);
    }

    #[test]
    fn codecs_come_from_the_probed_profile_and_level() {
        let json =
            br#"{"streams":[{"codec_type":"video","codec_name":"h264","profile":"High","level":31},
            {"codec_type":"audio","codec_name":"aac","profile":"LC"}]}"#;
        assert_eq!(codecs(Some(json), true), "avc1.64001f,mp4a.40.2");
        let silent = br#"{"streams":[{"codec_type":"video","codec_name":"h264","profile":"Main","level":40}]}"#;
        assert_eq!(codecs(Some(silent), true), "avc1.4d4028");
        assert_eq!(codecs(None, true), "avc1.640028,mp4a.40.2");
        assert_eq!(codecs(None, false), "avc1.640028");
    }

    const PLAYLIST: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n\
        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
        #EXT-X-MAP:URI=\"240p.mp4\",BYTERANGE=\"1353@0\"\n\
        #EXTINF:4.000000,\n#EXT-X-BYTERANGE:80000@1353\n240p.mp4\n\
        #EXTINF:4.000000,\n#EXT-X-BYTERANGE:70000@81353\n240p.mp4\n\
        #EXTINF:0.040000,\n#EXT-X-BYTERANGE:10000@151353\n240p.mp4\n#EXT-X-ENDLIST\n";

    #[test]
    fn rates_come_from_the_byte_ranges_with_a_short_tail_merged() {
        let rates = Rates::of_playlist(PLAYLIST).unwrap();
        // 80000 B in 4 s = 160 kbit/s; the 0.04 s tail joins the 4 s before it.
        assert_eq!(rates.peak, 160_000);
        assert_eq!(
            rates.average,
            ((160_000u64 * 8) as f64 / 8.04).ceil() as u32
        );
        assert_eq!(Rates::of_playlist("#EXTM3U\n#EXT-X-ENDLIST\n"), None);
    }

    #[test]
    fn the_master_lists_every_rung_with_its_numbers() {
        let rates = Rates {
            peak: 500_000,
            average: 300_000,
        };
        let master = master_playlist(&[
            Variant {
                height: 240,
                width: 426,
                frame_height: 240,
                rates,
                codecs: "avc1.64001e,mp4a.40.2".into(),
                fps: Some(25.0),
            },
            Variant {
                height: 360,
                width: 360,
                frame_height: 640,
                rates,
                codecs: "avc1.64001f".into(),
                fps: None,
            },
        ]);
        assert_eq!(
            master,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             \n#EXT-X-STREAM-INF:BANDWIDTH=500000,AVERAGE-BANDWIDTH=300000,RESOLUTION=426x240,\
             CODECS=\"avc1.64001e,mp4a.40.2\",FRAME-RATE=25.000\n240p.m3u8\n\
             \n#EXT-X-STREAM-INF:BANDWIDTH=500000,AVERAGE-BANDWIDTH=300000,RESOLUTION=360x640,\
             CODECS=\"avc1.64001f\"\n360p.m3u8\n"
        );
    }
}
