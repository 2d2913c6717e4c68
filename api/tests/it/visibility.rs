//! Who sees what: every visibility in every state, from every side (the owner, another user,
//! someone signed out), on every route that shows a video or acts on one. The expectations are
//! written out from the words, not computed with `svc::video::visible`, so that a change
//! to the rule shows up here.

use serde_json::json;
use svc::{VideoState, Visibility};

use crate::helpers::{spawn_with_users, TestApp};

/// Where one video shows up for one reader.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// `GET /videos/{vid}` is 200 (else 404).
    by_id: bool,
    /// `GET /user/ann/videos/{vid}` is 200 (else 404).
    under_author: bool,
    /// `GET /videos/{vid}/comments` is 200 (else 404).
    comments: bool,
    /// In `GET /user/ann/videos`.
    in_list: bool,
    /// Counted in `GET /user/ann`'s `video_count`.
    counted: bool,
    /// In the public feed, `GET /videos`.
    in_feed: bool,
    /// Found by `GET /search?q=zanzibar`.
    found: bool,
}

impl Seen {
    /// What the issue says a reader sees: `by_link` for the video itself and its comments,
    /// `listed` for lists, counts, the feed and search.
    fn expected(by_link: bool, listed: bool) -> Self {
        Seen {
            by_id: by_link,
            under_author: by_link,
            comments: by_link,
            in_list: listed,
            counted: listed,
            in_feed: listed,
            found: listed,
        }
    }
}

/// 200 is true, 404 false; anything else fails the test.
#[track_caller]
fn found(status: u16, what: &str) -> bool {
    match status {
        200 => true,
        404 => false,
        other => panic!("{what}: status {other}"),
    }
}

/// Where ann's only video `vid` (titled with "Zanzibar") shows up for `session` (None: signed
/// out).
async fn seen(app: &TestApp, session: Option<&str>, vid: &str) -> Seen {
    let status = |path: String| async move { app.read(&path, session).await.status.as_u16() };
    let only_vid = |ids: Vec<String>| ids == [vid.to_string()];
    Seen {
        by_id: found(status(format!("/videos/{vid}")).await, "by id"),
        under_author: found(status(format!("/user/ann/videos/{vid}")).await, "under ann"),
        comments: found(status(format!("/videos/{vid}/comments")).await, "comments"),
        in_list: only_vid(app.read("/user/ann/videos", session).await.ids("videos")),
        counted: app.read("/user/ann", session).await.body["video_count"] == 1,
        in_feed: only_vid(app.feed(session).await),
        found: only_vid(app.search("zanzibar", session).await),
    }
}

#[tokio::test]
async fn every_route_follows_the_visibility_rule_from_every_side() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app.create_video("ann", &ann, "Zanzibar at dawn").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/user/ann/videos/{vid}");
    let comments = format!("/videos/{vid}/comments");
    for visibility in Visibility::ALL {
        for state in VideoState::ALL {
            app.set_visibility(&vid, visibility).await;
            app.set_state(&vid, state).await;
            let case = format!("{visibility}, {state}");
            let playable = matches!(state, VideoState::Uploaded | VideoState::Ready);
            // Anyone with the link: playable and not private. Lists: playable and public.
            let by_link = playable && visibility != Visibility::Private;
            let listed = playable && visibility == Visibility::Public;

            // The owner sees it everywhere that is theirs; the feed and search are public.
            let own = seen(&app, Some(&ann), &vid).await;
            assert_eq!(
                own,
                Seen {
                    in_feed: listed,
                    found: listed,
                    ..Seen::expected(true, true)
                },
                "owner: {case}"
            );
            assert_eq!(
                seen(&app, Some(&bob), &vid).await,
                Seen::expected(by_link, listed),
                "bob: {case}"
            );
            assert_eq!(
                seen(&app, None, &vid).await,
                Seen::expected(by_link, listed),
                "signed out: {case}"
            );

            // Comments: the owner may post unless processing failed (409: nobody will ever
            // watch it), another user where they may see, nobody signed out.
            let r = app
                .post(&comments, Some(&ann), json!({"content": "mine"}))
                .await;
            match state {
                VideoState::Failed => r.assert_error(409, "409"),
                _ => assert_eq!(r.status, 201, "ann comments: {case}: {r:?}"),
            }
            let r = app
                .post(&comments, Some(&bob), json!({"content": "hi"}))
                .await;
            assert_eq!(
                r.status,
                if by_link { 201 } else { 404 },
                "bob comments: {case}: {r:?}"
            );
            app.post(&comments, None, json!({"content": "x"}))
                .await
                .assert_error(401, "002");

            // Edits and deletes: another user who can see the video is refused (403), one who
            // cannot finds nothing (404); signed out, 401. None of them changes anything.
            let refused = if by_link { (403, "403") } else { (404, "404") };
            app.patch(&path, Some(&bob), json!({"name": "bob's now"}))
                .await
                .assert_error(refused.0, refused.1);
            app.delete(&path, &bob)
                .await
                .assert_error(refused.0, refused.1);
            app.patch(&path, None, json!({"name": "x"}))
                .await
                .assert_error(401, "002");
            app.call(reqwest::Method::DELETE, &path, None, None)
                .await
                .assert_error(401, "002");
            let v = app
                .get(&format!("/videos/{vid}"), &ann)
                .await
                .expect(200)
                .body;
            assert_eq!(
                (v["name"].as_str(), v["visibility"].as_str()),
                (Some("Zanzibar at dawn"), Some(visibility.as_str())),
                "{case}"
            );
        }
    }
    assert_eq!(app.video_rows(&vid).await, 1);
}

