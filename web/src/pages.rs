//! The server-rendered pages and their form posts: the front page, the studio, watch, edit,
//! channel, search and embed pages, the channel's Atom feed, sign in, register, sign out,
//! posting and deleting comments, deleting a video, and the social pages of issue 14: the
//! favourites and subscriptions pages, the heart (favourite) and Follow buttons' posts.
//!
//! Every page fetches its data from the api server-side, with the visitor's session when there
//! is one, so the browser never needs the session id; the api decides what each visitor may see
//! (a video they may not see is its 404, shown as the site's "not found" page). Form posts
//! answer `303 See Other` to the page to show next (RFC 9110 section 15.4.4), or the same form
//! again with the api's message and status. Which request reaches which handler is `routes.rs`.

use std::net::{IpAddr, SocketAddr};

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{html, Body, ErrorCode, PeerAddr, RequestId};
use svc::Visibility;

use crate::api::{Ctx, Me, Video, VideoEdit, PAGE_SIZE};
use crate::assets;
use crate::error::WebError;
use crate::messages::{self, Plain};
use crate::session;
use crate::urls;
use crate::views::{
    self, AtomFeed, ChannelPage, CommentView, EditPage, EmbedPage, FavoriteButton, FavoritesPage,
    FeedEntry, FollowButton, FrontPage, Layout, LoginPage, SearchPage, ShareMeta, Stage,
    StudioPage, SubscriptionsPage, VideoView, WatchPage,
};
use crate::Web;

/// Form posts are small; anything bigger is not one of ours.
const FORM_LIMIT: usize = 64 * 1024;

/// Entries in a channel's feed: its newest public videos.
const FEED_ENTRIES: u32 = 50;

/// One request, as the handlers (and the proxy) see its sender.
pub struct Visit<'a> {
    pub web: &'a Web,
    /// The `session` cookie as the browser sent it; `identify` drops it when the api does not
    /// know the session.
    pub session: Option<String>,
    /// Who is signed in, once `identify` has asked (`None`: a signed-out visitor).
    pub me: Option<Me>,
    /// The cookie named a session the api does not know: the answer removes the cookie.
    stale: bool,
    pub request_id: String,
    /// The connection's peer.
    pub client_ip: IpAddr,
    /// The path and query asked for, where "Sign in" in the header returns to.
    pub here: String,
}

