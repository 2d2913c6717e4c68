//! The askama templates (in the top-level `templates/`), the view models they render, and the
//! HTML error page.
//!
//! Values are shaped for display here (durations as `m:ss`, state labels), so templates stay free
//! of logic. askama escapes every value in `.html` templates, so user text (names, comments) can
//! never inject markup. Fetching the data is `pages.rs`; the words of an error are `error.rs`.

use askama::Template;
use http::{header, HeaderValue, Response};
use svc::http::{html, Body};
use svc::{VideoState, Visibility};

use crate::api::{Comment, Video};
use crate::assets::{self, AssetUrls};
use crate::error::WebError;
use crate::media::MediaOrigin;
use crate::messages::Plain;
use crate::urls;

/// What the shared layout needs on every page.
pub struct Layout {
    /// The signed-in user's name, if any.
    pub me: Option<String>,
    /// The signed-in user's channel page.
    pub my_channel: String,
    /// What the header's search box shows (the query on the results page).
    pub q: String,
    /// The header's "Sign in" link, which returns to the page shown.
    pub login_url: String,
    pub assets: &'static AssetUrls,
    /// The media origin (`MEDIA_URL`), empty when media stay on this site: the page scripts
    /// accept media URLs only there (`data-media` on `<body>`).
    pub media: String,
}

impl Layout {
    pub fn new(me: Option<&str>) -> Self {
        Layout {
            my_channel: me.map(urls::user).unwrap_or_default(),
            me: me.map(str::to_owned),
            q: String::new(),
            login_url: urls::LOGIN.to_string(),
            assets: assets::urls(),
            media: String::new(),
        }
    }

    /// The same layout whose "Sign in" link comes back to `here` (a path on this site).
    pub fn returning_to(mut self, here: &str) -> Self {
        if let Some(here) = urls::safe_next(here).filter(|h| *h != "/" && !h.starts_with("/login"))
        {
            self.login_url = urls::login_then(here);
        }
        self
    }

    /// The layout for a visitor who is not signed in (or whose sign-in does not matter).
    pub fn signed_out() -> Self {
        Layout::new(None)
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
    /// The plain sentence of what went wrong (`messages.rs`), shown next to its field.
    pub error: Plain,
    pub user_name: String,
    /// Where to go after signing in (a path on this site), carried by both forms.
    pub next: String,
}

/// `/`: the newest public videos, for everyone.
#[derive(Template)]
#[template(path = "front.html")]
pub struct FrontPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    /// Whether this is the first page (the heading says "newest").
    pub first: bool,
    pub videos: Vec<VideoView>,
}

/// `/studio`: the signed-in user's own videos in every state and visibility, and the upload.
#[derive(Template)]
#[template(path = "studio.html")]
pub struct StudioPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub me: String,
    pub visibilities: Vec<VisibilityChoice>,
    pub videos: Vec<VideoView>,
}

/// `/u/{name}`: a channel.
#[derive(Template)]
#[template(path = "channel.html")]
pub struct ChannelPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub user_name: String,
    /// The name's first letter, upper-cased, for the avatar.
    pub initial: String,
    pub video_count: u64,
    /// How many follow the channel, and how many channels it follows.
    pub follower_count: u64,
    pub following_count: u64,
    /// The Follow button (not on one's own channel).
    pub follow: Option<FollowButton>,
    /// The visitor is the channel's owner (sees every video of theirs, marked).
    pub is_owner: bool,
    /// `/u/{name}/feed.xml`.
    pub feed_url: String,
    pub videos: Vec<VideoView>,
}

/// `/search?q=`: results, best match first.
#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub layout: Layout,
    pub q: String,
    /// Link to the next page of results, empty on the last page.
    pub more: String,
    /// Whether this is the first page of results.
    pub first: bool,
    pub videos: Vec<VideoView>,
    /// Why there are no results (the api refused the query), empty otherwise.
    pub error: String,
}

#[derive(Template)]
#[template(path = "watch.html")]
pub struct WatchPage {
    pub layout: Layout,
    pub video: VideoView,
    pub share: ShareMeta,
    pub comments: Vec<CommentView>,
    /// The signed-in user owns the video (may edit it and delete any comment on it).
    pub is_owner: bool,
    /// Whether the visitor is signed in (may comment); otherwise the form is an invitation.
    pub signed_in: bool,
    /// Sign in and come back here.
    pub login_url: String,
    /// Why the comment just posted was refused, next to the comment field.
    pub error: Plain,
    /// What the player area shows.
    pub stage: Stage,
    /// The heart: whether it is one of the visitor's favourites, and how many have it.
    pub favorite: FavoriteButton,
    /// Follow the channel (not on one's own video).
    pub follow: Option<FollowButton>,
    /// The danmaku palette of the send form.
    pub palette: &'static [PaletteColor],
}

