//! Playback: RFC 9110 byte serving ([`serve`], the one path every byte of a video's files takes
//! to a viewer), `GET|HEAD /videos/{vid}` (the progressive file) and `GET|HEAD
//! /thumbnails/{vid}`. The other files of a video (HLS ladder, storyboard, the original) are
//! chosen in `routes::renditions` and served here too.
//!
//! The file is opened once per request (or a handle opened for an earlier request in the last
//! 250 ms is reused, `LocalStorage::reuse_opened`) and every byte and the size come from that
//! handle, so a concurrent replacement by the scheduler (faststart remux, atomic rename) can
//! never mix two files in one response. The progressive file's ETag is the SHA-256 the database holds for it,
//! and is only sent when the database's size matches the opened file's; otherwise the response
//! carries no validators rather than wrong ones. Files without a hash in the database get a
//! strong ETag from the opened object's size and modification time ([`file_validators`]). Body
//! bytes are read one chunk at a time as the client takes them, so a stalled client costs at
//! most one chunk.
//!
//! Who may have the bytes is `access`'s decision, taken on the video's row before any file is
//! opened; its [`Audience`] decides the caching and CORS headers of every answer (304, 412 and
//! 416 included).
//!
//! With `PLAYBACK_REDIRECT=presigned` (S3 storage), a GET of a file anyone may see is answered
//! with a 307 to a short-lived presigned URL instead ([`redirect`]): the bucket, or a CDN in
//! front of it, serves the bytes. What only the owner may see is always served here, and so is
//! HEAD (a presigned URL is good for one method).

use std::net::IpAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use svc::http::{empty, Body};
use svc::local_file::{self, LocalFile};
use svc::storage::{keys, ByteStream, OpenObject};

use crate::config::PlaybackRedirect;
use svc::VideoId;

use crate::access::{self, Audience, Granted};
use crate::conditional::{self, Decision, Validators};
use crate::error::{Error, Result};
use crate::limits::StreamSlot;
use crate::meters::meters;
use crate::range::{self, ByteRanges};
use crate::state::Stream as State;
use crate::store::{self, PlaybackRow};

/// How a route answers about a video anyone may see (the owner-only answer is always
/// `private, no-store` without CORS, see [`Audience`]).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `Cache-Control`.
    pub caching: &'static str,
    /// Whether other origins may read it (CORS `*`).
    pub cors: bool,
    /// Whether a GET body takes a stream slot (`MAX_STREAMS`, `MAX_STREAMS_PER_IP`).
    pub stream_slot: bool,
}

/// The progressive file and every other media file of a video (HLS playlists and segments, the
/// storyboard): files can be replaced by processing, and a video made private must stop playing
/// within 2 s even behind a shared cache, so caches revalidate (a cheap 304); any origin may
/// read them (players on a CDN host, embeds); each GET body holds a stream slot.
pub const MEDIA: Policy = Policy {
    caching: "public, no-cache",
    cors: true,
    stream_slot: true,
};

/// A thumbnail: cached five minutes, readable by any origin when anyone may see it (pages on
/// the site load it from the media origin with `crossorigin="anonymous"`, so no cookie goes
/// there, and such a load needs the grant), and no stream slot (a page shows dozens at once, a
/// few KiB each).
const THUMBNAIL: Policy = Policy {
    caching: "public, max-age=300",
    cors: true,
    stream_slot: false,
};

/// Cross-origin players (a CDN host, another site embedding the video) may send `Range` and
/// read the byte-serving headers of a video anyone may see. Never sent for a private video.
fn add_cors(headers: &mut HeaderMap) {
    insert_all(
        headers,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                "Content-Range, Content-Length, Accept-Ranges, ETag",
            ),
        ],
    );
}

/// `OPTIONS /videos/{vid}`: the CORS preflight a cross-origin `Range` request triggers.
pub fn preflight() -> Response<Body> {
    let mut resp = empty(StatusCode::NO_CONTENT);
    let h = resp.headers_mut();
    add_cors(h);
    insert_all(
        h,
        [
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Range, If-Range, If-None-Match, If-Modified-Since",
            ),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            (header::ALLOW, "GET, HEAD, OPTIONS"),
        ],
    );
    resp
}

