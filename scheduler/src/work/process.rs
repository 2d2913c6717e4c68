//! `process_video`: the step after an upload is published (SPEC section 5, issue 12). ffprobe
//! decides what the file is (`media.rs`); then the progressive rendition, what `/videos/{vid}`
//! serves, is made one of three ways:
//! - **kept**: an MP4 browsers play with its index first, a WebM of VP8/VP9/AV1;
//! - **remuxed** while the video stays playable (`uploaded`): the same streams copied into an
//!   MP4 with `+faststart` (index after the media data, or a MOV) or into WebM (other
//!   Matroska), published over the upload;
//! - **transcoded** (`uploaded` -> `processing`, not served meanwhile): the original is moved
//!   to `originals/<vid>` (`has_original`), an H.264/AAC faststart MP4 is made in scratch
//!   (`encode.rs`, with `processing_progress`) and published at `videos/<vid>`. A remux ffmpeg
//!   refuses for good (PCM audio cannot be copied into MP4) is transcoded in the same attempt.
//!
//! Then a thumbnail, probe columns, `ready`, and the `make_ladder` job, in one transaction.
//!
//! ffmpeg works on a scratch copy of the stored file ([`fetch`]: a hard link on the local
//! backend, a download on S3) and what it makes is published from scratch, so processing is
//! the same whatever the storage.
//!
//! A file that is not a video, or is damaged, is refused (`WorkError::Refused`): the video
//! becomes `failed` with a sentence its owner understands, the job `failed` at once with the
//! tool's own words. Faults that can pass (database, storage, a missing or hung ffmpeg) are
//! retried by the runner, which marks the video `failed` when it gives up (`runner.rs`).
//! Running twice is harmless: every state change is guarded by the state it leaves, and a
//! run that finds the video `processing` (its predecessor was killed mid-transcode) starts the
//! transcode again from the original.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use svc::jobs::JobKind;
use svc::storage::keys;
use svc::{VideoId, VideoState};
use tokio::io::AsyncReadExt;

use super::context::{Context, WorkError};
use super::encode::{self, Progress};
use super::media::{self, reasons, Container, Media, Muxer, Plan};
use super::scratch::Scratch;
use super::{delete, mp4, tools};
use crate::store::{self, videos::File, videos::Probe};

/// Thumbnails are scaled to at most this width, keeping the aspect ratio.
const THUMBNAIL_WIDTH: u32 = 640;

/// Makes the progressive rendition of the uploaded video `video_id`, thumbnails it and marks
/// it ready (or failed), then queues its ladder.
pub async fn process_video(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let Err(error) = process(ctx, video_id).await else {
        return Ok(());
    };
    let mut conn = ctx.pool.get_conn().await?;
    if store::videos::state(&mut conn, video_id).await?.is_none() {
        // Deleted while this ran (ffmpeg lost its input): nothing to retry or refuse.
        return delete::deleted_meanwhile(ctx, video_id).await;
    }
    if let WorkError::Refused(refusal) = &error {
        tracing::info!(%video_id, reason = %refusal.reason, detail = %refusal.detail, "video refused");
        // Until this is written the job must not end: it is retried if it fails.
        store::videos::mark_failed(&mut conn, video_id, &refusal.reason).await?;
    } else if let Err(e) = store::videos::set_progress(&ctx.pool, video_id, None).await {
        // Retried later; no transcode runs meanwhile.
        tracing::warn!(%video_id, error = %e, "cannot clear the transcode progress");
    }
    Err(error)
}

async fn process(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let view = store::videos::processing_view(&mut conn, video_id).await?;
    // The connection goes back to the pool: ffmpeg can run for minutes and must not hold it.
    drop(conn);
    match view {
        None => {
            tracing::info!(%video_id, "video deleted before processing; nothing to do");
            Ok(())
        }
        Some((VideoState::Uploaded, _)) => from_upload(ctx, video_id).await,
        // A run before this one was stopped mid-transcode: start it again.
        Some((VideoState::Processing, _)) => transcode(ctx, video_id, None).await,
        Some((other, _)) => {
            tracing::info!(%video_id, state = %other, "video already processed; nothing to do");
            Ok(())
        }
    }
}

/// A scratch copy of the stored object `key` for ffmpeg to read; a video whose object is
/// missing is refused (its file cannot come back by itself).
pub(super) async fn fetch(ctx: &Context, key: &str) -> Result<Scratch, WorkError> {
    let copy = Scratch::new(ctx, "src");
    let fetched = ctx.storage.fetch_file(key, copy.path()).await;
    match fetched.map_err(WorkError::storage(key))? {
        Some(_) => Ok(copy),
        None => Err(WorkError::refused(
            reasons::MISSING,
            format!("{key} is not in storage"),
        )),
    }
}

pub(super) async fn exists(ctx: &Context, key: &str) -> Result<bool, WorkError> {
    let stat = ctx.storage.stat(key).await;
    Ok(stat.map_err(WorkError::storage(key))?.is_some())
}