impl<'a> Visit<'a> {
    /// Who sent `req`: its session cookie, the request id and peer the server loop attached.
    pub fn of<B>(web: &'a Web, req: &Request<B>) -> Self {
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.0);
        Visit {
            web,
            session: session::session_id(req.headers()),
            me: None,
            stale: false,
            request_id: req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            client_ip: peer.ip(),
            here: req
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        }
    }

    /// Asks the api (through the brief cache of `identity.rs`) who the session cookie belongs
    /// to. A session it does not know makes this a signed-out visit whose answer clears the
    /// cookie.
    pub async fn identify(&mut self) -> Result<(), WebError> {
        let Some(session) = self.session.clone() else {
            return Ok(());
        };
        let who = self
            .web
            .identities
            .who(&self.web.api, &self.anonymous(), &session)
            .await?;
        match who {
            Some(me) => self.me = Some(me),
            None => {
                self.session = None;
                self.stale = true;
            }
        }
        Ok(())
    }

    /// The visitor, as the api is told: their session (after `identify`, only a good one).
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            session: self.session.as_deref(),
            ..self.anonymous()
        }
    }

    /// Whoever asks, without a session: for what must look the same to everyone (the feed,
    /// the embed page).
    fn anonymous(&self) -> Ctx<'_> {
        Ctx {
            session: None,
            request_id: &self.request_id,
            client_ip: self.client_ip,
        }
    }

    pub fn layout(&self) -> Layout {
        let mut layout = Layout::new(self.me()).returning_to(&self.here);
        layout.media = self.web.media.base().unwrap_or_default().to_string();
        layout
    }

    /// A video of the api's as pages show it, its media where this site points media.
    fn view(&self, video: Video) -> VideoView {
        VideoView::from_api(video, &self.web.media)
    }

    fn me(&self) -> Option<&str> {
        self.me.as_ref().map(|m| m.user_name.as_str())
    }

    /// Whether the signed-in visitor owns `video`.
    fn owns(&self, video: &Video) -> bool {
        self.me.as_ref().is_some_and(|me| match video.author_id {
            Some(id) => id == me.user_id,
            None => video.author == me.user_name,
        })
    }

    /// The cookie the answer carries, unless the handler set one itself (sign in, sign out): a
    /// signed-in visit renews its lifetime, as the api renews the session on use; a session the
    /// api did not know is removed.
    pub fn settle(&self, resp: &mut Response<Body>) {
        if resp.headers().contains_key(header::SET_COOKIE) {
            return;
        }
        let cookie = match (&self.me, &self.session) {
            _ if self.stale => self.web.cookies.sign_out(),
            (Some(_), Some(session)) => self.web.cookies.sign_in(session),
            _ => return,
        };
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// A rendered page; pages depend on who asks, so no cache keeps them.
fn page(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = html(status, body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn render(status: StatusCode, template: &impl askama::Template) -> PageResult {
    Ok(page(status, template.render()?))
}

/// What a page handler produces: a page, a redirect, or an error page.
pub type PageResult = Result<Response<Body>, WebError>;

/// Whether a response may be shown inside another site's `<iframe>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Every page but the embed player: never framed (clickjacking).
    Deny,
    /// The embed player: any site may frame it.
    Anyone,
}

/// The site's own headers on every page, error pages included: who may frame it (the CSP
/// `frame-ancestors` directive, and `X-Frame-Options` for browsers that predate it; RFC 7034),
/// no leaking of URLs to other sites, no content sniffing.
pub fn harden(resp: &mut Response<Body>, framing: Framing) {
    let h = resp.headers_mut();
    match framing {
        Framing::Deny => {
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors 'none'"),
            );
        }
        Framing::Anyone => {
            h.remove(header::X_FRAME_OPTIONS);
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("frame-ancestors *"),
            );
        }
    }
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

/// Sends a visitor who must be signed in to the sign-in page, which brings them back to `back`;
/// a session cookie they still carry is dead (the api refused it), so it goes.
fn to_login(visit: &Visit<'_>, back: &str) -> Response<Body> {
    let mut resp = see_other(&urls::login_then(back));
    if visit.session.is_some() || visit.stale {
        resp.headers_mut()
            .append(header::SET_COOKIE, visit.web.cookies.sign_out());
    }
    resp
}

/// A page read the api answered 401: the session died since `identify` asked (expired or
/// revoked in the last moment). The cookie goes and the visitor sees `here` again, signed out
/// (or, on a page that needs a session, the sign-in form that returns there).
pub fn session_ended(visit: &Visit<'_>, here: &str) -> Response<Body> {
    let mut resp = see_other(here);
    resp.headers_mut()
        .append(header::SET_COOKIE, visit.web.cookies.sign_out());
    resp
}

pub fn is_signed_out(e: &WebError) -> bool {
    e.is_api(ErrorCode::NotAuthenticated)
}

/// A form post whose api call said 401: sign in again, then back to `back`.
fn or_sign_in(visit: &Visit<'_>, back: &str, result: PageResult) -> PageResult {
    match result {
        Err(e) if is_signed_out(&e) => Ok(to_login(visit, back)),
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

/// A parameter of the query string (`?before=`, `?q=`, `?next=`); an empty one is absent.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
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

/// The api's 404 shown as the site's own "not found" page.
fn not_found_as_page(e: WebError) -> WebError {
    if e.is_api(ErrorCode::NotFound) {
        return WebError::NotFound;
    }
    e
}

/// `GET /`: the newest public videos, for everyone.
pub async fn front(visit: &Visit<'_>, before: Option<String>) -> PageResult {
    let list = visit
        .web
        .api
        .feed(&visit.ctx(), before.as_deref())
        .await
        .map_err(bad_cursor)?;
    render(
        StatusCode::OK,
        &FrontPage {
            layout: visit.layout(),
            older: urls::older(urls::HOME, list.next),
            first: before.is_none(),
            videos: list.videos.into_iter().map(|v| visit.view(v)).collect(),
        },
    )
}

/// `GET /studio`: the signed-in user's videos in every state and visibility, and the upload.
pub async fn studio(visit: &Visit<'_>, before: Option<String>) -> PageResult {
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, urls::STUDIO));
    };
    let list = visit
        .web
        .api
        .videos(&visit.ctx(), me, before.as_deref(), PAGE_SIZE)
        .await
        .map_err(bad_cursor)?;
    render(
        StatusCode::OK,
        &StudioPage {
            layout: visit.layout(),
            older: urls::older(urls::STUDIO, list.next),
            me: me.to_string(),
            visibilities: views::visibility_choices(Visibility::Public.as_str()),
            videos: list
                .videos
                .into_iter()
                .map(|v| visit.view(v).in_studio())
                .collect(),
        },
    )
}

