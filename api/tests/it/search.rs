//! `GET /search`: English (case- and accent-insensitive, word prefixes from three letters),
//! Chinese, Japanese and Korean titles, descriptions, the two tiers (every term in the title
//! first), keyset paging across them, what must find nothing, bad queries, and the index itself:
//! written with creates and edits, caught up at start-up for rows without postings, and gone
//! with the video however it is deleted.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use svc::testing::eventually;
use svc::{VideoState, Visibility};

use crate::helpers::{seg, spawn_on, spawn_with_users, TestApp};

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

/// Every result of `q`, following `next` with pages of `limit`; asserts that no page repeats
/// what an earlier one held.
async fn all_pages(app: &TestApp, q: &str, limit: u32) -> Vec<Vec<String>> {
    let pages = app
        .pages(&format!("/search?q={}", seg(q)), "videos", None, limit)
        .await;
    let all: Vec<String> = pages.concat();
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "a result appeared twice: {pages:?}"
    );
    pages
}

/// How many postings a video with this name and description has: its distinct tokens.
fn tokens(name: &str, description: &str) -> usize {
    api::search::postings(name, description).len()
}

/// How many postings the index holds for a video.
async fn postings(app: &TestApp, vid: &str) -> u64 {
    app.sql_count(
        "SELECT COUNT(*) FROM search_postings WHERE video_id = ?",
        (vid,),
    )
    .await
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
async fn words_of_one_or_two_letters_match_only_whole_words() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let good = public(&app, &ann, "Good morning", "").await;
    let go = public(&app, &ann, "Go west", "").await;
    let a = public(&app, &ann, "A day at sea", "").await;
    finds(&app, &["go", "GO", "go west", "west go"], &[&go]).await;
    finds(&app, &["goo", "good", "mor"], &[&good]).await;
    finds(&app, &["a", "a day", "sea"], &[&a]).await;
    finds(&app, &["wes"], &[&go]).await;
    finds(&app, &["mo", "we", "se", "da"], &[]).await;
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
        for q in ["zanzibar", "视频", "zanzibar 视频"] {
            assert_eq!(app.search(q, who).await, [shown.as_str()], "{q} as {who:?}");
        }
        for q in ["private", "unlisted", "pending", "failed"] {
            assert!(app.search(q, who).await.is_empty(), "{q} as {who:?}");
        }
    }
}

#[tokio::test]
async fn title_matches_come_first_then_description_matches_newest_first_in_each() {
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
async fn a_video_is_in_the_first_tier_only_when_every_term_is_in_its_title() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let both_in_title = public(&app, &ann, "Red fox in snow", "").await;
    let one_in_description = public(&app, &ann, "Red fox", "Deep snow").await;
    let both_in_description = public(&app, &ann, "Forest", "A fox in the snow").await;
    let newest_both_in_title = public(&app, &ann, "Snow fox", "and more snow").await;
    public(&app, &ann, "Fox", "").await;
    public(&app, &ann, "Snow", "").await;
    finds(
        &app,
        &["fox snow", "snow fox", "FOX SNO"],
        &[
            &newest_both_in_title,
            &both_in_title,
            &both_in_description,
            &one_in_description,
        ],
    )
    .await;
    // A prefix is in the title when any of its words is: "mount" finds "Mountains" in the
    // title, though the description's "mountain" is another word of the same prefix.
    let title_plural = public(&app, &ann, "Mountains", "one mountain").await;
    let description_only = public(&app, &ann, "Hills", "a mountain").await;
    let newest_title = public(&app, &ann, "Mountain", "").await;
    finds(
        &app,
        &["mount", "mountain"],
        &[&newest_title, &title_plural, &description_only],
    )
    .await;
    finds(&app, &["hills mount"], &[&description_only]).await;
}

