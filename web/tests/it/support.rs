//! Test support: the platform web sits in front of, on a fresh `TestDb` and a temporary storage
//! directory. By default every service runs in-process, built by its own crate's
//! `Application::build` exactly as its `main` does; a test that must look at a process (web's
//! memory or log, the browser test) runs the real executables instead, each with its output in a
//! log file.
//!
//! The sibling executables are found next to this test executable (target/debug/<name>); build
//! them first with `cargo build -p api -p streamserver -p scheduler`. Only [`Run::AllBinaries`]
//! needs them.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use svc::testing::TestDb;
use svc::Env;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::site::Site;

/// Which services run as their real executables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Run {
    /// All in this test process.
    #[default]
    InProcess,
    /// web as its executable (its own memory, metrics and log), the others in-process.
    WebBinary,
    /// Every service as its executable: the browser test.
    AllBinaries,
}

/// Which services the platform has besides api and web, and how they are configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub stream: bool,
    pub scheduler: bool,
    pub run: Run,
    /// web's `PUBLIC_URL` (its default otherwise).
    pub public_url: Option<&'static str>,
    /// The api's `SEARCH_RATE_PER_MINUTE` (its default otherwise).
    pub search_rate: Option<u32>,
    /// The streamserver as the media origin (issue 16); needs `stream`.
    pub media: Option<Media>,
    /// web's `STORAGE_DIR`, which lets it send the streamserver's files itself.
    pub web_storage: WebStorage,
    /// More of the streamserver's environment (limits).
    pub stream_env: &'static [(&'static str, &'static str)],
}

/// What web is told of the storage (`STORAGE_DIR`, svc::local_file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebStorage {
    /// The streamserver's directory, as `./deploy.sh` runs it: large ranges are sent by web
    /// from the file.
    #[default]
    Shared,
    /// Nothing: every byte is proxied.
    Unset,
    /// Another directory (`elsewhere/` in the platform's temporary directory), as when web
    /// runs on another host with the same environment.
    Elsewhere,
}

/// The media origin's configuration: the streamserver's own address as `MEDIA_URL` of api and
/// web, one `MEDIA_SIGNING_KEY` for api and streamserver, and web's address as the
/// streamserver's `PUBLIC_URL` (the one origin its CORS grants signed and upload requests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Media {
    /// The api's `MEDIA_GRANT_TTL` (its default otherwise).
    pub grant_ttl: Option<&'static str>,
    /// web's `MEDIA_URL` when it must differ from the api's (a misconfigured site).
    pub web_media_url: Option<&'static str>,
}

/// The key api and streamserver share in the tests.
pub const MEDIA_KEY: &str = "a test media signing key, at least 32 bytes long";

impl Options {
    /// Every service as its executable, for a browser.
    pub fn all_binaries() -> Self {
        Options {
            stream: true,
            scheduler: true,
            run: Run::AllBinaries,
            ..Options::default()
        }
    }

    /// api, streamserver and web, in-process.
    pub fn with_stream() -> Self {
        Options {
            stream: true,
            ..Options::default()
        }
    }
}

/// One running service, in-process or as a process; stopped when dropped.
pub enum Service {
    InProcess {
        addr: SocketAddr,
        shutdown: CancellationToken,
    },
    Process(Proc),
}

impl Service {
    /// Runs `run` (an `Application::run`) on this runtime until the service is dropped.
    fn spawn<F>(addr: SocketAddr, run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown = CancellationToken::new();
        tokio::spawn(run(shutdown.clone()));
        Service::InProcess { addr, shutdown }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Service::InProcess { addr, .. } => *addr,
            Service::Process(p) => SocketAddr::from(([127, 0, 0, 1], p.port)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    /// The process, for a test that started the real executable.
    pub fn process(&self) -> &Proc {
        match self {
            Service::Process(p) => p,
            Service::InProcess { .. } => panic!("this service runs in-process; use Run::*Binary"),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Service::InProcess { shutdown, .. } = self {
            shutdown.cancel();
        }
    }
}

/// The services of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Api,
    Stream,
    Scheduler,
    Web,
}

impl Kind {
    fn exe(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Stream => "streamserver",
            Kind::Scheduler => "scheduler",
            Kind::Web => "web",
        }
    }

    fn addr_var(self) -> &'static str {
        match self {
            Kind::Api => "API_ADDR",
            Kind::Stream => "STREAM_ADDR",
            Kind::Scheduler => "SCHEDULER_ADDR",
            Kind::Web => "WEB_ADDR",
        }
    }

