//! Live updates (issue 14): `GET /videos/{vid}/live` as a real Server-Sent Events client reads
//! it, with two api processes on one database as two nodes behind a load balancer would be.
//! Danmaku posted on one node reach a viewer of the other within 2 s, a stream that reconnects
//! with `Last-Event-ID` gets what it missed exactly once, and the viewer count follows streams
//! opening and closing on either node, a client killed without closing included. Removals are
//! told too: a deleted comment, and a video deleted or made private, which ends the streams of
//! those who may no longer see it (the owner's goes on for a private one); rows of a kind this
//! build does not know are skipped without stalling anything.

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
    /// The last event id received, as an `EventSource` keeps it (an `id` field without data
    /// sets it too).
    last_id: Option<u64>,
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
            last_id: None,
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
                if id.is_some() {
                    self.last_id = id;
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

impl Stream {
    /// Reads to the end of the stream, which must come within `within` (the server ended it);
    /// returns the names of the events read on the way.
    async fn ends(&mut self, within: Duration) -> Vec<String> {
        let mut names = vec![];
        while let Some(e) = self.next(within).await {
            names.push(e.name);
        }
        names
    }

    /// The events so far named `name`, with their ids.
    fn named(&self, name: &str) -> Vec<(Option<u64>, Value)> {
        self.seen
            .iter()
            .filter(|e| e.name == name)
            .map(|e| (e.id, e.data.clone()))
            .collect()
    }
}

#[tokio::test]
async fn a_deleted_comment_is_announced_on_every_node_and_replayed_to_a_returning_stream() {
    let n = two_nodes().await;
    let mut on_a = Stream::open(&n.a, &n.vid, None, None).await;
    on_a.viewers(1).await;
    let comment = n.b.comment(&n.vid, &n.bob, "soon gone").await;
    let posted = on_a
        .until("comment", Duration::from_secs(5), |d| {
            d["id"] == comment["id"]
        })
        .await;
    let before = posted.id.expect("an id");
    // Deleted by its author on node B: a viewer on node A is told within 2 s.
    let sent = Instant::now();
    n.b.delete(
        &format!("/videos/{}/comment/{}", n.vid, seg_of(&comment)),
        &n.bob,
    )
    .await
    .expect(204);
    let deleted = on_a
        .until("comment_delete", Duration::from_secs(5), |_| true)
        .await;
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(
        deleted.data,
        json!({"id": comment["id"], "video_id": n.vid.as_str()})
    );
    assert!(deleted.id > Some(before), "{:?}", on_a.seen);
    // Deleted by the video's owner while nobody watches: a stream resuming after the comment
    // gets the deletion from the database, on either node.
    drop(on_a);
    let other = n.b.comment(&n.vid, &n.bob, "also gone").await;
    let mut again = Stream::open(&n.a, &n.vid, None, deleted.id).await;
    let last = again
        .until("comment", Duration::from_secs(5), |d| {
            d["id"] == other["id"]
        })
        .await
        .id;
    drop(again);
    n.a.delete(
        &format!("/videos/{}/comment/{}", n.vid, seg_of(&other)),
        &n.ann,
    )
    .await
    .expect(204);
    for app in [&n.a, &n.b] {
        let mut resumed = Stream::open(app, &n.vid, None, last).await;
        let e = resumed
            .until("comment_delete", Duration::from_secs(5), |_| true)
            .await;
        assert_eq!(e.data["id"], other["id"]);
    }
    // Refused deletes announce nothing: a stranger's (403), an unknown comment's (404).
    let carl = n.a.register("carl").await;
    let kept = n.a.comment(&n.vid, &n.bob, "stays").await;
    n.a.delete(
        &format!("/videos/{}/comment/{}", n.vid, seg_of(&kept)),
        &carl,
    )
    .await
    .assert_error(403, "403");
    let deletes =
        n.a.sql_count(
            "SELECT COUNT(*) FROM live_events WHERE kind = 'comment_delete'",
            (),
        )
        .await;
    assert_eq!(deletes, 2);
}

/// A comment object's id, for a path.
fn seg_of(comment: &Value) -> String {
    comment["id"].as_str().expect("a comment id").to_string()
}

#[tokio::test]
async fn deleting_a_video_tells_every_stream_and_ends_them_all_the_owners_too() {
    let n = two_nodes().await;
    let mut owner = Stream::open(&n.a, &n.vid, Some(&n.ann), None).await;
    let mut bob = Stream::open(&n.b, &n.vid, Some(&n.bob), None).await;
    let mut visitor = Stream::open(&n.a, &n.vid, None, None).await;
    for s in [&mut owner, &mut bob, &mut visitor] {
        s.viewers(3).await;
    }
    let sent = Instant::now();
    n.b.delete(
        &format!("/user/ann/videos/{}", n.vid),
        &n.b.login("ann").await,
    )
    .await
    .expect(204);
    for s in [&mut owner, &mut bob, &mut visitor] {
        told_gone(s, sent, "deleted").await;
        // Then the server ends it (a viewer count may still come in between, nothing else).
        let after = s.ends(Duration::from_secs(5)).await;
        assert!(after.iter().all(|name| name == "viewers"), "{after:?}");
    }
    // A stream opened now, resuming or not, is a 404 for everyone.
    for session in [Some(n.ann.as_str()), Some(n.bob.as_str()), None] {
        n.a.read(&format!("/videos/{}/live", n.vid), session)
            .await
            .assert_error(404, "404");
    }
    let r =
        n.b.request(Method::GET, &format!("/videos/{}/live", n.vid))
            .header("X-Session-Id", &n.ann)
            .header("Last-Event-ID", "1")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 404);
    // The streams are no longer counted on either node (the metrics are the test process's,
    // shared with other tests; the presence rows are this database's).
    svc::testing::eventually("the streams are gone", Duration::from_secs(5), || async {
        let watching =
            n.a.sql_count(
                "SELECT CAST(COALESCE(SUM(viewers), 0) AS UNSIGNED) FROM live_presence
                  WHERE video_id = ?",
                (n.vid.as_str(),),
            )
            .await;
        (watching == 0).then_some(())
    })
    .await;
}

