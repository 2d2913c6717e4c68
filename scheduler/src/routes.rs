//! The scheduler's HTTP API (internal; loopback by default), SPEC section 5:
//! `POST /video-delete-record/{vid}` queues a video's deletion (idempotent) and answers 202 with
//! the record; `GET /video-delete-record/{vid}` shows that record. `/healthz`, `/readyz` and
//! `/metrics` are served by `svc`.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{json, Body, RouteName};
use svc::router::{method_not_allowed, not_found, Router};

use crate::error::Error;
use crate::store::jobs;
use crate::Scheduler;

#[derive(Clone, Copy, Debug)]
pub enum Route {
    DeleteRecord,
}

pub fn table() -> Router<Route> {
    Router::new(&[("/video-delete-record/{vid}", Route::DeleteRecord)])
}

/// A video id from the path, parsed once: any UUID spelling, stored in the canonical lower-case
/// hyphenated form the api writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoId(String);

impl VideoId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        uuid::Uuid::try_parse(raw)
            .map(|u| VideoId(u.hyphenated().to_string()))
            .map_err(|_| {
                Error::BadRequest(format!(
                    "{raw:?} is not a video id; expected a UUID such as 0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b"
                ))
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub async fn handle(state: &Scheduler, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some((route, params)) = state.router.at(&path) else {
        return not_found();
    };
    let vid = params.get("vid").unwrap_or_default().to_owned();
    let (name, result) = match (route, req.method()) {
        (Route::DeleteRecord, &Method::POST) => {
            ("delete_record_post", queue_deletion(state, &vid).await)
        }
        (Route::DeleteRecord, &Method::GET | &Method::HEAD) => {
            ("delete_record_get", read_record(state, &vid).await)
        }
        (Route::DeleteRecord, _) => {
            return method_not_allowed(&[Method::GET, Method::HEAD, Method::POST])
        }
    };
    let mut resp = result.unwrap_or_else(Error::into_response);
    resp.extensions_mut().insert(RouteName(name));
    resp
}

/// Queues the deletion of a video whose row is gone (a second call changes nothing; a deletion that had failed for good is
/// queued afresh) and answers 202 Accepted (RFC 9110 section 15.3.3): the work happens later.
async fn queue_deletion(state: &Scheduler, raw: &str) -> Result<Response<Body>, Error> {
    let vid = VideoId::parse(raw)?;
    let mut conn = state.pool.get_conn().await?;
    // The job would refuse to delete the files of a listed video and retry until it gives up;
    // saying so now is more useful. (Racing a concurrent api deletion is fine either way.)
    if crate::store::videos::state(&mut conn, vid.as_str())
        .await?
        .is_some()
    {
        return Err(Error::Conflict(format!(
            "video {} still exists; delete it through the api first",
            vid.as_str()
        )));
    }
    svc::jobs::enqueue(&mut conn, svc::jobs::DELETE_VIDEO, vid.as_str()).await?;
    let record = jobs::delete_record(&mut conn, vid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound("the deletion record vanished; try again".into()))?;
    // Wake the dispatcher so a deletion queued here starts now rather than next tick.
    if let Some(runner) = &state.runner {
        runner.wake();
    }
    Ok(json(StatusCode::ACCEPTED, &record))
}

async fn read_record(state: &Scheduler, raw: &str) -> Result<Response<Body>, Error> {
    let vid = VideoId::parse(raw)?;
    let mut conn = state.pool.get_conn().await?;
    match jobs::delete_record(&mut conn, vid.as_str()).await? {
        Some(record) => Ok(json(StatusCode::OK, &record)),
        None => Err(Error::NotFound(format!(
            "no deletion was ever queued for video {}",
            vid.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_ids_must_be_uuids_and_are_normalised() {
        let id = VideoId::parse("0B7E2F3A-5C1D-4E6F-8A9B-0C1D2E3F4A5B").unwrap();
        assert_eq!(id.as_str(), "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b");
        for bad in [
            "",
            "abc",
            "../etc/passwd",
            "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5",
        ] {
            assert!(VideoId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