/// Probes the upload, then keeps, remuxes or transcodes it.
async fn from_upload(ctx: &Context, video_id: &VideoId) -> Result<(), WorkError> {
    let key = keys::video(video_id);
    let source = fetch(ctx, &key).await?;
    let path = source.path();
    let media = probe(ctx, path).await?;
    let index_at_end = matches!(media.container, Container::Mp4 | Container::Mov)
        && mp4::moov_after_mdat(&read_boxes(path, &key).await?);
    match media.plan(index_at_end) {
        Plan::Keep => finish(ctx, video_id, path, media.row(), None).await,
        Plan::Remux(muxer) => match remux(ctx, video_id, path, &media, muxer).await? {
            // The remux has the same streams: the thumbnail comes from the copy of the upload.
            Remuxed::Published => finish(ctx, video_id, path, media.row(), None).await,
            Remuxed::Refused(detail) => {
                tracing::info!(%video_id, %detail, "ffmpeg refuses to remux this file; transcoding it instead");
                transcode(ctx, video_id, Some(media)).await
            }
        },
        Plan::Transcode => transcode(ctx, video_id, Some(media)).await,
    }
}

/// Runs ffprobe on `path`. A file ffprobe cannot read, or that holds no video it can decode,
/// is refused; a missing or hung ffprobe is retried.
pub(super) async fn probe(ctx: &Context, path: &Path) -> Result<Media, WorkError> {
    // Scratch paths are absolute (`SCRATCH_DIR` is made so at start-up), never `-...`, so
    // ffprobe cannot take the file name for an option.
    let args: [&OsStr; 7] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-print_format".as_ref(),
        "json".as_ref(),
        "-show_format".as_ref(),
        "-show_streams".as_ref(),
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
        return Err(WorkError::from_failed_run(
            "ffprobe",
            out.status.code(),
            &out.stderr,
            reasons::DAMAGED,
        ));
    }
    let head = read_head(path)
        .await
        .map_err(WorkError::storage(&path.to_string_lossy()))?;
    media::parse(&out.stdout, &head)
        .map_err(|reason| WorkError::refused(reason, media::summary(&out.stdout)))
}

/// The first bytes of a file, where its container's signature is.
async fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(64);
    tokio::fs::File::open(path)
        .await?
        .take(64)
        .read_to_end(&mut head)
        .await?;
    Ok(head)
}

async fn read_boxes(path: &Path, key: &str) -> Result<Vec<mp4::BoxHeader>, WorkError> {
    mp4::top_level_boxes(path)
        .await
        .map_err(WorkError::storage(key))
}

enum Remuxed {
    Published,
    /// ffmpeg refused the copy for a reason another try would not change (its words).
    Refused(String),
}

/// Copies the streams into `muxer`'s container and publishes the result over the upload
/// (atomic rename; readers holding the old file keep reading it), then records the new size,
/// hash, type and `uploaded_at`. The video stays playable throughout.
async fn remux(
    ctx: &Context,
    video_id: &VideoId,
    path: &Path,
    media: &Media,
    muxer: Muxer,
) -> Result<Remuxed, WorkError> {
    let key = keys::video(video_id);
    let out_file = Scratch::new(ctx, muxer.format());
    let args = encode::remux_args(path, muxer, out_file.path());
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let limit = encode::time_limit(ctx, media.duration);
    let out = ffmpeg(ctx, &args, limit).await?;
    if !out.status.success() {
        return match WorkError::from_failed_run(
            "ffmpeg remux",
            out.status.code(),
            &out.stderr,
            reasons::UNCONVERTIBLE,
        ) {
            WorkError::Refused(refusal) => Ok(Remuxed::Refused(refusal.detail)),
            transient => Err(transient),
        };
    }
    let file = publish(ctx, &out_file, &key, muxer.content_type()).await?;
    let mut conn = ctx.pool.get_conn().await?;
    store::videos::set_file(&mut conn, video_id, &file).await?;
    tracing::info!(%video_id, size = file.size, format = muxer.format(), "remuxed (faststart)");
    Ok(Remuxed::Published)
}

/// Hashes a finished scratch file and publishes it under `key`.
async fn publish(
    ctx: &Context,
    scratch: &Scratch,
    key: &str,
    content_type: &'static str,
) -> Result<File, WorkError> {
    let (size, sha256) = hash_file(scratch.path())
        .await
        .map_err(WorkError::storage(key))?;
    ctx.storage
        .publish_file(scratch.path(), key)
        .await
        .map_err(WorkError::storage(key))?;
    Ok(File {
        size,
        sha256,
        content_type,
    })
}

