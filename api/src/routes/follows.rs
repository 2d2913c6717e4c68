//! Follows (关注): a user follows a channel (`PUT /user/{username}/following/{other}`), stops
//! (`DELETE`), asks whether they do (`GET`), and reads the newest public videos of the channels
//! they follow (`GET /feed`). The follow routes are that user's alone (401 without a session, 403
//! for another user); the profile carries the counts (`routes::users`).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use svc::http::{json, Body};

use crate::auth::Viewer;
use crate::domain::UserName;
use crate::error::ApiError;
use crate::request::Page;
use crate::routes::videos::VideoPage;
use crate::state::Api;
use crate::store;

const NO_USER: &str = "no such user";

/// The answer of every route on one follow: whether it is one now, and the channel's count.
#[derive(Serialize)]
struct State {
    user_name: String,
    following: bool,
    follower_count: u64,
}

/// What a follow route acts on: the session's user (who must be the path's) and the channel's id.
async fn parties(
    api: &Api,
    req: &Request<Incoming>,
    path_user: &str,
    other: &str,
) -> Result<(Viewer, u32), ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    viewer.must_be(path_user, "you can only change whom you follow yourself")?;
    let name = UserName::parse(other).map_err(|_| ApiError::NotFound(NO_USER))?;
    let mut conn = api.pool.get_conn().await?;
    let channel = store::users::find_by_name(&mut conn, name.as_str())
        .await?
        .ok_or(ApiError::NotFound(NO_USER))?;
    Ok((viewer, channel.id))
}

async fn answer(
    api: &Api,
    other: String,
    channel: u32,
    following: bool,
) -> Result<Response<Body>, ApiError> {
    let mut conn = api.pool.get_conn().await?;
    let (follower_count, _) = store::follows::counts(&mut conn, channel).await?;
    Ok(json(
        StatusCode::OK,
        &State {
            user_name: other,
            following,
            follower_count,
        },
    ))
}

/// `PUT`: follows the channel (again: nothing changes). 200 with the state; 422 for oneself.
pub async fn put(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    other: String,
) -> Result<Response<Body>, ApiError> {
    let (viewer, channel) = parties(api, &req, &path_user, &other).await?;
    if channel == viewer.user_id {
        return Err(ApiError::Invalid(
            "you cannot follow yourself; your own videos are in your studio".into(),
        ));
    }
    let mut conn = api.pool.get_conn().await?;
    store::follows::add(&mut conn, viewer.user_id, channel).await?;
    answer(api, other, channel, true).await
}

/// `DELETE`: stops following (not following: nothing changes). 200 with the state.
pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    other: String,
) -> Result<Response<Body>, ApiError> {
    let (viewer, channel) = parties(api, &req, &path_user, &other).await?;
    let mut conn = api.pool.get_conn().await?;
    store::follows::remove(&mut conn, viewer.user_id, channel).await?;
    answer(api, other, channel, false).await
}

/// `GET /user/{username}/following/{other}`: whether the user follows the channel, for the
/// Follow button.
pub async fn get(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    other: String,
) -> Result<Response<Body>, ApiError> {
    let (viewer, channel) = parties(api, &req, &path_user, &other).await?;
    let mut conn = api.pool.get_conn().await?;
    let following = store::follows::has(&mut conn, viewer.user_id, channel).await?;
    answer(api, other, channel, following).await
}

/// `GET /feed?limit=&before=`: the newest public videos of the channels the session's user
/// follows (`{"videos","next"}`, keyset-paged like every list).
pub async fn feed(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let page = Page::from_query(req.uri().query())?;
    let mut conn = api.pool.get_conn().await?;
    let rows = store::follows::feed(
        &mut conn,
        viewer.user_id,
        page.before.as_ref(),
        page.fetch(),
    )
    .await?;
    let (rows, next) = page.split(rows, store::videos::VideoRow::cursor);
    VideoPage::of(api, &mut conn, rows, next, viewer.user_id).await
}
