//! Video storage behind one trait, shared by streamserver (writes uploads, serves playback) and
//! scheduler (processes, deletes, reconciles).
//!
//! Objects are written once and never modified in place: bytes are staged out of sight, fsynced,
//! then published under their key with an atomic rename, so a reader sees either the old object,
//! the new one or nothing. Keys are `/`-separated and laid out by [`keys`]. The local-directory
//! backend is the default; an S3-compatible backend implements the same trait (ranged GET, multipart
//! PUT, copy + delete for publish) without any handler changing.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWriteExt;

/// A stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

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
            "uploads" => Owner::Upload(name.to_string()),
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

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The object's size and modification time, or `None` if it does not exist.
    async fn stat(&self, key: &str) -> io::Result<Option<ObjectMeta>>;

    /// Starts a new object whose bytes stay invisible until [`StagedObject::publish`].
    async fn stage(&self) -> io::Result<Box<dyn StagedObject>>;

    /// Moves a finished local file into place under `key`, atomically, replacing any object
    /// there. The file is consumed.
    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()>;

    /// Removes the object. `Ok(false)` when it was already gone.
    async fn delete(&self, key: &str) -> io::Result<bool>;

    /// Every object whose key starts with `prefix`.
    async fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>>;

    /// The object as a local file, where the backend keeps objects as files. Lets ffmpeg read
    /// it directly and lets playback use the fastest local read path.
    fn local_path(&self, key: &str) -> Option<PathBuf>;

    /// A directory for scratch files (ffmpeg output) on the same filesystem as the objects, so
    /// `publish_file` is a rename.
    fn scratch_dir(&self) -> PathBuf;

    /// Whether the backend accepts writes now, for `/readyz`.
    async fn check_writable(&self) -> io::Result<()>;

    /// Opens the object for reading, or `None` if it does not exist. Every read of the returned
    /// handle sees the same bytes even if the key is replaced meanwhile (a file handle; for S3,
    /// a ranged GET pinned with `If-Match` on the ETag the open saw).
    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>>;

    /// Opens an object that grows by appends (a resumable upload), creating it empty when
    /// `create` is set. Appends become durable at [`AppendObject::sync`].
    async fn open_append(
        &self,
        key: &str,
        create: bool,
    ) -> io::Result<Option<Box<dyn AppendObject>>>;

    /// Cuts the object back to `len` bytes (drops an unverified tail).
    async fn truncate(&self, key: &str, len: u64) -> io::Result<()>;

    /// Makes the object at `from` durable and moves it to `to` atomically, replacing any object
    /// there; constant time for the local backend (a rename, never a copy).
    async fn rename(&self, from: &str, to: &str) -> io::Result<()>;
}

/// An object opened for reading: its size and time as of the open, and its bytes.
pub trait OpenObject: Send + Sync {
    fn size(&self) -> u64;
    fn modified(&self) -> SystemTime;
    /// Bytes `range` (within `0..size`) in chunks of at most `chunk` bytes, read only as fast as
    /// the consumer takes them, so a stalled reader holds at most one chunk.
    fn read_range(&self, range: Range<u64>, chunk: usize) -> ByteStream;
}

/// An object being appended to.
#[async_trait]
pub trait AppendObject: Send {
    /// The object's length, including appends not yet synced.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    async fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// Flushes and fsyncs the appended bytes.
    async fn sync(&mut self) -> io::Result<()>;
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
    /// Makes the bytes durable and visible under `key`. Dropping a staged object without
    /// publishing discards it.
    async fn publish(self: Box<Self>, key: &str) -> io::Result<()>;
}

/// Objects as files under a root directory: `ROOT/videos/<vid>`, staging in `ROOT/tmp/`.
pub struct LocalStorage {
    root: PathBuf,
    inline_reads: bool,
}

impl LocalStorage {
    /// Uses (and creates) `root`.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in ["tmp", "videos", "thumbnails", "uploads"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(LocalStorage {
            root,
            inline_reads: false,
        })
    }

    /// Whether [`Storage::open`] and [`OpenObject::read_range`] call `open`/`pread` on the
    /// async worker itself instead of on the blocking pool. Off by default. Playback turns it on: its files are mostly in the
    /// page cache, where a 64 KiB `pread` takes microseconds and the hand-off to the blocking
    /// pool costs more CPU than the read (bench/stream.sh measured half the CPU per GB); the
    /// price is that a cold read from a slow disk stalls that worker for its duration.
    pub fn inline_reads(mut self, inline: bool) -> Self {
        self.inline_reads = inline;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for `key`, refusing keys that could escape the root.
    pub fn path_of(&self, key: &str) -> io::Result<PathBuf> {
        let valid = !key.is_empty()
            && !key.starts_with('/')
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if valid {
            Ok(self.root.join(key))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid storage key {key:?}"),
            ))
        }
    }
}

