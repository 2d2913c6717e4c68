//! The one HTTP client web uses to reach its upstreams (api and streamserver): hyper-util's
//! pooled client over plain HTTP/1.1 connections.
//!
//! The proxy needs hyper bodies streamed both ways with backpressure, so the client is hyper's;
//! the pages' calls to the api (`api.rs`) use the same client rather than a second HTTP stack.
//! Where requests go and what they carry is decided by `proxy.rs` and `api.rs`, not here.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use svc::http::Body;

/// A pooled client to the upstreams, cheap to clone (clones share the pool).
pub type Client = hyper_util::client::legacy::Client<HttpConnector, Body>;

/// A client whose connection attempts give up after `connect_timeout` (then the request is a
/// 502) and whose idle connections close after 5 s: well before the upstreams' header read
/// timeout (10 s by default) closes them, so a pooled connection is never reused at the moment
/// the upstream closes it.
pub fn client(connect_timeout: Duration) -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build(connector)
}

/// An error with all its causes, for the log (`client error (Connect): tcp connect error:
/// Connection refused`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
