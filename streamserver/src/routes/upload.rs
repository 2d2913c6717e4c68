//! Plain uploads: `PUT /upload/{vid}` with the raw file as the body, and `POST /upload/{vid}`
//! with a `multipart/form-data` body whose `file` field holds it (the original's form).
//!
//! Both stream the body into a staged object (memory stays flat whatever the size), then hand
//! over to `ingest::publish`. Any failure drops the staged object, which deletes it.

use futures_util::TryStreamExt;
use http::{header, Request, Response, StatusCode};
use http_body_util::BodyStream;
use hyper::body::Incoming;
use svc::http::Body;

use crate::error::{Error, Result};
use crate::ingest::{self, Source};
use crate::Stream as State;

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// `PUT /upload/{vid}` (raw body) or `POST /upload/{vid}` (multipart).
pub async fn upload(state: &State, req: Request<Incoming>, raw_id: &str) -> Result<Response<Body>> {
    let video_id = ingest::parse_video_id(raw_id)?;
    let user = ingest::authenticate(state, req.headers()).await?;
    ingest::check_uploadable(state, user, &video_id).await?;
    let limit = state.config.max_upload_size;
    let multipart = req.method() == http::Method::POST;
    // Refuse an announced oversize body before reading a byte of it.
    let slack = if multipart { MULTIPART_SLACK } else { 0 };
    if let Some(len) = content_length(req.headers())? {
        if len > limit + slack {
            metrics::counter!("stream_rejections_total", "reason" => "too_large").increment(1);
            return Err(ingest::too_large(limit));
        }
    }
    let _slot = state.limits.upload_slot()?;
    let _lock = state.locks.try_lock(&video_id)?;

    let received = if multipart {
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
        let body = BodyStream::new(req.into_body())
            .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) });
        let mut form = multer::Multipart::new(body, boundary);
        loop {
            let field = form.next_field().await.map_err(|e| {
                Error::BadRequest(format!("the multipart body could not be read: {e}"))
            })?;
            match field {
                Some(field) if field.name() == Some("file") => {
                    break ingest::receive(state, field, limit).await?;
                }
                Some(_) => continue,
                None => {
                    return Err(Error::BadRequest(
                        "the form has no `file` field holding the video".to_string(),
                    ))
                }
            }
        }
    } else {
        let body = BodyStream::new(req.into_body())
            .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) });
        ingest::receive(state, body, limit).await?
    };
    if received.size == 0 {
        return Err(ingest::not_a_video());
    }
    let ingest::Received {
        staged,
        size,
        sha256,
        content_type,
    } = received;
    ingest::publish(
        state,
        &video_id,
        Source::Staged(staged),
        size,
        content_type,
        &sha256,
    )
    .await?;
    Ok(svc::http::json(
        StatusCode::CREATED,
        &serde_json::json!({
            "id": video_id,
            "size": size,
            "sha256": sha256,
            "content_type": content_type,
            "state": "uploaded",
        }),
    ))
}

fn content_length(headers: &http::HeaderMap) -> Result<Option<u64>> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Error::BadRequest("Content-Length is not a number".to_string())),
    }
}
