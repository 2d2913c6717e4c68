//! The HTTP contract as data: each process keeps an OpenAPI 3.1 document beside its code
//! (`api/openapi.json`, `streamserver/openapi.json`, `scheduler/openapi.json`), serves it at
//! `GET /openapi.json` ([`response`]) and checks it against its route table here
//! ([`differences`], and over HTTP with the `testing` feature, `check_served`).
//!
//! Why written by hand and checked, rather than generated (`utoipa` and the like): the handlers
//! are plain hyper functions over one exhaustive `match (route, method)` per process, with bodies
//! read and answers written by hand; a derive macro would need an annotation on every handler
//! and type restating what the code already says, and would still not see the headers, ranges,
//! tus and error answers that make up most of the streamserver's contract. So the document is
//! written once, for people and client generators alike, and kept honest two ways: this module
//! checks that every route of a `Route::ALL` with every method its dispatch accepts is in the
//! document and that every documented path is a route; and `scripts/test-contract` validates the
//! documents (`openapi-spec-validator`) and fuzzes the running processes against them
//! (`schemathesis`), so an answer the document does not describe fails the suite.
//!
//! What does not belong here: the documents themselves, and anything about one process's routes.

use std::collections::{BTreeMap, BTreeSet};

use http::{header, HeaderValue, Method, Response, StatusCode};

use crate::http::{full, Body};
use crate::router::Route;

/// Where every process serves its document.
pub const PATH: &str = "/openapi.json";

/// The routes the server loop answers itself, before a process's own table sees a request
/// (`server::answer`), with their methods. Every document describes them too.
pub const SERVER_ROUTES: &[(&str, &[Method])] = &[
    ("/healthz", &[Method::GET, Method::HEAD]),
    ("/readyz", &[Method::GET, Method::HEAD]),
    ("/metrics", &[Method::GET]),
];

/// The operation keys of an OpenAPI path item (OpenAPI 3.1, section 4.8.9), upper-cased, they
/// are the HTTP methods.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `GET /openapi.json`: the document, which each process compiles in (`include_str!`).
pub fn response(document: &'static str) -> Response<Body> {
    let mut resp = Response::new(full(document));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// Path pattern to the set of methods: what a document describes, or what a process serves.
pub type Operations = BTreeMap<String, BTreeSet<String>>;

/// The operations a document describes: every path of `paths` with the methods it has an
/// operation for. Fails with a sentence when the text is not an OpenAPI 3.1 document.
pub fn documented(document: &str) -> Result<Operations, String> {
    let doc: serde_json::Value =
        serde_json::from_str(document).map_err(|e| format!("the document is not JSON: {e}"))?;
    let version = doc["openapi"].as_str().unwrap_or("");
    if !version.starts_with("3.1.") {
        return Err(format!(
            "the document says openapi {version:?}; these documents are OpenAPI 3.1.x"
        ));
    }
    let paths = doc["paths"]
        .as_object()
        .ok_or("the document has no `paths` object")?;
    let mut out = Operations::new();
    for (path, item) in paths {
        let methods = OPERATIONS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_ascii_uppercase())
            .collect();
        out.insert(path.clone(), methods);
    }
    Ok(out)
}

/// The operations a process serves: its table's routes with the methods each one accepts
/// (`allowed`), and the server loop's own [`SERVER_ROUTES`].
pub fn served<R: Route>(allowed: impl Fn(R) -> Vec<Method>) -> Operations {
    let mut out = Operations::new();
    for route in R::ALL {
        let methods = allowed(*route).iter().map(|m| m.to_string()).collect();
        out.insert(route.name().to_string(), methods);
    }
    for (path, methods) in SERVER_ROUTES {
        out.insert(
            path.to_string(),
            methods.iter().map(|m| m.to_string()).collect(),
        );
    }
    out
}

/// Every way the document and the process disagree, one sentence each; empty when they agree.
pub fn differences(documented: &Operations, served: &Operations) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, methods) in served {
        match documented.get(path) {
            None => problems.push(format!("the route {path} is not in the document")),
            Some(doc) => {
                for m in methods.difference(doc) {
                    problems.push(format!("{m} {path} is served but not documented"));
                }
                for m in doc.difference(methods) {
                    problems.push(format!("{m} {path} is documented but not served"));
                }
            }
        }
    }
    for path in documented.keys().filter(|p| !served.contains_key(*p)) {
        problems.push(format!("{path} is documented but is no route"));
    }
    problems
}

