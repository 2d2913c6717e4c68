//! Plain uploads: `PUT /upload/{vid}` with the raw file as the body, and `POST /upload/{vid}`
//! with a `multipart/form-data` body whose `file` field holds it (the original's form).
//!
//! The uploader is a session's user or the holder of an upload token for this video
//! (`ingest::Credential`). Both stream the body into a staged object through `ingest::receive` (memory stays flat
//! whatever the size), then hand over to `ingest::publish`. Any failure drops the staged object,
//! which deletes it.

use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::Body;
use svc::{VideoId, VideoState};

use crate::error::{Error, Result};
use crate::ingest::{self, Received, Source};
use crate::state::Stream as State;

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// `PUT /upload/{vid}` (raw body) or `POST /upload/{vid}` (multipart).
pub async fn upload(
    state: &State,
    req: Request<Incoming>,
    video_id: VideoId,
) -> Result<Response<Body>> {
    let user = ingest::authenticate(state, req.headers(), &video_id).await?;
    ingest::check_uploadable(state, user, &video_id).await?;
    let limit = state.config.max_upload_size;
    let multipart = req.method() == Method::POST;
    // Refuse an announced oversize body before reading a byte of it.
    let slack = if multipart { MULTIPART_SLACK } else { 0 };
    if ingest::number(req.headers(), "content-length")?.is_some_and(|len| len > limit + slack) {
        return Err(ingest::too_large(limit));
    }
    let _slot = state.limits.upload_slot()?;
    let _lock = state.locks.try_lock(&video_id)?;
    let received = if multipart {
        receive_form(state, req, &video_id, limit).await?
    } else {
        let body = ingest::body_bytes(req, state.config.upload_idle_timeout);
        ingest::receive(state, &video_id, body, limit).await?
    };
    let Received { staged, facts } = received;
    ingest::publish(state, &video_id, Source::Staged(staged), &facts).await?;
    Ok(svc::http::json(
        StatusCode::CREATED,
        &serde_json::json!({
            "id": video_id.as_str(),
            "size": facts.size,
            "sha256": facts.sha256,
            "content_type": facts.kind.content_type,
            "state": VideoState::Uploaded.as_str(),
        }),
    ))
}

/// The `file` field of a `multipart/form-data` body, received like a raw body, with the part's
/// filename as the original's name; fields before it are skipped.
async fn receive_form(
    state: &State,
    req: Request<Incoming>,
    video_id: &VideoId,
    limit: u64,
) -> Result<Received> {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            Error::Unsupported(
                "POST needs a multipart/form-data body with a `file` field (or use PUT with the raw file)"
                    .to_string(),
            )
        })?;
    let body = ingest::body_bytes(req, state.config.upload_idle_timeout);
    let mut form = multer::Multipart::new(body, boundary);
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| Error::BadRequest(format!("the multipart body could not be read: {e}")))?;
        match field {
            Some(field) if field.name() == Some("file") => {
                let name = field.file_name().and_then(ingest::original_name);
                let mut received = ingest::receive(state, video_id, field, limit).await?;
                received.facts.original_name = name;
                return Ok(received);
            }
            Some(_) => continue,
            None => {
                return Err(Error::BadRequest(
                    "the form has no `file` field holding the video".to_string(),
                ))
            }
        }
    }
}
