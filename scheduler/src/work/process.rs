//! `process_video`: the step after an upload is published (SPEC section 5). It probes the file
//! with ffprobe (duration, resolution, codecs, bitrate), moves an MP4 index that sits after the
//! media data to the front (`-c copy -movflags +faststart`, published atomically over the old
//! file), makes a JPEG thumbnail, and moves the video from `uploaded` to `ready`.
//!
//! A file that is not a playable video is not an error to retry: the video becomes `failed` with
//! a reason its owner can read, and the job is done. Errors that another try may fix (database,
//! storage, a missing or hung ffmpeg) are returned and retried by the runner; when it gives up it
//! marks the video `failed` too (see `runner.rs`). Running twice is harmless: every change is
//! guarded by `state = 'uploaded'`.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use svc::storage::keys;
use svc::{VideoId, VideoState};

use super::context::{Context, WorkError};
use super::{delete, mp4, tools};
use crate::store::{self, videos::Probe};

/// Thumbnails are scaled to at most this width, keeping the aspect ratio.
const THUMBNAIL_WIDTH: u32 = 640;

/// Probes, fixes, thumbnails and marks ready (or failed) the uploaded video `video_id`.
pub async fn process_video(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let Some(path) = uploaded_file(ctx, video_id).await? else {
        return Ok(());
    };
    let key = keys::video(video_id);
    let probe = match probe(ctx, &path).await? {
        Ok(probe) => probe,
        Err(reason) => {
            tracing::info!(%video_id, %reason, "not a playable video");
            let mut conn = ctx.pool.get_conn().await?;
            store::videos::mark_failed(&mut conn, video_id, &reason).await?;
            return Ok(());
        }
    };
    if probe.is_mp4_family && mp4::moov_after_mdat(&read_boxes(&path, &key).await?) {
        faststart(ctx, video_id, &path, &key).await?;
    }
    let has_thumbnail = thumbnail(ctx, video_id, &path, probe.row.duration_ms).await?;
    mark_ready(ctx, video_id, &probe.row, has_thumbnail).await
}

/// The local path of the video's file when there is work to do: the video is `uploaded` and its
/// file is stored. `None` when there is none: the row is gone or already processed (a replay),
/// or the file is missing (then the video is marked `failed`).
async fn uploaded_file(ctx: &Context, video_id: &VideoId) -> Result<Option<PathBuf>, WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    match store::videos::state(&mut conn, video_id).await? {
        None => {
            tracing::info!(%video_id, "video deleted before processing; nothing to do");
            return Ok(None);
        }
        Some(VideoState::Uploaded) => {}
        Some(other) => {
            tracing::info!(%video_id, state = %other, "video already processed; nothing to do");
            return Ok(None);
        }
    }
    let key = keys::video(video_id);
    let Some(path) = ctx.storage.local_path(&key) else {
        return Err(WorkError::Other(
            "this storage backend keeps no local files, which processing needs".to_string(),
        ));
    };
    let stored = ctx.storage.stat(&key).await;
    if stored.map_err(WorkError::storage(&key))?.is_none() {
        let reason = "The uploaded file is missing from storage; please upload it again.";
        store::videos::mark_failed(&mut conn, video_id, reason).await?;
        return Ok(None);
    }
    // The connection goes back to the pool here: ffmpeg can run for minutes and must not hold it.
    Ok(Some(path))
}

/// `uploaded` -> `ready`. When the row was deleted while processing ran, its deletion job may
/// already have run, so what this run published is removed rather than left to the reconciler.
async fn mark_ready(
    ctx: &Context,
    video_id: &VideoId,
    probe: &Probe,
    has_thumbnail: bool,
) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    if !store::videos::mark_ready(&mut conn, video_id, probe, has_thumbnail).await? {
        if store::videos::state(&mut conn, video_id).await?.is_none() {
            delete::delete_keys(ctx, &keys::of_video(video_id)).await?;
        }
        return Ok(());
    }
    tracing::info!(
        %video_id,
        duration_ms = probe.duration_ms,
        width = probe.width,
        height = probe.height,
        has_thumbnail,
        "video ready"
    );
    Ok(())
}

async fn read_boxes(path: &Path, key: &str) -> Result<Vec<mp4::BoxHeader>, WorkError> {
    mp4::top_level_boxes(path)
        .await
        .map_err(WorkError::storage(key))
}

/// The probe results, plus whether the container is one faststart applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub row: Probe,
    pub is_mp4_family: bool,
}

