//! Test support: a database plus a storage directory, runners with their own pools (as separate
//! processes would have), typed rows and files to work on, fake ffmpeg tools and a hooked real
//! one ([`Hook`]), the streamserver in-process over the same database and storage
//! ([`Streamer`]), and a storage wrapper that counts deletions so tests can prove each job's
//! side effect happened exactly once.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::{FromRow, Queryable};
use scheduler::{Outcome, Runner, RunnerConfig};
use svc::jobs::JobKind;
use svc::storage::{
    AppendObject, LocalStorage, ObjectMeta, OpenObject, Page, StagedObject, Storage, Token,
    Unfinished,
};
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

    /// A runner on `storage` whose scratch directory is the storage's `tmp/` (the local
    /// backend's default layout).
    pub fn runner_on(&self, storage: Arc<dyn Storage>, config: RunnerConfig) -> Runner {
        let pool = svc::db::pool(&self.db.url, 8).unwrap();
        let config = RunnerConfig {
            scratch_dir: self.path("tmp"),
            ..config
        };
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

    /// A video whose upload of `file` (moved into storage) was just published, as the
    /// streamserver publishes one: `uploaded`, public, with its size, hash, type and name.
    pub async fn uploaded(&self, file: &Path, content_type: &str) -> VideoId {
        let storage = self.storage.clone();
        self.uploaded_to(&*storage, file, content_type).await
    }

    /// [`TestEnv::uploaded`] into `storage` (an S3 bucket).
    pub async fn uploaded_to(
        &self,
        storage: &dyn Storage,
        file: &Path,
        content_type: &str,
    ) -> VideoId {
        use sha2::Digest;
        let user = self.user().await;
        let vid = self.video(user, VideoState::Uploaded).await;
        let bytes = std::fs::read(file).unwrap();
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let name = file.file_name().unwrap().to_str().unwrap();
        let mut staged = storage
            .stage(&svc::storage::keys::video(&vid))
            .await
            .unwrap();
        staged.write(&bytes).await.unwrap();
        staged.publish().await.unwrap();
        self.conn()
            .await
            .exec_drop(
                "UPDATE video_info SET size = ?, sha256 = ?, content_type = ?, original_type = ?,
                   original_name = ?, uploaded_at = UTC_TIMESTAMP(6) WHERE id = ?",
                (
                    bytes.len(),
                    &sha,
                    content_type,
                    content_type,
                    name,
                    vid.as_str(),
                ),
            )
            .await
            .unwrap();
        vid
    }

    /// What processing wrote on the video's row.
    pub async fn processed(&self, video_id: &VideoId) -> Processed {
        let row: ProcessedColumns = self
            .conn()
            .await
            .exec_first(
                "SELECT CAST(state AS CHAR), failure_reason, width, height, video_codec,
                   audio_codec, content_type, size, sha256, has_original, has_storyboard,
                   processing_progress
                 FROM video_info WHERE id = ?",
                (video_id.as_str(),),
            )
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no video {video_id}"));
        let (
            state,
            failure_reason,
            width,
            height,
            video_codec,
            audio_codec,
            content_type,
            size,
            sha256,
            has_original,
            has_storyboard,
            progress,
        ) = row;
        Processed {
            state,
            failure_reason,
            size: (width, height),
            codecs: (video_codec, audio_codec),
            content_type,
            file: (size, sha256),
            has_original,
            has_storyboard,
            progress,
        }
    }

    /// The video's rows of `video_renditions`: (height, width, bandwidth, codecs, ready).
    pub async fn renditions(&self, video_id: &VideoId) -> Vec<(u16, u32, u32, String, bool)> {
        self.conn()
            .await
            .exec(
                "SELECT height, width, bandwidth, codecs, ready FROM video_renditions
                 WHERE video_id = ? ORDER BY height",
                (video_id.as_str(),),
            )
            .await
            .unwrap()
    }

    /// Files left in the scratch directory.
    pub fn scratch_files(&self) -> Vec<String> {
        std::fs::read_dir(self.path("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// `video_info` rows, comments, `uploads` rows and `delete_video` jobs of the video.
    pub async fn traces_of(&self, video_id: &VideoId) -> Traces {
        let sql = "SELECT (SELECT COUNT(*) FROM video_info WHERE id = ?),
                          (SELECT COUNT(*) FROM comments WHERE video_id = ?),
                          (SELECT COUNT(*) FROM uploads WHERE video_id = ?),
                          (SELECT COUNT(*) FROM jobs WHERE video_id = ? AND kind = ?),
                          (SELECT COUNT(*) FROM live_events
                            WHERE video_id = ? AND kind = 'video_gone'
                              AND payload = '{\"reason\":\"deleted\"}')";
        let id = video_id.as_str();
        let kind = JobKind::DeleteVideo.as_str();
        let (rows, comments, uploads, deletions, gone_events) = self
            .conn()
            .await
            .exec_first(sql, (id, id, id, id, kind, id))
            .await
            .unwrap()
            .unwrap();
        Traces {
            rows,
            comments,
            uploads,
            deletions,
            gone_events,
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

type ProcessedColumns = (
    String,
    Option<String>,
    Option<u32>,
    Option<u32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<String>,
    bool,
    bool,
    Option<u8>,
);

/// A video's row as processing leaves it (see [`TestEnv::processed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub state: String,
    pub failure_reason: Option<String>,
    /// Width and height.
    pub size: (Option<u32>, Option<u32>),
    /// Video and audio codec.
    pub codecs: (Option<String>, Option<String>),
    pub content_type: Option<String>,
    /// Size and SHA-256 of the progressive file.
    pub file: (Option<u64>, Option<String>),
    pub has_original: bool,
    pub has_storyboard: bool,
    pub progress: Option<u8>,
}

/// What the database holds about one video (see [`TestEnv::traces_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traces {
    pub rows: u64,
    pub comments: u64,
    pub uploads: u64,
    /// `delete_video` jobs.
    pub deletions: u64,
    /// `video_gone` events with reason `deleted` (what the api's live streams read).
    pub gone_events: u64,
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
    async fn stage(&self, key: &str) -> io::Result<Box<dyn StagedObject>> {
        self.inner.stage(key).await
    }
    async fn publish_file(&self, file: &Path, key: &str) -> io::Result<()> {
        self.inner.publish_file(file, key).await
    }
    async fn fetch_file(&self, key: &str, dest: &Path) -> io::Result<Option<u64>> {
        self.inner.fetch_file(key, dest).await
    }
    async fn delete(&self, key: &str) -> io::Result<bool> {
        self.count(key);
        self.inner.delete(key).await
    }
    async fn list_page(&self, prefix: &str, after: Option<&str>, limit: usize) -> io::Result<Page> {
        self.inner.list_page(prefix, after, limit).await
    }
    async fn check_writable(&self) -> io::Result<()> {
        self.inner.check_writable().await
    }
    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>> {
        self.inner.open(key).await
    }
    async fn presigned_url(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
    ) -> io::Result<Option<String>> {
        self.inner.presigned_url(key, ttl, content_type).await
    }
    async fn create_append(&self, key: &str) -> io::Result<Token> {
        self.inner.create_append(key).await
    }
    async fn open_append(
        &self,
        key: &str,
        token: Option<&str>,
    ) -> io::Result<Option<Box<dyn AppendObject>>> {
        self.inner.open_append(key, token).await
    }
    async fn finish_append(&self, key: &str, token: Option<&str>) -> io::Result<()> {
        self.inner.finish_append(key, token).await
    }
    async fn discard_append(&self, key: &str, token: Option<&str>) -> io::Result<()> {
        self.count(key);
        self.inner.discard_append(key, token).await
    }
    async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(from, to).await
    }
    async fn unfinished(&self, before: std::time::SystemTime) -> io::Result<Vec<Unfinished>> {
        self.inner.unfinished(before).await
    }
    async fn abort(&self, upload: &Unfinished) -> io::Result<()> {
        self.inner.abort(upload).await
    }
}

impl CountingStorage {
    /// Counts one removal of `key` (a delete, or the discard of an upload's bytes).
    fn count(&self, key: &str) {
        *self
            .deletes
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default() += 1;
    }
}

/// The streamserver, in-process on a free port, over a test's database and storage: what
/// viewers and ffprobe read renditions from.
pub struct Streamer {
    pub base: String,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Streamer {
    pub async fn start(env: &TestEnv) -> Self {
        let storage = env.root().to_str().unwrap();
        let config = streamserver::Config::from_env(&svc::Env::from_pairs(&[
            ("DATABASE_URL", env.db.url.as_str()),
            ("STORAGE_DIR", storage),
            ("STREAM_ADDR", "127.0.0.1:0"),
            ("DB_POOL_SIZE", "4"),
        ]))
        .unwrap();
        let app = streamserver::Application::build(config).await.unwrap();
        let base = format!("http://{}", app.local_addr());
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        Streamer { base, shutdown }
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// ffprobe's JSON of the media at `path` on this streamserver. (Run without blocking:
    /// the streamserver answering it runs on this test's runtime.)
    pub async fn probe(&self, path: &str, entries: &str) -> serde_json::Value {
        let out = tokio::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", entries, "-of", "json"])
            .arg(self.url(path))
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "ffprobe {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The body of `path`, which must answer 200.
    pub async fn get(&self, path: &str) -> bytes::Bytes {
        let resp = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.bytes().await.unwrap()
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The real ffmpeg behind a script that tests can hold and watch. It logs every call's
/// arguments (`calls`). A transcode (a call with `-progress`, which only transcodes use):
/// - with [`Hook::realtime`], becomes ffmpeg reading its input at its own speed (`-re`), its
///   pid in `started`;
/// - otherwise is logged as `start`/`end` lines in `events`; while [`Hook::hold`] is on (for
///   calls whose arguments contain the held pattern), it first reports `half_us` microseconds
///   of output on its progress pipe, writes its pid to `started`, and waits until [`Hook::go`];
///   with [`Hook::slow`] it sleeps a while first.
///
/// A call whose arguments contain the pattern of [`Hook::refuse`] fails as ffmpeg refuses PCM
/// in MP4.
pub struct Hook {
    pub dir: tempfile::TempDir,
    pub program: PathBuf,
}

impl Hook {
    /// `half_us`: the output time a held transcode reports, in microseconds.
    pub fn new(half_us: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let real = String::from_utf8(run_tool("sh", &["-c", "command -v ffmpeg"]))
            .unwrap()
            .trim()
            .to_string();
        let d = dir.path().display();
        let body = format!(
            r#"echo "$*" >> '{d}/calls'
matches() {{ [ -e "$1" ] && echo " $ARGS " | grep -q -- "$(cat "$1")"; }}
ARGS="$*"
if matches '{d}/refuse'; then
  echo "[mp4 @ 0x1] Could not find tag for codec pcm_s16le in stream #1, codec not currently supported in container" >&2
  echo "Error initializing output stream 0:1 --" >&2
  exit 1
fi
case " $* " in
*" -progress "*)
  if [ -e '{d}/realtime' ]; then
    echo $$ > '{d}/started.tmp' && mv '{d}/started.tmp' '{d}/started'
    exec '{real}' -re "$@"
  fi
  echo "start $$" >> '{d}/events'
  if matches '{d}/hold'; then
    echo "out_time_us={half_us}"
    echo "progress=continue"
    echo $$ > '{d}/started.tmp' && mv '{d}/started.tmp' '{d}/started'
    while [ ! -e '{d}/go' ]; do sleep 0.02; done
  fi
  if [ -e '{d}/slow' ]; then sleep "$(cat '{d}/slow')"; fi
  '{real}' "$@"
  rc=$?
  echo "end $$" >> '{d}/events'
  exit $rc;;
esac
exec '{real}' "$@"
"#
        );
        let program = fake_tool(dir.path(), "ffmpeg", &body);
        Hook { dir, program }
    }

    /// Transcodes whose arguments contain `pattern` (all: `""`) wait for [`Hook::go`] from
    /// now on.
    pub fn hold_matching(&self, pattern: &str) {
        let _ = std::fs::remove_file(self.file("go"));
        let _ = std::fs::remove_file(self.file("started"));
        std::fs::write(self.file("hold"), pattern).unwrap();
    }

    /// Every transcode waits for [`Hook::go`] from now on.
    pub fn hold(&self) {
        self.hold_matching("-progress");
    }

    /// Transcodes run at the speed of their input from now on.
    pub fn realtime(&self) {
        std::fs::write(self.file("realtime"), b"").unwrap();
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn go(&self) {
        std::fs::write(self.file("go"), b"").unwrap();
    }

    /// Each transcode sleeps `seconds` before it starts.
    pub fn slow(&self, seconds: &str) {
        std::fs::write(self.file("slow"), seconds).unwrap();
    }

    /// Calls whose arguments contain `pattern` fail as ffmpeg refusing a stream copy.
    pub fn refuse(&self, pattern: &str) {
        std::fs::write(self.file("refuse"), pattern).unwrap();
    }

    /// Waits until a held transcode has started; returns its pid.
    pub async fn started(&self) -> u32 {
        svc::testing::eventually(
            "a held transcode to start",
            Duration::from_secs(20),
            || async {
                std::fs::read_to_string(self.file("started"))
                    .ok()
                    .and_then(|pid| pid.trim().parse().ok())
            },
        )
        .await
    }

    /// Every ffmpeg call's arguments, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.file("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many transcodes started, and the most that ran at once.
    pub fn transcodes(&self) -> (usize, usize) {
        let events = std::fs::read_to_string(self.file("events")).unwrap_or_default();
        let (mut started, mut running, mut most) = (0, 0usize, 0);
        for line in events.lines() {
            if line.starts_with("start") {
                started += 1;
                running += 1;
                most = most.max(running);
            } else if line.starts_with("end") {
                running = running.saturating_sub(1);
            }
        }
        (started, most)
    }
}

/// Starts the real scheduler executable over `env` with `vars` besides its database and
/// storage, and waits until it is ready.
pub async fn start_binary(env: &TestEnv, vars: &[(&str, &str)]) -> tokio::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env("DATABASE_URL", &env.db.url)
        .env("SCHEDULER_ADDR", format!("127.0.0.1:{port}"))
        .env("STORAGE_DIR", env.root())
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    if let Err(why) = svc::testing::wait_ready(&mut child, &readyz).await {
        panic!("the scheduler {why}");
    }
    child
}

/// Sends `signal` (`-TERM`, `-KILL`) to the process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Waits until the process `pid` is gone (or a zombie about to be reaped).
pub async fn gone(pid: u32) {
    svc::testing::eventually(
        &format!("process {pid} to stop"),
        Duration::from_secs(10),
        || async {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => Some(()),
                Ok(stat) => stat.contains(") Z ").then_some(()),
            }
        },
    )
    .await
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
