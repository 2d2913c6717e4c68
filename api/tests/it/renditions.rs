//! The video object of issue 12: the ladder's rungs (`renditions`), `hls_url`,
//! `storyboard_url`, `processing_progress`, and the owner's `original_url` and
//! `original_name`; the `processing` state and who sees it; and a list page that reads every
//! video's ladder in a fixed number of queries, whatever its length.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use svc::testing::eventually;
use svc::{VideoState, Visibility};

use crate::helpers::{spawn_on, spawn_with_users, TestApp};

/// Writes a video's processing columns as the streamserver (publish) and the scheduler do.
async fn set_processing(
    app: &TestApp,
    vid: &str,
    state: VideoState,
    progress: Option<u8>,
    original_name: Option<&str>,
) {
    app.sql(
        "UPDATE video_info SET state = ?, processing_progress = ?, original_name = ?,
                original_type = 'video/quicktime', has_original = TRUE
          WHERE id = ?",
        (state.as_str(), progress, original_name, vid),
    )
    .await;
}

/// Plans (or updates) one rung of a video's ladder, as the ladder job does.
async fn rung(app: &TestApp, vid: &str, height: u16, bandwidth: u32, ready: bool) {
    app.sql(
        "INSERT INTO video_renditions (video_id, height, width, bandwidth, codecs, ready)
         VALUES (?, ?, ?, ?, 'avc1.64001f,mp4a.40.2', ?)
         ON DUPLICATE KEY UPDATE ready = VALUES(ready)",
        (vid, height, height * 16 / 9, bandwidth, ready),
    )
    .await;
}

/// `GET /videos/{vid}` as `session` (None: signed out), expecting 200.
async fn object(app: &TestApp, vid: &str, session: Option<&str>) -> Value {
    app.read(&format!("/videos/{vid}"), session)
        .await
        .expect(200)
        .body
}

/// Whether the owner-only fields are in `v` at all.
fn has_owner_fields(v: &Value) -> bool {
    let o = v.as_object().unwrap();
    match (
        o.contains_key("original_url"),
        o.contains_key("original_name"),
    ) {
        (true, true) => true,
        (false, false) => false,
        _ => panic!("the owner's fields come together or not at all: {v}"),
    }
}

#[tokio::test]
async fn a_new_video_has_no_ladder_and_its_owner_no_original_yet() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let v = app.create_video("ann", &ann, "new").await;
    assert_eq!(v["renditions"], json!([]), "{v}");
    for null in [
        "hls_url",
        "storyboard_url",
        "processing_progress",
        "original_url",
        "original_name",
    ] {
        assert!(v[null].is_null(), "{null}: {v}");
    }
    assert!(has_owner_fields(&v), "{v}");
    // Once playable, anyone else sees it, without the owner's fields.
    let vid = v["id"].as_str().unwrap().to_string();
    app.mark_ready(&vid).await;
    for session in [Some(bob.as_str()), None] {
        let seen = object(&app, &vid, session).await;
        assert!(!has_owner_fields(&seen), "{seen}");
        assert_eq!(seen["renditions"], json!([]));
    }
    let own = object(&app, &vid, Some(&ann)).await;
    assert_eq!(own["original_url"], format!("/videos/{vid}/original"));
    assert!(own["original_name"].is_null(), "{own}");
}

#[tokio::test]
async fn a_processing_video_is_its_owners_alone_with_its_progress() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    for visibility in Visibility::ALL {
        let body = json!({"name": "Kilimanjaro", "visibility": visibility.as_str()});
        let v = app.create_video_with("ann", &ann, body).await;
        let vid = v["id"].as_str().unwrap().to_string();
        set_processing(
            &app,
            &vid,
            VideoState::Processing,
            Some(42),
            Some("Été.mov"),
        )
        .await;

        let own = object(&app, &vid, Some(&ann)).await;
        assert_eq!(own["state"], "processing", "{visibility}");
        assert_eq!(own["processing_progress"], 42, "{visibility}");
        assert_eq!(own["original_url"], format!("/videos/{vid}/original"));
        assert_eq!(own["original_name"], "Été.mov");
        assert!(own["hls_url"].is_null() && own["storyboard_url"].is_null());
        let listed = app.read("/user/ann/videos", Some(&ann)).await.expect(200);
        assert!(listed.ids("videos").contains(&vid), "{visibility}");

        // Not playable: 404 to everyone else, and in no list, feed or search of theirs.
        for session in [Some(bob.as_str()), None] {
            for path in [format!("/videos/{vid}"), format!("/user/ann/videos/{vid}")] {
                app.read(&path, session).await.assert_error(404, "404");
            }
            let list = app.read("/user/ann/videos", session).await.expect(200);
            assert!(!list.ids("videos").contains(&vid), "{visibility}");
            assert!(!app.feed(session).await.contains(&vid), "{visibility}");
            assert!(!app.search("kilimanjaro", session).await.contains(&vid));
            let comments = format!("/videos/{vid}/comments");
            app.read(&comments, session).await.assert_error(404, "404");
        }
        app.delete(&format!("/user/ann/videos/{vid}"), &ann)
            .await
            .expect(204);
    }
}

