//! Test support shared by every crate's integration tests: a per-test database on the real
//! MariaDB started by `scripts/devdb` (or the one `TEST_DATABASE_URL` names), quiet tracing, and
//! apps served in-process on port 0.
//!
//! Nothing here is used by the binaries at run time.

use std::net::SocketAddr;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Pool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server::{App, Server};

/// The admin URL of the test server (a user that may create databases), without a database.
/// From `TEST_DATABASE_URL`, else from the file `scripts/devdb` writes.
pub fn admin_url() -> String {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        return url.trim_end_matches('/').to_string();
    }
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../var/mariadb/admin_url");
    match std::fs::read_to_string(file) {
        Ok(url) => url.trim().trim_end_matches('/').to_string(),
        Err(_) => panic!(
            "no test database: run `scripts/devdb start` (or set TEST_DATABASE_URL to an admin URL \
             such as mysql://root@127.0.0.1:3307)"
        ),
    }
}

/// A uniquely named database on the test server, dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    /// URL of this database, for an app's `DATABASE_URL`.
    pub url: String,
    pub pool: Pool,
}

impl TestDb {
    /// A new database with every migration applied.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        crate::migrate::run(&db.pool)
            .await
            .expect("migrating the test database");
        db
    }

    /// A new database with nothing in it.
    pub async fn empty() -> Self {
        crate::telemetry::init_for_tests();
        let admin = admin_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin_pool = Pool::new(admin.as_str());
        let mut conn = admin_pool
            .get_conn()
            .await
            .unwrap_or_else(|e| panic!("connecting to the test MariaDB at {admin}: {e}"));
        conn.query_drop(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .expect("creating the test database");
        drop(conn);
        let _ = admin_pool.disconnect().await;
        let url = format!("{admin}/{name}");
        let pool = crate::db::pool(&url, 20).expect("test database URL");
        TestDb { name, url, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Async work cannot run in Drop on the test's runtime; a short-lived runtime on another
        // thread drops the database so test runs do not pile them up.
        let name = self.name.clone();
        let admin = admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let pool = Pool::new(admin.as_str());
                if let Ok(mut conn) = pool.get_conn().await {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                }
                let _ = pool.disconnect().await;
            });
        })
        .join();
    }
}

/// An app served in-process on a free loopback port; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `app` on 127.0.0.1 and a free port.
    pub async fn spawn<A: App>(app: Arc<A>) -> Self {
        let server = Server::bind(([127, 0, 0, 1], 0).into(), "test")
            .await
            .expect("binding a free port")
            .drain_timeout(std::time::Duration::from_secs(5));
        Self::spawn_on(server, app)
    }

    /// Serves `app` on an already bound server (to choose its drain timeout).
    pub fn spawn_on<A: App>(server: Server, app: Arc<A>) -> Self {
        let addr = server.local_addr().expect("bound address");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(app, shutdown.clone()));
        TestServer {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Starts the graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Shuts down and waits until the server loop has drained.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs a real service executable with `env` plus `addr_var=127.0.0.1:<free port>`, waits for
/// its `/readyz` to answer 200, sends SIGTERM and checks it exits 0 within the drain time.
/// Panics (failing the test) on any deviation, with the process's output.
pub async fn smoke_test_binary(exe: &str, addr_var: &str, env: &[(&str, &str)]) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port();
    let mut cmd = tokio::process::Command::new(exe);
    cmd.env(addr_var, format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {exe}: {e}"));
    let pid = child.id().expect("child pid").to_string();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    if let Err(why) = wait_ready(&mut child, &readyz).await {
        let _ = child.start_kill();
        let out = child.wait_with_output().await.expect("collecting output");
        panic!(
            "{exe} {why}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("running kill");
    assert!(killed.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("process did not exit within 20s of SIGTERM")
        .expect("collecting output");
    assert!(
        out.status.success(),
        "{exe} exited with {} after SIGTERM: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `check` until it yields a value or `within` passes; panics naming `what` then. The
/// way tests wait for something another task or process does, instead of a fixed sleep.
pub async fn eventually<T, F, Fut>(what: &str, within: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The one readiness loop for a service started as a child process: waits up to 30 s for
/// `readyz` to answer 200. `Err` says why not (the process exited, or never became ready);
/// the caller adds the process's output to its panic.
pub async fn wait_ready(child: &mut tokio::process::Child, readyz: &str) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(resp) = client.get(readyz).send().await {
            if resp.status() == 200 {
                return Ok(());
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited early with {status}"));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("never became ready within 30s".to_string());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The test tools directory (`scripts/test-deps` fills it): `TEST_TOOLS`, else `var/test-tools`.
pub fn test_tools() -> std::path::PathBuf {
    std::env::var_os("TEST_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/test-tools")
        })
}

/// A real S3-compatible server for one test: moto's `moto_server` (PyPI `moto[s3]`, installed
/// by `scripts/test-deps` into the test tools' venv) on a free loopback port, in memory, killed
/// (by its pid) when dropped. Each [`S3Server::bucket`] is a new empty bucket.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`, for `S3_ENDPOINT`.
    pub endpoint: String,
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl S3Server {
    /// Starts the server and waits (up to 30 s) until it answers.
    pub async fn start() -> Self {
        let exe = test_tools().join("venv/bin/moto_server");
        assert!(
            exe.exists(),
            "{} is missing: run scripts/test-deps (it installs moto into the test tools)",
            exe.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("finding a free port")
            .port();
        let log = std::env::temp_dir().join(format!("moto-{port}-{}.log", uuid::Uuid::new_v4()));
        let out = std::fs::File::create(&log).expect("creating the moto log");
        let child = std::process::Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(resp) = client.get(&server.endpoint).send().await {
                if resp.status().is_success() {
                    return server;
                }
            }
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || tokio::time::Instant::now() >= deadline {
                panic!(
                    "moto_server did not become ready ({exited:?}): {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Creates a new, empty bucket and returns its name.
    pub async fn bucket(&self) -> String {
        let name = format!("b{}", uuid::Uuid::new_v4().simple());
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("creating a bucket");
        assert!(
            resp.status().is_success(),
            "creating a bucket: {}",
            resp.status()
        );
        name
    }

    /// The environment that points a process at `bucket` (with `STORAGE_BACKEND=s3`).
    pub fn env(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_BACKEND", "s3".to_string()),
            ("S3_BUCKET", bucket.to_string()),
            ("S3_ENDPOINT", self.endpoint.clone()),
            ("S3_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret".to_string()),
        ]
    }

    /// The storage configuration of `bucket`, with `scratch` as the scratch directory and the
    /// smallest part size S3 allows (so tests cross part boundaries with little data).
    pub fn config(&self, bucket: &str, scratch: &std::path::Path) -> crate::config::StorageConfig {
        let mut pairs: Vec<(&str, String)> = self.env(bucket);
        pairs.push(("SCRATCH_DIR", scratch.to_string_lossy().into_owned()));
        pairs.push(("S3_PART_SIZE", "5MiB".to_string()));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::config::StorageConfig::from_env(&crate::config::Env::from_pairs(&pairs))
            .expect("an S3 storage configuration")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
