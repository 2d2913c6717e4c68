//! Live updates (issue 14): `GET /videos/{vid}/live` as a real Server-Sent Events client reads
//! it, with two api processes on one database as two nodes behind a load balancer would be.
//! Danmaku posted on one node reach a viewer of the other within 2 s, a stream that reconnects
//! with `Last-Event-ID` gets what it missed exactly once, and the viewer count follows streams
//! opening and closing on either node, a client killed without closing included.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use svc::testing::TestDb;
use svc::Visibility;

use crate::helpers::{spawn_on, TestApp};

/// Settings of every node here: no danmaku limit (the tests post quickly), and a heartbeat far
/// longer than any test, so what a test sees never depends on one.
const NODE: &[(&str, &str)] = &[("DANMAKU_INTERVAL", "0"), ("LIVE_HEARTBEAT", "60s")];

/// One Server-Sent Event as a client sees it.
#[derive(Debug, Clone)]
struct Event {
    id: Option<u64>,
    name: String,
    data: Value,
    /// When it arrived.
    at: Instant,
}

/// A live stream, read as an `EventSource` reads it (HTML section 9.2.6: fields up to a blank
/// line; comment lines ignored).
struct Stream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    /// Every event so far, in order.
    seen: Vec<Event>,
    /// Heartbeat comments so far.
    comments: usize,
}

impl Stream {
    /// Opens the video's stream on `app` (signed out unless `session`), resuming after `last`.
    async fn open(app: &TestApp, vid: &str, session: Option<&str>, last: Option<u64>) -> Self {
        let mut req = app.request(Method::GET, &format!("/videos/{vid}/live"));
        if let Some(s) = session {
            req = req.header("X-Session-Id", s);
        }
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.expect("opening the stream");
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["content-type"], "text/event-stream; charset=utf-8");
        assert_eq!(h["cache-control"], "no-cache");
        assert_eq!(h["x-accel-buffering"], "no");
        Stream {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
            seen: vec![],
            comments: 0,
        }
    }

    /// The next event, or `None` when the stream ended; panics after `within`.
    async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut name, mut data) = (None, "message".to_string(), String::new());
                let mut any = false;
                for line in block.lines().filter(|l| !l.is_empty()) {
                    if line.starts_with(':') {
                        self.comments += 1;
                        continue;
                    }
                    let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                    any = true;
                    match field {
                        "id" => id = Some(value.parse().expect("a numeric id")),
                        "event" => name = value.to_string(),
                        "data" => data.push_str(value),
                        "retry" => {}
                        other => panic!("unknown field {other:?} in {block:?}"),
                    }
                }
                if !any || data.is_empty() {
                    continue;
                }
                let event = Event {
                    id,
                    name,
                    data: serde_json::from_str(&data).expect("JSON data"),
                    at: Instant::now(),
                };
                self.seen.push(event.clone());
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .unwrap_or_else(|_| panic!("no event within {within:?}; seen {:?}", self.seen));
            match chunk {
                Some(Ok(bytes)) => self
                    .buf
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Reads until an event `name` satisfies `pred`; returns it.
    async fn until(
        &mut self,
        name: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Event {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("the stream ended waiting for {name}: {:?}", self.seen));
            if e.name == name && pred(&e.data) {
                return e;
            }
        }
    }

    /// Reads until the viewer count is `n`.
    async fn viewers(&mut self, n: u64) -> Event {
        self.until("viewers", Duration::from_secs(10), |d| d["viewers"] == n)
            .await
    }
}

/// Two api nodes on one fresh database, ann (who owns a public ready video) and bob.
struct TwoNodes {
    a: TestApp,
    b: TestApp,
    ann: String,
    bob: String,
    vid: String,
}

async fn two_nodes() -> TwoNodes {
    let db = Arc::new(TestDb::migrated().await);
    let a = spawn_on(db.clone(), NODE).await;
    let b = spawn_on(db, NODE).await;
    let ann = a.register("ann").await;
    let bob = b.register("bob").await;
    let vid = a
        .published("ann", &ann, "Live", "", Visibility::Public)
        .await;
    TwoNodes {
        a,
        b,
        ann,
        bob,
        vid,
    }
}

