//! Resumable uploads, tus 1.0.0 (<https://tus.io/protocols/resumable-upload>) under `/files/`:
//! core, creation, creation-with-upload, termination, expiration and checksum (sha256).
//!
//! The `uploads` row holds the tus state; the bytes are the storage append object
//! `uploads/<id>`, appended and made durable per PATCH before it is answered. On the local
//! backend the file is the truth for the offset: a server killed mid-PATCH comes back with
//! whatever reached the disk, and HEAD reconciles the row with the file. On S3 the bytes are a
//! multipart upload plus a tail object, and the storage token that describes them is recorded in
//! the row with the offset, in one UPDATE that only succeeds if the row still holds the token
//! the PATCH started from: any streamserver can take the upload up after the last acknowledged
//! PATCH, and of two PATCHes racing on two nodes only one is recorded (the other gets 409).
//! The type is checked as soon as the upload's first bytes are in (`ingest::sniff`), so a file
//! that is not a video is refused, and removed, at the PATCH that brings them, not after the
//! whole file. Completion seals the object, hashes it once and publishes it by rename (a copy
//! on S3), in the same transaction as a plain upload (`ingest::publish`).

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use futures_util::{Stream, StreamExt};
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{empty, Body};
use svc::storage::{keys, AppendObject, Token};
use svc::VideoId;

use crate::error::{Error, Result};
use crate::ingest::{self, FileFacts, Intake, Sink, Sniff, Source, Stop, Uploader};
use crate::state::Stream as State;
use crate::store;

pub const VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";

/// How much more of a PATCH body is read, and thrown away, after its upload was refused for not
/// being a video. The client is still sending it, and HTTP/1.1 clients commonly look at the
/// answer only once the whole body is sent: answering and closing at once would fail their
/// write with a broken pipe, a network error (which tus clients retry) instead of the 415.
/// This covers the chunks tus clients send (2 MiB from the site's page); a longer body is cut
/// off at this point, so a refusal costs at most one chunk of this size.
const DRAIN_LIMIT: u64 = 16 << 20;

/// Adds `Tus-Resumable` to every response under `/files/` (tus 1.0.0 section "Tus-Resumable":
/// MUST be included in every response except OPTIONS, where it is harmless).
pub fn finish(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    resp
}

/// Whether a request speaks the version this server does. Requests other than OPTIONS must
/// (tus 1.0.0, "Tus-Resumable").
pub fn speaks_version(headers: &HeaderMap) -> bool {
    headers.get("tus-resumable").and_then(|v| v.to_str().ok()) == Some(VERSION)
}

/// 412 with `Tus-Version` for a request that does not speak [`VERSION`].
pub fn version_mismatch(headers: &HeaderMap) -> Response<Body> {
    let sent = headers.get("tus-resumable").and_then(|v| v.to_str().ok());
    let mut resp = Error::PreconditionFailed(format!(
        "unsupported Tus-Resumable {:?}; this server speaks tus {VERSION}",
        sent.unwrap_or("(missing)")
    ))
    .into_response();
    resp.headers_mut()
        .insert("tus-version", HeaderValue::from_static(VERSION));
    resp
}

/// `OPTIONS /files/` and `/files/{id}`: what this server supports, which is also the CORS
/// preflight of the route's `methods` (`routes::dispatch` adds the site's grant).
pub fn options(state: &State, methods: &[http::Method]) -> Response<Body> {
    let mut resp = crate::cors::preflight(methods);
    let h = resp.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(VERSION));
    h.insert("tus-extension", HeaderValue::from_static(EXTENSIONS));
    h.insert(
        "tus-max-size",
        HeaderValue::from(state.config.max_upload_size),
    );
    h.insert("tus-checksum-algorithm", HeaderValue::from_static("sha256"));
    resp
}

