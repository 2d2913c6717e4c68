//! Test support: the streamserver started in-process exactly as `main` starts it, on a fresh
//! database and a temporary storage directory (or a bucket of a real S3-compatible server,
//! [`spawn_app_on`]), with users, sessions and videos inserted by SQL (the api that normally
//! creates them is another crate) and objects written through the same storage.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use streamserver::{Application, Config};
use svc::jobs::JobKind;
use svc::storage::{keys, Storage};
use svc::testing::{eventually, S3Server, TestDb};
use svc::{VideoId, VideoState, Visibility};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for the server to do something on its own schedule.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    /// The local storage root, or the scratch directory of an app on S3.
    pub storage: tempfile::TempDir,
    /// The app's storage, as the scheduler would open it.
    pub store: Arc<dyn Storage>,
    /// The S3 server and bucket of an app on S3.
    pub s3: Option<(S3Server, String)>,
    /// The environment the app was started with (for starting its binary the same way).
    pub env: Vec<(String, String)>,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

/// Where a test app keeps its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary directory.
    Local,
    /// A new bucket of an S3 server started for the test (moto), with 5 MiB parts.
    S3,
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
    spawn_app_on(Backend::Local, extra).await
}

/// Starts the app on `backend`, with extra environment variables.
pub async fn spawn_app_on(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::migrated().await;
    let storage = tempfile::tempdir().expect("temp storage dir");
    let dir = storage
        .path()
        .to_str()
        .expect("utf-8 temp path")
        .to_string();
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("DB_POOL_SIZE".into(), "8".into()),
    ];
    let s3 = match backend {
        Backend::Local => {
            env.push(("STORAGE_DIR".into(), dir));
            None
        }
        Backend::S3 => {
            let server = S3Server::start().await;
            let bucket = server.bucket().await;
            env.extend(
                server
                    .env(&bucket)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
            env.push(("SCRATCH_DIR".into(), dir));
            env.push(("S3_PART_SIZE".into(), "5MiB".into()));
            Some((server, bucket))
        }
    };
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(("STREAM_ADDR", "127.0.0.1:0"));
    let config = Config::from_env(&svc::Env::from_pairs(&pairs)).expect("test config");
    let store = svc::storage::connect(&config.storage, svc::storage::LocalReads::default())
        .expect("the test storage");
    let app = Application::build(config).await.expect("building the app");
    let addr = app.local_addr();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        addr,
        db,
        storage,
        store,
        s3,
        env,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client"),
        shutdown,
    }
}