#[tokio::test]
async fn making_a_video_private_hides_it_from_everyone_else_at_once_and_public_shows_it_again() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app
        .published("ann", &ann, "Zanzibar", "", Visibility::Public)
        .await;
    app.comment(&vid, &bob, "nice").await;
    let everyone_else = [Some(bob.as_str()), None];
    for who in everyone_else {
        assert_eq!(
            seen(&app, who, &vid).await,
            Seen::expected(true, true),
            "{who:?}"
        );
    }
    let edited = app
        .edit("ann", &ann, &vid, json!({"visibility": "private"}))
        .await;
    assert_eq!(edited["visibility"], "private");
    // No cache stands between the edit and the next read.
    for who in everyone_else {
        assert_eq!(
            seen(&app, who, &vid).await,
            Seen::expected(false, false),
            "{who:?}"
        );
    }
    app.post(
        &format!("/videos/{vid}/comments"),
        Some(&bob),
        json!({"content": "?"}),
    )
    .await
    .assert_error(404, "404");
    // The owner still has it all, bob's comment included.
    let own = app
        .get(&format!("/videos/{vid}/comments"), &ann)
        .await
        .expect(200);
    assert_eq!(own.ids("comments").len(), 1);
    assert_eq!(app.get("/user/ann", &ann).await.body["video_count"], 1);
    // Unlisted: back by link, still on no list; public: everywhere again.
    app.edit("ann", &ann, &vid, json!({"visibility": "unlisted"}))
        .await;
    for who in everyone_else {
        assert_eq!(
            seen(&app, who, &vid).await,
            Seen::expected(true, false),
            "{who:?}"
        );
    }
    app.edit("ann", &ann, &vid, json!({"visibility": "public"}))
        .await;
    for who in everyone_else {
        assert_eq!(
            seen(&app, who, &vid).await,
            Seen::expected(true, true),
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn a_channel_counts_and_lists_for_each_viewer_what_that_viewer_finds_there() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let public = app
        .published("ann", &ann, "a", "", Visibility::Public)
        .await;
    let second = app
        .published("ann", &ann, "b", "", Visibility::Public)
        .await;
    app.published("ann", &ann, "c", "", Visibility::Unlisted)
        .await;
    app.published("ann", &ann, "d", "", Visibility::Private)
        .await;
    app.create_video_with(
        "ann",
        &ann,
        json!({"name": "pending", "visibility": "public"}),
    )
    .await;
    // bob's own public video is not ann's.
    app.published("bob", &bob, "e", "", Visibility::Public)
        .await;
    assert_eq!(app.get("/user/ann", &ann).await.body["video_count"], 5);
    assert_eq!(
        app.get("/user/ann/videos", &ann).await.ids("videos").len(),
        5
    );
    for who in [Some(bob.as_str()), None] {
        assert_eq!(
            app.read("/user/ann", who).await.body["video_count"],
            2,
            "{who:?}"
        );
        let listed = app.read("/user/ann/videos", who).await.ids("videos");
        assert_eq!(listed, [second.clone(), public.clone()], "{who:?}");
    }
    // bob's view of his own channel: everything of his.
    assert_eq!(app.get("/user/bob", &bob).await.body["video_count"], 1);
}

#[tokio::test]
async fn a_video_of_another_state_or_visibility_this_build_does_not_know_is_a_500() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = app
        .published("ann", &ann, "x", "", Visibility::Public)
        .await;
    // What a newer build's migration might add.
    app.sql(
        "ALTER TABLE video_info MODIFY visibility
           ENUM('public', 'unlisted', 'private', 'friends') NOT NULL DEFAULT 'public'",
        (),
    )
    .await;
    app.sql(
        "UPDATE video_info SET visibility = 'friends' WHERE id = ?",
        (&vid,),
    )
    .await;
    for path in [format!("/videos/{vid}"), "/user/ann/videos".to_string()] {
        let r = app.get(&path, &ann).await;
        r.assert_error(500, "003");
        assert!(!r.text.contains("friends"), "{r:?}");
    }
}
