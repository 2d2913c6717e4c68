//! The web service: server-rendered pages and the same-origin reverse proxy to api and
//! streamserver (SPEC section 6).
//!
//! `Application::build` does everything `main` does short of waiting for a signal, so tests start
//! the service exactly as production does. This file holds the one route table and the checks
//! every request passes (the `Origin` check for state-changing requests); pages live in
//! `pages.rs`, the proxy in `proxy.rs`.

pub mod api;
pub mod assets;
pub mod config;
pub mod error;
pub mod pages;
pub mod proxy;
pub mod session;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use svc::http::{Body, PeerAddr, RequestId, RouteName};
use svc::router::Router;
use svc::Server;
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::error::WebError;
use crate::pages::{Form, Visit};
use crate::proxy::{Caller, Proxy, Upstream};
use crate::session::CookiePolicy;

/// Form posts are small; anything bigger is not one of ours.
const FORM_LIMIT: usize = 64 * 1024;

/// Shared state of the web's request handlers.
pub struct Web {
    pub api: api::ApiClient,
    pub proxy: Proxy,
    pub cookies: CookiePolicy,
    pub config: Config,
}

/// The site's own routes; everything under the proxied prefixes is matched before this table.
#[derive(Debug, Clone, Copy)]
enum Route {
    Home,
    Login,
    Register,
    Logout,
    Watch,
    Comments,
    CommentDelete,
    VideoDelete,
    User,
    Static,
}

fn routes() -> &'static Router<Route> {
    static ROUTES: std::sync::OnceLock<Router<Route>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        Router::new(&[
            ("/", Route::Home),
            ("/login", Route::Login),
            ("/register", Route::Register),
            ("/logout", Route::Logout),
            ("/watch/{vid}", Route::Watch),
            ("/watch/{vid}/comments", Route::Comments),
            ("/watch/{vid}/comments/{cid}/delete", Route::CommentDelete),
            ("/my/videos/{vid}/delete", Route::VideoDelete),
            ("/u/{name}", Route::User),
            ("/static/{*path}", Route::Static),
        ])
    })
}

impl svc::App for Web {
    async fn handle(&self, mut req: Request<Incoming>) -> Response<Body> {
        // HTTP/2 carries the host in the URI, HTTP/1.1 in `Host`; the Origin check wants one.
        if !req.headers().contains_key(header::HOST) {
            if let Some(v) = req
                .uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                req.headers_mut().insert(header::HOST, v);
            }
        }
        let path = req.uri().path().to_string();
        let wants_json =
            path.starts_with("/api/") || path.starts_with("/files") || !accepts_html(req.headers());
        let (route, resp) = self.dispatch(req, &path).await;
        let mut resp = match resp {
            Ok(resp) => resp,
            Err(e) if wants_json => e.to_json(),
            Err(e) => e.to_page(self.error_layout()),
        };
        resp.extensions_mut().insert(RouteName(route));
        resp
    }

    async fn ready(&self) -> Result<(), String> {
        // web holds no state of its own: it can serve (and say 502 clearly) whatever the
        // upstreams are doing, so it is ready as soon as it listens.
        Ok(())
    }
}

fn accepts_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

impl Web {
    fn error_layout(&self) -> views::Layout {
        views::Layout {
            me: None,
            assets: assets::urls(),
        }
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        path: &str,
    ) -> (&'static str, Result<Response<Body>, WebError>) {
        if session::changes_state(req.method()) && !session::same_origin(req.headers()) {
            tracing::warn!(origin = ?req.headers().get(header::ORIGIN), "foreign origin refused");
            return ("forbidden", Err(WebError::ForeignOrigin));
        }
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |p| p.0);
        let signed_in = session::signed_in(req.headers());

        if path == "/api" || path.starts_with("/api/") {
            let Some(api_path) = proxy::api_path(path) else {
                return ("api", Err(WebError::NotFound));
            };
            let target = match req.uri().query() {
                Some(q) => format!("{api_path}?{q}"),
                None => api_path.to_string(),
            };
            let caller = Caller {
                peer,
                session: signed_in.map(|s| s.session),
            };
            return (
                "api",
                self.proxy
                    .forward(Upstream::Api, &target, req, caller)
                    .await,
            );
        }
        if proxy::is_stream_path(path) {
            let target = req
                .uri()
                .path_and_query()
                .map_or_else(|| path.to_string(), |pq| pq.as_str().to_string());
            let route = stream_route(path);
            let caller = Caller {
                peer,
                session: signed_in.map(|s| s.session),
            };
            return (
                route,
                self.proxy
                    .forward(Upstream::Stream, &target, req, caller)
                    .await,
            );
        }

