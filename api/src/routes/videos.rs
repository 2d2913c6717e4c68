//! Videos: create a pending video (`POST /user/{username}/videos`), list a channel newest
//! first, read one (under its author, or by id alone as `GET /videos/{vid}` so a watch link need
//! not name the author), edit one (`PATCH`), delete one (`DELETE /user/{username}/videos/{vid}`),
//! and the two lists across every author: the public feed (`GET /videos`) and search
//! (`GET /search`).
//!
//! Visibility is `svc::video::visible` for one video and `svc::listed!` for lists: the owner sees
//! every video of theirs in every state (`processing` included); anyone else, signed in or not,
//! a playable video that is not private, and in lists, the feed and search only the public
//! ones. A video the viewer may not see is 404. Reads need no session; writes do.
//!
//! The video object also tells what processing made (issue 12): the ladder's rungs, the HLS
//! and storyboard URLs once published, the transcode's progress, and for the owner alone the
//! original's URL and name. A page's ladders are read in one query for the whole page.
//!
//! Where the media URLs point is [`MediaLinks`]' decision (issue 16): relative to the site
//! (web proxies them) unless `MEDIA_URL` names a media origin, in which case they are absolute
//! on it, and those of a video anonymous viewers may not see carry a grant (`svc::media`) for
//! the viewer, valid `MEDIA_GRANT_TTL`. Uploads to the media origin go with an upload token
//! (`POST /videos/{vid}/upload-token`, [`upload_token`]), never with the session.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use svc::http::{empty, json, Body};

use mysql_async::prelude::Queryable;
use svc::media::MediaKey;
use svc::{VideoId, VideoState, Visibility};

use crate::domain::{self, Description, UserName, VideoName};
use crate::error::ApiError;
use crate::live::Gone;
use crate::request::{read_json, reader, video_id, Page, SearchPage, NO_VIDEO};
use crate::search::{self, Tier};
use crate::state::Api;
use crate::store;
use crate::store::live::EventKind;
use crate::store::renditions::Rendition;
use crate::store::videos::VideoRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVideo {
    name: String,
    /// Plain text, 0-5000 characters; none is "".
    #[serde(default)]
    description: Option<String>,
    /// `public` when absent.
    #[serde(default, deserialize_with = "domain::visibility")]
    visibility: Option<Visibility>,
    /// The original's clients send their own id here; it is accepted for compatibility and
    /// ignored: the author is the session's user.
    #[serde(default)]
    #[allow(dead_code)]
    author_id: Option<IgnoredAny>,
}

/// `PATCH` body: any of the three, at least one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoEdit {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "domain::visibility")]
    visibility: Option<Visibility>,
}

/// The video object (SPEC section 3). Media URLs are relative to the site origin (web), or
/// absolute on the media origin when `MEDIA_URL` is set ([`MediaLinks`]).
#[derive(Serialize)]
pub struct VideoJson {
    id: String,
    author_id: u32,
    author: String,
    name: String,
    display_ctime: String,
    create_time: String,
    state: &'static str,
    size: Option<u64>,
    duration_ms: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    content_type: Option<String>,
    thumbnail_url: Option<String>,
    play_url: String,
    upload_url: String,
    resumable_upload_url: String,
    failure_reason: Option<String>,
    visibility: &'static str,
    description: String,
    /// The ladder's rungs, lowest first; `[]` until the ladder is planned.
    renditions: Vec<RenditionJson>,
    /// The master playlist, once every rung is published.
    hls_url: Option<String>,
    /// The storyboard's WebVTT cues, once published.
    storyboard_url: Option<String>,
    /// Percent of the transcode running now.
    processing_progress: Option<u8>,
    /// How many users have it among their favourites.
    favorite_count: u64,
    /// When the grants in the media URLs expire (Unix seconds); null when none is signed. A
    /// page renews them by reading the video again before then.
    media_expires: Option<u64>,
    /// Present for the video's owner only.
    #[serde(flatten)]
    owner: Option<OwnerJson>,
}

/// One rung of the ladder in the video object.
#[derive(Serialize)]
struct RenditionJson {
    height: u16,
    bandwidth: u32,
    ready: bool,
}

/// What only the owner is shown: where to download the original (once the video has bytes) and
/// what the uploaded file was called (null for an upload that sent no name).
#[derive(Serialize)]
struct OwnerJson {
    original_url: Option<String>,
    original_name: Option<String>,
}