/// fsyncs a directory so a rename into it survives a crash.
pub async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

async fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::rename(from, to).await?;
    if let Some(parent) = to.parent() {
        sync_dir(parent).await?;
    }
    Ok(())
}

#[async_trait]
impl Storage for LocalStorage {
    async fn stat(&self, key: &str) -> io::Result<Option<ObjectMeta>> {
        match tokio::fs::metadata(self.path_of(key)?).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: m.len(),
                modified: m.modified()?,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn stage(&self) -> io::Result<Box<dyn StagedObject>> {
        let path = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(Box::new(LocalStaged {
            root: self.root.clone(),
            temp: Some(path),
            file: Some(file),
            len: 0,
        }))
    }

    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()> {
        let target = self.path_of(key)?;
        let handle = tokio::fs::File::open(file).await?;
        handle.sync_all().await?;
        rename_durably(file, &target).await
    }

    async fn delete(&self, key: &str) -> io::Result<bool> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        // Keys have one directory level; list the directory the prefix names.
        let (dir, name_prefix) = match prefix.rsplit_once('/') {
            Some((dir, rest)) => (dir.to_string(), rest.to_string()),
            None => (String::new(), prefix.to_string()),
        };
        let dir_path = if dir.is_empty() {
            self.root.clone()
        } else {
            self.path_of(&dir)?
        };
        let mut entries = match tokio::fs::read_dir(&dir_path).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&name_prefix) {
                continue;
            }
            let meta = entry.metadata().await?;
            if meta.is_file() {
                out.push(ObjectMeta {
                    key: if dir.is_empty() {
                        name
                    } else {
                        format!("{dir}/{name}")
                    },
                    size: meta.len(),
                    modified: meta.modified()?,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path_of(key).ok()
    }

    fn scratch_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    async fn check_writable(&self) -> io::Result<()> {
        let probe = self
            .root
            .join("tmp")
            .join(format!(".probe-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await
    }

    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>> {
        let path = self.path_of(key)?;
        let inline = self.inline_reads;
        let open = move || -> io::Result<Option<LocalOpen>> {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            // Size and time from the handle (fstat), not the path: the key may be replaced
            // by a rename between the open and a stat of the path.
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Ok(None);
            }
            Ok(Some(LocalOpen {
                file: Arc::new(file),
                size: meta.len(),
                modified: meta.modified()?,
                inline_reads: inline,
            }))
        };
        let opened = if inline {
            open()?
        } else {
            tokio::task::spawn_blocking(open)
                .await
                .map_err(io::Error::other)??
        };
        Ok(opened.map(|o| Arc::new(o) as Arc<dyn OpenObject>))
    }

    async fn open_append(
        &self,
        key: &str,
        create: bool,
    ) -> io::Result<Option<Box<dyn AppendObject>>> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::OpenOptions::new()
            .append(true)
            .create(create)
            .open(&path)
            .await
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata().await?.len();
        if create {
            if let Some(parent) = path.parent() {
                sync_dir(parent).await?;
            }
        }
        Ok(Some(Box::new(LocalAppend { file, len })))
    }

    async fn truncate(&self, key: &str, len: u64) -> io::Result<()> {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(self.path_of(key)?)
            .await?;
        file.set_len(len).await?;
        file.sync_all().await
    }

    async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let source = self.path_of(from)?;
        let target = self.path_of(to)?;
        tokio::fs::File::open(&source).await?.sync_all().await?;
        rename_durably(&source, &target).await?;
        if let Some(parent) = source.parent() {
            sync_dir(parent).await?;
        }
        Ok(())
    }
}

/// A local file opened for reading; reads use `pread`, so concurrent ranges of one handle never
/// disturb each other's position.
struct LocalOpen {
    file: Arc<std::fs::File>,
    size: u64,
    modified: SystemTime,
    /// See [`LocalStorage::inline_reads`].
    inline_reads: bool,
}

impl OpenObject for LocalOpen {
    fn size(&self) -> u64 {
        self.size
    }

    fn modified(&self) -> SystemTime {
        self.modified
    }

