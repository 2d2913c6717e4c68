//! The whole streamserver on one screen: the route table ([`Route`]) and the one exhaustive
//! `match (route, method)` that decides every request, after the per-client rate limit. The
//! handlers live in one module per resource: playback (`/videos/{vid}`, `/thumbnails/`, and
//! the byte serving every video file goes through), a video's other files (`renditions`: HLS
//! ladder, storyboard, original), plain uploads (`/upload/`) and resumable uploads
//! (`/files/`); what the two upload kinds share is in `ingest`.
//!
//! Every media route but the original also answers under a signed path, `/s/{token}` + the
//! route (issue 16): its own entry in the table (and metrics label), dispatched to the same
//! handler with the token, which `access::grant` checks. Signed and upload routes are the
//! site's alone across origins (`crate::cors`), added here to every answer they give.

pub mod playback;
pub mod renditions;
pub mod tus;
pub mod upload;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use svc::http::{Body, PeerAddr, RouteName};
use svc::local_file;
use svc::router::{method_not_allowed, not_found, Route as _, Router};

use crate::access::{self, Opens};
use crate::cors;
use crate::error::{Error, Result};
use crate::ingest;
use crate::state::Stream as State;
use playback::Lease;

/// The routes (SPEC section 4). Each one's pattern is also its metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A video's bytes, with Range (RFC 9110 section 14).
    Video,
    /// A file of a video's HLS ladder: `master.m3u8`, `<h>p.m3u8`, `<h>p.mp4`.
    Hls,
    /// A video's storyboard sprite.
    StoryboardImage,
    /// A video's storyboard cues (WebVTT).
    StoryboardCues,
    /// A video's original upload, for its owner.
    Original,
    /// A video's JPEG thumbnail.
    Thumbnail,
    /// A plain upload, raw or multipart.
    Upload,
    /// tus creation at `/files/`, the spelling tus clients use.
    TusCreation,
    /// tus creation at `/files`, for clients configured without the slash.
    TusCreationBare,
    /// One resumable upload.
    TusUpload,
    /// This streamserver's OpenAPI document (`streamserver/openapi.json`).
    OpenApi,
    /// [`Route::Video`] under a signed path.
    SignedVideo,
    /// [`Route::Hls`] under a signed path: a playlist's relative URIs keep the grant.
    SignedHls,
    /// [`Route::StoryboardImage`] under a signed path.
    SignedStoryboardImage,
    /// [`Route::StoryboardCues`] under a signed path: the cues' relative sprite URL keeps it.
    SignedStoryboardCues,
    /// [`Route::Thumbnail`] under a signed path.
    SignedThumbnail,
}

impl svc::router::Route for Route {
    const ALL: &'static [Self] = &[
        Route::Video,
        Route::Hls,
        Route::StoryboardImage,
        Route::StoryboardCues,
        Route::Original,
        Route::Thumbnail,
        Route::Upload,
        Route::TusCreation,
        Route::TusCreationBare,
        Route::TusUpload,
        Route::OpenApi,
        Route::SignedVideo,
        Route::SignedHls,
        Route::SignedStoryboardImage,
        Route::SignedStoryboardCues,
        Route::SignedThumbnail,
    ];

    fn name(self) -> &'static str {
        match self {
            Route::Video => "/videos/{vid}",
            Route::Hls => "/videos/{vid}/hls/{file}",
            Route::StoryboardImage => "/videos/{vid}/storyboard.jpg",
            Route::StoryboardCues => "/videos/{vid}/storyboard.vtt",
            Route::Original => "/videos/{vid}/original",
            Route::Thumbnail => "/thumbnails/{vid}",
            Route::Upload => "/upload/{vid}",
            Route::TusCreation => "/files/",
            Route::TusCreationBare => "/files",
            Route::TusUpload => "/files/{id}",
            Route::OpenApi => svc::openapi::PATH,
            Route::SignedVideo => "/s/{token}/videos/{vid}",
            Route::SignedHls => "/s/{token}/videos/{vid}/hls/{file}",
            Route::SignedStoryboardImage => "/s/{token}/videos/{vid}/storyboard.jpg",
            Route::SignedStoryboardCues => "/s/{token}/videos/{vid}/storyboard.vtt",
            Route::SignedThumbnail => "/s/{token}/thumbnails/{vid}",
        }
    }
}