/// `s` is told the video went for `reason`, with an id, within 2 s of `sent`.
async fn told_gone(s: &mut Stream, sent: Instant, reason: &str) {
    let gone = s
        .until("video_gone", Duration::from_secs(5), |_| true)
        .await;
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(gone.data, json!({ "reason": reason }));
    assert!(gone.id.is_some());
}

#[tokio::test]
async fn making_a_video_private_ends_every_stream_but_the_owners() {
    let n = two_nodes().await;
    let mut owner = Stream::open(&n.b, &n.vid, Some(&n.ann), None).await;
    let mut bob = Stream::open(&n.a, &n.vid, Some(&n.bob), None).await;
    let mut visitor = Stream::open(&n.b, &n.vid, None, None).await;
    for s in [&mut owner, &mut bob, &mut visitor] {
        s.viewers(3).await;
    }
    // A name change announces nothing; making it private does.
    n.a.edit("ann", &n.ann, &n.vid, json!({"name": "Renamed"}))
        .await;
    let sent = Instant::now();
    n.a.edit("ann", &n.ann, &n.vid, json!({"visibility": "private"}))
        .await;
    for s in [&mut owner, &mut bob, &mut visitor] {
        told_gone(s, sent, "private").await;
    }
    for s in [&mut bob, &mut visitor] {
        let after = s.ends(Duration::from_secs(5)).await;
        assert!(after.iter().all(|name| name == "viewers"), "{after:?}");
    }
    // The owner's goes on: it hears the others leave, and its own comment.
    owner.viewers(1).await;
    let mine = n.a.comment(&n.vid, &n.ann, "still mine").await;
    owner
        .until("comment", Duration::from_secs(5), |d| d["id"] == mine["id"])
        .await;
    // Editing a private video again, private included, announces nothing more.
    n.a.edit(
        "ann",
        &n.ann,
        &n.vid,
        json!({"visibility": "private", "description": "quiet"}),
    )
    .await;
    let gone_rows = || {
        n.a.sql_count(
            "SELECT COUNT(*) FROM live_events WHERE kind = 'video_gone'",
            (),
        )
    };
    assert_eq!(gone_rows().await, 1);
    // The others are refused a new stream; the owner, resuming from before, is replayed the
    // event with the rest.
    let path = format!("/videos/{}/live", n.vid);
    n.b.read(&path, Some(&n.bob)).await.assert_error(404, "404");
    n.b.read(&path, None).await.assert_error(404, "404");
    let first = owner.seen.iter().find_map(|e| e.id).expect("an id");
    let before_gone = first - 1;
    let mut resumed = Stream::open(&n.a, &n.vid, Some(&n.ann), Some(before_gone)).await;
    resumed
        .until("comment", Duration::from_secs(5), |d| d["id"] == mine["id"])
        .await;
    assert_eq!(
        resumed.named("video_gone"),
        owner.named("video_gone"),
        "{:?}",
        resumed.seen
    );
    // Public again: bob may watch, and resuming from before does not replay the `video_gone`
    // that no longer holds for him, nor end his stream.
    n.a.edit("ann", &n.ann, &n.vid, json!({"visibility": "public"}))
        .await;
    let mut back = Stream::open(&n.b, &n.vid, Some(&n.bob), Some(before_gone)).await;
    back.until("comment", Duration::from_secs(5), |d| d["id"] == mine["id"])
        .await;
    let hello = n.a.comment(&n.vid, &n.bob, "back again").await;
    back.until("comment", Duration::from_secs(5), |d| {
        d["id"] == hello["id"]
    })
    .await;
    assert!(back.named("video_gone").is_empty(), "{:?}", back.seen);
    // Private once more: a second event, and bob's stream ends again.
    n.a.edit("ann", &n.ann, &n.vid, json!({"visibility": "private"}))
        .await;
    back.until("video_gone", Duration::from_secs(5), |d| {
        d["reason"] == "private"
    })
    .await;
    back.ends(Duration::from_secs(5)).await;
    assert_eq!(gone_rows().await, 2);
}

