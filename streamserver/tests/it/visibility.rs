//! Who may have a video's bytes (issue 10): a private video's file, HEAD, ranges and thumbnail
//! are its owner's alone (by header or cookie) and answered `private, no-store` without CORS;
//! to anyone else they are the 404 of an unknown video. Public and unlisted videos play for
//! anyone with today's caching headers, and making a video private stops its playback within
//! 2 s.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use svc::testing::eventually;
use svc::{VideoId, Visibility};

use crate::helpers::{noise, spawn_app, spawn_app_on, Backend, OwnedVideo, TestApp, Viewer};

const LEN: usize = 10_000;
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0fake jpeg";
/// How soon a change of visibility must reach playback (issue 10, item 2).
const DEADLINE: Duration = Duration::from_secs(2);

/// One request of the kinds a player or a page makes.
#[derive(Debug, Clone, Copy)]
enum Fetch {
    File,
    Head,
    Range,
    Thumbnail,
}

impl Fetch {
    const ALL: [Fetch; 4] = [Fetch::File, Fetch::Head, Fetch::Range, Fetch::Thumbnail];

    async fn send(self, app: &TestApp, vid: &str, viewer: Viewer<'_>) -> Answer {
        let video = format!("/videos/{vid}");
        let (method, path, headers): (Method, String, &[(&str, &str)]) = match self {
            Fetch::File => (Method::GET, video, &[]),
            Fetch::Head => (Method::HEAD, video, &[]),
            Fetch::Range => (Method::GET, video, &[("range", "bytes=100-199")]),
            Fetch::Thumbnail => (Method::GET, format!("/thumbnails/{vid}"), &[]),
        };
        Answer::of(app.request(method, &path, viewer, headers).await).await
    }

    /// The status and body of a served answer, for a video whose file is `file`.
    fn served(self, file: &[u8]) -> (StatusCode, &[u8]) {
        match self {
            Fetch::File => (StatusCode::OK, file),
            Fetch::Head => (StatusCode::OK, b""),
            Fetch::Range => (StatusCode::PARTIAL_CONTENT, &file[100..200]),
            Fetch::Thumbnail => (StatusCode::OK, JPEG),
        }
    }

    /// Today's `Cache-Control` and CORS grant for a video anyone may see.
    fn public_headers(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            // Any origin may read a public thumbnail too: pages load it with `crossorigin`.
            Fetch::Thumbnail => (Some("public, max-age=300"), Some("*")),
            _ => (Some("public, no-cache"), Some("*")),
        }
    }
}