impl Route {
    /// Whether the route serves a video's bytes or renditions (visibility-checked, see `access`).
    fn is_playback(self) -> bool {
        matches!(
            self,
            Route::Video
                | Route::Hls
                | Route::StoryboardImage
                | Route::StoryboardCues
                | Route::Original
                | Route::Thumbnail
        ) || self.is_signed()
    }

    /// Whether the route is a media route under a signed path.
    fn is_signed(self) -> bool {
        matches!(
            self,
            Route::SignedVideo
                | Route::SignedHls
                | Route::SignedStoryboardImage
                | Route::SignedStoryboardCues
                | Route::SignedThumbnail
        )
    }

    /// Whether other origins get the route's answers only when they are the site
    /// (`crate::cors`): signed media and uploads.
    fn is_site_only(self) -> bool {
        self.is_signed() || self == Route::Upload || self.is_tus()
    }

    /// Whether the route speaks tus (`Tus-Resumable` on every answer).
    fn is_tus(self) -> bool {
        matches!(
            self,
            Route::TusCreation | Route::TusCreationBare | Route::TusUpload
        )
    }
}

static TABLE: LazyLock<Router<Route>> = LazyLock::new(Route::table);

/// The contract of every route above, served at `GET /openapi.json` (checked against this table
/// by `tests/it/openapi.rs`).
const OPENAPI: &str = include_str!("../../openapi.json");

/// Answers one request: rate limit, route, handler; labels the response with its route.
pub async fn dispatch(state: &State, mut req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some((route, params)) = TABLE.at(&path) else {
        return not_found();
    };
    let args = Args {
        id: params
            .get("vid")
            .or_else(|| params.get("id"))
            .unwrap_or("")
            .to_owned(),
        file: params.get("file").unwrap_or("").to_owned(),
        token: params.get("token").map(str::to_owned),
    };
    let origin = cors::site_origin(state, req.headers());
    let client = client_ip(state, &req);
    let lease = lease_of(state, &req);
    if let Some(lease) = &lease {
        req.extensions_mut().insert(lease.clone());
    }
    let mut resp = match state.limits.check_rate(client) {
        Err(e) => {
            drop(head_of(req));
            e.into_response()
        }
        Ok(()) => handle(state, route, &args, req, client)
            .await
            .unwrap_or_else(Error::into_response),
    };
    if let Some(unused) = lease.and_then(|lease| lease.take()) {
        resp = playback::after_lease(resp, unused);
    }
    if route.is_tus() {
        resp = tus::finish(resp);
    }
    if route.is_playback() {
        resp = playback::finish(resp);
    }
    if route.is_site_only() {
        cors::grant(resp.headers_mut(), origin);
    }
    resp.extensions_mut().insert(RouteName(route.name()));
    resp
}

/// A matched route's path parameters, as sent.
struct Args {
    /// `{vid}` or tus's `{id}`.
    id: String,
    /// `{file}` of an HLS URL.
    file: String,
    /// `{token}` of a signed path.
    token: Option<String>,
}

