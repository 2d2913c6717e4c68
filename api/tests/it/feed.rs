//! `GET /videos`: the public feed, newest first across every author, paged like a channel.

use std::collections::HashSet;

use serde_json::json;
use svc::{VideoState, Visibility};

use crate::helpers::spawn_with_users;

#[tokio::test]
async fn the_feed_holds_public_playable_videos_of_every_author_newest_first() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    assert_eq!(
        app.read("/videos", None).await.expect(200).body,
        json!({"videos": [], "next": null})
    );
    let first = app
        .published("ann", &ann, "first", "", Visibility::Public)
        .await;
    app.published("ann", &ann, "unlisted", "", Visibility::Unlisted)
        .await;
    app.published("bob", &bob, "private", "", Visibility::Private)
        .await;
    let pending = app.new_video("bob", &bob, "pending").await;
    let failed = app
        .published("bob", &bob, "failed", "", Visibility::Public)
        .await;
    app.set_state(&failed, VideoState::Failed).await;
    let uploaded = app
        .published("bob", &bob, "uploaded", "", Visibility::Public)
        .await;
    app.set_state(&uploaded, VideoState::Uploaded).await;
    let newest = app
        .published("ann", &ann, "newest", "", Visibility::Public)
        .await;
    let expected = [newest.clone(), uploaded.clone(), first.clone()];
    // The same for everyone: the owners too find only their public videos here.
    for who in [Some(ann.as_str()), Some(bob.as_str()), None] {
        assert_eq!(app.feed(who).await, expected, "{who:?}");
    }
    // Each entry is the video object a read gives.
    let page = app.read("/videos", None).await;
    let one = app
        .read(&format!("/videos/{newest}"), None)
        .await
        .expect(200);
    assert_eq!(page.body["videos"][0], one.body);
    assert_eq!(page.body["videos"][1]["author"], "bob");
    // A public video that becomes playable joins the feed, at its creation time.
    app.mark_ready(&pending).await;
    assert_eq!(app.feed(None).await, [newest, uploaded, pending, first]);
}

#[tokio::test]
async fn the_feed_pages_by_keyset_with_every_video_once_and_refuses_bad_parameters() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let mut public = HashSet::new();
    for i in 0..23 {
        let (user, session) = if i % 2 == 0 {
            ("ann", &ann)
        } else {
            ("bob", &bob)
        };
        public.insert(
            app.published(user, session, &format!("p{i}"), "", Visibility::Public)
                .await,
        );
        app.published(user, session, &format!("u{i}"), "", Visibility::Unlisted)
            .await;
    }
    // Same-microsecond ties are broken by id.
    app.sql("UPDATE video_info SET create_time = '2026-01-02 03:04:05.000000' WHERE name IN ('p3', 'p4', 'p5', 'u4')", ())
        .await;
    let pages = app.pages("/videos", "videos", None, 5).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [5, 5, 5, 5, 3]
    );
    let seen: Vec<&String> = pages.iter().flatten().collect();
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.into_iter().cloned().collect::<HashSet<_>>(), public);
    // Newest first, as one page of everything says.
    let all = app.read("/videos?limit=100", None).await.ids("videos");
    assert_eq!(pages.concat(), all);
    for q in ["limit=0", "limit=101", "limit=x", "before=bogus"] {
        app.read(&format!("/videos?{q}"), None)
            .await
            .assert_error(400, "001");
    }
    // The cursor is the lists' format: a channel's cursor continues the feed at that point.
    let channel_next = app.read("/user/ann/videos?limit=1", None).await.body["next"]
        .as_str()
        .unwrap()
        .to_string();
    app.read(&format!("/videos?before={channel_next}"), None)
        .await
        .expect(200);
}
