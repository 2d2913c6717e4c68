//! Video storage behind one trait, shared by streamserver (writes uploads, serves playback) and
//! scheduler (processes, deletes, reconciles), with two backends: a local directory
//! ([`LocalStorage`], the default) and any S3-compatible object store ([`S3Storage`]).
//!
//! Objects are written once and never modified in place: bytes are written out of sight, then
//! published under their key in one step (a rename after fsync; an S3 multipart upload's
//! completion), so a reader sees either the old object, the new one or nothing. Keys are
//! `/`-separated and laid out by [`keys`]. Nothing here hands out a local path: processing
//! gets a scratch copy ([`Storage::fetch_file`]) and gives back a finished file
//! ([`Storage::publish_file`]), so no caller depends on where the bytes live.
//!
//! Resumable uploads are append objects: they grow request by request, and each append is
//! durable before the request is answered. The local backend appends to a file whose length is
//! the truth; the S3 backend keeps a multipart upload plus a short tail object, and describes
//! them in a resume token ([`Token`]) that the caller records (the `uploads` row) and hands
//! back on the next request, on whichever node it lands.

mod local;
mod s3;

use std::io;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

pub use local::{open_read_only, LocalStorage};
pub use s3::S3Storage;

use crate::config::{Backend, StorageConfig};

/// A stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The storage `config` names: the local directory (created if missing, read as `reads`
/// says) or the S3 bucket (not contacted until first used; `/readyz` checks it).
pub fn connect(config: &StorageConfig, reads: LocalReads) -> io::Result<Arc<dyn Storage>> {
    Ok(match &config.backend {
        Backend::Local(dir) => Arc::new(
            LocalStorage::new(dir)?
                .inline_reads(reads.inline)
                .reuse_opened(reads.reuse_opened),
        ),
        Backend::S3(s3) => Arc::new(S3Storage::new(s3)?),
    })
}

/// How the local backend serves reads; the default (off, zero) suits everything but playback.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalReads {
    /// [`LocalStorage::inline_reads`].
    pub inline: bool,
    /// [`LocalStorage::reuse_opened`].
    pub reuse_opened: Duration,
}

/// Where each kind of object lives, and its inverse: which row owns a key.
pub mod keys {
    use crate::video::VideoId;

    /// The heights of the adaptive ladder's rungs, lowest first; a video gets those not above
    /// its own height (at least the lowest).
    pub const LADDER_HEIGHTS: [u16; 5] = [240, 360, 480, 720, 1080];

    /// The progressive rendition of a video: what `/videos/{vid}` serves.
    pub fn video(video_id: &VideoId) -> String {
        format!("videos/{video_id}")
    }
    /// The original upload, kept for its owner when the progressive rendition is a transcode.
    pub fn original(video_id: &VideoId) -> String {
        format!("originals/{video_id}")
    }
    /// The JPEG thumbnail made by processing.
    pub fn thumbnail(video_id: &VideoId) -> String {
        format!("thumbnails/{video_id}.jpg")
    }
    /// The HLS master playlist.
    pub fn hls_master(video_id: &VideoId) -> String {
        format!("hls/{video_id}/master.m3u8")
    }
    /// The media playlist of one rung (byte ranges into [`hls_media`]).
    pub fn hls_playlist(video_id: &VideoId, height: u16) -> String {
        format!("hls/{video_id}/{height}p.m3u8")
    }
    /// The fMP4 file of one rung: its init segment and every fragment, one object.
    pub fn hls_media(video_id: &VideoId, height: u16) -> String {
        format!("hls/{video_id}/{height}p.mp4")
    }
    /// The storyboard sprite: small frames tiled in one JPEG.
    pub fn storyboard_image(video_id: &VideoId) -> String {
        format!("storyboards/{video_id}.jpg")
    }
    /// The WebVTT file mapping time ranges to regions of the sprite.
    pub fn storyboard_vtt(video_id: &VideoId) -> String {
        format!("storyboards/{video_id}.vtt")
    }
    /// Every object a video can own once its upload is finished: what deleting it removes
    /// (each one, "not found" counting as done).
    pub fn of_video(video_id: &VideoId) -> Vec<String> {
        let mut keys = vec![
            video(video_id),
            original(video_id),
            thumbnail(video_id),
            hls_master(video_id),
            storyboard_image(video_id),
            storyboard_vtt(video_id),
        ];
        for height in LADDER_HEIGHTS {
            keys.push(hls_playlist(video_id, height));
            keys.push(hls_media(video_id, height));
        }
        keys
    }
    /// The bytes of a resumable upload in progress.
    pub fn upload(upload_id: &str) -> String {
        format!("uploads/{upload_id}")
    }
    /// Where the S3 backend keeps the short tail of an append object (`key`, a resumable
    /// upload) whose bytes end at `offset`: S3 parts are at least 5 MiB, so what a request
    /// brings beyond the last whole part waits here for the next one (ARCHITECTURE.md, "S3
    /// storage"). Owned by the upload, like its bytes.
    pub fn tail(key: &str, offset: u64) -> String {
        format!("{}{offset}", tails(key))
    }
    /// The prefix of every [`tail`] of `key`.
    pub fn tails(key: &str) -> String {
        format!("{key}.tail-")
    }
    /// Where staging and scratch files live; nothing there is owned by a row.
    pub const SCRATCH: &str = "tmp/";
    /// Prefixes the reconciler lists: every prefix above and [`SCRATCH`].
    pub const PREFIXES: &[&str] = &[
        "videos/",
        "originals/",
        "thumbnails/",
        "hls/",
        "storyboards/",
        "uploads/",
        SCRATCH,
    ];