/// Where to go after signing in: the form's `next` when it is a path on this site, else the
/// studio.
fn after_sign_in(next: Option<&str>) -> String {
    next.and_then(urls::safe_next)
        .unwrap_or(urls::STUDIO)
        .to_string()
}

/// `GET /login` (and `/register`); a signed-in visitor goes straight on.
pub fn login_form(visit: &Visit<'_>, next: Option<String>) -> PageResult {
    let next = after_sign_in(next.as_deref());
    if visit.me.is_some() {
        return Ok(see_other(&next));
    }
    render_login(StatusCode::OK, "", Plain::default(), "", &next)
}

fn render_login(
    status: StatusCode,
    failed_form: &str,
    error: Plain,
    user_name: &str,
    next: &str,
) -> PageResult {
    render(
        status,
        &LoginPage {
            layout: Layout::signed_out(),
            failed_form: failed_form.into(),
            error,
            user_name: user_name.into(),
            next: next.into(),
        },
    )
}

/// `POST /login` and `POST /register`: call the api, then set the session cookie and go on to
/// `next`, or show the form again with the api's message (wrong password, name taken, invalid
/// name).
pub async fn sign_in(visit: &Visit<'_>, form: &Form, register: bool) -> PageResult {
    let (name, pwd) = (form.get("user_name").trim(), form.get("pwd"));
    let next = after_sign_in(Some(form.get("next")));
    let which = if register { "register" } else { "login" };
    if name.is_empty() || pwd.is_empty() {
        return render_login(
            StatusCode::UNPROCESSABLE_ENTITY,
            which,
            Plain {
                field: Some(if name.is_empty() { "user_name" } else { "pwd" }),
                text: "Enter a user name and a password.".into(),
            },
            name,
            &next,
        );
    }
    let ctx = visit.anonymous();
    let result = if register {
        visit.web.api.register(&ctx, name, pwd).await
    } else {
        visit.web.api.login(&ctx, name, pwd).await
    };
    match result {
        Ok(session) => {
            let mut resp = see_other(&next);
            resp.headers_mut()
                .append(header::SET_COOKIE, visit.web.cookies.sign_in(&session));
            Ok(resp)
        }
        Err(WebError::Api { code, message }) if code.status().is_client_error() => {
            render_login(code.status(), which, messages::plain(&message), name, &next)
        }
        Err(e) => Err(e),
    }
}

/// `POST /logout`: revoke the session at the api (best effort: the cookie goes either way),
/// then the front page.
pub async fn sign_out(visit: &Visit<'_>) -> PageResult {
    if let (Some(me), Some(session)) = (visit.me(), &visit.session) {
        visit.web.identities.forget(session);
        if let Err(e) = visit.web.api.logout(&visit.ctx(), me).await {
            tracing::warn!(error = %e, "revoking the session at the api failed");
        }
    }
    let mut resp = see_other(urls::HOME);
    resp.headers_mut()
        .append(header::SET_COOKIE, visit.web.cookies.sign_out());
    Ok(resp)
}

/// `GET /watch/{vid}`, for anyone who may see the video (public and unlisted ones signed out
/// too). Links once carried the author as `?u=`; the api finds a video by id alone, so such a
/// query is ignored and old links keep working.
pub async fn watch(visit: &Visit<'_>, vid: &str) -> PageResult {
    render_watch(visit, vid, StatusCode::OK, Plain::default()).await
}

