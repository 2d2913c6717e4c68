//! Abuse limits: reads without a session are rate limited per client IP, and search has its own
//! tighter limit for everyone; both answer 429 with `Retry-After`.
//!
//! The test client connects from 127.0.0.1, a trusted proxy by default, so each request names
//! its client in `X-Forwarded-For`, as web does.

use reqwest::Method;
use serde_json::json;
use svc::Visibility;

use crate::helpers::{reply, spawn_app, Reply, TestApp};

/// `GET path` from the client `ip`, with `session` or signed out.
async fn read_from(app: &TestApp, ip: &str, path: &str, session: Option<&str>) -> Reply {
    let mut req = app.request(Method::GET, path).header("X-Forwarded-For", ip);
    if let Some(s) = session {
        req = req.header("X-Session-Id", s);
    }
    reply(req).await
}

/// Asserts a 429 that says when to come back: within the minute the limits are counted in.
#[track_caller]
fn assert_limited(r: &Reply) {
    r.assert_error(429, "429");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn signed_out_reads_are_limited_per_client_ip_and_signed_in_ones_are_not() {
    let app = spawn_app(&[("READ_RATE_PER_MINUTE", "1")]).await;
    let ann = app.register("ann").await;
    let vid = app
        .published("ann", &ann, "x", "", Visibility::Public)
        .await;
    let a = "198.51.100.1";
    read_from(&app, a, "/videos", None).await.expect(200);
    // Every signed-out read route draws on the one allowance.
    for path in [
        "/videos".to_string(),
        "/user/ann".to_string(),
        "/user/ann/videos".to_string(),
        format!("/videos/{vid}"),
        format!("/user/ann/videos/{vid}"),
        format!("/videos/{vid}/comments"),
        "/search?q=x".to_string(),
    ] {
        assert_limited(&read_from(&app, a, &path, None).await);
    }
    // Another client has its own allowance; a signed-in reader from the limited address is
    // not limited, and neither are writes.
    read_from(&app, "198.51.100.2", "/videos", None)
        .await
        .expect(200);
    for _ in 0..5 {
        read_from(&app, a, "/videos", Some(&ann)).await.expect(200);
    }
    let comment = app
        .request(Method::POST, &format!("/videos/{vid}/comments"))
        .header("X-Forwarded-For", a)
        .header("X-Session-Id", &ann)
        .body(json!({"content": "still here"}).to_string());
    reply(comment).await.expect(201);
    // A dead session is told so (401) before any limit applies.
    let dead = uuid::Uuid::new_v4().to_string();
    read_from(&app, a, "/videos", Some(&dead))
        .await
        .assert_error(401, "002");
}

#[tokio::test]
async fn the_default_read_limit_allows_a_burst_of_a_tenth_of_the_minutes_rate() {
    let app = spawn_app(&[("READ_RATE_PER_MINUTE", "600")]).await;
    let ip = "198.51.100.7";
    // 600 a minute refills one read every 100 ms, so a slow machine gets a few more than the
    // burst of 60 before the first 429: as many as the time taken allows, and no more.
    let start = std::time::Instant::now();
    let mut allowed = 0;
    let refused = loop {
        let r = read_from(&app, ip, "/videos", None).await;
        if r.status != 200 {
            break r;
        }
        allowed += 1;
        assert!(allowed <= 1000, "no limit after {allowed} reads");
    };
    let refilled = (start.elapsed().as_millis() / 100) as usize;
    assert!(
        (60..=60 + refilled + 1).contains(&allowed),
        "{allowed} reads allowed in {:?}",
        start.elapsed()
    );
    assert_limited(&refused);
}

#[tokio::test]
async fn search_has_its_own_tighter_limit_for_everyone() {
    let app = spawn_app(&[("SEARCH_RATE_PER_MINUTE", "1")]).await;
    let ann = app.register("ann").await;
    let (a, b) = ("198.51.100.1", "198.51.100.2");
    // Signed in: the search limit applies all the same.
    read_from(&app, a, "/search?q=x", Some(&ann))
        .await
        .expect(200);
    assert_limited(&read_from(&app, a, "/search?q=x", Some(&ann)).await);
    // Signed out, from another address.
    read_from(&app, b, "/search?q=x", None).await.expect(200);
    assert_limited(&read_from(&app, b, "/search?q=x", None).await);
    // The other reads are not searches: the read limit here is off.
    for _ in 0..5 {
        read_from(&app, a, "/videos", None).await.expect(200);
    }
}

#[tokio::test]
async fn limits_of_zero_are_off() {
    let app = spawn_app(&[
        ("READ_RATE_PER_MINUTE", "0"),
        ("SEARCH_RATE_PER_MINUTE", "0"),
    ])
    .await;
    for _ in 0..100 {
        read_from(&app, "198.51.100.1", "/search?q=x", None)
            .await
            .expect(200);
    }
}
