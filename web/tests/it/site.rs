//! Typed requests to a running service (web, or an upstream directly) as a browser or a script
//! sends them, and the reply as the tests look at it.
//!
//! `site.get(path).by(&ann).html().await` is a browser page view, `.same_origin()` adds the site's
//! own `Origin` that a browser sends with a form post; the flows every test needs (registering,
//! creating a video, uploading bytes) are written once here, with the assertions that they worked.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

/// The password every test user has.
pub const PWD: &str = "correct horse battery";

/// 24 bytes of an MP4 `ftyp` box: what the streamserver's magic-byte check wants to see.
pub const FTYP: &[u8] = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2";

/// A base URL and a client that keeps no cookies and follows no redirects, so tests see exactly
/// what the service says.
pub struct Site {
    base: String,
    pub port: u16,
    client: reqwest::Client,
}

/// A signed-in browser: the user's name and the `Cookie` header it sends.
#[derive(Debug)]
pub struct Visitor {
    pub name: String,
    pub cookie: String,
}

impl Site {
    pub fn at(addr: std::net::SocketAddr) -> Self {
        Site {
            base: format!("http://{addr}"),
            port: addr.port(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("a client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            req: self.client.request(method, self.url(path)),
            origin: self.base.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn head(&self, path: &str) -> Call {
        self.request(Method::HEAD, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    /// A page as a browser asks for it, signed in as `who` or signed out.
    pub fn page(&self, path: &str, who: Option<&Visitor>) -> Call {
        let call = self.get(path).html();
        match who {
            Some(who) => call.by(who),
            None => call,
        }
    }

    /// The sign-in (`/login`) or register (`/register`) form, posted as a script would (no
    /// `Origin`): add `.same_origin()` for a browser.
    pub fn credentials(&self, path: &str, name: &str, pwd: &str) -> Call {
        self.post(path).form(&[("user_name", name), ("pwd", pwd)])
    }

    /// Registers `name` through the form, from the site, and returns the signed-in browser.
    pub async fn register(&self, name: &str) -> Visitor {
        let reply = self.credentials("/register", name, PWD).same_origin().await;
        assert_eq!(reply.status, 303, "register {name}: {}", reply.text());
        Visitor::signed_in(name, &reply)
    }

    /// Creates a video of `who`'s through web's `/api` proxy and returns its id.
    pub async fn create_video(&self, who: &Visitor, title: &str) -> String {
        self.create_video_as(who, serde_json::json!({ "name": title }))
            .await
    }

    /// Creates a video of `who`'s from the creation body `body` (name, description,
    /// visibility) as the studio's script sends it, and returns its id.
    pub async fn create_video_as(&self, who: &Visitor, body: Value) -> String {
        let reply = self
            .post(&format!("/api/user/{}/videos", who.name))
            .by(who)
            .same_origin()
            .json(body.clone())
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let video = reply.json();
        assert_eq!(video["state"], "pending");
        for field in ["name", "description", "visibility"] {
            if let Some(sent) = body.get(field) {
                assert_eq!(&video[field], sent, "{field}");
            }
        }
        video["id"].as_str().expect("a video id").to_string()
    }

    /// A playable video of `who`'s with `title` and `visibility`: created, then its bytes
    /// uploaded (without a scheduler it stays `uploaded`, which plays). Returns its id.
    pub async fn publish(&self, who: &Visitor, title: &str, visibility: &str) -> String {
        let body = serde_json::json!({ "name": title, "visibility": visibility });
        let vid = self.create_video_as(who, body).await;
        self.upload(who, &vid, patterned(4096)).await;
        vid
    }

    /// Posts a comment on `vid` through the watch page's form, as `who` (or signed out).
    pub async fn comment(&self, who: Option<&Visitor>, vid: &str, text: &str) -> Reply {
        let call = self
            .post(&format!("/watch/{vid}/comments"))
            .same_origin()
            .html()
            .form(&[("content", text)]);
        match who {
            Some(who) => call.by(who).await,
            None => call.await,
        }
    }

    /// Posts the edit form of `vid` from this site with `fields`, as `who`.
    pub async fn edit(&self, who: &Visitor, vid: &str, fields: &[(&str, &str)]) -> Reply {
        self.post(&format!("/watch/{vid}/edit"))
            .by(who)
            .same_origin()
            .html()
            .form(fields)
            .await
    }

    /// Uploads `body` as video `vid` (`PUT /upload/{vid}`) from the site, and checks it was taken.
    pub async fn upload(&self, who: &Visitor, vid: &str, body: Vec<u8>) {
        let reply = self
            .request(Method::PUT, &format!("/upload/{vid}"))
            .by(who)
            .same_origin()
            .header("content-type", "video/mp4")
            .body(body)
            .await;
        assert!(
            (200..300).contains(&reply.status),
            "upload of {vid}: {} {}",
            reply.status,
            reply.text()
        );
    }

    /// Sends `GET <target>` over a raw connection, exactly as written (HTTP clients normalise dot
    /// segments away, which would hide what web does with them), and returns the status code.
    pub async fn raw_get_status(&self, target: &str, host: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connecting");
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).await.expect("writing");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer).await;
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {answer:?}"))
    }
}

impl Visitor {
    /// The browser after `reply` set its cookies.
    pub fn signed_in(name: &str, reply: &Reply) -> Self {
        Visitor {
            name: name.to_string(),
            cookie: reply.cookie_header(),
        }
    }
}

/// One request being put together; `.await` sends it.
pub struct Call {
    req: reqwest::RequestBuilder,
    origin: String,
}

impl Call {
    /// With `who`'s cookies.
    pub fn by(self, who: &Visitor) -> Self {
        self.cookie(&who.cookie)
    }

    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    /// As a browser asks for a page: `Accept: text/html`.
    pub fn html(self) -> Self {
        self.header("accept", "text/html")
    }

    /// With the site's own `Origin`, as a browser sends it with a form post or a script's POST.
    pub fn same_origin(self) -> Self {
        let origin = self.origin.clone();
        self.header("origin", &origin)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.req = self.req.form(pairs);
        self
    }

    pub fn json(mut self, value: Value) -> Self {
        self.req = self.req.json(&value);
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.req = self.req.body(body);
        self
    }

    pub async fn send(self) -> Reply {
        let resp = self.req.send().await.expect("the request failed");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("reading the body");
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl IntoFuture for Call {
    type Output = Reply;
    type IntoFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header's value as text; empty when it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts that this answer, through web, is the streamserver's `direct` one: status, what
    /// the headers say about the bytes, and the bytes; and that no internal header leaked.
    #[track_caller]
    pub fn assert_same_bytes_as(&self, direct: &Reply, what: &str) {
        assert_eq!(self.status, direct.status, "{what}");
        for name in [
            "content-range",
            "content-length",
            "etag",
            "last-modified",
            "accept-ranges",
            "content-type",
            "cache-control",
        ] {
            assert_eq!(
                self.headers.get(name),
                direct.headers.get(name),
                "{what}: {name}"
            );
        }
        assert!(!self.headers.contains_key("x-local-file"), "{what}");
        assert_eq!(self.body, direct.body, "{what}");
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The `name=value` pairs of every `Set-Cookie`, joined as a `Cookie` header.
    pub fn cookie_header(&self) -> String {
        self.set_cookies()
            .iter()
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `303 See Other` to `location`.
    pub fn assert_redirect(&self, location: &str) {
        assert_eq!(self.status, 303, "{}", self.text());
        assert_eq!(self.header("location"), location);
    }

    /// An HTML page with `status` that says `words`.
    pub fn assert_page(&self, status: u16, words: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert!(
            self.header("content-type").starts_with("text/html"),
            "{:?}",
            self.headers
        );
        assert!(
            self.text().contains(words),
            "no {words:?} in {}",
            self.text()
        );
    }

    /// The JSON error body of SPEC section 3 with `status` and `code`.
    pub fn assert_json_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json()["error_code"], code, "{}", self.text());
    }

    /// Whether the page shows a card (or the watch page) of video `vid`.
    pub fn shows(&self, vid: &str) -> bool {
        self.text().contains(&format!("data-video-id=\"{vid}\""))
    }

    /// The `content` of the page's `<meta>` whose `property` or `name` is `key`, unescaped.
    pub fn meta(&self, key: &str) -> Option<String> {
        let text = self.text();
        ["property", "name"].iter().find_map(|attr| {
            let start = format!("<meta {attr}=\"{key}\" content=\"");
            let rest = &text[text.find(&start)? + start.len()..];
            Some(unescape(&rest[..rest.find('"')?]))
        })
    }

    /// An answer no other site may frame: `X-Frame-Options: DENY` and CSP `frame-ancestors
    /// 'none'`.
    pub fn assert_not_framable(&self) {
        assert_eq!(self.header("x-frame-options"), "DENY", "{:?}", self.headers);
        assert_eq!(
            self.header("content-security-policy"),
            "frame-ancestors 'none'",
            "{:?}",
            self.headers
        );
    }

    /// An answer any site may frame: CSP `frame-ancestors *` and no `X-Frame-Options`.
    pub fn assert_framable(&self) {
        assert!(
            self.headers.get("x-frame-options").is_none(),
            "{:?}",
            self.headers
        );
        assert_eq!(
            self.header("content-security-policy"),
            "frame-ancestors *",
            "{:?}",
            self.headers
        );
    }

    /// The `href` of the first link on the page that starts with `prefix`, unescaped.
    pub fn link_starting(&self, prefix: &str) -> Option<String> {
        self.text()
            .split("href=\"")
            .filter_map(|s| s.split('"').next())
            .map(unescape)
            .find(|s| s.starts_with(prefix))
    }
}

/// Text as it reads once askama's HTML escapes (`&#38;` and the like) are undone.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// `len` bytes that start like an MP4 file and then follow a pattern, so a byte range of them
/// can be checked.
pub fn patterned(len: usize) -> Vec<u8> {
    let mut body = FTYP.to_vec();
    body.extend((FTYP.len()..len).map(|i| (i % 251) as u8));
    body
}

/// A file that passes the streamserver's magic-byte check but holds no video after its `ftyp`
/// box, `len` bytes long.
pub fn not_a_video(len: usize) -> Vec<u8> {
    let mut body = FTYP.to_vec();
    body.resize(len, 0x55);
    body
}