async fn render_watch(
    visit: &Visit<'_>,
    vid: &str,
    status: StatusCode,
    error: Plain,
) -> PageResult {
    let ctx = visit.ctx();
    let (video, comments) = tokio::join!(
        visit.web.api.video(&ctx, vid),
        visit.web.api.comments(&ctx, vid)
    );
    let video: Video = video.map_err(not_found_as_page)?;
    let comments = comments.map_err(not_found_as_page)?;
    let is_owner = visit.owns(&video);
    let (favorite, follow) = watch_buttons(visit, &video, is_owner).await?;
    let share = ShareMeta::of(&video, &visit.web.config.public_url, &visit.web.media);
    let view = visit.view(video);
    render(
        status,
        &WatchPage {
            layout: visit.layout(),
            share,
            comments: comments
                .comments
                .into_iter()
                .map(|c| CommentView::from_api(c, visit.me(), is_owner))
                .collect(),
            login_url: urls::login_then(&urls::watch(&view.id)),
            stage: Stage::of(&view, is_owner),
            video: view,
            signed_in: visit.me.is_some(),
            is_owner,
            error,
            favorite,
            follow,
            palette: views::PALETTE,
        },
    )
}

/// The heart and the Follow button of a watch page: what the visitor chose, asked of the api
/// when they are signed in (the channel's owner gets no Follow button).
async fn watch_buttons(
    visit: &Visit<'_>,
    video: &Video,
    is_owner: bool,
) -> Result<(FavoriteButton, Option<FollowButton>), WebError> {
    let here = urls::watch(&video.id);
    let mut favorite = FavoriteButton {
        on: false,
        count: video.favorite_count,
        action: urls::favorite(&video.id),
        me: visit.me().map(str::to_owned),
        login_url: urls::login_then(&here),
    };
    let Some(me) = visit.me() else {
        return Ok((
            favorite,
            Some(follow_button(visit, &video.author, false, &here)),
        ));
    };
    let ctx = visit.ctx();
    let api = &visit.web.api;
    let following = async {
        match is_owner {
            true => Ok(None),
            false => api
                .follow(&ctx, Method::GET, me, &video.author)
                .await
                .map(Some),
        }
    };
    let (state, following) =
        tokio::join!(api.favorite(&ctx, Method::GET, me, &video.id), following);
    let state = state?;
    favorite.on = state.favorited;
    favorite.count = state.favorite_count;
    let follow = following?.map(|f| follow_button(visit, &video.author, f.following, &here));
    Ok((favorite, follow))
}

/// The Follow button of `name`'s channel as the visitor sees it, posting back to `back`.
fn follow_button(visit: &Visit<'_>, name: &str, on: bool, back: &str) -> FollowButton {
    FollowButton {
        on,
        name: name.to_string(),
        action: urls::follow(name),
        back: back.to_string(),
        me: visit.me().map(str::to_owned),
        login_url: urls::login_then(back),
    }
}

/// `GET /watch/{vid}/edit`: the owner's form. Anyone else who may see the video is told it is
/// not theirs (403); a video they may not see is not found (404).
pub async fn edit_form(visit: &Visit<'_>, vid: &str) -> PageResult {
    if visit.me.is_none() {
        return Ok(to_login(visit, &urls::edit(vid)));
    }
    let video = visit
        .web
        .api
        .video(&visit.ctx(), vid)
        .await
        .map_err(not_found_as_page)?;
    if !visit.owns(&video) {
        return Err(not_yours());
    }
    let (name, description) = (video.name.clone(), video.description.clone());
    let visibility = video.visibility.clone();
    render_edit(
        visit,
        video,
        StatusCode::OK,
        &name,
        &description,
        &visibility,
        Plain::default(),
    )
}

fn not_yours() -> WebError {
    WebError::Api {
        code: ErrorCode::Forbidden,
        message: "Only the person who uploaded this video can edit it.".into(),
    }
}

