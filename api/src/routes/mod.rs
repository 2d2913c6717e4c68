//! The whole api on one screen: the route table, the dispatch `match`, and the request helpers
//! every handler shares (JSON bodies, path segments, page parameters). Handlers live in one
//! module per resource.

mod comments;
mod users;
mod videos;

use http::{header, Method, Request, Response};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use svc::http::{Body, RouteName};
use svc::router::{method_not_allowed, not_found, Router};

use crate::domain::{Cursor, Limit};
use crate::error::ApiError;
use crate::Api;

/// Request bodies larger than this are refused with 413 (SPEC section 3).
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Users,
    User,
    UserVideos,
    UserVideo,
    Video,
    VideoComments,
    VideoComment,
}

impl Route {
    /// The metrics label: the pattern, never the concrete path.
    fn name(self) -> &'static str {
        match self {
            Route::Users => "/user",
            Route::User => "/user/{username}",
            Route::UserVideos => "/user/{username}/videos",
            Route::UserVideo => "/user/{username}/videos/{vid}",
            Route::Video => "/videos/{vid}",
            Route::VideoComments => "/videos/{vid}/comments",
            Route::VideoComment => "/videos/{vid}/comment/{cid}",
        }
    }
}

pub fn table() -> Router<Route> {
    let routes = [
        Route::Users,
        Route::User,
        Route::UserVideos,
        Route::UserVideo,
        Route::Video,
        Route::VideoComments,
        Route::VideoComment,
    ];
    let pairs: Vec<(&str, Route)> = routes.iter().map(|r| (r.name(), *r)).collect();
    Router::new(&pairs)
}

pub async fn dispatch(api: &Api, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some((route, params)) = api.router.at(&path) else {
        return not_found();
    };
    // Path segments arrive percent-encoded (a Unicode user name); decode them once here. A
    // segment that is not UTF-8 after decoding cannot name anything.
    let arg = |name: &str| -> Option<String> {
        let raw = params.get(name)?;
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    let (user, vid, cid) = (arg("username"), arg("vid"), arg("cid"));
    let needs = |v: &Option<String>| v.clone().ok_or(ApiError::NotFound("no such resource"));
    let method = req.method().clone();
    let result: Result<Response<Body>, ApiError> = async {
        match (route, &method) {
            (Route::Users, &Method::POST) => users::register(api, req).await,
            (Route::Users, _) => Ok(method_not_allowed(&[Method::POST])),
            (Route::User, &Method::POST) => users::login(api, req, needs(&user)?).await,
            (Route::User, &Method::GET) => users::profile(api, req, needs(&user)?).await,
            (Route::User, &Method::DELETE) => users::logout(api, req, needs(&user)?).await,
            (Route::User, _) => Ok(method_not_allowed(&[
                Method::GET,
                Method::POST,
                Method::DELETE,
            ])),
            (Route::UserVideos, &Method::POST) => videos::create(api, req, needs(&user)?).await,
            (Route::UserVideos, &Method::GET) => videos::list(api, req, needs(&user)?).await,
            (Route::UserVideos, _) => Ok(method_not_allowed(&[Method::GET, Method::POST])),
            (Route::UserVideo, &Method::GET) => {
                videos::get(api, req, Some(needs(&user)?), needs(&vid)?).await
            }
            (Route::UserVideo, &Method::DELETE) => {
                videos::delete(api, req, needs(&user)?, needs(&vid)?).await
            }
            (Route::UserVideo, _) => Ok(method_not_allowed(&[Method::GET, Method::DELETE])),
            (Route::Video, &Method::GET) => videos::get(api, req, None, needs(&vid)?).await,
            (Route::Video, _) => Ok(method_not_allowed(&[Method::GET])),
            (Route::VideoComments, &Method::POST) => comments::create(api, req, needs(&vid)?).await,
            (Route::VideoComments, &Method::GET) => comments::list(api, req, needs(&vid)?).await,
            (Route::VideoComments, _) => Ok(method_not_allowed(&[Method::GET, Method::POST])),
            (Route::VideoComment, &Method::DELETE) => {
                comments::delete(api, req, needs(&vid)?, needs(&cid)?).await
            }
            (Route::VideoComment, _) => Ok(method_not_allowed(&[Method::DELETE])),
        }
    }
    .await;
    let mut resp = result.unwrap_or_else(ApiError::into_response);
    resp.extensions_mut().insert(RouteName(route.name()));
    resp
}

/// Reads and parses a JSON body: 415 if it says it is something else, 413 over
/// [`BODY_LIMIT`], 400 with serde's words for anything malformed.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        // A missing Content-Type is accepted (the original's clients often sent none).
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "request body must be JSON (Content-Type: application/json), not {essence:?}"
            )));
        }
    }
    let bytes = svc::http::read_body(req.into_body(), BODY_LIMIT).await?;
    // serde reads a struct from a JSON array too (`["ann", "pwd"]`); every body here is an
    // object, so anything else is the wrong type.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "request body must be a JSON object, for example {\"name\": \"...\"}".into(),
            ))
        }
    }
    svc::http::parse_json(&bytes).map_err(ApiError::BadRequest)
}

/// `?limit=&before=` of a list route; other parameters are ignored.
pub struct Page {
    pub limit: Limit,
    pub before: Option<Cursor>,
}

impl Page {
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut limit = None;
        let mut before = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "limit" => limit = Some(v.into_owned()),
                "before" => before = Some(v.into_owned()),
                _ => {}
            }
        }
        let limit = Limit::parse(limit.as_deref()).map_err(ApiError::BadRequest)?;
        let before = match before.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::parse(raw).map_err(ApiError::BadRequest)?),
        };
        Ok(Page { limit, before })
    }
}

/// Splits a fetched `limit + 1` rows into the page and whether another page follows.
pub fn split_page<T>(mut rows: Vec<T>, limit: Limit) -> (Vec<T>, bool) {
    let more = rows.len() > limit.get() as usize;
    rows.truncate(limit.get() as usize);
    (rows, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_builds_and_matches_each_pattern() {
        let t = table();
        for (path, route) in [
            ("/user", Route::Users),
            ("/user/ann", Route::User),
            ("/user/ann/videos", Route::UserVideos),
            ("/user/ann/videos/v1", Route::UserVideo),
            ("/videos/v1", Route::Video),
            ("/videos/v1/comments", Route::VideoComments),
            ("/videos/v1/comment/c1", Route::VideoComment),
        ] {
            assert_eq!(t.at(path).map(|(r, _)| r), Some(route), "{path}");
        }
        assert!(t.at("/videos").is_none());
        assert!(t.at("/videos/v1/x").is_none());
        assert!(t.at("/user/ann/videos/v1/x").is_none());
    }

    #[test]
    fn page_parameters() {
        let p = Page::from_query(None).unwrap();
        assert_eq!(p.limit.get(), 20);
        assert!(p.before.is_none());
        let p = Page::from_query(Some("limit=5&before=&x=1")).unwrap();
        assert_eq!(p.limit.get(), 5);
        assert!(p.before.is_none());
        assert!(matches!(
            Page::from_query(Some("limit=500")),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            Page::from_query(Some("before=forged")),
            Err(ApiError::BadRequest(_))
        ));
        let (rows, more) = split_page(vec![1, 2, 3], Limit::parse(Some("2")).unwrap());
        assert_eq!((rows, more), (vec![1, 2], true));
        let (rows, more) = split_page(vec![1, 2], Limit::parse(Some("2")).unwrap());
        assert_eq!((rows, more), (vec![1, 2], false));
    }
}