    fn read_range(&self, range: Range<u64>, chunk: usize) -> ByteStream {
        use std::os::unix::fs::FileExt;
        let chunk = chunk.max(1) as u64;
        let file = self.file.clone();
        let inline = self.inline_reads;
        Box::pin(futures_util::stream::try_unfold(range.start, move |pos| {
            let file = file.clone();
            let end = range.end;
            async move {
                if pos >= end {
                    return Ok(None);
                }
                let want = (end - pos).min(chunk) as usize;
                let read = move || -> io::Result<Vec<u8>> {
                    let mut buf = vec![0u8; want];
                    let mut filled = 0;
                    while filled < want {
                        let n = file.read_at(&mut buf[filled..], pos + filled as u64)?;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "object shorter than when it was opened",
                            ));
                        }
                        filled += n;
                    }
                    Ok(buf)
                };
                let buf = if inline {
                    read()?
                } else {
                    tokio::task::spawn_blocking(read)
                        .await
                        .map_err(io::Error::other)??
                };
                let next = pos + buf.len() as u64;
                Ok(Some((Bytes::from(buf), next)))
            }
        }))
    }
}

struct LocalAppend {
    file: tokio::fs::File,
    len: u64,
}

#[async_trait]
impl AppendObject for LocalAppend {
    fn len(&self) -> u64 {
        self.len
    }

    async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    async fn sync(&mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.file.sync_data().await
    }
}

struct LocalStaged {
    root: PathBuf,
    /// The staging file; `None` once published.
    temp: Option<PathBuf>,
    file: Option<tokio::fs::File>,
    len: u64,
}

#[async_trait]
impl StagedObject for LocalStaged {
    async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("staged object already published"))?;
        file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn publish(mut self: Box<Self>, key: &str) -> io::Result<()> {
        let target = LocalStorage {
            root: self.root.clone(),
            inline_reads: false,
        }
        .path_of(key)?;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("staged object already published"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let temp = self
            .temp
            .take()
            .ok_or_else(|| io::Error::other("staged object already published"))?;
        if let Err(e) = rename_durably(&temp, &target).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        // Not published: the bytes must not linger. A crash before this runs leaves a file in
        // tmp/, which the scheduler's reconciler removes after its grace period.
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn staged_objects_appear_only_when_published() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path()).unwrap();
        let mut staged = store.stage().await.unwrap();
        staged.write(b"hello ").await.unwrap();
        staged.write(b"world").await.unwrap();
        assert_eq!(staged.len(), 11);
        assert_eq!(store.stat("videos/v1").await.unwrap(), None);
        staged.publish("videos/v1").await.unwrap();
        assert_eq!(store.stat("videos/v1").await.unwrap().unwrap().size, 11);

        let opened = store.open("videos/v1").await.unwrap().unwrap();
        let bytes: Vec<Bytes> = opened.read_range(6..11, 2).try_collect().await.unwrap();
        assert_eq!(bytes.concat(), b"world");
        assert!(bytes.iter().all(|b| b.len() <= 2));

        let dropped = store.stage().await.unwrap();
        drop(dropped);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );

        assert_eq!(store.list("videos/").await.unwrap().len(), 1);
        assert!(store.delete("videos/v1").await.unwrap());
        assert!(!store.delete("videos/v1").await.unwrap());
        assert!(store.path_of("../etc/passwd").is_err());
        assert!(store.path_of("videos/../x").is_err());
        store.check_writable().await.unwrap();
    }

    #[tokio::test]
    async fn opened_objects_keep_their_bytes_and_appends_publish_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path()).unwrap();
        assert!(store.open("videos/v").await.unwrap().is_none());
        assert!(store
            .open_append("uploads/u", false)
            .await
            .unwrap()
            .is_none());

        let mut up = store.open_append("uploads/u", true).await.unwrap().unwrap();
        up.write(b"hello ").await.unwrap();
        up.write(b"world!!").await.unwrap();
        up.sync().await.unwrap();
        assert_eq!(up.len(), 13);
        drop(up);
        store.truncate("uploads/u", 11).await.unwrap();
        let up = store
            .open_append("uploads/u", false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(up.len(), 11);
        drop(up);
        store.rename("uploads/u", "videos/v").await.unwrap();
        assert_eq!(store.stat("uploads/u").await.unwrap(), None);

        let opened = store.open("videos/v").await.unwrap().unwrap();
        assert_eq!(opened.size(), 11);
        // Replacing the key does not change what the open handle reads.
        let mut next = store.stage().await.unwrap();
        next.write(b"other bytes, longer").await.unwrap();
        next.publish("videos/v").await.unwrap();
        let bytes: Vec<Bytes> = opened.read_range(3..11, 3).try_collect().await.unwrap();
        assert_eq!(bytes.concat(), b"lo world");
        assert!(bytes.iter().all(|b| b.len() <= 3));
        assert_eq!(store.open("videos/v").await.unwrap().unwrap().size(), 19);
        let inline = LocalStorage::new(dir.path()).unwrap().inline_reads(true);
        let bytes: Vec<Bytes> = inline
            .open("videos/v")
            .await
            .unwrap()
            .unwrap()
            .read_range(6..11, 4)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(bytes.concat(), b"bytes");
    }
}