    /// Who owns a storage key.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Owner {
        /// The `video_info` row with this id.
        Video(VideoId),
        /// The `uploads` row with this id.
        Upload(String),
        /// No row can own it (staging leftovers, names no code writes).
        Nobody,
    }

    /// The owner of `key` (the inverse of the functions above), or `None` for a key outside
    /// [`PREFIXES`].
    pub fn owner_of(key: &str) -> Option<Owner> {
        let (prefix, name) = key.split_once('/')?;
        if name.is_empty() {
            return None;
        }
        let video = |id: &str| VideoId::parse(id).map_or(Owner::Nobody, Owner::Video);
        // Only `hls/<vid>/<file>` is two levels deep; every other key is `<prefix>/<name>`.
        if prefix == "hls" {
            let (id, file) = name.split_once('/')?;
            if file.is_empty() || file.contains('/') {
                return None;
            }
            return Some(video(id));
        }
        if name.contains('/') {
            return None;
        }
        Some(match prefix {
            "videos" | "originals" => video(name),
            "thumbnails" => name.strip_suffix(".jpg").map_or(Owner::Nobody, video),
            "storyboards" => name
                .strip_suffix(".jpg")
                .or_else(|| name.strip_suffix(".vtt"))
                .map_or(Owner::Nobody, video),
            "uploads" => match name.split_once(".tail-") {
                Some((id, offset)) if offset.parse::<u64>().is_ok() => Owner::Upload(id.into()),
                Some(_) => Owner::Nobody,
                None => Owner::Upload(name.to_string()),
            },
            "tmp" => Owner::Nobody,
            _ => return None,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_key_maps_back_to_its_owner() {
            let vid = VideoId::random();
            for key in of_video(&vid) {
                assert_eq!(owner_of(&key), Some(Owner::Video(vid.clone())), "{key}");
                assert!(PREFIXES.iter().any(|p| key.starts_with(p)), "{key}");
            }
            assert_eq!(owner_of(&upload("u1")), Some(Owner::Upload("u1".into())));
            let tail = tail(&upload("u1"), 5 << 20);
            assert_eq!(tail, "uploads/u1.tail-5242880");
            assert!(tail.starts_with(&tails(&upload("u1"))));
            assert_eq!(owner_of(&tail), Some(Owner::Upload("u1".into())));
            assert_eq!(owner_of("uploads/u1.tail-x"), Some(Owner::Nobody));
            assert_eq!(owner_of("tmp/abc"), Some(Owner::Nobody));
            assert_eq!(owner_of("videos/abc"), Some(Owner::Nobody));
            assert_eq!(
                owner_of(&format!("thumbnails/{vid}.png")),
                Some(Owner::Nobody)
            );
            assert_eq!(owner_of("thumbnails/.jpg"), Some(Owner::Nobody));
            assert_eq!(owner_of("other/abc"), None);
            assert_eq!(owner_of("videos/"), None);
            assert_eq!(owner_of("videos/a/b"), None);
            assert_eq!(owner_of(&format!("hls/{vid}")), None);
            assert_eq!(owner_of(&format!("hls/{vid}/")), None);
            assert_eq!(owner_of(&format!("hls/{vid}/a/b")), None);
            assert_eq!(owner_of("hls/abc/master.m3u8"), Some(Owner::Nobody));
            assert_eq!(
                owner_of(&format!("storyboards/{vid}.png")),
                Some(Owner::Nobody)
            );
            let all = of_video(&vid);
            assert_eq!(all.len(), 6 + 2 * LADDER_HEIGHTS.len());
            let unique: std::collections::HashSet<_> = all.iter().collect();
            assert_eq!(unique.len(), all.len(), "every key once");
            assert_eq!(owner_of("videos"), None);
        }
    }
}

/// What storage knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// One page of a listing, in key order (bytewise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub objects: Vec<ObjectMeta>,
    /// Where the next page starts (after this key), or `None` after the last page.
    pub next: Option<String>,
}

