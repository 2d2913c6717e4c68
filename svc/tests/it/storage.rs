//! The `Storage` contract: one suite, run against both backends (a local directory, and a real
//! S3-compatible server, moto, started by the test). Each case is an async fn taking a
//! [`Backend`]; the `contract!` macro instantiates it once per backend, as
//! `storage::local::<case>` and `storage::s3::<case>`.
//!
//! Where the backends may differ the contract says what both promise (an open handle never
//! mixes two objects: it reads the old bytes, or fails) and the case checks that.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use svc::config::StorageConfig;
use svc::storage::{self, keys, Storage};
use svc::testing::S3Server;

/// A storage backend under test, with what keeps it alive.
pub struct Backend {
    pub storage: Arc<dyn Storage>,
    pub kind: Kind,
    /// The scratch directory (and, for the local backend, the storage root's parent).
    pub dir: tempfile::TempDir,
    pub _s3: Option<(S3Server, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Local,
    S3,
}

pub async fn local() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig::local(dir.path().join("storage"));
    Backend {
        storage: storage::connect(&config, svc::storage::LocalReads::default()).unwrap(),
        kind: Kind::Local,
        dir,
        _s3: None,
    }
}

pub async fn s3() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start().await;
    let bucket = server.bucket().await;
    let config = server.config(&bucket, dir.path());
    Backend {
        storage: storage::connect(&config, svc::storage::LocalReads::default()).unwrap(),
        kind: Kind::S3,
        dir,
        _s3: Some((server, bucket)),
    }
}

/// The part size the S3 test configuration uses (`S3Server::config`): the S3 minimum.
const PART: usize = 5 << 20;

/// Deterministic bytes that depend only on their position, so any range can be checked
/// without keeping the whole.
fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (offset..offset + len as u64)
        .map(|pos| {
            let mut x = (pos / 8).wrapping_add(0x9E37_79B9_7F4A_7C15);
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (x ^ (x >> 31)).to_le_bytes()[(pos % 8) as usize]
        })
        .collect()
}

async fn put(storage: &dyn Storage, key: &str, bytes: &[u8]) {
    let mut staged = storage.stage(key).await.unwrap();
    for piece in bytes.chunks(64 << 10) {
        staged.write(piece).await.unwrap();
    }
    assert_eq!(staged.len(), bytes.len() as u64);
    staged.publish().await.unwrap();
}

async fn read(storage: &dyn Storage, key: &str) -> Vec<u8> {
    let object = storage.open(key).await.unwrap().expect("object exists");
    read_range(&*object, 0..object.size(), 64 << 10)
        .await
        .unwrap()
}

async fn read_range(
    object: &dyn storage::OpenObject,
    range: std::ops::Range<u64>,
    chunk: usize,
) -> io::Result<Vec<u8>> {
    let pieces: Vec<Bytes> = object.read_range(range, chunk).try_collect().await?;
    assert!(
        pieces.iter().all(|p| p.len() <= chunk),
        "chunks over {chunk}"
    );
    Ok(pieces.concat())
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::local().await).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::s3().await).await
                }
            )*
        }
    };
}

contract!(
    objects_are_put_and_read_back_by_range,
    missing_objects_are_none_and_bad_keys_errors,
    staged_bytes_appear_only_when_published,
    an_open_handle_never_mixes_two_objects,
    listing_is_paged_in_key_order_at_any_depth,
    append_objects_grow_as_tus_uses_them,
    discarded_appends_leave_nothing_behind,
    files_go_in_and_out_for_ffmpeg,
    renames_move_the_bytes,
    presigned_urls_exist_where_the_backend_serves_bytes_itself,
    unfinished_uploads_are_found_and_aborted,
    a_1_gib_write_keeps_memory_flat,
);

