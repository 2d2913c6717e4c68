//! `PATCH /user/{username}/videos/{vid}`: the owner changes name, description and visibility;
//! everyone else, and every malformed edit, is refused and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};
use svc::Visibility;

use crate::helpers::{reply, spawn_with_users};

#[tokio::test]
async fn the_owner_edits_any_of_name_description_and_visibility() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let created = app
        .create_video_with(
            "ann",
            &ann,
            json!({"name": "First", "description": "old words"}),
        )
        .await;
    let vid = created["id"].as_str().unwrap();
    // One field at a time: the others stay as they were.
    let v = app.edit("ann", &ann, vid, json!({"name": "Renamed"})).await;
    assert_eq!(
        (&v["name"], &v["description"], &v["visibility"]),
        (&json!("Renamed"), &json!("old words"), &json!("public"))
    );
    let v = app
        .edit("ann", &ann, vid, json!({"visibility": "unlisted"}))
        .await;
    assert_eq!(
        (&v["name"], &v["visibility"]),
        (&json!("Renamed"), &json!("unlisted"))
    );
    let text = "New lines\nkept\r\n\tas sent";
    let v = app
        .edit("ann", &ann, vid, json!({"description": text}))
        .await;
    assert_eq!(
        (&v["description"], &v["visibility"]),
        (&json!(text), &json!("unlisted"))
    );
    // All three at once; an empty description clears it.
    let v = app
        .edit(
            "ann",
            &ann,
            vid,
            json!({"name": "Final", "description": "", "visibility": "private"}),
        )
        .await;
    assert_eq!(
        (&v["name"], &v["description"], &v["visibility"]),
        (&json!("Final"), &json!(""), &json!("private"))
    );
    // The answer is the video object, the same as a read gives; nothing else moved.
    assert_eq!(
        app.get(&format!("/videos/{vid}"), &ann)
            .await
            .expect(200)
            .body,
        v
    );
    for same in [
        "id",
        "author",
        "author_id",
        "create_time",
        "display_ctime",
        "state",
        "play_url",
    ] {
        assert_eq!(v[same], created[same], "{same}");
    }
}

#[tokio::test]
async fn bad_edits_are_400_or_422_and_change_nothing() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let before = app
        .create_video_with("ann", &ann, json!({"name": "Kept", "description": "kept"}))
        .await;
    let vid = before["id"].as_str().unwrap();
    let path = format!("/user/ann/videos/{vid}");
    let malformed: [Value; 10] = [
        json!({}),
        json!({"name": null}),
        json!({"title": "x"}),
        json!({"name": "x", "author_id": 1}),
        json!({"name": 5}),
        json!({"description": ["x"]}),
        json!({"visibility": "secret"}),
        json!({"visibility": "PUBLIC"}),
        json!({"visibility": true}),
        json!(["name", "x"]),
    ];
    for body in malformed {
        app.patch(&path, Some(&ann), body)
            .await
            .assert_error(400, "001");
    }
    let r = app.patch(&path, Some(&ann), json!({})).await;
    let message = r.body["error"].as_str().unwrap();
    assert!(
        message.contains("at least one of name, description and visibility"),
        "{r:?}"
    );
    for body in [
        json!({"name": ""}),
        json!({"name": "  "}),
        json!({"name": "v".repeat(201)}),
        json!({"name": "two\nlines"}),
        json!({"description": "d".repeat(5001)}),
        json!({"description": "nul\u{0}"}),
        // One bad field spoils the whole edit.
        json!({"visibility": "private", "name": ""}),
    ] {
        app.patch(&path, Some(&ann), body)
            .await
            .assert_error(422, "422");
    }
    let not_json = app
        .request(Method::PATCH, &path)
        .header("X-Session-Id", &ann)
        .header("content-type", "text/plain")
        .body("name=x");
    reply(not_json).await.assert_error(415, "415");
    let huge = app
        .request(Method::PATCH, &path)
        .header("X-Session-Id", &ann)
        .body(json!({"description": "d".repeat(70 * 1024)}).to_string());
    reply(huge).await.assert_error(413, "413");
    assert_eq!(app.get(&format!("/videos/{vid}"), &ann).await.body, before);
}

#[tokio::test]
async fn only_the_owner_may_edit_and_the_others_learn_only_what_they_may_see() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let public = app
        .published("ann", &ann, "Public", "", Visibility::Public)
        .await;
    let private = app
        .published("ann", &ann, "Private", "", Visibility::Private)
        .await;
    let body = json!({"name": "taken over"});
    // bob can see the public one: 403; the private one is not there for him: 404.
    app.patch(
        &format!("/user/ann/videos/{public}"),
        Some(&bob),
        body.clone(),
    )
    .await
    .assert_error(403, "403");
    app.patch(
        &format!("/user/ann/videos/{private}"),
        Some(&bob),
        body.clone(),
    )
    .await
    .assert_error(404, "404");
    // Under another name, an unknown id or a malformed one: 404, even for the owner.
    let unknown = uuid::Uuid::new_v4().to_string();
    for path in [
        format!("/user/bob/videos/{public}"),
        format!("/user/ann/videos/{unknown}"),
        "/user/ann/videos/not-a-uuid".to_string(),
    ] {
        app.patch(&path, Some(&ann), body.clone())
            .await
            .assert_error(404, "404");
    }
    // No session: 401, whatever the video.
    for vid in [&public, &private, &unknown] {
        app.patch(&format!("/user/ann/videos/{vid}"), None, body.clone())
            .await
            .assert_error(401, "002");
    }
    for vid in [&public, &private] {
        let v = app
            .get(&format!("/videos/{vid}"), &ann)
            .await
            .expect(200)
            .body;
        assert_ne!(v["name"], "taken over");
    }
}

#[tokio::test]
async fn an_edit_of_a_deleted_video_is_404() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = app.new_video("ann", &ann, "x").await;
    let path = format!("/user/ann/videos/{vid}");
    app.delete(&path, &ann).await.expect(204);
    app.patch(&path, Some(&ann), json!({"name": "y"}))
        .await
        .assert_error(404, "404");
    assert_eq!(app.video_rows(&vid).await, 0);
}
