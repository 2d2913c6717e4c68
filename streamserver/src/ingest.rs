//! What plain and resumable uploads share: who may upload (a session, or on the media origin an
//! upload token for the one video: [`Credential`]), the video-type check by magic bytes,
//! the one way a request body is streamed into storage ([`stream_body`]), and publishing a
//! finished file in one transaction with the `uploaded` state and the `process_video` job.
//!
//! Protocol details (multipart, raw PUT, tus headers, offsets and checksums) stay in
//! `routes::upload` and `routes::tus`; the per-video lock and the upload slots are `limits`'.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, Request};
use http_body_util::BodyStream;
use hyper::body::Incoming;
use mysql_async::TxOpts;
use sha2::{Digest, Sha256};
use svc::jobs::JobKind;
use svc::storage::{keys, AppendObject, StagedObject};
use svc::{VideoId, VideoState};

use crate::error::{Error, Result};
use crate::state::Stream as State;
use crate::store::{self, Lock};

/// How many leading bytes the type check looks at: a file is judged as soon as this many of its
/// bytes are in (or all of it, if it is shorter). MPEG-TS and M2TS need the most: three packets
/// (sync bytes at 0, 188, 376, or 4, 196, 388), so 1 KiB leaves room and still costs a refused
/// upload next to nothing.
pub const SNIFF_LEN: usize = 1024;

/// A video id from a path or from tus metadata. Only the canonical spelling names a video
/// (`svc::VideoId`); anything else is a 404, as in the api.
pub fn video_id(raw: &str) -> Result<VideoId> {
    VideoId::parse(raw).ok_or_else(|| Error::not_found("video"))
}

/// The session id from `X-Session-Id`, else from the `session` cookie (what web forwards).
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-session-id").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.trim().to_string())
}

/// What an upload request says its uploader is: a session (`X-Session-Id` or the `session`
/// cookie, through web), else an upload token (`Authorization: Bearer`, on the media origin,
/// from the api's `POST /videos/{vid}/upload-token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session(String),
    UploadToken(String),
}

impl Credential {
    /// The request's credential, or 401 when it sends none (an `Authorization` of another
    /// scheme is none: RFC 9110 section 11.6.2).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self> {
        if let Some(sid) = session_id(headers) {
            return Ok(Credential::Session(sid));
        }
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Credential::UploadToken(t.to_string()))
            .ok_or(Error::Unauthenticated)
    }

    /// Who the credential is: a session's user (401 for an unknown or expired session), or an
    /// upload token's holder, known only once a video is named ([`Uploader::user_for`]).
    pub async fn resolve(self, state: &State) -> Result<Uploader> {
        match self {
            Credential::Session(sid) => {
                let mut conn = state.pool.get_conn().await?;
                match svc::sessions::lookup(&mut conn, &sid).await? {
                    Some(user) => Ok(Uploader::User(user.user_id)),
                    None => Err(Error::Unauthenticated),
                }
            }
            Credential::UploadToken(token) => Ok(Uploader::Token(token)),
        }
    }
}

/// An upload request's [`Credential`], resolved as far as the request alone allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploader {
    /// A session's user.
    User(u32),
    /// The holder of an upload token, not yet checked against a video.
    Token(String),
}

impl Uploader {
    /// The request's uploader: 401 without a credential or with a dead session.
    pub async fn from_request(state: &State, headers: &HeaderMap) -> Result<Self> {
        Credential::from_headers(headers)?.resolve(state).await
    }

    /// The user who may upload the file of `video_id`: a session's user, or the one an upload
    /// token was given to if it is genuine, for this video and unexpired (else 403 saying why;
    /// no database read). Whether that user may upload to the video now is [`check_uploadable`].
    pub fn user_for(&self, state: &State, video_id: &VideoId) -> Result<u32> {
        match self {
            Uploader::User(user) => Ok(*user),
            Uploader::Token(token) => {
                let key = state.config.media_key.as_ref().ok_or(Error::NoGrants)?;
                let now = svc::media::now();
                key.verify_upload(token, video_id.as_str(), now)
                    .map_err(Error::UploadGrant)
            }
        }
    }
}

/// The user who may upload the file of `video_id` with the request's credential, or 401 / 403.
pub async fn authenticate(state: &State, headers: &HeaderMap, video_id: &VideoId) -> Result<u32> {
    Uploader::from_request(state, headers)
        .await?
        .user_for(state, video_id)
}

/// Checks that `user` may upload to `video_id` now: it exists (404), is theirs (403) and is
/// still `pending` (409).
pub async fn check_uploadable(state: &State, user: u32, video_id: &VideoId) -> Result<()> {
    let mut conn = state.pool.get_conn().await?;
    match store::ownership(&mut conn, video_id, Lock::None).await? {
        None => Err(Error::not_found("video")),
        Some(video) if video.author != user => Err(Error::Forbidden),
        Some(video) => still_pending(video.state),
    }
}

