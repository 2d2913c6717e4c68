//! The words every process uses about a video, defined once: its id ([`VideoId`]), its state
//! ([`VideoState`], with the one SQL spelling of "playable") and who may watch it
//! ([`Visibility`], [`visible`], and their SQL spellings [`visible_to!`] and [`listed!`]).
//!
//! What a process *does* with a video (serving it, processing it, listing it) stays in that
//! process; only the vocabulary lives here, so that a new state or a change to the id rule is
//! made in one place and every crate follows.

use std::fmt;

/// A video id: a UUID in its canonical lower-case hyphenated form, as `video_info.id` holds it.
///
/// Only the 36-character hyphenated spelling is accepted (upper case is folded): the braced,
/// URN and simple spellings that `uuid` also parses would make one video reachable under
/// several URLs, and no client of this platform ever sends them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VideoId(String);

impl VideoId {
    /// A fresh random (v4) id.
    pub fn random() -> Self {
        VideoId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// `None` when `raw` cannot name a video; callers answer 404 (or 400 where the id is the
    /// whole request, as in the scheduler's endpoints).
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() != 36 {
            return None;
        }
        uuid::Uuid::try_parse(raw)
            .ok()
            .map(|u| VideoId(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for VideoId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where a video is in its life (SPEC section 2): `pending` until its bytes arrive, `uploaded`
/// once they are stored (served as they came while processing probes and remuxes them), then
/// `ready` after processing or `failed` with a reason. An upload browsers cannot play as it came
/// goes `uploaded -> processing` while its progressive rendition is transcoded: its bytes are
/// stored but not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoState {
    Pending,
    Uploaded,
    Processing,
    Ready,
    Failed,
}

/// The playable states as an SQL list, for `state IN (...)`. A macro rather than a constant so
/// that it can be spliced into `concat!` and SQL stays a `&'static str`; the unit test below
/// keeps it equal to [`VideoState::is_playable`].
///
/// ```
/// const SQL: &str = concat!("SELECT id FROM video_info WHERE state IN ", svc::playable_states!());
/// assert_eq!(SQL, "SELECT id FROM video_info WHERE state IN ('uploaded', 'ready')");
/// ```
#[macro_export]
macro_rules! playable_states {
    () => {
        "('uploaded', 'ready')"
    };
}

impl VideoState {
    pub const ALL: [VideoState; 5] = [
        VideoState::Pending,
        VideoState::Uploaded,
        VideoState::Processing,
        VideoState::Ready,
        VideoState::Failed,
    ];

    /// The spelling in `video_info.state` and in the API's video object.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoState::Pending => "pending",
            VideoState::Uploaded => "uploaded",
            VideoState::Processing => "processing",
            VideoState::Ready => "ready",
            VideoState::Failed => "failed",
        }
    }

    /// `None` for a spelling no row holds.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the streamserver serves it: the bytes are stored and browsers can play them
    /// (`uploaded`, while processing probes and remuxes) or processed (`ready`). Pending,
    /// processing (being transcoded) and failed videos are 404 to everyone but their owner.
    pub fn is_playable(self) -> bool {
        matches!(self, VideoState::Uploaded | VideoState::Ready)
    }
}

impl fmt::Display for VideoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may watch a video, chosen by its owner: `public` (listed, searchable, anyone may watch),
/// `unlisted` (anyone with the link, never listed or found) or `private` (its owner only,
/// everywhere: metadata, comments, thumbnail, playback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    Public,
    Unlisted,
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [
        Visibility::Public,
        Visibility::Unlisted,
        Visibility::Private,
    ];

