//! Who may have a video's bytes: its file, its thumbnail, its HLS ladder and storyboard (the
//! one visibility rule, `svc::video::visible`, through [`PlaybackRow::visible_to`], applied to
//! the playback row and the request's session: [`audience`]), and its original upload (its
//! owner only, whatever the visibility: [`owner_only`]); and what the answer may tell caches
//! and other origins ([`Audience`]).
//!
//! The check is ordered so that public and unlisted videos cost nothing: a video anyone may see
//! is answered without reading the session at all. Only when the rule says "owner only" (a
//! private video, or one whose bytes are not playable yet) is the session resolved, the same
//! way uploads read it (`X-Session-Id`, else the `session` cookie), through a cache no older
//! than the row cache. What a viewer may not see is the very 404 an unknown video gets, so that
//! existence does not leak. Serving bytes stays in `routes::playback`.
//!
//! A signed path (`/s/<token>/videos/<vid>...`, issue 16) stands in for the session: [`grant`]
//! checks its token with `svc::media` against what the route opens ([`Opens`]) and the video,
//! without a database round trip, and the viewer it names must pass the same rule
//! ([`audience`]). A bad token is a 403 saying why, and so is a genuine one whose viewer may no
//! longer see the video (only the api mints grants, so this tells nobody that the video exists).

use http::{HeaderMap, HeaderValue};
use svc::VideoId;

use crate::error::{Error, Result};
use crate::ingest;
use crate::state::Stream as State;
use crate::store::PlaybackRow;

/// Who an answer about a video is for, which decides its caching and CORS headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone may see the video (public or unlisted, and playable): today's public caching, and
    /// any origin may read it.
    Anyone,
    /// Only its owner, who sent their session: `Cache-Control: private, no-store` (no shared
    /// cache keeps it, no browser stores it) and no CORS grant.
    Owner,
    /// Whoever holds a signed path: `private, no-store`, and CORS for the site's origin alone
    /// (`crate::cors`), whatever the video's visibility.
    Granted,
}

impl Audience {
    /// `Cache-Control` for an answer to this audience; `public` is the route's own policy for
    /// videos anyone may see.
    pub fn cache_control(self, public: &'static str) -> HeaderValue {
        match self {
            Audience::Anyone => HeaderValue::from_static(public),
            Audience::Owner | Audience::Granted => HeaderValue::from_static("private, no-store"),
        }
    }
}

/// What a signed path opens of a video, as `svc::media` signs it: its files (`/videos/<vid>`:
/// the progressive file, the HLS ladder, the storyboard) or its thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opens {
    Video,
    Thumbnail,
}

impl Opens {
    fn prefix(self, video_id: &VideoId) -> String {
        match self {
            Opens::Video => format!("/videos/{video_id}"),
            Opens::Thumbnail => format!("/thumbnails/{video_id}"),
        }
    }
}

/// The viewer a signed path's genuine, unexpired token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted(pub u32);

/// The viewer of a signed request (`token` from its path), `None` for a plain one; 403 for a
/// token that does not open `opens` of `video_id` now, or when this server has no key.
pub fn grant(
    state: &State,
    token: Option<&str>,
    opens: Opens,
    video_id: &VideoId,
) -> Result<Option<Granted>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let key = state.config.media_key.as_ref().ok_or(Error::NoGrants)?;
    let prefix = opens.prefix(video_id);
    let viewer = key.verify_path(token, &prefix, video_id.as_str(), svc::media::now())?;
    Ok(Some(Granted(viewer)))
}

/// The audience the request may be answered as, or the 404 of an unknown video. A grant's
/// viewer is used as is (no session is read); without one, the session when the video needs it.
pub async fn audience(
    state: &State,
    headers: &HeaderMap,
    row: &PlaybackRow,
    granted: Option<Granted>,
) -> Result<Audience> {
    if let Some(Granted(viewer)) = granted {
        // Only the api mints grants, for viewers who could see the video then: a genuine one
        // whose viewer may no longer see it says so rather than pretend there is no video.
        if row.visible_to(Some(viewer)) {
            return Ok(Audience::Granted);
        }
        return Err(Error::Grant(svc::media::GrantError::Invalid));
    }
    if row.visible_to(None) {
        return Ok(Audience::Anyone);
    }
    match viewer(state, headers).await? {
        Some(user) if row.visible_to(Some(user)) => Ok(Audience::Owner),
        _ => Err(Error::not_found("video")),
    }
}

/// The audience for what only the owner may have whatever the video's visibility (the
/// original upload): [`Audience::Owner`] for the owner's session, else the 404 of an unknown
/// video. The session is always read, even for a public video.
pub async fn owner_only(state: &State, headers: &HeaderMap, row: &PlaybackRow) -> Result<Audience> {
    match viewer(state, headers).await? {
        Some(user) if user == row.author_id => Ok(Audience::Owner),
        _ => Err(Error::not_found("video")),
    }
}

/// The user behind the request's session; `None` without one or with one that is unknown or
/// expired (a read of a video someone cannot see is a 404, never a 401). Live sessions are
/// remembered for the playback cache's TTL, so the owner's range requests on a private video
/// cost one lookup per TTL and a revoked session stops playing within it.
async fn viewer(state: &State, headers: &HeaderMap) -> Result<Option<u32>> {
    let Some(sid) = ingest::session_id(headers) else {
        return Ok(None);
    };
    if let Some(user) = state.sessions.get(sid.as_str()) {
        return Ok(Some(user));
    }
    let found = {
        let mut conn = state.pool.get_conn().await?;
        svc::sessions::lookup(&mut conn, &sid).await?
    };
    let user = found.map(|s| s.user_id);
    if let Some(user) = user {
        state.sessions.put(sid, user);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_audience_is_private() {
        let public = "public, max-age=300";
        assert_eq!(Audience::Anyone.cache_control(public), public);
        assert_eq!(Audience::Owner.cache_control(public), "private, no-store");
        assert_eq!(Audience::Granted.cache_control(public), "private, no-store");
    }
}
