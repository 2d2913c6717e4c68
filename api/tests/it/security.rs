//! Identity only from the session: spoofed headers, expired and revoked sessions, sliding
//! renewal, the sweeper, revocation seen by a second api process, and login rate limits.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use svc::testing::eventually;
use svc::Visibility;

use crate::helpers::{reply, spawn_app, spawn_on, spawn_with_users, TestApp, PWD};

#[tokio::test]
async fn a_spoofed_x_user_name_without_a_session_writes_nothing_and_reads_as_signed_out() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let private = app
        .published("ann", &ann, "mine", "", Visibility::Private)
        .await;
    let vid = uuid::Uuid::new_v4();
    for (path, method) in [
        ("/user/ann/videos".to_string(), Method::POST),
        ("/user/ann".to_string(), Method::DELETE),
        (format!("/user/ann/videos/{private}"), Method::PATCH),
        (format!("/user/ann/videos/{private}"), Method::DELETE),
        (format!("/videos/{private}/comments"), Method::POST),
        (format!("/videos/{vid}/comment/{vid}"), Method::DELETE),
        ("/session".to_string(), Method::GET),
    ] {
        let req = app
            .request(method, &path)
            .header("X-User-Name", "ann")
            .body(json!({"name": "x", "content": "x"}).to_string());
        reply(req).await.assert_error(401, "002");
    }
    // Reads answer as to anyone signed out: ann's private video is not there.
    for path in [
        format!("/videos/{private}"),
        format!("/user/ann/videos/{private}"),
        format!("/videos/{private}/comments"),
    ] {
        let req = app.request(Method::GET, &path).header("X-User-Name", "ann");
        reply(req).await.assert_error(404, "404");
    }
    let req = app
        .request(Method::GET, "/user/ann")
        .header("X-User-Name", "ann");
    assert_eq!(reply(req).await.expect(200).body["video_count"], 0);
    // A session-shaped value that is not a session, or one that is not even that, is 401 on
    // reads too (a client learns its session is gone); a blank one is no session at all.
    let other = uuid::Uuid::new_v4().to_string();
    for sid in [other.as_str(), "' OR 1=1 --"] {
        let req = app
            .request(Method::GET, "/user/ann")
            .header("X-User-Name", "ann")
            .header("X-Session-Id", sid);
        reply(req).await.assert_error(401, "002");
    }
    for blank in ["", "   "] {
        let req = app
            .request(Method::GET, "/user/ann")
            .header("X-Session-Id", blank);
        assert_eq!(reply(req).await.expect(200).body["video_count"], 0);
    }
    assert_eq!(app.rows("video_info").await, 1);
    assert_eq!(app.rows("comments").await, 0);
}

#[tokio::test]
async fn author_id_in_a_body_is_ignored() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let bob_id = app.get("/user/bob", &bob).await.body["id"]
        .as_u64()
        .unwrap();
    let r = app
        .post(
            "/user/ann/videos",
            Some(&ann),
            json!({"name": "mine", "author_id": bob_id}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["author"], "ann");
    assert_ne!(r.body["author_id"].as_u64().unwrap(), bob_id);
    let vid = r.body["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/videos/{vid}/comments"),
            Some(&ann),
            json!({"content": "hi", "author_id": bob_id}),
        )
        .await
        .expect(201);
    assert_eq!(c.body["author"], "ann");
}

#[tokio::test]
async fn an_expired_session_is_401_even_where_signed_out_reads_are_allowed() {
    // No session cache, so that the expiry written below is seen at once.
    let app = spawn_app(&[("SESSION_CACHE_TTL", "0")]).await;
    let sid = app.register("ann").await;
    let vid = app
        .published("ann", &sid, "x", "", Visibility::Public)
        .await;
    app.expire_in(&sid, -1).await;
    for path in [
        "/user/ann".to_string(),
        "/user/ann/videos".to_string(),
        "/videos".to_string(),
        "/search?q=x".to_string(),
        format!("/videos/{vid}"),
        format!("/user/ann/videos/{vid}"),
        format!("/videos/{vid}/comments"),
    ] {
        app.get(&path, &sid).await.assert_error(401, "002");
        app.read(&path, None).await.expect(200);
    }
}

