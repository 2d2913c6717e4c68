//! What one client connection may cost a process: the caps of issue 15, item 7.
//!
//! Without them a client could hold a connection open forever by sending nothing, or a request
//! head a byte at a time, and make the server buffer up to ~400 KiB of headers on each; a few
//! thousand such connections pin hundreds of megabytes. Here:
//!
//! - a request head (request line and headers) is at most [`MAX_HEAD_BYTES`], one header line
//!   (`name: value`) at most [`MAX_HEADER_LINE_BYTES`] and there are at most [`MAX_HEADERS`]
//!   fields: beyond any of them the answer is 431 Request Header Fields Too Large (RFC 6585,
//!   section 5), as nginx refuses a header line past its buffer;
//! - a client must send its first bytes, and then every request head, within
//!   `HEADER_READ_TIMEOUT` (10 s); a connection idle between requests for that long is closed too;
//! - one client address holds at most `MAX_CONNECTIONS_PER_CLIENT` connections at once (an IPv6
//!   client counts by its /64, which one host usually owns whole); the next one is answered 429
//!   and closed. `TRUSTED_PROXIES` (web in front of api and streamserver, nginx in front of web)
//!   are exempt: every client behind them shares their address, and they bound clients
//!   themselves.
//!
//! Only the accounting lives here; the server loop (`server.rs`) applies it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::HeaderMap;

use crate::config::{ConfigError, Env};

/// The most bytes a request head may have, request line included (HTTP/2: the header list size
/// of RFC 9113 section 6.5.2).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most bytes one header line (`name: value`) may have.
pub const MAX_HEADER_LINE_BYTES: usize = 16 * 1024;
/// The most header fields a request may have (hyper's own default, written down).
pub const MAX_HEADERS: usize = 100;

const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u32 = 256;

/// hyper's read-buffer ceiling, which bounded request heads before these caps.
const HYPER_DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// The bounds the server loop puts on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send its first bytes, then each request head; also how
    /// long a connection may sit idle between requests.
    pub header_read_timeout: Duration,
    /// 431 beyond this many bytes of request head.
    pub max_head_bytes: usize,
    /// 431 when one header line is longer.
    pub max_header_line_bytes: usize,
    /// Connections one client address may hold at once; `None` for no cap.
    pub max_connections_per_client: Option<u32>,
    /// Peers the per-client cap does not apply to (`TRUSTED_PROXIES`).
    pub exempt: Vec<IpAddr>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_head_bytes: MAX_HEAD_BYTES,
            max_header_line_bytes: MAX_HEADER_LINE_BYTES,
            max_connections_per_client: Some(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
            exempt: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(Ipv6Addr::LOCALHOST),
            ],
        }
    }
}

/// `CONNECTION_CAPS`: `on` (the default), or `off` for `bench/headers.sh` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caps {
    On,
    Off,
}

impl FromStr for Caps {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "on" => Ok(Caps::On),
            "off" => Ok(Caps::Off),
            _ => Err("expected `on` or `off` (off is for bench/headers.sh only)".to_string()),
        }
    }
}

impl ConnectionLimits {
    /// `HEADER_READ_TIMEOUT`, `MAX_CONNECTIONS_PER_CLIENT` (0: no cap), `TRUSTED_PROXIES`
    /// (default `127.0.0.1,::1`), and `CONNECTION_CAPS=off`, which restores what hyper did
    /// before these caps so `bench/headers.sh` can measure the difference.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if env.get("CONNECTION_CAPS", Caps::On)? == Caps::Off {
            return Ok(Self::uncapped());
        }
        let per_client = env.get(
            "MAX_CONNECTIONS_PER_CLIENT",
            DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        )?;
        let header_read_timeout =
            env.duration("HEADER_READ_TIMEOUT", DEFAULT_HEADER_READ_TIMEOUT)?;
        if header_read_timeout.is_zero() {
            return Err(ConfigError {
                name: "HEADER_READ_TIMEOUT".into(),
                value: env.string("HEADER_READ_TIMEOUT", ""),
                reason: "must be longer than zero (for example 10s)".into(),
            });
        }
        Ok(ConnectionLimits {
            header_read_timeout,
            max_connections_per_client: (per_client > 0).then_some(per_client),
            exempt: env.ip_list("TRUSTED_PROXIES", "127.0.0.1,::1")?,
            ..Self::default()
        })
    }

    /// hyper's defaults, as every process ran before these caps: 30 s to send a head, heads up
    /// to hyper's ~400 KiB read buffer, no per-line or per-client cap.
    pub fn uncapped() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            max_head_bytes: HYPER_DEFAULT_MAX_BUF,
            max_header_line_bytes: usize::MAX,
            max_connections_per_client: None,
            exempt: Vec::new(),
        }
    }

    /// The cap that applies to connections from `peer`, if any.
    pub(super) fn cap_for(&self, peer: IpAddr) -> Option<u32> {
        let peer = peer.to_canonical();
        if self.exempt.iter().any(|ip| ip.to_canonical() == peer) {
            return None;
        }
        self.max_connections_per_client
    }
}

