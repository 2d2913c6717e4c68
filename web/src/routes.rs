//! Where every request to web goes: the one route table (pages, static assets and the proxied
//! prefixes alike) and the dispatch, one exhaustive `match (route, method)`.
//!
//! A request passes these steps in order (`handle` below): a state-changing request from another
//! site is refused (403) whatever its path; a path no route matches is 404; a page route learns
//! who is signed in (`Visit::identify`); the match hands the rest to a page (`pages.rs`), the
//! static assets (`assets.rs`) or the proxy (`proxy.rs`), or, with a media origin
//! (`media.rs`), redirects a read of a media path there; an error is answered as JSON or as an
//! HTML page depending on the route and the client; the site's own answers get their cookie
//! (`Visit::settle`) and their security headers, where only the embed player may be framed.
//! Each route's pattern is also its metrics label, so a label never holds an id. What a
//! handler does belongs in its module, not here.

use std::sync::OnceLock;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use svc::http::{Body, RouteName};
use svc::router::{method_not_allowed, Params, Route as _, Router};

use crate::assets;
use crate::error::WebError;
use crate::pages::{self, Form, Framing, PageResult, Visit};
use crate::proxy::Caller;
use crate::session;
use crate::views;
use crate::Web;

/// Every path web answers. A proxied prefix needs its bare form (`/videos/`) besides its
/// catch-all (`/videos/{*rest}`), because a catch-all never matches an empty rest; both are
/// forwarded, as they were when the proxy matched string prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The front page: the newest public videos.
    Home,
    /// The signed-in user's videos and the upload.
    Studio,
    Login,
    Register,
    Logout,
    Watch,
    /// The owner's edit form of a video (GET) and its save (POST).
    Edit,
    Comments,
    CommentDelete,
    VideoDelete,
    /// A channel page.
    User,
    /// A channel's Atom feed.
    Feed,
    Search,
    /// The bare player other sites may frame.
    Embed,
    /// The signed-in user's favourite videos.
    Favorites,
    /// The newest videos of the channels the signed-in user follows.
    Subscriptions,
    /// The heart's form post on a watch page.
    Favorite,
    /// The Follow button's form post.
    Follow,
    Static,
    /// `/api/<rest>` to the api as `/<rest>`.
    ApiRoot,
    Api,
    /// The streamserver's paths, forwarded unchanged.
    Stream(Stream),
}

/// A prefix of the streamserver's, bare or with a rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    VideosRoot,
    Videos,
    UploadRoot,
    Upload,
    ThumbnailsRoot,
    Thumbnails,
    /// tus creation (`POST /files` or `/files/`) and one upload (`/files/<id>`).
    FilesBare,
    FilesRoot,
    Files,
}

impl Stream {
    /// Whether the prefix holds media a page shows (playback, HLS, storyboard, thumbnails):
    /// with a media origin, reading them is a redirect there. Uploads stay proxied.
    fn is_media(self) -> bool {
        matches!(
            self,
            Stream::VideosRoot | Stream::Videos | Stream::ThumbnailsRoot | Stream::Thumbnails
        )
    }
}