#[tokio::test]
async fn search_pages_follow_next_across_the_tiers_without_repeats_or_gaps() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut in_title = vec![];
    let mut in_description = vec![];
    // Three words of one prefix, in titles and descriptions, interleaved in time.
    for i in 0..26 {
        let word = ["clip", "clips", "clipping"][i % 3];
        if i.is_multiple_of(2) {
            in_title.push(public(&app, &ann, &format!("{word} {i} kitten"), "").await);
        } else {
            let description = format!("a {word} with a kitten");
            in_description.push(public(&app, &ann, &format!("Take {i}"), &description).await);
        }
    }
    public(&app, &ann, "Something else", "kitten").await;
    in_title.reverse();
    in_description.reverse();
    let expected: Vec<String> = in_title.iter().chain(&in_description).cloned().collect();
    for q in ["cli", "clip kitten", "kitten cli"] {
        for limit in [1, 5, 10, 13] {
            let pages = all_pages(&app, q, limit).await;
            assert!(pages.iter().all(|p| p.len() <= limit as usize));
            assert_eq!(pages.concat(), expected, "{q} by {limit}");
        }
        // Pages are slices of the one ordering.
        assert_eq!(
            app.read(&format!("/search?q={}&limit=100", seg(q)), None)
                .await
                .ids("videos"),
            expected,
            "{q}"
        );
    }
    // The exact word alone: "clip" is a prefix of "clips" and "clipping" too.
    assert_eq!(all_pages(&app, "clip", 7).await.concat(), expected);
    assert_eq!(all_pages(&app, "clipp", 7).await.concat().len(), 8);
}

#[tokio::test]
async fn a_page_held_by_a_client_does_not_shift_when_videos_are_added() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut older = vec![];
    for i in 0..6 {
        older.push(public(&app, &ann, &format!("Lantern {i}"), "").await);
    }
    older.reverse();
    let first = app
        .read("/search?q=lantern&limit=3", None)
        .await
        .expect(200);
    assert_eq!(first.ids("videos"), older[..3]);
    let next = first.body["next"]
        .as_str()
        .expect("a next page")
        .to_string();
    // Newer matches, in both tiers, arrive while the client reads page one.
    public(&app, &ann, "Lantern new", "").await;
    public(&app, &ann, "New", "lantern").await;
    let second = app
        .read(&format!("/search?q=lantern&limit=3&before={next}"), None)
        .await
        .expect(200);
    assert_eq!(second.ids("videos"), older[3..]);
}

