//! Playback: `GET|HEAD /videos/{vid}` with RFC 9110 byte serving, and `GET|HEAD
//! /thumbnails/{vid}`.
//!
//! The file is opened once per request and every byte and the size come from that handle, so a
//! concurrent replacement by the scheduler (faststart remux, atomic rename) can never mix two
//! files in one response. The ETag is the SHA-256 the database holds for the file, and is only
//! sent when the database's size matches the opened file's; otherwise the response carries no
//! validators rather than wrong ones. Body bytes are read one chunk at a time as the client takes
//! them, so a stalled client costs at most one chunk.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{empty, Body};
use svc::storage::{keys, ByteStream, OpenObject};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::conditional::{self, Decision, Validators};
use crate::error::{Error, Result};
use crate::ingest::parse_video_id;
use crate::limits::StreamSlot;
use crate::range::{self, ByteRanges};
use crate::{store, Stream as State};

/// Playable video rows for a short time (`PLAYBACK_CACHE_TTL`, default 1 s), so a popular
/// video's range requests do not each cost a database round trip. Only playable rows are kept:
/// a new upload shows up at once, a deletion or a replaced file within the TTL (and a replaced
/// file is caught anyway by the size check below).
pub struct RowCache {
    ttl: Duration,
    rows: Mutex<HashMap<String, (Instant, store::PlaybackRow)>>,
}

/// Past this many entries the cache is emptied rather than managed: it only smooths bursts.
const CACHE_MAX: usize = 10_000;

impl RowCache {
    pub fn new(ttl: Duration) -> Self {
        RowCache {
            ttl,
            rows: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, video_id: &str) -> Option<store::PlaybackRow> {
        if self.ttl.is_zero() {
            return None;
        }
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.get(video_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, row)| row.clone())
    }

    fn put(&self, video_id: &str, row: &store::PlaybackRow) {
        if self.ttl.is_zero() {
            return;
        }
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.len() >= CACHE_MAX {
            rows.clear();
        }
        rows.insert(video_id.to_string(), (Instant::now(), row.clone()));
    }
}

/// Cross-origin players (a CDN host, another site embedding the video) may send `Range` and
/// read the byte-serving headers; the video itself is public.
fn add_cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Range, Content-Length, Accept-Ranges, ETag"),
    );
}

/// `OPTIONS /videos/{vid}`: the CORS preflight a cross-origin `Range` request triggers.
pub fn preflight() -> Response<Body> {
    let mut resp = empty(StatusCode::NO_CONTENT);
    let h = resp.headers_mut();
    add_cors(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, If-Range, If-None-Match, If-Modified-Since"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    h.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    resp
}

/// `GET|HEAD /videos/{vid}`.
pub async fn video(
    state: &State,
    req: &Request<Incoming>,
    raw_id: &str,
    client: std::net::IpAddr,
) -> Result<Response<Body>> {
    let video_id = parse_video_id(raw_id)?;
    let row = match state.rows.get(&video_id) {
        Some(row) => row,
        None => {
            let row = {
                let mut conn = state.pool.get_conn().await?;
                store::playback(&mut conn, &video_id).await?
            };
            match row {
                Some(row) if row.state == "uploaded" || row.state == "ready" => {
                    state.rows.put(&video_id, &row);
                    row
                }
                _ => return Err(Error::not_found("video")),
            }
        }
    };
    let Some(object) = state.storage.open(&keys::video(&video_id)).await? else {
        tracing::warn!(
            video_id,
            "video is playable in the database but its file is missing"
        );
        return Err(Error::not_found("video"));
    };
    let len = object.size();
    let file_secs = object
        .modified()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let validators = match (&row.sha256, row.size, row.uploaded_at) {
        // The row describes this file only if the sizes agree and the file is not newer than
        // the row's upload time: a faststart remux usually keeps the size, but its rename
        // happens before the scheduler sets the new uploaded_at. One second of slack covers
        // uploaded_at being truncated to seconds here.
        (Some(sha), Some(size), Some(at)) if size == len && file_secs <= at + 1 => Validators {
            etag: Some(format!("\"{sha}\"")),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(at.max(0) as u64)),
        },
        // The file was replaced and the row not yet updated: the database's validators would
        // describe other bytes.
        _ => Validators::default(),
    };
    let content_type = row
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let mut base = HeaderMap::new();
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    base.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, no-cache"),
    );
    add_cors(&mut base);
    if let Some(tag) = validators
        .etag
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        base.insert(header::ETAG, tag);
    }
    if let Some(at) = validators.last_modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
            base.insert(header::LAST_MODIFIED, v);
        }
    }

    let honour_range = match conditional::evaluate(req.headers(), &validators) {
        Decision::PreconditionFailed => {
            let mut resp = Error::PreconditionFailed(
                "the video changed since you fetched it (If-Match / If-Unmodified-Since)".into(),
            )
            .into_response();
            resp.headers_mut().extend(base);
            return Ok(resp);
        }
        Decision::NotModified => {
            let mut resp = empty(StatusCode::NOT_MODIFIED);
            resp.headers_mut().extend(base);
            return Ok(resp);
        }
        Decision::Serve { honour_range } => honour_range,
    };
    let ranges = match req.headers().get(header::RANGE) {
        Some(value) if honour_range => match value.to_str() {
            Ok(v) => range::parse(v, len),
            Err(_) => ByteRanges::Ignore,
        },
        _ => ByteRanges::Ignore,
    };
    let head = req.method() == Method::HEAD;
    let chunk = state.config.chunk_size;
    let (status, length, body, extra): (StatusCode, u64, Option<ByteStream>, HeaderMap) =
        match ranges {
            ByteRanges::Unsatisfiable => {
                let mut resp = Error::RangeNotSatisfiable(len).into_response();
                resp.headers_mut().extend(base);
                return Ok(resp);
            }
            ByteRanges::Ignore => {
                let mut extra = HeaderMap::new();
                extra.insert(header::CONTENT_TYPE, header_value(content_type));
                (
                    StatusCode::OK,
                    len,
                    Some(object.read_range(0..len, chunk)),
                    extra,
                )
            }
            ByteRanges::Ranges(ranges) if ranges.len() == 1 => {
                let r = ranges[0].clone();
                let mut extra = HeaderMap::new();
                extra.insert(header::CONTENT_TYPE, header_value(content_type));
                extra.insert(header::CONTENT_RANGE, header_value(&content_range(&r, len)));
                let n = r.end - r.start;
                (
                    StatusCode::PARTIAL_CONTENT,
                    n,
                    Some(object.read_range(r, chunk)),
                    extra,
                )
            }
            ByteRanges::Ranges(ranges) => {
                let (n, body, ctype) = multipart(&*object, &ranges, content_type, chunk);
                let mut extra = HeaderMap::new();
                extra.insert(header::CONTENT_TYPE, header_value(&ctype));
                (StatusCode::PARTIAL_CONTENT, n, Some(body), extra)
            }
        };
    let body = match body {
        Some(body) if !head => Some(paced(
            body,
            state.limits.stream_slot(client)?,
            state.config.read_ahead,
        )),
        _ => None,
    };
    let mut resp = match body {
        Some(body) => svc::http::stream(status, body),
        None => empty(status),
    };
    let h = resp.headers_mut();
    h.extend(base);
    h.extend(extra);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(resp)
}

