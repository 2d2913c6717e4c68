//! Identity only from the session: spoofed headers, expired and revoked sessions, sliding
//! renewal, the sweeper, revocation seen by a second api process, and login rate limits.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{reply, spawn_app, spawn_on, PWD};

#[tokio::test]
async fn a_spoofed_x_user_name_without_a_session_is_401() {
    let app = spawn_app(&[]).await;
    app.register("ann").await;
    let vid = uuid::Uuid::new_v4();
    for (path, method) in [
        ("/user/ann".to_string(), Method::GET),
        ("/user/ann/videos".to_string(), Method::GET),
        ("/user/ann/videos".to_string(), Method::POST),
        ("/user/ann".to_string(), Method::DELETE),
        (format!("/user/ann/videos/{vid}"), Method::GET),
        (format!("/user/ann/videos/{vid}"), Method::DELETE),
        (format!("/videos/{vid}/comments"), Method::GET),
        (format!("/videos/{vid}/comment/{vid}"), Method::DELETE),
    ] {
        let mut req = app
            .client
            .request(method, app.url(&path))
            .header("X-User-Name", "ann");
        if path.ends_with("videos") {
            req = req.body(json!({"name": "x"}).to_string());
        }
        reply(req).await.assert_error(401, "002");
    }
    // Nor does a session-shaped value that is not a session.
    let r = reply(
        app.client
            .get(app.url("/user/ann"))
            .header("X-User-Name", "ann")
            .header("X-Session-Id", uuid::Uuid::new_v4().to_string()),
    )
    .await;
    r.assert_error(401, "002");
    let r = reply(
        app.client
            .get(app.url("/user/ann"))
            .header("X-Session-Id", "' OR 1=1 --"),
    )
    .await;
    r.assert_error(401, "002");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM video_info", ()).await,
        0
    );
}

#[tokio::test]
async fn author_id_in_a_body_is_ignored() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let bob_id = app.get("/user/bob", &bob).await.body["id"]
        .as_u64()
        .unwrap();
    let r = app
        .post(
            "/user/ann/videos",
            Some(&ann),
            json!({"name": "mine", "author_id": bob_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["author"], "ann");
    assert_ne!(r.body["author_id"].as_u64().unwrap(), bob_id);
    let vid = r.body["id"].as_str().unwrap();
    let c = app
        .post(
            &format!("/videos/{vid}/comments"),
            Some(&ann),
            json!({"content": "hi", "author_id": bob_id}),
        )
        .await;
    assert_eq!(c.status, 201, "{c:?}");
    assert_eq!(c.body["author"], "ann");
}

#[tokio::test]
async fn an_expired_session_is_401() {
    let app = spawn_app(&[]).await;
    let sid = app.register("ann").await;
    app.sql(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE session_id = ?",
        (&sid,),
    )
    .await;
    app.get("/user/ann", &sid).await.assert_error(401, "002");
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
    app.sql(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) + INTERVAL 1000 SECOND WHERE session_id = ?",
        (&sid,),
    )
    .await;
    assert_eq!(app.get("/user/ann", &sid).await.status, 200);
    assert!(app.sql_count(left, (&sid,)).await <= 1000);
    // Less than half left: renewed to a full TTL.
    app.sql(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) + INTERVAL 60 SECOND WHERE session_id = ?",
        (&sid,),
    )
    .await;
    assert_eq!(app.get("/user/ann", &sid).await.status, 200);
    let renewed = app.sql_count(left, (&sid,)).await;
    assert!(renewed >= 1790, "{renewed}");
}

#[tokio::test]
async fn the_sweeper_deletes_expired_sessions_and_sets_the_gauge() {
    let app = spawn_app(&[]).await;
    let live = app.register("ann").await;
    let dead = app.register("bob").await;
    app.sql(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE session_id = ?",
        (&dead,),
    )
    .await;
    let swept = app.api.sweep_once().await.unwrap();
    assert_eq!(swept, 1);
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM sessions", ()).await, 1);
    assert_eq!(app.get("/user/ann", &live).await.status, 200);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("api_sessions_active"), "{metrics}");
}

#[tokio::test]
async fn the_periodic_sweeper_runs_by_itself() {
    let app = spawn_app(&[("SESSION_SWEEP_INTERVAL", "200ms")]).await;
    let dead = app.register("ann").await;
    app.sql(
        "UPDATE sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE session_id = ?",
        (&dead,),
    )
    .await;
    let mut gone = false;
    for _ in 0..100 {
        if app.sql_count("SELECT COUNT(*) FROM sessions", ()).await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the expired session was never swept");
}

#[tokio::test]
async fn a_logout_on_one_api_process_reaches_another_within_its_cache_ttl() {
    let a = spawn_app(&[]).await;
    let b = spawn_on(a.db.clone(), &[("SESSION_CACHE_TTL", "1s")]).await;
    let sid = a.register("ann").await;
    assert_eq!(b.get("/user/ann", &sid).await.status, 200);
    assert_eq!(a.delete("/user/ann", &sid).await.status, 204);
    let mut refused = false;
    for _ in 0..50 {
        if b.get("/user/ann", &sid).await.status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "the other process kept accepting a revoked session"
    );
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client_ip_with_retry_after() {
    let app = spawn_app(&[("AUTH_RATE_PER_MIN", "1"), ("AUTH_BURST", "2")]).await;
    let login = |xff: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/user/ann"))
            .body(json!({"user_name": "ann", "pwd": PWD}).to_string());
        if let Some(ip) = xff {
            req = req.header("X-Forwarded-For", ip);
        }
        reply(req)
    };
    // The test client connects from 127.0.0.1, a trusted proxy by default, so the limit applies
    // to the forwarded address.
    assert_eq!(login(Some("198.51.100.1")).await.status, 401);
    assert_eq!(login(Some("198.51.100.1")).await.status, 401);
    let r = login(Some("198.51.100.1")).await;
    r.assert_error(429, "429");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Register counts against the same allowance.
    let r = reply(
        app.client
            .post(app.url("/user"))
            .header("X-Forwarded-For", "198.51.100.1")
            .body(json!({"user_name": "ann", "pwd": PWD}).to_string()),
    )
    .await;
    r.assert_error(429, "429");
    // Another client is not affected.
    assert_eq!(login(Some("198.51.100.2")).await.status, 401);

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
        let r = reply(
            strict
                .client
                .post(strict.url("/user/ann"))
                .header("X-Forwarded-For", ip)
                .body(json!({"user_name": "ann", "pwd": PWD}).to_string()),
        )
        .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}