impl svc::router::Route for Route {
    const ALL: &'static [Self] = &[
        Route::Home,
        Route::Studio,
        Route::Login,
        Route::Register,
        Route::Logout,
        Route::Watch,
        Route::Edit,
        Route::Comments,
        Route::CommentDelete,
        Route::VideoDelete,
        Route::User,
        Route::Feed,
        Route::Search,
        Route::Embed,
        Route::Favorites,
        Route::Subscriptions,
        Route::Favorite,
        Route::Follow,
        Route::Static,
        Route::ApiRoot,
        Route::Api,
        Route::Stream(Stream::VideosRoot),
        Route::Stream(Stream::Videos),
        Route::Stream(Stream::UploadRoot),
        Route::Stream(Stream::Upload),
        Route::Stream(Stream::ThumbnailsRoot),
        Route::Stream(Stream::Thumbnails),
        Route::Stream(Stream::FilesBare),
        Route::Stream(Stream::FilesRoot),
        Route::Stream(Stream::Files),
    ];

    fn name(self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Studio => "/studio",
            Route::Login => "/login",
            Route::Register => "/register",
            Route::Logout => "/logout",
            Route::Watch => "/watch/{vid}",
            Route::Edit => "/watch/{vid}/edit",
            Route::Comments => "/watch/{vid}/comments",
            Route::CommentDelete => "/watch/{vid}/comments/{cid}/delete",
            Route::VideoDelete => "/my/videos/{vid}/delete",
            Route::User => "/u/{name}",
            Route::Feed => "/u/{name}/feed.xml",
            Route::Search => "/search",
            Route::Embed => "/embed/{vid}",
            Route::Favorites => "/favorites",
            Route::Subscriptions => "/subscriptions",
            Route::Favorite => "/watch/{vid}/favorite",
            Route::Follow => "/u/{name}/follow",
            Route::Static => "/static/{*path}",
            Route::ApiRoot => "/api/",
            Route::Api => "/api/{*rest}",
            Route::Stream(Stream::VideosRoot) => "/videos/",
            Route::Stream(Stream::Videos) => "/videos/{*rest}",
            Route::Stream(Stream::UploadRoot) => "/upload/",
            Route::Stream(Stream::Upload) => "/upload/{*rest}",
            Route::Stream(Stream::ThumbnailsRoot) => "/thumbnails/",
            Route::Stream(Stream::Thumbnails) => "/thumbnails/{*rest}",
            Route::Stream(Stream::FilesBare) => "/files",
            Route::Stream(Stream::FilesRoot) => "/files/",
            Route::Stream(Stream::Files) => "/files/{*rest}",
        }
    }
}

impl Route {
    /// The route of `path` and its parameters, or `None` (404).
    pub fn find(path: &str) -> Option<(Route, Params<'static, '_>)> {
        static TABLE: OnceLock<Router<Route>> = OnceLock::new();
        TABLE.get_or_init(Route::table).at(path)
    }

    /// Whether errors are always answered as JSON: the api's and tus's clients are scripts,
    /// whatever they accept. Elsewhere a client that accepts `text/html` gets an error page.
    fn answers_json(self) -> bool {
        matches!(
            self,
            Route::ApiRoot
                | Route::Api
                | Route::Stream(Stream::FilesBare | Stream::FilesRoot | Stream::Files)
        )
    }

    /// Whether the route is the site's own (a page or an asset) rather than proxied.
    fn is_site(self) -> bool {
        !matches!(self, Route::ApiRoot | Route::Api | Route::Stream(_))
    }

    /// Whether the page depends on who is signed in (and so asks). Assets, the feed and the
    /// embed player are the same for everyone; proxied requests carry the cookie on as it is.
    fn knows_visitor(self) -> bool {
        self.is_site() && !matches!(self, Route::Static | Route::Feed | Route::Embed)
    }

    /// Who may frame the route's answers: only the embed player's may be framed.
    fn framing(self) -> Framing {
        match self {
            Route::Embed => Framing::Anyone,
            _ => Framing::Deny,
        }
    }
}