#[tokio::test]
async fn the_ladder_and_storyboard_appear_as_processing_publishes_them() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let vid = app
        .published("ann", &ann, "Ladder", "", Visibility::Public)
        .await;
    set_processing(&app, &vid, VideoState::Ready, None, Some("clip.mov")).await;
    let hls = format!("/videos/{vid}/hls/master.m3u8");

    // Planned, lowest first whatever the order of planning; not all published: no hls_url.
    rung(&app, &vid, 360, 800_000, false).await;
    rung(&app, &vid, 240, 400_000, true).await;
    for session in [Some(ann.as_str()), Some(bob.as_str()), None] {
        let v = object(&app, &vid, session).await;
        assert_eq!(
            v["renditions"],
            json!([
                {"height": 240, "bandwidth": 400_000, "ready": true},
                {"height": 360, "bandwidth": 800_000, "ready": false},
            ]),
            "{v}"
        );
        assert!(v["hls_url"].is_null(), "{v}");
        assert!(v["storyboard_url"].is_null(), "{v}");
        assert!(v["processing_progress"].is_null(), "{v}");
    }

    // Every rung published: the master playlist is there.
    rung(&app, &vid, 360, 800_000, true).await;
    app.sql(
        "UPDATE video_info SET has_storyboard = TRUE WHERE id = ?",
        (&vid,),
    )
    .await;
    for session in [Some(ann.as_str()), Some(bob.as_str()), None] {
        let v = object(&app, &vid, session).await;
        assert_eq!(v["hls_url"], hls, "{v}");
        assert_eq!(v["storyboard_url"], format!("/videos/{vid}/storyboard.vtt"));
        assert_eq!(v["renditions"][1]["ready"], true, "{v}");
        assert_eq!(has_owner_fields(&v), session == Some(ann.as_str()), "{v}");
    }
    let own = object(&app, &vid, Some(&ann)).await;
    assert_eq!(own["original_url"], format!("/videos/{vid}/original"));
    assert_eq!(own["original_name"], "clip.mov");

    // The same object in every list that shows the video, for the same reader.
    for session in [Some(ann.as_str()), Some(bob.as_str()), None] {
        let one = object(&app, &vid, session).await;
        for path in ["/user/ann/videos", "/videos", "/search?q=ladder"] {
            let page = app.read(path, session).await.expect(200);
            assert_eq!(page.body["videos"][0], one, "{path} {session:?}");
        }
    }

    // A ladder is only handed out for a ready video (the streamserver serves it only then).
    app.set_state(&vid, VideoState::Failed).await;
    let own = object(&app, &vid, Some(&ann)).await;
    assert!(own["hls_url"].is_null() && own["storyboard_url"].is_null());
    assert_eq!(own["renditions"].as_array().unwrap().len(), 2);

    // Deleting the video takes its rungs with it.
    app.delete(&format!("/user/ann/videos/{vid}"), &ann)
        .await
        .expect(204);
    let left = "SELECT COUNT(*) FROM video_renditions WHERE video_id = ?";
    assert_eq!(app.sql_count(left, (&vid,)).await, 0);
}

/// The rungs video number `i` of a page gets in the list test: 0 to 4 of them, some ready.
fn ladder_of(i: usize) -> Vec<(u16, u32, bool)> {
    [
        (240, 400_000),
        (360, 800_000),
        (480, 1_400_000),
        (720, 2_800_000),
    ]
    .into_iter()
    .take(i % 5)
    .enumerate()
    .map(|(k, (h, b))| (h, b + i as u32, !(i + k).is_multiple_of(3)))
    .collect()
}

fn as_json(ladder: &[(u16, u32, bool)]) -> Value {
    ladder
        .iter()
        .map(|(height, bandwidth, ready)| {
            json!({"height": height, "bandwidth": bandwidth, "ready": ready})
        })
        .collect()
}