/// What a client learns from an answer: its status, the headers about caching and sharing,
/// its body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    cache_control: Option<String>,
    allow_origin: Option<String>,
    expose_headers: Option<String>,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    async fn of(resp: reqwest::Response) -> Answer {
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        Answer {
            status: resp.status(),
            cache_control: header("cache-control"),
            allow_origin: header("access-control-allow-origin"),
            expose_headers: header("access-control-expose-headers"),
            etag: header("etag"),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    /// Asserts the answer is `fetch` served to the video's owner alone.
    fn assert_private(&self, fetch: Fetch, file: &[u8], context: &str) {
        assert_eq!(
            (self.status, self.body.as_slice()),
            fetch.served(file),
            "{context}"
        );
        self.assert_private_headers(context);
    }

    fn assert_private_headers(&self, context: &str) {
        let caching = self.cache_control.as_deref();
        assert_eq!(caching, Some("private, no-store"), "{context}");
        assert_eq!(self.allow_origin, None, "{context}");
        assert_eq!(self.expose_headers, None, "{context}");
    }

    /// Asserts the answer is `fetch` served as it is to anyone, with today's headers.
    fn assert_public(&self, fetch: Fetch, file: &[u8], context: &str) {
        assert_eq!(
            (self.status, self.body.as_slice()),
            fetch.served(file),
            "{context}"
        );
        let (caching, origin) = fetch.public_headers();
        assert_eq!(self.cache_control.as_deref(), caching, "{context}");
        assert_eq!(self.allow_origin.as_deref(), origin, "{context}");
    }
}

/// The answer to `fetch` of a video nobody has: what a hidden video must look like.
async fn unknown_video(app: &TestApp, fetch: Fetch) -> Answer {
    let nobody = fetch
        .send(app, VideoId::random().as_str(), Viewer::SignedOut)
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{fetch:?}");
    assert_eq!(
        nobody.cache_control.as_deref(),
        Some("no-store"),
        "{fetch:?}"
    );
    assert_eq!(nobody.allow_origin, None, "{fetch:?}");
    nobody
}

/// A new user's video with `visibility` and a thumbnail, and its file.
async fn video_with_thumbnail(app: &TestApp, visibility: Visibility) -> (OwnedVideo, Vec<u8>) {
    let file = noise(LEN);
    let video = app.owned_video(&file, visibility).await;
    app.put_thumbnail(&video.vid, JPEG).await;
    (video, file)
}

/// Polls a range request of `vid` by `viewer` until it answers `status`, and fails unless that
/// happens within [`DEADLINE`] of `since` (the change that should cause it).
async fn within_deadline(
    app: &TestApp,
    vid: &str,
    viewer: Viewer<'_>,
    status: StatusCode,
    since: Instant,
) {
    let what = format!("playback of {vid} by {viewer:?} to answer {status}");
    eventually(&what, DEADLINE, || async {
        let answer = Fetch::Range.send(app, vid, viewer).await;
        (answer.status == status).then_some(())
    })
    .await;
    let took = since.elapsed();
    eprintln!("{what}: {took:?} after the change");
    assert!(took <= DEADLINE, "{what} took {took:?}");
}

#[tokio::test]
async fn a_private_video_is_its_owners_alone() {
    private_is_owners_alone(spawn_app().await).await
}

#[tokio::test]
async fn a_private_video_is_its_owners_alone_on_s3() {
    private_is_owners_alone(spawn_app_on(Backend::S3, &[]).await).await
}

async fn private_is_owners_alone(app: TestApp) {
    let (video, file) = video_with_thumbnail(&app, Visibility::Private).await;
    let (_, other) = app.user().await;
    let stranger = uuid::Uuid::new_v4().to_string();
    let denied = [
        Viewer::SignedOut,
        Viewer::Header(&other),
        Viewer::Cookie(&other),
        Viewer::Header(&stranger),
        Viewer::Cookie(&stranger),
        Viewer::Header("not-a-session"),
    ];
    for fetch in Fetch::ALL {
        let nobody = unknown_video(&app, fetch).await;
        for viewer in denied {
            let answer = fetch.send(&app, &video.vid, viewer).await;
            assert_eq!(answer, nobody, "{fetch:?} as {viewer:?}");
        }
        for viewer in [Viewer::Header(&video.sid), Viewer::Cookie(&video.sid)] {
            let answer = fetch.send(&app, &video.vid, viewer).await;
            answer.assert_private(fetch, &file, &format!("{fetch:?} as {viewer:?}"));
        }
    }

    // Revalidation, failed preconditions and bad ranges are the owner's answers too.
    let owner = Viewer::Cookie(&video.sid);
    let etag = Fetch::File
        .send(&app, &video.vid, owner)
        .await
        .etag
        .unwrap();
    let path = format!("/videos/{}", video.vid);
    let cases: [(&[(&str, &str)], StatusCode); 3] = [
        (&[("if-none-match", &etag)], StatusCode::NOT_MODIFIED),
        (
            &[("if-match", "\"other\"")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            &[("range", "bytes=99999-")],
            StatusCode::RANGE_NOT_SATISFIABLE,
        ),
    ];
    for (headers, status) in cases {
        let resp = app.request(Method::GET, &path, owner, headers).await;
        let answer = Answer::of(resp).await;
        assert_eq!(answer.status, status, "{headers:?}");
        answer.assert_private_headers(&format!("{headers:?}"));
    }
}

#[tokio::test]
async fn public_and_unlisted_videos_play_for_anyone_as_before() {
    let app = spawn_app().await;
    let (_, other) = app.user().await;
    for visibility in [Visibility::Public, Visibility::Unlisted] {
        let (video, file) = video_with_thumbnail(&app, visibility).await;
        let viewers = [
            Viewer::SignedOut,
            Viewer::Header(&video.sid),
            Viewer::Cookie(&video.sid),
            Viewer::Header(&other),
            // A dead session does not stop a video anyone may see (a read is never a 401).
            Viewer::Cookie("not-a-session"),
        ];
        for fetch in Fetch::ALL {
            for viewer in viewers {
                let answer = fetch.send(&app, &video.vid, viewer).await;
                answer.assert_public(fetch, &file, &format!("{visibility} {fetch:?} {viewer:?}"));
            }
        }
    }
}

#[tokio::test]
async fn a_video_not_playable_yet_shows_its_thumbnail_to_its_owner_only() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    app.put_thumbnail(&vid, JPEG).await;
    let (_, other) = app.user().await;
    let nobody = unknown_video(&app, Fetch::Thumbnail).await;
    for viewer in [Viewer::SignedOut, Viewer::Header(&other)] {
        let answer = Fetch::Thumbnail.send(&app, &vid, viewer).await;
        assert_eq!(answer, nobody, "{viewer:?}");
    }
    let answer = Fetch::Thumbnail
        .send(&app, &vid, Viewer::Header(&sid))
        .await;
    answer.assert_private(Fetch::Thumbnail, b"", "owner");
    // There are no bytes to play yet, not even for the owner.
    let nobody = unknown_video(&app, Fetch::File).await;
    let answer = Fetch::File.send(&app, &vid, Viewer::Header(&sid)).await;
    assert_eq!(answer, nobody);
}

#[tokio::test]
async fn making_a_video_private_stops_its_playback_within_2s_and_back_restores_it() {
    let app = spawn_app().await;
    let (video, file) = video_with_thumbnail(&app, Visibility::Public).await;
    let owner = Viewer::Header(&video.sid);
    // Viewers are watching: the row is in the cache.
    for fetch in Fetch::ALL {
        let answer = fetch.send(&app, &video.vid, Viewer::SignedOut).await;
        answer.assert_public(fetch, &file, &format!("{fetch:?} before"));
    }

    app.set_visibility(&video.vid, Visibility::Private).await;
    let since = Instant::now();
    within_deadline(
        &app,
        &video.vid,
        Viewer::SignedOut,
        StatusCode::NOT_FOUND,
        since,
    )
    .await;
    for fetch in Fetch::ALL {
        let context = format!("{fetch:?} once private");
        let answer = fetch.send(&app, &video.vid, Viewer::SignedOut).await;
        assert_eq!(answer, unknown_video(&app, fetch).await, "{context}");
        let answer = fetch.send(&app, &video.vid, owner).await;
        answer.assert_private(fetch, &file, &context);
    }

    app.set_visibility(&video.vid, Visibility::Unlisted).await;
    let since = Instant::now();
    let served = StatusCode::PARTIAL_CONTENT;
    within_deadline(&app, &video.vid, Viewer::SignedOut, served, since).await;
    for fetch in Fetch::ALL {
        let answer = fetch.send(&app, &video.vid, Viewer::SignedOut).await;
        answer.assert_public(fetch, &file, &format!("{fetch:?} once unlisted"));
    }
}

#[tokio::test]
async fn a_revoked_session_stops_private_playback_within_2s() {
    let app = spawn_app().await;
    let (video, file) = video_with_thumbnail(&app, Visibility::Private).await;
    let owner = Viewer::Cookie(&video.sid);
    let answer = Fetch::Range.send(&app, &video.vid, owner).await;
    answer.assert_private(Fetch::Range, &file, "signed in");

    app.revoke_session(&video.sid).await;
    within_deadline(
        &app,
        &video.vid,
        owner,
        StatusCode::NOT_FOUND,
        Instant::now(),
    )
    .await;
}
