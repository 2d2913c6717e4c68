//! Danmaku (弹幕), comments pinned to a moment of the video that fly across it as it plays:
//! post one (`POST /videos/{vid}/danmaku`), read a window of the timeline
//! (`GET /videos/{vid}/danmaku?from_ms=&to_ms=`), delete one (`DELETE
//! /videos/{vid}/danmaku/{id}`) by its author or the video's owner.
//!
//! Who may do what follows the comments (`routes::comments`): anyone who may see the video
//! reads, a session posts and deletes, a video the viewer may not see is 404. A new danmaku and a
//! deletion are also written to `live_events` in the same transaction, for the video's live
//! viewers (`crate::live`). The values of a danmaku are parsed here, once ([`Text`], [`Mode`],
//! [`Color`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body};
use svc::{VideoId, VideoState};

use crate::error::ApiError;
use crate::request::{read_json, reader, takes_reactions, video_id, NO_VIDEO};
use crate::state::Api;
use crate::store;
use crate::store::danmaku::{After, DanmakuRow, NewDanmaku};
use crate::store::live::EventKind;

/// A danmaku's text: 1 to 100 characters on one line, not blank; kept without the white space
/// around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("text must not be empty".into());
        }
        let chars = text.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(format!(
                "text is {chars} characters long; a danmaku holds at most {}",
                Self::MAX_CHARS
            ));
        }
        if text.chars().any(char::is_control) {
            return Err("text must be one line, without line breaks or control characters".into());
        }
        Ok(Text(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a danmaku is shown: flying right to left, or held at the top or bottom of the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Scroll,
    Top,
    Bottom,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Scroll => "scroll",
            Mode::Top => "top",
            Mode::Bottom => "bottom",
        }
    }
}