/// `/favorites`: the signed-in user's favourite videos, the most recently marked first.
#[derive(Template)]
#[template(path = "favorites.html")]
pub struct FavoritesPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub first: bool,
    pub videos: Vec<VideoView>,
}

/// `/subscriptions`: the newest public videos of the channels the signed-in user follows.
#[derive(Template)]
#[template(path = "subscriptions.html")]
pub struct SubscriptionsPage {
    pub layout: Layout,
    /// Link to the next (older) page, empty on the last page.
    pub older: String,
    pub first: bool,
    pub videos: Vec<VideoView>,
}

/// The watch page's heart. Signed out it is a link to sign in (with the count).
pub struct FavoriteButton {
    /// The video is among the visitor's favourites.
    pub on: bool,
    pub count: u64,
    /// The form's action (`/watch/{vid}/favorite`).
    pub action: String,
    /// The signed-in user, whose favourites the page's script changes through `/api`.
    pub me: Option<String>,
    /// Signed out: sign in, then back to the watch page.
    pub login_url: String,
}

/// A channel's Follow button, on its page and on its videos' watch pages; never the owner's.
/// Signed out it is a link to sign in.
pub struct FollowButton {
    /// The visitor follows the channel.
    pub on: bool,
    pub name: String,
    /// The form's action (`/u/{name}/follow`).
    pub action: String,
    /// Where the form post returns to (the page it is on).
    pub back: String,
    /// The signed-in user, whose follows the page's script changes through `/api`.
    pub me: Option<String>,
    /// Signed out: sign in, then back to `back`.
    pub login_url: String,
}

/// A colour of the danmaku form's palette.
pub struct PaletteColor {
    pub hex: &'static str,
    pub name: &'static str,
}

/// The eight colours the danmaku form offers (the api takes any `#rrggbb`); white first, the
/// default. Every danmaku is drawn with a dark outline, so each reads on any picture.
pub const PALETTE: &[PaletteColor] = &[
    PaletteColor {
        hex: "#ffffff",
        name: "White",
    },
    PaletteColor {
        hex: "#fe0302",
        name: "Red",
    },
    PaletteColor {
        hex: "#ff7204",
        name: "Orange",
    },
    PaletteColor {
        hex: "#ffe133",
        name: "Yellow",
    },
    PaletteColor {
        hex: "#a0ee00",
        name: "Green",
    },
    PaletteColor {
        hex: "#00cd00",
        name: "Dark green",
    },
    PaletteColor {
        hex: "#4266be",
        name: "Blue",
    },
    PaletteColor {
        hex: "#cc0273",
        name: "Purple",
    },
];

/// The watch page's player area: the player, or a placeholder saying how processing goes; and
/// whether the page's script (`static/player.js`) follows the video by polling its object
/// (`follow`, the api path), so that the percentage moves, the player appears when the video
/// becomes playable and the qualities when its ladder is made, all without a reload.
pub struct Stage {
    pub player: bool,
    /// The video object's path through web's proxy, when the page follows the video.
    pub follow: Option<String>,
    /// "Preparing qualities… N of M" shows under the player (the owner's page only).
    pub preparing: bool,
    /// Processing failed for good: the page shows why, and the owner's edit and delete, and
    /// nothing that needs a video people can watch (the heart, copy link, comments, danmaku).
    pub failed: bool,
}

impl Stage {
    /// Only the owner's page follows: nobody else can see a video until it plays (SPEC), and
    /// the ladder's progress is the owner's business. To its owner an `uploaded` video is
    /// still processing (the file may be about to be remuxed or transcoded, and may not play
    /// in this browser yet), so the page waits for `ready`; anyone else gets the player,
    /// as the streamserver serves the file.
    pub fn of(video: &VideoView, is_owner: bool) -> Self {
        let state = VideoState::parse(&video.state);
        let processing = matches!(
            state,
            Some(VideoState::Pending | VideoState::Uploaded | VideoState::Processing)
        );
        let preparing = state == Some(VideoState::Ready)
            && video.hls_url.is_none()
            && video.rungs > 0
            && video.rungs_ready < video.rungs;
        let follow = is_owner && (processing || preparing);
        Stage {
            player: video.playable && !(is_owner && processing),
            follow: follow.then(|| urls::api_video(&video.id)),
            preparing: is_owner && preparing,
            failed: state == Some(VideoState::Failed),
        }
    }
}

