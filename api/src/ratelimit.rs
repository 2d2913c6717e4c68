//! Who the client is, and how often it may try to log in or register.
//!
//! The client IP is the socket peer, unless that peer is a trusted proxy (web, nginx): then the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Right-most, because
//! entries left of the last trusted hop were written by the client and can be forged. Attempts
//! are counted per client IP with governor's GCRA limiter.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::HeaderMap;

/// The client's address as this api believes it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    // Several X-Forwarded-For fields are one comma-separated list in order (RFC 9110 5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // An unparseable hop means the chain can no longer be trusted past this point;
            // fall back to the last address we know, the proxy itself.
            Err(_) => return peer,
        }
    }
    peer
}

/// Login and register attempts per client IP.
pub struct AuthLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl AuthLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        AuthLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
        }
    }

    /// `Ok` if `ip` may try now, else how long until it may (for `Retry-After`).
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance has refilled, so the map does not grow forever.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn client_ip_believes_only_trusted_proxies() {
        let trusted = [ip("127.0.0.1"), ip("::1"), ip("10.0.0.2")];
        // A direct client: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        // Through web: the right-most untrusted hop.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4, 198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // Through nginx then web: trusted hops are skipped.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &xff(&["198.51.100.7", "10.0.0.2"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // No header, or only trusted hops: the peer.
        assert_eq!(client_ip(ip("::1"), &xff(&[]), &trusted), ip("::1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["10.0.0.2"]), &trusted),
            ip("127.0.0.1")
        );
        // Garbage in the chain stops the walk.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4, junk"]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["2001:db8::1"]), &trusted),
            ip("2001:db8::1")
        );
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["1.2.3.4"]), &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn limiter_allows_the_burst_then_says_when() {
        let limiter = AuthLimiter::new(60, 3);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another client has its own allowance.
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
        limiter.forget_idle();
    }
}
