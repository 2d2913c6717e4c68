//! `GET /search`: English (case- and accent-insensitive, word prefixes), Chinese, Japanese and
//! Korean titles, descriptions, ranking, paging, what must find nothing, and bad queries.

use std::collections::HashSet;

use serde_json::json;
use svc::{VideoState, Visibility};

use crate::helpers::{seg, spawn_with_users, TestApp};

/// Publishes a public, playable video of ann's titled `title`; returns its id.
async fn public(app: &TestApp, ann: &str, title: &str, description: &str) -> String {
    app.published("ann", ann, title, description, Visibility::Public)
        .await
}

/// Asserts that searching for each of `queries`, signed out, finds exactly `ids` in order.
async fn finds(app: &TestApp, queries: &[&str], ids: &[&String]) {
    for q in queries {
        let found = app.search(q, None).await;
        let expected: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, expected, "searching for {q:?}");
    }
}

#[tokio::test]
async fn english_words_match_whole_or_as_prefixes_in_any_case_and_accent() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mountains = public(&app, &ann, "Climbing the Mountains", "").await;
    let cafe = public(&app, &ann, "Café crème at dawn", "").await;
    let resume = public(&app, &ann, "My resume", "").await;
    finds(
        &app,
        &[
            "mount",
            "MOUNTAINS",
            "Mountains",
            "climb mount",
            "the mountains",
            "  mount  ",
        ],
        &[&mountains],
    )
    .await;
    finds(
        &app,
        &["cafe", "CAFÉ", "Café", "creme", "café crème", "caf"],
        &[&cafe],
    )
    .await;
    finds(&app, &["résumé", "RÉSUMÉ", "resume"], &[&resume]).await;
    // Every word must match: one that does not, spoils the query.
    finds(
        &app,
        &[
            "mountainz",
            "hill",
            "climbing hill",
            "mountains cafe",
            "ountains",
        ],
        &[],
    )
    .await;
    // Short and common words are words too (no stop words, no minimum length).
    finds(&app, &["at"], &[&cafe]).await;
    finds(&app, &["my"], &[&resume]).await;
    finds(&app, &["the"], &[&mountains]).await;
}

#[tokio::test]
async fn chinese_japanese_and_korean_titles_are_found_by_their_words() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let chinese = public(&app, &ann, "我的第一个视频", "").await;
    let spaced = public(&app, &ann, "视 频", "").await;
    let katakana = public(&app, &ann, "ビデオの作り方", "").await;
    let kanji = public(&app, &ann, "東京の夜景", "").await;
    let korean = public(&app, &ann, "한국어 강의 영상", "").await;
    let mixed = public(&app, &ann, "iPhone手机评测", "").await;
    finds(
        &app,
        &["视频", "第一个", "我的第一个视频", "第一个 视频"],
        &[&chinese],
    )
    .await;
    // "视频" needs the two characters side by side: "视 频" has them apart.
    finds(&app, &["视"], &[&spaced, &chinese]).await;
    finds(&app, &["ビデオ", "作り方", "ビデオ 作り"], &[&katakana]).await;
    finds(&app, &["東京", "夜景", "東京の夜景"], &[&kanji]).await;
    finds(&app, &["한국어", "강의", "영상"], &[&korean]).await;
    finds(&app, &["手机", "iphone", "IPHONE 评测"], &[&mixed]).await;
    // Half-width katakana is the same text.
    finds(&app, &["ﾋﾞﾃﾞｵ"], &[&katakana]).await;
    // Words in no title.
    finds(&app, &["音乐", "東京タワー", "영화", "视频教程"], &[]).await;
}

#[tokio::test]
async fn searches_never_find_private_unlisted_or_unplayable_videos_not_even_for_their_owner() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let shown = public(&app, &ann, "Zanzibar 视频", "").await;
    app.published(
        "ann",
        &ann,
        "Zanzibar 视频 private",
        "",
        Visibility::Private,
    )
    .await;
    app.published(
        "ann",
        &ann,
        "Zanzibar 视频 unlisted",
        "",
        Visibility::Unlisted,
    )
    .await;
    app.new_video("ann", &ann, "Zanzibar 视频 pending").await;
    let failed = public(&app, &ann, "Zanzibar 视频 failed", "").await;
    app.set_state(&failed, VideoState::Failed).await;
    for who in [Some(ann.as_str()), Some(bob.as_str()), None] {
        for q in ["zanzibar", "视频"] {
            assert_eq!(app.search(q, who).await, [shown.as_str()], "{q} as {who:?}");
        }
        for q in ["private", "unlisted", "pending", "failed"] {
            assert!(app.search(q, who).await.is_empty(), "{q} as {who:?}");
        }
    }
}