/// `/watch/{vid}/edit`: the owner's form for title, description and visibility.
#[derive(Template)]
#[template(path = "edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub video: VideoView,
    /// The values in the form: the video's own, or what was just submitted.
    pub name: String,
    pub description: String,
    pub visibilities: Vec<VisibilityChoice>,
    /// Why the save was refused, next to the field it is about.
    pub error: Plain,
}

/// `/embed/{vid}`: the bare player other sites may frame; `video` is `None` when it is not
/// available to everyone.
#[derive(Template)]
#[template(path = "embed.html")]
pub struct EmbedPage {
    pub video: Option<VideoView>,
    /// The watch page's absolute URL, opened in a new tab from the player.
    pub watch_url: String,
    pub assets: &'static AssetUrls,
    /// The media origin (`MEDIA_URL`), empty when media stay on this site.
    pub media: String,
}

/// `/u/{name}/feed.xml`: an Atom feed (RFC 4287) of a channel's public videos.
#[derive(Template)]
#[template(path = "feed.xml")]
pub struct AtomFeed {
    pub user_name: String,
    /// Absolute URLs of the channel page and of the feed itself.
    pub channel_url: String,
    pub self_url: String,
    /// The newest entry's time (RFC 3339), or now for an empty channel.
    pub updated: String,
    pub entries: Vec<FeedEntry>,
}

pub struct FeedEntry {
    pub id: String,
    pub title: String,
    pub time: String,
    pub watch_url: String,
    pub description: String,
    pub enclosure: Option<Enclosure>,
    pub thumbnail: Option<String>,
}

/// The video file, as a feed reader may download it.
pub struct Enclosure {
    pub url: String,
    pub content_type: String,
    pub length: u64,
}

/// A choice of the visibility radio group, and whether it is selected.
pub struct VisibilityChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

/// The radio group with `selected` checked (the default for a new video is public).
pub fn visibility_choices(selected: &str) -> Vec<VisibilityChoice> {
    Visibility::ALL
        .into_iter()
        .map(|v| VisibilityChoice {
            value: v.as_str(),
            label: visibility_label(v),
            hint: match v {
                Visibility::Public => "anyone can find it on the site and in search",
                Visibility::Unlisted => "anyone with the link can watch; it is never listed",
                Visibility::Private => "only you",
            },
            checked: v.as_str() == selected,
        })
        .collect()
}

fn visibility_label(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "Public",
        Visibility::Unlisted => "Unlisted",
        Visibility::Private => "Private",
    }
}

/// What a pasted link previews as in chat apps and social sites: the Open Graph and Twitter
/// card tags of a watch page, every URL absolute (`PUBLIC_URL`).
pub struct ShareMeta {
    pub title: String,
    pub description: String,
    pub url: String,
    pub image: Option<String>,
    pub video: Option<String>,
    pub video_type: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Unlisted and private pages ask search engines not to index them.
    pub noindex: bool,
}

/// How long an Open Graph description may be: previews cut far shorter anyway.
const SHARE_DESCRIPTION_CHARS: usize = 200;

impl ShareMeta {
    pub fn of(v: &Video, public_url: &str, media: &MediaOrigin) -> Self {
        let absolute = |path: &str| format!("{public_url}{path}");
        let description = if v.description.trim().is_empty() {
            format!("A video by {} on Clipshare", v.author)
        } else {
            shorten(&v.description, SHARE_DESCRIPTION_CHARS)
        };
        let playable = VideoState::parse(&v.state).is_some_and(VideoState::is_playable);
        ShareMeta {
            title: v.name.clone(),
            description,
            url: absolute(&urls::watch(&v.id)),
            image: v
                .thumbnail_url
                .as_ref()
                .map(|_| media.public(&urls::thumbnail(&v.id), public_url)),
            video: playable.then(|| media.public(&urls::play(&v.id), public_url)),
            video_type: v.content_type.clone().unwrap_or_else(|| "video/mp4".into()),
            width: v.width.filter(|w| *w > 0),
            height: v.height.filter(|h| *h > 0),
            noindex: Visibility::parse(&v.visibility) != Some(Visibility::Public),
        }
    }
}

/// `text` on one line (runs of whitespace become one space), cut to `max` characters with an
/// ellipsis.
fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