async fn objects_are_put_and_read_back_by_range(b: Backend) {
    let s = &*b.storage;
    let bytes = pattern(0, 3 * PART / 2 + 17);
    put(s, "videos/v1", &bytes).await;
    let meta = s.stat("videos/v1").await.unwrap().unwrap();
    assert_eq!(
        (meta.key.as_str(), meta.size),
        ("videos/v1", bytes.len() as u64)
    );
    assert!(meta.modified <= SystemTime::now() + Duration::from_secs(5));
    let object = s.open("videos/v1").await.unwrap().unwrap();
    assert_eq!(object.size(), bytes.len() as u64);
    for (range, chunk) in [
        (0..1, 1),
        (5..70_000, 4096),
        (PART as u64 - 3..PART as u64 + 3, 2),
        (0..bytes.len() as u64, 1 << 20),
        (bytes.len() as u64 - 1..bytes.len() as u64, 7),
    ] {
        let got = read_range(&*object, range.clone(), chunk).await.unwrap();
        assert_eq!(
            got,
            &bytes[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
    // A small object is one request on S3, a large one a multipart upload: both read back.
    put(s, "thumbnails/v1.jpg", b"jpeg").await;
    assert_eq!(read(s, "thumbnails/v1.jpg").await, b"jpeg");
    assert!(s.delete("videos/v1").await.unwrap());
    assert!(!s.delete("videos/v1").await.unwrap());
    assert_eq!(s.stat("videos/v1").await.unwrap(), None);
    s.check_writable().await.unwrap();
}

async fn missing_objects_are_none_and_bad_keys_errors(b: Backend) {
    let s = &*b.storage;
    assert_eq!(s.stat("videos/nothing").await.unwrap(), None);
    assert!(s.open("videos/nothing").await.unwrap().is_none());
    let dest = b.dir.path().join("fetched");
    assert_eq!(s.fetch_file("videos/nothing", &dest).await.unwrap(), None);
    assert!(!dest.exists());
    assert!(!s.delete("videos/nothing").await.unwrap());
    s.discard_append("uploads/nothing", None).await.unwrap();
    assert!(s.list("videos/").await.unwrap().is_empty());
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "videos/../x",
        "videos//x",
        "videos/.",
    ] {
        let e = s.stat(bad).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        assert!(s.stage(bad).await.is_err(), "{bad:?}");
    }
}

async fn staged_bytes_appear_only_when_published(b: Backend) {
    let s = &*b.storage;
    put(s, "videos/v", b"old").await;
    let bytes = pattern(7, PART + 1000);
    let mut staged = s.stage("videos/v").await.unwrap();
    staged.write(&bytes).await.unwrap();
    // Past one part on S3 (a multipart upload in progress), still the old object.
    assert_eq!(read(s, "videos/v").await, b"old");
    staged.publish().await.unwrap();
    assert_eq!(read(s, "videos/v").await, bytes);
    // Dropped unpublished: nothing appears, nothing lingers.
    let mut dropped = s.stage("videos/w").await.unwrap();
    dropped.write(&bytes).await.unwrap();
    drop(dropped);
    assert_eq!(s.stat("videos/w").await.unwrap(), None);
    let far_future = SystemTime::now() + Duration::from_secs(3600);
    svc::testing::eventually(
        "the dropped upload's abort",
        Duration::from_secs(10),
        || async {
            s.unfinished(far_future)
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        },
    )
    .await;
    let keys: Vec<String> = s
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, vec!["videos/v".to_string()]);
}

async fn an_open_handle_never_mixes_two_objects(b: Backend) {
    let s = &*b.storage;
    let old = pattern(0, 100_000);
    put(s, "videos/v", &old).await;
    let opened = s.open("videos/v").await.unwrap().unwrap();
    let first = read_range(&*opened, 0..10, 10).await.unwrap();
    assert_eq!(first, &old[..10]);
    put(s, "videos/v", &pattern(1, 120_000)).await;
    // The handle reads the object it opened (a file handle) or fails (S3's If-Match): never
    // the replacement's bytes.
    match read_range(&*opened, 10..100_000, 4096).await {
        Ok(rest) => {
            assert_eq!(b.kind, Kind::Local);
            assert_eq!(rest, &old[10..]);
        }
        Err(e) => {
            assert_eq!(b.kind, Kind::S3, "{e}");
            assert!(e.to_string().contains("changed"), "{e}");
        }
    }
    let reopened = s.open("videos/v").await.unwrap().unwrap();
    assert_eq!(reopened.size(), 120_000);
    if let (Some(a), Some(b)) = (opened.version(), reopened.version()) {
        assert_ne!(a, b, "a new object has a new version");
    }
}

async fn listing_is_paged_in_key_order_at_any_depth(b: Backend) {
    let s = &*b.storage;
    let mut expected: Vec<String> = (0..23).map(|i| format!("videos/v{i:03}")).collect();
    expected.extend(["hls/a/240p.mp4", "hls/a/master.m3u8", "hls/b/360p.m3u8"].map(String::from));
    for key in &expected {
        put(s, key, key.as_bytes()).await;
    }
    put(s, "thumbnails/other.jpg", b"x").await;
    for prefix in ["videos/", "hls/", "hls/a/"] {
        let want: Vec<&String> = {
            let mut want: Vec<&String> =
                expected.iter().filter(|k| k.starts_with(prefix)).collect();
            want.sort();
            want
        };
        // Pages of 5: several pages, the last one short, then the end.
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = s.list_page(prefix, after.as_deref(), 5).await.unwrap();
            assert!(page.objects.len() <= 5);
            pages += 1;
            got.extend(page.objects.iter().map(|o| o.key.clone()));
            match page.next {
                Some(next) => {
                    assert_eq!(Some(&next), got.last(), "a page ends where the next starts");
                    after = Some(next);
                }
                None => break,
            }
            assert!(pages < 20, "paging does not end");
        }
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{prefix}");
        assert_eq!(pages, want.len().div_ceil(5).max(1), "{prefix}");
        let all = s.list(prefix).await.unwrap();
        assert_eq!(all.len(), want.len());
        let sizes: Vec<u64> = all.iter().map(|o| o.size).collect();
        assert_eq!(
            sizes,
            want.iter().map(|k| k.len() as u64).collect::<Vec<_>>()
        );
    }
    let after_last = s
        .list_page("videos/", Some("videos/v022"), 5)
        .await
        .unwrap();
    assert_eq!(after_last, storage::Page::default());
    assert!(s.list("originals/").await.unwrap().is_empty());
}

