//! `GET /videos/{vid}/live`: a video's live updates as a Server-Sent Events stream
//! (`text/event-stream`, HTML Living Standard section 9.2) for anyone who may see the video.
//!
//! The stream sends `retry`, the number watching now (`viewers`), then every new `danmaku`,
//! `danmaku_delete`, `comment`, `comment_delete` and `video_gone` of the video with its id, a
//! new `viewers` whenever the number changes (at most once a second) and a heartbeat comment
//! every `LIVE_HEARTBEAT`. While it is open it counts as one viewer. After a `video_gone` the
//! server ends the stream of every viewer who may no longer see the video (`live::Gone`); the
//! owner's goes on when the video was made private. A client that reconnects with
//! `Last-Event-ID` first gets what it missed, from the database, then the live events after
//! them, with none lost or repeated (the hub's cursor splits the two; see `crate::live`).
//!
//! How events reach this process is `crate::live`; this module only opens and writes a stream.

use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};
use svc::http::Body;
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::live::{sse, Gone, Msg, Subscription};
use crate::request::{reader, video_id, NO_VIDEO};
use crate::state::Api;
use crate::store;

/// The most events a reconnecting stream is replayed at once. When it missed more, the stream
/// ends after them and the client reconnects at once with the last of them for the rest.
const REPLAY_MAX: u32 = 1000;

/// Tells a proxy in front (nginx) not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The event id a reconnecting client last received, if it sent a usable one. Anything else is
/// no id: the stream starts from now, as for a first connection.
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What a stream sends: `first` once, then the channel's messages after `skip_to`, until `done`
/// (a replay that was cut at [`REPLAY_MAX`], or a `video_gone` that ends this viewer's stream).
struct Live {
    first: Option<Bytes>,
    sub: Subscription,
    /// Events at or below this id were replayed (or are older than what the client has).
    skip_to: u64,
    /// Whether the viewer owns the video (a private video is still theirs to watch).
    owner: bool,
    done: bool,
}

impl Live {
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.done {
            return None;
        }
        loop {
            match self.sub.rx.recv().await {
                Ok(Msg::Event { id, .. }) if id <= self.skip_to => continue,
                Ok(Msg::Event { frame, gone, .. }) => {
                    // The viewer may no longer see the video: this is the last they are sent.
                    self.done = gone.is_some_and(|g| g.ends(self.owner));
                    return Some(frame);
                }
                Ok(Msg::Frame(frame)) => return Some(frame),
                Err(RecvError::Lagged(n)) => {
                    // Too slow to keep up: end the stream; the client reconnects with its last
                    // id and is replayed from the database.
                    metrics::counter!("api_live_streams_lagged_total").increment(1);
                    tracing::debug!(missed = n, "a live stream fell behind; closing it");
                    return None;
                }
                // The process is shutting down.
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Opens the stream: through hyper, or on the bare connection the server loop handed over
/// (`svc::App::take_over`), with the same checks and answers either way.
pub async fn stream<B>(
    api: &Api,
    req: Request<B>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let vid = video_id(&vid)?;
    let last = last_event_id(req.headers());
    let mut conn = api.pool.get_conn().await?;
    // Subscribed before the video is looked at: a delete (or privatising) that commits after
    // the look has its `video_gone` after the subscription's cursor, so it reaches this stream
    // and ends it; one that committed before is a 404 here.
    let mut sub = api
        .live
        .subscribe(vid.as_str())
        .ok_or(ApiError::Unavailable(
            "the service is restarting; reconnect in a moment",
        ))?;
    let owner = match store::videos::access(&mut conn, &vid).await? {
        Some((owner, state, visibility))
            if svc::video::visible(owner == reader.user_id(), state, visibility) =>
        {
            owner == reader.user_id()
        }
        _ => return Err(ApiError::NotFound(NO_VIDEO)),
    };
    // Counted only now: a request answered 404 above never showed as a viewer.
    let viewers = sub.watch();
    let mut first = BytesMut::new();
    first.extend_from_slice(&sse::retry());
    first.extend_from_slice(&sse::viewers(viewers));
    let mut done = false;
    if let Some(after) = last.filter(|&l| l < sub.cursor) {
        let missed = store::live::replay(&mut conn, &vid, after, sub.cursor, REPLAY_MAX).await?;
        done = missed.len() == REPLAY_MAX as usize;
        for e in missed.iter().filter_map(|row| row.event.as_ref()) {
            // A `video_gone` that would end this stream is past: the viewer may see the video
            // now (it was made public again), as the look above says.
            if Gone::of_event(e).is_some_and(|g| g.ends(owner)) {
                continue;
            }
            first.extend_from_slice(&sse::event(e.id, e.kind.as_str(), &e.payload));
        }
        // Cut short: the client resumes after the last row read, even one it was not sent.
        if let Some(last) = missed.last().filter(|_| done) {
            first.extend_from_slice(&sse::id_only(last.id));
        }
    }
    drop(conn);
    let live = Live {
        first: Some(first.freeze()),
        skip_to: last.unwrap_or(0).max(sub.cursor),
        sub,
        owner,
        done,
    };
    let chunks = futures_util::stream::unfold(live, |mut live| async move {
        live.next()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), live))
    });
    let mut resp = svc::http::stream(StatusCode::OK, chunks);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_number_is_a_last_event_id() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("last-event-id", v.parse().unwrap());
            last_event_id(&h)
        };
        assert_eq!(with("42"), Some(42));
        assert_eq!(with(" 7 "), Some(7));
        assert_eq!(with(""), None);
        assert_eq!(with("-1"), None);
        assert_eq!(with("abc"), None);
        assert_eq!(last_event_id(&HeaderMap::new()), None);
    }
}
