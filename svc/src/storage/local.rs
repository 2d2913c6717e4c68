//! The local-directory backend: every object is a file `ROOT/<key>`, staged in `ROOT/tmp/`,
//! fsynced and published by rename (one directory level per `/` of the key). An append object
//! is a file appended to in place; its length on disk is its whole state, so it has no token.
//!
//! What is backend-neutral (the trait, keys) is in `storage/mod.rs`; S3 is `storage/s3.rs`.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{
    check_key, AppendObject, ByteStream, ObjectMeta, OpenObject, Page, StagedObject, Storage,
    Token, Unfinished,
};

/// Objects as files under a root directory: `ROOT/videos/<vid>`, staging in `ROOT/tmp/`.
pub struct LocalStorage {
    root: PathBuf,
    inline_reads: bool,
    /// See [`LocalStorage::reuse_opened`].
    opened: Option<Arc<Opened>>,
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
            opened: None,
        })
    }

    /// Whether [`Storage::open`] keeps what it opened for `ttl` and hands the same handle to
    /// the next opens of the key meanwhile, as nginx's `open_file_cache` does: a popular file's
    /// requests then cost no `open` and `close` (their path walk and file allocation were a
    /// seventh of the streamserver's CPU on a 4 KiB answer, bench/media-origin.sh). Every
    /// reuse checks the handle's size and modification time again (`fstat`), so a file written
    /// in place is seen at once; a file *replaced* by rename (how objects are published) is
    /// seen once the handle is `ttl` old. A zero `ttl` (the default) keeps nothing. Handles
    /// are closed once `ttl` old, by a task that runs while any are kept.
    pub fn reuse_opened(mut self, ttl: Duration) -> Self {
        self.opened = (!ttl.is_zero()).then(|| {
            Arc::new(Opened {
                ttl,
                files: Mutex::new(HashMap::new()),
                sweeping: AtomicBool::new(false),
            })
        });
        self
    }

    /// Whether [`Storage::open`] and [`OpenObject::read_range`] call `open`/`pread` on the
    /// async worker itself instead of on the blocking pool. Off by default. Playback turns it
    /// on: its files are mostly in the page cache, where a 64 KiB `pread` takes microseconds
    /// and the hand-off to the blocking pool costs more CPU than the read (bench/stream.sh
    /// measured half the CPU per GB); the price is that a cold read from a slow disk stalls
    /// that worker for its duration.
    pub fn inline_reads(mut self, inline: bool) -> Self {
        self.inline_reads = inline;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for `key`, refusing keys that could escape the root.
    pub fn path_of(&self, key: &str) -> io::Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Drops a kept handle of `key`, which this process is about to replace or delete.
    fn forget_opened(&self, key: &str) {
        if let Some(opened) = &self.opened {
            opened.lock().remove(key);
        }
    }

    /// A new name in `ROOT/tmp/`, where nothing is owned by a row.
    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
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

/// Whether an error is "the two paths are on different filesystems" (EXDEV), where a rename or
/// a hard link has to become a copy.
fn crosses_devices(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::CrossesDevices
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

    async fn stage(&self, key: &str) -> io::Result<Box<dyn StagedObject>> {
        let target = self.path_of(key)?;
        let path = self.temp_path();
        let file = tokio::fs::File::create(&path).await?;
        Ok(Box::new(LocalStaged {
            target,
            temp: Some(path),
            file: Some(file),
            len: 0,
        }))
    }

    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()> {
        let target = self.path_of(key)?;
        self.forget_opened(key);
        tokio::fs::File::open(file).await?.sync_all().await?;
        match rename_durably(file, &target).await {
            Err(e) if crosses_devices(&e) => {
                // SCRATCH_DIR is on another filesystem: copy into tmp/ first, so the object
                // still appears by rename.
                let temp = self.temp_path();
                tokio::fs::copy(file, &temp).await?;
                tokio::fs::File::open(&temp).await?.sync_all().await?;
                if let Err(e) = rename_durably(&temp, &target).await {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return Err(e);
                }
                tokio::fs::remove_file(file).await
            }
            other => other,
        }
    }

    async fn fetch_file(&self, key: &str, dest: &Path) -> io::Result<Option<u64>> {
        let source = self.path_of(key)?;
        match tokio::fs::remove_file(dest).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        match tokio::fs::hard_link(&source, dest).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // Another filesystem, or one without hard links: a copy.
            Err(_) => match tokio::fs::copy(&source, dest).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            },
        }
        Ok(Some(tokio::fs::metadata(dest).await?.len()))
    }

    async fn delete(&self, key: &str) -> io::Result<bool> {
        let path = self.path_of(key)?;
        self.forget_opened(key);
        let removed = match tokio::fs::remove_file(&path).await {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        // A key two levels deep (`hls/<vid>/<file>`) has a directory of its own, which goes
        // with its last object. Anything else in it keeps it; a publish racing this recreates it.
        if key.matches('/').count() > 1 {
            if let Some(parent) = path.parent() {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
        Ok(removed)
    }

    async fn list_page(&self, prefix: &str, after: Option<&str>, limit: usize) -> io::Result<Page> {
        // Walk the deepest directory the prefix names whole, keeping files whose key matches.
        let dir = match prefix.rsplit_once('/') {
            Some((dir, _)) => {
                check_key(dir)?;
                dir.to_string()
            }
            None => String::new(),
        };
        let (root, prefix, after) = (
            self.root.clone(),
            prefix.to_string(),
            after.map(str::to_owned),
        );
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &dir, &prefix, after.as_deref(), &mut keys)?;
            keys.sort_by(|a: &ObjectMeta, b| a.key.cmp(&b.key));
            let next = (keys.len() > limit).then(|| keys[limit - 1].key.clone());
            keys.truncate(limit);
            Ok(Page {
                objects: keys,
                next: next.filter(|_| limit > 0),
            })
        })
        .await
        .map_err(io::Error::other)?
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
        if let Some(kept) = self.opened.as_ref().and_then(|o| o.get(key)) {
            return Ok(Some(kept? as Arc<dyn OpenObject>));
        }
        let path = self.path_of(key)?;
        let inline = self.inline_reads;
        let opened = if inline {
            LocalOpen::open(&path, inline)?
        } else {
            tokio::task::spawn_blocking(move || LocalOpen::open(&path, inline))
                .await
                .map_err(io::Error::other)??
        };
        let Some(opened) = opened.map(Arc::new) else {
            return Ok(None);
        };
        if let Some(cache) = &self.opened {
            cache.put(key, opened.clone());
        }
        Ok(Some(opened as Arc<dyn OpenObject>))
    }

    async fn presigned_url(
        &self,
        _key: &str,
        _ttl: Duration,
        _content_type: &str,
    ) -> io::Result<Option<String>> {
        Ok(None)
    }

    async fn create_append(&self, key: &str) -> io::Result<Token> {
        let path = self.path_of(key)?;
        tokio::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .await?
            .sync_all()
            .await?;
        if let Some(parent) = path.parent() {
            sync_dir(parent).await?;
        }
        Ok(None)
    }

    async fn open_append(
        &self,
        key: &str,
        _token: Option<&str>,
    ) -> io::Result<Option<Box<dyn AppendObject>>> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::OpenOptions::new().append(true).open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata().await?.len();
        Ok(Some(Box::new(LocalAppend {
            file,
            path,
            start: len,
            len,
        })))
    }

    async fn finish_append(&self, key: &str, _token: Option<&str>) -> io::Result<()> {
        // Every append was fsynced before it was acknowledged: the file is the object.
        match self.stat(key).await? {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{key} does not exist"),
            )),
        }
    }

    async fn discard_append(&self, key: &str, _token: Option<&str>) -> io::Result<()> {
        self.delete(key).await.map(|_| ())
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

    async fn unfinished(&self, _before: SystemTime) -> io::Result<Vec<Unfinished>> {
        Ok(Vec::new())
    }

    async fn abort(&self, _upload: &Unfinished) -> io::Result<()> {
        Ok(())
    }
}