/// The `Upload-Metadata` pairs: comma-separated `key base64(value)`, value optional.
pub fn parse_metadata(raw: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or_default().to_string();
        let value = match parts.next() {
            None => None,
            Some(encoded) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| format!("Upload-Metadata value of {key:?} is not base64"))?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| format!("Upload-Metadata value of {key:?} is not UTF-8"))?,
                )
            }
        };
        if parts.next().is_some() {
            return Err(format!(
                "Upload-Metadata pair {pair:?} has more than two parts"
            ));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// `Upload-Checksum: sha256 <base64 digest>` (tus checksum extension).
pub fn parse_checksum(raw: &str) -> Result<Vec<u8>> {
    let (algorithm, digest) = raw.trim().split_once(' ').ok_or_else(|| {
        Error::BadRequest("Upload-Checksum must be `<algorithm> <base64>`".into())
    })?;
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(Error::BadRequest(format!(
            "checksum algorithm {algorithm:?} is not supported; use sha256"
        )));
    }
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| Error::BadRequest("Upload-Checksum digest is not base64".into()))?;
    if digest.len() != 32 {
        return Err(Error::BadRequest(
            "Upload-Checksum sha256 digest must be 32 bytes".into(),
        ));
    }
    Ok(digest)
}

fn expires_header(resp: &mut Response<Body>, expires_at: i64) {
    let at = UNIX_EPOCH + Duration::from_secs(expires_at.max(0) as u64);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
        resp.headers_mut().insert("upload-expires", v);
    }
}

fn has_offset_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_CONTENT_TYPE))
}

/// `POST /files/`: creates an upload (and takes its first bytes with creation-with-upload).
pub async fn create(state: &State, req: Request<Incoming>) -> Result<Response<Body>> {
    // A session is checked before the headers, as always; an upload token needs the video.
    let uploader = Uploader::from_request(state, req.headers()).await?;
    let creation = Creation::from_headers(req.headers(), state.config.max_upload_size)?;
    let user = uploader.user_for(state, &creation.video_id)?;
    ingest::check_uploadable(state, user, &creation.video_id).await?;
    let upload_id = start_upload(state, user, &creation).await?;
    let row = check(find(state, &upload_id).await?, user)?;
    let mut resp = if has_offset_body(req.headers()) {
        append(state, req, row, Some(0)).await?
    } else {
        let mut resp = empty(StatusCode::CREATED);
        expires_header(&mut resp, row.expires_at);
        resp
    };
    *resp.status_mut() = StatusCode::CREATED;
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/files/{upload_id}"))
            .map_err(|e| Error::Io(std::io::Error::other(e)))?,
    );
    Ok(resp)
}

/// What a creation request asks for.
struct Creation {
    /// `Upload-Length`.
    length: u64,
    /// `Upload-Metadata` as sent, echoed by HEAD.
    raw_metadata: String,
    /// The `video_id` pair of the metadata.
    video_id: VideoId,
}

impl Creation {
    /// The creation headers, checked against `limit` (`MAX_UPLOAD_SIZE`).
    fn from_headers(headers: &HeaderMap, limit: u64) -> Result<Self> {
        if headers.contains_key("upload-defer-length") {
            return Err(Error::BadRequest(
                "Upload-Defer-Length is not supported; send Upload-Length".into(),
            ));
        }
        let length = ingest::number(headers, "upload-length")?
            .ok_or_else(|| Error::BadRequest("Upload-Length is required".into()))?;
        if length > limit {
            return Err(ingest::too_large(limit));
        }
        if length == 0 {
            return Err(ingest::not_a_video());
        }
        let raw_metadata = headers
            .get("upload-metadata")
            .map(|v| v.to_str().map(str::to_owned))
            .transpose()
            .map_err(|_| Error::BadRequest("Upload-Metadata is not ASCII".into()))?
            .unwrap_or_default();
        let metadata = parse_metadata(&raw_metadata).map_err(Error::BadRequest)?;
        let video_id = metadata
            .into_iter()
            .find(|(k, _)| k == "video_id")
            .and_then(|(_, v)| v)
            .ok_or_else(|| {
                Error::BadRequest(
                    "Upload-Metadata must carry video_id (base64 of the video's id)".into(),
                )
            })?;
        Ok(Creation {
            length,
            raw_metadata,
            video_id: ingest::video_id(&video_id)?,
        })
    }
}

