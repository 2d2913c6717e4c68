//! Test support: a database plus a storage directory, runners with their own pools (as separate
//! processes would have), typed rows and files to work on, fake ffmpeg tools, and a storage
//! wrapper that counts deletions so tests can prove each job's side effect happened exactly once.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::{FromRow, Queryable};
use scheduler::{Outcome, Runner, RunnerConfig};
use svc::jobs::JobKind;
use svc::storage::{AppendObject, LocalStorage, ObjectMeta, OpenObject, StagedObject, Storage};
use svc::testing::TestDb;
use svc::{VideoId, VideoState};

pub struct TestEnv {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    pub storage: Arc<LocalStorage>,
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = TestDb::migrated().await;
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(LocalStorage::new(dir.path()).unwrap());
        TestEnv { db, dir, storage }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    /// A runner with its own pool of connections, as another process would have.
    pub fn runner(&self, config: RunnerConfig) -> Runner {
        self.runner_on(self.storage.clone(), config)
    }

    pub fn runner_on(&self, storage: Arc<dyn Storage>, config: RunnerConfig) -> Runner {
        let pool = svc::db::pool(&self.db.url, 8).unwrap();
        Runner::new(pool, storage, config)
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        self.db.pool.get_conn().await.unwrap()
    }

    pub async fn user(&self) -> u32 {
        let mut conn = self.conn().await;
        let name = uuid::Uuid::new_v4().simple().to_string();
        conn.exec_drop(
            "INSERT INTO users (login_name, pwd_hash) VALUES (?, 'x')",
            (&name,),
        )
        .await
        .unwrap();
        conn.last_insert_id().unwrap() as u32
    }

    /// A `video_info` row in `state`; returns its id.
    pub async fn video(&self, user: u32, state: VideoState) -> VideoId {
        let vid = VideoId::random();
        self.conn()
            .await
            .exec_drop(
                "INSERT INTO video_info (id, author_id, name, display_ctime, state)
                 VALUES (?, ?, 'a video', 'Nov 22 2026, 00:00:00', ?)",
                (vid.as_str(), user, state.as_str()),
            )
            .await
            .unwrap();
        vid
    }

    /// Moves the video's creation `age` into the past, as if it had been made that long ago.
    pub async fn age_video(&self, video_id: &VideoId, age: Duration) {
        self.conn()
            .await
            .exec_drop(
                "UPDATE video_info SET create_time = UTC_TIMESTAMP(6) - INTERVAL ? SECOND
                 WHERE id = ?",
                (age.as_secs(), video_id.as_str()),
            )
            .await
            .unwrap();
    }

    /// A comment by `user` on the video.
    pub async fn comment(&self, user: u32, video_id: &VideoId) {
        self.conn()
            .await
            .exec_drop(
                "INSERT INTO comments (id, video_id, author_id, content) VALUES (?, ?, ?, 'hi')",
                (uuid::Uuid::new_v4().to_string(), video_id.as_str(), user),
            )
            .await
            .unwrap();
    }

    /// `video_info` rows, comments, `uploads` rows and `delete_video` jobs of the video.
    pub async fn traces_of(&self, video_id: &VideoId) -> Traces {
        let sql = "SELECT (SELECT COUNT(*) FROM video_info WHERE id = ?),
                          (SELECT COUNT(*) FROM comments WHERE video_id = ?),
                          (SELECT COUNT(*) FROM uploads WHERE video_id = ?),
                          (SELECT COUNT(*) FROM jobs WHERE video_id = ? AND kind = ?)";
        let id = video_id.as_str();
        let kind = JobKind::DeleteVideo.as_str();
        let (rows, comments, uploads, deletions) = self
            .conn()
            .await
            .exec_first(sql, (id, id, id, id, kind))
            .await
            .unwrap()
            .unwrap();
        Traces {
            rows,
            comments,
            uploads,
            deletions,
        }
    }

    /// A `video_info` row in `state` (of a new user) whose stored file holds `bytes`.
    pub async fn stored_video(&self, state: VideoState, bytes: &[u8]) -> VideoId {
        let user = self.user().await;
        let vid = self.video(user, state).await;
        self.write(&svc::storage::keys::video(&vid), bytes);
        vid
    }