/// 409 unless the video still waits for its file.
fn still_pending(state: Option<VideoState>) -> Result<()> {
    match state {
        Some(VideoState::Pending) => Ok(()),
        other => Err(Error::Conflict(format!(
            "this video already has its file (state {}); create a new video to upload again",
            other.map_or("unknown", VideoState::as_str)
        ))),
    }
}

/// The kinds of file [`sniff`] recognises, as people know them: the one list every message
/// about accepted files names. A unit test keeps it equal to the names in [`KINDS`].
pub const ACCEPTED: &str =
    "MP4, MOV, WebM, Matroska, AVI, MPEG-TS, M2TS, FLV, 3GP, 3G2, Ogg, WMV or MPEG-PS";

/// One kind of video file, recognised by its magic bytes. Whether it really holds a video the
/// browsers (or the transcoder) can use is decided later, by ffprobe in processing.
#[derive(Debug)]
pub struct Kind {
    /// As people know it; [`ACCEPTED`] names every one.
    pub name: &'static str,
    /// What is stored (`content_type`, `original_type`) and served for it.
    pub content_type: &'static str,
    /// The usual file extension, for a download of a file that came without a name.
    pub extension: &'static str,
    /// Whether a file's first bytes (up to [`SNIFF_LEN`]) are of this kind.
    matches: fn(&[u8]) -> bool,
}

/// Every kind of file accepted, in the order [`ACCEPTED`] names them. No two match the same
/// bytes (plain MP4 is every ISO brand that has no type of its own), so the order decides
/// nothing but the message.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "MP4",
        content_type: "video/mp4",
        extension: "mp4",
        matches: |h| ftyp_brand(h).is_some_and(|b| !is_quicktime(b) && !is_3gp(b) && !is_3g2(b)),
    },
    Kind {
        name: "MOV",
        content_type: "video/quicktime",
        extension: "mov",
        matches: |h| ftyp_brand(h).is_some_and(is_quicktime),
    },
    Kind {
        name: "WebM",
        content_type: "video/webm",
        extension: "webm",
        matches: |h| is_ebml(h) && h.windows(4).any(|w| w == b"webm"),
    },
    Kind {
        name: "Matroska",
        content_type: "video/x-matroska",
        extension: "mkv",
        matches: |h| is_ebml(h) && !h.windows(4).any(|w| w == b"webm"),
    },
    // RIFF container of type `AVI ` (a WAV file is `RIFF....WAVE`).
    Kind {
        name: "AVI",
        content_type: "video/x-msvideo",
        extension: "avi",
        matches: |h| h.len() >= 12 && &h[..4] == b"RIFF" && &h[8..12] == b"AVI ",
    },
    // ISO/IEC 13818-1 transport stream: 188-byte packets, each starting with the sync byte.
    Kind {
        name: "MPEG-TS",
        content_type: "video/mp2t",
        extension: "ts",
        matches: |h| packets_in_sync(h, 0, 188),
    },
    // Blu-ray M2TS: the same packets behind a 4-byte timestamp, so 192 bytes each.
    Kind {
        name: "M2TS",
        content_type: "video/mp2t",
        extension: "m2ts",
        matches: |h| packets_in_sync(h, 4, 192),
    },
    Kind {
        name: "FLV",
        content_type: "video/x-flv",
        extension: "flv",
        matches: |h| h.starts_with(b"FLV\x01"),
    },
    Kind {
        name: "3GP",
        content_type: "video/3gpp",
        extension: "3gp",
        matches: |h| ftyp_brand(h).is_some_and(is_3gp),
    },
    Kind {
        name: "3G2",
        content_type: "video/3gpp2",
        extension: "3g2",
        matches: |h| ftyp_brand(h).is_some_and(is_3g2),
    },
    // RFC 3533: every Ogg page starts with `OggS` (audio-only Ogg is ffprobe's to refuse).
    Kind {
        name: "Ogg",
        content_type: "video/ogg",
        extension: "ogv",
        matches: |h| h.starts_with(b"OggS"),
    },
    // ASF (WMV): the header object's GUID 75B22630-668E-11CF-A6D9-00AA0062CE6C, as stored.
    Kind {
        name: "WMV",
        content_type: "video/x-ms-asf",
        extension: "wmv",
        matches: |h| h.starts_with(&ASF_HEADER_GUID),
    },
    // ISO/IEC 13818-1 program stream (VOB, MPG): the pack start code.
    Kind {
        name: "MPEG-PS",
        content_type: "video/mpeg",
        extension: "mpg",
        matches: |h| h.starts_with(&[0x00, 0x00, 0x01, 0xBA]),
    },
];

