//! Test support: the streamserver started in-process exactly as `main` starts it, on a fresh
//! database and a temporary storage directory, with users, sessions and videos inserted by SQL
//! (the api that normally creates them is another crate).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};
use streamserver::{Application, Config};
use svc::testing::TestDb;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub storage: tempfile::TempDir,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra environment variables (limits, sizes).
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::migrated().await;
    let storage = tempfile::tempdir().expect("temp storage dir");
    let dir = storage
        .path()
        .to_str()
        .expect("utf-8 temp path")
        .to_string();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", &db.url),
        ("STREAM_ADDR", "127.0.0.1:0"),
        ("STORAGE_DIR", &dir),
        ("DB_POOL_SIZE", "8"),
    ];
    pairs.extend_from_slice(extra);
    let config = Config::from_env(&svc::Env::from_pairs(&pairs)).expect("test config");
    let app = Application::build(config).await.expect("building the app");
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        addr,
        db,
        storage,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client"),
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.storage.path().join(key)
    }

    /// Names of the files under a storage directory (`videos`, `tmp`, `uploads`).
    pub fn files_in(&self, dir: &str) -> Vec<String> {
        std::fs::read_dir(self.storage.path().join(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A user with a live session: (user id, session id).
    pub async fn user(&self) -> (u32, String) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        let name = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        conn.exec_drop(
            "INSERT INTO users (login_name, pwd_hash) VALUES (?, 'x')",
            (&name,),
        )
        .await
        .unwrap();
        let id = conn.last_insert_id().unwrap() as u32;
        let sid = uuid::Uuid::new_v4().to_string();
        conn.exec_drop(
            "INSERT INTO sessions (session_id, user_id, expires_at)
             VALUES (?, ?, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)",
            (&sid, id),
        )
        .await
        .unwrap();
        (id, sid)
    }

    /// A `pending` video of `author`.
    pub async fn pending_video(&self, author: u32) -> String {
        let vid = uuid::Uuid::new_v4().to_string();
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "INSERT INTO video_info (id, author_id, name, display_ctime) VALUES (?, ?, 'v', 'now')",
            (&vid, author),
        )
        .await
        .unwrap();
        vid
    }

    /// A playable video whose file holds `bytes`, put straight into storage and the database.
    pub async fn published_video(&self, bytes: &[u8], content_type: &str) -> String {
        let (user, _) = self.user().await;
        let vid = self.pending_video(user).await;
        let path = self.path(&format!("videos/{vid}"));
        std::fs::write(&path, bytes).unwrap();
        // Written before the row's upload time, as a real upload is.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_secs(1_714_564_799))
            .unwrap();
        let sha = hex::encode(Sha256::digest(bytes));
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "UPDATE video_info SET state = 'uploaded', size = ?, content_type = ?, sha256 = ?,
                    uploaded_at = '2024-05-01 12:00:00.250000' WHERE id = ?",
            (bytes.len() as u64, content_type, &sha, &vid),
        )
        .await
        .unwrap();
        vid
    }

    /// (state, size, sha256) of a video.
    pub async fn video_row(&self, vid: &str) -> (String, Option<u64>, Option<String>) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_first(
            "SELECT state, size, sha256 FROM video_info WHERE id = ?",
            (vid,),
        )
        .await
        .unwrap()
        .expect("video row")
    }

    pub async fn process_jobs(&self, vid: &str) -> u64 {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_first(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'process_video' AND video_id = ?",
            (vid,),
        )
        .await
        .unwrap()
        .unwrap_or(0)
    }
}

/// Deterministic pseudo-random bytes (so ranges are distinguishable).
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A file that passes the MP4 magic check: an `ftyp` box, then `len` bytes in all.
pub fn fake_mp4(len: usize) -> Vec<u8> {
    let mut bytes = noise(len.max(32));
    bytes[..16].copy_from_slice(b"\0\0\0\x10ftypisom\0\0\x02\0");
    bytes.truncate(len.max(32));
    bytes
}

/// A real MP4 made by ffmpeg: `seconds` of test pattern, with the moov box at the end unless
/// `faststart`.
pub fn make_mp4(dir: &Path, seconds: u32, faststart: bool) -> PathBuf {
    let out = dir.join(format!("clip-{seconds}-{faststart}.mp4"));
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!("testsrc=size=160x120:rate=10:duration={seconds}"))
    .args(["-c:v", "mpeg4", "-q:v", "5"]);
    if faststart {
        cmd.args(["-movflags", "+faststart"]);
    }
    let status = cmd.arg(&out).status().expect("running ffmpeg");
    assert!(status.success(), "ffmpeg failed");
    out
}

/// The test tools directory (python venv with tuspy).
pub fn test_tools() -> PathBuf {
    std::env::var_os("TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/test-tools"))
}