#[tokio::test]
async fn a_beginning_finds_every_word_it_begins_however_many() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut all = HashSet::new();
    all.insert(public(&app, &ann, "Zet", "").await);
    let mut words = vec![];
    for i in 0..70 {
        let id = public(&app, &ann, &format!("zeta{i:02}"), "").await;
        all.insert(id.clone());
        words.push(id);
    }
    let found: HashSet<String> = all_pages(&app, "zet", 100)
        .await
        .concat()
        .into_iter()
        .collect();
    assert_eq!(found, all);
    finds(&app, &["zeta69"], &[&words[69]]).await;
    assert_eq!(all_pages(&app, "zeta6", 100).await.concat().len(), 10);
    // A long word is found by any beginning of it, up to the index's 82 characters.
    let long = "x".repeat(120);
    let vid = public(&app, &ann, &long, "").await;
    for q in [
        &long[..3],
        &long[..50],
        &long[..82],
        &long[..],
        &format!("{long}yz")[..],
    ] {
        assert_eq!(
            app.search(q, None).await,
            [vid.as_str()],
            "{} characters",
            q.len()
        );
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
    // 200 characters are fine, CJK counted as characters, and so are many words (only the
    // first sixteen count).
    app.read(&format!("/search?q={}", seg(&"视".repeat(200))), None)
        .await
        .expect(200);
    let many: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
    app.read(&format!("/search?q={}", seg(&many.join(" "))), None)
        .await
        .expect(200);
    // An offset cursor of an earlier version, and forgeries.
    for q in [
        "q=clip&limit=0",
        "q=clip&limit=101",
        "q=clip&before=bogus",
        "q=clip&before=b2Zmc2V0OjIw",
    ] {
        let r = app.read(&format!("/search?{q}"), None).await;
        r.assert_error(400, "001");
    }
    // A keyset cursor of the lists is not a search cursor.
    app.published("ann", &ann, "another", "", Visibility::Public)
        .await;
    let list_next = app.read("/videos?limit=1", None).await.body["next"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .read(&format!("/search?q=clip&before={list_next}"), None)
        .await;
    r.assert_error(400, "001");
    assert!(r.body["error"].as_str().unwrap().contains("next"), "{r:?}");
    // Only punctuation, or SQL wildcards: never an error, and only words count.
    for q in ["!!!", "+-*", "\"\"", "()", "。、！", "%", "_", "%_!"] {
        let r = app
            .read(&format!("/search?q={}", seg(q)), None)
            .await
            .expect(200);
        assert_eq!(r.body, json!({"videos": [], "next": null}), "{q}");
    }
    for q in [
        "+clip", "-clip", "\"clip\"", "clip*", "(clip)", "~clip", "@clip", "clip'", "cl%ip", "%cli",
    ] {
        let found = app.search(q, None).await.len();
        assert_eq!(found, usize::from(q != "cl%ip"), "{q}");
    }
}

#[tokio::test]
async fn videos_without_postings_are_indexed_when_an_api_starts_and_edits_replace_the_words() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let vid = public(&app, &ann, "Old holiday film", "").await;
    // As migration 0008 left the videos it found: no postings, search_version 0.
    app.sql("DELETE FROM search_postings WHERE video_id = ?", (&vid,))
        .await;
    app.sql(
        "UPDATE video_info SET search_version = 0 WHERE id = ?",
        (&vid,),
    )
    .await;
    // More of them than one batch, written by SQL as older versions did, all at one time (so
    // their order is decided by id alone).
    let author: u32 = app
        .sql_count("SELECT id FROM users WHERE login_name = 'ann'", ())
        .await
        .try_into()
        .unwrap();
    let archive: Vec<String> = (0..250).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let values = vec![
        "(?, ?, CONCAT('Archive reel ', ?), 'x', '2026-01-01 00:00:00', 'ready', 'public')";
        archive.len()
    ];
    let mut params: Vec<mysql_async::Value> = vec![];
    for (i, id) in archive.iter().enumerate() {
        params.extend([id.as_str().into(), author.into(), (i as u32).into()]);
    }
    app.sql(
        &format!(
            "INSERT INTO video_info
                    (id, author_id, name, display_ctime, create_time, state, visibility)
             VALUES {}",
            values.join(", ")
        ),
        params,
    )
    .await;
    assert!(app.search("holiday", None).await.is_empty());
    assert!(app.search("archive", None).await.is_empty());

    // Two more api processes start on the database; they share the work.
    let second = spawn_on(app.db.clone(), &[]).await;
    let third = spawn_on(app.db.clone(), &[]).await;
    eventually("the start-up indexers", Duration::from_secs(60), || async {
        let left = app
            .sql_count(
                "SELECT COUNT(*) FROM video_info WHERE search_version = 0",
                (),
            )
            .await;
        (left == 0).then_some(())
    })
    .await;
    // Every api answers from the one index.
    assert_eq!(second.search("holiday", None).await, [vid.as_str()]);
    assert_eq!(third.search("old film", None).await, [vid.as_str()]);
    let mut expected = archive.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all_pages(&app, "archive", 100).await.concat(), expected);
    assert_eq!(app.search("reel 249", None).await, [archive[249].as_str()]);
    // Each video's tokens once.
    let expected: usize = (0..250)
        .map(|i| tokens(&format!("Archive reel {i}"), ""))
        .sum::<usize>()
        + tokens("Old holiday film", "");
    assert_eq!(app.rows("search_postings").await, expected as u64);

    // An edit replaces the words.
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
    let edited = tokens("Summer 2024", "海边的视频") as u64;
    assert_eq!(postings(&app, &vid).await, edited);
    // Changing only the visibility keeps the postings as they are.
    app.edit("ann", &ann, &vid, json!({"visibility": "unlisted"}))
        .await;
    assert_eq!(postings(&app, &vid).await, edited);
    assert!(app.search("summer", None).await.is_empty());
}

#[tokio::test]
async fn a_deleted_video_leaves_no_postings_whoever_deletes_it() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let through_api = public(&app, &ann, "Walrus colony", "on the ice").await;
    let by_sql = public(&app, &ann, "Walrus pup", "").await;
    let kept = public(&app, &ann, "Walrus", "").await;
    app.comment(&by_sql, &ann, "cute").await;
    let colony = tokens("Walrus colony", "on the ice") as u64;
    assert_eq!(postings(&app, &through_api).await, colony);
    assert_eq!(
        postings(&app, &by_sql).await,
        tokens("Walrus pup", "") as u64
    );
    app.delete(&format!("/user/ann/videos/{through_api}"), &ann)
        .await
        .expect(204);
    // As the scheduler's sweep of abandoned uploads deletes a row.
    app.sql("DELETE FROM video_info WHERE id = ?", (&by_sql,))
        .await;
    assert_eq!(postings(&app, &through_api).await, 0);
    assert_eq!(postings(&app, &by_sql).await, 0);
    assert_eq!(
        app.rows("search_postings").await,
        tokens("Walrus", "") as u64
    );
    finds(&app, &["walrus", "walr"], &[&kept]).await;
    finds(&app, &["colony", "pup", "ice", "walrus pup"], &[]).await;
}