/// Runs ffprobe. The outer error is retried (ffprobe missing, hung); the inner one is a reason
/// to show the owner (the file is not a video).
async fn probe(ctx: &Context, path: &Path) -> Result<Result<Probed, String>, WorkError> {
    // Storage paths begin with the storage root (never `-`), so ffprobe cannot take the file
    // name for an option.
    let args: [&OsStr; 7] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-print_format".as_ref(),
        "json".as_ref(),
        "-show_format".as_ref(),
        "-show_streams".as_ref(),
        path.as_os_str(),
    ];
    let out = ffprobe(ctx, &args).await?;
    if !out.status.success() {
        return Ok(Err(format!(
            "This file could not be read as a video (ffprobe: {}).",
            tools::last_line(&out.stderr)
        )));
    }
    Ok(summarize(&out.stdout))
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<StreamJson>,
    format: Option<FormatJson>,
}

#[derive(Deserialize)]
struct StreamJson {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    /// Cover art in audio files shows up as a one-frame "video" stream.
    #[serde(default)]
    disposition: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FormatJson {
    duration: Option<String>,
    bit_rate: Option<String>,
    format_name: Option<String>,
}

fn seconds_to_ms(s: &str) -> Option<u64> {
    let secs: f64 = s.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64)
}

/// Turns ffprobe's JSON into what `video_info` stores, or a reason the file is not a playable
/// video.
pub fn summarize(json: &[u8]) -> Result<Probed, String> {
    let parsed: ProbeJson = serde_json::from_slice(json)
        .map_err(|_| "This file could not be read as a video.".to_string())?;
    let is_picture = |s: &StreamJson| {
        s.disposition
            .as_ref()
            .and_then(|d| d.get("attached_pic"))
            .and_then(serde_json::Value::as_i64)
            == Some(1)
    };
    let video = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && !is_picture(s))
        .ok_or_else(|| "This file has no video stream, so it cannot be played.".to_string())?;
    let (width, height) = match (video.width, video.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err("The video stream has no picture size, so it cannot be played.".into()),
    };
    let audio = parsed
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"));
    let format = parsed.format.as_ref();
    let duration_ms = format
        .and_then(|f| f.duration.as_deref())
        .or(video.duration.as_deref())
        .and_then(seconds_to_ms);
    let format_name = format
        .and_then(|f| f.format_name.as_deref())
        .unwrap_or_default();
    Ok(Probed {
        row: Probe {
            duration_ms,
            width,
            height,
            video_codec: video
                .codec_name
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            audio_codec: audio.and_then(|a| a.codec_name.clone()),
            bitrate: format
                .and_then(|f| f.bit_rate.as_deref())
                .and_then(|b| b.trim().parse().ok()),
        },
        // ffprobe names the ISO family "mov,mp4,m4a,3gp,3g2,mj2".
        is_mp4_family: format_name.split(',').any(|n| n == "mp4" || n == "mov"),
    })
}

/// A scratch file removed when dropped, unless it was published (renamed away) first.
struct Scratch(PathBuf);