const ASF_HEADER_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// The major brand of an ISO base media file (`ftyp` box at offset 4, ISO/IEC 14496-12).
fn ftyp_brand(head: &[u8]) -> Option<&[u8]> {
    (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12])
}

fn is_quicktime(brand: &[u8]) -> bool {
    brand == b"qt  "
}

/// 3GPP brands: `3gp4` ... `3gp6` and the like (3GPP TS 26.244).
fn is_3gp(brand: &[u8]) -> bool {
    brand.starts_with(b"3gp")
}

/// 3GPP2 brands: `3g2a`, `3g2b`, `3g2c` (3GPP2 C.S0050).
fn is_3g2(brand: &[u8]) -> bool {
    brand.starts_with(b"3g2")
}

/// The EBML magic that starts WebM and Matroska files.
fn is_ebml(head: &[u8]) -> bool {
    head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
}

/// Whether every packet of `size` bytes that starts within `head` has the MPEG-TS sync byte
/// 0x47 at `offset`, and there are at least three of them (one 0x47 is any file starting with
/// `G`; three in step is a transport stream).
fn packets_in_sync(head: &[u8], offset: usize, size: usize) -> bool {
    let syncs: Vec<u8> = head.iter().skip(offset).step_by(size).copied().collect();
    syncs.len() >= 3 && syncs.iter().all(|&b| b == 0x47)
}

/// The kind of a video file from its first bytes (up to [`SNIFF_LEN`]); `None` for anything
/// [`ACCEPTED`] does not name.
pub fn sniff(head: &[u8]) -> Option<&'static Kind> {
    KINDS.iter().find(|k| (k.matches)(head))
}

/// The usual file extension of a stored content type (the first kind that has it).
pub fn extension_of(content_type: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|k| k.content_type == content_type)
        .map(|k| k.extension)
}

/// The name of the uploader's file as their client sent it (tus `filename` metadata, a
/// multipart part's filename), cleaned for keeping and for a `Content-Disposition` later: only
/// the last path component (old browsers send `C:\fakepath\clip.mp4`), no control
/// characters, trimmed, at most 255 characters (the column's size). `None` when nothing is left.
pub fn original_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let name: String = cleaned.trim().chars().take(255).collect();
    (!name.is_empty()).then_some(name)
}

/// 415 for a file whose first bytes are not a video [`sniff`] recognises, in words the person
/// who chose the file can act on; counted in `stream_rejections_total{reason="not_a_video"}`.
pub fn not_a_video() -> Error {
    metrics::counter!("stream_rejections_total", "reason" => "not_a_video").increment(1);
    Error::Unsupported(format!(
        "This file is not a video this site accepts ({ACCEPTED}). Choose a video file and try again."
    ))
}

/// 413 for a file over `MAX_UPLOAD_SIZE` (announced or streamed), counted in
/// `stream_rejections_total{reason="too_large"}`.
pub fn too_large(limit: u64) -> Error {
    metrics::counter!("stream_rejections_total", "reason" => "too_large").increment(1);
    Error::TooLarge(format!(
        "the file is larger than the upload limit of {} ({limit} bytes)",
        human_size(limit)
    ))
}

fn human_size(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && (n / size) * size == n {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// A numeric header (`Content-Length`, tus's `Upload-Offset` and `Upload-Length`): `None` when
/// absent, 400 when not a non-negative integer.
pub fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Error::BadRequest(format!("{name} must be a non-negative integer"))),
    }
}

/// The data of a request body as a stream of chunks (trailers are skipped), ended with an error
/// once no byte has arrived for `idle` (`UPLOAD_IDLE_TIMEOUT`): a client that announces a body
/// and stalls, or vanished without closing, would otherwise hold an upload slot and the video's
/// lock for as long as its connection stays open.
pub fn body_bytes(
    req: Request<Incoming>,
    idle: Duration,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let data = BodyStream::new(req.into_body())
        .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) })
        .map_err(std::io::Error::other);
    futures_util::stream::unfold(Some(Box::pin(data)), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout(idle, data.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(data))),
            Ok(None) => None,
            Err(_) => {
                let stalled = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data for {idle:?}; the upload was given up"),
                );
                Some((Err(stalled), None))
            }
        }
    })
}

/// Where a body's bytes go.
pub enum Sink<'a> {
    /// A new object, invisible until published (plain uploads).
    Staged(&'a mut dyn StagedObject),
    /// A resumable upload's file, appended to (tus PATCH).
    Append(&'a mut dyn AppendObject),
}

impl Sink<'_> {
    async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Staged(staged) => staged.write(chunk).await,
            Sink::Append(file) => file.write(chunk).await,
        }
    }
}

