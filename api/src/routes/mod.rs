//! The whole api on one screen: the route table and the dispatch `match`. Handlers live in one
//! module per resource; what they share for reading requests is in `crate::request`.

mod comments;
mod danmaku;
mod favorites;
mod follows;
mod live;
mod users;
mod videos;

use std::sync::LazyLock;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use svc::http::{Body, RouteName};
use svc::router::{method_not_allowed, not_found, Route as _, Router};

use crate::error::ApiError;
use crate::state::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Users,
    User,
    Session,
    UserVideos,
    UserVideo,
    Videos,
    Video,
    VideoComments,
    VideoComment,
    Search,
    /// This api's OpenAPI document (`api/openapi.json`).
    OpenApi,
    VideoDanmaku,
    VideoDanmakuItem,
    /// A video's live updates (Server-Sent Events).
    VideoLive,
    UserFavorites,
    UserFavorite,
    UserFollowing,
    /// The newest videos of the channels the session's user follows.
    Feed,
    /// An upload token for the media origin (issue 16).
    VideoUploadToken,
}

impl svc::router::Route for Route {
    const ALL: &'static [Self] = &[
        Route::Users,
        Route::User,
        Route::Session,
        Route::UserVideos,
        Route::UserVideo,
        Route::Videos,
        Route::Video,
        Route::VideoComments,
        Route::VideoComment,
        Route::Search,
        Route::OpenApi,
        Route::VideoDanmaku,
        Route::VideoDanmakuItem,
        Route::VideoLive,
        Route::UserFavorites,
        Route::UserFavorite,
        Route::UserFollowing,
        Route::Feed,
        Route::VideoUploadToken,
    ];

    /// The pattern, which is also the metrics label: never the concrete path.
    fn name(self) -> &'static str {
        match self {
            Route::Users => "/user",
            Route::User => "/user/{username}",
            Route::Session => "/session",
            Route::UserVideos => "/user/{username}/videos",
            Route::UserVideo => "/user/{username}/videos/{vid}",
            Route::Videos => "/videos",
            Route::Video => "/videos/{vid}",
            Route::VideoComments => "/videos/{vid}/comments",
            Route::VideoComment => "/videos/{vid}/comment/{cid}",
            Route::Search => "/search",
            Route::OpenApi => svc::openapi::PATH,
            Route::VideoDanmaku => "/videos/{vid}/danmaku",
            Route::VideoDanmakuItem => "/videos/{vid}/danmaku/{did}",
            Route::VideoLive => "/videos/{vid}/live",
            Route::UserFavorites => "/user/{username}/favorites",
            Route::UserFavorite => "/user/{username}/favorites/{vid}",
            Route::UserFollowing => "/user/{username}/following/{other}",
            Route::Feed => "/feed",
            Route::VideoUploadToken => "/videos/{vid}/upload-token",
        }
    }
}

/// The contract of every route above, served at `GET /openapi.json` (checked against this table
/// by `tests/it/openapi.rs`).
const OPENAPI: &str = include_str!("../../openapi.json");

/// The table, built once on first use from [`Route::ALL`].
static TABLE: LazyLock<Router<Route>> = LazyLock::new(Route::table);

/// The decoded path parameters of a matched route.
struct Args {
    user: Option<String>,
    vid: Option<String>,
    cid: Option<String>,
    /// A danmaku's id.
    did: Option<String>,
    /// The user a follow route is about (`{username}` is the follower).
    other: Option<String>,
}

impl Args {
    /// Path segments arrive percent-encoded (a Unicode user name); they are decoded once here. A
    /// segment that is not UTF-8 after decoding cannot name anything.
    fn decode(params: &svc::router::Params<'_, '_>) -> Self {
        let arg = |name: &str| -> Option<String> {
            let raw = params.get(name)?;
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        };
        Args {
            user: arg("username"),
            vid: arg("vid"),
            cid: arg("cid"),
            did: arg("did"),
            other: arg("other"),
        }
    }

    fn user(&self) -> Result<String, ApiError> {
        needs(&self.user)
    }

    fn vid(&self) -> Result<String, ApiError> {
        needs(&self.vid)
    }

    fn cid(&self) -> Result<String, ApiError> {
        needs(&self.cid)
    }

    fn did(&self) -> Result<String, ApiError> {
        needs(&self.did)
    }