impl svc::App for Web {
    async fn handle(&self, mut req: Request<Incoming>) -> Response<Body> {
        fill_host(&mut req);
        let path = req.uri().path().to_owned();
        let found = Route::find(&path);
        let route = found.as_ref().map(|(route, _)| *route);
        let as_json = route.is_some_and(Route::answers_json) || !accepts_html(req.headers());
        let mut visit = Visit::of(self, &req);
        let result = match found {
            _ if is_foreign(&req) => Err(WebError::ForeignOrigin),
            None => Err(WebError::NotFound),
            Some((route, params)) => self.dispatch(route, &params, &mut visit, req).await,
        };
        // An error page shows the visitor's own header (signed in or not), also where the
        // route never asked who they are (an unknown path, a refused foreign post). An api that
        // cannot say is a signed-out header, not a second error.
        if result.is_err() && !as_json && visit.me.is_none() && visit.session.is_some() {
            let _ = visit.identify().await;
        }
        let mut resp = result.unwrap_or_else(|e| answer_error(&e, as_json, &visit));
        // Site answers (pages, assets, web's own 404s) get the site's headers; proxied ones are
        // the upstream's own.
        if route.is_none_or(Route::is_site) {
            visit.settle(&mut resp);
            pages::harden(&mut resp, route.map_or(Framing::Deny, Route::framing));
        }
        if let Some(route) = route {
            resp.extensions_mut().insert(RouteName(route.name()));
        }
        resp
    }

    async fn ready(&self) -> Result<(), String> {
        // web holds no state of its own: it can serve (and say 502 clearly) whatever the
        // upstreams are doing, so it is ready as soon as it listens.
        Ok(())
    }
}

impl Web {
    /// The one decision of what answers a request.
    async fn dispatch(
        &self,
        route: Route,
        params: &Params<'_, '_>,
        visit: &mut Visit<'_>,
        req: Request<Incoming>,
    ) -> PageResult {
        use Route as R;
        let method = req.method().clone();
        if route.knows_visitor() {
            visit.identify().await?;
        }
        let visit = &*visit;
        let param = |name: &str| params.get(name).unwrap_or("").to_string();
        let query = req.uri().query().map(str::to_owned);
        let query_param = |name: &str| pages::query_param(query.as_deref(), name);
        let before = || query_param("before");
        let read = matches!(method, Method::GET | Method::HEAD);
        let here = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let result = match (route, &method) {
            (R::ApiRoot | R::Api, _) => self.proxy.to_api(req, caller(visit)).await,
            (R::Stream(stream), _) if read && stream.is_media() && !is_original(&here) => {
                match self.media.redirect(&here) {
                    Some(there) => Ok(temporary_redirect(&there)),
                    None => self.proxy.to_stream(req, caller(visit)).await,
                }
            }
            (R::Stream(_), _) => self.proxy.to_stream(req, caller(visit)).await,
            (R::Home, _) if read => pages::front(visit, before()).await,
            (R::Studio, _) if read => pages::studio(visit, before()).await,
            (R::Login | R::Register, _) if read => pages::login_form(visit, query_param("next")),
            (R::Login | R::Register, &Method::POST) => {
                let form = Form::read(req).await?;
                pages::sign_in(visit, &form, route == R::Register).await
            }
            (R::Logout, &Method::POST) => pages::sign_out(visit).await,
            (R::Watch, _) if read => pages::watch(visit, &param("vid")).await,
            (R::Edit, _) if read => pages::edit_form(visit, &param("vid")).await,
            (R::Edit, &Method::POST) => {
                let form = Form::read(req).await?;
                pages::save_edit(visit, &param("vid"), &form).await
            }
            (R::Comments, &Method::POST) => {
                let form = Form::read(req).await?;
                pages::post_comment(visit, &param("vid"), &form).await
            }
            (R::CommentDelete, &Method::POST) => {
                pages::delete_comment(visit, &param("vid"), &param("cid")).await
            }
            (R::VideoDelete, &Method::POST) => pages::delete_video(visit, &param("vid")).await,
            (R::User, _) if read => pages::channel(visit, &param("name"), before()).await,
            (R::Feed, _) if read => pages::feed(visit, &param("name")).await,
            (R::Search, _) if read => pages::search(visit, query_param("q"), before()).await,
            (R::Embed, _) if read => pages::embed(visit, &param("vid")).await,
            (R::Favorites, _) if read => pages::favorites(visit, before()).await,
            (R::Subscriptions, _) if read => pages::subscriptions(visit, before()).await,
            (R::Favorite, &Method::POST) => {
                let form = Form::read(req).await?;
                pages::set_favorite(visit, &param("vid"), &form).await
            }
            (R::Follow, &Method::POST) => {
                let form = Form::read(req).await?;
                pages::set_follow(visit, &param("name"), &form).await
            }
            (R::Static, _) if read => {
                assets::serve(&method, &param("path"), query.as_deref(), req.headers())
                    .ok_or(WebError::NotFound)
            }
            (
                R::Home
                | R::Studio
                | R::Watch
                | R::User
                | R::Feed
                | R::Search
                | R::Embed
                | R::Favorites
                | R::Subscriptions
                | R::Static,
                _,
            ) => Ok(method_not_allowed(&[Method::GET, Method::HEAD])),
            (R::Login | R::Register | R::Edit, _) => Ok(method_not_allowed(&[
                Method::GET,
                Method::HEAD,
                Method::POST,
            ])),
            (
                R::Logout
                | R::Comments
                | R::CommentDelete
                | R::VideoDelete
                | R::Favorite
                | R::Follow,
                _,
            ) => Ok(method_not_allowed(&[Method::POST])),
        };
        match result {
            // A page read whose session died since `identify` asked: show it again signed out.
            Err(e) if read && route.knows_visitor() && pages::is_signed_out(&e) => {
                Ok(pages::session_ended(visit, &here))
            }
            other => other,
        }
    }
}