/// The resume token of an append object: what the backend needs, besides the key, to take up
/// an upload again on any node. `None` for the local backend, whose file is the whole state;
/// for S3, a small JSON document (multipart upload id, part size, each part's ETag, the tail's
/// length). Opaque to the caller, which only records it and hands it back.
pub type Token = Option<String>;

/// A multipart upload that was started and never completed nor aborted (S3 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub key: String,
    pub upload_id: String,
    pub started: SystemTime,
}

/// Checks that `key` is a storage key: `/`-separated names, none empty, `.` or `..`, so that
/// no key can escape the local root or name one S3 object two ways.
pub fn check_key(key: &str) -> io::Result<()> {
    let valid = !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if valid {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid storage key {key:?}"),
        ))
    }
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The object's size and modification time, or `None` if it does not exist.
    async fn stat(&self, key: &str) -> io::Result<Option<ObjectMeta>>;

    /// Starts writing the object `key`; its bytes stay invisible (whatever `key` holds now
    /// stays) until [`StagedObject::publish`]. Memory stays bounded whatever the size (S3: a
    /// multipart upload with at most a few parts in flight).
    async fn stage(&self, key: &str) -> io::Result<Box<dyn StagedObject>>;

    /// Makes the finished local file `file` the object `key`, atomically, replacing any object
    /// there, and removes the file (local: a rename when on the same filesystem; S3: an upload).
    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()>;

    /// Puts a copy of the object at the local path `dest` for a tool that reads files (ffmpeg),
    /// returning its size, or `None` (and no file) if the object does not exist. Local: a hard
    /// link when possible (objects are never modified in place, so a link is a snapshot);
    /// S3: a download streamed to the file with bounded memory.
    async fn fetch_file(&self, key: &str, dest: &Path) -> io::Result<Option<u64>>;

    /// Removes the object. `Ok(false)` when it was already gone.
    async fn delete(&self, key: &str) -> io::Result<bool>;

    /// Up to `limit` objects whose key starts with `prefix` and sorts after `after`, in key
    /// order, at any depth below the prefix.
    async fn list_page(&self, prefix: &str, after: Option<&str>, limit: usize) -> io::Result<Page>;

    /// Every object whose key starts with `prefix`, page by page.
    async fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.list_page(prefix, after.as_deref(), 1000).await?;
            all.extend(page.objects);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Whether the backend accepts writes now, for `/readyz` (local: a probe file; S3: a probe
    /// object put and deleted, which checks the bucket, the credentials and the network).
    async fn check_writable(&self) -> io::Result<()>;

    /// Opens the object for reading, or `None` if it does not exist. Every read of the returned
    /// handle sees the same bytes even if the key is replaced meanwhile (a file handle; for S3,
    /// ranged GETs pinned with `If-Match` on the ETag the open saw, failing rather than mixing
    /// two objects).
    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>>;

    /// A URL that lets whoever holds it GET the object for `ttl` without credentials, answered
    /// with `content_type` (an S3 presigned URL), or `None` when the backend has no such URLs.
    async fn presigned_url(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
    ) -> io::Result<Option<String>>;

    /// Starts an empty append object (a resumable upload) at `key`; returns its first token.
    async fn create_append(&self, key: &str) -> io::Result<Token>;

    /// Opens the append object `key` as `token` (the last one recorded) describes it, or
    /// `None` if it does not exist.
    async fn open_append(
        &self,
        key: &str,
        token: Option<&str>,
    ) -> io::Result<Option<Box<dyn AppendObject>>>;

    /// Seals the append object: afterwards `key` is an ordinary object, readable with
    /// [`Storage::open`]. Finishing one already finished is harmless.
    async fn finish_append(&self, key: &str, token: Option<&str>) -> io::Result<()>;

    /// Removes an append object, finished or not, with everything it holds (S3: the multipart
    /// upload is aborted and its tails deleted). One already gone counts as removed.
    async fn discard_append(&self, key: &str, token: Option<&str>) -> io::Result<()>;

    /// Makes the object at `from` durable and moves it to `to`, replacing any object there;
    /// `to` appears atomically. Local: a rename (constant time, never a copy). S3: a
    /// server-side copy (objects up to 5 GiB), then the source is deleted.
    async fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// Multipart uploads started before `before` that were never completed nor aborted (a
    /// process killed while uploading). Always empty for the local backend.
    async fn unfinished(&self, before: SystemTime) -> io::Result<Vec<Unfinished>>;

    /// Aborts an unfinished multipart upload, freeing its parts; one already gone counts.
    async fn abort(&self, upload: &Unfinished) -> io::Result<()>;
}

