//! The server-rendered pages and their form posts: sign in, register, sign out, home, watch,
//! user page, posting and deleting comments, deleting a video.
//!
//! Every page fetches its data from the api server-side with the visitor's session, so the
//! browser never needs the session id. Form posts answer `303 See Other` to the page to show
//! next (RFC 9110 section 15.4.4), or the same form again with the api's message and status.
//! Which request reaches which handler is `routes.rs`.

use std::net::{IpAddr, SocketAddr};

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{html, Body, ErrorCode, PeerAddr, RequestId};

use crate::api::{Ctx, Video};
use crate::assets;
use crate::error::WebError;
use crate::session::{self, SignedIn};
use crate::urls;
use crate::views::{CommentView, HomePage, Layout, LoginPage, UserPage, VideoView, WatchPage};
use crate::Web;

/// Form posts are small; anything bigger is not one of ours.
const FORM_LIMIT: usize = 64 * 1024;

/// One request, as the handlers (and the proxy) see its sender.
pub struct Visit<'a> {
    pub web: &'a Web,
    pub signed_in: Option<SignedIn>,
    pub request_id: String,
    /// The connection's peer.
    pub client_ip: IpAddr,
}

impl<'a> Visit<'a> {
    /// Who sent `req`: its cookies, the request id and peer the server loop attached.
    pub fn of<B>(web: &'a Web, req: &Request<B>) -> Self {
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.0);
        Visit {
            web,
            signed_in: session::signed_in(req.headers()),
            request_id: req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            client_ip: peer.ip(),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            session: self.signed_in.as_ref().map(|s| s.session.as_str()),
            request_id: &self.request_id,
            client_ip: self.client_ip,
        }
    }

    pub fn layout(&self) -> Layout {
        Layout {
            me: self.signed_in.as_ref().map(|s| s.user.clone()),
            assets: assets::urls(),
        }
    }

    fn me(&self) -> Option<&str> {
        self.signed_in.as_ref().map(|s| s.user.as_str())
    }

    /// A rendered page for a signed-in visitor, renewing the cookies' lifetime as the api renews
    /// the session's.
    fn page(&self, status: StatusCode, body: String) -> Response<Body> {
        let mut resp = html(status, body);
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(s) = &self.signed_in {
            for cookie in self.web.cookies.sign_in(&s.session, &s.user) {
                h.append(header::SET_COOKIE, cookie);
            }
        }
        resp
    }
}

/// What a page handler produces: a page, a redirect, or an error page.
pub type PageResult = Result<Response<Body>, WebError>;

