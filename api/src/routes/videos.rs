//! Videos under their author: create a pending video (`POST /user/{username}/videos`), list a
//! channel newest first, read one (under its author, or by id alone as `GET /videos/{vid}` so a
//! watch link need not name the author), and delete one (`DELETE /user/{username}/videos/{vid}`).
//!
//! Visibility: the owner sees every state; anyone else logged in sees only playable videos
//! (`uploaded`, `ready`), like a public channel page. A video the viewer may not see is 404.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body};

use svc::jobs::JobKind;
use svc::VideoId;

use crate::domain::{UserName, VideoName};
use crate::error::ApiError;
use crate::request::{read_json, video_id, Page, NO_VIDEO};
use crate::state::Api;
use crate::store;
use crate::store::videos::VideoRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVideo {
    name: String,
    /// The original's clients send their own id here; it is accepted for compatibility and
    /// ignored: the author is the session's user.
    #[serde(default)]
    #[allow(dead_code)]
    author_id: Option<IgnoredAny>,
}

/// The video object (SPEC section 3). URLs are relative to the site origin (web).
#[derive(Serialize)]
pub struct VideoJson {
    id: String,
    author_id: u32,
    author: String,
    name: String,
    display_ctime: String,
    create_time: String,
    state: &'static str,
    size: Option<u64>,
    duration_ms: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    content_type: Option<String>,
    thumbnail_url: Option<String>,
    play_url: String,
    upload_url: String,
    resumable_upload_url: &'static str,
    failure_reason: Option<String>,
}

impl From<VideoRow> for VideoJson {
    fn from(v: VideoRow) -> Self {
        VideoJson {
            thumbnail_url: v.has_thumbnail.then(|| format!("/thumbnails/{}", v.id)),
            play_url: format!("/videos/{}", v.id),
            upload_url: format!("/upload/{}", v.id),
            resumable_upload_url: "/files/",
            id: v.id,
            author_id: v.author_id,
            author: v.author,
            name: v.name,
            display_ctime: v.display_ctime,
            create_time: v.create_time,
            state: v.state.as_str(),
            size: v.size,
            duration_ms: v.duration_ms,
            width: v.width,
            height: v.height,
            content_type: v.content_type,
            failure_reason: v.failure_reason,
        }
    }
}

#[derive(Serialize)]
struct VideoPage {
    videos: Vec<VideoJson>,
    next: Option<String>,
}

const NO_USER: &str = "no such user";

pub async fn create(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    viewer.must_be(
        &path_user,
        "you can only create videos under your own user name",
    )?;
    let body: NewVideo = read_json(req).await?;
    let name = VideoName::parse(&body.name).map_err(ApiError::Invalid)?;
    let id = VideoId::random();
    let mut conn = api.pool.get_conn().await?;
    store::videos::insert(&mut conn, &id, viewer.user_id, name.as_str()).await?;
    let video = store::videos::find(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::Internal("a video just inserted is missing".into()))?;
    Ok(json(StatusCode::CREATED, &VideoJson::from(video)))
}

pub async fn list(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let page = Page::from_query(req.uri().query())?;
    let name = UserName::parse(&path_user).map_err(|_| ApiError::NotFound(NO_USER))?;
    let mut conn = api.pool.get_conn().await?;
    let author_id = if name.as_str() == viewer.user_name {
        viewer.user_id
    } else {
        store::users::find_by_name(&mut conn, name.as_str())
            .await?
            .ok_or(ApiError::NotFound(NO_USER))?
            .id
    };
    let rows = store::videos::list(
        &mut conn,
        author_id,
        name.as_str(),
        author_id == viewer.user_id,
        page.before.as_ref(),
        page.fetch(),
    )
    .await?;
    let (rows, next) = page.split(rows, VideoRow::cursor);
    let videos = rows.into_iter().map(VideoJson::from).collect();
    Ok(json(StatusCode::OK, &VideoPage { videos, next }))
}

/// `GET /user/{username}/videos/{vid}` with `path_user`, `GET /videos/{vid}` without: the same
/// object and the same visibility; only the path's author, when there is one, must match too.
pub async fn get(
    api: &Api,
    req: Request<Incoming>,
    path_user: Option<String>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = visible_video(&mut conn, viewer.user_id, path_user.as_deref(), &vid).await?;
    Ok(json(StatusCode::OK, &VideoJson::from(video)))
}

/// One transaction: lock the row, check the owner, delete the comments and the row, queue the
/// `delete_video` job (the scheduler removes the files later). A crash anywhere before the
/// commit changes nothing; after it, the job is durable.
pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = visible_video(&mut conn, viewer.user_id, Some(&path_user), &vid).await?;
    if video.author_id != viewer.user_id {
        return Err(ApiError::Forbidden("only the video's owner can delete it"));
    }
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    // Re-read under the lock: a concurrent delete may have won since the check above.
    if store::videos::lock_author(&mut tx, &vid).await? != Some(viewer.user_id) {
        return Err(ApiError::NotFound(NO_VIDEO));
    }
    store::comments::delete_for_video(&mut tx, &vid).await?;
    store::videos::delete(&mut tx, &vid).await?;
    svc::jobs::enqueue(&mut tx, JobKind::DeleteVideo, &vid).await?;
    tx.commit().await?;
    tracing::info!(video_id = %vid, "video deleted; file deletion queued");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The video, if `viewer_id` may see it and, when the path names an author (`author`), it is
/// theirs; otherwise 404, so a hidden video looks like no video at all.
async fn visible_video<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    viewer_id: u32,
    author: Option<&str>,
    vid: &VideoId,
) -> Result<VideoRow, ApiError> {
    store::videos::find(conn, vid)
        .await?
        .filter(|v| author.is_none_or(|a| v.author == a))
        .filter(|v| v.visible_to(viewer_id))
        .ok_or(ApiError::NotFound(NO_VIDEO))
}