pub struct VideoView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub author: String,
    pub channel_url: String,
    pub date: String,
    /// How long ago it was published ("3 days ago"), and the exact time for `<time>`.
    pub age: String,
    pub created: String,
    pub state: String,
    pub state_label: String,
    pub visibility: String,
    pub visibility_label: String,
    /// Whether the card shows a visibility badge: for anything not public (only its owner is
    /// ever shown those).
    pub marked: bool,
    /// Whether the card shows the processing state (the studio).
    pub show_state: bool,
    pub duration: String,
    pub resolution: String,
    pub thumb: Option<String>,
    pub failure: String,
    pub watch_url: String,
    pub edit_url: String,
    pub embed_url: String,
    pub play_url: String,
    pub playable: bool,
    /// The HLS master playlist and the storyboard's VTT (paths of this site, or URLs on the
    /// media origin), when made; the player script (`static/player.js`) reads them from the
    /// `<video>`'s data attributes.
    pub hls_url: Option<String>,
    pub storyboard_url: Option<String>,
    /// Media come from the media origin: `<video>`, `<img>` and `<track>` fetch them with
    /// `crossorigin="anonymous"`, so no cookie of this site goes there.
    pub cross_origin: bool,
    /// When the signed media URLs stop working (Unix seconds), and the time the page was made
    /// by the server's clock, so the script renews them in time whatever the browser's clock
    /// says.
    pub media_expires: Option<u64>,
    pub media_now: u64,
    /// How far a running transcode is, in whole percent (`processing`), when known.
    pub progress: Option<u8>,
    /// The HLS ladder's rungs that are made, and how many it has (0 until it is planned).
    pub rungs_ready: usize,
    pub rungs: usize,
}

pub struct CommentView {
    pub id: String,
    pub author: String,
    pub channel_url: String,
    /// The comment's text in pieces: plain text, and the times in it ("0:07") as links that
    /// seek the player.
    pub parts: Vec<CommentPart>,
    /// When it was written, as [`age`] says it, the RFC 3339 time, and the exact UTC time.
    pub age: String,
    pub created: String,
    pub exact: String,
    /// The accessible name of its Delete button: whose comment, and how it starts.
    pub delete_label: String,
    pub deletable: bool,
}

/// A piece of a comment: text as written, or a time in the video.
pub enum CommentPart {
    Text(String),
    /// `label` as written ("1:02:03") and the second it means.
    Time {
        label: String,
        seconds: u64,
    },
}

impl VideoView {
    /// `v` as pages show it, its media URLs where `media` says (`media.rs`).
    pub fn from_api(v: Video, media: &MediaOrigin) -> Self {
        let now = time::OffsetDateTime::now_utc();
        let state = VideoState::parse(&v.state);
        let state_label = match state {
            Some(VideoState::Pending) => "Waiting for upload",
            Some(VideoState::Uploaded | VideoState::Processing) => "Processing…",
            Some(VideoState::Ready) => "Ready to watch",
            Some(VideoState::Failed) => "Failed",
            None => "Unknown",
        }
        .to_string();
        // A transcode that reports how far it is says so ("Processing… 42%"); the watch page's
        // script (`static/player.js`, `processingLabel`) words it the same way.
        let state_label = match (state, v.processing_progress) {
            (Some(VideoState::Processing), Some(p)) => format!("{state_label} {}%", p.min(100)),
            _ => state_label,
        };
        let visibility = Visibility::parse(&v.visibility);
        let resolution = match (v.width, v.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => format!("{w}×{h}"),
            _ => String::new(),
        };
        let created = parse_time(&v.create_time);
        VideoView {
            watch_url: urls::watch(&v.id),
            edit_url: urls::edit(&v.id),
            embed_url: urls::embed(&v.id),
            play_url: media.pick(v.play_url.as_deref(), urls::play(&v.id)),
            hls_url: v
                .hls_url
                .as_deref()
                .map(|u| media.pick(Some(u), urls::hls(&v.id))),
            storyboard_url: v
                .storyboard_url
                .as_deref()
                .map(|u| media.pick(Some(u), urls::storyboard(&v.id))),
            thumb: v
                .thumbnail_url
                .as_deref()
                .map(|u| media.pick(Some(u), urls::thumbnail(&v.id))),
            cross_origin: media.base().is_some(),
            media_expires: v.media_expires.filter(|_| media.base().is_some()),
            media_now: svc::media::now(),
            progress: match state {
                Some(VideoState::Processing) => v.processing_progress.map(|p| p.min(100)),
                _ => None,
            },
            rungs_ready: v.renditions.iter().filter(|r| r.ready).count(),
            rungs: v.renditions.len(),
            channel_url: urls::user(&v.author),
            playable: state.is_some_and(VideoState::is_playable),
            duration: v.duration_ms.map(format_duration).unwrap_or_default(),
            failure: v
                .failure_reason
                .unwrap_or_else(|| "the file could not be processed".into()),
            age: created.map(|t| age(t, now)).unwrap_or_default(),
            created: v.create_time,
            visibility_label: visibility.map_or("", visibility_label).to_string(),
            marked: visibility.is_some_and(|v| !v.is_listed()),
            visibility: v.visibility,
            show_state: false,
            id: v.id,
            name: v.name,
            description: v.description,
            author: v.author,
            date: created.map_or(v.display_ctime, exact_time),
            state: v.state,
            state_label,
            resolution,
        }
    }