impl TestApp {
    /// Starts the real streamserver binary on `port` with the app's environment (its database
    /// and storage), and waits until it is ready. It is killed when the handle is dropped.
    pub async fn start_binary(&self, port: u16) -> tokio::process::Child {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamserver"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("STREAM_ADDR", format!("127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the streamserver binary");
        let readyz = format!("http://127.0.0.1:{port}/readyz");
        if let Err(why) = svc::testing::wait_ready(&mut child, &readyz).await {
            panic!("the streamserver binary {why}");
        }
        child
    }

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
        let vid = VideoId::random().to_string();
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "INSERT INTO video_info (id, author_id, name, display_ctime) VALUES (?, ?, 'v', 'now')",
            (&vid, author),
        )
        .await
        .unwrap();
        vid
    }

    /// A user with a live session and a `pending` video of theirs: (user id, session id,
    /// video id).
    pub async fn user_with_video(&self) -> (u32, String, String) {
        let (user, sid) = self.user().await;
        let vid = self.pending_video(user).await;
        (user, sid, vid)
    }

    /// A playable video whose file holds `bytes`, put straight into storage and the database.
    pub async fn published_video(&self, bytes: &[u8], content_type: &str) -> String {
        let (_, _, vid) = self.user_with_video().await;
        self.publish(&vid, bytes, content_type).await;
        vid
    }

    /// A new user's playable MP4 video whose file holds `bytes`, with `visibility`.
    pub async fn owned_video(&self, bytes: &[u8], visibility: Visibility) -> OwnedVideo {
        let (_, sid, vid) = self.user_with_video().await;
        self.publish(&vid, bytes, "video/mp4").await;
        self.set_visibility(&vid, visibility).await;
        OwnedVideo { sid, vid }
    }

    /// Changes a video's visibility as the api's edit does: one UPDATE of the row.
    pub async fn set_visibility(&self, vid: &str, visibility: Visibility) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "UPDATE video_info SET visibility = ? WHERE id = ?",
            (visibility.as_str(), vid),
        )
        .await
        .unwrap();
    }

    /// Ends a session as signing out does.
    pub async fn revoke_session(&self, sid: &str) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop("DELETE FROM sessions WHERE session_id = ?", (sid,))
            .await
            .unwrap();
    }

    /// Puts `jpeg` where processing puts a video's thumbnail.
    pub async fn put_thumbnail(&self, vid: &str, jpeg: &[u8]) {
        self.put_object(&format!("thumbnails/{vid}.jpg"), jpeg)
            .await;
    }

    /// Writes `bytes` as the object `key` (an `svc::storage::keys` key) through the app's
    /// storage, as processing publishes its files.
    pub async fn put_object(&self, key: &str, bytes: &[u8]) {
        let mut staged = self.store.stage(key).await.unwrap();
        staged.write(bytes).await.unwrap();
        staged.publish().await.unwrap();
    }

    /// The bytes of the stored object `key`, `None` if there is none.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        use futures_util::TryStreamExt;
        let object = self.store.open(key).await.unwrap()?;
        let pieces: Vec<bytes::Bytes> = object
            .read_range(0..object.size(), 1 << 20)
            .try_collect()
            .await
            .unwrap();
        Some(pieces.concat())
    }

    /// Every stored key under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.store.list(prefix).await.unwrap();
        listed.into_iter().map(|o| o.key).collect()
    }

    /// Multipart uploads started and never completed nor aborted (S3).
    pub async fn unfinished(&self) -> usize {
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        self.store.unfinished(later).await.unwrap().len()
    }

    /// `Last-Modified` of the video's file as served: its row's `uploaded_at`.
    pub async fn uploaded_at(&self, vid: &str) -> std::time::SystemTime {
        let sql = "SELECT CAST(FLOOR(UNIX_TIMESTAMP(uploaded_at)) AS SIGNED) FROM video_info WHERE id = ?";
        let secs: i64 = self.query_one(sql, (vid,)).await.expect("uploaded_at");
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    /// Sets a video's state directly, as the scheduler does.
    pub async fn set_state(&self, vid: &str, state: VideoState) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "UPDATE video_info SET state = ? WHERE id = ?",
            (state.as_str(), vid),
        )
        .await
        .unwrap();
    }

    /// Records what the uploader's file was, as publishing does, and whether processing kept
    /// it apart (`originals/<vid>`) because the progressive file is a transcode.
    pub async fn set_original(
        &self,
        vid: &str,
        has_original: bool,
        name: Option<&str>,
        content_type: &str,
    ) {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "UPDATE video_info SET has_original = ?, original_name = ?, original_type = ?
             WHERE id = ?",
            (has_original, name, content_type, vid),
        )
        .await
        .unwrap();
    }

    /// (original_name, original_type) of a video.
    pub async fn original_of(&self, vid: &str) -> (Option<String>, Option<String>) {
        let sql = "SELECT original_name, original_type FROM video_info WHERE id = ?";
        self.query_one(sql, (vid,)).await.expect("video row")
    }

    /// (content_type, state) of a video.
    pub async fn type_and_state(&self, vid: &str) -> (Option<String>, String) {
        let sql = "SELECT content_type, state FROM video_info WHERE id = ?";
        self.query_one(sql, (vid,)).await.expect("video row")
    }

    /// Makes `vid` playable with `bytes` as its file, straight in storage and the database.
    /// The row's upload time is a quarter second after the file was written, as a real
    /// upload's is: on the local backend 2024-05-01 12:00:00.25 UTC (the file's time is set
    /// back), on S3 (whose objects keep the time they were written) just after the write.
    pub async fn publish(&self, vid: &str, bytes: &[u8], content_type: &str) {
        let key = keys::video(&svc::VideoId::parse(vid).unwrap());
        self.put_object(&key, bytes).await;
        let written = if self.s3.is_none() {
            let written = UNIX_EPOCH + Duration::from_secs(1_714_564_799);
            std::fs::File::options()
                .write(true)
                .open(self.path(&key))
                .unwrap()
                .set_modified(written)
                .unwrap();
            written + Duration::from_secs(1)
        } else {
            self.store.stat(&key).await.unwrap().unwrap().modified
        };
        let secs = written.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let sha = hex::encode(Sha256::digest(bytes));
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_drop(
            "UPDATE video_info SET state = ?, size = ?, content_type = ?, sha256 = ?,
                    uploaded_at = FROM_UNIXTIME(?) + INTERVAL 250000 MICROSECOND WHERE id = ?",
            (
                VideoState::Uploaded.as_str(),
                bytes.len() as u64,
                content_type,
                &sha,
                secs,
                vid,
            ),
        )
        .await
        .unwrap();
    }

    /// (state, size, sha256) of a video.
    pub async fn video_row(&self, vid: &str) -> (String, Option<u64>, Option<String>) {
        let sql = "SELECT state, size, sha256 FROM video_info WHERE id = ?";
        self.query_one(sql, (vid,)).await.expect("video row")
    }

    /// How many `uploads` rows (tus uploads, finished or not) the video has.
    pub async fn upload_rows(&self, vid: &str) -> u64 {
        let sql = "SELECT COUNT(*) FROM uploads WHERE video_id = ?";
        self.query_one(sql, (vid,)).await.unwrap_or(0)
    }

    /// How many `process_video` jobs the video has.
    pub async fn process_jobs(&self, vid: &str) -> u64 {
        let sql = "SELECT COUNT(*) FROM jobs WHERE kind = ? AND video_id = ?";
        let kind = JobKind::ProcessVideo.as_str();
        self.query_one(sql, (kind, vid)).await.unwrap_or(0)
    }

    async fn query_one<T, P>(&self, sql: &str, params: P) -> Option<T>
    where
        T: mysql_async::prelude::FromRow + Send + 'static,
        P: Into<mysql_async::Params> + Send,
    {
        let mut conn = self.db.pool.get_conn().await.unwrap();
        conn.exec_first(sql, params).await.unwrap()
    }

    /// `PUT /upload/{vid}` with `body`, with the session `sid` if given.
    pub async fn put(&self, vid: &str, sid: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut req = self.client.put(self.url(&format!("/upload/{vid}")));
        if let Some(sid) = sid {
            req = req.header("x-session-id", sid);
        }
        req.body(body).send().await.unwrap()
    }

    /// A new user's new video with `clip` uploaded by `PUT`; its id.
    pub async fn uploaded_video(&self, clip: &[u8]) -> String {
        let (_, sid, vid) = self.user_with_video().await;
        let resp = self.put(&vid, Some(&sid), clip.to_vec()).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        vid
    }

    /// A `PUT /upload/{vid}` of `file` holding back all but its first `sent` bytes, returned
    /// once those have reached storage (its staging file exists): the signal that the server
    /// holds the upload's slot and the video's lock. [`UploadUnderWay::finish`] sends the rest.
    pub async fn upload_under_way(
        &self,
        vid: &str,
        sid: &str,
        mut file: Vec<u8>,
        sent: usize,
    ) -> UploadUnderWay {
        let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let req = self
            .client
            .put(self.url(&format!("/upload/{vid}")))
            .header("x-session-id", sid)
            .body(reqwest::Body::wrap_stream(body));
        let response = tokio::spawn(req.send());
        let rest = file.split_off(sent);
        tx.send(Ok(file)).await.unwrap();
        eventually("the upload's staging file", PATIENCE, || async {
            (!self.files_in("tmp").is_empty()).then_some(())
        })
        .await;
        UploadUnderWay { tx, rest, response }
    }

    /// Sends `request` as raw HTTP/1.1 bytes, to control exactly what reaches the server, and
    /// returns the answer as text (the request should say `Connection: close`).
    pub async fn raw(&self, request: &str) -> String {
        let mut sock = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        sock.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(PATIENCE, sock.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Sends a request `head` and `body` (less than its `Content-Length` announces), then
    /// vanishes.
    pub async fn raw_abandoned(&self, head: &str, body: &[u8]) {
        let mut sock = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        sock.write_all(head.as_bytes()).await.unwrap();
        let _ = sock.write_all(body).await;
    }

    /// `method path` as `viewer`, with `headers`.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        viewer: Viewer<'_>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path));
        req = match viewer {
            Viewer::SignedOut => req,
            Viewer::Header(sid) => req.header("x-session-id", sid),
            Viewer::Cookie(sid) => req.header("cookie", format!("theme=dark; session={sid}")),
        };
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// `GET /videos/{vid}` with `headers`.
    pub async fn get_video(&self, vid: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.get(self.url(&format!("/videos/{vid}")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }
}

/// A playable video and its owner (see [`TestApp::owned_video`]).
pub struct OwnedVideo {
    /// The owner's live session.
    pub sid: String,
    pub vid: String,
}

/// Who sends a request, and how it carries its session.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    SignedOut,
    /// `X-Session-Id: <sid>`, as api clients send it.
    Header(&'a str),
    /// `Cookie: session=<sid>` among other cookies, as a browser sends it through web.
    Cookie(&'a str),
}

/// An upload whose body is partly sent (see [`TestApp::upload_under_way`]).
pub struct UploadUnderWay {
    tx: mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    rest: Vec<u8>,
    response: JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl UploadUnderWay {
    /// Sends the rest of the file and ends the body; the server's answer.
    pub async fn finish(self) -> reqwest::Response {
        self.tx.send(Ok(self.rest)).await.unwrap();
        drop(self.tx);
        self.response.await.unwrap().unwrap()
    }
}

/// The `error_code` of a JSON error body (SPEC section 3), checking it also has a message.
pub async fn error_code(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    body["error_code"].as_str().unwrap().to_string()
}

/// What a person is told when the file they chose is not a video (415).
pub const NOT_A_VIDEO: &str = "This file is not a video this site accepts (MP4, MOV, WebM, \
                               Matroska, AVI, MPEG-TS, M2TS, FLV, 3GP, 3G2, Ogg, WMV or \
                               MPEG-PS). Choose a video file and try again.";

/// How many first bytes of a file the server judges its type by (`ingest::SNIFF_LEN`).
pub const SNIFF_LEN: usize = 1024;

/// Asserts that `resp` refuses a file for not being a video: 415, code `415`, [`NOT_A_VIDEO`].
pub async fn assert_not_a_video(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "415", "{body}");
    assert_eq!(body["error"], NOT_A_VIDEO, "{body}");
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

/// Runs ffmpeg with `args` (inputs, codecs, output), failing the test with its words if it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("running ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A second of test pattern (160x120, 10 fps) with a tone, as `name` in `dir`, encoded with
/// `codecs` (ffmpeg output options, the container included where the name does not say it).
pub fn make_clip(dir: &Path, name: &str, codecs: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1:sample_rate=44100",
        "-shortest",
    ];
    args.extend_from_slice(codecs);
    args.push(out.to_str().expect("utf-8 temp path"));
    ffmpeg(&args);
    out
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port()
}

/// The test tools directory (python venv with tuspy).
pub fn test_tools() -> PathBuf {
    std::env::var_os("TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/test-tools"))
}