/// Where `word` is in video `i` of [`plans_agree_with_the_definition`]'s set: `Some(true)` in
/// its title, `Some(false)` in its description only, `None` nowhere.
fn placed(i: u32, word: &str) -> Option<bool> {
    let (title, description) = match word {
        "reel" => (true, false),
        "lake" => (i.is_multiple_of(2), i % 4 == 1),
        "heron" => (i.is_multiple_of(14), i % 14 == 7),
        "egret" => (i.is_multiple_of(50), i % 50 == 25),
        _ => (false, false),
    };
    if title {
        Some(true)
    } else {
        description.then_some(false)
    }
}

#[tokio::test]
async fn rare_and_common_terms_together_find_exactly_the_matching_videos_in_order() {
    // Terms of every frequency: "reel" is in every title, "lake" in half of them and a quarter
    // of the descriptions (both past `search::COUNT_CAP`, "lake" the rarer where a walk starts),
    // "heron" in one video in seven and "egret" in one in twenty-five, titles and descriptions
    // alike. Whichever term a query walks, the result must be the definition.
    const VIDEOS: u32 = 3100;
    assert!(u64::from(VIDEOS) > api::search::COUNT_CAP);
    let (app, _) = spawn_with_users(["ann"]).await;
    let author = app
        .sql_count("SELECT id FROM users WHERE login_name = 'ann'", ())
        .await;
    let ids: Vec<String> = (0..VIDEOS)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let text = |i: u32, in_title: bool| -> String {
        ["reel", "lake", "heron", "egret"]
            .into_iter()
            .filter(|w| placed(i, w) == Some(in_title))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut params: Vec<mysql_async::Value> = vec![];
    for (i, id) in (0..VIDEOS).zip(&ids) {
        // One in nine is private: never found, whichever plan walks past it.
        let visibility = if i % 9 == 4 { "private" } else { "public" };
        params.extend([
            id.as_str().into(),
            author.into(),
            format!("{} {i}", text(i, true)).into(),
            text(i, false).into(),
            i.into(),
            visibility.into(),
        ]);
    }
    let row = "(?, ?, ?, ?, 'x', '2026-01-01' + INTERVAL ? SECOND, 'ready', ?)";
    app.sql(
        &format!(
            "INSERT INTO video_info
                    (id, author_id, name, description, display_ctime, create_time, state,
                     visibility)
             VALUES {}",
            vec![row; ids.len()].join(", ")
        ),
        params,
    )
    .await;
    // Indexed as the start-up indexer does, a batch at a time.
    while api::indexer::index_batch(&app.api, 1000).await.unwrap() > 0 {}

    for q in [
        "reel",
        "lake",
        "reel lake",
        "lake heron",
        "reel lake heron",
        "heron reel",
        "reel egret",
        "egret lake",
        "ree lak",
        "reel her lake egr",
    ] {
        let words: Vec<&str> = q.split(' ').collect();
        let full = |w: &str| {
            ["reel", "lake", "heron", "egret"]
                .into_iter()
                .find(|f| f.starts_with(w))
                .unwrap()
        };
        let mut expected: Vec<(bool, u32)> = (0..VIDEOS)
            .filter(|i| i % 9 != 4)
            .filter_map(|i| {
                let places: Option<Vec<bool>> = words.iter().map(|w| placed(i, full(w))).collect();
                places.map(|p| (p.iter().all(|&t| t), i))
            })
            .collect();
        // Every term in the title first, then newest (the highest number) first.
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let expected: Vec<String> = expected
            .iter()
            .map(|(_, i)| ids[*i as usize].clone())
            .collect();
        let limit = if expected.len() > 500 { 100 } else { 9 };
        let found = all_pages(&app, q, limit).await.concat();
        assert_eq!(found.len(), expected.len(), "{q}");
        assert!(found == expected, "{q}: not the expected order");
    }
}