/// Collects into `out` the files under `ROOT/dir` (recursively) whose key starts with `prefix`
/// and sorts after `after`.
fn walk(
    root: &Path,
    dir: &str,
    prefix: &str,
    after: Option<&str>,
    out: &mut Vec<ObjectMeta>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(root.join(dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let key = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let inside = format!("{key}/");
            if inside.starts_with(prefix) || prefix.starts_with(&inside) {
                walk(root, &key, prefix, after, out)?;
            }
        } else if meta.is_file() && key.starts_with(prefix) && after.is_none_or(|a| *key > *a) {
            out.push(ObjectMeta {
                size: meta.len(),
                modified: meta.modified()?,
                key,
            });
        }
    }
    Ok(())
}

/// Past this many kept handles, the stale ones are closed, and all of them if none is. Kept well
/// under the common soft limit of 1,024 descriptors, most of which are the clients' connections:
/// what is worth keeping is the few files being asked for many times a second.
const OPENED_MAX: usize = 256;

/// The handles [`LocalStorage::reuse_opened`] keeps: by key, with the time each was opened.
struct Opened {
    ttl: Duration,
    files: Mutex<HashMap<String, (Instant, Arc<LocalOpen>)>>,
    /// Whether a task is closing the handles as they go stale.
    sweeping: AtomicBool,
}