async fn append_objects_grow_as_tus_uses_them(b: Backend) {
    let s = &*b.storage;
    let key = keys::upload("u1");
    let mut token = s.create_append(&key).await.unwrap();
    assert_eq!(token.is_some(), b.kind == Kind::S3);
    let file = pattern(0, 1 + (PART - 1) + (7 << 20));
    let mut written = 0usize;
    // The PATCH sizes of the tus test: 1 byte, 5 MiB - 1, 7 MiB; each request opens the
    // object from the last recorded token, appends, syncs and records.
    for size in [1, PART - 1, 7 << 20] {
        let mut object = s
            .open_append(&key, token.as_deref())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(object.len(), written as u64);
        if written < 1024 {
            assert_eq!(object.head(1024).await.unwrap(), &file[..written]);
        }
        for piece in file[written..written + size].chunks(1 << 20) {
            object.write(piece).await.unwrap();
        }
        written += size;
        assert_eq!(object.len(), written as u64);
        token = object.sync().await.unwrap();
        object.committed().await.unwrap();
    }
    // A chunk whose checksum fails is rolled back: the object is as its token says.
    let mut object = s
        .open_append(&key, token.as_deref())
        .await
        .unwrap()
        .unwrap();
    object.write(&pattern(99, PART + 10)).await.unwrap();
    object.rollback().await.unwrap();
    let object = s
        .open_append(&key, token.as_deref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(object.len(), written as u64);
    drop(object);
    // An empty append changes nothing.
    let mut object = s
        .open_append(&key, token.as_deref())
        .await
        .unwrap()
        .unwrap();
    let same = object.sync().await.unwrap();
    object.committed().await.unwrap();
    assert_eq!(same, token);
    drop(object);
    // Not readable as an object before it is finished on S3; an ordinary object after.
    s.finish_append(&key, token.as_deref()).await.unwrap();
    s.finish_append(&key, token.as_deref()).await.unwrap();
    let got = read(s, &key).await;
    assert_eq!(got.len(), file.len());
    assert_eq!(Sha256::digest(&got), Sha256::digest(&file));
    // Only the finished object is left: no tail, no unfinished upload.
    let left: Vec<String> = s
        .list("uploads/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, vec![key.clone()]);
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert!(s.unfinished(later).await.unwrap().is_empty());
    s.rename(&key, "videos/v").await.unwrap();
    assert_eq!(s.stat(&key).await.unwrap(), None);
    assert_eq!(
        s.stat("videos/v").await.unwrap().unwrap().size,
        file.len() as u64
    );
}

async fn discarded_appends_leave_nothing_behind(b: Backend) {
    let s = &*b.storage;
    let key = keys::upload("u2");
    let token = s.create_append(&key).await.unwrap();
    let mut object = s
        .open_append(&key, token.as_deref())
        .await
        .unwrap()
        .unwrap();
    object.write(&pattern(0, PART + 3)).await.unwrap();
    let token = object.sync().await.unwrap();
    object.committed().await.unwrap();
    drop(object);
    s.discard_append(&key, token.as_deref()).await.unwrap();
    s.discard_append(&key, token.as_deref()).await.unwrap();
    assert!(s.list("uploads/").await.unwrap().is_empty());
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert!(s.unfinished(later).await.unwrap().is_empty());
    assert!(s
        .open_append(&keys::upload("never"), None)
        .await
        .map(|o| o.is_none())
        .unwrap_or(true));
}

async fn files_go_in_and_out_for_ffmpeg(b: Backend) {
    let s = &*b.storage;
    let bytes = pattern(3, PART + 5);
    let made = b.dir.path().join("made.mp4");
    std::fs::write(&made, &bytes).unwrap();
    s.publish_file(&made, "videos/v").await.unwrap();
    assert!(!made.exists(), "the published file is consumed");
    let copy = b.dir.path().join("copy.mp4");
    assert_eq!(
        s.fetch_file("videos/v", &copy).await.unwrap(),
        Some(bytes.len() as u64)
    );
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    // The copy is a snapshot: replacing the object leaves it as it was.
    put(s, "videos/v", b"new").await;
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);
    assert_eq!(s.fetch_file("videos/v", &copy).await.unwrap(), Some(3));
    assert_eq!(std::fs::read(&copy).unwrap(), b"new");
}

async fn renames_move_the_bytes(b: Backend) {
    let s = &*b.storage;
    put(s, "videos/v", b"original bytes").await;
    put(s, "originals/v", b"replaced").await;
    s.rename("videos/v", "originals/v").await.unwrap();
    assert_eq!(s.stat("videos/v").await.unwrap(), None);
    assert_eq!(read(s, "originals/v").await, b"original bytes");
    let e = s.rename("videos/nothing", "videos/x").await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}

async fn presigned_urls_exist_where_the_backend_serves_bytes_itself(b: Backend) {
    let s = &*b.storage;
    put(s, "hls/v/master.m3u8", b"#EXTM3U\n").await;
    let ttl = Duration::from_secs(60);
    let url = s
        .presigned_url("hls/v/master.m3u8", ttl, "application/vnd.apple.mpegurl")
        .await
        .unwrap();
    let Some(url) = url else {
        assert_eq!(b.kind, Kind::Local);
        return;
    };
    assert_eq!(b.kind, Kind::S3);
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"#EXTM3U\n");
    // The signature covers the URL: changing it is refused.
    let tampered = url.replace("master.m3u8", "other.m3u8");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
}