/// A concrete path for a route pattern: each `{parameter}` filled with a UUID (a well-formed id,
/// so a route that checks its parameter still reaches its method dispatch).
pub fn sample_path(pattern: &str) -> String {
    const SAMPLE: &str = "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push_str(SAMPLE);
                rest = &rest[open + close + 1..];
            }
            None => {
                rest = &rest[open..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a running process against `document`, the text it compiles in: `GET /openapi.json`
/// answers that text as `application/json`, and the document and the route table `R` agree
/// ([`differences`]). What each route accepts is asked of the process itself: a request with a
/// method no route accepts is answered 405 with `Allow` (RFC 9110 section 15.5.6) by the
/// dispatch's fallback arm, so the list is the dispatch's own. (`Tus-Resumable` is sent so that
/// the streamserver's tus routes, which answer other versions 412 first, reach that arm too.)
#[cfg(feature = "testing")]
pub async fn check_served<R: Route>(base_url: &str, document: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let served_doc = client
        .get(format!("{base_url}{PATH}"))
        .send()
        .await
        .map_err(|e| format!("GET {PATH}: {e}"))?;
    let status = served_doc.status();
    let content_type = served_doc
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = served_doc.text().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK || content_type != "application/json" || text != document {
        return Err(format!(
            "GET {PATH} answered {status} ({content_type:?}), not 200 with the document as application/json"
        ));
    }
    let probe = Method::from_bytes(b"PROBE").map_err(|e| e.to_string())?;
    let mut allowed = BTreeMap::new();
    for route in R::ALL {
        let path = sample_path(route.name());
        let resp = client
            .request(probe.clone(), format!("{base_url}{path}"))
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .map_err(|e| format!("PROBE {path}: {e}"))?;
        if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
            return Err(format!(
                "PROBE {path} answered {}, not 405 with Allow",
                resp.status()
            ));
        }
        let allow = resp
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("the 405 of {path} has no Allow header"))?;
        let methods: Result<Vec<Method>, _> = allow
            .split(',')
            .map(|m| Method::from_bytes(m.trim().as_bytes()))
            .collect();
        allowed.insert(
            route.name(),
            methods.map_err(|e| format!("Allow {allow:?}: {e}"))?,
        );
    }
    let served = served::<R>(|r| allowed.get(r.name()).cloned().unwrap_or_default());
    let problems = differences(&documented(document)?, &served);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Route {
        Videos,
        Video,
    }

    impl crate::router::Route for Route {
        const ALL: &'static [Self] = &[Route::Videos, Route::Video];
        fn name(self) -> &'static str {
            match self {
                Route::Videos => "/videos",
                Route::Video => "/videos/{vid}",
            }
        }
    }

    fn allowed(route: Route) -> Vec<Method> {
        match route {
            Route::Videos => vec![Method::GET, Method::POST],
            Route::Video => vec![Method::GET, Method::HEAD],
        }
    }

    const DOCUMENT: &str = r#"{
        "openapi": "3.1.0",
        "paths": {
            "/videos": {"summary": "x", "parameters": [], "get": {}, "post": {}},
            "/videos/{vid}": {"get": {}, "head": {}},
            "/healthz": {"get": {}, "head": {}},
            "/readyz": {"get": {}, "head": {}},
            "/metrics": {"get": {}}
        }
    }"#;

    #[test]
    fn a_document_that_matches_the_table_has_no_differences() {
        let doc = documented(DOCUMENT).unwrap();
        assert_eq!(
            doc["/videos"],
            BTreeSet::from(["GET".to_string(), "POST".to_string()]),
            "path-item keys that are not operations are not methods"
        );
        assert_eq!(
            differences(&doc, &served::<Route>(allowed)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_disagreement_is_named() {
        let doc = documented(
            &DOCUMENT
                .replace(r#""post": {}"#, r#""put": {}"#)
                .replace(r#""/metrics": {"get": {}}"#, r#""/gone": {"get": {}}"#),
        )
        .unwrap();
        let problems = differences(&doc, &served::<Route>(allowed));
        assert_eq!(
            problems,
            [
                "the route /metrics is not in the document",
                "POST /videos is served but not documented",
                "PUT /videos is documented but not served",
                "/gone is documented but is no route",
            ]
        );
    }

    #[test]
    fn only_openapi_3_1_documents_are_read() {
        assert!(documented("{").unwrap_err().contains("not JSON"));
        let old = DOCUMENT.replace("3.1.0", "3.0.3");
        assert!(documented(&old).unwrap_err().contains("3.1"));
        assert!(documented(r#"{"openapi": "3.1.0"}"#)
            .unwrap_err()
            .contains("paths"));
    }

    #[test]
    fn sample_paths_fill_every_parameter_with_an_id() {
        let id = "0b7e2f3a-5c1d-4e6f-8a9b-0c1d2e3f4a5b";
        assert_eq!(sample_path("/files/"), "/files/");
        assert_eq!(sample_path("/videos/{vid}"), format!("/videos/{id}"));
        assert_eq!(
            sample_path("/videos/{vid}/comment/{cid}"),
            format!("/videos/{id}/comment/{id}")
        );
        assert_eq!(
            sample_path("/videos/{vid}/storyboard.jpg"),
            format!("/videos/{id}/storyboard.jpg")
        );
        assert_eq!(sample_path("/broken/{x"), "/broken/{x");
    }

    #[tokio::test]
    async fn the_document_is_served_as_json() {
        use http_body_util::BodyExt;
        let resp = response(DOCUMENT);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, DOCUMENT.as_bytes());
    }
}
