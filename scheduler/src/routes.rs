//! The scheduler's HTTP API (internal; loopback by default), SPEC section 5, and its one route
//! table: `POST /video-delete-record/{vid}` queues a video's deletion (idempotent) and answers
//! 202 with the record; `GET /video-delete-record/{vid}` shows that record. `/healthz`,
//! `/readyz` and `/metrics` are served by `svc`. The SQL lives in `store/`, the work in `work/`.

use std::sync::LazyLock;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{json, Body, RouteName};
use svc::router::{method_not_allowed, not_found, Route as _, Router};
use svc::VideoId;

use crate::error::Error;
use crate::state::Scheduler;
use crate::store::{jobs, videos};

/// Every route of the scheduler; [`svc::router::Route::name`] gives its pattern and metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    DeleteRecord,
    /// The scheduler's OpenAPI document (`scheduler/openapi.json`).
    OpenApi,
}

impl svc::router::Route for Route {
    const ALL: &'static [Self] = &[Route::DeleteRecord, Route::OpenApi];

    fn name(self) -> &'static str {
        match self {
            Route::DeleteRecord => "/video-delete-record/{vid}",
            Route::OpenApi => svc::openapi::PATH,
        }
    }
}

static TABLE: LazyLock<Router<Route>> = LazyLock::new(Route::table);

/// The contract of every route above, served at `GET /openapi.json` (checked against this table
/// by `tests/it/openapi.rs`).
const OPENAPI: &str = include_str!("../openapi.json");

/// Every request `svc` does not answer itself: one lookup in the table, then one exhaustive
/// `match (route, method)`; the response carries the route's name for the metrics.
pub async fn handle(state: &Scheduler, req: Request<Incoming>) -> Response<Body> {
    let Some((route, params)) = TABLE.at(req.uri().path()) else {
        return not_found();
    };
    let vid = params.get("vid").unwrap_or_default();
    let result = match (route, req.method()) {
        (Route::DeleteRecord, &Method::POST) => queue_deletion(state, vid).await,
        (Route::DeleteRecord, &Method::GET | &Method::HEAD) => read_record(state, vid).await,
        (Route::DeleteRecord, _) => Ok(method_not_allowed(&[
            Method::GET,
            Method::HEAD,
            Method::POST,
        ])),
        (Route::OpenApi, &Method::GET) => Ok(svc::openapi::response(OPENAPI)),
        (Route::OpenApi, _) => Ok(method_not_allowed(&[Method::GET])),
    };
    let mut resp = result.unwrap_or_else(Error::into_response);
    resp.extensions_mut().insert(RouteName(route.name()));
    resp
}

/// The video id of a path, or 400 saying what an id looks like.
fn video_id(raw: &str) -> Result<VideoId, Error> {
    VideoId::parse(raw).ok_or_else(|| {
        Error::BadRequest(format!(
            "{raw:?} is not a video id; expected a UUID such as 0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b"
        ))
    })
}

/// Queues the deletion of a video whose row is gone (a second call changes nothing; a deletion
/// that had failed for good is queued afresh) and answers 202 Accepted (RFC 9110 section
/// 15.3.3): the work happens later.
async fn queue_deletion(state: &Scheduler, raw: &str) -> Result<Response<Body>, Error> {
    let vid = video_id(raw)?;
    let mut conn = state.pool.get_conn().await?;
    // The job would refuse to delete the files of a listed video and retry until it gives up;
    // saying so now is more useful. (Racing a concurrent api deletion is fine either way.)
    if videos::state(&mut conn, &vid).await?.is_some() {
        return Err(Error::Conflict(format!(
            "video {vid} still exists; delete it through the api first"
        )));
    }
    svc::jobs::enqueue(&mut conn, svc::jobs::JobKind::DeleteVideo, &vid).await?;
    let record = jobs::delete_record(&mut conn, &vid)
        .await?
        .ok_or_else(|| Error::NotFound("the deletion record vanished; try again".into()))?;
    // Wake the dispatcher so a deletion queued here starts now rather than next tick.
    if let Some(runner) = &state.runner {
        runner.wake();
    }
    Ok(json(StatusCode::ACCEPTED, &record))
}

async fn read_record(state: &Scheduler, raw: &str) -> Result<Response<Body>, Error> {
    let vid = video_id(raw)?;
    let mut conn = state.pool.get_conn().await?;
    match jobs::delete_record(&mut conn, &vid).await? {
        Some(record) => Ok(json(StatusCode::OK, &record)),
        None => Err(Error::NotFound(format!(
            "no deletion was ever queued for video {vid}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use svc::http::ErrorCode;

    #[test]
    fn the_table_routes_delete_records_and_nothing_else() {
        let table = Route::table();
        let vid = "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
        let path = format!("/video-delete-record/{vid}");
        let (route, params) = table.at(&path).unwrap();
        assert_eq!(route, Route::DeleteRecord);
        assert_eq!(params.get("vid"), Some(vid));
        for other in ["/video-delete-record", "/video-delete-record/a/b", "/"] {
            assert!(table.at(other).is_none(), "{other}");
        }
    }

    #[test]
    fn malformed_video_ids_are_bad_requests_saying_what_is_expected() {
        let id = video_id("0B7E2F3A-5C1D-4E6F-8A9B-0C1D2E3F4A5B").unwrap();
        assert_eq!(id.as_str(), "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b");
        for bad in [
            "",
            "abc",
            "../etc/passwd",
            "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5",
            "0b7e2f3a5c1d4e6f8a9b0c1d2e3f4a5b",
        ] {
            let error = video_id(bad).unwrap_err();
            assert_eq!(error.code(), ErrorCode::BadRequest, "{bad:?}");
            assert!(error.to_string().contains("expected a UUID"), "{error}");
        }
    }
}
