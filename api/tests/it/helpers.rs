//! `spawn_app` and typed request helpers shared by the api's integration tests.

use std::net::SocketAddr;
use std::sync::Arc;

use api::{Api, Application, Config};
use mysql_async::prelude::Queryable;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use svc::testing::TestDb;
use svc::Env;
use tokio_util::sync::CancellationToken;

pub const PWD: &str = "correct horse battery";

/// One api on its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Arc<TestDb>,
    pub api: Arc<Api>,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts an error reply's status and `error_code`, and that it says something.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.body["error_code"], code, "{self:?}");
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{self:?}"
        );
        assert_eq!(self.headers["content-type"], "application/json", "{self:?}");
    }
}

/// Starts an api on a new database with generous rate limits; `extra` overrides settings.
pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let db = Arc::new(TestDb::migrated().await);
    spawn_on(db, extra).await
}

/// Starts another api on an existing database (several api processes share one database).
pub async fn spawn_on(db: Arc<TestDb>, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("API_ADDR", "127.0.0.1:0"),
        ("DB_POOL_SIZE", "8"),
        ("AUTH_RATE_PER_MIN", "100000"),
        ("AUTH_BURST", "100000"),
        ("DRAIN_TIMEOUT", "2s"),
    ];
    vars.extend_from_slice(extra);
    let config = Config::from_env(&Env::from_pairs(&vars)).expect("test config");
    let app = Application::build(config).await.expect("building the api");
    let addr = app.local_addr();
    let api = app.api();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        addr,
        db,
        api,
        client: reqwest::Client::new(),
        shutdown,
    }
}

/// Percent-encodes a path segment (user names may be Unicode).
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(s) = session {
            req = req.header("X-Session-Id", s);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        reply(req).await
    }

    pub async fn get(&self, path: &str, session: &str) -> Reply {
        self.call(Method::GET, path, Some(session), None).await
    }

    pub async fn post(&self, path: &str, session: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, session, Some(body)).await
    }

    pub async fn delete(&self, path: &str, session: &str) -> Reply {
        self.call(Method::DELETE, path, Some(session), None).await
    }

    /// Registers `name` and returns its session id.
    pub async fn register(&self, name: &str) -> String {
        let r = self
            .post("/user", None, json!({"user_name": name, "pwd": PWD}))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body["session_id"]
            .as_str()
            .expect("session_id")
            .to_string()
    }

    /// Creates a video as the session's user (`name`) and returns its object.
    pub async fn create_video(&self, user: &str, session: &str, title: &str) -> Value {
        let r = self
            .post(
                &format!("/user/{}/videos", seg(user)),
                Some(session),
                json!({"name": title}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body
    }

    pub async fn comment(&self, vid: &str, session: &str, content: &str) -> Value {
        let r = self
            .post(
                &format!("/videos/{vid}/comments"),
                Some(session),
                json!({"content": content}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        r.body
    }

    pub async fn sql_count(&self, sql: &str, params: impl Into<mysql_async::Params> + Send) -> u64 {
        let mut conn = self.db.pool.get_conn().await.expect("db");
        conn.exec_first::<u64, _, _>(sql, params)
            .await
            .expect("count query")
            .unwrap_or(0)
    }

    pub async fn sql(&self, sql: &str, params: impl Into<mysql_async::Params> + Send) {
        let mut conn = self.db.pool.get_conn().await.expect("db");
        conn.exec_drop(sql, params).await.expect("sql");
    }

    /// Marks a video playable, as streamserver does after an upload.
    pub async fn mark_ready(&self, vid: &str) {
        self.sql(
            "UPDATE video_info SET state = 'ready', size = 1234, content_type = 'video/mp4',
                    duration_ms = 5000, width = 640, height = 360, has_thumbnail = TRUE
              WHERE id = ?",
            (vid,),
        )
        .await;
    }
}

pub async fn reply(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request failed");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}