/// Where the media URLs of the objects of one answer point: the site (`MEDIA_URL` unset, every
/// URL relative, as web proxies them) or the media origin, with grants that expire at
/// `expires` for what anonymous viewers may not see.
pub(crate) struct MediaLinks<'a> {
    /// `MEDIA_URL` and the key its grants are signed with.
    origin: Option<(&'a str, &'a MediaKey)>,
    /// When grants made now expire (Unix seconds).
    expires: u64,
}

impl<'a> MediaLinks<'a> {
    /// The links of an answer made now.
    pub(crate) fn of(api: &'a Api) -> Self {
        let config = &api.config;
        let origin = config.media_url.as_deref().zip(config.media_key.as_ref());
        MediaLinks {
            origin,
            expires: svc::media::now() + config.media_grant_ttl.as_secs(),
        }
    }

    /// `path` (which starts with `/`) where the browser fetches it: on the site or on the media
    /// origin.
    fn plain(&self, path: &str) -> String {
        match self.origin {
            Some((base, _)) => format!("{base}{path}"),
            None => path.to_string(),
        }
    }

    /// `prefix` of `vid` followed by `rest`, for `viewer`: signed on the media origin when
    /// `signed`, else [`MediaLinks::plain`]. Returns whether it signed.
    fn media(&self, prefix: &str, rest: &str, vid: &str, viewer: u32, signed: bool) -> Link {
        match self.origin {
            Some((base, key)) if signed => Link {
                url: format!(
                    "{base}{}{rest}",
                    key.sign_path(prefix, vid, viewer, self.expires)
                ),
                signed: true,
            },
            _ => Link {
                url: self.plain(&format!("{prefix}{rest}")),
                signed: false,
            },
        }
    }
}

/// A media URL and whether it carries a grant.
struct Link {
    url: String,
    signed: bool,
}

impl VideoJson {
    /// The object `viewer_id` (0: signed out) is shown for `v`, whose ladder is `renditions`,
    /// with media URLs from `links`. A URL is given only when the streamserver would serve it
    /// to the same viewer: the ladder and the storyboard of a `ready` video once published, the
    /// original to its owner once there are bytes. The original's download stays on the site
    /// (the owner's session goes with it there; the media origin never takes sessions).
    fn new(v: VideoRow, renditions: Vec<Rendition>, viewer_id: u32, links: &MediaLinks) -> Self {
        let ready = v.state == VideoState::Ready;
        let ladder_done = !renditions.is_empty() && renditions.iter().all(|r| r.ready);
        // What anonymous viewers may not see is only ever shown to its owner, whose grant it is.
        let signed = !v.visible_to(0);
        let owner = (v.author_id == viewer_id).then(|| OwnerJson {
            original_url: (v.state != VideoState::Pending)
                .then(|| format!("/videos/{}/original", v.id)),
            original_name: v.original_name,
        });
        let video_prefix = format!("/videos/{}", v.id);
        let video = |rest: &str| links.media(&video_prefix, rest, &v.id, viewer_id, signed);
        let play = video("");
        let hls = (ready && ladder_done).then(|| video("/hls/master.m3u8"));
        let storyboard = (ready && v.has_storyboard).then(|| video("/storyboard.vtt"));
        let thumbnail_prefix = format!("/thumbnails/{}", v.id);
        let thumbnail = v
            .has_thumbnail
            .then(|| links.media(&thumbnail_prefix, "", &v.id, viewer_id, signed));
        let any_signed = [
            Some(&play),
            hls.as_ref(),
            storyboard.as_ref(),
            thumbnail.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|link| link.signed);
        VideoJson {
            thumbnail_url: thumbnail.map(|l| l.url),
            play_url: play.url,
            upload_url: links.plain(&format!("/upload/{}", v.id)),
            resumable_upload_url: links.plain("/files/"),
            hls_url: hls.map(|l| l.url),
            storyboard_url: storyboard.map(|l| l.url),
            media_expires: any_signed.then_some(links.expires),
            renditions: renditions
                .into_iter()
                .map(|r| RenditionJson {
                    height: r.height,
                    bandwidth: r.bandwidth,
                    ready: r.ready,
                })
                .collect(),
            processing_progress: v.processing_progress,
            favorite_count: v.favorite_count,
            owner,
            id: v.id,
            author_id: v.author_id,
            author: v.author,
            name: v.name,
            display_ctime: v.display_ctime,
            create_time: v.create_time,
            state: v.state.as_str(),
            size: v.size,
            duration_ms: v.duration_ms,
            width: v.width,
            height: v.height,
            content_type: v.content_type,
            failure_reason: v.failure_reason,
            visibility: v.visibility.as_str(),
            description: v.description,
        }
    }
}