/// An object opened for reading: its size and time as of the open, and its bytes.
pub trait OpenObject: Send + Sync {
    fn size(&self) -> u64;
    fn modified(&self) -> SystemTime;
    /// The backend's own entity tag for this version of the object (S3's ETag), if it has
    /// one: it changes whenever different bytes are stored under the key.
    fn version(&self) -> Option<&str>;
    /// Bytes `range` (within `0..size`) in chunks of at most `chunk` bytes, read only as fast as
    /// the consumer takes them, so a stalled reader holds at most one chunk (plus, for S3, what
    /// the connection buffers: a small read-ahead).
    fn read_range(&self, range: Range<u64>, chunk: usize) -> ByteStream;
    /// Whether this is a file of the local storage, which another process on the same host
    /// can open by its key under the same root ([`open_read_only`]).
    fn is_local_file(&self) -> bool {
        false
    }
}

/// `body` paced by the socket it is written to: each chunk carries a permit of a semaphore of
/// `window` permits and gives it back only when the server drops the chunk, i.e. once it has
/// been written. hyper would otherwise poll a body until its own write queue holds ~400 KiB,
/// which a stalled client would pin; this way it pins at most `window` chunks. `held` (a
/// stream slot, say) lives until the stream ends or is dropped; `count` hears each chunk's size.
pub fn paced<H>(
    body: ByteStream,
    window: usize,
    held: H,
    count: impl Fn(u64) + Send + 'static,
) -> ByteStream
where
    H: Send + 'static,
{
    use futures_util::StreamExt;
    let window = Arc::new(tokio::sync::Semaphore::new(window.max(1)));
    Box::pin(futures_util::stream::unfold(
        (body, window, held, count),
        |(mut body, window, held, count)| async move {
            let permit = window.clone().acquire_owned().await.ok()?;
            let item = body.next().await?.map(|bytes| {
                count(bytes.len() as u64);
                Bytes::from_owner(Paced {
                    bytes,
                    _permit: permit,
                })
            });
            Some((item, (body, window, held, count)))
        },
    ))
}

/// A chunk and the window permit it holds until dropped.
struct Paced {
    bytes: Bytes,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Paced {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// An append object opened for one request's appends.
#[async_trait]
pub trait AppendObject: Send {
    /// The object's length, including appends not yet synced.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    async fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The object's first bytes (at most `len`), while it is shorter than 5 MiB: what a type
    /// check reads back.
    async fn head(&mut self, len: usize) -> io::Result<Vec<u8>>;
    /// Makes every byte written so far durable and returns the token that describes the object
    /// now, which the caller records before it answers.
    async fn sync(&mut self) -> io::Result<Token>;
    /// Tells the object that the token of the last [`AppendObject::sync`] is recorded: what
    /// only the previous token needed can go (S3: its tail object).
    async fn committed(&mut self) -> io::Result<()>;
    /// Drops every byte written since the object was opened (a chunk whose checksum failed);
    /// the object is as the token it was opened with describes.
    async fn rollback(self: Box<Self>) -> io::Result<()>;
}

/// An object being written.
#[async_trait]
pub trait StagedObject: Send {
    async fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// Bytes written so far.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes the bytes durable and visible under the key given to [`Storage::stage`].
    /// Dropping a staged object without publishing discards it.
    async fn publish(self: Box<Self>) -> io::Result<()>;
}