    /// As the studio shows it: with its processing state.
    pub fn in_studio(self) -> Self {
        VideoView {
            show_state: true,
            ..self
        }
    }
}

impl CommentView {
    pub fn from_api(c: Comment, me: Option<&str>, is_owner: bool) -> Self {
        let when = parse_time(&c.time);
        let start: String = c.content.split_whitespace().collect::<Vec<_>>().join(" ");
        CommentView {
            deletable: is_owner || me == Some(c.author.as_str()),
            age: when
                .map(|t| age(t, time::OffsetDateTime::now_utc()))
                .unwrap_or_else(|| c.time.clone()),
            exact: when.map(exact_time).unwrap_or_default(),
            created: c.time,
            channel_url: urls::user(&c.author),
            delete_label: format!("Delete comment by {}: {}", c.author, shorten(&start, 40)),
            parts: comment_parts(&c.content),
            id: c.id,
            author: c.author,
        }
    }
}

/// The first letter of a name, as an avatar shows it.
pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// `text` without the characters XML 1.0 cannot carry (section 2.2: C0 controls other than tab,
/// line feed and carriage return), so a stray one in a title cannot break a feed reader's parse.
fn xml_text(text: String) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return text;
    }
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

impl FeedEntry {
    pub fn from_api(v: Video, public_url: &str, media: &MediaOrigin) -> Self {
        let absolute = |path: &str| format!("{public_url}{path}");
        let playable = VideoState::parse(&v.state).is_some_and(VideoState::is_playable);
        FeedEntry {
            id: format!("urn:uuid:{}", v.id),
            watch_url: absolute(&urls::watch(&v.id)),
            enclosure: match (playable, v.size) {
                (true, Some(length)) => Some(Enclosure {
                    url: media.public(&urls::play(&v.id), public_url),
                    content_type: v.content_type.unwrap_or_else(|| "video/mp4".into()),
                    length,
                }),
                _ => None,
            },
            thumbnail: v
                .thumbnail_url
                .as_ref()
                .map(|_| media.public(&urls::thumbnail(&v.id), public_url)),
            title: xml_text(v.name),
            time: v.create_time,
            description: xml_text(v.description),
        }
    }
}

/// The HTML error page for `error`, inside the site's layout (`layout`: the visitor's header).
/// Never cached; who may frame it is decided with the route (`routes.rs`).
pub fn error_page(error: &WebError, layout: Layout) -> Response<Body> {
    let status = error.code().status();
    let (title, message) = error.words();
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        title,
        message,
    };
    let mut resp = match page.render() {
        Ok(body) => html(status, body),
        // The error page itself failed: a plain line is still better than nothing.
        Err(_) => svc::http::text(status, "Something went wrong. Please try again.\n"),
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

/// Now, in RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn parse_time(raw: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(raw, &Rfc3339).ok()
}

/// When something happened, as a person says it: "just now", "5 minutes ago", "3 hours ago",
/// "yesterday", "4 days ago", and from a week on the date ("29 Nov 2026"). A time in the future
/// (clock skew) is "just now". Pages put it in `<time datetime>` with [`exact_time`] as title.
pub fn age(then: time::OffsetDateTime, now: time::OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds();
    let plural = |n: i64, unit: &str| {
        let s = if n == 1 { "" } else { "s" };
        format!("{n} {unit}{s} ago")
    };
    match secs {
        ..60 => "just now".to_string(),
        60..3_600 => plural(secs / 60, "minute"),
        3_600..86_400 => plural(secs / 3_600, "hour"),
        86_400..172_800 => "yesterday".to_string(),
        172_800..604_800 => plural(secs / 86_400, "day"),
        _ => day_month_year(then),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `29 Nov 2026`, in UTC.
fn day_month_year(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let month = MONTHS[usize::from(u8::from(t.month())) - 1];
    format!("{} {month} {}", t.day(), t.year())
}

/// The exact time for a `<time>` element's title: `29 Nov 2026, 19:53 UTC`.
pub fn exact_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}, {:02}:{:02} UTC",
        day_month_year(t),
        t.hour(),
        t.minute()
    )
}

