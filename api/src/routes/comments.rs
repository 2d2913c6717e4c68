//! Comments on a video: post (`POST /videos/{vid}/comments`), list newest first, and delete
//! (`DELETE /videos/{vid}/comment/{cid}`) by the comment's author or the video's owner.
//!
//! Anyone, signed in or not, may read the comments of a video they may see
//! (`svc::video::visible`); posting and deleting need a session. A video the viewer may not see
//! (private, or not playable yet, and not theirs) is 404 here too, so comments cannot reveal it.
//! A new comment (`comment`) and a deleted one (`comment_delete`, `{"id", "video_id"}`) are also
//! written to `live_events` in the transaction of the change, for the video's live viewers
//! (`crate::live`).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body};

use svc::{VideoId, VideoState};

use crate::domain::{CommentId, CommentText};
use crate::error::ApiError;
use crate::request::{read_json, reader, takes_reactions, video_id, Page, NO_VIDEO};
use crate::state::Api;
use crate::store;
use crate::store::comments::CommentRow;
use crate::store::live::EventKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    content: String,
    /// Sent by the original's clients; accepted and ignored (the author is the session's user).
    #[serde(default)]
    #[allow(dead_code)]
    author_id: Option<IgnoredAny>,
}

/// The comment object (SPEC section 3).
#[derive(Serialize)]
struct CommentJson {
    id: String,
    video_id: String,
    author_id: u32,
    author: String,
    content: String,
    time: String,
}

impl From<CommentRow> for CommentJson {
    fn from(c: CommentRow) -> Self {
        CommentJson {
            id: c.id,
            video_id: c.video_id,
            author_id: c.author_id,
            author: c.author,
            content: c.content,
            time: c.time,
        }
    }
}

#[derive(Serialize)]
struct CommentPage {
    comments: Vec<CommentJson>,
    next: Option<String>,
}

const NO_COMMENT: &str = "no such comment";

/// The video's owner and state, if the video exists and `viewer_id` (0: signed out) may see it.
async fn visible_video<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    viewer_id: u32,
    vid: &VideoId,
) -> Result<(u32, VideoState), ApiError> {
    match store::videos::access(conn, vid).await? {
        Some((owner, state, visibility))
            if svc::video::visible(owner == viewer_id, state, visibility) =>
        {
            Ok((owner, state))
        }
        _ => Err(ApiError::NotFound(NO_VIDEO)),
    }
}

pub async fn create(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let body: NewComment = read_json(req).await?;
    let content = CommentText::parse(&body.content).map_err(ApiError::Invalid)?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let (_, state) = visible_video(&mut conn, viewer.user_id, &vid).await?;
    takes_reactions(state)?;
    let id = CommentId::random();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    match store::comments::insert(&mut tx, &id, &vid, viewer.user_id, content.as_str()).await {
        Ok(()) => {}
        // MySQL 1452: the video was deleted between the check and the insert.
        Err(mysql_async::Error::Server(e)) if e.code == 1452 => {
            return Err(ApiError::NotFound(NO_VIDEO))
        }
        Err(e) => return Err(e.into()),
    }
    let comment = store::comments::find(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::Internal("a comment just inserted is missing".into()))?;
    let comment = CommentJson::from(comment);
    let event = serde_json::to_string(&comment)
        .map_err(|e| ApiError::Internal(format!("encoding a comment: {e}")))?;
    store::live::publish(&mut tx, &vid, EventKind::Comment, &event).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &comment))
}

pub async fn list(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let page = Page::from_query(req.uri().query())?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let rows = store::comments::page(
        &mut conn,
        &vid,
        reader.user_id(),
        page.before.as_ref(),
        page.fetch(),
    )
    .await?;
    // Rows prove the video is visible; an empty page may mean it is not (404), so only then
    // is the video looked at on its own.
    if rows.is_empty() {
        visible_video(&mut conn, reader.user_id(), &vid).await?;
    }
    let (rows, next) = page.split(rows, CommentRow::cursor);
    let comments = rows.into_iter().map(CommentJson::from).collect();
    Ok(json(StatusCode::OK, &CommentPage { comments, next }))
}

pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
    cid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let (owner, _) = visible_video(&mut conn, viewer.user_id, &vid).await?;
    let cid = CommentId::parse(&cid).ok_or(ApiError::NotFound(NO_COMMENT))?;
    let comment = store::comments::find(&mut conn, &cid)
        .await?
        .filter(|c| c.video_id == vid.as_str())
        .ok_or(ApiError::NotFound(NO_COMMENT))?;
    if comment.author_id != viewer.user_id && owner != viewer.user_id {
        return Err(ApiError::Forbidden(
            "only the comment's author or the video's owner can delete it",
        ));
    }
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    store::comments::delete(&mut tx, &cid).await?;
    let gone = serde_json::json!({ "id": cid.as_str(), "video_id": vid.as_str() });
    store::live::publish(&mut tx, &vid, EventKind::CommentDelete, &gone.to_string()).await?;
    tx.commit().await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
