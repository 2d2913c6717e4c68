//! `/readyz` follows the database: 503 while it is down, 200 again once it is back, with no
//! restart. The test runs its own MariaDB (via `scripts/devdb` in a temporary directory) so it
//! can stop it without disturbing the other tests.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{empty, Body};
use svc::testing::{eventually, TestServer};
use svc::App;

struct DbApp {
    pool: mysql_async::Pool,
}

impl App for DbApp {
    async fn handle(&self, _req: Request<Incoming>) -> Response<Body> {
        empty(StatusCode::NO_CONTENT)
    }
    async fn ready(&self) -> Result<(), String> {
        svc::db::ping(&self.pool).await
    }
}

fn devdb(dir: &Path, action: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/devdb");
    let out = Command::new("bash")
        .arg(script)
        .arg(action)
        .env("DEVDB_DIR", dir)
        .output()
        .expect("running scripts/devdb");
    assert!(
        out.status.success(),
        "devdb {action} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits until `url` answers `want`, for at most ten seconds.
async fn wait_for_status(client: &reqwest::Client, url: &str, want: u16) -> bool {
    let what = format!("{url} to answer {want}");
    eventually(&what, Duration::from_secs(10), || async {
        let resp = client.get(url).send().await.ok()?;
        (resp.status().as_u16() == want).then_some(true)
    })
    .await
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || devdb(&dir, "start")
    })
    .await
    .unwrap();
    let pool = svc::db::pool(&url, 4).unwrap();
    let srv = TestServer::spawn(Arc::new(DbApp { pool })).await;
    let client = reqwest::Client::new();
    let readyz = srv.url("/readyz");

    assert!(
        wait_for_status(&client, &readyz, 200).await,
        "not ready with the database up"
    );

    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || devdb(&d, "stop"))
        .await
        .unwrap();
    assert!(
        wait_for_status(&client, &readyz, 503).await,
        "still ready with the database down"
    );
    let body = client
        .get(&readyz)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("database unreachable"), "{body}");

    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || devdb(&d, "start"))
        .await
        .unwrap();
    assert!(
        wait_for_status(&client, &readyz, 200).await,
        "not ready again after the database came back"
    );

    srv.stop().await;
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || devdb(&d, "stop"))
        .await
        .unwrap();
}