/// The objects of `rows` as `viewer_id` sees them, with every video's ladder read in one query
/// for the whole page (none for an empty page).
async fn objects<Q: Queryable>(
    api: &Api,
    conn: &mut Q,
    rows: Vec<VideoRow>,
    viewer_id: u32,
) -> Result<Vec<VideoJson>, ApiError> {
    let ids: Vec<&str> = rows.iter().map(|v| v.id.as_str()).collect();
    let mut ladders = store::renditions::of_videos(conn, &ids).await?;
    let links = MediaLinks::of(api);
    Ok(rows
        .into_iter()
        .map(|v| {
            let renditions = ladders.remove(&v.id).unwrap_or_default();
            VideoJson::new(v, renditions, viewer_id, &links)
        })
        .collect())
}

/// One video's object as `viewer_id` sees it.
async fn object<Q: Queryable>(
    api: &Api,
    conn: &mut Q,
    row: VideoRow,
    viewer_id: u32,
) -> Result<VideoJson, ApiError> {
    let mut one = objects(api, conn, vec![row], viewer_id).await?;
    one.pop()
        .ok_or_else(|| ApiError::Internal("a video's object went missing".into()))
}

#[derive(Serialize)]
pub(crate) struct VideoPage {
    videos: Vec<VideoJson>,
    next: Option<String>,
}

impl VideoPage {
    /// A page of `rows` as `viewer_id` sees them: two queries in all (the rows, then their
    /// ladders), whatever the page size.
    pub(crate) async fn of<Q: Queryable>(
        api: &Api,
        conn: &mut Q,
        rows: Vec<VideoRow>,
        next: Option<String>,
        viewer_id: u32,
    ) -> Result<Response<Body>, ApiError> {
        let videos = objects(api, conn, rows, viewer_id).await?;
        Ok(json(StatusCode::OK, &VideoPage { videos, next }))
    }
}

const NO_USER: &str = "no such user";

pub async fn create(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    viewer.must_be(
        &path_user,
        "you can only create videos under your own user name",
    )?;
    let body: NewVideo = read_json(req).await?;
    let name = VideoName::parse(&body.name).map_err(ApiError::Invalid)?;
    let description =
        Description::parse(body.description.as_deref().unwrap_or("")).map_err(ApiError::Invalid)?;
    let id = VideoId::random();
    let mut conn = api.pool.get_conn().await?;
    let new = store::videos::NewVideo {
        id: &id,
        author_id: viewer.user_id,
        name: name.as_str(),
        description: description.as_str(),
        visibility: body.visibility.unwrap_or(Visibility::Public),
    };
    // The row and its postings together: a video is findable from the moment it exists.
    let mut tx = conn.start_transaction(store::search::tx_options()).await?;
    store::videos::insert(&mut tx, &new).await?;
    let video = store::videos::find(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::Internal("a video just inserted is missing".into()))?;
    store::search::insert(&mut tx, &[indexed(&video)]).await?;
    tx.commit().await?;
    let video = object(api, &mut conn, video, viewer.user_id).await?;
    Ok(json(StatusCode::CREATED, &video))
}

/// The postings of `video` as its row now reads (name and description).
fn indexed(video: &VideoRow) -> store::search::Indexed<'_> {
    store::search::Indexed {
        video_id: &video.id,
        create_time: &video.create_time_key,
        postings: search::postings(&video.name, &video.description),
    }
}

/// A user's videos: all of them for their owner, the listed ones for anyone else.
pub async fn list(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let page = Page::from_query(req.uri().query())?;
    let name = UserName::parse(&path_user).map_err(|_| ApiError::NotFound(NO_USER))?;
    let mut conn = api.pool.get_conn().await?;
    let author_id = match reader.id_if_named(name.as_str()) {
        Some(own) => own,
        None => {
            store::users::find_by_name(&mut conn, name.as_str())
                .await?
                .ok_or(ApiError::NotFound(NO_USER))?
                .id
        }
    };
    let rows = store::videos::list(
        &mut conn,
        author_id,
        name.as_str(),
        author_id == reader.user_id(),
        page.before.as_ref(),
        page.fetch(),
    )
    .await?;
    let (rows, next) = page.split(rows, VideoRow::cursor);
    VideoPage::of(api, &mut conn, rows, next, reader.user_id()).await
}

