//! Register, login, logout and the user page: each success and each failure status.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{reply, seg, spawn_app, PWD};

#[tokio::test]
async fn register_gives_201_a_uuid_session_and_stores_only_an_argon2id_hash() {
    let app = spawn_app(&[]).await;
    let r = app
        .post("/user", None, json!({"user_name": "ann", "pwd": PWD}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
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
    // The session works.
    let me = app.get("/user/ann", sid).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["user_name"], "ann");
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
    let raw = |body: &'static str| {
        app.client
            .post(app.url("/user"))
            .header("content-type", "application/json")
            .body(body)
    };
    for body in [
        "",
        "{nope",
        r#"{"user_name": 5, "pwd": "12345678"}"#,
        r#"{"user_name": "ann"}"#,
        r#"{"user_name": "ann", "pwd": "12345678", "admin": true}"#,
        r#"["ann", "12345678"]"#,
        "null",
    ] {
        let r = reply(raw(body)).await;
        r.assert_error(400, "001");
    }
    let e = reply(raw(r#"{"user_name": "ann", "pwd": "12345678", "x": 1}"#)).await;
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
    let r = reply(
        app.client
            .post(app.url("/user"))
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    r.assert_error(413, "413");
    let r = reply(
        app.client
            .post(app.url("/user"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("user_name=ann&pwd=12345678"),
    )
    .await;
    r.assert_error(415, "415");
    // A body without a Content-Type is read as JSON (the original's clients sent none).
    let r = reply(
        app.client
            .post(app.url("/user"))
            .body(json!({"user_name": "ann", "pwd": PWD}).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM users", ()).await, 1);
}

#[tokio::test]
async fn login_gives_a_new_session_and_fails_the_same_way_for_unknown_user_and_wrong_password() {
    let app = spawn_app(&[]).await;
    let first = app.register("ann").await;
    let r = app
        .post("/user/ann", None, json!({"user_name": "ann", "pwd": PWD}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["success"], true);
    let second = r.body["session_id"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    // Both sessions work: a user may be logged in on several devices.
    assert_eq!(app.get("/user/ann", &first).await.status, 200);
    assert_eq!(app.get("/user/ann", &second).await.status, 200);

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

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("api_logins_total{result=\"ok\"}")
            && metrics.contains("api_logins_total{result=\"failed\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn logout_revokes_only_that_session_and_only_for_yourself() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let ann2 = app
        .post("/user/ann", None, json!({"user_name": "ann", "pwd": PWD}))
        .await
        .body["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = app.register("bob").await;
    // Warm the cache, so the test shows revocation beats it.
    assert_eq!(app.get("/user/ann", &ann).await.status, 200);
    app.delete("/user/ann", &bob).await.assert_error(403, "403");
    assert_eq!(app.get("/user/ann", &ann).await.status, 200);
    let r = app.delete("/user/ann", &ann).await;
    assert_eq!(r.status, 204, "{r:?}");
    assert!(r.text.is_empty());
    app.get("/user/ann", &ann).await.assert_error(401, "002");
    app.delete("/user/ann", &ann).await.assert_error(401, "002");
    assert_eq!(app.get("/user/ann", &ann2).await.status, 200);
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
async fn user_page_needs_a_session_and_404s_unknown_users() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    app.register("bob").await;
    let r = app.get("/user/bob", &ann).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["user_name"], "bob");
    app.get("/user/nobody", &ann).await.assert_error(404, "404");
    app.get("/user/no%20body", &ann)
        .await
        .assert_error(404, "404");
    app.call(Method::GET, "/user/bob", None, None)
        .await
        .assert_error(401, "002");
}

#[tokio::test]
async fn unicode_user_names_round_trip_through_paths() {
    let app = spawn_app(&[]).await;
    let name = "Zoë_用户-1.x";
    let sid = app.register(name).await;
    let r = app.get(&format!("/user/{}", seg(name)), &sid).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["user_name"], name);
    let login = app
        .post(
            &format!("/user/{}", seg(name)),
            None,
            json!({"user_name": name, "pwd": PWD}),
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    let v = app.create_video(name, &sid, "clip").await;
    assert_eq!(v["author"], name);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = spawn_app(&[]).await;
    let sid = app.register("ann").await;
    app.get("/nope", &sid).await.assert_error(404, "404");
    app.get("/videos/x/y", &sid).await.assert_error(404, "404");
    let r = app.call(Method::PUT, "/user", None, None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "POST");
    let r = app
        .call(Method::PATCH, "/user/ann/videos", Some(&sid), None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, POST");
}