/// Creates the upload's empty append object, then its row; returns its id.
async fn start_upload(state: &State, user: u32, creation: &Creation) -> Result<String> {
    let upload_id = uuid::Uuid::new_v4().to_string();
    // The bytes first: a crash before the row leaves an orphan (a file the reconciler removes,
    // a multipart upload the scheduler's sweep aborts), never a row pointing at nothing.
    let token = state
        .storage
        .create_append(&keys::upload(&upload_id))
        .await?;
    let mut conn = state.pool.get_conn().await?;
    let upload = store::NewUpload {
        id: &upload_id,
        video_id: &creation.video_id,
        user_id: user,
        length: creation.length,
        metadata: &creation.raw_metadata,
        token: token.as_deref(),
    };
    store::insert_upload(&mut conn, upload, state.config.tus_expiry.as_secs()).await?;
    let (video_id, length) = (&creation.video_id, creation.length);
    tracing::info!(upload_id, %video_id, length, "resumable upload created");
    Ok(upload_id)
}

/// An upload id from the path, in the hyphenated form `uploads.id` holds. Unlike a video id
/// (`svc::VideoId`, one spelling only), any spelling of the UUID is accepted, as it always was
/// for the URLs tus clients store to resume.
fn upload_id(raw: &str) -> Option<String> {
    uuid::Uuid::parse_str(raw)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The upload's row, checked for the request's credential: a session's (401) or an upload
/// token for the upload's video (403), the upload exists (404), belongs to the user (403) and
/// has not expired (410).
async fn load(state: &State, raw_id: &str, headers: &HeaderMap) -> Result<store::UploadRow> {
    let uploader = Uploader::from_request(state, headers).await?;
    let row = find(state, raw_id).await?;
    let user = uploader.user_for(state, &row.video_id)?;
    check(row, user)
}

/// The upload's row, or 404.
async fn find(state: &State, raw_id: &str) -> Result<store::UploadRow> {
    let id = upload_id(raw_id).ok_or_else(|| Error::not_found("upload"))?;
    let mut conn = state.pool.get_conn().await?;
    store::upload(&mut conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("upload"))
}

/// `row` if it belongs to `user` (403) and has not expired (410).
fn check(row: store::UploadRow, user: u32) -> Result<store::UploadRow> {
    if row.user_id != user {
        return Err(Error::Forbidden);
    }
    if row.expired && !row.completed {
        return Err(Error::Gone);
    }
    Ok(row)
}

/// `HEAD /files/{id}`: the durable offset, reconciled with the stored bytes.
pub async fn head(state: &State, req: Request<Incoming>, raw_id: &str) -> Result<Response<Body>> {
    let row = load(state, raw_id, req.headers()).await?;
    let offset = durable_offset(state, &row).await?;
    let mut resp = empty(StatusCode::OK);
    let h = resp.headers_mut();
    h.insert("upload-offset", HeaderValue::from(offset));
    h.insert("upload-length", HeaderValue::from(row.length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(meta) = row
        .metadata
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        h.insert("upload-metadata", meta);
    }
    expires_header(&mut resp, row.expires_at);
    Ok(resp)
}

/// The upload's offset: its length once complete, else the stored bytes', recorded in the row
/// when the row lags behind.
async fn durable_offset(state: &State, row: &store::UploadRow) -> Result<u64> {
    if row.completed {
        return Ok(row.length);
    }
    let token = row.storage_token.as_deref();
    let stored = state
        .storage
        .open_append(&keys::upload(&row.id), token)
        .await?
        .ok_or_else(|| Error::not_found("upload"))?
        .len();
    let offset = stored.min(row.length);
    if offset != row.offset {
        // After a crash the local file can be ahead of the row (the fsync happened, the
        // UPDATE did not): the disk wins. (An S3 token is recorded with its offset.)
        let mut conn = state.pool.get_conn().await?;
        let expiry = state.config.tus_expiry.as_secs();
        let progress = store::Progress { offset, token };
        store::record_offset(&mut conn, &row.id, progress, token, expiry).await?;
    }
    Ok(offset)
}

/// `PATCH /files/{id}`: appends the body at `Upload-Offset`.
pub async fn patch(state: &State, req: Request<Incoming>, raw_id: &str) -> Result<Response<Body>> {
    if !has_offset_body(req.headers()) {
        return Err(Error::Unsupported(format!(
            "PATCH needs Content-Type: {OFFSET_CONTENT_TYPE}"
        )));
    }
    let row = load(state, raw_id, req.headers()).await?;
    append(state, req, row, None).await
}

/// Appends a request body to an upload: the shared part of PATCH and creation-with-upload
/// (whose offset is implicitly 0, as the creation-with-upload extension has no Upload-Offset).
async fn append(
    state: &State,
    req: Request<Incoming>,
    row: store::UploadRow,
    implicit_offset: Option<u64>,
) -> Result<Response<Body>> {
    let claimed = match (
        ingest::number(req.headers(), "upload-offset")?,
        implicit_offset,
    ) {
        (Some(claimed), _) | (None, Some(claimed)) => claimed,
        (None, None) => return Err(Error::BadRequest("Upload-Offset is required".into())),
    };
    let checksum = checksum(req.headers())?;
    if row.completed {
        return Err(Error::Conflict("this upload is already complete".into()));
    }
    ingest::check_uploadable(state, row.user_id, &row.video_id).await?;
    let _lock = state.locks.try_lock(&row.video_id)?;
    let _slot = state.limits.upload_slot()?;
    let file = open_at(state, &row, claimed, req.headers()).await?;
    let body = ingest::body_bytes(req, state.config.upload_idle_timeout);
    let (offset, token) = write_chunk(state, &row, file, checksum.as_deref(), body).await?;
    if offset == row.length {
        complete(state, &row, token.as_deref()).await?;
    }
    let refreshed = {
        let mut conn = state.pool.get_conn().await?;
        store::upload(&mut conn, &row.id).await?
    };
    let mut resp = empty(StatusCode::NO_CONTENT);
    resp.headers_mut()
        .insert("upload-offset", HeaderValue::from(offset));
    if let Some(r) = refreshed {
        expires_header(&mut resp, r.expires_at);
    }
    Ok(resp)
}

/// The digest `Upload-Checksum` promises for this chunk, if the client sent one.
fn checksum(headers: &HeaderMap) -> Result<Option<Vec<u8>>> {
    headers
        .get("upload-checksum")
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::BadRequest("Upload-Checksum is not ASCII".into()))
                .and_then(parse_checksum)
        })
        .transpose()
}