#[tokio::test]
async fn every_video_on_a_page_gets_its_own_ladder() {
    let (app, [ann]) = spawn_with_users(["ann"]).await;
    let mut expected = std::collections::HashMap::new();
    for i in 0..23 {
        let vid = app
            .published("ann", &ann, "v", "", Visibility::Public)
            .await;
        for (height, bandwidth, ready) in ladder_of(i) {
            rung(&app, &vid, height, bandwidth, ready).await;
        }
        expected.insert(vid, as_json(&ladder_of(i)));
    }
    for limit in [100, 7] {
        for session in [Some(ann.as_str()), None] {
            let mut seen = 0;
            let mut next: Option<String> = None;
            loop {
                let path = match &next {
                    None => format!("/user/ann/videos?limit={limit}"),
                    Some(c) => format!("/user/ann/videos?limit={limit}&before={c}"),
                };
                let page = app.read(&path, session).await.expect(200);
                for v in page.body["videos"].as_array().unwrap() {
                    let vid = v["id"].as_str().unwrap();
                    assert_eq!(v["renditions"], expected[vid], "{vid}");
                    seen += 1;
                }
                match page.body["next"].as_str() {
                    Some(c) => next = Some(c.to_string()),
                    None => break,
                }
            }
            assert_eq!(seen, 23, "limit {limit}");
        }
    }
    let feed = app.read("/videos?limit=100", None).await.expect(200);
    for v in feed.body["videos"].as_array().unwrap() {
        assert_eq!(v["renditions"], expected[v["id"].as_str().unwrap()]);
    }
}

/// The number of SELECT statements MariaDB has run for `user` (its `userstat` statistics).
async fn selects_by(app: &TestApp, user: &str) -> u64 {
    let sql = "SELECT SELECT_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = ?";
    app.sql_count(sql, (user,)).await
}

/// A list page costs a fixed number of queries: the rows, then every row's ladder at once.
/// Counted by MariaDB itself: a second api runs as a database user of its own, and the server's
/// per-user statistics (`userstat`, switched on for this) count its SELECTs. `userstat` is left
/// on: switching it off could break a run of this test in another process, and its cost is a
/// few counters per statement.
#[tokio::test]
async fn a_list_page_costs_the_same_queries_for_one_video_or_a_hundred() {
    let (app, [ann, bob]) = spawn_with_users(["ann", "bob"]).await;
    let one = app
        .published("bob", &bob, "v", "", Visibility::Public)
        .await;
    rung(&app, &one, 240, 400_000, true).await;
    for i in 0..100 {
        let vid = app
            .published("ann", &ann, "v", "", Visibility::Public)
            .await;
        for (height, bandwidth, ready) in ladder_of(i) {
            rung(&app, &vid, height, bandwidth, ready).await;
        }
    }

    // The api under count, on the same database, as its own database user.
    let user = format!("q{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut admin = app.db.pool.get_conn().await.unwrap();
    admin.query_drop("SET GLOBAL userstat = 1").await.unwrap();
    admin
        .query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'pw';
             GRANT ALL ON `{}`.* TO '{user}'@'127.0.0.1'",
            app.db.name
        ))
        .await
        .unwrap();
    let (_, server) = app
        .db
        .url
        .split_once('@')
        .expect("user@host in the test URL");
    let url = format!("mysql://{user}:pw@{server}");
    // One pooled connection, so `/readyz`'s `DO 1` runs on the server thread that ran the page's
    // SELECTs, after them: MariaDB adds a statement to the user's statistics only after it has
    // sent the result, so a count read just as the page arrives can miss its last SELECT.
    let counted = spawn_on(
        Arc::clone(&app.db),
        &[
            ("DATABASE_URL", &url),
            ("SESSION_SWEEP_INTERVAL", "1h"),
            ("DB_POOL_SIZE", "1"),
        ],
    )
    .await;
    // Its start-up sweep of sessions ends with a SELECT: wait for it, then nothing else runs.
    eventually(
        "the counted api's start-up sweep",
        Duration::from_secs(10),
        || async { (selects_by(&app, &user).await >= 1).then_some(()) },
    )
    .await;

    // Each page is read three times and its cheapest read counts: a read that happens to open a
    // new pooled connection also pays the driver's set-up SELECTs, which are not the page's cost.
    let mut costs = vec![];
    for path in [
        "/user/bob/videos",
        "/user/ann/videos?limit=100",
        "/videos?limit=1",
        "/videos?limit=100",
    ] {
        let mut cheapest = None;
        for _ in 0..3 {
            counted.read("/readyz", None).await.expect(200);
            let before = selects_by(&app, &user).await;
            let page = counted.read(path, None).await.expect(200);
            counted.read("/readyz", None).await.expect(200);
            let after = selects_by(&app, &user).await;
            let videos = page.body["videos"].as_array().unwrap().len();
            let cost = (path, videos, after - before);
            cheapest = Some(cheapest.map_or(cost, |c: (&str, usize, u64)| c.min(cost)));
        }
        costs.push(cheapest.unwrap());
    }
    admin
        .query_drop(format!("DROP USER '{user}'@'127.0.0.1'"))
        .await
        .unwrap();
    // A channel: the user, the rows, the ladders; the feed: the rows, the ladders.
    assert_eq!(
        costs,
        [
            ("/user/bob/videos", 1, 3),
            ("/user/ann/videos?limit=100", 100, 3),
            ("/videos?limit=1", 1, 2),
            ("/videos?limit=100", 100, 2),
        ]
    );
}