    /// Starts the service with `env` (plus a free loopback address, or `port` when given), as
    /// its executable when `binary`, and waits until it is ready.
    async fn start(
        self,
        binary: bool,
        env: &[(&str, String)],
        logs: &Path,
        port: Option<u16>,
    ) -> Service {
        if binary {
            let port = port.unwrap_or_else(free_port);
            return Service::Process(start_at(self.exe(), self.addr_var(), env, logs, port).await);
        }
        let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.push((self.addr_var(), "127.0.0.1:0"));
        let env = Env::from_pairs(&pairs);
        // Each crate's own configuration and `Application`, as its `main` starts it.
        macro_rules! in_process {
            ($krate:ident) => {{
                let config = $krate::Config::from_env(&env).expect("a test configuration");
                let app = $krate::Application::build(config)
                    .await
                    .expect("starting the service in-process");
                Service::spawn(app.local_addr(), |s| app.run(s))
            }};
        }
        match self {
            Kind::Api => in_process!(api),
            Kind::Stream => in_process!(streamserver),
            Kind::Scheduler => in_process!(scheduler),
            Kind::Web => in_process!(web),
        }
    }
}

/// The whole platform: a fresh database, a temporary storage directory, api, web and the
/// services `Options` asks for. Dropping it stops them all.
pub struct Platform {
    /// web, as the tests talk to it.
    pub web: Site,
    pub web_service: Service,
    pub stream: Option<Service>,
    pub scheduler: Option<Service>,
    pub _api: Service,
    pub dir: tempfile::TempDir,
    /// Dropped last: dropping it drops the database.
    _db: TestDb,
}

impl Platform {
    pub async fn start(opts: Options) -> Platform {
        let db = TestDb::migrated().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("creating the storage directory");
        let logs = dir.path();
        let binaries = opts.run == Run::AllBinaries;
        let common = vec![
            ("DATABASE_URL", db.url.clone()),
            ("STORAGE_DIR", storage.display().to_string()),
            ("DB_POOL_SIZE", "4".to_string()),
            ("DRAIN_TIMEOUT", "2s".to_string()),
        ];
        let web_binary = opts.run != Run::InProcess;
        // Chosen first when web runs as its executable, so the streamserver knows the site's
        // origin (`PUBLIC_URL`) for its CORS.
        let web_port = web_binary.then(free_port);
        let public_url = match (opts.public_url, web_port) {
            (Some(url), _) => Some(url.to_string()),
            (None, Some(port)) if opts.media.is_some() => Some(format!("http://127.0.0.1:{port}")),
            (None, _) => None,
        };
        let mut stream_env = common.clone();
        if opts.media.is_some() {
            stream_env.push(("MEDIA_SIGNING_KEY", MEDIA_KEY.to_string()));
            if let Some(url) = &public_url {
                stream_env.push(("PUBLIC_URL", url.clone()));
            }
        }
        stream_env.extend(opts.stream_env.iter().map(|(k, v)| (*k, v.to_string())));
        let stream = match opts.stream {
            true => Some(Kind::Stream.start(binaries, &stream_env, logs, None).await),
            false => None,
        };
        let mut api_env = common.clone();
        if let Some(rate) = opts.search_rate {
            api_env.push(("SEARCH_RATE_PER_MINUTE", rate.to_string()));
        }
        let media_url = opts.media.map(|media| {
            let url = stream
                .as_ref()
                .expect("a media origin needs the streamserver")
                .url("");
            api_env.push(("MEDIA_URL", url.clone()));
            api_env.push(("MEDIA_SIGNING_KEY", MEDIA_KEY.to_string()));
            if let Some(ttl) = media.grant_ttl {
                api_env.push(("MEDIA_GRANT_TTL", ttl.to_string()));
            }
            media.web_media_url.map_or(url, str::to_string)
        });
        let api = Kind::Api.start(binaries, &api_env, logs, None).await;
        let scheduler = match opts.scheduler {
            true => {
                let mut env = common.clone();
                env.push(("SCHEDULER_CRON", "*/1 * * * * *".to_string()));
                Some(Kind::Scheduler.start(binaries, &env, logs, None).await)
            }
            false => None,
        };
        let stream_url = stream.as_ref().map_or_else(dead_url, |s| s.url(""));
        let mut web_env = web_env(&api.url(""), &stream_url);
        if let Some(url) = public_url {
            web_env.push(("PUBLIC_URL", url));
        }
        if let Some(url) = media_url {
            web_env.push(("MEDIA_URL", url));
        }
        let web_storage = match opts.web_storage {
            WebStorage::Shared => Some(storage.clone()),
            WebStorage::Unset => None,
            WebStorage::Elsewhere => Some(dir.path().join("elsewhere")),
        };
        if let Some(dir) = web_storage {
            std::fs::create_dir_all(dir.join("videos")).expect("creating web's storage directory");
            web_env.push(("STORAGE_DIR", dir.display().to_string()));
        }
        let web_service = Kind::Web.start(web_binary, &web_env, logs, web_port).await;
        Platform {
            web: Site::at(web_service.addr()),
            web_service,
            stream,
            scheduler,
            _api: api,
            dir,
            _db: db,
        }
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The platform's database, for a test that plays a service's part itself.
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    /// The streamserver itself, to compare with what web passes on.
    pub fn stream_direct(&self) -> Site {
        Site::at(self.stream.as_ref().expect("a streamserver").addr())
    }
}

/// web alone, in-process, in front of upstreams at `api_url` and `stream_url`.
pub async fn web_alone(api_url: &str, stream_url: &str) -> (Service, Site) {
    let logs = std::env::temp_dir();
    let web = Kind::Web
        .start(false, &web_env(api_url, stream_url), &logs, None)
        .await;
    let site = Site::at(web.addr());
    (web, site)
}

/// An upstream URL nothing listens on.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// web's configuration in front of upstreams at `api_url` and `stream_url`.
fn web_env(api_url: &str, stream_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("API_URL", api_url.to_string()),
        ("STREAM_URL", stream_url.to_string()),
        ("UPSTREAM_CONNECT_TIMEOUT", "2s".to_string()),
        ("DRAIN_TIMEOUT", "2s".to_string()),
    ]
}

