//! Register, login, logout and the user page: each success and each failure status.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{reply, seg, spawn_app, spawn_with_users, PWD};

#[tokio::test]
async fn register_gives_201_a_uuid_session_and_stores_only_an_argon2id_hash() {
    let app = spawn_app(&[]).await;
    let r = app
        .post("/user", None, json!({"user_name": "ann", "pwd": PWD}))
        .await
        .expect(201);
    assert_eq!(r.body["success"], true);
    let sid = r.body["session_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(sid).unwrap().get_version_num(), 4);
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM users WHERE login_name = 'ann' AND pwd_hash LIKE '$argon2id$%'
               AND pwd_hash NOT LIKE CONCAT('%', ?, '%')",
            (PWD,)
        )
        .await,
        1
    );
    // The session works, spelled in any case.
    let me = app.get("/user/ann", sid).await.expect(200);
    assert_eq!(me.body["user_name"], "ann");
    let shouted = app.get("/user/ann", &sid.to_uppercase()).await.expect(200);
    assert_eq!(shouted.body, me.body);
    assert_eq!(me.body["video_count"], 0);
    assert!(me.body["id"].as_u64().is_some());
}

#[tokio::test]
async fn a_taken_name_is_409_and_names_are_case_sensitive() {
    let app = spawn_app(&[]).await;
    app.register("ann").await;
    app.post("/user", None, json!({"user_name": "ann", "pwd": PWD}))
        .await
        .assert_error(409, "409");
    // Byte-exact names: "Ann" is someone else.
    app.register("Ann").await;
}

#[tokio::test]
async fn two_concurrent_registrations_of_one_name_give_one_201_and_one_409() {
    let app = spawn_app(&[]).await;
    for round in 0..3 {
        let name = format!("race{round}");
        let body = json!({"user_name": name, "pwd": PWD});
        let (a, b) = tokio::join!(
            app.post("/user", None, body.clone()),
            app.post("/user", None, body.clone())
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
        assert_eq!(
            app.sql_count("SELECT COUNT(*) FROM users WHERE login_name = ?", (&name,))
                .await,
            1
        );
    }
}

#[tokio::test]
async fn bad_register_bodies_are_400_or_422_or_413_or_415_never_500() {
    let app = spawn_app(&[]).await;
    let raw = |content_type: &str, body: String| {
        app.request(Method::POST, "/user")
            .header("content-type", content_type)
            .body(body)
    };
    let json_body = |body: &str| raw("application/json", body.to_string());
    for body in [
        "",
        "{nope",
        r#"{"user_name": 5, "pwd": "12345678"}"#,
        r#"{"user_name": "ann"}"#,
        r#"{"user_name": "ann", "pwd": "12345678", "admin": true}"#,
        r#"["ann", "12345678"]"#,
        "null",
    ] {
        reply(json_body(body)).await.assert_error(400, "001");
    }
    let e = reply(json_body(
        r#"{"user_name": "ann", "pwd": "12345678", "x": 1}"#,
    ))
    .await;
    assert!(
        e.body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `x`"),
        "{e:?}"
    );
    for (name, pwd) in [
        ("", PWD),
        ("a b", PWD),
        ("ann'; DROP TABLE users; --", PWD),
        (&"n".repeat(65), PWD),
        ("ann", "short"),
        ("ann", &"p".repeat(257)),
    ] {
        app.post("/user", None, json!({"user_name": name, "pwd": pwd}))
            .await
            .assert_error(422, "422");
    }
    let big = format!(
        r#"{{"user_name": "ann", "pwd": "{}"}}"#,
        "p".repeat(70 * 1024)
    );
    reply(json_body(&big)).await.assert_error(413, "413");
    let form = raw(
        "application/x-www-form-urlencoded",
        "user_name=ann&pwd=12345678".into(),
    );
    reply(form).await.assert_error(415, "415");
    // A body without a Content-Type is read as JSON (the original's clients sent none).
    let bare = app
        .request(Method::POST, "/user")
        .body(json!({"user_name": "ann", "pwd": PWD}).to_string());
    reply(bare).await.expect(201);
    assert_eq!(app.rows("users").await, 1);
}

#[tokio::test]
async fn login_gives_a_new_session_and_fails_the_same_way_for_unknown_user_and_wrong_password() {
    let (app, [first]) = spawn_with_users(["ann"]).await;
    let r = app
        .post("/user/ann", None, json!({"user_name": "ann", "pwd": PWD}))
        .await
        .expect(200);
    assert_eq!(r.body["success"], true);
    let second = r.body["session_id"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    // Both sessions work: a user may be logged in on several devices.
    app.get("/user/ann", &first).await.expect(200);
    app.get("/user/ann", &second).await.expect(200);

    let wrong_pwd = app
        .post(
            "/user/ann",
            None,
            json!({"user_name": "ann", "pwd": "not the password"}),
        )
        .await;
    let unknown = app
        .post("/user/bob", None, json!({"user_name": "bob", "pwd": PWD}))
        .await;
    let impossible = app
        .post("/user/a%20b", None, json!({"user_name": "a b", "pwd": PWD}))
        .await;
    wrong_pwd.assert_error(401, "002");
    assert_eq!(wrong_pwd.text, unknown.text);
    assert_eq!(wrong_pwd.text, impossible.text);
    // Body name and path name must agree.
    app.post("/user/ann", None, json!({"user_name": "bob", "pwd": PWD}))
        .await
        .assert_error(400, "001");
    app.post("/user/ann", None, json!({"user_name": "ann"}))
        .await
        .assert_error(400, "001");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("api_logins_total{result=\"ok\"}")
            && metrics.contains("api_logins_total{result=\"failed\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn logout_revokes_only_that_session_and_only_for_yourself() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let ann2 = app.login("ann").await;
    let bob = app.register("bob").await;
    // Warm the cache, so the test shows revocation beats it.
    app.get("/user/ann", &ann).await.expect(200);
    app.delete("/user/ann", &bob).await.assert_error(403, "403");
    app.get("/user/ann", &ann).await.expect(200);
    let r = app.delete("/user/ann", &ann).await;
    assert!(r.expect(204).text.is_empty());
    app.get("/user/ann", &ann).await.assert_error(401, "002");
    app.delete("/user/ann", &ann).await.assert_error(401, "002");
    app.get("/user/ann", &ann2).await.expect(200);
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM sessions WHERE session_id = ?",
            (&ann,)
        )
        .await,
        0
    );
}

#[tokio::test]
async fn the_user_page_is_open_to_everyone_and_404s_unknown_users() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let bob = app.register("bob").await;
    let bob_id = app.get("/user/bob", &bob).await.body["id"].clone();
    for who in [Some(ann.as_str()), None] {
        let r = app.read("/user/bob", who).await.expect(200);
        assert_eq!(
            r.body,
            json!({"id": bob_id, "user_name": "bob", "video_count": 0,
                   "follower_count": 0, "following_count": 0})
        );
        for unknown in ["/user/nobody", "/user/no%20body", "/user/%FF"] {
            app.read(unknown, who).await.assert_error(404, "404");
        }
    }
}

