//! The live stream on the wire. On a fresh HTTP/1.1 connection the server loop hands a
//! stream's request over to the api, which writes the stream outside hyper (so an idle one
//! costs a few KiB, issue 14); a request that comes later on a kept-alive connection is hyper's.
//! Both answer alike: the same errors, the same headers, the same events, `Last-Event-ID`
//! included; a `video_gone` ends a stream on either, and a shutdown ends the taken-over streams.
//! Read over raw TCP, as the two paths only differ there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use svc::testing::TestDb;
use svc::Visibility;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::helpers::{spawn_on, TestApp};

/// One raw HTTP/1.1 connection to the api.
struct Conn {
    reader: BufReader<TcpStream>,
}

/// A response head and, for a sized answer, its body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    /// The headers both paths must agree on.
    content_type: Option<String>,
    cache_control: Option<String>,
    x_accel_buffering: Option<String>,
    chunked: bool,
    /// The JSON of a sized body.
    json: Option<Value>,
}

impl Conn {
    async fn open(app: &TestApp) -> Self {
        Conn {
            reader: BufReader::new(TcpStream::connect(app.addr).await.unwrap()),
        }
    }

    /// Sends `GET /videos/{vid}/live` with the given extra header lines.
    async fn live(&mut self, vid: &str, headers: &[(&str, &str)]) {
        let mut head = format!("GET /videos/{vid}/live HTTP/1.1\r\nHost: api\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.reader
            .get_mut()
            .write_all(head.as_bytes())
            .await
            .unwrap();
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("a line within 10 s")
            .unwrap();
        line
    }

    /// The head, and the body when it is sized (an error); a stream's body is left to `chunk`.
    async fn answer(&mut self) -> Answer {
        let status = self.line().await;
        assert!(status.starts_with("HTTP/1.1 "), "{status:?}");
        let mut answer = Answer {
            status: status[9..12].parse().unwrap(),
            content_type: None,
            cache_control: None,
            x_accel_buffering: None,
            chunked: false,
            json: None,
        };
        let mut length = None;
        loop {
            let line = self.line().await;
            if line == "\r\n" {
                break;
            }
            let (name, value) = line.trim_end().split_once(": ").unwrap();
            let value = value.to_string();
            match name.to_ascii_lowercase().as_str() {
                "content-type" => answer.content_type = Some(value),
                "cache-control" => answer.cache_control = Some(value),
                "x-accel-buffering" => answer.x_accel_buffering = Some(value),
                "transfer-encoding" => answer.chunked = value == "chunked",
                "content-length" => length = Some(value.parse::<usize>().unwrap()),
                _ => {}
            }
        }
        if let Some(len) = length {
            let mut body = vec![0; len];
            self.reader.read_exact(&mut body).await.unwrap();
            answer.json = Some(serde_json::from_slice(&body).unwrap());
        }
        answer
    }

    /// The next chunk of a stream; `None` at its end.
    async fn chunk(&mut self) -> Option<String> {
        let size = usize::from_str_radix(self.line().await.trim_end(), 16).unwrap();
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).await.unwrap();
        data.truncate(size);
        (size > 0).then(|| String::from_utf8(data).unwrap())
    }

    /// Chunks until one contains `needle`; returns everything read.
    async fn until(&mut self, needle: &str) -> String {
        let mut seen = String::new();
        while !seen.contains(needle) {
            let chunk = self.chunk().await;
            seen.push_str(&chunk.unwrap_or_else(|| panic!("ended before {needle:?}: {seen}")));
        }
        seen
    }

    /// Whether the api closed the connection.
    async fn closed(&mut self) -> bool {
        let mut rest = vec![];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(0))
        )
    }
}

/// An api (heartbeats far apart, no danmaku limit), ann with a public and a private video.
async fn api() -> (TestApp, String, String, String) {
    let db = Arc::new(TestDb::migrated().await);
    let app = spawn_on(
        db,
        &[
            ("DANMAKU_INTERVAL", "0"),
            ("LIVE_HEARTBEAT", "60s"),
            ("DRAIN_TIMEOUT", "60s"),
        ],
    )
    .await;
    let ann = app.register("ann").await;
    let public = app
        .published("ann", &ann, "Live", "", Visibility::Public)
        .await;
    let private = app
        .published("ann", &ann, "Mine", "", Visibility::Private)
        .await;
    (app, ann, public, private)
}

async fn danmaku(app: &TestApp, vid: &str, session: &str, text: &str) -> u64 {
    app.post(
        &format!("/videos/{vid}/danmaku"),
        Some(session),
        json!({"text": text, "at_ms": 1000}),
    )
    .await
    .expect(201);
    // The event id the stream will carry is the newest of the video's live events.
    let rows: Vec<u64> = {
        use mysql_async::prelude::Queryable;
        let mut conn = app.api.pool.get_conn().await.unwrap();
        conn.exec(
            "SELECT id FROM live_events WHERE video_id = ? ORDER BY id DESC LIMIT 1",
            (vid,),
        )
        .await
        .unwrap()
    };
    rows[0]
}

