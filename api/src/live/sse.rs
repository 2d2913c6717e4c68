//! Server-Sent Events framing (HTML Living Standard, section 9.2 "Server-sent events"): the bytes
//! of an event, of the viewer count, of the heartbeat comment and of the reconnection delay.
//!
//! Every `data` here is one line of JSON (serde never writes a raw line break; one inside a
//! string is the escape `\n`), so an event is one `data:` field and cannot be split or forged
//! by what a user typed.

use bytes::Bytes;

/// A comment line (`:` then anything): ignored by clients, it keeps proxies and load balancers
/// from closing an idle stream and lets the server notice a client that went away.
pub const HEARTBEAT: &[u8] = b": keep-alive\n\n";

/// How long a client waits before it reconnects after the stream ends (`retry`, in ms).
pub const RETRY_MS: u32 = 3000;

/// The first bytes of every stream: the reconnection delay.
pub fn retry() -> Bytes {
    Bytes::from(format!("retry: {RETRY_MS}\n\n"))
}

/// An event with an id (the client sends it back as `Last-Event-ID` when it reconnects).
pub fn event(id: u64, name: &str, data: &str) -> Bytes {
    debug_assert!(!data.contains(['\n', '\r']), "data must be one line");
    Bytes::from(format!("id: {id}\nevent: {name}\ndata: {data}\n\n"))
}

/// Only an id: the client takes it as its last event id (it is sent back as `Last-Event-ID`)
/// and dispatches nothing (HTML section 9.2.6, "dispatch the event": the last event ID is set
/// before an empty data buffer returns). It moves a client past rows it was not sent.
pub fn id_only(id: u64) -> Bytes {
    Bytes::from(format!("id: {id}\n\n"))
}

/// The number of people watching the video now. No id: a count is not something to replay, and
/// an event without one leaves the client's last event id as it was.
pub fn viewers(count: u64) -> Bytes {
    Bytes::from(format!("event: viewers\ndata: {{\"viewers\":{count}}}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_what_an_event_source_reads() {
        assert_eq!(
            event(42, "danmaku", r#"{"text":"a\nb"}"#),
            "id: 42\nevent: danmaku\ndata: {\"text\":\"a\\nb\"}\n\n"
        );
        assert_eq!(viewers(3), "event: viewers\ndata: {\"viewers\":3}\n\n");
        assert_eq!(retry(), "retry: 3000\n\n");
        assert_eq!(id_only(9), "id: 9\n\n");
        assert!(HEARTBEAT.starts_with(b":") && HEARTBEAT.ends_with(b"\n\n"));
    }
}
