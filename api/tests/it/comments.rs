//! Comments: post, list with pages, delete by author or video owner, and the failure statuses.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_with_users;

#[tokio::test]
async fn comments_are_posted_listed_newest_first_and_round_trip_exactly() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.ready_video("ann", &ann).await;
    let path = format!("/videos/{vid}/comments");
    let empty = app.get(&path, &bob).await.expect(200);
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

    let list = app.get(&path, &bob).await;
    assert_eq!(list.body["comments"], json!([second, c]));

    // Pages: five comments, two a page, newest first; the first comment is alone on the last.
    let mut newest_first = vec![];
    for i in 0..3 {
        newest_first.push(app.comment(&vid, &ann, &format!("more {i}")).await);
    }
    newest_first.reverse();
    newest_first.extend([second, c.clone()]);
    let ids: Vec<String> = newest_first
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let pages = app.pages(&path, "comments", Some(&ann), 2).await;
    assert_eq!(pages, [&ids[0..2], &ids[2..4], &ids[4..5]]);
    let last = app.get(&format!("{path}?limit=4"), &ann).await.body["next"]
        .as_str()
        .map(|cursor| format!("{path}?before={cursor}"))
        .expect("a next page");
    assert_eq!(app.get(&last, &ann).await.body["comments"], json!([c]));
}

#[tokio::test]
async fn bad_comment_requests_are_4xx() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.ready_video("ann", &ann).await;
    let path = format!("/videos/{vid}/comments");
    for content in ["", " \n ", &"c".repeat(2001)] {
        app.post(&path, Some(&bob), json!({"content": content}))
            .await
            .assert_error(422, "422");
    }
    for body in [json!({"content": 5}), json!({"text": "x"})] {
        app.post(&path, Some(&bob), body)
            .await
            .assert_error(400, "001");
    }
    app.post(&path, None, json!({"content": "x"}))
        .await
        .assert_error(401, "002");
    let unknown = uuid::Uuid::new_v4();
    let pending = app.new_video("ann", &ann, "p").await;
    // Unknown and malformed ids, and someone else's pending video: nothing to comment on or read.
    for vid in [unknown.to_string(), "nope".to_string(), pending.clone()] {
        let path = format!("/videos/{vid}/comments");
        app.post(&path, Some(&bob), json!({"content": "x"}))
            .await
            .assert_error(404, "404");
        app.get(&path, &bob).await.assert_error(404, "404");
    }
    // Even when it has comments (its owner's), they are not shown to others.
    app.comment(&pending, &ann, "note to self").await;
    app.get(&format!("/videos/{pending}/comments"), &bob)
        .await
        .assert_error(404, "404");
    let own = app.get(&format!("/videos/{pending}/comments"), &ann).await;
    assert_eq!(own.ids("comments").len(), 1, "{own:?}");
    app.sql("DELETE FROM comments WHERE video_id = ?", (&pending,))
        .await;
    app.get(&format!("{path}?limit=0"), &bob)
        .await
        .assert_error(400, "001");
    assert_eq!(app.rows("comments").await, 0);
}

#[tokio::test]
async fn a_comment_is_deleted_by_its_author_or_the_video_owner_only() {
    let (app, [ann, bob, eve]) = spawn_with_users(["ann", "bob", "eve"]).await;
    let vid = app.ready_video("ann", &ann).await;
    let other = app.ready_video("ann", &ann).await;
    let by_bob = app.comment(&vid, &bob, "bob's").await["id"].clone();
    let by_bob_2 = app.comment(&vid, &bob, "bob's again").await["id"].clone();
    let (by_bob, by_bob_2) = (by_bob.as_str().unwrap(), by_bob_2.as_str().unwrap());
    let under = |vid: &str, cid: &str| format!("/videos/{vid}/comment/{cid}");
    // A stranger: 403, nothing changes.
    app.delete(&under(&vid, by_bob), &eve)
        .await
        .assert_error(403, "403");
    // The right comment under the wrong video, unknown and malformed ids: 404.
    for path in [
        under(&other, by_bob),
        under(&vid, &uuid::Uuid::new_v4().to_string()),
        under(&vid, "nope"),
        under("nope", by_bob),
    ] {
        app.delete(&path, &bob).await.assert_error(404, "404");
    }
    app.assert_needs_session(Method::DELETE, &under(&vid, by_bob))
        .await;
    assert_eq!(app.comment_rows(&vid).await, 2);
    // The author.
    assert!(app
        .delete(&under(&vid, by_bob), &bob)
        .await
        .expect(204)
        .text
        .is_empty());
    // The video's owner.
    app.delete(&under(&vid, by_bob_2), &ann).await.expect(204);
    assert_eq!(app.comment_rows(&vid).await, 0);
    app.delete(&under(&vid, by_bob), &bob)
        .await
        .assert_error(404, "404");
}

#[tokio::test]
async fn a_database_fault_is_a_500_that_shows_no_internals() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = app.ready_video("ann", &ann).await;
    app.sql("DROP TABLE comments", ()).await;
    let r = app.get(&format!("/videos/{vid}/comments"), &ann).await;
    r.assert_error(500, "003");
    assert_eq!(r.body["error"], "DB ops failed");
    assert!(
        !r.text.contains("comments") && !r.text.contains("1146"),
        "{r:?}"
    );
}