/// What the proxy passes on about the sender: its address and its session cookie, which the
/// upstreams judge for themselves.
fn caller(visit: &Visit<'_>) -> Caller {
    Caller {
        peer: visit.client_ip,
        session: visit.session.clone(),
    }
}

/// Whether `path` is a video's original upload (`/videos/{vid}/original`): its owner's download
/// by session, which the media origin never serves (no cookie goes there, and no grant opens
/// it), so it stays proxied with a media origin too.
fn is_original(path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or("");
    path.strip_prefix("/videos/")
        .and_then(|rest| rest.strip_suffix("/original"))
        .is_some_and(|vid| !vid.is_empty() && !vid.contains('/'))
}

/// `307 Temporary Redirect` to `location` (RFC 9110 section 15.4.8): an old same-origin media
/// link, now on the media origin. Temporary, so turning `MEDIA_URL` off again brings the links
/// back here; the method is kept, so a `HEAD` stays a `HEAD`.
fn temporary_redirect(location: &str) -> Response<Body> {
    let mut resp = svc::http::empty(http::StatusCode::TEMPORARY_REDIRECT);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// HTTP/2 carries the host in the URI, HTTP/1.1 in `Host`; the Origin check wants one.
fn fill_host(req: &mut Request<Incoming>) {
    if req.headers().contains_key(header::HOST) {
        return;
    }
    if let Some(v) = req
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(header::HOST, v);
    }
}

