//! Videos: create, read, list with keyset pages, delete, and who may do what.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;
use svc::{VideoState, Visibility};

use crate::helpers::spawn_with_users;

#[tokio::test]
async fn creating_a_video_gives_a_pending_video_object_with_its_urls() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let v = app.create_video("ann", &ann, "First").await;
    let id = v["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    assert_eq!(v["author"], "ann");
    assert_eq!(v["name"], "First");
    assert_eq!(v["state"], "pending");
    assert_eq!(v["play_url"], format!("/videos/{id}"));
    assert_eq!(v["upload_url"], format!("/upload/{id}"));
    assert_eq!(v["resumable_upload_url"], "/files/");
    // Public unless chosen otherwise; no description is "".
    assert_eq!(v["visibility"], "public");
    assert_eq!(v["description"], "");
    for null in [
        "size",
        "duration_ms",
        "width",
        "height",
        "content_type",
        "thumbnail_url",
        "failure_reason",
    ] {
        assert!(v[null].is_null(), "{null}: {v}");
    }
    assert!(v["author_id"].as_u64().is_some());
    // RFC 3339 UTC, and the original's display format.
    let ct = v["create_time"].as_str().unwrap();
    time::OffsetDateTime::parse(ct, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{ct}: {e}"));
    assert!(ct.ends_with('Z'));
    let display = v["display_ctime"].as_str().unwrap();
    let format = time::macros::format_description!(
        "[month repr:short] [day] [year], [hour]:[minute]:[second]"
    );
    time::PrimitiveDateTime::parse(display, format).unwrap_or_else(|e| panic!("{display}: {e}"));
    // GET gives the same object.
    let got = app.get(&format!("/user/ann/videos/{id}"), &ann).await;
    assert_eq!(got.expect(200).body, v);
}

#[tokio::test]
async fn bad_create_requests_are_4xx() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    app.post("/user/ann/videos", Some(&bob), json!({"name": "x"}))
        .await
        .assert_error(403, "403");
    app.post("/user/ann/videos", None, json!({"name": "x"}))
        .await
        .assert_error(401, "002");
    for body in [
        json!({}),
        json!({"name": 1}),
        json!({"name": "x", "tags": []}),
    ] {
        app.post("/user/ann/videos", Some(&ann), body)
            .await
            .assert_error(400, "001");
    }
    for name in ["", "   ", &"v".repeat(201), "two\nlines"] {
        app.post("/user/ann/videos", Some(&ann), json!({"name": name}))
            .await
            .assert_error(422, "422");
    }
    // A visibility that is not one of the three is a malformed body, like a wrong type: 400,
    // and the message lists the three.
    for visibility in [
        json!("secret"),
        json!("Public"),
        json!(1),
        json!(["public"]),
    ] {
        let r = app
            .post(
                "/user/ann/videos",
                Some(&ann),
                json!({"name": "x", "visibility": visibility}),
            )
            .await;
        r.assert_error(400, "001");
        if visibility.is_string() {
            let message = r.body["error"].as_str().unwrap();
            assert!(
                message.contains(r#""public", "unlisted", "private""#),
                "{r:?}"
            );
        }
    }
    for description in [json!(5), json!({"text": "x"})] {
        app.post(
            "/user/ann/videos",
            Some(&ann),
            json!({"name": "x", "description": description}),
        )
        .await
        .assert_error(400, "001");
    }
    for description in ["d".repeat(5001), "bell\u{7}".to_string()] {
        app.post(
            "/user/ann/videos",
            Some(&ann),
            json!({"name": "x", "description": description}),
        )
        .await
        .assert_error(422, "422");
    }
    assert_eq!(app.rows("video_info").await, 0);
}

#[tokio::test]
async fn a_video_is_created_with_the_chosen_visibility_and_its_description_verbatim() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let description = "Line one\n\nLine three, with \"quotes\" & <b>tags</b>\r\n\ttabbed 视频";
    for visibility in Visibility::ALL {
        let v = app
            .create_video_with(
                "ann",
                &ann,
                json!({"name": "x", "description": description, "visibility": visibility.as_str(),
                       "author_id": 99}),
            )
            .await;
        assert_eq!(v["visibility"], visibility.as_str());
        assert_eq!(v["description"], description);
        let id = v["id"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/videos/{id}"), &ann)
                .await
                .expect(200)
                .body,
            v
        );
    }
    // 5000 characters is the most, counted as characters, not bytes; blank is allowed.
    for description in ["视".repeat(5000), "   ".to_string()] {
        let v = app
            .create_video_with(
                "ann",
                &ann,
                json!({"name": "x", "description": description}),
            )
            .await;
        assert_eq!(v["description"], description.as_str());
    }
}