fn render_edit(
    visit: &Visit<'_>,
    video: Video,
    status: StatusCode,
    name: &str,
    description: &str,
    visibility: &str,
    error: Plain,
) -> PageResult {
    render(
        status,
        &EditPage {
            layout: visit.layout(),
            video: visit.view(video),
            name: name.into(),
            description: description.into(),
            visibilities: views::visibility_choices(visibility),
            error,
        },
    )
}

/// `POST /watch/{vid}/edit`: saves title, description and visibility through the api's PATCH,
/// then shows the watch page; a refused value brings the form back with the api's message and
/// what was typed. Someone else's video is refused like the form is (403, or 404 when they may
/// not see it) before anything is sent.
pub async fn save_edit(visit: &Visit<'_>, vid: &str, form: &Form) -> PageResult {
    let back = urls::edit(vid);
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, &back));
    };
    let edit = VideoEdit {
        name: form.get("name").trim(),
        // Browsers send textarea line breaks as CRLF (HTML's form submission); the description
        // keeps the author's lines as plain `\n`.
        description: &form.get("description").replace("\r\n", "\n"),
        visibility: form.get("visibility"),
    };
    let result = save(visit, me, vid, &edit).await;
    or_sign_in(visit, &back, result)
}

async fn save(visit: &Visit<'_>, me: &str, vid: &str, edit: &VideoEdit<'_>) -> PageResult {
    let ctx = visit.ctx();
    let api = &visit.web.api;
    let video = api.video(&ctx, vid).await.map_err(not_found_as_page)?;
    if !visit.owns(&video) {
        return Err(not_yours());
    }
    match api.update_video(&ctx, me, vid, edit).await {
        Ok(_) => Ok(see_other(&urls::watch(vid))),
        Err(WebError::Api {
            code: code @ (ErrorCode::BadRequest | ErrorCode::Invalid),
            message,
        }) => render_edit(
            visit,
            video,
            code.status(),
            edit.name,
            edit.description,
            edit.visibility,
            messages::plain(&message),
        ),
        Err(e) => Err(not_found_as_page(e)),
    }
}

/// `POST /watch/{vid}/comments`.
pub async fn post_comment(visit: &Visit<'_>, vid: &str, form: &Form) -> PageResult {
    let back = urls::watch(vid);
    if visit.me.is_none() {
        return Ok(to_login(visit, &back));
    }
    let content = form.get("content");
    let result = match visit.web.api.post_comment(&visit.ctx(), vid, content).await {
        Ok(()) => Ok(see_other(&urls::watch_comments(vid))),
        // Empty or too long: the page comes back with the api's message.
        Err(WebError::Api {
            code: code @ (ErrorCode::BadRequest | ErrorCode::Invalid),
            message,
        }) => render_watch(visit, vid, code.status(), messages::plain(&message)).await,
        Err(e) => Err(not_found_as_page(e)),
    };
    or_sign_in(visit, &back, result)
}

/// `POST /watch/{vid}/comments/{cid}/delete`.
pub async fn delete_comment(visit: &Visit<'_>, vid: &str, cid: &str) -> PageResult {
    let back = urls::watch(vid);
    if visit.me.is_none() {
        return Ok(to_login(visit, &back));
    }
    let result = match visit.web.api.delete_comment(&visit.ctx(), vid, cid).await {
        Ok(()) => Ok(see_other(&urls::watch_comments(vid))),
        Err(e) => Err(not_found_as_page(e)),
    };
    or_sign_in(visit, &back, result)
}

/// `POST /my/videos/{vid}/delete`: back to the studio.
pub async fn delete_video(visit: &Visit<'_>, vid: &str) -> PageResult {
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, urls::STUDIO));
    };
    let result = match visit.web.api.delete_video(&visit.ctx(), me, vid).await {
        Ok(()) => Ok(see_other(urls::STUDIO)),
        Err(e) => Err(not_found_as_page(e)),
    };
    or_sign_in(visit, urls::STUDIO, result)
}

