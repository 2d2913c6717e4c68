//! Users and sessions: register (`POST /user`), log in (`POST /user/{username}`), log out
//! (`DELETE /user/{username}`), who a session belongs to (`GET /session`) and the public
//! profile (`GET /user/{username}`).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body};

use crate::domain::{Password, UserName};
use crate::error::ApiError;
use crate::request::{read_json, reader};
use crate::state::Api;
use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    user_name: String,
    pwd: String,
}

#[derive(Serialize)]
struct SessionCreated {
    success: bool,
    session_id: String,
}

/// `GET /session`: who the session belongs to.
#[derive(Serialize)]
struct SessionOwner {
    user_id: u32,
    user_name: String,
}

#[derive(Serialize)]
struct Profile {
    id: u32,
    user_name: String,
    video_count: u64,
    /// How many users follow them.
    follower_count: u64,
    /// How many channels they follow.
    following_count: u64,
}

pub async fn register(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    api.limits.auth(&req)?;
    let body: Credentials = read_json(req).await?;
    let name = UserName::parse(&body.user_name).map_err(ApiError::Invalid)?;
    let pwd = Password::parse(&body.pwd).map_err(ApiError::Invalid)?;
    let hash = api.passwords.hash(pwd.into_string()).await?;
    let mut conn = api.pool.get_conn().await?;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    // No pre-check for the name: the unique key decides, so two concurrent registrations get
    // exactly one 201 and one 409.
    let user_id = match store::users::insert(&mut tx, name.as_str(), &hash).await {
        Ok(id) => id,
        Err(e) if svc::db::is_duplicate_key(&e) => {
            return Err(ApiError::Conflict(
                "this user name is taken; choose another",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let session_id = api.sessions.create(&mut tx, user_id).await?;
    tx.commit().await?;
    tracing::info!(user_id, "user registered");
    Ok(json(
        StatusCode::CREATED,
        &SessionCreated {
            success: true,
            session_id,
        },
    ))
}

pub async fn login(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    const FAILED: &str = "user authentication failed: wrong user name or password";
    api.limits.auth(&req)?;
    let body: Credentials = read_json(req).await?;
    if body.user_name != path_user {
        return Err(ApiError::BadRequest(
            "user_name in the body must be the user name in the path".into(),
        ));
    }
    // A name that cannot exist is looked up like any other unknown name, so the answer and the
    // time it takes are the same as for a wrong password.
    let user = match UserName::parse(&body.user_name) {
        Ok(name) => {
            let mut conn = api.pool.get_conn().await?;
            store::users::find_by_name(&mut conn, name.as_str()).await?
        }
        Err(_) => None,
    };
    let ok = api
        .passwords
        .verify(body.pwd, user.as_ref().map(|u| u.pwd_hash.clone()))
        .await?;
    let user = match user {
        Some(user) if ok => user,
        _ => {
            metrics::counter!("api_logins_total", "result" => "failed").increment(1);
            return Err(ApiError::NotAuthenticated(FAILED));
        }
    };
    let mut conn = api.pool.get_conn().await?;
    let session_id = api.sessions.create(&mut conn, user.id).await?;
    metrics::counter!("api_logins_total", "result" => "ok").increment(1);
    Ok(json(
        StatusCode::OK,
        &SessionCreated {
            success: true,
            session_id,
        },
    ))
}

/// Logout revokes the session the request was made with; the user's other sessions (other
/// devices) stay.
pub async fn logout(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    viewer.must_be(&path_user, "you can only log yourself out")?;
    let mut conn = api.pool.get_conn().await?;
    api.sessions.revoke(&mut conn, &viewer.session_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /session`: the session's user (200), or 401 without a valid session. web asks this to
/// know who is signed in, so one cookie is one sign-in; like every authenticated request it
/// renews a session that is running out.
pub async fn session(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    Ok(json(
        StatusCode::OK,
        &SessionOwner {
            user_id: viewer.user_id,
            user_name: viewer.user_name,
        },
    ))
}

/// Anyone, signed in or not, may look at any user's page; the count is what that viewer finds
/// in the user's list (all for the owner, the listed ones for anyone else).
pub async fn profile(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    const UNKNOWN: &str = "no such user";
    let reader = reader(api, &req).await?;
    let name = UserName::parse(&path_user).map_err(|_| ApiError::NotFound(UNKNOWN))?;
    let mut conn = api.pool.get_conn().await?;
    let p = store::users::profile(&mut conn, name.as_str(), reader.user_id())
        .await?
        .ok_or(ApiError::NotFound(UNKNOWN))?;
    Ok(json(
        StatusCode::OK,
        &Profile {
            id: p.id,
            user_name: name.as_str().to_string(),
            video_count: p.videos,
            follower_count: p.followers,
            following_count: p.following,
        },
    ))
}