/// The upload's bytes opened for appending, checked to end at the `claimed` offset (409) and
/// to have room for the announced `Content-Length` (413).
async fn open_at(
    state: &State,
    row: &store::UploadRow,
    claimed: u64,
    headers: &HeaderMap,
) -> Result<Box<dyn AppendObject>> {
    let file = state
        .storage
        .open_append(&keys::upload(&row.id), row.storage_token.as_deref())
        .await?
        .ok_or_else(|| Error::not_found("upload"))?;
    let start = file.len();
    if claimed != start {
        return Err(Error::Conflict(format!(
            "Upload-Offset {claimed} does not match the upload's offset {start}; ask with HEAD and resume from there"
        )));
    }
    if let Some(len) = ingest::number(headers, "content-length")? {
        if start + len > row.length {
            return Err(Error::TooLarge(format!(
                "this chunk would take the upload past its Upload-Length of {} bytes",
                row.length
            )));
        }
    }
    Ok(file)
}

/// Streams `body` onto the end of `file` (through `ingest::stream_body`), makes it durable and
/// records the new offset and storage token, which it returns. tus 1.0.0 PATCH: the server
/// SHOULD keep what it received when the connection breaks, so the client can resume after it;
/// a checksummed chunk is all or nothing instead, rolled back unless it arrived whole and
/// matches. The chunk that completes the upload's first bytes has them checked first: if they
/// are not a video the upload is removed (415).
async fn write_chunk<S>(
    state: &State,
    row: &store::UploadRow,
    mut file: Box<dyn AppendObject>,
    checksum: Option<&[u8]>,
    body: S,
) -> Result<(u64, Token)>
where
    S: Stream<Item = std::io::Result<bytes::Bytes>>,
{
    let mut body = std::pin::pin!(body);
    let start = file.len();
    let intake = Intake {
        room: row.length.saturating_sub(start),
        hash: checksum.is_some(),
        sniff: sniff_from(&mut *file, start).await?,
    };
    let taken = ingest::stream_body(body.as_mut(), Sink::Append(&mut *file), intake).await?;
    let failure = match taken.stop {
        None => None,
        Some(Stop::NotAVideo) => {
            drop(file);
            return Err(refuse(state, row, body).await);
        }
        Some(Stop::TooLarge) => Some(Error::TooLarge(format!(
            "more bytes than the Upload-Length of {} bytes",
            row.length
        ))),
        Some(Stop::BrokeOff(e)) => {
            Some(Error::BadRequest(format!("the upload body broke off: {e}")))
        }
    };
    if let (Some(expected), Some(actual)) = (checksum, taken.fingerprint.sha256()) {
        if failure.is_some() || actual.as_slice() != expected {
            file.rollback().await?;
            return Err(failure.unwrap_or(Error::ChecksumMismatch));
        }
    }
    let token = file.sync().await?;
    let offset = file.len();
    let recorded = {
        let mut conn = state.pool.get_conn().await?;
        let expiry = state.config.tus_expiry.as_secs();
        let progress = store::Progress {
            offset,
            token: token.as_deref(),
        };
        let previous = row.storage_token.as_deref();
        store::record_offset(&mut conn, &row.id, progress, previous, expiry).await?
    };
    if !recorded {
        return Err(Error::Conflict(
            "another request appended to this upload meanwhile; ask with HEAD and resume from its offset"
                .into(),
        ));
    }
    if let Err(e) = file.committed().await {
        // The append is recorded; what is left is a stale tail, removed with the upload.
        tracing::warn!(upload_id = %row.id, error = %e, "could not remove the previous tail");
    }
    failure.map_or(Ok((offset, token)), Err)
}