impl Opened {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<LocalOpen>)>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The handle kept for `key` if it is younger than the TTL, with its size and time read
    /// again from the handle: the same handle when they are unchanged. `None` when nothing
    /// fresh is kept, and when the file is no longer a regular file.
    fn get(&self, key: &str) -> Option<io::Result<Arc<LocalOpen>>> {
        let kept = {
            let files = self.lock();
            let (at, kept) = files.get(key)?;
            if at.elapsed() >= self.ttl {
                return None;
            }
            kept.clone()
        };
        let meta = match kept.file.metadata() {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return None,
            Err(e) => return Some(Err(e)),
        };
        let modified = match meta.modified() {
            Ok(modified) => modified,
            Err(e) => return Some(Err(e)),
        };
        if meta.len() == kept.size && modified == kept.modified {
            return Some(Ok(kept));
        }
        // Written in place since: the same file, described as it is now.
        Some(Ok(Arc::new(LocalOpen {
            file: kept.file.clone(),
            size: meta.len(),
            modified,
            inline_reads: kept.inline_reads,
        })))
    }

    /// Keeps `opened` for `key`, and starts the task that closes stale handles if none runs.
    fn put(self: &Arc<Self>, key: &str, opened: Arc<LocalOpen>) {
        let start_sweeping = {
            let mut files = self.lock();
            if files.len() >= OPENED_MAX {
                files.retain(|_, (at, _)| at.elapsed() < self.ttl);
                if files.len() >= OPENED_MAX {
                    files.clear();
                }
            }
            files.insert(key.to_owned(), (Instant::now(), opened));
            !self.sweeping.swap(true, Ordering::AcqRel)
        };
        if start_sweeping {
            tokio::spawn(sweep(Arc::downgrade(self)));
        }
    }
}