/// `GET /u/{name}`: the channel. Its owner sees every video of theirs, the unlisted and
/// private ones marked; anyone else the public ones (the api decides which).
pub async fn channel(visit: &Visit<'_>, name: &str, before: Option<String>) -> PageResult {
    let ctx = visit.ctx();
    let (user, videos) = tokio::join!(
        visit.web.api.user(&ctx, name),
        visit
            .web
            .api
            .videos(&ctx, name, before.as_deref(), PAGE_SIZE)
    );
    let user = user.map_err(not_found_as_page)?;
    let videos = videos.map_err(not_found_as_page).map_err(bad_cursor)?;
    let is_owner = visit.me() == Some(user.user_name.as_str());
    let here = urls::user(&user.user_name);
    let follow = match visit.me() {
        _ if is_owner => None,
        None => Some(follow_button(visit, &user.user_name, false, &here)),
        Some(me) => {
            let state = visit
                .web
                .api
                .follow(&ctx, Method::GET, me, &user.user_name)
                .await?;
            Some(follow_button(
                visit,
                &user.user_name,
                state.following,
                &here,
            ))
        }
    };
    render(
        StatusCode::OK,
        &ChannelPage {
            layout: visit.layout(),
            older: urls::older(&urls::user(name), videos.next),
            video_count: user.video_count.unwrap_or(videos.videos.len() as u64),
            follower_count: user.follower_count,
            following_count: user.following_count,
            follow,
            is_owner,
            feed_url: urls::feed(&user.user_name),
            initial: views::initial(&user.user_name),
            user_name: user.user_name,
            videos: videos.videos.into_iter().map(|v| visit.view(v)).collect(),
        },
    )
}

/// `GET /favorites`: the signed-in user's favourites, the most recently marked first.
pub async fn favorites(visit: &Visit<'_>, before: Option<String>) -> PageResult {
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, urls::FAVORITES));
    };
    let list = visit
        .web
        .api
        .favorites(&visit.ctx(), me, before.as_deref())
        .await
        .map_err(bad_cursor)?;
    render(
        StatusCode::OK,
        &FavoritesPage {
            layout: visit.layout(),
            older: urls::older(urls::FAVORITES, list.next),
            first: before.is_none(),
            videos: list.videos.into_iter().map(|v| visit.view(v)).collect(),
        },
    )
}

/// `GET /subscriptions`: the newest public videos of the channels the signed-in user follows.
pub async fn subscriptions(visit: &Visit<'_>, before: Option<String>) -> PageResult {
    if visit.me.is_none() {
        return Ok(to_login(visit, urls::SUBSCRIPTIONS));
    }
    let list = visit
        .web
        .api
        .subscriptions(&visit.ctx(), before.as_deref())
        .await
        .map_err(bad_cursor)?;
    render(
        StatusCode::OK,
        &SubscriptionsPage {
            layout: visit.layout(),
            older: urls::older(urls::SUBSCRIPTIONS, list.next),
            first: before.is_none(),
            videos: list.videos.into_iter().map(|v| visit.view(v)).collect(),
        },
    )
}

/// `on=1` adds, anything else removes: the form's one field, as a method for the api.
fn switch(form: &Form) -> Method {
    match form.get("on") {
        "1" => Method::PUT,
        _ => Method::DELETE,
    }
}

/// `POST /watch/{vid}/favorite` (form `on=1` or `on=0`): the heart without JavaScript; back to
/// the watch page.
pub async fn set_favorite(visit: &Visit<'_>, vid: &str, form: &Form) -> PageResult {
    let back = urls::watch(vid);
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, &back));
    };
    let result = match visit
        .web
        .api
        .favorite(&visit.ctx(), switch(form), me, vid)
        .await
    {
        Ok(_) => Ok(see_other(&back)),
        Err(e) => Err(not_found_as_page(e)),
    };
    or_sign_in(visit, &back, result)
}

/// `POST /u/{name}/follow` (form `on`, and `back`: the page the button is on, a path of this
/// site, else the channel): the Follow button without JavaScript.
pub async fn set_follow(visit: &Visit<'_>, name: &str, form: &Form) -> PageResult {
    let channel = urls::user(name);
    let back = urls::safe_next(form.get("back"))
        .unwrap_or(&channel)
        .to_string();
    let Some(me) = visit.me() else {
        return Ok(to_login(visit, &back));
    };
    let result = match visit
        .web
        .api
        .follow(&visit.ctx(), switch(form), me, name)
        .await
    {
        Ok(_) => Ok(see_other(&back)),
        // A refusal (following oneself is the api's 422) is an error page in the api's words.
        Err(e) => Err(not_found_as_page(e)),
    };
    or_sign_in(visit, &back, result)
}