async fn danmaku(app: &TestApp, vid: &str, session: &str, text: &str, at_ms: u32) -> Value {
    app.post(
        &format!("/videos/{vid}/danmaku"),
        Some(session),
        json!({"text": text, "at_ms": at_ms}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn a_danmaku_posted_on_one_node_reaches_a_viewer_on_the_other_within_two_seconds() {
    let n = two_nodes().await;
    let mut on_a = Stream::open(&n.a, &n.vid, None, None).await;
    let first = on_a.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (first.name.as_str(), &first.data),
        ("viewers", &json!({"viewers": 1}))
    );
    for i in 0..3 {
        let sent = Instant::now();
        let posted = danmaku(&n.b, &n.vid, &n.bob, &format!("hello {i}"), 1000 + i).await;
        let got = on_a
            .until("danmaku", Duration::from_secs(5), |d| {
                d["id"] == posted["id"]
            })
            .await;
        let took = got.at - sent;
        println!("danmaku {i} from node B to a viewer on node A in {took:?}");
        assert!(took < Duration::from_secs(2), "took {took:?}");
        assert_eq!(got.data, posted, "the event carries the danmaku object");
        assert!(got.id.is_some());
    }
    // A comment posted on B, and a danmaku deleted on B by the video's owner, too.
    let comment =
        n.b.post(
            &format!("/videos/{}/comments", n.vid),
            Some(&n.bob),
            json!({"content": "nice"}),
        )
        .await
        .expect(201)
        .body;
    let got = on_a
        .until("comment", Duration::from_secs(2), |d| {
            d["id"] == comment["id"]
        })
        .await;
    assert_eq!(got.data, comment);
    let gone = on_a.seen.iter().find(|e| e.name == "danmaku").unwrap().data["id"].clone();
    let owner_on_b = n.b.login("ann").await;
    n.b.call(
        Method::DELETE,
        &format!("/videos/{}/danmaku/{gone}", n.vid),
        Some(&owner_on_b),
        None,
    )
    .await
    .expect(204);
    let deleted = on_a
        .until("danmaku_delete", Duration::from_secs(2), |d| {
            d["id"] == gone
        })
        .await;
    assert_eq!(deleted.data["video_id"], n.vid.as_str());
    // Ids only grow along the stream.
    let ids: Vec<u64> = on_a.seen.iter().filter_map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[tokio::test]
async fn a_stream_that_reconnects_with_last_event_id_misses_nothing_and_repeats_nothing() {
    let n = two_nodes().await;
    let mut first = Stream::open(&n.a, &n.vid, None, None).await;
    first.viewers(1).await;
    let mut sent = vec![];
    for i in 0..3 {
        sent.push(danmaku(&n.b, &n.vid, &n.bob, &format!("before {i}"), i).await["id"].clone());
    }
    for id in &sent {
        first
            .until("danmaku", Duration::from_secs(5), |d| d["id"] == *id)
            .await;
    }
    let last = first
        .seen
        .iter()
        .rev()
        .find_map(|e| e.id)
        .expect("an event id");
    drop(first);
    // While it is away: three danmaku and a comment, on either node.
    let mut missed = vec![];
    for (i, app) in [&n.a, &n.b, &n.a].into_iter().enumerate() {
        missed.push(
            danmaku(app, &n.vid, &n.bob, &format!("away {i}"), 100 + i as u32).await["id"].clone(),
        );
    }
    n.b.post(
        &format!("/videos/{}/comments", n.vid),
        Some(&n.bob),
        json!({"content": "while you were away"}),
    )
    .await
    .expect(201);
    // Resumes on either node: the same events, in order, once; then live ones.
    for app in [&n.b, &n.a] {
        let mut again = Stream::open(app, &n.vid, None, Some(last)).await;
        let after = danmaku(&n.b, &n.vid, &n.bob, "after", 500).await["id"].clone();
        again
            .until("danmaku", Duration::from_secs(5), |d| d["id"] == after)
            .await;
        let got: Vec<(String, Value)> = again
            .seen
            .iter()
            .filter(|e| e.name != "viewers")
            .map(|e| (e.name.clone(), e.data["id"].clone()))
            .collect();
        let danmaku_ids: Vec<Value> = got
            .iter()
            .filter(|(name, _)| name == "danmaku")
            .map(|(_, id)| id.clone())
            .collect();
        // What it missed (on the second resume, also the first resume's live one), then live.
        assert_eq!(danmaku_ids[..missed.len()], missed[..], "{got:?}");
        assert_eq!(danmaku_ids.len(), missed.len() + 1, "{got:?}");
        assert_eq!(danmaku_ids.last(), Some(&after), "{got:?}");
        assert_eq!(
            got.iter().filter(|(name, _)| name == "comment").count(),
            1,
            "{got:?}"
        );
        assert!(
            !danmaku_ids.iter().any(|id| sent.contains(id)),
            "replayed what it had: {got:?}"
        );
        let ids: Vec<u64> = again.seen.iter().filter_map(|e| e.id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "repeated or out of order: {ids:?}"
        );
        missed.push(after);
    }
}

#[tokio::test]
async fn the_viewer_count_follows_streams_on_both_nodes_and_a_killed_client() {
    let n = two_nodes().await;
    let mut s1 = Stream::open(&n.a, &n.vid, None, None).await;
    s1.viewers(1).await;
    // A signed-in viewer on the other node: counted there, summed here.
    let mut s2 = Stream::open(&n.b, &n.vid, Some(&n.bob), None).await;
    let on_b = s2.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(on_b.name, "viewers");
    s1.viewers(2).await;
    s2.viewers(2).await;
    // A real client process on node A, killed without closing its connection.
    let mut curl = tokio::process::Command::new("curl")
        .args(["-sN", "-o", "/dev/null"])
        .arg(n.a.url(&format!("/videos/{}/live", n.vid)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("running curl");
    s1.viewers(3).await;
    s2.viewers(3).await;
    curl.start_kill().expect("killing curl");
    curl.wait().await.expect("curl exits");
    let killed = Instant::now();
    s1.viewers(2).await;
    s2.viewers(2).await;
    // Its kernel closed the connection; the server saw the read side end, without waiting for
    // a heartbeat write (60 s here) to fail.
    let took = killed.elapsed();
    println!("a killed client left the count in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A stream closed by its client.
    drop(s2);
    s1.viewers(1).await;
    // At most one count a second: the first count of a stream is its own snapshot, then
    // changes come from the once-a-second recount.
    let counts: Vec<Instant> = s1
        .seen
        .iter()
        .filter(|e| e.name == "viewers")
        .skip(1)
        .map(|e| e.at)
        .collect();
    for w in counts.windows(2) {
        assert!(
            w[1] - w[0] > Duration::from_millis(800),
            "two counts {:?} apart",
            w[1] - w[0]
        );
    }
}

#[tokio::test]
async fn an_idle_stream_gets_a_heartbeat_comment_every_live_heartbeat() {
    let db = Arc::new(TestDb::migrated().await);
    let app = spawn_on(db, &[("LIVE_HEARTBEAT", "1s")]).await;
    let ann = app.register("ann").await;
    let vid = app
        .published("ann", &ann, "v", "", Visibility::Public)
        .await;
    let mut s = Stream::open(&app, &vid, None, None).await;
    s.viewers(1).await;
    let opened = Instant::now();
    // Nothing else happens on the video: only comment lines arrive.
    while s.comments < 2 {
        let mut chunk = tokio::time::timeout(Duration::from_secs(5), s.body.next())
            .await
            .expect("a heartbeat within 5 s")
            .expect("the stream goes on")
            .expect("reading");
        let text = std::str::from_utf8(&chunk).expect("UTF-8").to_string();
        assert_eq!(text, ": keep-alive\n\n");
        s.comments += 1;
        chunk.clear();
    }
    let took = opened.elapsed();
    assert!(
        took > Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn who_may_open_a_stream_is_who_may_see_the_video() {
    let n = two_nodes().await;
    let private =
        n.a.published("ann", &n.ann, "Mine", "", Visibility::Private)
            .await;
    let unlisted =
        n.a.published("ann", &n.ann, "By link", "", Visibility::Unlisted)
            .await;
    let path = |vid: &str| format!("/videos/{vid}/live");
    // Private: 404 to others, signed in or not; open to its owner.
    n.a.read(&path(&private), None)
        .await
        .assert_error(404, "404");
    n.a.read(&path(&private), Some(&n.bob))
        .await
        .assert_error(404, "404");
    let mut own = Stream::open(&n.a, &private, Some(&n.ann), None).await;
    own.viewers(1).await;
    // Unlisted: anyone with the link.
    Stream::open(&n.b, &unlisted, None, None)
        .await
        .viewers(1)
        .await;
    // Unknown or malformed ids, a dead session, a wrong method.
    n.a.read(&path(svc::VideoId::random().as_str()), None)
        .await
        .assert_error(404, "404");
    n.a.read(&path("nope"), None).await.assert_error(404, "404");
    n.a.read(&path(&n.vid), Some(&uuid::Uuid::new_v4().to_string()))
        .await
        .assert_error(401, "002");
    let r = n.a.call(Method::POST, &path(&n.vid), None, None).await;
    r.assert_error(405, "405");
    assert_eq!(r.headers["allow"], "GET");
    // A Last-Event-ID that is not a number is no id: the stream starts from now.
    let resp =
        n.a.request(Method::GET, &path(&n.vid))
            .header("Last-Event-ID", "yesterday")
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn open_streams_end_when_the_api_shuts_down_instead_of_holding_the_drain() {
    let db = Arc::new(TestDb::migrated().await);
    // A drain far longer than the test allows: only the streams ending lets it finish early.
    let app = spawn_on(db, &[("DRAIN_TIMEOUT", "60s")]).await;
    let ann = app.register("ann").await;
    let vid = app
        .published("ann", &ann, "v", "", Visibility::Public)
        .await;
    let mut s = Stream::open(&app, &vid, None, None).await;
    s.viewers(1).await;
    let stopped = Instant::now();
    drop(app);
    let end = s.next(Duration::from_secs(10)).await;
    assert!(end.is_none(), "{end:?}");
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );
}

/// An event whose transaction is still open when later ones commit: a node delivers it first
/// once it commits (ids in order), and when it never does, delivers the later ones after
/// `live::GAP_WAIT` (1 s) rather than waiting for ever.
#[tokio::test]
async fn events_behind_an_uncommitted_one_wait_for_it_then_go_on_without_it() {
    use mysql_async::prelude::Queryable;
    let db = Arc::new(TestDb::migrated().await);
    let app = spawn_on(db.clone(), NODE).await;
    let ann = app.register("ann").await;
    let vid = app
        .published("ann", &ann, "v", "", Visibility::Public)
        .await;
    let mut s = Stream::open(&app, &vid, None, None).await;
    s.viewers(1).await;
    let hold = |text: &'static str| {
        let (pool, vid) = (db.pool.clone(), vid.clone());
        async move {
            let mut conn = pool.get_conn().await.expect("a connection");
            conn.query_drop("BEGIN").await.expect("begin");
            conn.exec_drop(
                "INSERT INTO live_events (video_id, kind, payload, created_at)
                 VALUES (?, 'comment', ?, UTC_TIMESTAMP(6))",
                (vid, json!({ "id": text }).to_string()),
            )
            .await
            .expect("an event in an open transaction");
            conn
        }
    };

    // Committed half a second after a later event: it still comes first.
    let mut open = hold("held").await;
    let later = danmaku(&app, &vid, &ann, "later", 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    open.query_drop("COMMIT").await.expect("commit");
    let first = s.until("comment", Duration::from_secs(5), |_| true).await;
    assert_eq!(first.data["id"], "held");
    let second = s
        .until("danmaku", Duration::from_secs(5), |d| {
            d["id"] == later["id"]
        })
        .await;
    assert!(first.id < second.id, "{:?} then {:?}", first.id, second.id);

    // Never committed: the later one comes after the wait, not never.
    let mut open = hold("lost").await;
    let sent = Instant::now();
    let after = danmaku(&app, &vid, &ann, "after a rollback", 0).await;
    s.until("danmaku", Duration::from_secs(5), |d| {
        d["id"] == after["id"]
    })
    .await;
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    open.query_drop("ROLLBACK").await.expect("rollback");
    assert!(!s.seen.iter().any(|e| e.data["id"] == "lost"));
}