#[tokio::test]
async fn quote_laden_and_unicode_titles_round_trip_exactly() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let title = r#"It's "quoted" \ back\slash; DROP TABLE video_info; -- 😀 日本語 ﷽"#;
    let v = app.create_video("ann", &ann, title).await;
    assert_eq!(v["name"], title);
    let list = app.get("/user/ann/videos", &ann).await;
    assert_eq!(list.body["videos"][0]["name"], title);
}

#[tokio::test]
async fn the_list_is_newest_first_empty_as_brackets_and_shows_others_only_playable_videos() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let r = app.get("/user/ann/videos", &ann).await.expect(200);
    assert_eq!(r.body, json!({"videos": [], "next": null}));
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(app.new_video("ann", &ann, &format!("v{i}")).await);
    }
    let r = app.get("/user/ann/videos", &ann).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(r.ids("videos"), newest_first);
    assert!(r.body["next"].is_null());
    // Each listed object is the same as the single-video answer.
    let one = app.get(&format!("/user/ann/videos/{}", ids[3]), &ann).await;
    assert_eq!(r.body["videos"][0], one.body);
    assert_eq!(r.body["videos"][0]["author"], "ann");
    // bob, and anyone signed out, see only what is playable.
    assert_eq!(
        app.get("/user/ann/videos", &bob).await.body["videos"],
        json!([])
    );
    app.mark_ready(&ids[1]).await;
    for who in [Some(bob.as_str()), None] {
        let seen = app.read("/user/ann/videos", who).await;
        assert_eq!(seen.ids("videos"), [ids[1].clone()]);
        let v = &seen.body["videos"][0];
        assert_eq!(v["state"], "ready");
        assert_eq!(v["thumbnail_url"], format!("/thumbnails/{}", ids[1]));
        assert_eq!(v["duration_ms"], 5000);
        assert_eq!(app.read("/user/ann", who).await.body["video_count"], 1);
    }
    assert_eq!(app.get("/user/ann", &ann).await.body["video_count"], 4);
    // Failures.
    app.get("/user/nobody/videos", &ann)
        .await
        .assert_error(404, "404");
    app.read("/user/nobody/videos", None)
        .await
        .assert_error(404, "404");
    for q in ["limit=0", "limit=101", "limit=x", "before=bogus"] {
        for who in [Some(ann.as_str()), None] {
            app.read(&format!("/user/ann/videos?{q}"), who)
                .await
                .assert_error(400, "001");
        }
    }
}

#[tokio::test]
async fn a_state_this_build_does_not_know_is_a_500_not_a_guess() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = app.new_video("ann", &ann, "x").await;
    // What a newer build's migration might add.
    app.sql(
        "ALTER TABLE video_info MODIFY state
           ENUM('pending', 'uploaded', 'ready', 'failed', 'live') NOT NULL DEFAULT 'pending'",
        (),
    )
    .await;
    app.sql("UPDATE video_info SET state = 'live' WHERE id = ?", (&vid,))
        .await;
    for path in [format!("/videos/{vid}"), "/user/ann/videos".to_string()] {
        let r = app.get(&path, &ann).await;
        r.assert_error(500, "003");
        assert!(!r.text.contains("live"), "{r:?}");
    }
}

#[tokio::test]
async fn one_video_is_404_when_unknown_malformed_under_another_name_or_not_yet_visible() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.new_video("ann", &ann, "x").await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/user/ann/videos/{unknown}"),
        "/user/ann/videos/not-a-uuid".to_string(),
        format!("/user/bob/videos/{vid}"),
    ] {
        app.get(&path, &ann).await.assert_error(404, "404");
    }
    // Pending: only the owner sees it.
    app.get(&format!("/user/ann/videos/{vid}"), &bob)
        .await
        .assert_error(404, "404");
    app.mark_ready(&vid).await;
    app.get(&format!("/user/ann/videos/{vid}"), &bob)
        .await
        .expect(200);
    // An upper-case id is the same video.
    let upper = vid.to_uppercase();
    let r = app.get(&format!("/videos/{upper}"), &bob).await.expect(200);
    assert_eq!(r.body["id"], vid.as_str());
}

