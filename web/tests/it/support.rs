//! Test support: the real api, streamserver, scheduler and web binaries started as processes on
//! free loopback ports against a fresh `TestDb`, with their output kept in a log file per process.
//!
//! The sibling binaries are found next to this test executable (target/debug/<name>); build them
//! first with `cargo build -p api -p streamserver -p scheduler`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use svc::testing::TestDb;
use tokio::process::{Child, Command};

/// A sibling binary of the workspace, or a panic saying how to build it.
pub fn binary(name: &str) -> PathBuf {
    if name == "web" {
        return PathBuf::from(env!("CARGO_BIN_EXE_web"));
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/debug/deps/it-xxxx -> target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build -p api -p streamserver -p scheduler` \
         (same CARGO_TARGET_DIR as the tests)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running service process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory in KiB, from /proc/<pid>/status.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }
}

/// Starts `name` with `env` plus `<addr_var>=127.0.0.1:<port>` and waits for its `/readyz`.
pub async fn start(
    name: &'static str,
    addr_var: &str,
    port: u16,
    env: &[(&str, String)],
    log_dir: &Path,
) -> Proc {
    let exe = binary(name);
    let log = log_dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("creating the log file");
    let err = out.try_clone().expect("cloning the log file");
    let mut cmd = Command::new(&exe);
    cmd.env(addr_var, format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env("DRAIN_TIMEOUT", "2s")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
    let proc_url = format!("http://127.0.0.1:{port}/readyz");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(resp) = client.get(&proc_url).send().await {
            if resp.status() == 200 {
                return Proc { child, port, log };
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited early with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{name} never became ready: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// The whole platform: a fresh database, a temporary storage directory and the real binaries.
pub struct Platform {
    /// Kept alive (dropping it drops the database) while the processes use it.
    pub _db: TestDb,
    pub dir: tempfile::TempDir,
    /// Kept alive (dropping it kills the process).
    pub _api: Proc,
    pub stream: Option<Proc>,
    pub scheduler: Option<Proc>,
    pub web: Proc,
}

pub struct Options {
    pub stream: bool,
    pub scheduler: bool,
    /// Point web's STREAM_URL / API_URL at a port nothing listens on.
    pub dead_upstreams: bool,
}

impl Platform {
    pub async fn start(opts: Options) -> Platform {
        let db = TestDb::migrated().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("creating the storage directory");
        let logs = dir.path();
        let common = vec![
            ("DATABASE_URL", db.url.clone()),
            ("STORAGE_DIR", storage.display().to_string()),
            ("DB_POOL_SIZE", "4".to_string()),
        ];
        let api_port = free_port();
        let api = start("api", "API_ADDR", api_port, &common, logs).await;
        let stream = if opts.stream {
            let port = free_port();
            Some(start("streamserver", "STREAM_ADDR", port, &common, logs).await)
        } else {
            None
        };
        let scheduler = if opts.scheduler {
            let mut env = common.clone();
            env.push(("SCHEDULER_CRON", "*/1 * * * * *".to_string()));
            let port = free_port();
            Some(start("scheduler", "SCHEDULER_ADDR", port, &env, logs).await)
        } else {
            None
        };
        let dead = free_port();
        let api_url = if opts.dead_upstreams {
            format!("http://127.0.0.1:{dead}")
        } else {
            api.url("")
        };
        let stream_url = match &stream {
            Some(s) if !opts.dead_upstreams => s.url(""),
            _ => format!("http://127.0.0.1:{dead}"),
        };
        let web_env = vec![
            ("API_URL", api_url),
            ("STREAM_URL", stream_url),
            ("UPSTREAM_CONNECT_TIMEOUT", "2s".to_string()),
        ];
        let web = start("web", "WEB_ADDR", free_port(), &web_env, logs).await;
        Platform {
            _db: db,
            dir,
            _api: api,
            stream,
            scheduler,
            web,
        }
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }
}

/// A client that keeps no cookies and follows no redirects, so tests see exactly what web says.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// Registers `name` through web's form and returns the `Cookie` header value to send back.
pub async fn register(web: &Proc, name: &str) -> String {
    let resp = client()
        .post(web.url("/register"))
        .header("origin", web.url(""))
        .form(&[("user_name", name), ("pwd", "correct horse battery")])
        .send()
        .await
        .expect("posting the register form");
    assert_eq!(resp.status(), 303, "register: {:?}", resp.text().await);
    cookie_header(&resp)
}

/// `name=value` pairs of every Set-Cookie, joined as a `Cookie` header.
pub fn cookie_header(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A generated MP4 of `seconds` seconds, index at the end (no faststart), written to `path`.
pub fn make_mp4(path: &Path, seconds: u32, size: &str) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440", "-t"])
        .arg(seconds.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "4M",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ])
        .arg(path)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg failed to make the test video");
}

/// Sends `GET <target>` over a raw connection, exactly as written (HTTP clients normalise dot
/// segments away, which would hide what web does with them), and returns the status code.
pub async fn raw_get_status(port: u16, target: &str, host: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connecting to web");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.expect("writing");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer).await;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}