/// A danmaku's colour: any `#rrggbb` (either case, stored lower case). Any colour, not a
/// palette: the player draws every danmaku with a dark outline, so light and dark colours both
/// read on any picture; the site's form offers a palette of eight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub const DEFAULT: &'static str = "#ffffff";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let hex = raw.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "color must be # and six hex digits, like #ffcc00; got {raw:?}"
            ));
        }
        Ok(Color(format!("#{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The latest moment a danmaku may be pinned to on a video whose duration is not known yet.
const UNKNOWN_DURATION_MAX_MS: i64 = 24 * 3600 * 1000;

/// Where a danmaku may be pinned: `0..=duration_ms` when the duration is known.
fn check_at(at_ms: i64, duration_ms: Option<u64>) -> Result<u32, String> {
    let end = duration_ms.map_or(UNKNOWN_DURATION_MAX_MS, |d| d.min(i64::MAX as u64) as i64);
    if at_ms < 0 || at_ms > end {
        return Err(match duration_ms {
            Some(d) => format!("at_ms must be from 0 to {d} (the video's length); got {at_ms}"),
            None => format!("at_ms must be from 0 to {end}; got {at_ms}"),
        });
    }
    u32::try_from(at_ms).map_err(|_| format!("at_ms {at_ms} is out of range"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    text: String,
    at_ms: i64,
    /// `scroll` when absent.
    #[serde(default)]
    mode: Option<Mode>,
    /// `#ffffff` when absent.
    #[serde(default)]
    color: Option<String>,
}

/// The danmaku object.
#[derive(Serialize)]
pub struct DanmakuJson {
    id: u64,
    video_id: String,
    author_id: u32,
    author: String,
    at_ms: u32,
    text: String,
    mode: String,
    color: String,
    time: String,
}

impl From<DanmakuRow> for DanmakuJson {
    fn from(d: DanmakuRow) -> Self {
        DanmakuJson {
            id: d.id,
            video_id: d.video_id,
            author_id: d.author_id,
            author: d.author,
            at_ms: d.at_ms,
            text: d.text,
            mode: d.mode,
            color: d.color,
            time: d.time,
        }
    }
}

#[derive(Serialize)]
struct Window {
    danmaku: Vec<DanmakuJson>,
    next: Option<String>,
}

const NO_DANMAKU: &str = "no such danmaku";

/// The video's owner, duration and state, if the video exists and `viewer_id` (0: signed out)
/// may see it.
async fn visible_video<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    viewer_id: u32,
    vid: &VideoId,
) -> Result<(u32, Option<u64>, VideoState), ApiError> {
    store::videos::find(conn, vid)
        .await?
        .filter(|v| v.visible_to(viewer_id))
        .map(|v| (v.author_id, v.duration_ms, v.state))
        .ok_or(ApiError::NotFound(NO_VIDEO))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(format!("encoding JSON: {e}")))
}

/// `POST /videos/{vid}/danmaku`: the body is checked (400, 422) before the user's allowance is
/// counted (429), the video (404) and the moment (422) after. The row and its live event are
/// written together.
pub async fn create(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let body: NewBody = read_json(req).await?;
    let text = Text::parse(&body.text).map_err(ApiError::Invalid)?;
    let color =
        Color::parse(body.color.as_deref().unwrap_or(Color::DEFAULT)).map_err(ApiError::Invalid)?;
    let mode = body.mode.unwrap_or_default();
    let vid = video_id(&vid)?;
    api.limits
        .danmaku
        .check(viewer.user_id, "You are sending danmaku")?;
    let mut conn = api.pool.get_conn().await?;
    let (_, duration_ms, state) = visible_video(&mut conn, viewer.user_id, &vid).await?;
    takes_reactions(state)?;
    let at_ms = check_at(body.at_ms, duration_ms).map_err(ApiError::Invalid)?;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let new = NewDanmaku {
        video_id: &vid,
        author_id: viewer.user_id,
        at_ms,
        text: text.as_str(),
        mode: mode.as_str(),
        color: color.as_str(),
    };
    let id = match store::danmaku::insert(&mut tx, &new).await {
        Ok(id) => id,
        // MySQL 1452: the video was deleted between the check and the insert.
        Err(mysql_async::Error::Server(e)) if e.code == 1452 => {
            return Err(ApiError::NotFound(NO_VIDEO))
        }
        Err(e) => return Err(e.into()),
    };
    let row = store::danmaku::find(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::Internal("a danmaku just inserted is missing".into()))?;
    let object = DanmakuJson::from(row);
    store::live::publish(&mut tx, &vid, EventKind::Danmaku, &to_json(&object)?).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &object))
}

/// The query of `GET /videos/{vid}/danmaku`: `from_ms` (default 0) up to `to_ms` (exclusive;
/// default the end), at most `limit` (1-1000, default 500) from `after` (the `next` of the
/// previous page of the same window).
#[derive(Debug, PartialEq, Eq)]
struct WindowQuery {
    from_ms: u32,
    to_ms: u32,
    limit: u32,
    after: Option<After>,
}

impl WindowQuery {
    const MAX_LIMIT: u32 = 1000;
    const DEFAULT_LIMIT: u32 = 500;

    fn parse(query: Option<&str>) -> Result<Self, String> {
        let param = |name: &str| {
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .filter(|v| !v.is_empty())
        };
        let ms = |name: &str, default: u32| -> Result<u32, String> {
            match param(name) {
                None => Ok(default),
                Some(raw) => raw.parse::<u32>().map_err(|_| {
                    format!("{name} must be a whole number of milliseconds from 0; got {raw:?}")
                }),
            }
        };
        let from_ms = ms("from_ms", 0)?;
        let to_ms = ms("to_ms", u32::MAX)?;
        if to_ms < from_ms {
            return Err(format!(
                "to_ms ({to_ms}) must not be before from_ms ({from_ms})"
            ));
        }
        let limit = match param("limit") {
            None => Self::DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    format!(
                        "limit must be a whole number from 1 to {}; got {raw:?}",
                        Self::MAX_LIMIT
                    )
                })?,
        };
        let after = param("after").map(|raw| cursor_parse(&raw)).transpose()?;
        Ok(WindowQuery {
            from_ms,
            to_ms,
            limit,
            after,
        })
    }
}

/// The `next` of a window's page: base64url of `<at_ms>:<id>` of its last danmaku.
fn cursor_encode(d: &DanmakuRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", d.at_ms, d.id))
}