/// `GET /videos`: the public feed, listed videos of every author, newest first. The same for
/// everyone (a signed-in user's own unlisted and private videos are in their list, not here).
pub async fn feed(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let page = Page::from_query(req.uri().query())?;
    let mut conn = api.pool.get_conn().await?;
    let rows = store::videos::feed(&mut conn, page.before.as_ref(), page.fetch()).await?;
    let (rows, next) = page.split(rows, VideoRow::cursor);
    VideoPage::of(api, &mut conn, rows, next, reader.user_id()).await
}

/// `GET /search?q=`: listed videos whose name or description hold every term of the query
/// (words of three letters or more as word beginnings, CJK as character pairs), those with
/// every term in the title first, newest first within each tier. Has its own per-client limit,
/// signed in or not.
///
/// A page: with two terms or more, count each term's postings up to a cap to walk the rarest
/// (`search::Plan`); walk the first tier, then the second only when the first ran out before
/// the page was full. Each step is bounded by the page size or the cap when the other terms are
/// common, and by the walked term's postings when they are not (`store::videos::search`).
pub async fn search(api: &Api, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    api.limits.search(&req)?;
    let reader = reader(api, &req).await?;
    let page = SearchPage::from_query(req.uri().query())?;
    let terms = search::query_terms(page.q.as_str());
    // Only punctuation: nothing can match, and the index need not be asked.
    if terms.is_empty() {
        let empty = VideoPage {
            videos: vec![],
            next: None,
        };
        return Ok(json(StatusCode::OK, &empty));
    }
    let mut conn = api.pool.get_conn().await?;
    let stats = if terms.len() > 1 {
        store::search::stats(&mut conn, &terms).await?
    } else {
        vec![]
    };
    let mut rows = vec![];
    // A term no video holds: nothing has them all.
    let plan = search::Plan::new(terms, &stats).filter(|_| !stats.iter().any(|s| s.absent()));
    if let Some(plan) = plan {
        for tier in [Tier::Title, Tier::Anywhere] {
            let wanted = page.fetch() - rows.len() as u32;
            if wanted == 0 || !page.reaches(tier) {
                continue;
            }
            let found =
                store::videos::search(&mut conn, &plan, tier, page.after_in(tier), wanted).await?;
            rows.extend(found.into_iter().map(|row| (tier, row)));
        }
    }
    let (rows, next) = page.split(rows, VideoRow::cursor);
    VideoPage::of(api, &mut conn, rows, next, reader.user_id()).await
}

/// `GET /user/{username}/videos/{vid}` with `path_user`, `GET /videos/{vid}` without: the same
/// object and the same visibility; only the path's author, when there is one, must match too.
pub async fn get(
    api: &Api,
    req: Request<Incoming>,
    path_user: Option<String>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let reader = reader(api, &req).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = visible_video(&mut conn, reader.user_id(), path_user.as_deref(), &vid).await?;
    let video = object(api, &mut conn, video, reader.user_id()).await?;
    Ok(json(StatusCode::OK, &video))
}

/// `PATCH /user/{username}/videos/{vid}`: the owner changes any of name, description and
/// visibility. Who may is decided before the body is read (401, then 404 for a video the viewer
/// cannot see, 403 for one they can but do not own), then the body (400, 422). The row is
/// locked while the edit is merged into it, and its postings are rewritten in the same
/// transaction when the name or description changes (or an older tokeniser wrote them).
pub async fn edit(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = visible_video(&mut conn, viewer.user_id, Some(&path_user), &vid).await?;
    if video.author_id != viewer.user_id {
        return Err(ApiError::Forbidden("only the video's owner can edit it"));
    }
    let body: VideoEdit = read_json(req).await?;
    if body.name.is_none() && body.description.is_none() && body.visibility.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: send at least one of name, description and visibility".into(),
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(VideoName::parse)
        .transpose()
        .map_err(ApiError::Invalid)?;
    let description = body
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()
        .map_err(ApiError::Invalid)?;
    let mut tx = conn.start_transaction(store::search::tx_options()).await?;
    // Re-read under the lock: the video may have been deleted since the check above.
    let Some(old) = store::videos::lock_text(&mut tx, &vid)
        .await?
        .filter(|old| old.author_id == viewer.user_id)
    else {
        return Err(ApiError::NotFound(NO_VIDEO));
    };
    let name = name.as_ref().map_or(old.name.as_str(), VideoName::as_str);
    let description = description
        .as_ref()
        .map_or(old.description.as_str(), Description::as_str);
    let reindex =
        name != old.name || description != old.description || old.search_version != search::VERSION;
    // Made private now: its live viewers other than the owner lose it. The row is locked and
    // the transaction reads committed rows, so this is the visibility the edit replaces.
    let privatised = body.visibility == Some(Visibility::Private)
        && store::videos::access(&mut tx, &vid)
            .await?
            .is_some_and(|(_, _, before)| before != Visibility::Private);
    store::videos::update(&mut tx, &vid, name, description, body.visibility).await?;
    if privatised {
        let payload = Gone::Private.payload();
        store::live::publish(&mut tx, &vid, EventKind::VideoGone, &payload).await?;
    }
    let video = store::videos::find(&mut tx, &vid)
        .await?
        .ok_or_else(|| ApiError::Internal("a video just edited is missing".into()))?;
    if reindex {
        store::search::replace(&mut tx, &[indexed(&video)]).await?;
    }
    tx.commit().await?;
    tracing::info!(video_id = %vid, visibility = %video.visibility, "video edited");
    let video = object(api, &mut conn, video, viewer.user_id).await?;
    Ok(json(StatusCode::OK, &video))
}