#[tokio::test]
async fn descriptions_are_searched_and_titles_weigh_more_then_newest_first() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let old_title = public(&app, &ann, "Otter", "").await;
    let in_description = public(&app, &ann, "Rivers", "An otter swims\nacross.").await;
    let new_title = public(&app, &ann, "Otter", "").await;
    let unrelated = public(&app, &ann, "Rivers", "Nothing here").await;
    finds(&app, &["otter"], &[&new_title, &old_title, &in_description]).await;
    finds(&app, &["swims across"], &[&in_description]).await;
    assert!(app
        .search("otter", None)
        .await
        .iter()
        .all(|id| id != &unrelated));
    // The answer's objects are the video objects, description included.
    let r = app.read("/search?q=swims", None).await.expect(200);
    assert_eq!(
        r.body["videos"][0]["description"],
        "An otter swims\nacross."
    );
    assert!(r.body["next"].is_null());
}

#[tokio::test]
async fn search_pages_follow_next_without_repeats_or_gaps() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut all = HashSet::new();
    for i in 0..25 {
        // Some titles hold the word twice, so scores differ as well as times.
        let title = if i % 3 == 0 {
            format!("Clip clip {i}")
        } else {
            format!("Clip {i}")
        };
        all.insert(public(&app, &ann, &title, "").await);
    }
    public(&app, &ann, "Something else", "").await;
    let pages = app.pages("/search?q=clip", "videos", None, 10).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let seen: Vec<String> = pages.concat();
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    assert_eq!(seen.len(), 25, "a result appeared twice");
    // Pages are slices of the one ordering.
    assert_eq!(
        seen,
        app.read("/search?q=clip&limit=100", None)
            .await
            .ids("videos")
    );
    // The titles with the word twice come first.
    let first_page: Vec<String> = pages[0].clone();
    for id in &first_page[..9] {
        let v = app.read(&format!("/videos/{id}"), None).await.body;
        assert!(v["name"].as_str().unwrap().starts_with("Clip clip"), "{v}");
    }
}

#[tokio::test]
async fn bad_queries_are_400_with_a_message_and_punctuation_finds_nothing() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    public(&app, &ann, "Clip", "").await;
    for q in [
        "/search",
        "/search?q=",
        "/search?q=%20%20",
        "/search?limit=5",
    ] {
        let r = app.read(q, None).await;
        r.assert_error(400, "001");
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .contains("q must not be empty"),
            "{r:?}"
        );
    }
    let long = format!("/search?q={}", "q".repeat(201));
    let r = app.read(&long, None).await;
    r.assert_error(400, "001");
    assert!(
        r.body["error"].as_str().unwrap().contains("limit is 200"),
        "{r:?}"
    );
    // 200 characters are fine, CJK counted as characters.
    app.read(&format!("/search?q={}", seg(&"视".repeat(200))), None)
        .await
        .expect(200);
    for q in ["q=clip&limit=0", "q=clip&limit=101", "q=clip&before=bogus"] {
        app.read(&format!("/search?{q}"), None)
            .await
            .assert_error(400, "001");
    }
    // A keyset cursor of the lists is not a search cursor.
    app.published("ann", &ann, "another", "", Visibility::Public)
        .await;
    let list_next = app.read("/videos?limit=1", None).await.body["next"]
        .as_str()
        .unwrap()
        .to_string();
    app.read(&format!("/search?q=clip&before={list_next}"), None)
        .await
        .assert_error(400, "001");
    // Only punctuation, or BOOLEAN MODE syntax: never an error, and only words count.
    for q in ["!!!", "+-*", "\"\"", "()", "。、！"] {
        let r = app
            .read(&format!("/search?q={}", seg(q)), None)
            .await
            .expect(200);
        assert_eq!(r.body, json!({"videos": [], "next": null}), "{q}");
    }
    for q in [
        "+clip", "-clip", "\"clip\"", "clip*", "(clip)", "~clip", "@clip", "clip'",
    ] {
        assert_eq!(app.search(q, None).await.len(), 1, "{q}");
    }
}

#[tokio::test]
async fn a_video_from_before_search_becomes_findable_when_its_owner_edits_it() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = public(&app, &ann, "Old holiday film", "").await;
    // As migration 0006 left the videos it found: unlisted, with no search text.
    app.sql(
        "UPDATE video_info SET visibility = 'unlisted', search_text = NULL WHERE id = ?",
        (&vid,),
    )
    .await;
    app.set_visibility(&vid, Visibility::Public).await;
    assert!(app.search("holiday", None).await.is_empty());
    app.edit("ann", &ann, &vid, json!({"visibility": "public"}))
        .await;
    assert_eq!(app.search("holiday", None).await, [vid.as_str()]);
    // A new name and description replace the old words.
    app.edit(
        "ann",
        &ann,
        &vid,
        json!({"name": "Summer 2024", "description": "海边的视频"}),
    )
    .await;
    assert!(app.search("holiday", None).await.is_empty());
    assert_eq!(app.search("summer 2024", None).await, [vid.as_str()]);
    assert_eq!(app.search("视频", None).await, [vid.as_str()]);
}