#[tokio::test]
async fn a_video_by_id_alone_is_the_same_object_with_the_same_visibility() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let v = app.create_video("ann", &ann, "x").await;
    let vid = v["id"].as_str().unwrap().to_string();
    let path = format!("/videos/{vid}");
    let under_ann = format!("/user/ann/videos/{vid}");
    // The owner sees it while pending, exactly as under the author's name.
    let own = app.get(&path, &ann).await.expect(200);
    assert_eq!(own.body, v);
    assert_eq!(own.body, app.get(&under_ann, &ann).await.body);
    // Anyone else: 404 until it is playable.
    app.get(&path, &bob).await.assert_error(404, "404");
    app.set_state(&vid, VideoState::Uploaded).await;
    let seen = app.get(&path, &bob).await.expect(200);
    assert_eq!(seen.body["id"], vid.as_str());
    assert_eq!(seen.body["author"], "ann");
    assert_eq!(seen.body["state"], "uploaded");
    assert_eq!(seen.body, app.get(&under_ann, &bob).await.body);
    // Failed is not playable: hidden again from others, still there for the owner.
    app.sql(
        "UPDATE video_info SET state = 'failed', failure_reason = 'bad file' WHERE id = ?",
        (&vid,),
    )
    .await;
    app.get(&path, &bob).await.assert_error(404, "404");
    let failed = app.get(&path, &ann).await;
    assert_eq!(failed.body["state"], "failed");
    assert_eq!(failed.body["failure_reason"], "bad file");
    // Signed out, the failed video is not there either; unknown and malformed ids, other methods.
    app.read(&path, None).await.assert_error(404, "404");
    for unknown in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_string()] {
        app.get(&format!("/videos/{unknown}"), &ann)
            .await
            .assert_error(404, "404");
    }
    for method in [Method::DELETE, Method::POST, Method::PUT] {
        let r = app.call(method.clone(), &path, Some(&ann), None).await;
        r.assert_error(405, "405");
        assert_eq!(r.headers["allow"], "GET", "{method}");
    }
    assert_eq!(app.video_rows(&vid).await, 1);
}

#[tokio::test]
async fn deleting_a_video_removes_it_and_its_comments_and_queues_one_delete_job() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.ready_video("ann", &ann).await;
    app.comment(&vid, &ann, "mine").await;
    app.comment(&vid, &bob, "nice").await;
    let r = app.delete(&format!("/user/ann/videos/{vid}"), &ann).await;
    assert!(r.expect(204).text.is_empty());
    assert_eq!(app.video_rows(&vid).await, 0);
    assert_eq!(app.comment_rows(&vid).await, 0);
    let kind = svc::jobs::JobKind::DeleteVideo.as_str();
    assert_eq!(
        app.sql_count(
            "SELECT COUNT(*) FROM jobs WHERE kind = ? AND video_id = ? AND state = 'queued'
                AND dedupe_key = CONCAT(kind, ':', video_id)",
            (kind, &vid)
        )
        .await,
        1
    );
    assert_eq!(app.rows("jobs").await, 1);
    app.delete(&format!("/user/ann/videos/{vid}"), &ann)
        .await
        .assert_error(404, "404");
    app.get(&format!("/user/ann/videos/{vid}"), &ann)
        .await
        .assert_error(404, "404");
}

#[tokio::test]
async fn deleting_another_users_video_is_403_and_changes_nothing() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.ready_video("ann", &ann).await;
    app.comment(&vid, &bob, "nice").await;
    app.delete(&format!("/user/ann/videos/{vid}"), &bob)
        .await
        .assert_error(403, "403");
    // Through bob's own name the video is not there at all.
    app.delete(&format!("/user/bob/videos/{vid}"), &bob)
        .await
        .assert_error(404, "404");
    app.assert_needs_session(Method::DELETE, &format!("/user/ann/videos/{vid}"))
        .await;
    assert_eq!(app.video_rows(&vid).await, 1);
    assert_eq!(app.comment_rows(&vid).await, 1);
    assert_eq!(app.rows("jobs").await, 0);
}

#[tokio::test]
async fn pages_return_every_row_once_while_rows_are_being_inserted() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut before_start = HashSet::new();
    for i in 0..45 {
        before_start.insert(app.new_video("ann", &ann, &format!("old {i}")).await);
    }
    // Same-microsecond ties are broken by id: give several rows one create_time.
    app.sql(
        "UPDATE video_info SET create_time = (SELECT t FROM (SELECT MIN(create_time) t FROM video_info) m)
          WHERE name IN ('old 10', 'old 11', 'old 12', 'old 13', 'old 14')",
        (),
    )
    .await;
    let writer = {
        let app_url = app.url("/user/ann/videos");
        let client = app.client.clone();
        let ann = ann.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                let r = client
                    .post(&app_url)
                    .header("X-Session-Id", &ann)
                    .body(json!({"name": format!("new {i}")}).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        })
    };
    let pages = app.pages("/user/ann/videos", "videos", Some(&ann), 7).await;
    writer.await.unwrap();
    let seen: Vec<&String> = pages.iter().flatten().collect();
    let unique: HashSet<&String> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a row appeared twice");
    for id in &before_start {
        assert!(unique.contains(id), "{id} was skipped");
    }
    assert!(pages.len() >= 7, "{}", pages.len());
    // Everything, newest first, once the writer is done.
    let all = app
        .pages("/user/ann/videos", "videos", Some(&ann), 100)
        .await;
    assert_eq!(all.iter().flatten().count(), 75);
}
