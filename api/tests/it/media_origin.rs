//! The media origin (issue 16) as the api tells it: with `MEDIA_URL` unset every media URL of
//! the video object stays relative to the site, exactly as before; with it set they are absolute
//! on the media origin, plain for what anonymous viewers may see and signed for the viewer
//! otherwise (`media_expires` saying until when); and `POST /videos/{vid}/upload-token` hands
//! the owner of a video waiting for its file a token for that upload alone.

use reqwest::Method;
use serde_json::Value;
use svc::media::{split_signed, MediaKey};
use svc::{VideoState, Visibility};

use crate::helpers::{spawn_app, TestApp};

const MEDIA: &str = "http://127.0.0.1:9400";
const KEY: &str = "a test media key of at least thirty-two bytes";

fn key() -> MediaKey {
    MediaKey::new(KEY).unwrap()
}

/// An api with a media origin and grants of five minutes.
async fn with_media_origin() -> TestApp {
    spawn_app(&[
        ("MEDIA_URL", MEDIA),
        ("MEDIA_SIGNING_KEY", KEY),
        ("MEDIA_GRANT_TTL", "5m"),
    ])
    .await
}

/// A `ready` video of `ann` with the given visibility, its ladder and storyboard published.
async fn ready_video(app: &TestApp, session: &str, visibility: Visibility) -> String {
    let vid = app.published("ann", session, "clip", "", visibility).await;
    app.sql(
        "INSERT INTO video_renditions (video_id, height, width, bandwidth, codecs, ready)
         VALUES (?, 360, 640, 800000, 'avc1.64001f,mp4a.40.2', TRUE)",
        (vid.as_str(),),
    )
    .await;
    app.sql(
        "UPDATE video_info SET has_storyboard = TRUE WHERE id = ?",
        (vid.as_str(),),
    )
    .await;
    vid
}

