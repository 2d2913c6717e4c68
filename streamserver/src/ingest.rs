//! What plain and resumable uploads share: who may upload, the video-type check by magic bytes,
//! the in-process per-video lock, and publishing a finished file in one transaction with the
//! `uploaded` state and the `process_video` job.
//!
//! Protocol details (multipart, raw PUT, tus headers) stay in `upload` and `tus`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use mysql_async::TxOpts;
use sha2::{Digest, Sha256};
use svc::storage::{keys, StagedObject};

use crate::error::{Error, Result};
use crate::{store, Stream as State};

/// How many leading bytes the type check looks at.
const SNIFF_LEN: usize = 64;

/// A video id from a path: a UUID. Anything else cannot name a video, so it is a 404.
pub fn parse_video_id(raw: &str) -> Result<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Error::not_found("video"))
}

/// The session id from `X-Session-Id`, else from the `session` cookie (what web forwards).
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-session-id").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.trim().to_string())
}

/// The user id behind the request's session, or 401.
pub async fn authenticate(state: &State, headers: &HeaderMap) -> Result<u32> {
    let Some(sid) = session_id(headers) else {
        return Err(Error::Unauthenticated);
    };
    let mut conn = state.pool.get_conn().await?;
    match svc::sessions::lookup(&mut conn, &sid).await? {
        Some(user) => Ok(user.user_id),
        None => Err(Error::Unauthenticated),
    }
}

/// Checks that `user` may upload to `video_id` now: it exists (404), is theirs (403) and is
/// still `pending` (409).
pub async fn check_uploadable(state: &State, user: u32, video_id: &str) -> Result<()> {
    let mut conn = state.pool.get_conn().await?;
    match store::owner_and_state(&mut conn, video_id).await? {
        None => Err(Error::not_found("video")),
        Some((author, _)) if author != user => Err(Error::Forbidden),
        Some((_, s)) if s != "pending" => Err(already_uploaded(&s)),
        Some(_) => Ok(()),
    }
}

fn already_uploaded(state: &str) -> Error {
    Error::Conflict(format!(
        "this video already has its file (state {state}); create a new video to upload again"
    ))
}

/// The content type of a video file from its first bytes: MP4/MOV have `ftyp` at offset 4
/// (ISO/IEC 14496-12), WebM and Matroska start with the EBML magic 1A 45 DF A3.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(if &head[8..12] == b"qt  " {
            "video/quicktime"
        } else {
            "video/mp4"
        });
    }
    if head.len() >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        let webm = head.windows(4).any(|w| w == b"webm");
        return Some(if webm {
            "video/webm"
        } else {
            "video/x-matroska"
        });
    }
    None
}

pub fn not_a_video() -> Error {
    Error::Unsupported(
        "the file is not a video this site accepts (MP4, MOV, WebM or Matroska)".to_string(),
    )
}

pub fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!(
        "the file is larger than the upload limit of {} ({limit} bytes)",
        human_size(limit)
    ))
}