#[tokio::test]
async fn get_session_says_whose_session_it_is_and_401_otherwise() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let ann_id = app.get("/user/ann", &ann).await.body["id"].clone();
    let r = app.get("/session", &ann).await.expect(200);
    assert_eq!(r.body, json!({"user_id": ann_id, "user_name": "ann"}));
    assert_eq!(app.get("/session", &bob).await.body["user_name"], "bob");
    // No session, one that never was, one that expired, one logged out: 401.
    app.assert_needs_session(Method::GET, "/session").await;
    let never = uuid::Uuid::new_v4().to_string();
    for sid in [never.as_str(), "not-a-session"] {
        app.get("/session", sid).await.assert_error(401, "002");
    }
    let expired = app.register("carl").await;
    app.expire_in(&expired, -1).await;
    app.get("/session", &expired).await.assert_error(401, "002");
    app.delete("/user/ann", &ann).await.expect(204);
    app.get("/session", &ann).await.assert_error(401, "002");
    let r = app.call(Method::POST, "/session", None, None).await;
    r.assert_error(405, "405");
    assert_eq!(r.headers["allow"], "GET");
}

#[tokio::test]
async fn unicode_user_names_round_trip_through_paths() {
    let app = spawn_app(&[]).await;
    let name = "Zoë_用户-1.x";
    let sid = app.register(name).await;
    let r = app.get(&format!("/user/{}", seg(name)), &sid).await;
    assert_eq!(r.expect(200).body["user_name"], name);
    let again = app.login(name).await;
    assert_ne!(again, sid);
    let v = app.create_video(name, &sid, "clip").await;
    assert_eq!(v["author"], name);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let (app, [sid]) = spawn_with_users(["ann"]).await;
    app.get("/nope", &sid).await.assert_error(404, "404");
    app.get("/videos/x/y", &sid).await.assert_error(404, "404");
    for (method, path, allow) in [
        (Method::PUT, "/user", "POST"),
        (Method::PATCH, "/user/ann", "GET, POST, DELETE"),
        (Method::PATCH, "/user/ann/videos", "GET, POST"),
        (Method::POST, "/user/ann/videos/x", "GET, PATCH, DELETE"),
        (Method::POST, "/videos", "GET"),
        (Method::DELETE, "/search", "GET"),
        (Method::DELETE, "/videos/x/comments", "GET, POST"),
        (Method::GET, "/videos/x/comment/y", "DELETE"),
    ] {
        let r = app.call(method.clone(), path, Some(&sid), None).await;
        r.assert_error(405, "405");
        assert_eq!(r.headers["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn each_route_is_counted_under_its_pattern_never_its_path() {
    let (app, [sid]) = spawn_with_users(["ann"]).await;
    let vid = app.new_video("ann", &sid, "x").await;
    app.get(&format!("/videos/{vid}"), &sid).await.expect(200);
    app.get(&format!("/user/ann/videos/{vid}"), &sid)
        .await
        .expect(200);
    let metrics = app.metrics().await;
    app.read("/videos", None).await.expect(200);
    app.read("/search?q=x", None).await.expect(200);
    app.get("/session", &sid).await.expect(200);
    for pattern in [
        "/user",
        "/user/{username}/videos",
        "/videos/{vid}",
        "/user/{username}/videos/{vid}",
        "/videos",
        "/search",
        "/session",
    ] {
        assert!(
            metrics.contains(&format!("route=\"{pattern}\"")),
            "{pattern}: {metrics}"
        );
    }
    assert!(!metrics.contains(&vid), "{metrics}");
    assert!(!metrics.contains("/user/ann"), "{metrics}");
}