/// The one place that decides which handler answers: unknown methods are 405 with `Allow`, and
/// a tus request (other than OPTIONS) in another protocol version is 412.
async fn handle(
    state: &State,
    route: Route,
    args: &Args,
    req: Request<Incoming>,
    client: IpAddr,
) -> Result<Response<Body>> {
    use renditions::Storyboard;
    use Method as M;
    use Route as R;
    let param = args.id.as_str();
    let token = args.token.as_deref();
    let method = req.method().clone();
    match (route, method) {
        (R::Video | R::SignedVideo, M::GET | M::HEAD) => {
            let req = head_of(req);
            let vid = ingest::video_id(param)?;
            let granted = access::grant(state, token, Opens::Video, &vid)?;
            playback::video(state, &req, &vid, client, granted).await
        }
        (R::Hls | R::SignedHls, M::GET | M::HEAD) => {
            let req = head_of(req);
            let vid = ingest::video_id(param)?;
            let granted = access::grant(state, token, Opens::Video, &vid)?;
            renditions::hls(state, &req, &vid, &args.file, client, granted).await
        }
        (R::StoryboardImage | R::SignedStoryboardImage, M::GET | M::HEAD) => {
            let req = head_of(req);
            let vid = ingest::video_id(param)?;
            let granted = access::grant(state, token, Opens::Video, &vid)?;
            let part = Storyboard::Image;
            renditions::storyboard(state, &req, &vid, part, client, granted).await
        }
        (R::StoryboardCues | R::SignedStoryboardCues, M::GET | M::HEAD) => {
            let req = head_of(req);
            let vid = ingest::video_id(param)?;
            let granted = access::grant(state, token, Opens::Video, &vid)?;
            let part = Storyboard::Cues;
            renditions::storyboard(state, &req, &vid, part, client, granted).await
        }
        (R::Thumbnail | R::SignedThumbnail, M::GET | M::HEAD) => {
            let req = head_of(req);
            let vid = ingest::video_id(param)?;
            let granted = access::grant(state, token, Opens::Thumbnail, &vid)?;
            playback::thumbnail(state, &req, &vid, client, granted).await
        }
        // Players on another origin (hls.js on a CDN page) send Range: the preflight is
        // answered without looking at the video, as for the progressive file.
        (R::Video | R::Hls | R::StoryboardImage | R::StoryboardCues, M::OPTIONS) => {
            Ok(playback::preflight())
        }
        // The site's pages on another origin read signed media (`dispatch` adds the grant).
        (
            R::SignedVideo
            | R::SignedHls
            | R::SignedStoryboardImage
            | R::SignedStoryboardCues
            | R::SignedThumbnail,
            M::OPTIONS,
        ) => Ok(cors::preflight(&[M::GET, M::HEAD, M::OPTIONS])),
        (
            R::Video
            | R::Hls
            | R::StoryboardImage
            | R::StoryboardCues
            | R::SignedVideo
            | R::SignedHls
            | R::SignedStoryboardImage
            | R::SignedStoryboardCues
            | R::SignedThumbnail,
            _,
        ) => Ok(method_not_allowed(&[M::GET, M::HEAD, M::OPTIONS])),
        // The owner's download is never shared with another origin: no preflight.
        (R::Original, M::GET | M::HEAD) => {
            let req = head_of(req);
            Box::pin(renditions::original(
                state,
                &req,
                &ingest::video_id(param)?,
                client,
            ))
            .await
        }
        (R::Original, _) => Ok(method_not_allowed(&[M::GET, M::HEAD])),
        (R::Thumbnail, _) => Ok(method_not_allowed(&[M::GET, M::HEAD])),
        (R::Upload, M::PUT | M::POST) => {
            Box::pin(upload::upload(state, req, ingest::video_id(param)?)).await
        }
        (R::Upload, M::OPTIONS) => Ok(cors::preflight(&[M::POST, M::PUT, M::OPTIONS])),
        (R::Upload, _) => Ok(method_not_allowed(&[M::OPTIONS, M::POST, M::PUT])),
        (R::TusCreation | R::TusCreationBare, M::OPTIONS) => {
            Ok(tus::options(state, &[M::OPTIONS, M::POST]))
        }
        (R::TusUpload, M::OPTIONS) => Ok(tus::options(
            state,
            &[M::OPTIONS, M::HEAD, M::PATCH, M::DELETE],
        )),
        (R::TusCreation | R::TusCreationBare | R::TusUpload, _)
            if !tus::speaks_version(req.headers()) =>
        {
            Ok(tus::version_mismatch(req.headers()))
        }
        (R::TusCreation | R::TusCreationBare, M::POST) => Box::pin(tus::create(state, req)).await,
        (R::TusCreation | R::TusCreationBare, _) => Ok(method_not_allowed(&[M::OPTIONS, M::POST])),
        (R::TusUpload, M::HEAD) => Box::pin(tus::head(state, req, param)).await,
        (R::TusUpload, M::PATCH) => Box::pin(tus::patch(state, req, param)).await,
        (R::TusUpload, M::DELETE) => Box::pin(tus::terminate(state, req, param)).await,
        (R::TusUpload, _) => Ok(method_not_allowed(&[
            M::OPTIONS,
            M::HEAD,
            M::PATCH,
            M::DELETE,
        ])),
        (R::OpenApi, M::GET) => Ok(svc::openapi::response(OPENAPI)),
        (R::OpenApi, _) => Ok(method_not_allowed(&[M::GET])),
    }
}