/// A state-changing request from another site (`session::same_origin`), on any path.
fn is_foreign<B>(req: &Request<B>) -> bool {
    let foreign = session::changes_state(req.method()) && !session::same_origin(req.headers());
    if foreign {
        tracing::warn!(origin = ?req.headers().get(header::ORIGIN), "foreign origin refused");
    }
    foreign
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// An error as the client gets it: the JSON error body or the HTML error page (with the
/// visitor's header). Its cause goes to the log either way.
fn answer_error(error: &WebError, as_json: bool, visit: &Visit<'_>) -> Response<Body> {
    error.log();
    if as_json {
        return error.to_json();
    }
    // Also for a proxied route's 502 page: an error page is never framed.
    let mut page = views::error_page(error, visit.layout());
    pages::harden(&mut page, Framing::Deny);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> Option<Route> {
        Route::find(path).map(|(route, _)| route)
    }

    #[test]
    fn the_table_builds_and_every_route_matches_its_own_pattern() {
        for r in Route::ALL {
            let concrete = r
                .name()
                .replace("{*rest}", "x/y")
                .replace("{*path}", "site.css")
                .replace(['{', '}'], "");
            assert_eq!(route(&concrete), Some(*r), "{concrete}");
        }
    }

    /// Where representative paths went when the proxy matched string prefixes before the page
    /// table (`/api` or `/api/...`, then `/videos/`, `/upload/`, `/files/`, `/thumbnails/` and
    /// `/files`, then the pages), pinned against the one table.
    #[test]
    fn paths_go_where_the_prefixes_sent_them() {
        let cases: &[(&str, Option<Route>)] = &[
            ("/", Some(Route::Home)),
            ("/login", Some(Route::Login)),
            ("/login/", None),
            ("//login", None),
            ("/register", Some(Route::Register)),
            ("/watch/abc", Some(Route::Watch)),
            ("/watch/", None),
            ("/watch/a%2e", Some(Route::Watch)),
            ("/watch/abc/", None),
            ("/watch/abc/comments", Some(Route::Comments)),
            ("/watch/abc/comments/c1/delete", Some(Route::CommentDelete)),
            ("/my/videos/abc/delete", Some(Route::VideoDelete)),
            ("/u/ann", Some(Route::User)),
            ("/u/ann/feed.xml", Some(Route::Feed)),
            ("/u/ann/feed", None),
            ("/u/", None),
            ("/studio", Some(Route::Studio)),
            ("/search", Some(Route::Search)),
            ("/embed/abc", Some(Route::Embed)),
            ("/embed/", None),
            ("/favorites", Some(Route::Favorites)),
            ("/subscriptions", Some(Route::Subscriptions)),
            ("/watch/abc/favorite", Some(Route::Favorite)),
            ("/u/ann/follow", Some(Route::Follow)),
            ("/watch/abc/edit", Some(Route::Edit)),
            ("/static/site.css", Some(Route::Static)),
            ("/static/", None),
            ("/static//etc/passwd", Some(Route::Static)),
            // `/api` alone was answered 404 by the api branch, as an unknown path is now.
            ("/api", None),
            ("/api/", Some(Route::ApiRoot)),
            ("/api/user", Some(Route::Api)),
            ("/api/user/", Some(Route::Api)),
            ("/api//user", Some(Route::Api)),
            ("/api/../metrics", Some(Route::Api)),
            ("/api/%2e%2e/metrics", Some(Route::Api)),
            ("/apix/user", None),
            ("/videos", None),
            ("/videos/", Some(Route::Stream(Stream::VideosRoot))),
            ("/videos/abc", Some(Route::Stream(Stream::Videos))),
            ("/videos/abc/extra", Some(Route::Stream(Stream::Videos))),
            ("/videos/../metrics", Some(Route::Stream(Stream::Videos))),
            ("/videosx", None),
            ("/upload", None),
            ("/upload/", Some(Route::Stream(Stream::UploadRoot))),
            ("/upload/abc", Some(Route::Stream(Stream::Upload))),
            ("/thumbnails/", Some(Route::Stream(Stream::ThumbnailsRoot))),
            (
                "/thumbnails/abc.jpg",
                Some(Route::Stream(Stream::Thumbnails)),
            ),
            ("/files", Some(Route::Stream(Stream::FilesBare))),
            ("/files/", Some(Route::Stream(Stream::FilesRoot))),
            ("/files/abc", Some(Route::Stream(Stream::Files))),
            ("/files/abc/", Some(Route::Stream(Stream::Files))),
            ("/filesx", None),
            ("/metrics", None),
            ("/no/such/page", None),
        ];
        for (path, expected) in cases {
            assert_eq!(route(path), *expected, "{path}");
        }
    }

    /// Where the code before the one table sent a path: `/api` prefix to the api branch, then
    /// `is_stream_path` to the streamserver, then the page table; and which paths it always
    /// answered with JSON errors.
    fn before_the_table(path: &str) -> (&'static str, bool) {
        let json_prefix = path.starts_with("/api/") || path.starts_with("/files");
        let went = if path == "/api" || path.starts_with("/api/") {
            "api"
        } else if ["/videos/", "/upload/", "/files/", "/thumbnails/"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
            || path == "/files"
        {
            "stream"
        } else if route(path).is_some() {
            "page"
        } else {
            "none"
        };
        (went, json_prefix)
    }

    #[test]
    fn the_table_sends_every_path_where_the_prefixes_did() {
        let prefixes = [
            "",
            "/api",
            "/videos",
            "/upload",
            "/files",
            "/thumbnails",
            "/static",
            "/watch",
            "/u",
            "/login",
            "/my/videos",
        ];
        let rests = [
            "",
            "/",
            "x",
            "/x",
            "/x/",
            "//x",
            "/../x",
            "/%2e%2E/x",
            "/x/y",
            "/x?y",
        ];
        for prefix in prefixes {
            for rest in rests {
                let path = format!("{prefix}{rest}");
                let (went, json_prefix) = before_the_table(&path);
                let now = match route(&path) {
                    Some(Route::ApiRoot | Route::Api) => "api",
                    Some(Route::Stream(_)) => "stream",
                    Some(_) => "page",
                    None => "none",
                };
                // `/api` alone reached the api branch only to be refused there with the same
                // 404 an unknown path gets.
                let went = if path == "/api" { "none" } else { went };
                assert_eq!(now, went, "{path}");
                // Unknown paths that merely start with `/files` (`/filesx`) were JSON for every
                // client; now their 404 follows `Accept` like any unknown path's.
                let json_now = route(&path).is_some_and(Route::answers_json);
                if now != "none" {
                    assert_eq!(json_now, json_prefix, "{path}");
                }
            }
        }
    }

    #[test]
    fn api_and_tus_errors_are_json_and_only_site_routes_are_hardened() {
        let json: Vec<_> = Route::ALL.iter().filter(|r| r.answers_json()).collect();
        assert_eq!(
            json,
            [
                &Route::ApiRoot,
                &Route::Api,
                &Route::Stream(Stream::FilesBare),
                &Route::Stream(Stream::FilesRoot),
                &Route::Stream(Stream::Files)
            ]
        );
        for r in Route::ALL {
            let proxied = r.name().starts_with("/api/")
                || ["/videos/", "/upload/", "/thumbnails/", "/files"]
                    .iter()
                    .any(|p| r.name().starts_with(p));
            assert_eq!(r.is_site(), !proxied, "{r:?}");
        }
    }

    #[test]
    fn only_the_embed_player_may_be_framed_and_only_pages_ask_who_is_signed_in() {
        for r in Route::ALL {
            let framable = r.framing() == Framing::Anyone;
            assert_eq!(framable, *r == Route::Embed, "{r:?}");
        }
        let asking: Vec<_> = Route::ALL.iter().filter(|r| r.knows_visitor()).collect();
        assert_eq!(
            asking,
            [
                &Route::Home,
                &Route::Studio,
                &Route::Login,
                &Route::Register,
                &Route::Logout,
                &Route::Watch,
                &Route::Edit,
                &Route::Comments,
                &Route::CommentDelete,
                &Route::VideoDelete,
                &Route::User,
                &Route::Search,
                &Route::Favorites,
                &Route::Subscriptions,
                &Route::Favorite,
                &Route::Follow,
            ]
        );
    }

    #[test]
    fn labels_never_hold_a_concrete_path() {
        let (r, params) = Route::find("/videos/0e4f6a1c-0000-4000-8000-000000000001").unwrap();
        assert_eq!(r.name(), "/videos/{*rest}");
        assert_eq!(
            params.get("rest"),
            Some("0e4f6a1c-0000-4000-8000-000000000001")
        );
        for r in Route::ALL {
            assert!(r.name().starts_with('/'), "{r:?}");
        }
    }
}