/// The first header field whose line (`name: value`) is longer than `max` bytes, and its length.
pub fn oversized_header_line(headers: &HeaderMap, max: usize) -> Option<(&str, usize)> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), name.as_str().len() + 2 + value.len()))
        .find(|(_, len)| *len > max)
}

/// The address a per-client cap counts by: an IPv4 address, or an IPv6 address's /64 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey(IpAddr);

impl ClientKey {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                ClientKey(IpAddr::V6(Ipv6Addr::from(net)))
            }
            v4 => ClientKey(v4),
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Default, Clone)]
pub(super) struct ClientSlots {
    open: Arc<Mutex<HashMap<ClientKey, u32>>>,
}

impl ClientSlots {
    /// A slot for one more connection from `ip`, unless it already holds `cap`.
    pub(super) fn try_acquire(&self, ip: IpAddr, cap: u32) -> Option<ClientSlot> {
        let key = ClientKey::of(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            slots: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

/// One connection's place in its client's count, given back when dropped.
#[derive(Debug)]
pub(super) struct ClientSlot {
    slots: ClientSlots,
    key: ClientKey,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_are_the_caps_and_can_be_tuned_or_turned_off() {
        let limits = ConnectionLimits::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(limits, ConnectionLimits::default());
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_connections_per_client, Some(256));

        let tuned = ConnectionLimits::from_env(&Env::from_pairs(&[
            ("HEADER_READ_TIMEOUT", "3s"),
            ("MAX_CONNECTIONS_PER_CLIENT", "0"),
            ("TRUSTED_PROXIES", "none"),
        ]))
        .unwrap();
        assert_eq!(tuned.header_read_timeout, Duration::from_secs(3));
        assert_eq!(tuned.max_connections_per_client, None);
        assert!(tuned.exempt.is_empty());

        let off = ConnectionLimits::from_env(&Env::from_pairs(&[("CONNECTION_CAPS", "off")]));
        assert_eq!(off.unwrap(), ConnectionLimits::uncapped());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("HEADER_READ_TIMEOUT", "0s"),
            ("HEADER_READ_TIMEOUT", "soon"),
            ("MAX_CONNECTIONS_PER_CLIENT", "-1"),
            ("CONNECTION_CAPS", "maybe"),
        ] {
            let err = ConnectionLimits::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
    }

    #[test]
    fn trusted_proxies_are_not_capped() {
        let limits = ConnectionLimits {
            exempt: vec![ip("127.0.0.1"), ip("10.0.0.2")],
            max_connections_per_client: Some(5),
            ..ConnectionLimits::default()
        };
        assert_eq!(limits.cap_for(ip("127.0.0.1")), None);
        assert_eq!(limits.cap_for(ip("::ffff:127.0.0.1")), None);
        assert_eq!(limits.cap_for(ip("10.0.0.2")), None);
        assert_eq!(limits.cap_for(ip("127.0.0.2")), Some(5));
        assert_eq!(limits.cap_for(ip("2001:db8::1")), Some(5));
    }

    #[test]
    fn a_client_holds_at_most_its_cap_and_slots_come_back() {
        let slots = ClientSlots::default();
        let held: Vec<_> = (0..3)
            .map(|_| {
                slots
                    .try_acquire(ip("203.0.113.9"), 3)
                    .expect("under the cap")
            })
            .collect();
        assert!(slots.try_acquire(ip("203.0.113.9"), 3).is_none());
        // Another client is counted apart.
        let other = slots
            .try_acquire(ip("203.0.113.10"), 3)
            .expect("another client");
        drop(held);
        assert!(slots.try_acquire(ip("203.0.113.9"), 3).is_some());
        drop(other);
        assert_eq!(
            slots.clients(),
            0,
            "a client with no connection is forgotten"
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let slots = ClientSlots::default();
        let _a = slots.try_acquire(ip("2001:db8:1:2::1"), 2).unwrap();
        let _b = slots.try_acquire(ip("2001:db8:1:2:ffff::9"), 2).unwrap();
        assert!(slots.try_acquire(ip("2001:db8:1:2::3"), 2).is_none());
        assert!(slots.try_acquire(ip("2001:db8:1:3::1"), 2).is_some());
        // An IPv4 client reached over an IPv6 socket is the same client.
        let _c = slots.try_acquire(ip("198.51.100.1"), 1).unwrap();
        assert!(slots.try_acquire(ip("::ffff:198.51.100.1"), 1).is_none());
    }

    #[test]
    fn finds_the_header_line_over_the_limit() {
        let mut headers = HeaderMap::new();
        headers.insert("x-short", HeaderValue::from_static("ok"));
        assert_eq!(oversized_header_line(&headers, 16), None);
        // "x-long: " + 9 bytes = 6 + 2 + 9 = 17 bytes.
        headers.insert("x-long", HeaderValue::from_static("123456789"));
        assert_eq!(oversized_header_line(&headers, 16), Some(("x-long", 17)));
        assert_eq!(oversized_header_line(&headers, 17), None);
    }
}