/// Closes kept handles as they go stale; ends when none is left (the next `put` starts another)
/// or the storage is gone. The flag is cleared under the lock `put` inserts under, so a handle
/// is never kept without a task to close it.
async fn sweep(opened: Weak<Opened>) {
    loop {
        let Some(ttl) = opened.upgrade().map(|o| o.ttl) else {
            return;
        };
        tokio::time::sleep(ttl).await;
        let Some(opened) = opened.upgrade() else {
            return;
        };
        let mut files = opened.lock();
        files.retain(|_, (at, _)| at.elapsed() < opened.ttl);
        if files.is_empty() {
            opened.sweeping.store(false, Ordering::Release);
            return;
        }
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

impl LocalOpen {
    /// The file at `path`, or `None` if there is none (or it is not a regular file).
    fn open(path: &Path, inline_reads: bool) -> io::Result<Option<LocalOpen>> {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // Size and time from the handle (fstat), not the path: the key may be replaced by a
        // rename between the open and a stat of the path.
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(None);
        }
        Ok(Some(LocalOpen {
            file: Arc::new(file),
            size: meta.len(),
            modified: meta.modified()?,
            inline_reads,
        }))
    }
}

/// Opens the object `key` of the local storage rooted at `root` for reading, on the calling
/// thread (reads too), without the rest of [`LocalStorage`]: for a process that only reads
/// files another one stores (web sending a file the streamserver named, `crate::local_file`).
/// `None` if there is no such file; an error for a key that could escape the root.
pub fn open_read_only(root: &Path, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>> {
    check_key(key)?;
    let opened = LocalOpen::open(&root.join(key), true)?;
    Ok(opened.map(|o| Arc::new(o) as Arc<dyn OpenObject>))
}

impl OpenObject for LocalOpen {
    fn size(&self) -> u64 {
        self.size
    }

    fn is_local_file(&self) -> bool {
        true
    }

    fn modified(&self) -> SystemTime {
        self.modified
    }

    fn version(&self) -> Option<&str> {
        None
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

/// A file being appended to; its length when opened is where a rollback cuts it back to.
struct LocalAppend {
    file: tokio::fs::File,
    path: PathBuf,
    start: u64,
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

    async fn head(&mut self, len: usize) -> io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        self.file.flush().await?;
        let mut head = Vec::with_capacity(len);
        tokio::fs::File::open(&self.path)
            .await?
            .take(len as u64)
            .read_to_end(&mut head)
            .await?;
        Ok(head)
    }

    async fn sync(&mut self) -> io::Result<Token> {
        self.file.flush().await?;
        self.file.sync_data().await?;
        Ok(None)
    }

    async fn committed(&mut self) -> io::Result<()> {
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> io::Result<()> {
        self.file.flush().await?;
        self.file.set_len(self.start).await?;
        self.file.sync_all().await
    }
}

/// A staging file in `ROOT/tmp/` bound for `target`.
struct LocalStaged {
    target: PathBuf,
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

    async fn publish(mut self: Box<Self>) -> io::Result<()> {
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
        if let Err(e) = rename_durably(&temp, &self.target).await {
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

    /// Publishes `bytes` at `key` as processing does: staged, then renamed into place.
    async fn publish(store: &LocalStorage, key: &str, bytes: &[u8]) {
        let mut staged = store.stage(key).await.unwrap();
        staged.write(bytes).await.unwrap();
        staged.publish().await.unwrap();
    }

    /// Publishes `bytes` at `key` through another store on the same root, as the scheduler does
    /// in its own process (nothing `store` hears of).
    async fn republished_elsewhere(store: &LocalStorage, key: &str, bytes: &[u8]) {
        publish(&LocalStorage::new(store.root()).unwrap(), key, bytes).await;
    }

    /// What `store.open(key)` serves now, or `None` for no object.
    async fn served(store: &LocalStorage, key: &str) -> Option<Vec<u8>> {
        let object = store.open(key).await.unwrap()?;
        let chunks: Vec<Bytes> = object
            .read_range(0..object.size(), 1024)
            .try_collect()
            .await
            .unwrap();
        Some(chunks.concat())
    }

    #[tokio::test]
    async fn opened_files_are_reused_within_the_ttl_but_writes_in_place_and_deletes_show_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path())
            .unwrap()
            .reuse_opened(Duration::from_secs(600));
        let other_process = LocalStorage::new(dir.path()).unwrap();
        publish(&store, "videos/a", b"first").await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"first");
        // Replaced by rename elsewhere: the kept handle still serves the old file, whole.
        publish(&other_process, "videos/a", b"second file").await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"first");
        assert_eq!(
            served(&other_process, "videos/a").await.unwrap(),
            b"second file"
        );
        // Written in place: the same file, whose new size and bytes are seen at once.
        publish(&store, "videos/b", b"abc").await;
        assert_eq!(served(&store, "videos/b").await.unwrap(), b"abc");
        std::fs::write(dir.path().join("videos/b"), b"abcdef").unwrap();
        assert_eq!(served(&store, "videos/b").await.unwrap(), b"abcdef");
        // Deleted or replaced through the store itself: never served from a kept handle.
        assert!(store.delete("videos/b").await.unwrap());
        assert_eq!(served(&store, "videos/b").await, None);
        let file = dir.path().join("tmp/new");
        std::fs::write(&file, b"published").unwrap();
        store.publish_file(&file, "videos/a").await.unwrap();
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"published");
    }

    #[tokio::test]
    async fn kept_handles_go_stale_and_are_closed() {
        let dir = tempfile::tempdir().unwrap();
        let ttl = Duration::from_millis(50);
        let store = LocalStorage::new(dir.path()).unwrap().reuse_opened(ttl);
        let kept = store.opened.clone().unwrap();
        // Until the sweeper has closed every handle (no assertion here depends on how soon).
        let swept = || async {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !kept.lock().is_empty() {
                assert!(Instant::now() < deadline, "a stale handle was never closed");
                tokio::time::sleep(ttl / 5).await;
            }
            assert!(!kept.sweeping.load(Ordering::Acquire));
        };
        publish(&store, "videos/a", b"first").await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"first");
        republished_elsewhere(&store, "videos/a", b"second").await;
        swept().await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"second");
        assert_eq!(served(&store, "videos/missing").await, None);
        assert!(!kept.lock().contains_key("videos/missing"));
        // The first sweeper ended with nothing left; the new handle started another.
        swept().await;
    }

    #[tokio::test]
    async fn no_more_than_opened_max_handles_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path())
            .unwrap()
            .reuse_opened(Duration::from_secs(600));
        for i in 0..=OPENED_MAX {
            std::fs::write(dir.path().join(format!("videos/{i}")), b"x").unwrap();
            assert!(served(&store, &format!("videos/{i}")).await.is_some());
            let kept = store.opened.as_ref().unwrap().lock().len();
            assert!((1..=OPENED_MAX).contains(&kept), "{kept} handles kept");
        }
        // Full of fresh handles, the cache started over rather than grow.
        assert_eq!(store.opened.as_ref().unwrap().lock().len(), 1);
    }

    #[tokio::test]
    async fn without_reuse_every_open_sees_the_file_of_the_moment() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path())
            .unwrap()
            .reuse_opened(Duration::ZERO);
        assert!(store.opened.is_none());
        publish(&store, "videos/a", b"first").await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"first");
        republished_elsewhere(&store, "videos/a", b"second").await;
        assert_eq!(served(&store, "videos/a").await.unwrap(), b"second");
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_root_and_nested_directories_go_with_their_last_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path()).unwrap();
        assert!(store.path_of("../etc/passwd").is_err());
        assert!(store.path_of("videos/../x").is_err());
        assert!(store.path_of("/etc/passwd").is_err());
        assert!(store.path_of("videos//x").is_err());
        let mut staged = store.stage("hls/v/240p.mp4").await.unwrap();
        staged.write(b"x").await.unwrap();
        staged.publish().await.unwrap();
        assert!(dir.path().join("hls/v").is_dir());
        assert!(store.delete("hls/v/240p.mp4").await.unwrap());
        assert!(!dir.path().join("hls/v").exists());
        assert!(dir.path().join("hls").is_dir());
    }
}