async fn object(app: &TestApp, vid: &str, session: Option<&str>) -> Value {
    app.read(&format!("/videos/{vid}"), session)
        .await
        .expect(200)
        .body
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

/// Checks that `url` is `MEDIA/s/<token><prefix><rest>` with a grant of `prefix` of `vid` for
/// `viewer` expiring at `expires`.
#[track_caller]
fn assert_signed(url: &str, prefix: &str, rest: &str, vid: &str, viewer: u32, expires: u64) {
    let path = url
        .strip_prefix(MEDIA)
        .unwrap_or_else(|| panic!("{url} is not on the media origin"));
    let (token, opened) = split_signed(path).unwrap_or_else(|| panic!("{url} is not signed"));
    assert_eq!(opened, format!("{prefix}{rest}"), "{url}");
    assert_eq!(
        key().verify_path(token, prefix, vid, expires - 1),
        Ok(viewer),
        "{url}"
    );
    assert!(key().verify_path(token, prefix, vid, expires).is_err());
}

#[tokio::test]
async fn without_a_media_origin_every_url_stays_relative_and_unsigned() {
    let app = spawn_app(&[("MEDIA_SIGNING_KEY", KEY)]).await;
    let ann = app.register("ann").await;
    for visibility in [Visibility::Public, Visibility::Private] {
        let vid = ready_video(&app, &ann, visibility).await;
        let v = object(&app, &vid, Some(&ann)).await;
        assert_eq!(text(&v, "play_url"), format!("/videos/{vid}"));
        assert_eq!(text(&v, "thumbnail_url"), format!("/thumbnails/{vid}"));
        assert_eq!(
            text(&v, "hls_url"),
            format!("/videos/{vid}/hls/master.m3u8")
        );
        assert_eq!(
            text(&v, "storyboard_url"),
            format!("/videos/{vid}/storyboard.vtt")
        );
        assert_eq!(text(&v, "upload_url"), format!("/upload/{vid}"));
        assert_eq!(text(&v, "resumable_upload_url"), "/files/");
        assert_eq!(text(&v, "original_url"), format!("/videos/{vid}/original"));
        assert!(v["media_expires"].is_null(), "{v}");
    }
}

#[tokio::test]
async fn on_a_media_origin_what_anyone_may_see_is_plain_and_the_rest_signed_for_its_viewer() {
    let app = with_media_origin().await;
    let ann = app.register("ann").await;
    for visibility in [Visibility::Public, Visibility::Unlisted] {
        let vid = ready_video(&app, &ann, visibility).await;
        for session in [Some(ann.as_str()), None] {
            let v = object(&app, &vid, session).await;
            assert_eq!(text(&v, "play_url"), format!("{MEDIA}/videos/{vid}"));
            assert_eq!(
                text(&v, "thumbnail_url"),
                format!("{MEDIA}/thumbnails/{vid}")
            );
            assert_eq!(
                text(&v, "hls_url"),
                format!("{MEDIA}/videos/{vid}/hls/master.m3u8")
            );
            assert_eq!(
                text(&v, "storyboard_url"),
                format!("{MEDIA}/videos/{vid}/storyboard.vtt")
            );
            assert_eq!(text(&v, "upload_url"), format!("{MEDIA}/upload/{vid}"));
            assert_eq!(text(&v, "resumable_upload_url"), format!("{MEDIA}/files/"));
            assert!(v["media_expires"].is_null(), "{visibility}: {v}");
        }
    }

    let private = ready_video(&app, &ann, Visibility::Private).await;
    let before = svc::media::now();
    let v = object(&app, &private, Some(&ann)).await;
    let owner = v["author_id"].as_u64().unwrap() as u32;
    let expires = v["media_expires"].as_u64().expect("media_expires");
    assert!(
        (before + 299..=svc::media::now() + 300).contains(&expires),
        "MEDIA_GRANT_TTL is 5m: {expires} from {before}"
    );
    let video = format!("/videos/{private}");
    assert_signed(text(&v, "play_url"), &video, "", &private, owner, expires);
    let hls = text(&v, "hls_url");
    assert_signed(hls, &video, "/hls/master.m3u8", &private, owner, expires);
    let cues = text(&v, "storyboard_url");
    assert_signed(cues, &video, "/storyboard.vtt", &private, owner, expires);
    let thumbnail = format!("/thumbnails/{private}");
    let thumb = text(&v, "thumbnail_url");
    assert_signed(thumb, &thumbnail, "", &private, owner, expires);
    // Uploads take a token of their own, and the original's download stays on the site.
    assert_eq!(text(&v, "upload_url"), format!("{MEDIA}/upload/{private}"));
    assert_eq!(
        text(&v, "original_url"),
        format!("/videos/{private}/original")
    );
    // Lists carry the same grants as the object.
    let page = app.get("/user/ann/videos", &ann).await.expect(200).body;
    let listed = page["videos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == private.as_str())
        .expect("the private video in its owner's list")
        .clone();
    assert_signed(
        text(&listed, "play_url"),
        &video,
        "",
        &private,
        owner,
        listed["media_expires"].as_u64().unwrap(),
    );

    // A public video that is not playable yet is its owner's alone: signed too.
    let pending = app.new_video("ann", &ann, "waiting").await;
    let v = object(&app, &pending, Some(&ann)).await;
    let expires = v["media_expires"].as_u64().expect("media_expires");
    let prefix = format!("/videos/{pending}");
    assert_signed(text(&v, "play_url"), &prefix, "", &pending, owner, expires);
    assert!(
        v["thumbnail_url"].is_null() && v["hls_url"].is_null(),
        "{v}"
    );
}

#[tokio::test]
async fn the_media_origin_needs_the_signing_key_at_start_up() {
    let env = svc::Env::from_pairs(&[("MEDIA_URL", MEDIA)]);
    let e = api::Config::from_env(&env).unwrap_err();
    assert_eq!(e.name, "MEDIA_SIGNING_KEY");
}

#[tokio::test]
async fn an_upload_token_is_for_the_owner_of_a_video_waiting_for_its_file() {
    let app = with_media_origin().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let vid = app.new_video("ann", &ann, "to upload").await;
    let owner = object(&app, &vid, Some(&ann)).await["author_id"]
        .as_u64()
        .unwrap() as u32;
    let path = format!("/videos/{vid}/upload-token");

    let before = svc::media::now();
    let t = app
        .call(Method::POST, &path, Some(&ann), None)
        .await
        .expect(200)
        .body;
    let expires = t["expires"].as_u64().expect("expires");
    assert!(
        (before + 299..=svc::media::now() + 300).contains(&expires),
        "{t}"
    );
    let token = text(&t, "token");
    assert_eq!(key().verify_upload(token, &vid, expires - 1), Ok(owner));
    assert!(key().verify_upload(token, &vid, expires).is_err());
    assert_eq!(text(&t, "upload_url"), format!("{MEDIA}/upload/{vid}"));
    assert_eq!(text(&t, "resumable_upload_url"), format!("{MEDIA}/files/"));

    app.call(Method::POST, &path, Some(&bob), None)
        .await
        .assert_error(404, "404");
    app.call(Method::POST, &path, None, None)
        .await
        .assert_error(401, "002");
    app.call(
        Method::POST,
        "/videos/not-a-video/upload-token",
        Some(&ann),
        None,
    )
    .await
    .assert_error(404, "404");

    app.set_state(&vid, VideoState::Uploaded).await;
    let r = app.call(Method::POST, &path, Some(&ann), None).await;
    r.assert_error(409, "409");
    assert!(
        text(&r.body, "error").contains("already has its file"),
        "{r:?}"
    );
}

#[tokio::test]
async fn without_the_signing_key_there_are_no_upload_tokens() {
    let app = spawn_app(&[]).await;
    let ann = app.register("ann").await;
    let vid = app.new_video("ann", &ann, "to upload").await;
    let r = app
        .call(
            Method::POST,
            &format!("/videos/{vid}/upload-token"),
            Some(&ann),
            None,
        )
        .await;
    r.assert_error(503, "503");
    assert!(
        text(&r.body, "error").contains("MEDIA_SIGNING_KEY"),
        "{r:?}"
    );
}

#[tokio::test]
async fn with_the_key_alone_upload_tokens_point_at_the_site() {
    let app = spawn_app(&[("MEDIA_SIGNING_KEY", KEY)]).await;
    let ann = app.register("ann").await;
    let vid = app.new_video("ann", &ann, "to upload").await;
    let t = app
        .call(
            Method::POST,
            &format!("/videos/{vid}/upload-token"),
            Some(&ann),
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(text(&t, "upload_url"), format!("/upload/{vid}"));
    assert_eq!(text(&t, "resumable_upload_url"), "/files/");
}