/// `GET /u/{name}/feed.xml`: the channel's newest public videos as an Atom feed (RFC 4287).
/// It is read without the visitor's session, so it is the same for everyone (the owner's feed
/// reader never sees their private videos) and may be cached briefly.
pub async fn feed(visit: &Visit<'_>, name: &str) -> PageResult {
    let ctx = visit.anonymous();
    let (user, videos) = tokio::join!(
        visit.web.api.user(&ctx, name),
        visit.web.api.videos(&ctx, name, None, FEED_ENTRIES)
    );
    let user = user.map_err(not_found_as_page)?;
    let videos = videos.map_err(not_found_as_page)?;
    let base = &visit.web.config.public_url;
    let updated = videos
        .videos
        .first()
        .map(|v| v.create_time.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(views::now_rfc3339);
    let xml = askama::Template::render(&AtomFeed {
        channel_url: format!("{base}{}", urls::user(&user.user_name)),
        self_url: format!("{base}{}", urls::feed(&user.user_name)),
        user_name: user.user_name,
        updated,
        entries: videos
            .videos
            .into_iter()
            .map(|v| FeedEntry::from_api(v, base, &visit.web.media))
            .collect(),
    })?;
    let mut resp = svc::http::text(StatusCode::OK, xml);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}

/// The longest query the api accepts; a longer one is its 400, shown on the results page.
const QUERY_CHARS: usize = 200;

/// `GET /search?q=`: public videos matching `q`, best match first, paged. No query yet is a
/// prompt, not an error; a refused one (too long, too many requests) is the results page with
/// the api's message and status.
pub async fn search(visit: &Visit<'_>, q: Option<String>, before: Option<String>) -> PageResult {
    let q = q.unwrap_or_default().trim().to_string();
    let mut layout = visit.layout();
    layout.q = q.chars().take(QUERY_CHARS * 2).collect();
    let mut results = SearchPage {
        layout,
        q: q.clone(),
        more: String::new(),
        first: before.is_none(),
        videos: Vec::new(),
        error: String::new(),
    };
    if q.is_empty() {
        return render(StatusCode::OK, &results);
    }
    match visit
        .web
        .api
        .search(&visit.ctx(), &q, before.as_deref())
        .await
    {
        Ok(list) => {
            results.more = urls::older(&urls::search(&q), list.next);
            results.videos = list.videos.into_iter().map(|v| visit.view(v)).collect();
            render(StatusCode::OK, &results)
        }
        Err(WebError::Api { code, message })
            if code.status().is_client_error() && code != ErrorCode::NotAuthenticated =>
        {
            results.error = if before.is_some() && code == ErrorCode::BadRequest {
                bad_cursor(WebError::Api { code, message }).words().1
            } else {
                message
            };
            render(code.status(), &results)
        }
        Err(e) => Err(e),
    }
}

/// `GET /embed/{vid}`: the bare player for other sites' `<iframe>`s. It shows what a
/// signed-out visitor may see (public and unlisted videos), whoever asks, so an embed never
/// depends on the viewer's cookies; anything else is a framable "not available" page.
pub async fn embed(visit: &Visit<'_>, vid: &str) -> PageResult {
    let video = match visit.web.api.video(&visit.anonymous(), vid).await {
        Ok(v) => Some(v),
        Err(e) if e.is_api(ErrorCode::NotFound) => None,
        Err(e) => return Err(e),
    };
    let status = match &video {
        Some(_) => StatusCode::OK,
        None => StatusCode::NOT_FOUND,
    };
    render(
        status,
        &EmbedPage {
            watch_url: format!("{}{}", visit.web.config.public_url, urls::watch(vid)),
            video: video.map(|v| visit.view(v)),
            assets: assets::urls(),
            media: visit.web.media.base().unwrap_or_default().to_string(),
        },
    )
}