/// A playback request as its handlers see it: the head, with the body in the request's
/// [`Lease`] if it has one.
fn head_of(req: Request<Incoming>) -> Request<()> {
    let (parts, body) = req.into_parts();
    if let Some(lease) = parts.extensions.get::<Lease>() {
        lease.fill(body);
    }
    Request::from_parts(parts, ())
}

/// The lease of a request that offers to send local files itself ([`svc::local_file::ACCEPT`]),
/// if it does: a `GET` (whose handlers never read a body). Only a trusted proxy's lease can be
/// taken by a local-file answer.
fn lease_of(state: &State, req: &Request<Incoming>) -> Option<Lease> {
    if req.method() != Method::GET || !req.headers().contains_key(local_file::ACCEPT) {
        return None;
    }
    let trusted = req
        .extensions()
        .get::<PeerAddr>()
        .is_some_and(|peer| state.limits.is_trusted(peer.0.ip()));
    Some(Lease::new(trusted))
}

/// The client behind the request, for the per-client limits.
fn client_ip(state: &State, req: &Request<Incoming>) -> IpAddr {
    let peer = req
        .extensions()
        .get::<PeerAddr>()
        .map_or(Ipv4Addr::LOCALHOST.into(), |p| p.0.ip());
    state.limits.client_ip(peer, req.headers())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_each_pattern_and_nothing_else() {
        let vid = svc::VideoId::random();
        for (path, route) in [
            (format!("/videos/{vid}"), Route::Video),
            (format!("/videos/{vid}/hls/master.m3u8"), Route::Hls),
            (format!("/videos/{vid}/hls/360p.mp4"), Route::Hls),
            (format!("/videos/{vid}/hls/anything"), Route::Hls),
            (
                format!("/videos/{vid}/storyboard.jpg"),
                Route::StoryboardImage,
            ),
            (
                format!("/videos/{vid}/storyboard.vtt"),
                Route::StoryboardCues,
            ),
            (format!("/videos/{vid}/original"), Route::Original),
            (format!("/thumbnails/{vid}"), Route::Thumbnail),
            (format!("/upload/{vid}"), Route::Upload),
            ("/files/".to_string(), Route::TusCreation),
            ("/files".to_string(), Route::TusCreationBare),
            ("/files/abc".to_string(), Route::TusUpload),
            (format!("/s/t/videos/{vid}"), Route::SignedVideo),
            (
                format!("/s/t/videos/{vid}/hls/master.m3u8"),
                Route::SignedHls,
            ),
            (
                format!("/s/t/videos/{vid}/storyboard.jpg"),
                Route::SignedStoryboardImage,
            ),
            (
                format!("/s/t/videos/{vid}/storyboard.vtt"),
                Route::SignedStoryboardCues,
            ),
            (format!("/s/t/thumbnails/{vid}"), Route::SignedThumbnail),
        ] {
            assert_eq!(TABLE.at(&path).map(|(r, _)| r), Some(route), "{path}");
        }
        for path in [
            "/",
            "/videos",
            "/videos/",
            "/videos/a/b",
            "/videos/a/hls",
            "/videos/a/hls/",
            "/videos/a/hls/b/c",
            "/videos/a/storyboard.png",
            "/videos/a/original/x",
            "/files/a/b",
            "/upload",
            "/s/t/videos/a/original",
            "/s/t/upload/a",
            "/s/t/files/",
            "/s/videos/a",
        ] {
            assert!(TABLE.at(path).is_none(), "{path}");
        }
        for route in Route::ALL {
            assert!(route.name().starts_with('/'), "{route:?}");
            assert_eq!(
                route.is_tus(),
                route.name().starts_with("/files"),
                "{route:?}"
            );
            let playback = ["/videos/", "/thumbnails/", "/s/{token}/"];
            assert_eq!(
                route.is_playback(),
                playback.iter().any(|p| route.name().starts_with(p)),
                "{route:?}"
            );
        }
    }
}
