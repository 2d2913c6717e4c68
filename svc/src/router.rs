//! Path routing on `matchit`, with the 404 and 405 answers every service gives.
//!
//! A service lists its routes once as `(pattern, Route)` pairs where `Route` is a small `Copy`
//! enum, then dispatches with an exhaustive `match (route, method)`; the fallback arm calls
//! [`method_not_allowed`] with the methods that route accepts. Route tables are fixed at compile
//! time, so a malformed one is a programming error and panics at start-up.

use http::{header, HeaderValue, Method, Response};

use crate::http::{error_json, Body, ErrorCode};

pub use matchit::Params;

/// A service's routes: a small `Copy` enum whose every value names its path pattern. The
/// pattern is also the route's metrics label, so a label never holds a concrete path (an id)
/// and each route is spelled once.
pub trait Route: Copy + 'static {
    /// Every route, in table order.
    const ALL: &'static [Self];

    /// The `matchit` pattern (`/user/{username}`), also the metrics label.
    fn name(self) -> &'static str;

    /// The table of all routes.
    fn table() -> Router<Self> {
        let pairs: Vec<(&str, Self)> = Self::ALL.iter().map(|r| (r.name(), *r)).collect();
        Router::new(&pairs)
    }
}

/// A route table mapping path patterns (`/user/{username}`) to route values.
pub struct Router<R> {
    inner: matchit::Router<R>,
}

impl<R: Copy> Router<R> {
    /// Builds the table. Panics on a malformed or conflicting pattern: that is a bug in the table,
    /// caught by the first test that builds the app.
    pub fn new(routes: &[(&str, R)]) -> Self {
        let mut inner = matchit::Router::new();
        for (pattern, route) in routes {
            if let Err(e) = inner.insert(*pattern, *route) {
                panic!("bad route table entry {pattern:?}: {e}");
            }
        }
        Router { inner }
    }

    /// The route and its path parameters, or `None` for an unknown path.
    pub fn at<'r, 'p>(&'r self, path: &'p str) -> Option<(R, Params<'r, 'p>)> {
        self.inner.at(path).ok().map(|m| (*m.value, m.params))
    }
}

/// 404 for a path no route matches.
pub fn not_found() -> Response<Body> {
    error_json(ErrorCode::NotFound, "no such resource")
}

/// 405 with the `Allow` header listing what the route accepts (RFC 9110 section 15.5.6).
pub fn method_not_allowed(allowed: &[Method]) -> Response<Body> {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut resp = error_json(
        ErrorCode::MethodNotAllowed,
        &format!("method not allowed here; use {allow}"),
    );
    if let Ok(value) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Route {
        User,
        Videos,
    }

    fn dispatch(router: &Router<Route>, method: &Method, path: &str) -> (StatusCode, String) {
        match router.at(path) {
            None => (not_found().status(), String::new()),
            Some((route, params)) => match (route, method) {
                (Route::User, &Method::GET) => {
                    (StatusCode::OK, params.get("name").unwrap_or("").to_string())
                }
                (Route::User, _) => {
                    let r = method_not_allowed(&[Method::GET]);
                    (
                        r.status(),
                        r.headers()[header::ALLOW].to_str().unwrap().into(),
                    )
                }
                (Route::Videos, &Method::GET | &Method::POST) => (StatusCode::OK, "videos".into()),
                (Route::Videos, _) => {
                    let r = method_not_allowed(&[Method::GET, Method::POST]);
                    (
                        r.status(),
                        r.headers()[header::ALLOW].to_str().unwrap().into(),
                    )
                }
            },
        }
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
        let router = Router::new(&[
            ("/user/{name}", Route::User),
            ("/user/{name}/videos", Route::Videos),
        ]);
        assert_eq!(
            dispatch(&router, &Method::GET, "/user/ann"),
            (StatusCode::OK, "ann".into())
        );
        assert_eq!(
            dispatch(&router, &Method::GET, "/nope").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            dispatch(&router, &Method::GET, "/user/").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            dispatch(&router, &Method::GET, "/user/ann/videos/x").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            dispatch(&router, &Method::DELETE, "/user/ann"),
            (StatusCode::METHOD_NOT_ALLOWED, "GET".into())
        );
        assert_eq!(
            dispatch(&router, &Method::PUT, "/user/ann/videos"),
            (StatusCode::METHOD_NOT_ALLOWED, "GET, POST".into())
        );
    }

    impl super::Route for Route {
        const ALL: &'static [Self] = &[Route::User, Route::Videos];
        fn name(self) -> &'static str {
            match self {
                Route::User => "/user/{name}",
                Route::Videos => "/user/{name}/videos",
            }
        }
    }

    #[test]
    fn a_route_enum_builds_its_own_table() {
        let router = <Route as super::Route>::table();
        assert_eq!(router.at("/user/ann").map(|(r, _)| r), Some(Route::User));
        assert_eq!(
            router.at("/user/ann/videos").map(|(r, _)| r),
            Some(Route::Videos)
        );
        assert!(router.at("/user").is_none());
    }

    #[test]
    #[should_panic(expected = "bad route table entry")]
    fn conflicting_routes_panic_at_build() {
        let _ = Router::new(&[("/a/{x}", Route::User), ("/a/{y}", Route::Videos)]);
    }
}