    /// The spelling in `video_info.visibility` and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == raw)
    }

    /// Whether it appears in lists, the public feed and search (to anyone but its owner).
    pub fn is_listed(self) -> bool {
        self == Visibility::Public
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one visibility rule: whether a viewer may see a video (its metadata, comments and, when
/// it is playable, its bytes). Its owner always may; anyone else, signed in or not, only when
/// the bytes are playable and the video is not private. Whatever a viewer may not see is 404 to
/// them, so that existence does not leak.
pub fn visible(is_owner: bool, state: VideoState, visibility: Visibility) -> bool {
    is_owner || (state.is_playable() && visibility != Visibility::Private)
}

/// [`visible`] as SQL over the `video_info` alias given, with one placeholder: the viewer's user
/// id (bind 0 for a signed-out viewer; no user has id 0).
///
/// ```
/// const SQL: &str = concat!("SELECT v.id FROM video_info v WHERE v.id = ? AND ", svc::visible_to!("v"));
/// assert!(SQL.ends_with("(v.author_id = ? OR (v.state IN ('uploaded', 'ready') AND v.visibility <> 'private'))"));
/// ```
#[macro_export]
macro_rules! visible_to {
    ($alias:literal) => {
        concat!(
            "(",
            $alias,
            ".author_id = ? OR (",
            $alias,
            ".state IN ",
            $crate::playable_states!(),
            " AND ",
            $alias,
            ".visibility <> 'private'))"
        )
    };
}

/// What lists, the public feed and search show to anyone but the owner, as SQL over the
/// `video_info` alias given: public and playable.
#[macro_export]
macro_rules! listed {
    ($alias:literal) => {
        concat!(
            "(",
            $alias,
            ".visibility = 'public' AND ",
            $alias,
            ".state IN ",
            $crate::playable_states!(),
            ")"
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_ids_have_one_spelling() {
        let id = VideoId::random();
        assert_eq!(id.as_str().len(), 36);
        assert_eq!(VideoId::parse(id.as_str()), Some(id.clone()));
        let upper = id.as_str().to_uppercase();
        assert_eq!(VideoId::parse(&upper), Some(id.clone()));
        let u = uuid::Uuid::parse_str(id.as_str()).unwrap();
        for other in [
            u.simple().to_string(),
            u.braced().to_string(),
            u.urn().to_string(),
            format!(" {id}"),
            format!("{id}/"),
            String::new(),
            "nope".into(),
            "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5g".into(),
        ] {
            assert_eq!(VideoId::parse(&other), None, "{other:?}");
        }
        assert_eq!(id.to_string(), id.as_str());
    }

    #[test]
    fn states_round_trip_and_only_stored_bytes_play() {
        for state in VideoState::ALL {
            assert_eq!(VideoState::parse(state.as_str()), Some(state));
        }
        assert_eq!(VideoState::parse("Ready"), None);
        assert_eq!(VideoState::parse(""), None);
        let playable: Vec<_> = VideoState::ALL
            .into_iter()
            .filter(|s| s.is_playable())
            .collect();
        assert_eq!(playable, [VideoState::Uploaded, VideoState::Ready]);
    }

    #[test]
    fn the_sql_list_names_exactly_the_playable_states() {
        let list = playable_states!();
        let listed: Vec<&str> = list
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(|s| s.trim_matches('\''))
            .collect();
        let playable: Vec<&str> = VideoState::ALL
            .into_iter()
            .filter(|s| s.is_playable())
            .map(VideoState::as_str)
            .collect();
        assert_eq!(listed, playable);
    }
}

#[cfg(test)]
mod visibility_tests {
    use super::*;

    #[test]
    fn visibilities_round_trip() {
        for v in Visibility::ALL {
            assert_eq!(Visibility::parse(v.as_str()), Some(v));
        }
        assert_eq!(Visibility::parse("Public"), None);
        assert!(Visibility::Public.is_listed());
        assert!(!Visibility::Unlisted.is_listed());
        assert!(!Visibility::Private.is_listed());
    }

    #[test]
    fn only_the_owner_sees_private_or_unplayable_videos() {
        for state in VideoState::ALL {
            for vis in Visibility::ALL {
                assert!(visible(true, state, vis), "owner, {state}, {vis}");
                let others = state.is_playable() && vis != Visibility::Private;
                assert_eq!(visible(false, state, vis), others, "{state}, {vis}");
            }
        }
    }

    #[test]
    fn the_sql_spellings_use_the_same_words() {
        let sql = visible_to!("v");
        assert!(sql.contains(playable_states!()));
        assert!(sql.contains(Visibility::Private.as_str()));
        let listed = listed!("x");
        assert!(listed.contains("x.visibility = 'public'"), "{listed}");
        assert!(listed.contains(playable_states!()));
    }
}