/// The transcode path: `processing`, the original kept at `originals/<vid>`, an H.264/AAC
/// faststart MP4 made in scratch and published at `videos/<vid>`, then `ready`. `media` is
/// the original's probe when the caller has it.
async fn transcode(
    ctx: &Context,
    video_id: &VideoId,
    media: Option<Media>,
) -> Result<(), WorkError> {
    let Some(source) = keep_original(ctx, video_id).await? else {
        return Ok(());
    };
    let media = match media {
        Some(media) => media,
        None => probe(ctx, source.path()).await?,
    };
    let out_file = Scratch::new(ctx, "mp4");
    let args = encode::progressive_args(source.path(), &media, out_file.name());
    let progress = media.duration.map(|total| Progress {
        video: video_id,
        total,
        base: 0.0,
        span: 1.0,
    });
    let limit = encode::time_limit(ctx, media.duration);
    let started = std::time::Instant::now();
    let finished = encode::transcode(ctx, &args, limit, progress.as_ref()).await?;
    if !finished.status.success() {
        return Err(WorkError::from_failed_run(
            "ffmpeg transcode",
            finished.status.code(),
            &finished.stderr,
            reasons::UNCONVERTIBLE,
        ));
    }
    // What was made, as the streamserver will serve it: the row describes the rendition.
    let made = probe(ctx, out_file.path())
        .await
        .map_err(|e| WorkError::Other(format!("the transcoded rendition does not probe: {e}")))?;
    // The thumbnail of the rendition, from scratch before it is published (and gone from it).
    let has_thumbnail = thumbnail(ctx, video_id, out_file.path(), made.row().duration_ms).await?;
    let key = keys::video(video_id);
    let file = publish(ctx, &out_file, &key, Muxer::Mp4.content_type()).await?;
    tracing::info!(
        %video_id,
        from = %media.video.codec,
        size = file.size,
        seconds = started.elapsed().as_secs_f64(),
        "transcoded the progressive rendition"
    );
    mark_ready(ctx, video_id, made.row(), has_thumbnail, Some(&file)).await
}

/// Moves the video to `processing` and its original to `originals/<vid>`, unless a run
/// before this one did; returns a scratch copy of the original, or `None` when the video is
/// no longer being processed (deleted, or finished by another run).
async fn keep_original(ctx: &Context, video_id: &VideoId) -> Result<Option<Scratch>, WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    if !store::videos::mark_processing(&mut conn, video_id).await? {
        match store::videos::state(&mut conn, video_id).await? {
            Some(VideoState::Processing) => {}
            state => {
                tracing::info!(%video_id, ?state, "video no longer being processed; nothing to do");
                return Ok(None);
            }
        }
    }
    let (upload, original) = (keys::video(video_id), keys::original(video_id));
    // `originals/<vid>` holds the original once it exists; until then `videos/<vid>` does (a
    // rendition is published there only after the move).
    if !exists(ctx, &original).await? {
        if !exists(ctx, &upload).await? {
            return Err(WorkError::refused(
                reasons::MISSING,
                format!("neither {upload} nor {original} is in storage"),
            ));
        }
        ctx.storage
            .rename(&upload, &original)
            .await
            .map_err(WorkError::storage(&original))?;
    }
    store::videos::set_has_original(&mut conn, video_id).await?;
    drop(conn);
    Ok(Some(fetch(ctx, &original).await?))
}

/// The last steps of the keep and remux paths: the thumbnail from `path` (a scratch copy of
/// the video), then [`mark_ready`].
async fn finish(
    ctx: &Context,
    video_id: &VideoId,
    path: &Path,
    probe: Probe,
    file: Option<&File>,
) -> Result<(), WorkError> {
    let has_thumbnail = thumbnail(ctx, video_id, path, probe.duration_ms).await?;
    mark_ready(ctx, video_id, probe, has_thumbnail, file).await
}

/// `ready` with the probe columns (and the new file's) and the `make_ladder` job, in one
/// transaction. When the row was deleted meanwhile, its deletion job may already have run, so
/// what this run published is removed rather than left to the reconciler.
async fn mark_ready(
    ctx: &Context,
    video_id: &VideoId,
    probe: Probe,
    has_thumbnail: bool,
    file: Option<&File>,
) -> Result<(), WorkError> {
    let mut conn = ctx.pool.get_conn().await?;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let ready = store::videos::mark_ready(&mut tx, video_id, &probe, has_thumbnail, file).await?;
    if ready {
        svc::jobs::enqueue(&mut tx, JobKind::MakeLadder, video_id).await?;
    }
    tx.commit().await?;
    if !ready {
        if store::videos::state(&mut conn, video_id).await?.is_none() {
            delete::deleted_meanwhile(ctx, video_id).await?;
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
        out_file.path().as_os_str(),
    ];
    let out = ffmpeg(ctx, &args, ctx.config.ffmpeg_timeout).await?;
    let made = out.status.success()
        && tokio::fs::metadata(out_file.path())
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
        .publish_file(out_file.path(), &key)
        .await
        .map_err(WorkError::storage(&key))?;
    Ok(true)
}

/// Runs the configured ffmpeg with `args` within `limit`, at normal priority and without a
/// transcode permit (for the cheap runs: a thumbnail, a stream copy): errors only on stderr,
/// never reading stdin, overwriting its output file.
async fn ffmpeg(
    ctx: &Context,
    args: &[&OsStr],
    limit: Duration,
) -> Result<std::process::Output, tools::ToolError> {
    let quiet: [&OsStr; 4] = [
        "-v".as_ref(),
        "error".as_ref(),
        "-nostdin".as_ref(),
        "-y".as_ref(),
    ];
    let args: Vec<&OsStr> = quiet.iter().chain(args).copied().collect();
    tools::run(&ctx.config.ffmpeg, "FFMPEG", &args, limit).await
}
