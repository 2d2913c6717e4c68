//! Favourites (收藏): a user marks videos (`PUT /user/{username}/favorites/{vid}`), unmarks
//! them (`DELETE`), asks whether one is marked (`GET`), and lists theirs newest first
//! (`GET /user/{username}/favorites`). Every route is that user's alone (401 without a session,
//! 403 for another user); the video object carries the count (`favorite_count`).
//!
//! A favourite is of a video the user may see (404 otherwise, so favourites cannot probe for
//! private videos). One that was made private later is left out of the list but may still be
//! removed.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use svc::http::{json, Body};
use svc::VideoId;

use crate::auth::Viewer;
use crate::error::ApiError;
use crate::request::{takes_reactions, video_id, Page, NO_VIDEO};
use crate::routes::videos::VideoPage;
use crate::state::Api;
use crate::store;
use crate::store::favorites::Favorite;

/// The answer of every route on one favourite: whether it is one now, and the video's count.
#[derive(Serialize)]
struct State {
    video_id: String,
    favorited: bool,
    favorite_count: u64,
}

/// The session's user, who must be the path's.
async fn owner_of_list(
    api: &Api,
    req: &Request<Incoming>,
    path_user: &str,
) -> Result<Viewer, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    viewer.must_be(path_user, "favourites are their owner's alone")?;
    Ok(viewer)
}

/// The state after a change, in its transaction (the video's row is locked by then).
async fn state<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    vid: &VideoId,
    favorited: bool,
) -> Result<State, ApiError> {
    Ok(State {
        video_id: vid.as_str().to_string(),
        favorited,
        favorite_count: store::favorites::count(conn, vid).await?,
    })
}

/// `PUT`: marks the video (again: nothing changes). 200 with the state.
pub async fn put(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = owner_of_list(api, &req, &path_user).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    match store::favorites::lock_video(&mut tx, &vid).await? {
        Some((owner, st, vis)) if svc::video::visible(owner == viewer.user_id, st, vis) => {
            takes_reactions(st)?;
        }
        _ => return Err(ApiError::NotFound(NO_VIDEO)),
    }
    store::favorites::add(&mut tx, viewer.user_id, &vid).await?;
    let state = state(&mut tx, &vid, true).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &state))
}

/// `DELETE`: unmarks the video (not marked: nothing changes). 200 with the state; 404 when it
/// was not marked and the user may not see it.
pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = owner_of_list(api, &req, &path_user).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let visible = match store::favorites::lock_video(&mut tx, &vid).await? {
        Some((owner, st, vis)) => svc::video::visible(owner == viewer.user_id, st, vis),
        None => return Err(ApiError::NotFound(NO_VIDEO)),
    };
    let removed = store::favorites::remove(&mut tx, viewer.user_id, &vid).await?;
    if !removed && !visible {
        return Err(ApiError::NotFound(NO_VIDEO));
    }
    let state = state(&mut tx, &vid, false).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &state))
}

/// `GET /user/{username}/favorites/{vid}`: whether the video is marked, for the heart button.
pub async fn get(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = owner_of_list(api, &req, &path_user).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = store::videos::find(&mut conn, &vid)
        .await?
        .filter(|v| v.visible_to(viewer.user_id))
        .ok_or(ApiError::NotFound(NO_VIDEO))?;
    let favorited = store::favorites::has(&mut conn, viewer.user_id, &vid).await?;
    Ok(json(
        StatusCode::OK,
        &State {
            video_id: video.id,
            favorited,
            favorite_count: video.favorite_count,
        },
    ))
}

/// `GET /user/{username}/favorites?limit=&before=`: the user's favourites, the most recently
/// marked first, as video objects (`{"videos","next"}`, like every list).
pub async fn list(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = owner_of_list(api, &req, &path_user).await?;
    let page = Page::from_query(req.uri().query())?;
    let mut conn = api.pool.get_conn().await?;
    let rows = store::favorites::page(
        &mut conn,
        viewer.user_id,
        page.before.as_ref(),
        page.fetch(),
    )
    .await?;
    let (rows, next) = page.split(rows, Favorite::cursor);
    let videos = rows.into_iter().map(|f| f.video).collect();
    VideoPage::of(api, &mut conn, videos, next, viewer.user_id).await
}