/// The rules [`stream_body`] takes a body in by.
pub struct Intake {
    /// The most bytes the body may bring.
    pub room: u64,
    /// Whether to hash the bytes with SHA-256 on the way.
    pub hash: bool,
    /// Whether to check the file's type on the way.
    pub sniff: Sniff,
}

/// Whether [`stream_body`] checks the type of the file it writes to, as soon as the file's
/// first [`SNIFF_LEN`] bytes are in rather than after the whole body.
pub enum Sniff {
    /// No: the file is already past its first bytes, which were checked when they came in.
    Off,
    /// Yes. `before` holds the file's bytes that earlier requests brought (a tus upload
    /// continued within its first bytes), empty for a body that starts the file.
    On { before: Vec<u8> },
}

/// Why [`stream_body`] stopped before the body's end. Everything before that point is written.
#[derive(Debug)]
pub enum Stop {
    /// The next chunk would have gone past [`Intake::room`]; none of it was written.
    TooLarge,
    /// The file's first [`SNIFF_LEN`] bytes are not a video ([`sniff`]); none of the chunk that
    /// completed them was written, and the rest of the body was not read.
    NotAVideo,
    /// The body broke off (the client went away, or sent broken framing or multipart).
    BrokeOff(String),
}

/// What [`stream_body`] took in.
pub struct Taken {
    /// Bytes written.
    pub size: u64,
    pub fingerprint: Fingerprint,
    pub stop: Option<Stop>,
}

/// The one loop that streams a request body into storage, for plain, multipart and tus
/// uploads alike: at most `intake.room` bytes, counted in `stream_bytes_received_total` and
/// fingerprinted on the way, and with [`Sniff::On`] not a byte past the first [`SNIFF_LEN`]
/// of a file that is not a video. Memory stays at one chunk whatever the size. What to do
/// about a [`Stop`] (discard, keep, truncate, remove) is the caller's protocol; write failures
/// are errors.
pub async fn stream_body<S, E>(body: S, mut sink: Sink<'_>, intake: Intake) -> Result<Taken>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let (mut sniffing, before) = match intake.sniff {
        Sniff::Off => (false, Vec::new()),
        Sniff::On { before } => (true, before),
    };
    let mut fingerprint = Fingerprint::continuing(intake.hash, before);
    let mut size: u64 = 0;
    let stop = loop {
        let chunk = match body.next().await {
            None => break None,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => break Some(Stop::BrokeOff(e.to_string())),
        };
        if size + chunk.len() as u64 > intake.room {
            break Some(Stop::TooLarge);
        }
        metrics::counter!("stream_bytes_received_total").increment(chunk.len() as u64);
        fingerprint.update(&chunk);
        if sniffing && fingerprint.head().len() >= SNIFF_LEN {
            if sniff(fingerprint.head()).is_none() {
                break Some(Stop::NotAVideo);
            }
            sniffing = false;
        }
        sink.write(&chunk).await?;
        size += chunk.len() as u64;
    };
    Ok(Taken {
        size,
        fingerprint,
        stop,
    })
}

/// The SHA-256 (when asked for) of bytes streaming by, and the first [`SNIFF_LEN`] bytes of the
/// file they belong to.
pub struct Fingerprint {
    hasher: Option<Sha256>,
    head: Vec<u8>,
}

impl Fingerprint {
    fn new(hash: bool) -> Self {
        Self::continuing(hash, Vec::new())
    }

    /// For bytes that continue a file whose first bytes, `before`, came earlier: those count
    /// towards the head but not the hash.
    fn continuing(hash: bool, mut before: Vec<u8>) -> Self {
        before.truncate(SNIFF_LEN);
        before.reserve(SNIFF_LEN - before.len());
        Fingerprint {
            hasher: hash.then(Sha256::new),
            head: before,
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..take]);
        if let Some(h) = self.hasher.as_mut() {
            h.update(chunk);
        }
    }

    /// The first bytes, for [`sniff`].
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The digest, if hashing was asked for.
    pub fn sha256(self) -> Option<[u8; 32]> {
        self.hasher.map(|h| h.finalize().into())
    }
}

/// What publishing records about a finished file, besides its bytes.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// What [`sniff`] found: its type is the video's `content_type` and its `original_type`.
    pub kind: &'static Kind,
    /// The uploader's file name, cleaned ([`original_name`]); `None` for a bare `PUT`.
    pub original_name: Option<String>,
}

/// A file received in full and staged out of sight.
pub struct Received {
    pub staged: Box<dyn StagedObject>,
    pub facts: FileFacts,
}