/// Whether a chunk appended at `start` has the upload's type to check: only while the upload is
/// within its first bytes, which the chunk may complete; those already stored are read back
/// (at most `ingest::SNIFF_LEN` bytes) so the whole head is judged, whichever PATCH brought it.
async fn sniff_from(file: &mut dyn AppendObject, start: u64) -> Result<Sniff> {
    if start >= ingest::SNIFF_LEN as u64 {
        return Ok(Sniff::Off);
    }
    let before = if start == 0 {
        Vec::new()
    } else {
        file.head(start as usize).await?
    };
    Ok(Sniff::On { before })
}

/// The upload's first bytes are not a video: nothing can come of it, so it is removed (bytes
/// and row; the video stays `pending`, ready for another file), and the rest of the refused
/// body is read and dropped (up to [`DRAIN_LIMIT`]) so that the client gets to read the 415.
async fn refuse<S>(state: &State, row: &store::UploadRow, body: std::pin::Pin<&mut S>) -> Error
where
    S: Stream<Item = std::io::Result<bytes::Bytes>>,
{
    if let Err(e) = remove(state, row, row.storage_token.as_deref()).await {
        return e;
    }
    let (upload_id, video_id) = (&row.id, &row.video_id);
    tracing::info!(upload_id, %video_id, "resumable upload refused and removed: not a video");
    drain(body, DRAIN_LIMIT).await;
    ingest::not_a_video()
}