impl Scratch {
    fn new(ctx: &Context, extension: &str) -> Self {
        Scratch(
            ctx.storage
                .scratch_dir()
                .join(format!("{}.{extension}", uuid::Uuid::new_v4())),
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Rewrites the file with its index first and publishes it over the old one (atomic rename),
/// then records the new size, hash and `uploaded_at`.
async fn faststart(
    ctx: &Context,
    video_id: &VideoId,
    path: &Path,
    key: &str,
) -> Result<(), WorkError> {
    let out_file = Scratch::new(ctx, "mp4");
    let args: Vec<&OsStr> = vec![
        "-i".as_ref(),
        path.as_os_str(),
        "-map".as_ref(),
        "0".as_ref(),
        "-c".as_ref(),
        "copy".as_ref(),
        "-movflags".as_ref(),
        "+faststart".as_ref(),
        "-f".as_ref(),
        "mp4".as_ref(),
        out_file.0.as_os_str(),
    ];
    let out = ffmpeg(ctx, &args).await?;
    if !out.status.success() {
        return Err(WorkError::Other(format!(
            "faststart remux failed: {}",
            tools::last_line(&out.stderr)
        )));
    }
    let (size, sha256) = hash_file(&out_file.0)
        .await
        .map_err(WorkError::storage(key))?;
    ctx.storage
        .publish_file(&out_file.0, key)
        .await
        .map_err(WorkError::storage(key))?;
    let mut conn = ctx.pool.get_conn().await?;
    store::videos::set_file(&mut conn, video_id, size, &sha256).await?;
    tracing::info!(
        %video_id,
        size,
        "moved the MP4 index to the front (faststart)"
    );
    Ok(())
}

/// The size and SHA-256 (lower-case hex) of a file, read off the async threads.
async fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok((size, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Makes and publishes the thumbnail: one frame about 1 s in (10% in for shorter videos),
/// scaled to at most 640 wide. Seeking with `-ss` before `-i` jumps by the index instead of
/// decoding from the start. A frame ffmpeg cannot make leaves the video without a thumbnail
/// (it still plays); only a missing or hung ffmpeg is retried.
async fn thumbnail(
    ctx: &Context,
    video_id: &VideoId,
    path: &Path,
    duration_ms: Option<u64>,
) -> Result<bool, WorkError> {
    let at_ms = duration_ms.map_or(0, |d| (d / 10).min(1000));
    let at = format!("{}.{:03}", at_ms / 1000, at_ms % 1000);
    let scale = format!("scale='min({THUMBNAIL_WIDTH},iw)':-2");
    let out_file = Scratch::new(ctx, "jpg");
    let args: Vec<&OsStr> = vec![
        "-ss".as_ref(),
        at.as_ref(),
        "-i".as_ref(),
        path.as_os_str(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        "-vf".as_ref(),
        scale.as_ref(),
        "-q:v".as_ref(),
        "4".as_ref(),
        "-f".as_ref(),
        "image2".as_ref(),
        "-c:v".as_ref(),
        "mjpeg".as_ref(),
        out_file.0.as_os_str(),
    ];
    let out = ffmpeg(ctx, &args).await?;
    let made = out.status.success()
        && tokio::fs::metadata(&out_file.0)
            .await
            .is_ok_and(|m| m.len() > 0);
    if !made {
        tracing::warn!(
            %video_id,
            error = %tools::last_line(&out.stderr),
            "could not make a thumbnail; the video stays playable without one"
        );
        return Ok(false);
    }
    let key = keys::thumbnail(video_id);
    ctx.storage
        .publish_file(&out_file.0, &key)
        .await
        .map_err(WorkError::storage(&key))?;
    Ok(true)
}

/// Runs the configured ffprobe with `args`, within `FFMPEG_TIMEOUT`.
async fn ffprobe(ctx: &Context, args: &[&OsStr]) -> Result<std::process::Output, tools::ToolError> {
    tools::run(
        &ctx.config.ffprobe,
        "FFPROBE",
        args,
        ctx.config.ffmpeg_timeout,
    )
    .await
}

/// Runs the configured ffmpeg with `args`, within `FFMPEG_TIMEOUT`: errors only on stderr,
/// never reading stdin, overwriting its output file.
async fn ffmpeg(ctx: &Context, args: &[&OsStr]) -> Result<std::process::Output, tools::ToolError> {
    let quiet: [&OsStr; 4] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-nostdin".as_ref(),
        "-y".as_ref(),
    ];
    let args: Vec<&OsStr> = quiet.iter().chain(args).copied().collect();
    tools::run(
        &ctx.config.ffmpeg,
        "FFMPEG",
        &args,
        ctx.config.ffmpeg_timeout,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_a_typical_mp4() {
        let json = br#"{"streams":[
            {"codec_type":"video","codec_name":"h264","width":320,"height":240,"duration":"2.000000"},
            {"codec_type":"audio","codec_name":"aac"}],
          "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"2.043000","bit_rate":"123456"}}"#;
        let p = summarize(json).unwrap();
        assert_eq!(p.row.duration_ms, Some(2043));
        assert_eq!((p.row.width, p.row.height), (320, 240));
        assert_eq!(p.row.video_codec, "h264");
        assert_eq!(p.row.audio_codec.as_deref(), Some("aac"));
        assert_eq!(p.row.bitrate, Some(123456));
        assert!(p.is_mp4_family);
    }

    #[test]
    fn audio_only_and_cover_art_have_no_video_stream() {
        let audio = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{"format_name":"mp3"}}"#;
        assert!(summarize(audio).unwrap_err().contains("no video stream"));
        let cover = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},
            {"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,"disposition":{"attached_pic":1}}],
            "format":{"format_name":"mp3"}}"#;
        assert!(summarize(cover).unwrap_err().contains("no video stream"));
    }

    #[test]
    fn webm_is_not_remuxed_and_missing_numbers_stay_unknown() {
        let json =
            br#"{"streams":[{"codec_type":"video","codec_name":"vp9","width":640,"height":360}],
            "format":{"format_name":"matroska,webm","duration":"N/A"}}"#;
        let p = summarize(json).unwrap();
        assert!(!p.is_mp4_family);
        assert_eq!(p.row.duration_ms, None);
        assert_eq!(p.row.bitrate, None);
        assert_eq!(p.row.audio_codec, None);
    }

    #[test]
    fn garbage_and_sizeless_video_are_reasons() {
        assert!(summarize(b"not json").is_err());
        let sizeless = br#"{"streams":[{"codec_type":"video","codec_name":"h264"}],"format":{}}"#;
        assert!(summarize(sizeless).unwrap_err().contains("picture size"));
    }
}