/// Streams a plain upload's `body` into a new object staged for `video_id`'s file, checking
/// its type and size on the way. On any error the staged object is dropped, which deletes it
/// (aborts it, on S3): nothing is left behind.
pub async fn receive<S, E>(
    state: &State,
    video_id: &VideoId,
    body: S,
    limit: u64,
) -> Result<Received>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut staged = state.storage.stage(&keys::video(video_id)).await?;
    let intake = Intake {
        room: limit,
        hash: true,
        sniff: Sniff::On { before: Vec::new() },
    };
    let taken = stream_body(body, Sink::Staged(&mut *staged), intake).await?;
    match taken.stop {
        None => {}
        Some(Stop::TooLarge) => return Err(too_large(limit)),
        // Answered at once, with the rest of the body unread: the refusal costs the client its
        // first bytes, not the whole file.
        Some(Stop::NotAVideo) => return Err(not_a_video()),
        Some(Stop::BrokeOff(e)) => {
            return Err(Error::BadRequest(format!(
                "the upload body could not be read: {e}"
            )))
        }
    }
    let kind = sniff(taken.fingerprint.head()).ok_or_else(not_a_video)?;
    let digest = taken.fingerprint.sha256().expect("hashing was asked for");
    Ok(Received {
        staged,
        facts: FileFacts {
            size: taken.size,
            sha256: hex::encode(digest),
            kind,
            original_name: None,
        },
    })
}

/// Where the finished bytes are.
pub enum Source {
    /// Staged for the video's file (`ingest::receive`), published by completing it.
    Staged(Box<dyn StagedObject>),
    /// A tus upload (its id), whose object is renamed into place.
    Upload(String),
}

/// Publishes the file as `videos/<vid>` and marks the video uploaded (with its size, type,
/// hash and the uploader's file name and type) with a `process_video` job, in one transaction.
/// The video row stays locked from the state check through the rename to the commit, so a
/// video that is already uploaded never has its file replaced.
pub async fn publish(
    state: &State,
    video_id: &VideoId,
    source: Source,
    facts: &FileFacts,
) -> Result<()> {
    let mut tx = state.pool.start_transaction(TxOpts::default()).await?;
    match store::ownership(&mut tx, video_id, Lock::ForUpdate).await? {
        None => return Err(Error::not_found("video")),
        Some(video) => still_pending(video.state)?,
    }
    let key = keys::video(video_id);
    let upload_id = match source {
        Source::Staged(staged) => {
            staged.publish().await?;
            None
        }
        Source::Upload(upload_id) => {
            state
                .storage
                .rename(&keys::upload(&upload_id), &key)
                .await?;
            Some(upload_id)
        }
    };
    if !store::mark_uploaded(&mut tx, video_id, facts).await? {
        return still_pending(Some(VideoState::Uploaded));
    }
    svc::jobs::enqueue(&mut tx, JobKind::ProcessVideo, video_id).await?;
    if let Some(upload_id) = upload_id {
        store::complete_upload(&mut tx, &upload_id, facts.size).await?;
    }
    tx.commit().await?;
    let (size, kind) = (facts.size, facts.kind.name);
    tracing::info!(%video_id, size, kind, "video published");
    Ok(())
}