/// A comment split into text and the times written in it (`0:07`, `12:30`, `1:02:03`: minutes
/// or hours, then two-digit seconds (and minutes) below 60), each a link that seeks.
pub fn comment_parts(content: &str) -> Vec<CommentPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let bytes = content.as_bytes();
    let mut i = 0;
    while i < content.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b':';
        if starts_word && bytes[i].is_ascii_digit() {
            if let Some((len, seconds)) = time_at(&content[i..]) {
                if !text.is_empty() {
                    parts.push(CommentPart::Text(std::mem::take(&mut text)));
                }
                parts.push(CommentPart::Time {
                    label: content[i..i + len].to_string(),
                    seconds,
                });
                i += len;
                continue;
            }
        }
        let c = content[i..].chars().next().unwrap_or(' ');
        text.push(c);
        i += c.len_utf8();
    }
    if !text.is_empty() {
        parts.push(CommentPart::Text(text));
    }
    parts
}

/// The time that `s` starts with and its length: `m:ss`, `mm:ss` or `h:mm:ss`, not followed by
/// another digit or colon.
fn time_at(s: &str) -> Option<(usize, u64)> {
    let len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b':')
        .count();
    // "at 0:07: the jump" ends the time before its colon.
    let token = s[..len].trim_end_matches(':');
    let len = token.len();
    let fields: Vec<&str> = token.split(':').collect();
    let numbers: Vec<u64> = fields.iter().filter_map(|f| f.parse().ok()).collect();
    if numbers.len() != fields.len() {
        return None;
    }
    let two_digits = |f: &str, n: u64| f.len() == 2 && n < 60;
    let seconds = match (fields.as_slice(), numbers.as_slice()) {
        ([m, s], [mn, sn]) if m.len() <= 2 && two_digits(s, *sn) => mn * 60 + sn,
        ([h, m, s], [hn, mn, sn]) if h.len() <= 2 && two_digits(m, *mn) && two_digits(s, *sn) => {
            hn * 3600 + mn * 60 + sn
        }
        _ => return None,
    };
    Some((len, seconds))
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
    fn exact_times_are_shown_in_utc() {
        let t = |raw: &str| exact_time(parse_time(raw).unwrap());
        assert_eq!(t("2026-11-22T02:16:54Z"), "22 Nov 2026, 02:16 UTC");
        assert_eq!(
            t("2026-11-22T02:16:54.123456+01:00"),
            "22 Nov 2026, 01:16 UTC"
        );
    }

    fn texts(parts: &[CommentPart]) -> Vec<String> {
        parts
            .iter()
            .map(|p| match p {
                CommentPart::Text(t) => format!("text:{t}"),
                CommentPart::Time { label, seconds } => format!("time:{label}={seconds}"),
            })
            .collect()
    }

    #[test]
    fn times_in_comments_become_seek_links() {
        assert_eq!(
            texts(&comment_parts("see 0:07 and 1:02:03, or 12:30: done")),
            [
                "text:see ",
                "time:0:07=7",
                "text: and ",
                "time:1:02:03=3723",
                "text:, or ",
                "time:12:30=750",
                "text:: done"
            ]
        );
        for not_a_time in [
            "10:75",
            "a1:07",
            "1:7",
            "123:45",
            "2026-11-22 19:55:60",
            "v1:02",
        ] {
            let parts = comment_parts(not_a_time);
            assert!(
                parts.iter().all(|p| matches!(p, CommentPart::Text(_))),
                "{not_a_time}"
            );
        }
        assert_eq!(
            texts(&comment_parts("été 0:02")),
            ["text:été ", "time:0:02=2"]
        );
    }

    #[test]
    fn only_uploaded_and_ready_videos_are_playable() {
        for (state, playable, label) in [
            ("pending", false, "Waiting for upload"),
            ("uploaded", true, "Processing…"),
            ("ready", true, "Ready to watch"),
            ("processing", false, "Processing…"),
            ("failed", false, "Failed"),
            ("deleted", false, "Unknown"),
        ] {
            let video: Video =
                serde_json::from_value(serde_json::json!({ "id": "v/1", "state": state })).unwrap();
            let view = VideoView::from_api(video, &MediaOrigin::default());
            assert_eq!(view.playable, playable, "{state}");
            assert_eq!(view.state_label, label, "{state}");
            assert_eq!(view.watch_url, "/watch/v%2F1");
        }
    }

    #[test]
    fn ages_read_like_a_person_says_them() {
        let now = time::macros::datetime!(2026-05-10 12:00 UTC);
        let ago = |d: time::Duration| age(now - d, now);
        assert_eq!(ago(time::Duration::seconds(5)), "just now");
        assert_eq!(ago(time::Duration::seconds(-30)), "just now", "clock skew");
        assert_eq!(ago(time::Duration::minutes(1)), "1 minute ago");
        assert_eq!(ago(time::Duration::minutes(2)), "2 minutes ago");
        assert_eq!(ago(time::Duration::minutes(59)), "59 minutes ago");
        assert_eq!(ago(time::Duration::hours(2)), "2 hours ago");
        assert_eq!(ago(time::Duration::days(1)), "yesterday");
        assert_eq!(ago(time::Duration::days(3)), "3 days ago");
        assert_eq!(ago(time::Duration::days(13)), "27 Apr 2026");
        assert_eq!(ago(time::Duration::days(800)), "1 Mar 2024");
    }

    #[test]
    fn a_transcode_in_progress_says_how_far_it_is() {
        let v = video(serde_json::json!({ "state": "processing", "processing_progress": 42 }));
        assert_eq!(
            VideoView::from_api(v, &MediaOrigin::default()).state_label,
            "Processing… 42%"
        );
    }

    #[test]
    fn the_owner_follows_processing_and_the_ladder_others_get_the_player_or_nothing() {
        let rungs = |ready: usize| {
            let list: Vec<_> = (0..5)
                .map(|i| serde_json::json!({ "height": 240, "bandwidth": 1, "ready": i < ready }))
                .collect();
            serde_json::Value::Array(list)
        };
        let api = "/api/videos/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
        for (fields, owner, player, follow, preparing) in [
            (
                serde_json::json!({ "state": "pending" }),
                true,
                false,
                true,
                false,
            ),
            (
                serde_json::json!({ "state": "uploaded" }),
                true,
                false,
                true,
                false,
            ),
            (
                serde_json::json!({ "state": "uploaded" }),
                false,
                true,
                false,
                false,
            ),
            (
                serde_json::json!({ "state": "processing" }),
                true,
                false,
                true,
                false,
            ),
            (
                serde_json::json!({ "state": "failed" }),
                true,
                false,
                false,
                false,
            ),
            (
                serde_json::json!({ "state": "ready", "renditions": [] }),
                true,
                true,
                false,
                false,
            ),
            (
                serde_json::json!({ "state": "ready", "renditions": rungs(2) }),
                true,
                true,
                true,
                true,
            ),
            (
                serde_json::json!({ "state": "ready", "renditions": rungs(2) }),
                false,
                true,
                false,
                false,
            ),
            (
                serde_json::json!({ "state": "ready", "renditions": rungs(5), "hls_url": "/x" }),
                true,
                true,
                false,
                false,
            ),
        ] {
            let view = VideoView::from_api(video(fields.clone()), &MediaOrigin::default());
            let stage = Stage::of(&view, owner);
            let case = format!("{fields} owner={owner}");
            assert_eq!(stage.player, player, "{case}");
            assert_eq!(stage.follow.as_deref(), follow.then_some(api), "{case}");
            assert_eq!(stage.preparing, preparing, "{case}");
            // Only a failed video's page drops what needs a watchable video.
            assert_eq!(stage.failed, fields["state"] == "failed", "{case}");
        }
        let v = VideoView::from_api(
            video(serde_json::json!({ "renditions": rungs(2) })),
            &MediaOrigin::default(),
        );
        assert_eq!((v.rungs_ready, v.rungs), (2, 5));
        let v = VideoView::from_api(
            video(serde_json::json!({ "state": "processing", "processing_progress": 142 })),
            &MediaOrigin::default(),
        );
        assert_eq!(v.progress, Some(100));
    }

    fn video(fields: serde_json::Value) -> Video {
        let mut v = serde_json::json!({
            "id": "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b", "author": "ann", "name": "Dusk",
            "state": "ready", "visibility": "public", "create_time": "2026-05-10T11:00:00Z"
        });
        for (k, value) in fields.as_object().unwrap() {
            v[k] = value.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn previews_use_absolute_urls_and_a_short_description() {
        let base = "https://videos.example.org";
        let v = video(serde_json::json!({
            "description": format!("First line\n\n  second   line {}", "x".repeat(300)),
            "thumbnail_url": "/thumbnails/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b",
            "width": 640, "height": 0, "content_type": "video/webm"
        }));
        let share = ShareMeta::of(&v, base, &MediaOrigin::default());
        assert_eq!(
            share.url,
            "https://videos.example.org/watch/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b"
        );
        assert_eq!(
            share.image.as_deref(),
            Some("https://videos.example.org/thumbnails/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(
            share.video.as_deref(),
            Some("https://videos.example.org/videos/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(share.video_type, "video/webm");
        assert_eq!((share.width, share.height), (Some(640), None));
        assert!(share.description.starts_with("First line second line xxx"));
        assert_eq!(share.description.chars().count(), 200);
        assert!(share.description.ends_with('…'));
        assert!(!share.noindex);
        // No description, not playable yet, unlisted.
        let v = video(serde_json::json!({"state": "pending", "visibility": "unlisted"}));
        let share = ShareMeta::of(&v, base, &MediaOrigin::default());
        assert_eq!(share.description, "A video by ann on Clipshare");
        assert_eq!((share.video, share.image), (None, None));
        assert!(share.noindex);
    }

    #[test]
    fn with_a_media_origin_media_urls_are_the_apis_there_and_nowhere_else() {
        let media = MediaOrigin::new(Some("http://media.test:9".into()));
        let vid = "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
        let signed = format!("http://media.test:9/s/99-7-ab/videos/{vid}");
        let v = video(serde_json::json!({
            "play_url": signed,
            "hls_url": format!("{signed}/hls/master.m3u8"),
            "storyboard_url": format!("https://evil.example/videos/{vid}/storyboard.vtt"),
            "thumbnail_url": format!("/thumbnails/{vid}"),
            "media_expires": 99,
        }));
        let view = VideoView::from_api(v.clone(), &media);
        assert_eq!(view.play_url, signed);
        assert_eq!(
            view.hls_url.as_deref(),
            Some(format!("{signed}/hls/master.m3u8").as_str())
        );
        assert_eq!(
            view.storyboard_url.as_deref(),
            Some(format!("http://media.test:9/videos/{vid}/storyboard.vtt").as_str()),
            "a foreign URL becomes the plain one on the media origin"
        );
        assert_eq!(
            view.thumb.as_deref(),
            Some(format!("http://media.test:9/thumbnails/{vid}").as_str())
        );
        assert!(view.cross_origin);
        assert_eq!(view.media_expires, Some(99));
        // Link previews and feeds name the plain URLs anyone may fetch.
        let share = ShareMeta::of(&v, "https://site.test", &media);
        assert_eq!(
            share.video.as_deref(),
            Some(format!("http://media.test:9/videos/{vid}").as_str())
        );
        // Without a media origin: this site's paths, whatever the api says.
        let view = VideoView::from_api(v, &MediaOrigin::default());
        assert_eq!(view.play_url, format!("/videos/{vid}"));
        assert_eq!(
            view.storyboard_url.as_deref(),
            Some(format!("/videos/{vid}/storyboard.vtt").as_str())
        );
        assert!(!view.cross_origin);
        assert_eq!(view.media_expires, None);
    }

    #[test]
    fn feed_entries_are_absolute_and_carry_only_xml_text() {
        let v = video(serde_json::json!({
            "name": "bell\u{7}ring", "description": "tab\tand\nline\u{1b}", "size": 4096
        }));
        let entry = FeedEntry::from_api(v, "http://127.0.0.1:8080", &MediaOrigin::default());
        assert_eq!(entry.title, "bellring");
        assert_eq!(entry.description, "tab\tand\nline");
        assert_eq!(entry.id, "urn:uuid:0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b");
        let enclosure = entry.enclosure.expect("a playable video has an enclosure");
        assert_eq!(
            enclosure.url,
            "http://127.0.0.1:8080/videos/0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b"
        );
        assert_eq!(
            (enclosure.length, enclosure.content_type.as_str()),
            (4096, "video/mp4")
        );
        assert!(
            FeedEntry::from_api(video(serde_json::json!({})), "x", &MediaOrigin::default())
                .enclosure
                .is_none()
        );
    }

    #[test]
    fn cards_mark_what_is_not_public_and_the_form_checks_one_choice() {
        for (visibility, marked, label) in [
            ("public", false, "Public"),
            ("unlisted", true, "Unlisted"),
            ("private", true, "Private"),
        ] {
            let view = VideoView::from_api(
                video(serde_json::json!({ "visibility": visibility })),
                &MediaOrigin::default(),
            );
            assert_eq!(view.marked, marked, "{visibility}");
            assert_eq!(view.visibility_label, label);
            assert!(!view.age.is_empty(), "{visibility}");
        }
        let choices = visibility_choices("unlisted");
        let checked: Vec<_> = choices
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.value)
            .collect();
        assert_eq!(checked, ["unlisted"]);
        assert_eq!(choices.len(), 3);
        assert_eq!(initial("émile"), "É");
        assert_eq!(initial(""), "");
    }

    #[test]
    fn error_pages_are_html_and_never_cached() {
        let resp = error_page(&WebError::NotFound, Layout::new(Some("ann")));
        assert_eq!(resp.status(), 404);
        let h = resp.headers();
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
    }
}