/// A row of a kind this build does not know, as a newer api node would write during a rolling
/// upgrade: the poller passes over it at once (no wait as for a gap) and delivers what follows,
/// a resuming stream is replayed the rest, and the row is counted.
#[tokio::test]
async fn events_of_an_unknown_kind_are_skipped_without_stalling_anything() {
    use mysql_async::prelude::Queryable;
    let db = Arc::new(TestDb::migrated().await);
    let app = spawn_on(db.clone(), NODE).await;
    let ann = app.register("ann").await;
    let vid = app
        .published("ann", &ann, "v", "", Visibility::Public)
        .await;
    let mut conn = db.pool.get_conn().await.expect("a connection");
    // What a later migration would do.
    conn.query_drop(
        "ALTER TABLE live_events MODIFY kind ENUM('danmaku', 'danmaku_delete', 'comment',
             'comment_delete', 'video_gone', 'from_the_future') NOT NULL",
    )
    .await
    .expect("a later kind");
    let mut s = Stream::open(&app, &vid, None, None).await;
    s.viewers(1).await;
    let first = danmaku(&app, &vid, &ann, "before", 0).await;
    let before = s
        .until("danmaku", Duration::from_secs(5), |d| {
            d["id"] == first["id"]
        })
        .await
        .id;
    let unknown_before = counter(&app.metrics().await, "api_live_events_unknown_total");
    for _ in 0..3 {
        conn.exec_drop(
            "INSERT INTO live_events (video_id, kind, payload, created_at)
             VALUES (?, 'from_the_future', '{}', UTC_TIMESTAMP(6))",
            (&vid,),
        )
        .await
        .expect("an event of a later kind");
    }
    let sent = Instant::now();
    let after = danmaku(&app, &vid, &ann, "after", 0).await;
    s.until("danmaku", Duration::from_secs(5), |d| {
        d["id"] == after["id"]
    })
    .await;
    // A gap would hold it back a second; a known row after unknown ones is not a gap.
    let took = sent.elapsed();
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(!s.seen.iter().any(|e| e.name == "from_the_future"));
    let counted = counter(&app.metrics().await, "api_live_events_unknown_total");
    assert!(
        counted >= unknown_before + 3,
        "{unknown_before} then {counted}"
    );
    // Replayed without them.
    let mut again = Stream::open(&app, &vid, None, before).await;
    again
        .until("danmaku", Duration::from_secs(5), |d| {
            d["id"] == after["id"]
        })
        .await;
    let names: Vec<&str> = again.seen.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["viewers", "danmaku"], "{:?}", again.seen);

    // More unknown rows than a replay reads at once (1000): the cut replay sends none of them
    // but moves the client's last id past them, so its next reconnection gets what follows
    // instead of reading the same rows again for ever.
    conn.exec_drop(
        "INSERT INTO live_events (video_id, kind, payload, created_at)
         SELECT ?, 'from_the_future', '{}', UTC_TIMESTAMP(6) FROM seq_1_to_1000",
        (&vid,),
    )
    .await
    .expect("a thousand events of a later kind");
    let last = danmaku(&app, &vid, &ann, "past the thousand", 0).await;
    s.until("danmaku", Duration::from_secs(5), |d| d["id"] == last["id"])
        .await;
    // `again` last had "after": a thousand unknown rows, then this one.
    let mut cut = Stream::open(&app, &vid, None, again.last_id).await;
    let names = cut.ends(Duration::from_secs(5)).await;
    assert_eq!(names, ["viewers"], "{:?}", cut.seen);
    let resume = cut.last_id.expect("an id to resume from");
    assert!(resume > again.last_id.unwrap(), "{resume}");
    let mut rest = Stream::open(&app, &vid, None, Some(resume)).await;
    rest.until("danmaku", Duration::from_secs(5), |d| d["id"] == last["id"])
        .await;
}

/// The value of an unlabelled counter in Prometheus text.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}