/// Site pages may not be framed (clickjacking) and do not leak their URLs to other sites.
pub fn harden(resp: &mut Response<Body>) {
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `303 See Other` to `location`.
pub fn see_other(location: &str) -> Response<Body> {
    let mut resp = svc::http::empty(StatusCode::SEE_OTHER);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Sends a visitor whose session is missing or expired to the sign-in page, forgetting the
/// stale cookies.
fn to_login(visit: &Visit<'_>) -> Response<Body> {
    let mut resp = see_other(urls::LOGIN);
    if visit.signed_in.is_some() {
        for cookie in visit.web.cookies.sign_out() {
            resp.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    resp
}

fn is_signed_out(e: &WebError) -> bool {
    e.is_api(ErrorCode::NotAuthenticated)
}

/// Runs a page handler that needs a signed-in visitor: no session or a session the api no longer
/// knows (401) sends the visitor to sign in.
async fn signed_in_only<'v, F, Fut>(visit: &'v Visit<'v>, f: F) -> PageResult
where
    F: FnOnce(&'v Visit<'v>, &'v str) -> Fut,
    Fut: std::future::Future<Output = PageResult>,
{
    let Some(me) = visit.me() else {
        return Ok(to_login(visit));
    };
    match f(visit, me).await {
        Err(e) if is_signed_out(&e) => Ok(to_login(visit)),
        other => other,
    }
}

/// A parsed `application/x-www-form-urlencoded` body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Self {
        Form(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Reads a posted form: `application/x-www-form-urlencoded` (else 415) of at most
    /// `FORM_LIMIT` bytes (else 413).
    pub async fn read(req: Request<Incoming>) -> Result<Self, WebError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(WebError::NotAForm);
        }
        match svc::http::read_body(req.into_body(), FORM_LIMIT).await {
            Ok(bytes) => Ok(Form::parse(&bytes)),
            Err(svc::http::BodyError::TooLarge { limit }) => Err(WebError::FormTooLarge { limit }),
            Err(svc::http::BodyError::Read(e)) => Err(WebError::BadRequest(format!(
                "the form could not be read: {e}"
            ))),
        }
    }

    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The `before` cursor of a paged list (`?before=`).
pub fn before_param(query: Option<&str>) -> Option<String> {
    query_param(query, "before")
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub async fn home(visit: &Visit<'_>, before: Option<String>) -> PageResult {
    signed_in_only(visit, |visit, me| async move {
        let list = visit
            .web
            .api
            .videos(&visit.ctx(), me, before.as_deref())
            .await
            .map_err(bad_cursor)?;
        let page = HomePage {
            layout: visit.layout(),
            older: urls::older(urls::HOME, list.next),
            me: me.to_string(),
            videos: list.videos.into_iter().map(VideoView::from_api).collect(),
        };
        Ok(visit.page(StatusCode::OK, askama::Template::render(&page)?))
    })
    .await
}

pub fn login_form(visit: &Visit<'_>) -> PageResult {
    if visit.signed_in.is_some() {
        return Ok(see_other(urls::HOME));
    }
    render_login(StatusCode::OK, "", "", "")
}

fn render_login(status: StatusCode, failed_form: &str, error: &str, user_name: &str) -> PageResult {
    let page = LoginPage {
        layout: Layout::signed_out(),
        failed_form: failed_form.into(),
        error: error.into(),
        user_name: user_name.into(),
    };
    let mut resp = html(status, askama::Template::render(&page)?);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `POST /login` and `POST /register`: call the api, then set the cookies and go home, or show
/// the form again with the api's message (wrong password, name taken, invalid name).
pub async fn sign_in(visit: &Visit<'_>, form: &Form, register: bool) -> PageResult {
    let (name, pwd) = (form.get("user_name").trim(), form.get("pwd"));
    let which = if register { "register" } else { "login" };
    if name.is_empty() || pwd.is_empty() {
        return render_login(
            StatusCode::UNPROCESSABLE_ENTITY,
            which,
            "Enter a user name and a password.",
            name,
        );
    }
    let ctx = Ctx {
        session: None,
        request_id: &visit.request_id,
        client_ip: visit.client_ip,
    };
    let result = if register {
        visit.web.api.register(&ctx, name, pwd).await
    } else {
        visit.web.api.login(&ctx, name, pwd).await
    };
    match result {
        Ok(session) => {
            let mut resp = see_other(urls::HOME);
            for cookie in visit.web.cookies.sign_in(&session, name) {
                resp.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(resp)
        }
        Err(WebError::Api { code, message }) if code.status().is_client_error() => {
            render_login(code.status(), which, &message, name)
        }
        Err(e) => Err(e),
    }
}

/// `POST /logout`: revoke the session at the api (best effort: the cookies go either way).
pub async fn sign_out(visit: &Visit<'_>) -> PageResult {
    if let Some(s) = &visit.signed_in {
        if let Err(e) = visit.web.api.logout(&visit.ctx(), &s.user).await {
            tracing::warn!(error = %e, "revoking the session at the api failed");
        }
    }
    let mut resp = see_other(urls::LOGIN);
    for cookie in visit.web.cookies.sign_out() {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(resp)
}

/// A mangled `?before=` cursor is the visitor's doing: say so rather than blame the service.
fn bad_cursor(e: WebError) -> WebError {
    if e.is_api(ErrorCode::BadRequest) {
        return WebError::BadRequest(
            "This page link is broken; go back to the first page of the list.".into(),
        );
    }
    e
}

/// `GET /watch/{vid}`. Links once carried the author as `?u=`; the api now finds a video by id
/// alone, so such a query is ignored and old links keep working.
pub async fn watch(visit: &Visit<'_>, vid: &str) -> PageResult {
    render_watch(visit, vid, StatusCode::OK, String::new()).await
}

async fn render_watch(
    visit: &Visit<'_>,
    vid: &str,
    status: StatusCode,
    error: String,
) -> PageResult {
    signed_in_only(visit, |visit, me| async move {
        let ctx = visit.ctx();
        let (video, comments) = tokio::join!(
            visit.web.api.video(&ctx, vid),
            visit.web.api.comments(&ctx, vid)
        );
        let video: Video = video.map_err(not_found_as_page)?;
        let comments = comments.map_err(not_found_as_page)?;
        let is_owner = video.author == me;
        let page = WatchPage {
            layout: visit.layout(),
            comments: comments
                .comments
                .into_iter()
                .map(|c| CommentView::from_api(c, Some(me), is_owner))
                .collect(),
            video: VideoView::from_api(video),
            is_owner,
            error,
        };
        Ok(visit.page(status, askama::Template::render(&page)?))
    })
    .await
}

/// The api's 404 shown as the site's own "not found" page.
fn not_found_as_page(e: WebError) -> WebError {
    if e.is_api(ErrorCode::NotFound) {
        return WebError::NotFound;
    }
    e
}

/// `POST /watch/{vid}/comments`.
pub async fn post_comment(visit: &Visit<'_>, vid: &str, form: &Form) -> PageResult {
    let content = form.get("content");
    let result = match visit.signed_in {
        None => return Ok(to_login(visit)),
        Some(_) => visit.web.api.post_comment(&visit.ctx(), vid, content).await,
    };
    match result {
        Ok(()) => Ok(see_other(&urls::watch_comments(vid))),
        Err(e) if is_signed_out(&e) => Ok(to_login(visit)),
        // Empty or too long: the page comes back with the api's message.
        Err(WebError::Api {
            code: code @ (ErrorCode::BadRequest | ErrorCode::Invalid),
            message,
        }) => render_watch(visit, vid, code.status(), message).await,
        Err(e) => Err(not_found_as_page(e)),
    }
}

/// `POST /watch/{vid}/comments/{cid}/delete`.
pub async fn delete_comment(visit: &Visit<'_>, vid: &str, cid: &str) -> PageResult {
    if visit.signed_in.is_none() {
        return Ok(to_login(visit));
    }
    match visit.web.api.delete_comment(&visit.ctx(), vid, cid).await {
        Ok(()) => Ok(see_other(&urls::watch_comments(vid))),
        Err(e) if is_signed_out(&e) => Ok(to_login(visit)),
        Err(e) => Err(not_found_as_page(e)),
    }
}

/// `POST /my/videos/{vid}/delete`.
pub async fn delete_video(visit: &Visit<'_>, vid: &str) -> PageResult {
    signed_in_only(visit, |visit, me| async move {
        visit
            .web
            .api
            .delete_video(&visit.ctx(), me, vid)
            .await
            .map_err(not_found_as_page)?;
        Ok(see_other(urls::HOME))
    })
    .await
}

pub async fn user(visit: &Visit<'_>, name: &str, before: Option<String>) -> PageResult {
    signed_in_only(visit, |visit, _me| async move {
        let ctx = visit.ctx();
        let (user, videos) = tokio::join!(
            visit.web.api.user(&ctx, name),
            visit.web.api.videos(&ctx, name, before.as_deref())
        );
        let user = user.map_err(not_found_as_page)?;
        let videos = videos.map_err(not_found_as_page).map_err(bad_cursor)?;
        let page = UserPage {
            layout: visit.layout(),
            older: urls::older(&urls::user(name), videos.next),
            video_count: user.video_count.unwrap_or(videos.videos.len() as u64),
            user_name: user.user_name,
            videos: videos.videos.into_iter().map(VideoView::from_api).collect(),
        };
        Ok(visit.page(StatusCode::OK, askama::Template::render(&page)?))
    })
    .await
}