fn cursor_parse(raw: &str) -> Result<After, String> {
    let bad = || {
        "after is not a cursor this server issued; use the `next` value of the previous page"
            .to_string()
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok(After {
        at_ms: at.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// `GET /videos/{vid}/danmaku`: a window of the timeline in time order, for anyone who may see
/// the video. A player asks for the next slice (say 30 s) as it plays, so a video with 100,000
/// danmaku is never read whole.
pub async fn list(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let q = WindowQuery::parse(req.uri().query()).map_err(ApiError::BadRequest)?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let mut rows = store::danmaku::window(
        &mut conn,
        &vid,
        reader.user_id(),
        q.from_ms,
        q.to_ms,
        q.after,
        q.limit + 1,
    )
    .await?;
    // Rows prove the video is visible; an empty window may mean it is not (404).
    if rows.is_empty() {
        visible_video(&mut conn, reader.user_id(), &vid).await?;
    }
    let more = rows.len() > q.limit as usize;
    rows.truncate(q.limit as usize);
    let next = if more {
        rows.last().map(cursor_encode)
    } else {
        None
    };
    let danmaku = rows.into_iter().map(DanmakuJson::from).collect();
    Ok(json(StatusCode::OK, &Window { danmaku, next }))
}

/// `DELETE /videos/{vid}/danmaku/{id}`: by the danmaku's author or the video's owner (403 for
/// anyone else who may see the video); the video's live viewers are told.
pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
    id: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let (owner, _, _) = visible_video(&mut conn, viewer.user_id, &vid).await?;
    // Ids are written by the database in decimal; anything else names nothing.
    let id: u64 = id
        .parse()
        .ok()
        .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(ApiError::NotFound(NO_DANMAKU))?;
    let danmaku = store::danmaku::find(&mut conn, id)
        .await?
        .filter(|d| d.video_id == vid.as_str())
        .ok_or(ApiError::NotFound(NO_DANMAKU))?;
    if danmaku.author_id != viewer.user_id && owner != viewer.user_id {
        return Err(ApiError::Forbidden(
            "only the danmaku's author or the video's owner can delete it",
        ));
    }
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    store::danmaku::delete(&mut tx, id).await?;
    let gone = serde_json::json!({ "id": id, "video_id": vid.as_str() });
    store::live::publish(&mut tx, &vid, EventKind::DanmakuDelete, &gone.to_string()).await?;
    tx.commit().await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_one_line_of_1_to_100_characters() {
        assert_eq!(Text::parse("  666  ").unwrap().as_str(), "666");
        assert_eq!(
            Text::parse(&"哈".repeat(100))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            100
        );
        assert!(Text::parse("").unwrap_err().contains("empty"));
        assert!(Text::parse(" \t ").unwrap_err().contains("empty"));
        assert!(Text::parse(&"a".repeat(101)).unwrap_err().contains("101"));
        assert!(Text::parse("two\nlines").unwrap_err().contains("one line"));
        assert!(Text::parse("bell\u{7}").unwrap_err().contains("one line"));
        // Markup is text like any other; the player inserts it as text.
        assert_eq!(Text::parse("<b>hi</b>").unwrap().as_str(), "<b>hi</b>");
    }

    #[test]
    fn colours_are_any_hex_rgb() {
        assert_eq!(Color::parse("#FFcc00").unwrap().as_str(), "#ffcc00");
        for bad in [
            "", "ffcc00", "#fc0", "#ffcc0", "#ffcc000", "#ggcc00", "red", "#ffcc00 ",
        ] {
            assert!(Color::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_danmaku_is_pinned_within_the_video() {
        assert_eq!(check_at(0, Some(5000)), Ok(0));
        assert_eq!(check_at(5000, Some(5000)), Ok(5000));
        assert!(check_at(5001, Some(5000))
            .unwrap_err()
            .contains("0 to 5000"));
        assert!(check_at(-1, Some(5000)).is_err());
        assert_eq!(check_at(3_600_000, None), Ok(3_600_000));
        assert!(check_at(UNKNOWN_DURATION_MAX_MS + 1, None).is_err());
    }

    #[test]
    fn window_queries() {
        let q = WindowQuery::parse(None).unwrap();
        assert_eq!(
            (q.from_ms, q.to_ms, q.limit, q.after),
            (0, u32::MAX, 500, None)
        );
        let q = WindowQuery::parse(Some("from_ms=30000&to_ms=60000&limit=1000")).unwrap();
        assert_eq!((q.from_ms, q.to_ms, q.limit), (30000, 60000, 1000));
        for bad in [
            "from_ms=-1",
            "from_ms=1.5",
            "to_ms=x",
            "from_ms=10&to_ms=5",
            "limit=0",
            "limit=1001",
            "after=forged",
            "after=bm90OmE",
        ] {
            assert!(WindowQuery::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        let row = DanmakuRow {
            id: 42,
            video_id: String::new(),
            author_id: 1,
            author: String::new(),
            at_ms: 1500,
            text: String::new(),
            mode: "scroll".into(),
            color: Color::DEFAULT.into(),
            time: String::new(),
        };
        let c = cursor_encode(&row);
        assert_eq!(
            cursor_parse(&c).unwrap(),
            After {
                at_ms: 1500,
                id: 42
            }
        );
    }
}