fn human_size(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && (n / size) * size == n {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// Videos with an upload in progress in this process. Two uploads of one video race: the
/// second is told 409 at once instead of after sending its whole body; across processes the
/// row lock in [`publish`] decides.
#[derive(Default)]
pub struct VideoLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

pub struct VideoLock {
    id: String,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Drop for VideoLock {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl VideoLocks {
    pub fn try_lock(&self, id: &str) -> Result<VideoLock> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(id.to_string()) {
            return Err(Error::Conflict(
                "another upload of this video is in progress".to_string(),
            ));
        }
        Ok(VideoLock {
            id: id.to_string(),
            held: self.held.clone(),
        })
    }
}

/// A file received in full and staged out of sight.
pub struct Received {
    pub staged: Box<dyn StagedObject>,
    pub size: u64,
    pub sha256: String,
    pub content_type: &'static str,
}

/// Streams `body` into a new staged object, hashing it and checking its type and size on the
/// way. On any error the staged object is dropped, which deletes it: nothing is left behind.
pub async fn receive<S, E>(state: &State, body: S, limit: u64) -> Result<Received>
where
    S: Stream<Item = std::result::Result<bytes::Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut staged = state.storage.stage().await?;
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    let mut content_type = None;
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| Error::BadRequest(format!("the upload body could not be read: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            metrics::counter!("stream_rejections_total", "reason" => "too_large").increment(1);
            return Err(too_large(limit));
        }
        metrics::counter!("stream_bytes_received_total").increment(chunk.len() as u64);
        if content_type.is_none() {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() >= SNIFF_LEN {
                content_type = Some(sniff(&head).ok_or_else(not_a_video)?);
            }
        }
        hasher.update(&chunk);
        staged.write(&chunk).await?;
    }
    let content_type = match content_type {
        Some(ct) => ct,
        None => sniff(&head).ok_or_else(not_a_video)?,
    };
    Ok(Received {
        staged,
        size,
        sha256: hex::encode(hasher.finalize()),
        content_type,
    })
}

/// Where the finished bytes are.
pub enum Source {
    Staged(Box<dyn StagedObject>),
    /// A tus upload's storage key.
    Upload(String),
}

/// Publishes the file as `videos/<vid>` and marks the video uploaded with a `process_video`
/// job, in one transaction. The video row stays locked from the state check through the
/// rename to the commit, so a video that is already uploaded never has its file replaced.
pub async fn publish(
    state: &State,
    video_id: &str,
    source: Source,
    size: u64,
    content_type: &str,
    sha256: &str,
) -> Result<()> {
    let upload_id = match &source {
        Source::Upload(key) => key.strip_prefix("uploads/").map(str::to_owned),
        Source::Staged(_) => None,
    };
    let mut tx = state.pool.start_transaction(TxOpts::default()).await?;
    match store::lock_state(&mut tx, video_id).await? {
        None => return Err(Error::not_found("video")),
        Some(s) if s != "pending" => return Err(already_uploaded(&s)),
        Some(_) => {}
    }
    let key = keys::video(video_id);
    match source {
        Source::Staged(staged) => staged.publish(&key).await?,
        Source::Upload(upload_key) => state.storage.rename(&upload_key, &key).await?,
    }
    if !store::mark_uploaded(&mut tx, video_id, size, content_type, sha256).await? {
        return Err(already_uploaded("uploaded"));
    }
    svc::jobs::enqueue(&mut tx, svc::jobs::PROCESS_VIDEO, video_id).await?;
    if let Some(upload_id) = upload_id {
        store::complete_upload(&mut tx, &upload_id, size).await?;
    }
    tx.commit().await?;
    tracing::info!(video_id, size, "video published");
    Ok(())
}

/// Reads a stored object through once, returning its SHA-256 and first bytes.
pub async fn hash_object(state: &State, key: &str) -> Result<(String, Vec<u8>, u64)> {
    let Some(object) = state.storage.open(key).await? else {
        return Err(Error::not_found("upload"));
    };
    let size = object.size();
    let mut stream = object.read_range(0..size, 1 << 20);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_LEN);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), head, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_video_types() {
        let mut mp4 = vec![0, 0, 0, 0x20];
        mp4.extend_from_slice(b"ftypisom");
        assert_eq!(sniff(&mp4), Some("video/mp4"));
        let mut mov = vec![0, 0, 0, 0x14];
        mov.extend_from_slice(b"ftypqt  ");
        assert_eq!(sniff(&mov), Some("video/quicktime"));
        let mut webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84];
        webm.extend_from_slice(b"webm");
        assert_eq!(sniff(&webm), Some("video/webm"));
        assert_eq!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0, 0]),
            Some("video/x-matroska")
        );
        assert_eq!(sniff(b"GIF89a......"), None);
        assert_eq!(sniff(b"ftyp"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn session_from_header_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(session_id(&h), None);
        h.insert(
            http::header::COOKIE,
            "a=b; session=xyz; c=d".parse().unwrap(),
        );
        assert_eq!(session_id(&h).as_deref(), Some("xyz"));
        h.insert("x-session-id", "abc".parse().unwrap());
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
    }

    #[test]
    fn limits_are_named_readably() {
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(3 << 20), "3 MiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn one_upload_per_video_at_a_time() {
        let locks = VideoLocks::default();
        let a = locks.try_lock("v").unwrap();
        assert!(locks.try_lock("v").is_err());
        assert!(locks.try_lock("w").is_ok());
        drop(a);
        assert!(locks.try_lock("v").is_ok());
    }
}