/// Reads and drops what is left of `body`, at most about `limit` bytes of it.
async fn drain<S>(mut body: std::pin::Pin<&mut S>, limit: u64)
where
    S: Stream<Item = std::io::Result<bytes::Bytes>>,
{
    let mut read: u64 = 0;
    while read < limit {
        match body.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            None | Some(Err(_)) => break,
        }
    }
}

/// Removes an unfinished upload: its bytes (as `token` describes them), then its row (a crash
/// in between leaves a row whose HEAD is 404, which the scheduler sweeps once it expires).
async fn remove(state: &State, row: &store::UploadRow, token: Option<&str>) -> Result<()> {
    let key = keys::upload(&row.id);
    state.storage.discard_append(&key, token).await?;
    let mut conn = state.pool.get_conn().await?;
    store::delete_upload(&mut conn, &row.id).await?;
    Ok(())
}

/// All bytes are in: seal the object (as `token` describes it), check the type (again, or for
/// the first time for an upload shorter than the sniffed head), hash once, publish by rename
/// with the `filename` the client gave at creation as the original's name.
async fn complete(state: &State, row: &store::UploadRow, token: Option<&str>) -> Result<()> {
    let key = keys::upload(&row.id);
    state.storage.finish_append(&key, token).await?;
    let (sha256, head, size) = ingest::hash_object(state, &key).await?;
    let Some(kind) = ingest::sniff(&head) else {
        // Nothing can come of these bytes: remove them and the upload.
        remove(state, row, token).await?;
        return Err(ingest::not_a_video());
    };
    let facts = FileFacts {
        size,
        sha256,
        kind,
        original_name: filename(row.metadata.as_deref()),
    };
    ingest::publish(state, &row.video_id, Source::Upload(row.id.clone()), &facts).await
}

/// The `filename` of an upload's `Upload-Metadata` (checked when the upload was created),
/// cleaned by `ingest::original_name`.
fn filename(metadata: Option<&str>) -> Option<String> {
    parse_metadata(metadata?)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == "filename")
        .and_then(|(_, value)| value)
        .and_then(|name| ingest::original_name(&name))
}

/// `DELETE /files/{id}` (termination): the bytes and the row go.
pub async fn terminate(
    state: &State,
    req: Request<Incoming>,
    raw_id: &str,
) -> Result<Response<Body>> {
    let row = load(state, raw_id, req.headers()).await?;
    let _lock = state.locks.try_lock(&row.video_id)?;
    if !row.completed {
        let token = row.storage_token.as_deref();
        state
            .storage
            .discard_append(&keys::upload(&row.id), token)
            .await?;
    }
    let mut conn = state.pool.get_conn().await?;
    store::delete_upload(&mut conn, &row.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn metadata_pairs() {
        let m = parse_metadata("video_id YWJj,filename ZS5tcDQ=, empty").unwrap();
        assert_eq!(
            m,
            vec![
                ("video_id".into(), Some("abc".into())),
                ("filename".into(), Some("e.mp4".into())),
                ("empty".into(), None),
            ]
        );
        assert_eq!(parse_metadata("").unwrap(), vec![]);
        assert!(parse_metadata("k !!!").is_err());
        assert!(parse_metadata("k YWJj extra").is_err());
    }

    #[test]
    fn checksum_header() {
        let digest = Sha256::digest(b"hello");
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(
            parse_checksum(&format!("sha256 {b64}")).unwrap(),
            digest.to_vec()
        );
        assert!(parse_checksum(&format!("md5 {b64}")).is_err());
        assert!(parse_checksum("sha256").is_err());
        assert!(parse_checksum("sha256 YWJj").is_err());
    }
}
