//! The askama templates (in the top-level `templates/`), the view models they render, and the
//! HTML error page.
//!
//! Values are shaped for display here (durations as `m:ss`, state labels), so templates stay free
//! of logic. askama escapes every value in `.html` templates, so user text (names, comments) can
//! never inject markup. Fetching the data is `pages.rs`; the words of an error are `error.rs`.

use askama::Template;
use http::{header, HeaderValue, Response};
use svc::http::{html, Body};
use svc::VideoState;

use crate::api::{Comment, Video};
use crate::assets::{self, AssetUrls};
use crate::error::WebError;
use crate::urls;

/// What the shared layout needs on every page.
pub struct Layout {
    /// The signed-in user's name, if any.
    pub me: Option<String>,
    pub assets: &'static AssetUrls,
}

impl Layout {
    /// The layout for a visitor who is not signed in (or whose sign-in does not matter).
    pub fn signed_out() -> Self {
        Layout {
            me: None,
            assets: assets::urls(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// Sign in and register, side by side; `error` is the api's message after a failed attempt.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    /// Which form the error belongs to: `login` or `register`.
    pub failed_form: String,
    pub error: String,
    pub user_name: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub me: String,
    pub videos: Vec<VideoView>,
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub user_name: String,
    pub video_count: u64,
    pub videos: Vec<VideoView>,
}

#[derive(Template)]
#[template(path = "watch.html")]
pub struct WatchPage {
    pub layout: Layout,
    pub video: VideoView,
    pub comments: Vec<CommentView>,
    /// The signed-in user owns the video (may delete any comment on it).
    pub is_owner: bool,
    pub error: String,
}

pub struct VideoView {
    pub id: String,
    pub name: String,
    pub author: String,
    pub date: String,
    pub state: String,
    pub state_label: String,
    pub duration: String,
    pub resolution: String,
    pub thumb: Option<String>,
    pub failure: String,
    pub watch_url: String,
    pub playable: bool,
}

pub struct CommentView {
    pub id: String,
    pub author: String,
    pub content: String,
    pub time: String,
    pub deletable: bool,
}

impl VideoView {
    pub fn from_api(v: Video) -> Self {
        let state = VideoState::parse(&v.state);
        let state_label = match state {
            Some(VideoState::Pending) => "Waiting for upload",
            Some(VideoState::Uploaded) => "Processing…",
            Some(VideoState::Ready) => "Ready",
            Some(VideoState::Failed) => "Failed",
            None => "Unknown",
        }
        .to_string();
        let resolution = match (v.width, v.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => format!("{w}×{h}"),
            _ => String::new(),
        };
        VideoView {
            watch_url: urls::watch(&v.id),
            playable: state.is_some_and(VideoState::is_playable),
            duration: v.duration_ms.map(format_duration).unwrap_or_default(),
            failure: v
                .failure_reason
                .unwrap_or_else(|| "the file could not be processed".into()),
            thumb: v.thumbnail_url,
            id: v.id,
            name: v.name,
            author: v.author,
            date: v.display_ctime,
            state: v.state,
            state_label,
            resolution,
        }
    }
}

impl CommentView {
    pub fn from_api(c: Comment, me: Option<&str>, is_owner: bool) -> Self {
        CommentView {
            deletable: is_owner || me == Some(c.author.as_str()),
            time: display_time(&c.time),
            id: c.id,
            author: c.author,
            content: c.content,
        }
    }
}

/// The HTML error page for `error`, inside the site's layout. Never framed, never cached.
pub fn error_page(error: &WebError) -> Response<Body> {
    let status = error.code().status();
    let (title, message) = error.words();
    let page = ErrorPage {
        layout: Layout::signed_out(),
        status: status.as_u16(),
        title,
        message,
    };
    let mut resp = match page.render() {
        Ok(body) => html(status, body),
        // The error page itself failed: a plain line is still better than nothing.
        Err(_) => svc::http::text(status, "Something went wrong. Please try again.\n"),
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `65_000` ms -> `1:05`, `3_725_000` -> `1:02:05`.
pub fn format_duration(ms: u64) -> String {
    let secs = (ms + 500) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// An RFC 3339 timestamp shown as `2026-11-22 02:16 UTC`; anything else as it came.
fn display_time(raw: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(raw, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        }
        Err(_) => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_player() {
        assert_eq!(format_duration(0), "0:00");
        assert_eq!(format_duration(4_600), "0:05");
        assert_eq!(format_duration(65_000), "1:05");
        assert_eq!(format_duration(3_725_000), "1:02:05");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(display_time("2026-11-22T02:16:54Z"), "2026-11-22 02:16 UTC");
        assert_eq!(
            display_time("2026-11-22T02:16:54.123456+01:00"),
            "2026-11-22 01:16 UTC"
        );
        assert_eq!(display_time("yesterday"), "yesterday");
    }

    #[test]
    fn only_uploaded_and_ready_videos_are_playable() {
        for (state, playable, label) in [
            ("pending", false, "Waiting for upload"),
            ("uploaded", true, "Processing…"),
            ("ready", true, "Ready"),
            ("failed", false, "Failed"),
            ("deleted", false, "Unknown"),
        ] {
            let video: Video =
                serde_json::from_value(serde_json::json!({ "id": "v/1", "state": state })).unwrap();
            let view = VideoView::from_api(video);
            assert_eq!(view.playable, playable, "{state}");
            assert_eq!(view.state_label, label, "{state}");
            assert_eq!(view.watch_url, "/watch/v%2F1");
        }
    }

    #[test]
    fn error_pages_are_html_never_cached_or_framed() {
        let resp = error_page(&WebError::NotFound);
        assert_eq!(resp.status(), 404);
        let h = resp.headers();
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
}
