//! The site's look where it had rough edges, in a real browser (`web/tests/e2e/ui.cjs`): the
//! header on a phone, a long channel name on a card, the owner's page of a video whose processing
//! failed, and full screen with the danmaku layer. Screenshots land in `var/screenshots/ui/`.

use std::time::Duration;

use serde_json::json;

use crate::e2e::{run_browser, screenshot_dir, session_of, BROWSER};
use crate::site::not_a_video;
use crate::support::{make_mp4, Options, Platform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_fits_a_phone_a_failed_video_offers_only_its_fixes_and_full_screen_keeps_danmaku(
) {
    let _one_browser = BROWSER.lock().await;
    let p = Platform::start(Options {
        stream: true,
        scheduler: true,
        ..Options::default()
    })
    .await;
    let web = &p.web;
    // A long name, which the header and its menu on a phone must hold.
    let ann = web.register("annabelle_from_the_harbour_office").await;
    let clip = p.dir.path().join("clip.mp4");
    make_mp4(&clip, 4, "640x360");
    let ready = web
        .create_video_as(
            &ann,
            json!({"name": "Harbour at dusk", "visibility": "public"}),
        )
        .await;
    web.upload(&ann, &ready, std::fs::read(&clip).expect("the clip"))
        .await;
    let failed = web.create_video(&ann, "Not really a video").await;
    web.upload(&ann, &failed, not_a_video(100_000)).await;
    for (vid, state) in [(&ready, "ready"), (&failed, "failed")] {
        let path = format!("/api/videos/{vid}");
        svc::testing::eventually(
            &format!("the video to be {state}"),
            Duration::from_secs(90),
            || {
                let get = web.get(&path).by(&ann);
                async move { (get.await.json()["state"] == state).then_some(()) }
            },
        )
        .await;
    }
    let shots = screenshot_dir("ui");
    println!("screenshots: {}", shots.display());
    let env = [
        ("BASE_URL", web.url("")),
        ("SESSION", session_of(&ann)),
        ("READY", ready.clone()),
        ("FAILED", failed.clone()),
        ("SHOTS", shots.display().to_string()),
    ];
    let r = run_browser("ui.cjs", &env, &[]).await;

    // The header: one line at 390 and 320 px as at 1280 px, nothing sideways, and every control
    // of the desktop header reachable (in the row, or in the menu when signed in).
    for who in ["signed_in", "signed_out"] {
        let h = &r["header"][who];
        let ids: Vec<String> = serde_json::from_value(h["ids"].clone()).expect("ids");
        assert!(ids.len() >= 3, "{who}: {h}");
        let desktop = &h["desktop"];
        assert!(
            desktop["reach"]
                .as_object()
                .unwrap()
                .values()
                .all(|v| v == "shown"),
            "{who}: {h}"
        );
        for width in ["phone", "narrow"] {
            let at = &h[width];
            assert_eq!(
                at["height"], desktop["height"],
                "{who} at {width}: the header is not one line: {h}"
            );
            assert_eq!(at["sideways"], false, "{who} at {width}: {h}");
            let unreachable: Vec<&String> = ids
                .iter()
                .filter(|id| {
                    at["reach"][id.as_str()] == "unreachable" || at["reach"][id.as_str()].is_null()
                })
                .collect();
            assert!(
                unreachable.is_empty(),
                "{who} at {width}: {unreachable:?} {h}"
            );
        }
    }
    assert_eq!(
        r["header"]["signed_in"]["narrow"]["reach"]["studio-link"], "menu",
        "{r:#}"
    );
    // The long name on its front-page card: cut with an ellipsis inside the card, at both sizes.
    let cut = json!({"inside": true, "cut": true, "ellipsis": true});
    assert_eq!(
        r["card_channel"],
        json!({"desktop": cut, "phone": cut}),
        "{r:#}"
    );
    assert_eq!(r["menu_open"], true, "{r:#}");
    assert_eq!(r["menu_led_to"], "/studio", "{r:#}");

    // The failed video: its reason, Edit and Delete; nothing that needs a watchable video.
    let reason = web
        .get(&format!("/api/videos/{failed}"))
        .by(&ann)
        .await
        .json()["failure_reason"]
        .as_str()
        .expect("a failure reason")
        .to_string();
    let expect_failed = json!({
        "heart": false, "comment_form": false, "comments": false, "danmaku_form": false,
        "copy_link": false, "edit": true, "delete": true, "player": false,
        "label": format!("Processing failed: {reason}"),
    });
    assert_eq!(r["failed"], expect_failed, "{r:#}");
    // The ready one keeps them all.
    let ready_page = &r["ready"];
    for key in [
        "heart",
        "comment_form",
        "comments",
        "danmaku_form",
        "copy_link",
        "edit",
        "delete",
        "player",
    ] {
        assert_eq!(ready_page[key], true, "{key}: {ready_page}");
    }

    // Full screen is the screen with the danmaku layer, however it is asked for; the native
    // controls offer no full screen of the bare video.
    assert!(
        r["controls_list"]
            .as_str()
            .unwrap()
            .contains("nofullscreen"),
        "{r:#}"
    );
    let screen = json!({"id": "screen", "has_layer": true});
    assert_eq!(r["fullscreen_button"], screen, "{r:#}");
    assert_eq!(r["fullscreen_dblclick"], screen, "{r:#}");

    assert_eq!(
        r["violations"],
        json!({}),
        "axe: serious or critical violations"
    );
    for name in [
        "front",
        "front-phone",
        "front-signed-out",
        "front-signed-out-phone",
        "front-narrow",
        "front-menu-phone",
        "watch-ready",
        "watch-ready-phone",
        "watch-failed",
        "watch-failed-phone",
        "watch-fullscreen",
    ] {
        let file = shots.join(format!("{name}.png"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}
