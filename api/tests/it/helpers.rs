//! `spawn_app` and typed request helpers shared by the api's integration tests.

use std::net::SocketAddr;
use std::sync::Arc;

use api::{Api, Application, Config};
use mysql_async::prelude::Queryable;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use svc::testing::TestDb;
use svc::{Env, Visibility};
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
    /// Asserts the status and hands the reply on, for a look at its body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        self
    }

    /// The ids in a list page's `key` array (`videos`, `comments`).
    pub fn ids(&self, key: &str) -> Vec<String> {
        self.body[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} array in {self:?}"))
            .iter()
            .map(|v| v["id"].as_str().expect("an id").to_string())
            .collect()
    }

    /// Asserts an error reply's status and `error_code`, and that it says something.
    #[track_caller]
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

/// Starts an api as [`spawn_app`] does and registers `names`; returns their session ids in order.
pub async fn spawn_with_users<const N: usize>(names: [&str; N]) -> (TestApp, [String; N]) {
    let app = spawn_app(&[]).await;
    let mut sessions = Vec::with_capacity(N);
    for name in names {
        sessions.push(app.register(name).await);
    }
    let sessions = sessions.try_into().expect("one session per name");
    (app, sessions)
}

/// Starts another api on an existing database (several api processes share one database).
pub async fn spawn_on(db: Arc<TestDb>, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("API_ADDR", "127.0.0.1:0"),
        ("DB_POOL_SIZE", "8"),
        ("AUTH_RATE_PER_MIN", "100000"),
        ("AUTH_BURST", "100000"),
        // Tests read signed out and search far faster than a person; `limits` tests set these.
        ("READ_RATE_PER_MINUTE", "0"),
        ("SEARCH_RATE_PER_MINUTE", "0"),
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

    /// A request to build by hand (odd headers or bodies); send it with [`reply`].
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.request(method, path);
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

    /// A `GET` as `session`, or signed out with `None`.
    pub async fn read(&self, path: &str, session: Option<&str>) -> Reply {
        self.call(Method::GET, path, session, None).await
    }

    pub async fn patch(&self, path: &str, session: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, session, Some(body)).await
    }

    pub async fn post(&self, path: &str, session: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, session, Some(body)).await
    }

    pub async fn delete(&self, path: &str, session: &str) -> Reply {
        self.call(Method::DELETE, path, Some(session), None).await
    }

    /// Asserts that `method path` without a session is 401 `002`.
    pub async fn assert_needs_session(&self, method: Method, path: &str) {
        self.call(method, path, None, None)
            .await
            .assert_error(401, "002");
    }

    /// Logs `name` in (with [`PWD`]) and returns the new session id.
    pub async fn login(&self, name: &str) -> String {
        let r = self
            .post(
                &format!("/user/{}", seg(name)),
                None,
                json!({"user_name": name, "pwd": PWD}),
            )
            .await
            .expect(200);
        r.body["session_id"]
            .as_str()
            .expect("session_id")
            .to_string()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let r = self.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.text
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
        self.create_video_with(user, session, json!({"name": title}))
            .await
    }

    /// Creates a video from a whole creation `body` and returns its object.
    pub async fn create_video_with(&self, user: &str, session: &str, body: Value) -> Value {
        self.post(&format!("/user/{}/videos", seg(user)), Some(session), body)
            .await
            .expect(201)
            .body
    }

    /// Creates a playable video with this title, description and visibility; returns its id.
    pub async fn published(
        &self,
        user: &str,
        session: &str,
        title: &str,
        description: &str,
        visibility: Visibility,
    ) -> String {
        let body =
            json!({"name": title, "description": description, "visibility": visibility.as_str()});
        let v = self.create_video_with(user, session, body).await;
        let vid = v["id"].as_str().expect("the video's id").to_string();
        self.mark_ready(&vid).await;
        vid
    }

    /// Edits a video through `PATCH` as its owner and returns the updated object.
    pub async fn edit(&self, user: &str, session: &str, vid: &str, body: Value) -> Value {
        self.patch(
            &format!("/user/{}/videos/{vid}", seg(user)),
            Some(session),
            body,
        )
        .await
        .expect(200)
        .body
    }

    /// The ids on the first page of `GET /search?q=` as `session` (or signed out).
    pub async fn search(&self, q: &str, session: Option<&str>) -> Vec<String> {
        self.read(&format!("/search?q={}", seg(q)), session)
            .await
            .expect(200)
            .ids("videos")
    }

    /// The ids on the first page of the public feed.
    pub async fn feed(&self, session: Option<&str>) -> Vec<String> {
        self.read("/videos", session)
            .await
            .expect(200)
            .ids("videos")
    }

    /// Creates a (pending) video and returns its id.
    pub async fn new_video(&self, user: &str, session: &str, title: &str) -> String {
        let v = self.create_video(user, session, title).await;
        v["id"].as_str().expect("the video's id").to_string()
    }

    /// Creates a video and marks it ready; returns its id.
    pub async fn ready_video(&self, user: &str, session: &str) -> String {
        let vid = self.new_video(user, session, "v").await;
        self.mark_ready(&vid).await;
        vid
    }

    /// Comments on a video and returns the comment object.
    pub async fn comment(&self, vid: &str, session: &str, content: &str) -> Value {
        self.post(
            &format!("/videos/{vid}/comments"),
            Some(session),
            json!({"content": content}),
        )
        .await
        .expect(201)
        .body
    }

    /// Every id of a list route, page by page (`limit` a page, following `next`), as each page
    /// held them, read as `session` (or signed out). `path` may carry a query of its own
    /// (`/search?q=x`). Yields between pages so writers running alongside get their turn.
    pub async fn pages(
        &self,
        path: &str,
        key: &str,
        session: Option<&str>,
        limit: u32,
    ) -> Vec<Vec<String>> {
        let mut pages = vec![];
        let mut next: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &next {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&before={c}"),
            };
            let page = self.read(&url, session).await.expect(200);
            let ids = page.ids(key);
            assert!(ids.len() <= limit as usize, "{page:?}");
            pages.push(ids);
            match page.body["next"].as_str() {
                Some(c) => next = Some(c.to_string()),
                None => return pages,
            }
            tokio::task::yield_now().await;
        }
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

    /// How many rows `table` holds.
    pub async fn rows(&self, table: &str) -> u64 {
        self.sql_count(&format!("SELECT COUNT(*) FROM {table}"), ())
            .await
    }

    /// How many `video_info` rows have this id (0 or 1).
    pub async fn video_rows(&self, vid: &str) -> u64 {
        self.sql_count("SELECT COUNT(*) FROM video_info WHERE id = ?", (vid,))
            .await
    }

    /// How many comments the video has in the database.
    pub async fn comment_rows(&self, vid: &str) -> u64 {
        self.sql_count("SELECT COUNT(*) FROM comments WHERE video_id = ?", (vid,))
            .await
    }

    /// Sets a video's state directly, as streamserver and scheduler do.
    pub async fn set_state(&self, vid: &str, state: svc::VideoState) {
        self.sql(
            "UPDATE video_info SET state = ? WHERE id = ?",
            (state.as_str(), vid),
        )
        .await;
    }

    /// Sets a video's visibility directly, as the migration to public sharing did for the videos
    /// that existed before it.
    pub async fn set_visibility(&self, vid: &str, visibility: Visibility) {
        self.sql(
            "UPDATE video_info SET visibility = ? WHERE id = ?",
            (visibility.as_str(), vid),
        )
        .await;
    }

    /// Moves a session's expiry to `seconds` from now (negative: into the past).
    pub async fn expire_in(&self, session: &str, seconds: i64) {
        self.sql(
            "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND
              WHERE session_id = ?",
            (seconds, session),
        )
        .await;
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

/// Sends a hand-built request and reads the reply.
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
