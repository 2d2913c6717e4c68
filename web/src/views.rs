//! The askama templates (in the top-level `templates/`) and the view models they render.
//!
//! Values are shaped for display here (durations as `m:ss`, state labels), so templates stay free
//! of logic. askama escapes every value in `.html` templates, so user text (names, comments) can
//! never inject markup.

use askama::Template;

use crate::api::{Comment, Video};
use crate::assets::AssetUrls;

/// What the shared layout needs on every page.
pub struct Layout {
    /// The signed-in user's name, if any.
    pub me: Option<String>,
    pub assets: &'static AssetUrls,
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
        let state_label = match v.state.as_str() {
            "pending" => "Waiting for upload",
            "uploaded" => "Processing…",
            "ready" => "Ready",
            "failed" => "Failed",
            _ => "Unknown",
        }
        .to_string();
        let resolution = match (v.width, v.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => format!("{w}×{h}"),
            _ => String::new(),
        };
        VideoView {
            watch_url: crate::pages::watch_url(&v.id),
            playable: v.state == "uploaded" || v.state == "ready",
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
}
