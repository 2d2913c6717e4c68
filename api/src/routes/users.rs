//! Users and sessions: register (`POST /user`), log in (`POST /user/{username}`), log out
//! (`DELETE /user/{username}`) and the user page (`GET /user/{username}`).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body, PeerAddr};

use crate::domain::{Password, UserName};
use crate::error::ApiError;
use crate::ratelimit::client_ip;
use crate::request::read_json;
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

#[derive(Serialize)]
struct Profile {
    id: u32,
    user_name: String,
    video_count: u64,
}

/// Counts an attempt against the client's login/register allowance, or refuses with 429.
fn limit_attempts(api: &Api, req: &Request<Incoming>) -> Result<(), ApiError> {
    let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() else {
        return Ok(());
    };
    let ip = client_ip(peer.ip(), req.headers(), &api.config.trusted_proxies);
    api.auth_limiter.check(ip).map_err(|wait| {
        tracing::info!(%ip, "login/register rate limit reached");
        ApiError::RateLimited {
            // Round up: a client retrying after this many whole seconds gets through.
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

pub async fn register(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    limit_attempts(api, &req)?;
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
    limit_attempts(api, &req)?;
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

/// Any logged-in user may look at any user's page; the count covers what the viewer may see.
pub async fn profile(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    const UNKNOWN: &str = "no such user";
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let name = UserName::parse(&path_user).map_err(|_| ApiError::NotFound(UNKNOWN))?;
    let mut conn = api.pool.get_conn().await?;
    let (id, video_count) = store::users::profile(&mut conn, name.as_str(), viewer.user_id)
        .await?
        .ok_or(ApiError::NotFound(UNKNOWN))?;
    Ok(json(
        StatusCode::OK,
        &Profile {
            id,
            user_name: name.as_str().to_string(),
            video_count,
        },
    ))
}