    fn other(&self) -> Result<String, ApiError> {
        needs(&self.other)
    }
}

fn needs(arg: &Option<String>) -> Result<String, ApiError> {
    arg.clone().ok_or(ApiError::NotFound("no such resource"))
}

pub async fn dispatch(api: &Api, req: Request<Incoming>) -> Response<Body> {
    let Some((route, params)) = TABLE.at(req.uri().path()) else {
        return not_found();
    };
    let args = Args::decode(&params);
    let result = handle(api, req, route, &args).await;
    let mut resp = result.unwrap_or_else(ApiError::into_response);
    resp.extensions_mut().insert(RouteName(route.name()));
    resp
}

/// Whether the server loop hands this request over on the bare connection
/// (`svc::App::takes_over`): a video's live stream, which stays open and idle for long.
pub fn takes_over(method: &Method, path: &str) -> bool {
    method == Method::GET && matches!(TABLE.at(path), Some((Route::VideoLive, _)))
}

/// A request the server loop handed over ([`takes_over`]): the same route, the same answers.
pub async fn dispatch_taken_over(api: &Api, req: Request<()>) -> Response<Body> {
    let Some((Route::VideoLive, params)) = TABLE.at(req.uri().path()) else {
        return not_found();
    };
    let vid = Args::decode(&params).vid();
    let result = match vid {
        Ok(vid) => live::stream(api, req, vid).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(ApiError::into_response);
    resp.extensions_mut()
        .insert(RouteName(Route::VideoLive.name()));
    resp
}

/// Every (route, method) pair the api answers, and 405 with `Allow` for the rest.
async fn handle(
    api: &Api,
    req: Request<Incoming>,
    route: Route,
    a: &Args,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    match (route, &method) {
        (Route::Users, &Method::POST) => users::register(api, req).await,
        (Route::Users, _) => Ok(method_not_allowed(&[Method::POST])),
        (Route::User, &Method::POST) => users::login(api, req, a.user()?).await,
        (Route::User, &Method::GET) => users::profile(api, req, a.user()?).await,
        (Route::User, &Method::DELETE) => users::logout(api, req, a.user()?).await,
        (Route::User, _) => Ok(method_not_allowed(&[
            Method::GET,
            Method::POST,
            Method::DELETE,
        ])),
        (Route::Session, &Method::GET) => users::session(api, req).await,
        (Route::Session, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::UserVideos, &Method::POST) => videos::create(api, req, a.user()?).await,
        (Route::UserVideos, &Method::GET) => videos::list(api, req, a.user()?).await,
        (Route::UserVideos, _) => Ok(method_not_allowed(&[Method::GET, Method::POST])),
        (Route::UserVideo, &Method::GET) => videos::get(api, req, Some(a.user()?), a.vid()?).await,
        (Route::UserVideo, &Method::PATCH) => videos::edit(api, req, a.user()?, a.vid()?).await,
        (Route::UserVideo, &Method::DELETE) => videos::delete(api, req, a.user()?, a.vid()?).await,
        (Route::UserVideo, _) => Ok(method_not_allowed(&[
            Method::GET,
            Method::PATCH,
            Method::DELETE,
        ])),
        (Route::Videos, &Method::GET) => videos::feed(api, req).await,
        (Route::Videos, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::Video, &Method::GET) => videos::get(api, req, None, a.vid()?).await,
        (Route::Video, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::VideoComments, &Method::POST) => comments::create(api, req, a.vid()?).await,
        (Route::VideoComments, &Method::GET) => comments::list(api, req, a.vid()?).await,
        (Route::VideoComments, _) => Ok(method_not_allowed(&[Method::GET, Method::POST])),
        (Route::VideoComment, &Method::DELETE) => {
            comments::delete(api, req, a.vid()?, a.cid()?).await
        }
        (Route::VideoComment, _) => Ok(method_not_allowed(&[Method::DELETE])),
        (Route::Search, &Method::GET) => videos::search(api, req).await,
        (Route::Search, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::OpenApi, &Method::GET) => Ok(svc::openapi::response(OPENAPI)),
        (Route::OpenApi, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::VideoDanmaku, &Method::POST) => danmaku::create(api, req, a.vid()?).await,
        (Route::VideoDanmaku, &Method::GET) => danmaku::list(api, req, a.vid()?).await,
        (Route::VideoDanmaku, _) => Ok(method_not_allowed(&[Method::GET, Method::POST])),
        (Route::VideoDanmakuItem, &Method::DELETE) => {
            danmaku::delete(api, req, a.vid()?, a.did()?).await
        }
        (Route::VideoDanmakuItem, _) => Ok(method_not_allowed(&[Method::DELETE])),
        (Route::VideoLive, &Method::GET) => live::stream(api, req, a.vid()?).await,
        (Route::VideoLive, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::UserFavorites, &Method::GET) => favorites::list(api, req, a.user()?).await,
        (Route::UserFavorites, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::UserFavorite, &Method::GET) => favorites::get(api, req, a.user()?, a.vid()?).await,
        (Route::UserFavorite, &Method::PUT) => favorites::put(api, req, a.user()?, a.vid()?).await,
        (Route::UserFavorite, &Method::DELETE) => {
            favorites::delete(api, req, a.user()?, a.vid()?).await
        }
        (Route::UserFavorite, _) => Ok(method_not_allowed(&[
            Method::GET,
            Method::PUT,
            Method::DELETE,
        ])),
        (Route::UserFollowing, &Method::GET) => follows::get(api, req, a.user()?, a.other()?).await,
        (Route::UserFollowing, &Method::PUT) => follows::put(api, req, a.user()?, a.other()?).await,
        (Route::UserFollowing, &Method::DELETE) => {
            follows::delete(api, req, a.user()?, a.other()?).await
        }
        (Route::UserFollowing, _) => Ok(method_not_allowed(&[
            Method::GET,
            Method::PUT,
            Method::DELETE,
        ])),
        (Route::Feed, &Method::GET) => follows::feed(api, req).await,
        (Route::Feed, _) => Ok(method_not_allowed(&[Method::GET])),
        (Route::VideoUploadToken, &Method::POST) => videos::upload_token(api, req, a.vid()?).await,
        (Route::VideoUploadToken, _) => Ok(method_not_allowed(&[Method::POST])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_builds_and_matches_each_pattern() {
        let t = Route::table();
        for (path, route) in [
            ("/user", Route::Users),
            ("/user/ann", Route::User),
            ("/session", Route::Session),
            ("/user/ann/videos", Route::UserVideos),
            ("/user/ann/videos/v1", Route::UserVideo),
            ("/videos", Route::Videos),
            ("/videos/v1", Route::Video),
            ("/videos/v1/comments", Route::VideoComments),
            ("/videos/v1/comment/c1", Route::VideoComment),
            ("/search", Route::Search),
            ("/videos/v1/danmaku", Route::VideoDanmaku),
            ("/videos/v1/danmaku/7", Route::VideoDanmakuItem),
            ("/videos/v1/live", Route::VideoLive),
            ("/user/ann/favorites", Route::UserFavorites),
            ("/user/ann/favorites/v1", Route::UserFavorite),
            ("/user/ann/following/bob", Route::UserFollowing),
            ("/feed", Route::Feed),
            ("/videos/v1/upload-token", Route::VideoUploadToken),
        ] {
            assert_eq!(t.at(path).map(|(r, _)| r), Some(route), "{path}");
        }
        assert!(t.at("/search/x").is_none());
        assert!(t.at("/sessions").is_none());
        assert!(t.at("/videos/v1/x").is_none());
        assert!(t.at("/user/ann/videos/v1/x").is_none());
    }

    #[test]
    fn every_route_is_in_the_table_under_its_own_name() {
        for route in Route::ALL {
            let (found, _) = TABLE
                .at(route.name())
                .unwrap_or_else(|| panic!("{} is not in the table", route.name()));
            assert_eq!(found, *route);
        }
        let mut names: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Route::ALL.len(), "two routes share a label");
    }

    #[test]
    fn path_segments_are_percent_decoded_once() {
        let (_, params) = TABLE.at("/user/Zo%C3%AB/videos/v%2F1").unwrap();
        let args = Args::decode(&params);
        assert_eq!(args.user().unwrap(), "Zoë");
        assert_eq!(args.vid().unwrap(), "v/1");
        assert!(matches!(args.cid(), Err(ApiError::NotFound(_))));
        let (_, params) = TABLE.at("/user/%FF").unwrap();
        assert!(matches!(
            Args::decode(&params).user(),
            Err(ApiError::NotFound(_))
        ));
    }
}