async fn unfinished_uploads_are_found_and_aborted(b: Backend) {
    let s = &*b.storage;
    let mut staged = s.stage("videos/killed").await.unwrap();
    staged.write(&pattern(0, PART + 1)).await.unwrap();
    // A process killed mid-upload never drops its staged object.
    std::mem::forget(staged);
    let later = SystemTime::now() + Duration::from_secs(3600);
    let found = s.unfinished(later).await.unwrap();
    if b.kind == Kind::Local {
        assert!(found.is_empty());
        return;
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "videos/killed");
    // Only the time the store reports: moto reports a fixed date in 2010 for every upload,
    // which is why the scheduler's sweep also counts from when it first saw one.
    assert!(found[0].started <= SystemTime::now());
    s.abort(&found[0]).await.unwrap();
    s.abort(&found[0]).await.unwrap();
    assert!(s.unfinished(later).await.unwrap().is_empty());
    assert_eq!(s.stat("videos/killed").await.unwrap(), None);
}

/// The environment variable that makes [`a_1_gib_write_keeps_memory_flat`] do the write itself
/// (in a child process running only that test), rather than start that child.
const MEMORY_PROBE: &str = "SVC_STORAGE_MEMORY_PROBE";

/// A 1 GiB object written through `stage` raises the process's peak RSS by less than 64 MiB.
/// The bytes are generated on the way, never held. The write runs in a child process (this
/// test binary, running only this test) so that no other test's memory is counted.
async fn a_1_gib_write_keeps_memory_flat(b: Backend) {
    const SIZE: u64 = 1 << 30;
    if std::env::var_os(MEMORY_PROBE).is_some() {
        return write_1_gib(&*b.storage, SIZE).await;
    }
    let name = match b.kind {
        Kind::Local => "storage::local::a_1_gib_write_keeps_memory_flat",
        Kind::S3 => "storage::s3::a_1_gib_write_keeps_memory_flat",
    };
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MEMORY_PROBE, "1");
    let out = child.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the 1 GiB write failed: {text}");
    let rise: u64 = text
        .lines()
        .find_map(|l| l.split_once("peak rss rise kib: ").map(|(_, n)| n))
        .unwrap_or_else(|| panic!("no measurement in: {text}"))
        .trim()
        .parse()
        .unwrap();
    eprintln!("{name}: peak RSS rose by {rise} KiB writing 1 GiB");
    assert!(
        rise < 64 << 10,
        "peak RSS rose by {rise} KiB writing 1 GiB: {text}"
    );
}