/// One transaction: lock the row, check the owner, delete the comments and the row, queue the
/// `delete_video` job (the scheduler removes the files later) and tell the live viewers
/// (`video_gone`). A crash anywhere before the commit changes nothing; after it, the job is
/// durable.
pub async fn delete(
    api: &Api,
    req: Request<Incoming>,
    path_user: String,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = visible_video(&mut conn, viewer.user_id, Some(&path_user), &vid).await?;
    if video.author_id != viewer.user_id {
        return Err(ApiError::Forbidden("only the video's owner can delete it"));
    }
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    // Re-read under the lock: a concurrent delete may have won since the check above.
    if store::videos::lock_author(&mut tx, &vid).await? != Some(viewer.user_id) {
        return Err(ApiError::NotFound(NO_VIDEO));
    }
    svc::removal::remove_video(&mut tx, &vid).await?;
    tx.commit().await?;
    tracing::info!(video_id = %vid, "video deleted; file deletion queued");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The video, if `viewer_id` (0: signed out) may see it and, when the path names an author
/// (`author`), it is theirs; otherwise 404, so a hidden video looks like no video at all.
async fn visible_video<Q: mysql_async::prelude::Queryable>(
    conn: &mut Q,
    viewer_id: u32,
    author: Option<&str>,
    vid: &VideoId,
) -> Result<VideoRow, ApiError> {
    store::videos::find(conn, vid)
        .await?
        .filter(|v| author.is_none_or(|a| v.author == a))
        .filter(|v| v.visible_to(viewer_id))
        .ok_or(ApiError::NotFound(NO_VIDEO))
}

/// What `POST /videos/{vid}/upload-token` answers: a token that lets the page upload the file
/// of one video to the media origin (`Authorization: Bearer <token>`), and where.
#[derive(Serialize)]
struct UploadToken {
    token: String,
    /// When it stops working (Unix seconds).
    expires: u64,
    upload_url: String,
    resumable_upload_url: String,
}

/// `POST /videos/{vid}/upload-token`: the owner of a video still waiting for its file gets an
/// upload token scoped to it, valid `MEDIA_GRANT_TTL` (401 signed out; 503 without
/// `MEDIA_SIGNING_KEY`; 404 for a video that is not theirs, as other owner-only routes; 409
/// once the video has its file).
pub async fn upload_token(
    api: &Api,
    req: Request<Incoming>,
    vid: String,
) -> Result<Response<Body>, ApiError> {
    let viewer = api.sessions.authenticate(&api.pool, req.headers()).await?;
    let Some(key) = api.config.media_key.as_ref() else {
        return Err(ApiError::Unavailable(
            "upload tokens are not available: the api has no MEDIA_SIGNING_KEY; upload through the site instead",
        ));
    };
    let vid = video_id(&vid)?;
    let mut conn = api.pool.get_conn().await?;
    let video = store::videos::find(&mut conn, &vid)
        .await?
        .filter(|v| v.author_id == viewer.user_id)
        .ok_or(ApiError::NotFound(NO_VIDEO))?;
    if video.state != VideoState::Pending {
        return Err(ApiError::Conflict(
            "this video already has its file; create a new video to upload again",
        ));
    }
    let links = MediaLinks::of(api);
    let token = UploadToken {
        token: key.sign_upload(vid.as_str(), viewer.user_id, links.expires),
        expires: links.expires,
        upload_url: links.plain(&format!("/upload/{vid}")),
        resumable_upload_url: links.plain("/files/"),
    };
    Ok(json(StatusCode::OK, &token))
}
