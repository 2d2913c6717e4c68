//! Who the client is, and how often it may do what: log in or register, read signed out, search,
//! and (per user rather than per address) send a danmaku.
//!
//! The client IP comes from `svc::http::client_ip` (the socket peer, or the right-most untrusted
//! `X-Forwarded-For` hop behind a trusted proxy). Requests are counted per client IP with
//! governor's GCRA limiter, one limiter per kind of request ([`Limits`]). Which requests count
//! against which limiter is decided by the handlers: login and register against `auth`, every read
//! made without a session against `reads` (`crate::request::reader`), every search against
//! `search`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::Request;
use svc::http::PeerAddr;

pub use svc::http::client_ip;

use crate::config::Config;
use crate::error::ApiError;

/// Requests per client IP: a rate per minute and a burst a client may spend at once.
pub struct IpLimiter {
    /// `None`: unlimited (a rate of 0 in the configuration).
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl IpLimiter {
    /// `per_minute` requests a minute, `burst` at once; a rate of 0 limits nothing.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        IpLimiter { limiter }
    }

    /// `per_minute` requests a minute with a burst of a tenth of that (at least 1); 0 limits
    /// nothing.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(per_minute, (per_minute / 10).max(1))
    }

    /// `Ok` if `ip` may go ahead now, else how long until it may (for `Retry-After`).
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance has refilled, so the map does not grow forever.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Actions per signed-in user: at most one every `interval` (a danmaku every 2 s).
pub struct UserLimiter {
    /// `None`: unlimited (an interval of 0 in the configuration).
    limiter: Option<governor::DefaultKeyedRateLimiter<u32>>,
}

impl UserLimiter {
    pub fn every(interval: Duration) -> Self {
        let limiter = Quota::with_period(interval).map(RateLimiter::keyed);
        UserLimiter { limiter }
    }

    /// Counts an action of `user_id`, or refuses it with 429 and how long to wait; `what` starts
    /// the refusal's sentence ("You are sending danmaku").
    pub fn check(&self, user_id: u32, what: &'static str) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::debug!(user_id, what, "per-user limit reached");
            ApiError::UserRateLimited {
                what,
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every per-client limit of the api, and whose address a request counts against.
pub struct Limits {
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    trusted: Vec<IpAddr>,
    /// Login and register (`AUTH_RATE_PER_MIN`, `AUTH_BURST`).
    auth: IpLimiter,
    /// Reads without a session (`READ_RATE_PER_MINUTE`).
    reads: IpLimiter,
    /// `GET /search`, signed in or not (`SEARCH_RATE_PER_MINUTE`).
    search: IpLimiter,
    /// `POST /videos/{vid}/danmaku`, per user (`DANMAKU_INTERVAL`).
    pub danmaku: UserLimiter,
}

impl Limits {
    pub fn new(config: &Config) -> Self {
        Limits {
            trusted: config.trusted_proxies.clone(),
            auth: IpLimiter::new(config.auth_rate_per_min, config.auth_burst),
            reads: IpLimiter::per_minute(config.read_rate_per_minute),
            search: IpLimiter::per_minute(config.search_rate_per_minute),
            danmaku: UserLimiter::every(config.danmaku_interval),
        }
    }

    /// Counts a login or register attempt, or refuses it with 429.
    pub fn auth<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        self.admit(&self.auth, req, "login/register")
    }

    /// Counts a read made without a session, or refuses it with 429.
    pub fn read<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        self.admit(&self.reads, req, "signed-out read")
    }

    /// Counts a search, or refuses it with 429.
    pub fn search<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        self.admit(&self.search, req, "search")
    }

    fn admit<B>(
        &self,
        limiter: &IpLimiter,
        req: &Request<B>,
        what: &'static str,
    ) -> Result<(), ApiError> {
        // Requests that did not come through the server loop (none in production) carry no peer.
        let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() else {
            return Ok(());
        };
        let ip = client_ip(peer.ip(), req.headers(), &self.trusted);
        limiter.check(ip).map_err(|wait| {
            tracing::info!(%ip, what, "rate limit reached");
            ApiError::RateLimited {
                // Round up: a client retrying after this many whole seconds gets through.
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    /// Forgets idle clients of every limiter.
    pub fn forget_idle(&self) {
        for limiter in [&self.auth, &self.reads, &self.search] {
            limiter.forget_idle();
        }
        self.danmaku.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limiter_allows_the_burst_then_says_when() {
        let limiter = IpLimiter::new(60, 3);
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

    #[test]
    fn the_burst_is_a_tenth_of_the_rate_and_at_least_one() {
        let a = ip("192.0.2.1");
        let allowed =
            |limiter: IpLimiter| (0..1000).take_while(|_| limiter.check(a).is_ok()).count();
        assert_eq!(allowed(IpLimiter::per_minute(600)), 60);
        assert_eq!(allowed(IpLimiter::per_minute(60)), 6);
        assert_eq!(allowed(IpLimiter::per_minute(5)), 1);
        assert_eq!(allowed(IpLimiter::per_minute(1)), 1);
    }

    #[test]
    fn a_user_waits_the_interval_between_two_actions_and_zero_is_unlimited() {
        let limiter = UserLimiter::every(Duration::from_secs(2));
        assert!(limiter.check(1, "danmaku").is_ok());
        match limiter.check(1, "danmaku") {
            Err(ApiError::UserRateLimited {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 2),
            other => panic!("{other:?}"),
        }
        assert!(limiter.check(2, "danmaku").is_ok(), "another user");
        let off = UserLimiter::every(Duration::ZERO);
        for _ in 0..100 {
            assert!(off.check(1, "danmaku").is_ok());
        }
        limiter.forget_idle();
    }

    #[test]
    fn a_rate_of_zero_is_unlimited() {
        let limiter = IpLimiter::per_minute(0);
        for _ in 0..10_000 {
            assert!(limiter.check(ip("192.0.2.1")).is_ok());
        }
        limiter.forget_idle();
    }
}