async fn write_1_gib(s: &dyn Storage, size: u64) {
    const PIECE: usize = 256 << 10;
    // Warm up (connections, buffers of the runtime), then measure from here.
    put(s, "tmp/warm-up", &pattern(0, PART + 1)).await;
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS");
    let mut staged = s.stage("videos/big").await.unwrap();
    let mut buf = vec![0u8; PIECE];
    let mut offset = 0u64;
    while offset < size {
        let piece = pattern_into(offset, &mut buf);
        staged.write(piece).await.unwrap();
        offset += piece.len() as u64;
    }
    staged.publish().await.unwrap();
    let peak = status_kib("VmHWM");
    println!("peak rss rise kib: {}", peak.saturating_sub(before));
    let meta = s.stat("videos/big").await.unwrap().unwrap();
    assert_eq!(meta.size, size);
    // Spot checks: the bytes are the generated ones at both ends and across a part boundary.
    let object = s.open("videos/big").await.unwrap().unwrap();
    for start in [0, PART as u64 - 100, size - 1000] {
        let got = read_range(&*object, start..start + 1000, 4096)
            .await
            .unwrap();
        assert_eq!(got, pattern(start, 1000), "at {start}");
    }
}

/// Fills `buf` with [`pattern`] from `offset` (quickly: one 8-byte word at a time) and returns
/// it.
fn pattern_into(offset: u64, buf: &mut [u8]) -> &[u8] {
    assert_eq!((offset % 8, buf.len() % 8), (0, 0), "whole words only");
    for (i, word) in buf.chunks_exact_mut(8).enumerate() {
        let pos = offset + 8 * i as u64;
        let mut x = (pos / 8).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        word.copy_from_slice(&(x ^ (x >> 31)).to_le_bytes());
    }
    buf
}

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}