fn insert_all<const N: usize>(headers: &mut HeaderMap, pairs: [(HeaderName, &'static str); N]) {
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// `GET|HEAD /videos/{vid}`.
pub async fn video(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    client: IpAddr,
    granted: Option<Granted>,
) -> Result<Response<Body>> {
    let row = playable_row(state, video_id).await?;
    let audience = access::audience(state, req.headers(), &row, granted).await?;
    let content_type = row.content_type.as_deref().unwrap_or(OCTET_STREAM);
    let key = keys::video(video_id);
    if let Some(resp) = redirect(state, req, audience, MEDIA, &key, content_type).await? {
        return Ok(resp);
    }
    let Some(object) = state.storage.open(&key).await? else {
        tracing::warn!(
            %video_id,
            "video is playable in the database but its file is missing"
        );
        return Err(Error::not_found("video"));
    };
    let served = Served {
        validators: validators(&row, &*object),
        content_type: content_type.to_string(),
        key,
        object,
        audience,
        policy: MEDIA,
        disposition: None,
    };
    serve(state, req, client, served).await
}

/// `PLAYBACK_REDIRECT=presigned`: the 307 that sends a GET of the object `key`, which anyone
/// may see, to a presigned URL answered with `content_type` and good for `PRESIGN_TTL`. `None`
/// when the bytes are served here instead: proxy mode, a HEAD, an answer for the owner only, a
/// backend without presigned URLs, or an object that does not exist (whose 404 is this
/// server's, as in proxy mode). The redirect itself is never stored by a cache: a video made
/// private must stop being handed out at once.
pub async fn redirect(
    state: &State,
    req: &Request<()>,
    audience: Audience,
    policy: Policy,
    key: &str,
    content_type: &str,
) -> Result<Option<Response<Body>>> {
    let wanted = state.config.playback_redirect == PlaybackRedirect::Presigned
        && audience == Audience::Anyone
        && req.method() == Method::GET;
    if !wanted || state.storage.stat(key).await?.is_none() {
        return Ok(None);
    }
    let ttl = state.config.presign_ttl;
    let Some(url) = state.storage.presigned_url(key, ttl, content_type).await? else {
        return Ok(None);
    };
    let location = HeaderValue::from_str(&url).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let mut resp = empty(StatusCode::TEMPORARY_REDIRECT);
    let h = resp.headers_mut();
    h.insert(header::LOCATION, location);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if policy.cors {
        add_cors(h);
    }
    metrics::counter!("stream_redirects_total").increment(1);
    Ok(Some(resp))
}

/// What a playback answer serves: one opened object and how to describe it.
pub struct Served {
    /// The object's storage key, for a local-file answer ([`svc::local_file`]).
    pub key: String,
    pub object: Arc<dyn OpenObject>,
    pub validators: Validators,
    pub content_type: String,
    /// Who the answer is for; with `policy`, decides `Cache-Control` and CORS.
    pub audience: Audience,
    pub policy: Policy,
    /// `Content-Disposition`, for a download.
    pub disposition: Option<HeaderValue>,
}

/// The one way bytes of a video's files reach a viewer: preconditions (RFC 9110 section
/// 13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, then If-Range
/// deciding whether `Range` applies), then 304, 412, 416, 200 or 206 (one part or
/// `multipart/byteranges`), every answer with the same caching, CORS and validator headers.
pub async fn serve(
    state: &State,
    req: &Request<()>,
    client: IpAddr,
    served: Served,
) -> Result<Response<Body>> {
    let honour_range = match conditional::evaluate(req.headers(), &served.validators) {
        Decision::PreconditionFailed => {
            let failed = Error::PreconditionFailed(
                "the file changed since you fetched it (If-Match / If-Unmodified-Since)".into(),
            );
            return Ok(described(failed.into_response(), &served));
        }
        Decision::NotModified => return Ok(described(empty(StatusCode::NOT_MODIFIED), &served)),
        Decision::Serve { honour_range } => honour_range,
    };
    let object = &*served.object;
    let len = object.size();
    let ranges = requested_ranges(req.headers(), honour_range, len);
    let chunk = state.config.chunk_size;
    let Some(reply) = Reply::plan(object, ranges, &served.content_type, chunk) else {
        let unsatisfiable = Error::RangeNotSatisfiable(len).into_response();
        return Ok(described(unsatisfiable, &served));
    };
    let mut resp = if req.method() == Method::HEAD {
        empty(reply.status)
    } else {
        let slot = (served.policy.stream_slot)
            .then(|| state.limits.stream_slot(client))
            .transpose()?;
        let object = &*served.object;
        let local = match &reply.range {
            Some(range) if reply.length > chunk as u64 && object.is_local_file() => Lease::of(req)
                .map(|lease| (LocalFile::of(&served.key, object, range.clone()), lease)),
            _ => None,
        };
        if let Some((file, lease)) = local {
            meters().bytes_served.increment(reply.length);
            let mut resp = svc::http::stream(reply.status, leased(lease, slot));
            let h = resp.headers_mut();
            describe(h, &served);
            h.insert(header::CONTENT_TYPE, reply.content_type);
            if let Some(part) = reply.content_range {
                h.insert(header::CONTENT_RANGE, part);
            }
            h.insert(local_file::LOCAL_FILE, file.header());
            return Ok(resp);
        }
        if reply.length <= chunk as u64 {
            let bytes = whole(reply.body, reply.length).await?;
            let mut resp = Response::new(svc::http::full(held(bytes, slot)));
            *resp.status_mut() = reply.status;
            resp
        } else {
            let body = paced(reply.body, slot, state.config.read_ahead);
            svc::http::stream(reply.status, body)
        }
    };
    let h = resp.headers_mut();
    describe(h, &served);
    h.insert(header::CONTENT_TYPE, reply.content_type);
    if let Some(part) = reply.content_range {
        h.insert(header::CONTENT_RANGE, part);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(reply.length));
    Ok(resp)
}

/// A trusted proxy's lease on a local-file answer ([`svc::local_file`]): the body of its
/// request, which it keeps open while it sends the file itself. A request extension: `routes`
/// makes it when a trusted proxy offers ([`local_file::ACCEPT`]) and puts the body in once the
/// route is known; an answer that sends a local file takes it, and `routes` holds any other
/// answer's end until the body ends ([`after_lease`]), so that the connection stays reusable.
///
/// An offer from anyone else (not a trusted proxy) gets a lease too, which no answer takes: its
/// body is read to its end all the same, and it gets the bytes.
#[derive(Clone)]
pub struct Lease {
    body: Arc<Mutex<Option<Incoming>>>,
    trusted: bool,
}

impl Lease {
    /// An empty lease; `trusted` when the offer came from a trusted proxy.
    pub fn new(trusted: bool) -> Self {
        Lease {
            body: Arc::default(),
            trusted,
        }
    }

    pub fn fill(&self, body: Incoming) {
        *self.body.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
    }

    pub fn take(&self) -> Option<Incoming> {
        self.body.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The request's lease for a local-file answer: a trusted proxy's, not yet taken.
    fn of(req: &Request<()>) -> Option<Incoming> {
        let lease = req.extensions().get::<Lease>()?;
        lease.trusted.then(|| lease.take())?
    }
}

/// `resp` (not a local-file answer) with its body sent only once the proxy has ended its
/// request body `lease`, which it does as soon as it sees the answer's head without
/// [`local_file::LOCAL_FILE`]. hyper closes a connection whose request body was not read to its
/// end, and stops polling a response body once `Content-Length` bytes are written: so the lease
/// is read first.
pub fn after_lease(resp: Response<Body>, lease: Incoming) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    let ended = leased(lease, None).map_err(Into::into);
    let frames = ended.chain(body.into_data_stream()).map_ok(Frame::data);
    Response::from_parts(parts, BodyExt::boxed_unsync(StreamBody::new(frames)))
}

/// The empty body of a local-file answer: it holds `slot` until the proxy ends its request body
/// `lease` (it has sent the file) or goes (the connection closed), ignoring what it sends.
fn leased(mut lease: Incoming, slot: Option<StreamSlot>) -> ByteStream {
    let ended = async move {
        while let Some(Ok(_)) = lease.frame().await {}
        drop(slot);
    };
    Box::pin(stream::once(ended).filter_map(|()| async { None }))
}

/// A body of at most one chunk, read before the answer starts: hyper then writes the head and
/// the bytes in one system call and never polls a stream, and a failed read is an error status
/// instead of a cut body. (HLS playlists, small segments, thumbnails and storyboard cues are
/// mostly this size.)
async fn whole(mut body: ByteStream, length: u64) -> Result<Bytes> {
    let mut bytes = match body.next().await.transpose()? {
        Some(first) if first.len() as u64 == length => return Ok(first),
        Some(first) => bytes::BytesMut::from(first),
        None => bytes::BytesMut::new(),
    };
    while let Some(more) = body.next().await.transpose()? {
        bytes.extend_from_slice(&more);
    }
    Ok(bytes.freeze())
}

/// `bytes`, counted as served, holding the stream slot (if any) until hyper has written them.
fn held(bytes: Bytes, slot: Option<StreamSlot>) -> Bytes {
    meters().bytes_served.increment(bytes.len() as u64);
    match slot {
        None => bytes,
        Some(slot) => Bytes::from_owner(Held { bytes, _slot: slot }),
    }
}

/// Bytes and the stream slot they hold until dropped.
struct Held {
    bytes: Bytes,
    _slot: StreamSlot,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

/// The video's row if it is playable, else 404.
async fn playable_row(state: &State, video_id: &VideoId) -> Result<Arc<PlaybackRow>> {
    match row(state, video_id).await? {
        Some(row) if row.is_playable() => Ok(row),
        _ => Err(Error::not_found("video")),
    }
}

/// The video's row, from the cache when fresh. Only playable rows are cached, whatever their
/// visibility (a private one still needs its owner's session on every request): a new upload
/// shows up at once, a change of visibility or a deletion within the TTL. Shared, not copied:
/// every range request of a popular video reads the same row.
pub async fn row(state: &State, video_id: &VideoId) -> Result<Option<Arc<PlaybackRow>>> {
    if let Some(row) = state.rows.get(video_id) {
        return Ok(Some(row));
    }
    let row = {
        let mut conn = state.pool.get_conn().await?;
        store::playback(&mut conn, video_id).await?
    }
    .map(Arc::new);
    if let Some(row) = row.as_ref().filter(|r| r.is_playable()) {
        state.rows.put(video_id.clone(), row.clone());
    }
    Ok(row)
}

/// Makes a playback route's 404 uncacheable, whatever its cause (`routes::dispatch` calls it).
/// An unknown video, one not yet playable and one private to someone else all get this same
/// answer; each can turn into a video at any moment (an upload finishes, an owner publishes),
/// and a shared cache keeping the 404 a signed-out visitor got would otherwise hide a private
/// video from its own owner.
pub fn finish(mut resp: Response<Body>) -> Response<Body> {
    if resp.status() == StatusCode::NOT_FOUND {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The database's validators for the opened file, if the row still describes it.
pub fn validators(row: &PlaybackRow, object: &dyn OpenObject) -> Validators {
    let file_secs = object
        .modified()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match (&row.sha256, row.size, row.uploaded_at) {
        // The row describes this file only if the sizes agree and the file is not newer than
        // the row's upload time: a faststart remux usually keeps the size, but its rename
        // happens before the scheduler sets the new uploaded_at. One second of slack covers
        // uploaded_at being truncated to seconds here.
        (Some(sha), Some(size), Some(at)) if size == object.size() && file_secs <= at + 1 => {
            Validators {
                etag: Some(format!("\"{sha}\"")),
                last_modified: Some(UNIX_EPOCH + Duration::from_secs(at.max(0) as u64)),
            }
        }
        // The file was replaced and the row not yet updated: the database's validators would
        // describe other bytes.
        _ => Validators::default(),
    }
}

/// Validators of a file the database holds no hash for (thumbnail, HLS, storyboard,
/// original): a strong ETag from the opened object's size and either the backend's own entity
/// tag (S3's ETag) or its modification time (nanoseconds), as nginx makes its own. Strong, so
/// that `If-Range` and resumed segment downloads work: these objects are written once, out of
/// sight, and published in one step, never changed in place, so a different file under the
/// same key has a different ETag or modification time (and usually size). S3's times have
/// whole seconds only, which is why its ETag is used there.
pub fn file_validators(object: &dyn OpenObject) -> Validators {
    let len = object.size();
    let etag = match object.version() {
        Some(version) => format!("\"{len:x}-{}\"", version.trim_matches('"')),
        None => {
            let stamp = object
                .modified()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("\"{len:x}-{stamp:x}\"")
        }
    };
    Validators {
        etag: Some(etag),
        last_modified: Some(conditional::whole_seconds(object.modified())),
    }
}

/// Adds the headers every answer about a file carries, 304, 412 and 416 included.
fn describe(h: &mut HeaderMap, served: &Served) {
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let caching = served.audience.cache_control(served.policy.caching);
    h.insert(header::CACHE_CONTROL, caching);
    if served.audience == Audience::Anyone && served.policy.cors {
        add_cors(h);
    }
    let validators = &served.validators;
    if let Some(tag) = validators.etag.as_deref().and_then(|t| t.parse().ok()) {
        h.insert(header::ETAG, tag);
    }
    if let Some(at) = validators.last_modified {
        if let Ok(v) = httpdate::fmt_http_date(at).parse() {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
    if let Some(disposition) = &served.disposition {
        h.insert(header::CONTENT_DISPOSITION, disposition.clone());
    }
}

fn described(mut resp: Response<Body>, served: &Served) -> Response<Body> {
    describe(resp.headers_mut(), served);
    resp
}

/// The ranges the request asks for, or [`ByteRanges::Ignore`] when `Range` is absent, not
/// text, or overruled by `If-Range`.
fn requested_ranges(headers: &HeaderMap, honour_range: bool, len: u64) -> ByteRanges {
    match headers.get(header::RANGE).map(|v| v.to_str()) {
        Some(Ok(value)) if honour_range => range::parse(value, len),
        _ => ByteRanges::Ignore,
    }
}

/// A 200 or 206 about to be sent: its status, `Content-Length`, own headers and body.
struct Reply {
    status: StatusCode,
    length: u64,
    /// The bytes of the file it sends, unless it is `multipart/byteranges`.
    range: Option<Range<u64>>,
    content_type: HeaderValue,
    content_range: Option<HeaderValue>,
    body: ByteStream,
}

impl Reply {
    /// The answer to `ranges` of `object`: the whole file, one part, or `multipart/byteranges`;
    /// `None` when no range is satisfiable (416).
    fn plan(
        object: &dyn OpenObject,
        ranges: ByteRanges,
        content_type: &str,
        chunk: usize,
    ) -> Option<Reply> {
        let len = object.size();
        let (status, length, range, body, content_type, content_range) = match ranges {
            ByteRanges::Unsatisfiable => return None,
            ByteRanges::Ignore => {
                let body = object.read_range(0..len, chunk);
                let ctype = header_value(content_type);
                (StatusCode::OK, len, Some(0..len), body, ctype, None)
            }
            ByteRanges::Ranges(ranges) if ranges.len() == 1 => {
                let r = ranges[0].clone();
                let part = Some(header_value(&content_range(&r, len)));
                let n = r.end - r.start;
                let body = object.read_range(r.clone(), chunk);
                let ctype = header_value(content_type);
                (StatusCode::PARTIAL_CONTENT, n, Some(r), body, ctype, part)
            }
            ByteRanges::Ranges(ranges) => {
                let (n, body, ctype) = multipart(object, &ranges, content_type, chunk);
                let ctype = header_value(&ctype);
                (StatusCode::PARTIAL_CONTENT, n, None, body, ctype, None)
            }
        };
        Some(Reply {
            status,
            length,
            range,
            content_type,
            content_range,
            body,
        })
    }
}

/// The body stream, holding the stream slot (if any) until it ends or is dropped, counting
/// bytes, and paced by the socket ([`svc::storage::paced`]: at most `window` chunks of
/// `STREAM_READ_AHEAD` read ahead of what hyper has written).
fn paced(body: ByteStream, slot: Option<StreamSlot>, window: usize) -> ByteStream {
    let count = |n| meters().bytes_served.increment(n);
    svc::storage::paced(body, window, slot, count)
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

/// `GET|HEAD /thumbnails/{vid}`: the JPEG processing made, 404 until it exists. Whoever may see
/// the video may see its thumbnail (its owner also before the video is playable); the row is
/// checked before the file is looked for, so that a hidden video's 404 is an unknown one's.
pub async fn thumbnail(
    state: &State,
    req: &Request<()>,
    video_id: &VideoId,
    client: IpAddr,
    granted: Option<Granted>,
) -> Result<Response<Body>> {
    let Some(row) = row(state, video_id).await? else {
        return Err(Error::not_found("video"));
    };
    let audience = access::audience(state, req.headers(), &row, granted).await?;
    let key = keys::thumbnail(video_id);
    if let Some(resp) = redirect(state, req, audience, THUMBNAIL, &key, "image/jpeg").await? {
        return Ok(resp);
    }
    let Some(object) = state.storage.open(&key).await? else {
        return Err(Error::not_found("thumbnail"));
    };
    let served = Served {
        validators: file_validators(&*object),
        content_type: "image/jpeg".to_string(),
        key,
        object,
        audience,
        policy: THUMBNAIL,
        disposition: None,
    };
    serve(state, req, client, served).await
}