#[tokio::test]
async fn sessions_slide_when_half_their_time_is_gone() {
    let app = spawn_app(&[("SESSION_CACHE_TTL", "0")]).await;
    let sid = app.register("ann").await;
    let left = "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(3), expires_at) FROM sessions
                 WHERE session_id = ?";
    let fresh = app.sql_count(left, (&sid,)).await;
    assert!((1790..=1800).contains(&fresh), "{fresh}");
    // More than half left: a request does not write.
    app.expire_in(&sid, 1000).await;
    app.get("/user/ann", &sid).await.expect(200);
    assert!(app.sql_count(left, (&sid,)).await <= 1000);
    // Less than half left: renewed to a full TTL.
    app.expire_in(&sid, 60).await;
    app.get("/user/ann", &sid).await.expect(200);
    let renewed = app.sql_count(left, (&sid,)).await;
    assert!(renewed >= 1790, "{renewed}");
}

#[tokio::test]
async fn the_sweeper_deletes_expired_sessions_and_sets_the_gauge() {
    let (app, [live, dead]) = spawn_with_users(["ann", "bob"]).await;
    app.expire_in(&dead, -3600).await;
    let swept = app.api.sweep_once().await.unwrap();
    assert_eq!(swept, 1);
    assert_eq!(app.rows("sessions").await, 1);
    app.get("/user/ann", &live).await.expect(200);
    let metrics = app.metrics().await;
    // The gauge is one per process, shared by every test's app: only its presence is ours to check.
    assert!(metrics.contains("api_sessions_active"), "{metrics}");
}

#[tokio::test]
async fn the_periodic_sweeper_runs_by_itself() {
    let app = spawn_app(&[("SESSION_SWEEP_INTERVAL", "200ms")]).await;
    let dead = app.register("ann").await;
    app.expire_in(&dead, -1).await;
    eventually(
        "the sweeper to delete the expired session",
        Duration::from_secs(10),
        || async { (app.rows("sessions").await == 0).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_logout_on_one_api_process_reaches_another_within_its_cache_ttl() {
    let a = spawn_app(&[]).await;
    let b = spawn_on(a.db.clone(), &[("SESSION_CACHE_TTL", "1s")]).await;
    let sid = a.register("ann").await;
    b.get("/user/ann", &sid).await.expect(200);
    a.delete("/user/ann", &sid).await.expect(204);
    // On `a` at once; on `b` once its cache stops vouching for it (1s here).
    a.get("/user/ann", &sid).await.assert_error(401, "002");
    let refused = eventually(
        "the other process to refuse a revoked session",
        Duration::from_secs(10),
        || async {
            let r = b.get("/user/ann", &sid).await;
            (r.status != 200).then_some(r)
        },
    )
    .await;
    refused.assert_error(401, "002");
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client_ip_with_retry_after() {
    let app = spawn_app(&[("AUTH_RATE_PER_MIN", "1"), ("AUTH_BURST", "2")]).await;
    // The test client connects from 127.0.0.1, a trusted proxy by default, so the limit applies
    // to the forwarded address.
    assert_eq!(attempt(&app, "/user/ann", "198.51.100.1").await, 401);
    assert_eq!(attempt(&app, "/user/ann", "198.51.100.1").await, 401);
    let r = reply(credentials(&app, "/user/ann", "198.51.100.1")).await;
    r.assert_error(429, "429");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Register counts against the same allowance.
    assert_eq!(attempt(&app, "/user", "198.51.100.1").await, 429);
    // Another client is not affected.
    assert_eq!(attempt(&app, "/user/ann", "198.51.100.2").await, 401);

    // When no proxy is trusted, a client cannot escape its bucket by inventing addresses.
    let strict = spawn_on(
        app.db.clone(),
        &[
            ("AUTH_RATE_PER_MIN", "1"),
            ("AUTH_BURST", "2"),
            ("TRUSTED_PROXIES", "none"),
        ],
    )
    .await;
    let mut statuses = vec![];
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        statuses.push(attempt(&strict, "/user/ann", ip).await);
    }
    assert_eq!(statuses, [401, 401, 429]);
}

/// ann's credentials posted to `path` (login or register) through a proxy that says the client
/// is `xff`.
fn credentials(app: &TestApp, path: &str, xff: &str) -> reqwest::RequestBuilder {
    app.request(Method::POST, path)
        .header("X-Forwarded-For", xff)
        .body(json!({"user_name": "ann", "pwd": PWD}).to_string())
}

/// The status of one [`credentials`] attempt.
async fn attempt(app: &TestApp, path: &str, xff: &str) -> u16 {
    reply(credentials(app, path, xff)).await.status.as_u16()
}
