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

use http::{HeaderMap, HeaderValue};

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
}

impl Audience {
    /// `Cache-Control` for an answer to this audience; `public` is the route's own policy for
    /// videos anyone may see.
    pub fn cache_control(self, public: &'static str) -> HeaderValue {
        match self {
            Audience::Anyone => HeaderValue::from_static(public),
            Audience::Owner => HeaderValue::from_static("private, no-store"),
        }
    }
}

/// The audience the request may be answered as, or the 404 of an unknown video.
pub async fn audience(state: &State, headers: &HeaderMap, row: &PlaybackRow) -> Result<Audience> {
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
    }
}