/// Reads a stored object through once, returning its SHA-256 (hex), first bytes and size.
pub async fn hash_object(state: &State, key: &str) -> Result<(String, Vec<u8>, u64)> {
    let Some(object) = state.storage.open(key).await? else {
        return Err(Error::not_found("upload"));
    };
    let size = object.size();
    let mut stream = object.read_range(0..size, 1 << 20);
    let mut fingerprint = Fingerprint::new(true);
    while let Some(chunk) = stream.next().await {
        fingerprint.update(&chunk?);
    }
    let head = fingerprint.head().to_vec();
    let digest = fingerprint.sha256().expect("hashing was asked for");
    Ok((hex::encode(digest), head, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content type [`sniff`] gives `head`.
    fn type_of(head: &[u8]) -> Option<&'static str> {
        sniff(head).map(|k| k.content_type)
    }

    /// `len` bytes of a file that starts with `magic` at `at`, zeros elsewhere.
    fn file_with(at: usize, magic: &[u8], len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len.max(at + magic.len())];
        bytes[at..at + magic.len()].copy_from_slice(magic);
        bytes
    }

    /// An ISO base media file's first bytes with this major brand.
    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        [&b"\0\0\0\x20ftyp"[..], brand, b"\0\0\0\0isommp41"].concat()
    }

    /// `count` transport-stream packets of `size` bytes with the sync byte at `offset`.
    fn packets(offset: usize, size: usize, count: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; size * count];
        for i in 0..count {
            bytes[i * size + offset] = 0x47;
        }
        bytes
    }

    #[test]
    fn a_session_comes_before_an_upload_token_and_other_schemes_are_none() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            h
        };
        assert_eq!(
            Credential::from_headers(&headers(&[("authorization", "Bearer abc")])).unwrap(),
            Credential::UploadToken("abc".into())
        );
        assert_eq!(
            Credential::from_headers(&headers(&[
                ("authorization", "Bearer abc"),
                ("x-session-id", "s1")
            ]))
            .unwrap(),
            Credential::Session("s1".into())
        );
        for bad in [
            &[][..],
            &[("authorization", "Basic abc")],
            &[("authorization", "Bearer ")],
        ] {
            assert!(matches!(
                Credential::from_headers(&headers(bad)),
                Err(Error::Unauthenticated)
            ));
        }
    }

    #[test]
    fn sniffs_iso_media_by_brand() {
        assert_eq!(type_of(&ftyp(b"isom")), Some("video/mp4"));
        assert_eq!(type_of(&ftyp(b"mp42")), Some("video/mp4"));
        assert_eq!(type_of(&ftyp(b"qt  ")), Some("video/quicktime"));
        for brand in [b"3gp4", b"3gp5", b"3gp6"] {
            assert_eq!(type_of(&ftyp(brand)), Some("video/3gpp"));
        }
        for brand in [b"3g2a", b"3g2b", b"3g2c"] {
            assert_eq!(type_of(&ftyp(brand)), Some("video/3gpp2"));
        }
        assert_eq!(type_of(b"ftyp"), None);
        assert_eq!(type_of(b"\0\0\0\x20ftyp3g"), None);
        assert_eq!(type_of(b"\0\0\0\x20moovisom"), None);
    }

    #[test]
    fn sniffs_webm_and_matroska_by_doctype() {
        let mut webm = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84];
        webm.extend_from_slice(b"webm");
        assert_eq!(type_of(&webm), Some("video/webm"));
        let mut mkv = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x88];
        mkv.extend_from_slice(b"matroska");
        assert_eq!(type_of(&mkv), Some("video/x-matroska"));
        assert_eq!(type_of(&[0x1A, 0x45, 0xDF]), None);
    }

    #[test]
    fn sniffs_avi_but_not_other_riff_files() {
        assert_eq!(
            type_of(b"RIFF\xdc\x79\0\0AVI LIST"),
            Some("video/x-msvideo")
        );
        assert_eq!(type_of(b"RIFF\x24\x08\0\0WAVEfmt "), None);
        assert_eq!(type_of(b"RIFF\0\0\0\0WEBPVP8 "), None);
        assert_eq!(type_of(b"RIFF\0\0\0\0AVI"), None);
    }

    #[test]
    fn sniffs_transport_streams_by_three_packets_in_step() {
        assert_eq!(type_of(&packets(0, 188, 3)), Some("video/mp2t"));
        // The whole window must keep step, not just its first three packets.
        assert_eq!(
            type_of(&packets(0, 188, SNIFF_LEN / 188)),
            Some("video/mp2t")
        );
        let mut broken = packets(0, 188, 5);
        broken[4 * 188] = 0;
        assert_eq!(type_of(&broken), None);
        // One or two packets are any file that starts with `G`.
        assert_eq!(type_of(&packets(0, 188, 2)), None);
        assert_eq!(type_of(b"GIF89a"), None);
        let m2ts = sniff(&packets(4, 192, 3)).unwrap();
        assert_eq!((m2ts.name, m2ts.content_type), ("M2TS", "video/mp2t"));
        let ts = sniff(&packets(0, 188, 3)).unwrap();
        assert_eq!(ts.name, "MPEG-TS");
        assert_eq!(type_of(&packets(4, 192, 2)), None);
        assert_eq!(type_of(&packets(4, 188, 3)), None);
    }

    #[test]
    fn sniffs_flv_ogg_asf_and_mpeg_program_streams() {
        assert_eq!(type_of(b"FLV\x01\x05\0\0\0\x09"), Some("video/x-flv"));
        assert_eq!(type_of(b"FLV\x02"), None);
        assert_eq!(type_of(b"OggS\0\x02\0\0"), Some("video/ogg"));
        assert_eq!(type_of(b"Ogg"), None);
        let asf = file_with(0, &ASF_HEADER_GUID, 30);
        assert_eq!(type_of(&asf), Some("video/x-ms-asf"));
        assert_eq!(type_of(&asf[..15]), None);
        assert_eq!(type_of(b"\0\0\x01\xBA\x44\0\x04"), Some("video/mpeg"));
        // An MPEG elementary video stream or a PES packet is not a program stream.
        assert_eq!(type_of(b"\0\0\x01\xB3\x14\0"), None);
        assert_eq!(type_of(b"\0\0\x01\xE0\0\0"), None);
    }

    #[test]
    fn sniffs_nothing_else() {
        for other in [
            &b""[..],
            b"GIF89a......",
            b"%PDF-1.7\n",
            b"\x89PNG\r\n\x1a\n",
            b"\xFF\xD8\xFF\xE0",
            b"ID3\x04\0\0",
            b"PK\x03\x04",
        ] {
            assert!(sniff(other).is_none(), "{other:?}");
        }
        assert!(sniff(&[7u8; SNIFF_LEN]).is_none());
    }

    #[test]
    fn the_accepted_list_names_every_kind_in_order() {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        let (last, rest) = names.split_last().unwrap();
        assert_eq!(ACCEPTED, format!("{} or {last}", rest.join(", ")));
        for kind in KINDS {
            assert!(kind.content_type.starts_with("video/"), "{kind:?}");
            assert!(extension_of(kind.content_type).is_some(), "{kind:?}");
        }
        assert_eq!(extension_of("video/mp2t"), Some("ts"));
        assert_eq!(extension_of("video/x-ms-asf"), Some("wmv"));
        assert_eq!(extension_of("text/plain"), None);
    }

    #[test]
    fn original_names_keep_the_last_component_without_control_characters() {
        assert_eq!(original_name("clip.mp4").as_deref(), Some("clip.mp4"));
        assert_eq!(
            original_name("  Été 2024.mov ").as_deref(),
            Some("Été 2024.mov")
        );
        assert_eq!(
            original_name(r"C:\fakepath\holiday.avi").as_deref(),
            Some("holiday.avi")
        );
        assert_eq!(original_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(original_name("a\r\nb\0.ts").as_deref(), Some("ab.ts"));
        let long = "视".repeat(300);
        assert_eq!(original_name(&long).unwrap().chars().count(), 255);
        for nothing in ["", "   ", "dir/", "\n\t", "a/\u{7}"] {
            assert_eq!(original_name(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn session_from_header_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(session_id(&h), None);
        h.insert(
            http::header::COOKIE,
            "a=b; session=xyz; c=d".parse().unwrap(),
        );
        assert_eq!(session_id(&h).as_deref(), Some("xyz"));
        h.insert("x-session-id", "abc".parse().unwrap());
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
    }

    #[test]
    fn limits_are_named_readably() {
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(3 << 20), "3 MiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn video_ids_are_parsed_the_one_way_svc_parses_them() {
        let vid = VideoId::random();
        assert_eq!(video_id(vid.as_str()).unwrap(), vid);
        assert_eq!(video_id(&vid.as_str().to_uppercase()).unwrap(), vid);
        let simple = vid.as_str().replace('-', "");
        for raw in [simple.as_str(), &format!("{{{vid}}}"), "not-a-uuid", ""] {
            assert_eq!(
                video_id(raw).unwrap_err().status(),
                http::StatusCode::NOT_FOUND,
                "{raw}"
            );
        }
    }

    /// A staged object in memory, to watch what [`stream_body`] writes.
    #[derive(Default)]
    struct Memory(Vec<u8>);

    #[async_trait::async_trait]
    impl StagedObject for Memory {
        async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
            self.0.extend_from_slice(chunk);
            Ok(())
        }
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        async fn publish(self: Box<Self>) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = std::result::Result<Bytes, String>> {
        let items: Vec<_> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        futures_util::stream::iter(items)
    }

    fn mp4_head() -> Vec<u8> {
        let mut head = b"\0\0\0\x10ftypisom".to_vec();
        head.resize(SNIFF_LEN, 0);
        head
    }

    async fn take(
        body: impl Stream<Item = std::result::Result<Bytes, String>>,
        intake: Intake,
    ) -> (Result<Taken>, Vec<u8>) {
        let mut sink = Memory::default();
        let taken = stream_body(body, Sink::Staged(&mut sink), intake).await;
        (taken, sink.0)
    }

    #[tokio::test]
    async fn a_body_is_written_whole_with_its_hash_and_head() {
        let head = mp4_head();
        let intake = Intake {
            room: SNIFF_LEN as u64 + 100,
            hash: true,
            sniff: Sniff::On { before: Vec::new() },
        };
        let (taken, written) = take(chunks(&[&head[..10], &head[10..], b"tail"]), intake).await;
        let taken = taken.unwrap();
        let whole = [head.as_slice(), b"tail"].concat();
        assert!(taken.stop.is_none());
        assert_eq!(taken.size, whole.len() as u64);
        assert_eq!(written, whole);
        assert_eq!(taken.fingerprint.head(), head.as_slice());
        assert_eq!(
            taken.fingerprint.sha256().unwrap(),
            <[u8; 32]>::from(Sha256::digest(&whole))
        );
    }

    #[tokio::test]
    async fn the_chunk_past_the_room_is_not_written() {
        let intake = Intake {
            room: 5,
            hash: false,
            sniff: Sniff::Off,
        };
        let (taken, written) = take(chunks(&[b"abc", b"def"]), intake).await;
        let taken = taken.unwrap();
        assert!(matches!(taken.stop, Some(Stop::TooLarge)));
        assert_eq!(taken.size, 3);
        assert_eq!(written, b"abc");
        assert!(taken.fingerprint.sha256().is_none());
    }

    #[tokio::test]
    async fn a_broken_body_keeps_what_arrived_before_the_break() {
        let items = vec![Ok(Bytes::from_static(b"abc")), Err("reset".to_string())];
        let intake = Intake {
            room: 100,
            hash: false,
            sniff: Sniff::Off,
        };
        let (taken, written) = take(futures_util::stream::iter(items), intake).await;
        let taken = taken.unwrap();
        assert!(matches!(taken.stop, Some(Stop::BrokeOff(ref e)) if e == "reset"));
        assert_eq!((taken.size, written.as_slice()), (3, b"abc".as_slice()));
    }

    #[tokio::test]
    async fn sniffing_refuses_a_non_video_as_soon_as_its_head_is_in() {
        let noise = vec![7u8; SNIFF_LEN];
        let intake = Intake {
            room: 1 << 20,
            hash: true,
            sniff: Sniff::On { before: Vec::new() },
        };
        let (taken, written) = take(chunks(&[&noise, &noise]), intake).await;
        let taken = taken.unwrap();
        assert!(matches!(taken.stop, Some(Stop::NotAVideo)));
        assert_eq!(taken.size, 0);
        assert!(
            written.is_empty(),
            "nothing of the chunk that completed the head was written"
        );
    }

    #[tokio::test]
    async fn a_short_head_waits_for_the_bytes_that_complete_it() {
        let noise = [7u8; SNIFF_LEN];
        let intake = || Intake {
            room: 1 << 20,
            hash: false,
            sniff: Sniff::On { before: Vec::new() },
        };
        // Less than the head: written, nothing judged yet.
        let (taken, written) = take(chunks(&[&noise[..10]]), intake()).await;
        assert!(taken.unwrap().stop.is_none());
        assert_eq!(written.len(), 10);
        // The chunk that completes it is judged before it is written.
        let (taken, written) = take(chunks(&[&noise[..10], &noise[10..]]), intake()).await;
        assert!(matches!(taken.unwrap().stop, Some(Stop::NotAVideo)));
        assert_eq!(written.len(), 10);
    }

    #[tokio::test]
    async fn a_continued_file_is_judged_by_its_own_first_bytes() {
        let head = mp4_head();
        let continuing = |before: &[u8]| Intake {
            room: 1 << 20,
            hash: true,
            sniff: Sniff::On {
                before: before.to_vec(),
            },
        };
        // The magic came with an earlier request: the rest of a video is taken in, and the
        // hash covers only this body.
        let (taken, written) = take(chunks(&[&head[20..], b"tail"]), continuing(&head[..20])).await;
        let taken = taken.unwrap();
        assert!(taken.stop.is_none());
        assert_eq!(written, [&head[20..], b"tail"].concat());
        assert_eq!(taken.fingerprint.head(), head.as_slice());
        assert_eq!(
            taken.fingerprint.sha256().unwrap(),
            <[u8; 32]>::from(Sha256::digest([&head[20..], b"tail"].concat()))
        );
        // Earlier bytes that are no video's: refused once the head is complete.
        let noise = vec![7u8; SNIFF_LEN];
        let (taken, written) = take(chunks(&[&head[20..]]), continuing(&noise[..20])).await;
        assert!(matches!(taken.unwrap().stop, Some(Stop::NotAVideo)));
        assert!(written.is_empty());
        // With the type off (a file past its head), nothing is judged.
        let intake = Intake {
            room: 1 << 20,
            hash: false,
            sniff: Sniff::Off,
        };
        let (taken, written) = take(chunks(&[&noise, &noise]), intake).await;
        assert!(taken.unwrap().stop.is_none());
        assert_eq!(written.len(), 2 * SNIFF_LEN);
    }

    #[test]
    fn the_refusal_names_what_is_accepted_and_what_to_do() {
        let e = not_a_video();
        assert_eq!(e.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            e.to_string(),
            "This file is not a video this site accepts (MP4, MOV, WebM, Matroska, AVI, \
             MPEG-TS, M2TS, FLV, 3GP, 3G2, Ogg, WMV or MPEG-PS). Choose a video file and try again."
        );
    }
}