#[tokio::test]
async fn errors_are_the_same_on_a_fresh_connection_and_on_a_kept_alive_one() {
    let (app, _ann, _public, private) = api().await;
    let unknown = svc::VideoId::random().as_str().to_string();
    let dead = uuid::Uuid::new_v4().to_string();
    // (video, session, status, error code)
    let cases = [
        (private.as_str(), None, 404, "404"),
        (unknown.as_str(), None, 404, "404"),
        ("nope", None, 404, "404"),
        (private.as_str(), Some(dead.as_str()), 401, "002"),
    ];
    for (vid, session, status, code) in cases {
        let headers: Vec<(&str, &str)> = session.map(|s| ("X-Session-Id", s)).into_iter().collect();
        let mut c = Conn::open(&app).await;
        // First on the connection: taken over.
        c.live(vid, &headers).await;
        let taken = c.answer().await;
        // Second on the same connection: hyper's.
        c.live(vid, &headers).await;
        let hyper = c.answer().await;
        assert_eq!(taken, hyper, "{vid} {headers:?}");
        assert_eq!(taken.status, status, "{taken:?}");
        let body = taken.json.unwrap();
        assert_eq!(body["error_code"], code, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn a_stream_is_the_same_whichever_path_serves_it_and_resumes_after_last_event_id() {
    let (app, ann, public, private) = api().await;
    // Taken over: the first request of its connection.
    let mut taken = Conn::open(&app).await;
    taken.live(&public, &[]).await;
    let head = taken.answer().await;
    assert_eq!(
        head,
        Answer {
            status: 200,
            content_type: Some("text/event-stream; charset=utf-8".into()),
            cache_control: Some("no-cache".into()),
            x_accel_buffering: Some("no".into()),
            chunked: true,
            json: None,
        }
    );
    assert_eq!(
        taken.chunk().await.as_deref(),
        Some("retry: 3000\n\nevent: viewers\ndata: {\"viewers\":1}\n\n")
    );
    let metrics = app.metrics().await;
    let open: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("http_connections_taken_over "))
        .expect("the taken-over gauge")
        .parse()
        .unwrap();
    assert!(open >= 1.0, "{open}");

    // hyper's: after an error on the same connection.
    let mut kept = Conn::open(&app).await;
    kept.live(&private, &[]).await;
    assert_eq!(kept.answer().await.status, 404);
    kept.live(&public, &[]).await;
    assert_eq!(kept.answer().await, head);
    kept.until("\"viewers\":2").await;
    taken.until("\"viewers\":2").await;

    // A danmaku reaches both.
    let first = danmaku(&app, &public, &ann, "hello").await;
    for c in [&mut taken, &mut kept] {
        let seen = c.until("hello").await;
        assert!(
            seen.contains(&format!("id: {first}\nevent: danmaku\n")),
            "{seen}"
        );
    }
    // A client that saw `first` and missed two more is replayed exactly those, taken over.
    let second = danmaku(&app, &public, &ann, "second").await;
    let third = danmaku(&app, &public, &ann, "third").await;
    let mut resumed = Conn::open(&app).await;
    resumed
        .live(&public, &[("Last-Event-ID", &first.to_string())])
        .await;
    assert_eq!(resumed.answer().await.status, 200);
    let seen = resumed.until("third").await;
    assert!(!seen.contains("hello"), "{seen}");
    let second_at = seen.find(&format!("id: {second}\n")).expect(&seen);
    let third_at = seen.find(&format!("id: {third}\n")).expect(&seen);
    assert!(second_at < third_at, "{seen}");
    assert_eq!(seen.matches("event: danmaku").count(), 2, "{seen}");
}

#[tokio::test]
async fn a_shutdown_ends_taken_over_streams_at_once() {
    let (app, _ann, public, _private) = api().await;
    let mut c = Conn::open(&app).await;
    c.live(&public, &[]).await;
    assert_eq!(c.answer().await.status, 200);
    c.until("viewers").await;
    let stopping = Instant::now();
    // The drain timeout is 60 s: only the stream ending lets the connection close sooner.
    drop(app);
    while c.chunk().await.is_some() {}
    assert!(c.closed().await);
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn a_video_gone_ends_the_stream_on_both_paths_and_the_connections_serve_on() {
    let (app, ann, public, _private) = api().await;
    let bob = app.register("bob").await;
    // bob's stream taken over; a visitor's on hyper, after a first request on its connection.
    let mut taken = Conn::open(&app).await;
    taken.live(&public, &[("X-Session-Id", &bob)]).await;
    assert_eq!(taken.answer().await.status, 200);
    taken.until("viewers").await;
    let mut kept = Conn::open(&app).await;
    kept.live("nope", &[]).await;
    assert_eq!(kept.answer().await.status, 404);
    kept.live(&public, &[]).await;
    assert_eq!(kept.answer().await.status, 200);
    kept.until("\"viewers\":2").await;
    app.edit("ann", &ann, &public, json!({"visibility": "private"}))
        .await;
    for c in [&mut taken, &mut kept] {
        let seen = c.until("video_gone").await;
        assert!(
            seen.contains("event: video_gone\ndata: {\"reason\":\"private\"}\n\n"),
            "{seen}"
        );
        // Then the chunked body's end (a viewer count may come first).
        while let Some(more) = c.chunk().await {
            assert!(more.starts_with("event: viewers\n"), "{more}");
        }
    }
    // Both connections stay usable: the next request on each, a reconnection, is a 404 now,
    // the video being no longer bob's or the visitor's to see.
    taken.live(&public, &[("X-Session-Id", &bob)]).await;
    assert_eq!(taken.answer().await.status, 404);
    kept.live(&public, &[]).await;
    assert_eq!(kept.answer().await.status, 404);
}
