//! The server-side client pages use to call the api with the visitor's session.
//!
//! Typed wrappers for exactly the api calls the pages make (SPEC section 3), over the one
//! upstream client (`upstream.rs`); the api's JSON error body becomes [`WebError::Api`] with the
//! code of its status and its message so a page can show it. Proxying a browser's own `/api`
//! request is `proxy.rs`, not this.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use svc::http::ErrorCode;

use crate::error::WebError;
use crate::upstream::{self, error_chain};
use crate::urls::segment;

/// A video object as the api returns it. Fields beyond the id are optional so a page still
/// renders when the api leaves one out.
#[derive(Debug, Clone, Deserialize)]
pub struct Video {
    pub id: String,
    #[serde(default)]
    pub author_id: Option<u32>,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub name: String,
    /// Plain text, line breaks kept; empty when there is none.
    #[serde(default)]
    pub description: String,
    /// `public`, `unlisted` or `private`.
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub display_ctime: String,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    #[serde(default)]
    pub play_url: Option<String>,
    /// Why processing failed (state `failed`).
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// How far a running transcode is, 0 to 100 (state `processing`), when the api knows.
    #[serde(default)]
    pub processing_progress: Option<u8>,
    /// The HLS master playlist, once every rung of the ladder is ready.
    #[serde(default)]
    pub hls_url: Option<String>,
    /// The ladder's rungs and whether each is made yet.
    #[serde(default)]
    pub renditions: Vec<Rendition>,
    /// The storyboard's WebVTT file (cues name regions of one sprite JPEG), once made.
    #[serde(default)]
    pub storyboard_url: Option<String>,
    /// How many users have it among their favourites.
    #[serde(default)]
    pub favorite_count: u64,
    /// When the signed media URLs above stop working (Unix seconds), with a media origin and
    /// a video only its owner may see; `None` when nothing is signed.
    #[serde(default)]
    pub media_expires: Option<u64>,
}

/// One rung of a video's HLS ladder.
#[derive(Debug, Clone, Deserialize)]
pub struct Rendition {
    pub height: u32,
    #[serde(default)]
    pub bandwidth: u64,
    #[serde(default)]
    pub ready: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VideoList {
    #[serde(default)]
    pub videos: Vec<Video>,
    /// The cursor of the next (older) page, if there is one.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub time: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommentList {
    #[serde(default)]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub user_name: String,
    #[serde(default)]
    pub video_count: Option<u64>,
    #[serde(default)]
    pub follower_count: u64,
    #[serde(default)]
    pub following_count: u64,
}

/// Whether a video is one of the visitor's favourites, and its count
/// (`/user/{me}/favorites/{vid}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Favorite {
    pub favorited: bool,
    pub favorite_count: u64,
}

/// Whether the visitor follows a channel, and its follower count
/// (`/user/{me}/following/{name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Follow {
    pub following: bool,
    pub follower_count: u64,
}

#[derive(Debug, Deserialize)]
struct SessionReply {
    session_id: String,
}

/// Who a session belongs to (`GET /session`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    pub user_id: u32,
    pub user_name: String,
}

/// What the owner may change about a video (`PATCH /user/{name}/videos/{vid}`).
#[derive(Debug, Clone, Serialize)]
pub struct VideoEdit<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: &'a str,
}

/// Who is asking, passed along so the api rate-limits and logs per real client.
pub struct Ctx<'a> {
    pub session: Option<&'a str>,
    pub request_id: &'a str,
    pub client_ip: IpAddr,
}

/// Videos per page on the front, studio, channel and search pages.
pub const PAGE_SIZE: u32 = 24;

/// How long one api call may take, answer included, before the page says 502.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest api answer a page reads: far above a page of videos or comments.
const ANSWER_LIMIT: usize = 4 << 20;

pub struct ApiClient {
    http: upstream::Client,
    base: String,
}

impl ApiClient {
    pub fn new(http: upstream::Client, base: &str) -> Self {
        ApiClient {
            http,
            base: base.to_string(),
        }
    }

    /// One call: `None` for an empty success (204), the decoded answer for another success, the
    /// api's refusal as [`WebError::Api`].
    async fn call<T: DeserializeOwned>(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<T>, WebError> {
        let url = format!("{}{}", self.base, path);
        let req = request(ctx, method, &url, body)?;
        let late = || WebError::Upstream(format!("api at {url}: no answer in {CALL_TIMEOUT:?}"));
        let exchange = tokio::time::timeout(CALL_TIMEOUT, self.exchange(req, &url));
        let (status, bytes) = exchange.await.map_err(|_| late())??;
        if status.is_success() {
            if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| WebError::Upstream(format!("api at {url}: unexpected answer: {e}")));
        }
        Err(refusal(status, &bytes))
    }