        let Some((route, params)) = routes().at(path) else {
            return ("not_found", Err(WebError::NotFound));
        };
        let param = |name: &str| params.get(name).unwrap_or("").to_string();
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let visit = Visit {
            web: self,
            signed_in,
            request_id: &request_id,
            client_ip: peer.ip(),
        };
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_owned);
        let result = match (route, &method) {
            (Route::Home, &Method::GET | &Method::HEAD) => (
                "home",
                pages::home(&visit, pages::before_param(query.as_deref())).await,
            ),
            (Route::Login | Route::Register, &Method::GET | &Method::HEAD) => {
                ("login", pages::login_form(&visit))
            }
            (Route::Login, &Method::POST) => match read_form(req).await {
                Ok(form) => ("login", pages::sign_in(&visit, &form, false).await),
                Err(e) => ("login", Err(e)),
            },
            (Route::Register, &Method::POST) => match read_form(req).await {
                Ok(form) => ("register", pages::sign_in(&visit, &form, true).await),
                Err(e) => ("register", Err(e)),
            },
            (Route::Logout, &Method::POST) => ("logout", pages::sign_out(&visit).await),
            (Route::Watch, &Method::GET | &Method::HEAD) => {
                ("watch", pages::watch(&visit, &param("vid")).await)
            }
            (Route::Comments, &Method::POST) => match read_form(req).await {
                Ok(form) => (
                    "comments",
                    pages::post_comment(&visit, &param("vid"), &form).await,
                ),
                Err(e) => ("comments", Err(e)),
            },
            (Route::CommentDelete, &Method::POST) => (
                "comment_delete",
                pages::delete_comment(&visit, &param("vid"), &param("cid")).await,
            ),
            (Route::VideoDelete, &Method::POST) => (
                "video_delete",
                pages::delete_video(&visit, &param("vid")).await,
            ),
            (Route::User, &Method::GET | &Method::HEAD) => {
                let before = pages::before_param(query.as_deref());
                ("user", pages::user(&visit, &param("name"), before).await)
            }
            (Route::Static, &Method::GET | &Method::HEAD) => {
                let resp = assets::serve(&method, &param("path"), query.as_deref(), req.headers());
                ("static", resp.ok_or(WebError::NotFound))
            }
            (Route::Home | Route::Watch | Route::User | Route::Static, _) => (
                "method_not_allowed",
                Ok(svc::router::method_not_allowed(&[
                    Method::GET,
                    Method::HEAD,
                ])),
            ),
            (Route::Login | Route::Register, _) => (
                "method_not_allowed",
                Ok(svc::router::method_not_allowed(&[
                    Method::GET,
                    Method::HEAD,
                    Method::POST,
                ])),
            ),
            (Route::Logout | Route::Comments | Route::CommentDelete | Route::VideoDelete, _) => (
                "method_not_allowed",
                Ok(svc::router::method_not_allowed(&[Method::POST])),
            ),
        };
        let (name, mut resp) = result;
        if let Ok(resp) = &mut resp {
            harden(resp);
        }
        (name, resp)
    }
}

fn stream_route(path: &str) -> &'static str {
    if path.starts_with("/videos/") {
        "videos"
    } else if path.starts_with("/thumbnails/") {
        "thumbnails"
    } else if path.starts_with("/upload/") {
        "upload"
    } else {
        "files"
    }
}

/// Site pages may not be framed (clickjacking) and do not leak their URLs to other sites.
fn harden(resp: &mut Response<Body>) {
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

async fn read_form(req: Request<Incoming>) -> Result<Form, WebError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(WebError::Api {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "send this form as application/x-www-form-urlencoded".into(),
        });
    }
    match svc::http::read_body(req.into_body(), FORM_LIMIT).await {
        Ok(bytes) => Ok(Form::parse(&bytes)),
        Err(svc::http::BodyError::TooLarge { limit }) => Err(WebError::Api {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the form is larger than {limit} bytes"),
        }),
        Err(svc::http::BodyError::Read(e)) => Err(WebError::BadRequest(format!(
            "the form could not be read: {e}"
        ))),
    }
}

/// The web, bound and ready to run.
pub struct Application {
    server: Server,
    state: Arc<Web>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.upstream_connect_timeout)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let server = Server::bind(config.addr, "web")
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on WEB_ADDR={}: {e}", config.addr))?
            .drain_timeout(config.common.drain_timeout);
        let proxy = Proxy::new(
            &config.api_url,
            &config.stream_url,
            config.upstream_connect_timeout,
            config.trust_forwarded_for,
            config.cookie_secure,
        );
        let web = Web {
            api: api::ApiClient::new(http, &config.api_url),
            proxy,
            cookies: CookiePolicy {
                secure: config.cookie_secure,
                max_age: config.session_ttl,
            },
            config,
        };
        Ok(Application {
            server,
            state: Arc::new(web),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<Web> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains.
    pub async fn run(self, shutdown: CancellationToken) {
        self.server.run(self.state.clone(), shutdown).await;
    }
}
