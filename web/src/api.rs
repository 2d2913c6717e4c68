//! The server-side client pages use to call the api with the visitor's session.
//!
//! Typed wrappers for exactly the api calls the pages make (SPEC section 3); the api's JSON error
//! body becomes [`WebError::Api`] with its status and message so a page can show it. Proxying a
//! browser's own `/api` request is `proxy.rs`, not this.

use std::net::IpAddr;

use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::WebError;

/// A video object as the api returns it. Fields beyond the id are optional so a page still
/// renders when the api leaves one out.
#[derive(Debug, Clone, Deserialize)]
pub struct Video {
    pub id: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_ctime: String,
    #[serde(default)]
    pub state: String,
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
}

#[derive(Debug, Deserialize)]
struct SessionReply {
    session_id: String,
}

/// Who is asking, passed along so the api rate-limits and logs per real client.
pub struct Ctx<'a> {
    pub session: Option<&'a str>,
    pub request_id: &'a str,
    pub client_ip: IpAddr,
}

/// Videos per page on the home and user pages.
pub const PAGE_SIZE: u32 = 24;

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

impl ApiClient {
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        ApiClient {
            http,
            base: base.to_string(),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<T>, WebError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method, &url)
            .header("x-request-id", ctx.request_id)
            .header("x-forwarded-for", ctx.client_ip.to_string());
        if let Some(session) = ctx.session {
            req = req.header("x-session-id", session);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| WebError::Upstream(format!("api at {url}: {e}")))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| WebError::Upstream(format!("api at {url}: reading the body: {e}")))?;
        if status.is_success() {
            if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| WebError::Upstream(format!("api at {url}: unexpected answer: {e}")));
        }
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            return Err(WebError::Api {
                status: StatusCode::BAD_GATEWAY,
                message: "The service failed to do that. Please try again shortly.".into(),
            });
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("the request failed ({status})"));
        Err(WebError::Api { status, message })
    }

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

    /// Registers a user; returns the new session id.
    pub async fn register(&self, ctx: &Ctx<'_>, name: &str, pwd: &str) -> Result<String, WebError> {
        let body = json!({ "user_name": name, "pwd": pwd });
        let reply: SessionReply = self.expect(ctx, Method::POST, "/user", Some(body)).await?;
        Ok(reply.session_id)
    }

    /// Signs in; returns the new session id.
    pub async fn login(&self, ctx: &Ctx<'_>, name: &str, pwd: &str) -> Result<String, WebError> {
        let body = json!({ "user_name": name, "pwd": pwd });
        let path = format!("/user/{}", seg(name));
        let reply: SessionReply = self.expect(ctx, Method::POST, &path, Some(body)).await?;
        Ok(reply.session_id)
    }

    /// Revokes the session.
    pub async fn logout(&self, ctx: &Ctx<'_>, name: &str) -> Result<(), WebError> {
        let path = format!("/user/{}", seg(name));
        self.call::<Value>(ctx, Method::DELETE, &path, None).await?;
        Ok(())
    }

    pub async fn user(&self, ctx: &Ctx<'_>, name: &str) -> Result<User, WebError> {
        let path = format!("/user/{}", seg(name));
        self.expect(ctx, Method::GET, &path, None).await
    }

    /// A page of `name`'s videos, newest first, older than the api's cursor `before`.
    pub async fn videos(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        before: Option<&str>,
    ) -> Result<VideoList, WebError> {
        let mut path = format!("/user/{}/videos?limit={PAGE_SIZE}", seg(name));
        if let Some(cursor) = before {
            path.push_str("&before=");
            path.push_str(&seg(cursor));
        }
        self.expect(ctx, Method::GET, &path, None).await
    }

    /// One video by id alone (`GET /videos/{vid}`), so a watch link need not name its author.
    pub async fn video(&self, ctx: &Ctx<'_>, vid: &str) -> Result<Video, WebError> {
        let path = format!("/videos/{}", seg(vid));
        self.expect(ctx, Method::GET, &path, None).await
    }

    pub async fn delete_video(&self, ctx: &Ctx<'_>, me: &str, vid: &str) -> Result<(), WebError> {
        let path = format!("/user/{}/videos/{}", seg(me), seg(vid));
        self.call::<Value>(ctx, Method::DELETE, &path, None).await?;
        Ok(())
    }

    pub async fn comments(&self, ctx: &Ctx<'_>, vid: &str) -> Result<CommentList, WebError> {
        let path = format!("/videos/{}/comments?limit=100", seg(vid));
        self.expect(ctx, Method::GET, &path, None).await
    }

    pub async fn post_comment(
        &self,
        ctx: &Ctx<'_>,
        vid: &str,
        content: &str,
    ) -> Result<(), WebError> {
        let path = format!("/videos/{}/comments", seg(vid));
        let body = json!({ "content": content });
        self.call::<Value>(ctx, Method::POST, &path, Some(body))
            .await?;
        Ok(())
    }

    pub async fn delete_comment(
        &self,
        ctx: &Ctx<'_>,
        vid: &str,
        cid: &str,
    ) -> Result<(), WebError> {
        let path = format!("/videos/{}/comment/{}", seg(vid), seg(cid));
        self.call::<Value>(ctx, Method::DELETE, &path, None).await?;
        Ok(())
    }
}

/// Percent-encodes one path segment, so a name can never add segments or a query.
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape() {
        assert_eq!(seg("ann"), "ann");
        assert_eq!(seg("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(seg("é"), "%C3%A9");
    }
}
