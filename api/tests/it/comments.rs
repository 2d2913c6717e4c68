//! Comments: post, list with pages, delete by author or video owner, and the failure statuses.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

async fn ready_video(app: &TestApp, user: &str, session: &str) -> String {
    let vid = app.create_video(user, session, "v").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.mark_ready(&vid).await;
    vid
}

#[tokio::test]
async fn comments_are_posted_listed_newest_first_and_round_trip_exactly() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let vid = ready_video(&app, "ann", &ann).await;
    let empty = app.get(&format!("/videos/{vid}/comments"), &bob).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body, json!({"comments": [], "next": null}));

    let text = "Ünïcödé 👍 \"quotes\" 'single' \\ </script> ; DROP TABLE comments; --\nsecond line";
    let c = app.comment(&vid, &bob, text).await;
    assert_eq!(c["content"], text);
    assert_eq!(c["author"], "bob");
    assert_eq!(c["video_id"], vid.as_str());
    assert!(uuid::Uuid::parse_str(c["id"].as_str().unwrap()).is_ok());
    assert!(c["author_id"].as_u64().is_some());
    assert!(c["time"].as_str().unwrap().ends_with('Z'));
    let second = app.comment(&vid, &ann, "second").await;

    let list = app.get(&format!("/videos/{vid}/comments"), &bob).await;
    let comments = list.body["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0], second);
    assert_eq!(comments[1], c);

    // Pages.
    for i in 0..3 {
        app.comment(&vid, &ann, &format!("more {i}")).await;
    }
    let p1 = app
        .get(&format!("/videos/{vid}/comments?limit=2"), &ann)
        .await;
    let cursor = p1.body["next"].as_str().unwrap();
    let p2 = app
        .get(
            &format!("/videos/{vid}/comments?limit=2&before={cursor}"),
            &ann,
        )
        .await;
    let p3 = app
        .get(
            &format!(
                "/videos/{vid}/comments?limit=2&before={}",
                p2.body["next"].as_str().unwrap()
            ),
            &ann,
        )
        .await;
    assert_eq!(p3.body["comments"].as_array().unwrap().len(), 1);
    assert!(p3.body["next"].is_null());
    assert_eq!(p3.body["comments"][0], c);
}

#[tokio::test]
async fn bad_comment_requests_are_4xx() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let vid = ready_video(&app, "ann", &ann).await;
    let path = format!("/videos/{vid}/comments");
    for content in ["", " \n ", &"c".repeat(2001)] {
        app.post(&path, Some(&bob), json!({"content": content}))
            .await
            .assert_error(422, "422");
    }
    app.post(&path, Some(&bob), json!({"content": 5}))
        .await
        .assert_error(400, "001");
    app.post(&path, Some(&bob), json!({"text": "x"}))
        .await
        .assert_error(400, "001");
    app.post(&path, None, json!({"content": "x"}))
        .await
        .assert_error(401, "002");
    let unknown = uuid::Uuid::new_v4();
    for vid in [unknown.to_string(), "nope".to_string()] {
        app.post(
            &format!("/videos/{vid}/comments"),
            Some(&bob),
            json!({"content": "x"}),
        )
        .await
        .assert_error(404, "404");
        app.get(&format!("/videos/{vid}/comments"), &bob)
            .await
            .assert_error(404, "404");
    }
    // Someone else's pending video cannot be commented on or read.
    let pending = app.create_video("ann", &ann, "p").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/videos/{pending}/comments"),
        Some(&bob),
        json!({"content": "x"}),
    )
    .await
    .assert_error(404, "404");
    // Even when it has comments (its owner's), they are not shown to others.
    app.comment(&pending, &ann, "note to self").await;
    app.get(&format!("/videos/{pending}/comments"), &bob)
        .await
        .assert_error(404, "404");
    let own = app.get(&format!("/videos/{pending}/comments"), &ann).await;
    assert_eq!(own.body["comments"].as_array().unwrap().len(), 1, "{own:?}");
    app.sql("DELETE FROM comments WHERE video_id = ?", (&pending,))
        .await;
    app.get(&format!("/videos/{vid}/comments?limit=0"), &bob)
        .await
        .assert_error(400, "001");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM comments", ()).await, 0);
}

#[tokio::test]
async fn a_comment_is_deleted_by_its_author_or_the_video_owner_only() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let vid = ready_video(&app, "ann", &ann).await;
    let other = ready_video(&app, "ann", &ann).await;
    let by_bob = app.comment(&vid, &bob, "bob's").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_bob_2 = app.comment(&vid, &bob, "bob's again").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A stranger: 403, nothing changes.
    app.delete(&format!("/videos/{vid}/comment/{by_bob}"), &eve)
        .await
        .assert_error(403, "403");
    // The right comment under the wrong video: 404.
    app.delete(&format!("/videos/{other}/comment/{by_bob}"), &bob)
        .await
        .assert_error(404, "404");
    app.delete(
        &format!("/videos/{vid}/comment/{}", uuid::Uuid::new_v4()),
        &bob,
    )
    .await
    .assert_error(404, "404");
    app.delete(&format!("/videos/{vid}/comment/nope"), &bob)
        .await
        .assert_error(404, "404");
    app.call(
        Method::DELETE,
        &format!("/videos/{vid}/comment/{by_bob}"),
        None,
        None,
    )
    .await
    .assert_error(401, "002");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM comments", ()).await, 2);
    // The author.
    let r = app
        .delete(&format!("/videos/{vid}/comment/{by_bob}"), &bob)
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    // The video's owner.
    let r = app
        .delete(&format!("/videos/{vid}/comment/{by_bob_2}"), &ann)
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(app.sql_count("SELECT COUNT(*) FROM comments", ()).await, 0);
    app.delete(&format!("/videos/{vid}/comment/{by_bob}"), &bob)
        .await
        .assert_error(404, "404");
}

#[tokio::test]
async fn a_database_fault_is_a_500_that_shows_no_internals() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let vid = ready_video(&app, "ann", &ann).await;
    app.sql("DROP TABLE comments", ()).await;
    let r = app.get(&format!("/videos/{vid}/comments"), &ann).await;
    r.assert_error(500, "003");
    assert_eq!(r.body["error"], "DB ops failed");
    assert!(
        !r.text.contains("comments") && !r.text.contains("1146"),
        "{r:?}"
    );
}