    /// An `uploads` row for `video_id`, expiring in `expires_in_secs` (negative: expired).
    pub async fn upload(
        &self,
        user: u32,
        video_id: &VideoId,
        expires_in_secs: i64,
        completed: bool,
    ) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.conn()
            .await
            .exec_drop(
                "INSERT INTO uploads (id, video_id, user_id, upload_length, expires_at, completed_at)
                 VALUES (?, ?, ?, 100, DATE_ADD(UTC_TIMESTAMP(6), INTERVAL ? SECOND),
                         IF(?, UTC_TIMESTAMP(6), NULL))",
                (&id, video_id.as_str(), user, expires_in_secs, completed),
            )
            .await
            .unwrap();
        id
    }

    pub fn write(&self, key: &str, bytes: &[u8]) {
        let path = self.path(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes `key` with a modification time `age` in the past.
    pub fn write_aged(&self, key: &str, bytes: &[u8], age: Duration) {
        self.write(key, bytes);
        let file = std::fs::File::options()
            .write(true)
            .open(self.path(key))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() - age)
            .unwrap();
    }

    /// Queues a job as the other processes do; returns its id.
    pub async fn enqueue(&self, kind: JobKind, video_id: &VideoId) -> u64 {
        let mut conn = self.conn().await;
        svc::jobs::enqueue(&mut conn, kind, video_id).await.unwrap();
        conn.exec_first(
            "SELECT id FROM jobs WHERE dedupe_key = CONCAT(?, ':', ?)",
            (kind.as_str(), video_id.as_str()),
        )
        .await
        .unwrap()
        .unwrap()
    }

    /// A queued job row written by hand, for kinds or ids no producer of this build writes.
    pub async fn insert_job(&self, kind: &str, video_id: Option<&str>) -> u64 {
        let mut conn = self.conn().await;
        conn.exec_drop(
            "INSERT INTO jobs (kind, video_id) VALUES (?, ?)",
            (kind, video_id),
        )
        .await
        .unwrap();
        conn.last_insert_id().unwrap()
    }

    /// `UPDATE jobs SET <set> WHERE id = <id>`: for moving a job in time or state by hand.
    pub async fn update_job(&self, id: u64, set: &str) {
        self.conn()
            .await
            .exec_drop(format!("UPDATE jobs SET {set} WHERE id = ?"), (id,))
            .await
            .unwrap();
    }

    pub async fn job(&self, id: u64) -> JobRow {
        let (kind, video_id, state, attempts, last_error, lease_owner, delay, finished): JobColumns =
            self.conn()
                .await
                .exec_first(
                    "SELECT kind, video_id, CAST(state AS CHAR), attempts, last_error, lease_owner,
                       TIMESTAMPDIFF(MICROSECOND, updated_at, run_after), finished_at IS NOT NULL
                     FROM jobs WHERE id = ?",
                    (id,),
                )
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("no job {id}"));
        JobRow {
            kind,
            video_id,
            state,
            attempts,
            last_error,
            lease_owner,
            retry_delay_us: delay.unwrap_or(0),
            finished,
        }
    }

    pub async fn count(&self, sql: &str) -> u64 {
        self.conn().await.query_first(sql).await.unwrap().unwrap()
    }

    /// Every row `sql` returns.
    pub async fn rows<T: FromRow + Send + 'static>(&self, sql: &str) -> Vec<T> {
        self.conn().await.query(sql).await.unwrap()
    }

    /// Waits until `sql` counts `n`, polling for at most `within`.
    pub async fn wait_for_count(&self, sql: &str, n: u64, within: Duration) {
        svc::testing::eventually(&format!("{sql} to count {n}"), within, || async {
            (self.count(sql).await == n).then_some(())
        })
        .await
    }
}

/// What the database holds about one video (see [`TestEnv::traces_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traces {
    pub rows: u64,
    pub comments: u64,
    pub uploads: u64,
    /// `delete_video` jobs.
    pub deletions: u64,
}

type JobColumns = (
    String,
    Option<String>,
    String,
    u32,
    Option<String>,
    Option<String>,
    Option<i64>,
    bool,
);

/// A `jobs` row as tests look at it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub kind: String,
    pub video_id: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    /// `run_after - updated_at`: the backoff chosen at the last failure.
    pub retry_delay_us: i64,
    pub finished: bool,
}

/// Settings for tests: a fast tick, small batches, a 1 s backoff base.
pub fn test_config() -> RunnerConfig {
    RunnerConfig {
        cron: "* * * * * *".to_string(),
        batch: 50,
        workers: 4,
        backoff: Duration::from_secs(1),
        backoff_max: Duration::from_secs(3600),
        drain_timeout: Duration::from_secs(10),
        ..RunnerConfig::default()
    }
}

/// Local storage that counts every `delete` call per key (whatever its result), shared
/// between runners: a key deleted by two jobs shows a count of 2.
pub struct CountingStorage {
    pub inner: Arc<LocalStorage>,
    pub deletes: Arc<Mutex<HashMap<String, usize>>>,
}

#[async_trait]
impl Storage for CountingStorage {
    async fn stat(&self, key: &str) -> io::Result<Option<ObjectMeta>> {
        self.inner.stat(key).await
    }
    async fn stage(&self) -> io::Result<Box<dyn StagedObject>> {
        self.inner.stage().await
    }
    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()> {
        self.inner.publish_file(file, key).await
    }
    async fn delete(&self, key: &str) -> io::Result<bool> {
        *self
            .deletes
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default() += 1;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.inner.local_path(key)
    }
    fn scratch_dir(&self) -> PathBuf {
        self.inner.scratch_dir()
    }
    async fn check_writable(&self) -> io::Result<()> {
        self.inner.check_writable().await
    }
    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>> {
        self.inner.open(key).await
    }
    async fn open_append(
        &self,
        key: &str,
        create: bool,
    ) -> io::Result<Option<Box<dyn AppendObject>>> {
        self.inner.open_append(key, create).await
    }
    async fn truncate(&self, key: &str, len: u64) -> io::Result<()> {
        self.inner.truncate(key, len).await
    }
    async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to).await
    }
}

/// Runs `program` with `args` and panics with its stderr if it fails.
pub fn run_tool(program: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Claims the one due job and runs it; panics unless exactly one was due.
pub async fn run_one(runner: &Runner) -> Outcome {
    let jobs = runner.dispatch_once().await.unwrap();
    assert_eq!(jobs.len(), 1, "due jobs: {jobs:?}");
    runner.execute_one(&jobs[0]).await
}

/// Makes media with ffmpeg: `args` (inputs and codecs) then the file `out`.
pub fn make_media(out: &Path, args: &[&str]) {
    let mut all = vec!["-v", "error", "-y"];
    all.extend_from_slice(args);
    all.push(out.to_str().unwrap());
    run_tool("ffmpeg", &all);
}

/// An executable shell script `dir/name` with `body` after the `#!/bin/sh` line: a stand-in
/// for ffmpeg or ffprobe.
pub fn fake_tool(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