    /// Sends `req` and reads the whole answer.
    async fn exchange(
        &self,
        req: Request<svc::Body>,
        url: &str,
    ) -> Result<(StatusCode, Bytes), WebError> {
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| WebError::Upstream(format!("api at {url}: {}", error_chain(&e))))?;
        let status = resp.status();
        let bytes = svc::http::read_body(resp.into_body(), ANSWER_LIMIT)
            .await
            .map_err(|e| WebError::Upstream(format!("api at {url}: reading the body: {e}")))?;
        Ok((status, bytes))
    }

    /// A call whose answer must have a body.
    async fn expect<T: DeserializeOwned>(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, WebError> {
        self.call(ctx, method, path, body)
            .await?
            .ok_or_else(|| WebError::Upstream(format!("api {path}: empty answer")))
    }

    /// A call made for its effect; whatever the api answers on success is not needed.
    async fn act(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(), WebError> {
        self.call::<Value>(ctx, method, path, body).await.map(drop)
    }

    /// Registers a user; returns the new session id.
    pub async fn register(&self, ctx: &Ctx<'_>, name: &str, pwd: &str) -> Result<String, WebError> {
        let body = json!({ "user_name": name, "pwd": pwd });
        let reply: SessionReply = self.expect(ctx, Method::POST, "/user", Some(body)).await?;
        Ok(reply.session_id)
    }

    /// Signs in; returns the new session id.
    pub async fn login(&self, ctx: &Ctx<'_>, name: &str, pwd: &str) -> Result<String, WebError> {
        let body = json!({ "user_name": name, "pwd": pwd });
        let path = format!("/user/{}", segment(name));
        let reply: SessionReply = self.expect(ctx, Method::POST, &path, Some(body)).await?;
        Ok(reply.session_id)
    }

    /// Revokes the session.
    pub async fn logout(&self, ctx: &Ctx<'_>, name: &str) -> Result<(), WebError> {
        let path = format!("/user/{}", segment(name));
        self.act(ctx, Method::DELETE, &path, None).await
    }

    /// Who `session` belongs to; `None` when the api does not know it (401).
    pub async fn session(&self, ctx: &Ctx<'_>, session: &str) -> Result<Option<Me>, WebError> {
        let ctx = Ctx {
            session: Some(session),
            ..*ctx
        };
        match self.expect(&ctx, Method::GET, "/session", None).await {
            Ok(me) => Ok(Some(me)),
            Err(e) if e.is_api(ErrorCode::NotAuthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of the public feed (`GET /videos`): public playable videos, newest first.
    pub async fn feed(&self, ctx: &Ctx<'_>, before: Option<&str>) -> Result<VideoList, WebError> {
        let path = with_before(format!("/videos?limit={PAGE_SIZE}"), before);
        self.expect(ctx, Method::GET, &path, None).await
    }

    /// A page of search results (`GET /search`), best match first.
    pub async fn search(
        &self,
        ctx: &Ctx<'_>,
        q: &str,
        before: Option<&str>,
    ) -> Result<VideoList, WebError> {
        let path = format!("/search?q={}&limit={PAGE_SIZE}", segment(q));
        self.expect(ctx, Method::GET, &with_before(path, before), None)
            .await
    }

    /// Changes a video of `me`'s; returns it as it now is.
    pub async fn update_video(
        &self,
        ctx: &Ctx<'_>,
        me: &str,
        vid: &str,
        edit: &VideoEdit<'_>,
    ) -> Result<Video, WebError> {
        let path = format!("/user/{}/videos/{}", segment(me), segment(vid));
        let body = serde_json::to_value(edit)
            .map_err(|e| WebError::Upstream(format!("encoding the edit: {e}")))?;
        self.expect(ctx, Method::PATCH, &path, Some(body)).await
    }

    pub async fn user(&self, ctx: &Ctx<'_>, name: &str) -> Result<User, WebError> {
        let path = format!("/user/{}", segment(name));
        self.expect(ctx, Method::GET, &path, None).await
    }

    /// A page of `name`'s videos, newest first, older than the api's cursor `before`: all of
    /// them for their owner, the public ones for anyone else.
    pub async fn videos(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<VideoList, WebError> {
        let path = format!("/user/{}/videos?limit={limit}", segment(name));
        self.expect(ctx, Method::GET, &with_before(path, before), None)
            .await
    }

    /// One video by id alone (`GET /videos/{vid}`), so a watch link need not name its author.
    pub async fn video(&self, ctx: &Ctx<'_>, vid: &str) -> Result<Video, WebError> {
        let path = format!("/videos/{}", segment(vid));
        self.expect(ctx, Method::GET, &path, None).await
    }

    pub async fn delete_video(&self, ctx: &Ctx<'_>, me: &str, vid: &str) -> Result<(), WebError> {
        let path = format!("/user/{}/videos/{}", segment(me), segment(vid));
        self.act(ctx, Method::DELETE, &path, None).await
    }

    pub async fn comments(&self, ctx: &Ctx<'_>, vid: &str) -> Result<CommentList, WebError> {
        let path = format!("/videos/{}/comments?limit=100", segment(vid));
        self.expect(ctx, Method::GET, &path, None).await
    }

    pub async fn post_comment(&self, ctx: &Ctx<'_>, vid: &str, text: &str) -> Result<(), WebError> {
        let path = format!("/videos/{}/comments", segment(vid));
        let body = json!({ "content": text });
        self.act(ctx, Method::POST, &path, Some(body)).await
    }

    /// Whether `vid` is one of `me`'s favourites (`GET`), or makes it one or not (`PUT`,
    /// `DELETE`).
    pub async fn favorite(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        me: &str,
        vid: &str,
    ) -> Result<Favorite, WebError> {
        let path = format!("/user/{}/favorites/{}", segment(me), segment(vid));
        self.expect(ctx, method, &path, None).await
    }

    /// Whether `me` follows `name` (`GET`), or starts or stops (`PUT`, `DELETE`).
    pub async fn follow(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        me: &str,
        name: &str,
    ) -> Result<Follow, WebError> {
        let path = format!("/user/{}/following/{}", segment(me), segment(name));
        self.expect(ctx, method, &path, None).await
    }

    /// A page of `me`'s favourites, the most recently marked first.
    pub async fn favorites(
        &self,
        ctx: &Ctx<'_>,
        me: &str,
        before: Option<&str>,
    ) -> Result<VideoList, WebError> {
        let path = format!("/user/{}/favorites?limit={PAGE_SIZE}", segment(me));
        self.expect(ctx, Method::GET, &with_before(path, before), None)
            .await
    }

    /// A page of the newest public videos of the channels the visitor follows (`GET /feed`).
    pub async fn subscriptions(
        &self,
        ctx: &Ctx<'_>,
        before: Option<&str>,
    ) -> Result<VideoList, WebError> {
        let path = with_before(format!("/feed?limit={PAGE_SIZE}"), before);
        self.expect(ctx, Method::GET, &path, None).await
    }

    pub async fn delete_comment(
        &self,
        ctx: &Ctx<'_>,
        vid: &str,
        cid: &str,
    ) -> Result<(), WebError> {
        let path = format!("/videos/{}/comment/{}", segment(vid), segment(cid));
        self.act(ctx, Method::DELETE, &path, None).await
    }
}

/// `path` (which has a query already) with the cursor of the page to read, if any.
fn with_before(mut path: String, before: Option<&str>) -> String {
    if let Some(cursor) = before {
        path.push_str("&before=");
        path.push_str(&segment(cursor));
    }
    path
}

/// The request for one call, with who is asking (SPEC section 3: the session header; the
/// client's address so the api rate-limits and logs per real client).
fn request(
    ctx: &Ctx<'_>,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Request<svc::Body>, WebError> {
    let bad = |what: &str| WebError::Upstream(format!("api at {url}: {what}"));
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header("x-request-id", ctx.request_id)
        .header("x-forwarded-for", ctx.client_ip.to_string())
        .header(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(session) = ctx.session {
        req = req.header("x-session-id", session);
    }
    let body = match body {
        Some(json) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            svc::http::full(json.to_string())
        }
        None => svc::http::empty_body(),
    };
    req.body(body)
        .map_err(|e| bad(&format!("cannot build the request: {e}")))
}

/// The api's refusal as the page shows it. Its server errors other than 503 are its own
/// failure, shown as 502 with a message of ours; any other status keeps its code and the api's
/// own `error` message.
fn refusal(status: StatusCode, body: &[u8]) -> WebError {
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return WebError::Api {
            code: ErrorCode::BadGateway,
            message: "The service failed to do that. Please try again shortly.".into(),
        };
    }
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| format!("the request failed ({status})"));
    WebError::Api {
        code: ErrorCode::for_status(status),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_api_message_and_hide_its_failures() {
        let e = refusal(
            StatusCode::CONFLICT,
            br#"{"error":"taken","error_code":"409"}"#,
        );
        assert!(
            matches!(&e, WebError::Api { code: ErrorCode::Conflict, message } if message == "taken")
        );
        let e = refusal(StatusCode::UNAUTHORIZED, b"not json");
        assert!(e.is_api(ErrorCode::NotAuthenticated));
        assert_eq!(e.words().1, "the request failed (401 Unauthorized)");
        let e = refusal(StatusCode::INTERNAL_SERVER_ERROR, br#"{"error":"db down"}"#);
        assert!(e.is_api(ErrorCode::BadGateway));
        assert!(!e.words().1.contains("db down"));
        assert!(refusal(StatusCode::SERVICE_UNAVAILABLE, b"").is_api(ErrorCode::Unavailable));
    }
}