/// A sibling executable of the workspace, or a panic saying how to build it.
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

/// Starts the executable `name` with `env` plus `<addr_var>=127.0.0.1:<port>` and waits for its
/// `/readyz`.
async fn start_at(
    name: &str,
    addr_var: &str,
    env: &[(&str, String)],
    logs: &Path,
    port: u16,
) -> Proc {
    let exe = binary(name);
    let log = logs.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("creating the log file");
    let err = out.try_clone().expect("cloning the log file");
    let mut child = Command::new(&exe)
        .env(addr_var, format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    if let Err(why) = svc::testing::wait_ready(&mut child, &readyz).await {
        panic!(
            "{name} {why}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    Proc { child, port, log }
}

/// A generated MP4 of `seconds` seconds, index at the end (no faststart), written to `path`.
pub fn make_mp4(path: &Path, seconds: u32, size: &str) {
    let codecs = [
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
    ];
    generate(path, seconds, size, &codecs);
}

/// A generated AVI (MPEG-4 Part 2 video, MP3 audio), as an old camera writes it: a file
/// browsers do not play, so processing transcodes it (with a percentage) before it plays.
pub fn make_avi(path: &Path, seconds: u32, size: &str) {
    let codecs = ["-c:v", "mpeg4", "-q:v", "4", "-c:a", "libmp3lame"];
    generate(path, seconds, size, &codecs);
}

/// A generated H.264/AAC MP4 at about `mbits` Mbit/s (capped at that rate): browsers play it,
/// so it stays the progressive rendition at that bitrate.
pub fn make_mp4_at(path: &Path, seconds: u32, size: &str, mbits: u32) {
    let rate = format!("{mbits}M");
    let codecs = [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        &rate,
        "-maxrate",
        &rate,
        "-bufsize",
        &rate,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
    ];
    generate(path, seconds, size, &codecs);
}

/// ffmpeg's moving test pattern at 25 fps with a 440 Hz tone, `seconds` long at `size`,
/// encoded with `codecs` (the output options) into `path`.
fn generate(path: &Path, seconds: u32, size: &str, codecs: &[&str]) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440", "-t"])
        .arg(seconds.to_string())
        .args(codecs)
        .arg(path)
        .status()
        .expect("running ffmpeg");
    assert!(
        status.success(),
        "ffmpeg failed to make the test video {}",
        path.display()
    );
}

/// `$TEST_TOOLS/<relative>` (default `<workspace>/var/test-tools`), where `scripts/test-deps`
/// installs the test clients (tuspy's venv, playwright-core), or a panic saying so.
pub fn test_tool(relative: &str) -> PathBuf {
    let tools = std::env::var_os("TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../var/test-tools"))
        });
    let path = tools.join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-deps",
        path.display()
    );
    path
}