/// The body stream, holding the stream slot until it ends or is dropped, counting bytes, and
/// pacing reads by the socket: each chunk carries a permit of a per-stream semaphore of
/// `window` permits (`STREAM_READ_AHEAD`) and gives it back only when hyper drops the chunk,
/// i.e. once it has been written to the socket. hyper would otherwise poll the body until its
/// own write queue holds ~400 KiB, which a stalled client would pin; this way it pins at most
/// `window` chunks.
fn paced(body: ByteStream, slot: StreamSlot, window: usize) -> ByteStream {
    let window = Arc::new(Semaphore::new(window));
    Box::pin(stream::unfold(
        (body, window, slot),
        |(mut body, window, slot)| async move {
            let permit = window.clone().acquire_owned().await.ok()?;
            let item = body.next().await?.map(|bytes| {
                metrics::counter!("stream_bytes_served_total").increment(bytes.len() as u64);
                Bytes::from_owner(Paced {
                    bytes,
                    _permit: permit,
                })
            });
            Some((item, (body, window, slot)))
        },
    ))
}

/// A chunk and the window permit it holds until dropped.
struct Paced {
    bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Paced {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

fn content_range(r: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", r.start, r.end - 1)
}

/// A `multipart/byteranges` body (RFC 9110 section 14.6): its length, its stream and its
/// content type with the boundary.
fn multipart(
    object: &dyn OpenObject,
    ranges: &[Range<u64>],
    content_type: &str,
    chunk: usize,
) -> (u64, ByteStream, String) {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let len = object.size();
    let mut parts: Vec<ByteStream> = Vec::new();
    let mut total = 0u64;
    for (i, r) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            content_range(r, len)
        );
        total += head.len() as u64 + (r.end - r.start);
        parts.push(Box::pin(stream::once(async move { Ok(Bytes::from(head)) })));
        parts.push(object.read_range(r.clone(), chunk));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    total += tail.len() as u64;
    parts.push(Box::pin(stream::once(async move { Ok(Bytes::from(tail)) })));
    (
        total,
        Box::pin(stream::iter(parts).flatten()),
        format!("multipart/byteranges; boundary={boundary}"),
    )
}

/// `GET|HEAD /thumbnails/{vid}`: the JPEG processing made, 404 until it exists.
pub async fn thumbnail(
    state: &State,
    req: &Request<Incoming>,
    raw_id: &str,
) -> Result<Response<Body>> {
    let video_id = parse_video_id(raw_id)?;
    let Some(object) = state.storage.open(&keys::thumbnail(&video_id)).await? else {
        return Err(Error::not_found("thumbnail"));
    };
    let len = object.size();
    let modified = conditional::whole_seconds(object.modified());
    let stamp = object
        .modified()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Thumbnails are replaced by rename, so size and modification time identify the bytes.
    let validators = Validators {
        etag: Some(format!("\"{len:x}-{stamp:x}\"")),
        last_modified: Some(modified),
    };
    let mut base = HeaderMap::new();
    base.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    base.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Some(tag) = validators.etag.as_deref() {
        base.insert(header::ETAG, header_value(tag));
    }
    base.insert(
        header::LAST_MODIFIED,
        header_value(&httpdate::fmt_http_date(modified)),
    );
    let mut resp = match conditional::evaluate(req.headers(), &validators) {
        Decision::NotModified => empty(StatusCode::NOT_MODIFIED),
        Decision::PreconditionFailed => {
            Error::PreconditionFailed("the thumbnail changed".into()).into_response()
        }
        Decision::Serve { .. } => {
            let mut resp = if req.method() == Method::HEAD {
                empty(StatusCode::OK)
            } else {
                svc::http::stream(StatusCode::OK, object.read_range(0..len, 64 * 1024))
            };
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            resp
        }
    };
    resp.headers_mut().extend(base);
    Ok(resp)
}
