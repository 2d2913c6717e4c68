//! Admission control: per-IP request rate (governor), per-IP and global concurrent streams,
//! global concurrent uploads (semaphores) and one upload per video at a time (in-process locks),
//! plus who the client is behind a trusted proxy.
//!
//! Every slot is an RAII guard. Playback moves its guards into the response body stream, so a
//! slot is released when the stream ends or is dropped (client gone, error, panic), never by
//! code that runs "after" a request.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::HeaderMap;
use svc::VideoId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::error::Error;

/// Every this many rate checks the limiter forgets clients whose budget is full again, so the
/// per-IP table stays as small as the set of recent clients without a timer (zero idle CPU).
const FORGET_EVERY: u64 = 4096;

pub struct Limits {
    rate: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
    streams: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
    max_per_ip: u32,
    trusted: Vec<IpAddr>,
}

/// A held playback slot: one global permit and one per-IP count, plus the active-streams gauge.
pub struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    ip: IpAddr,
    per_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
        crate::meters::meters().active_streams.decrement(1.0);
    }
}

/// A held upload slot, with the uploads-in-flight gauge.
pub struct UploadSlot {
    _permit: OwnedSemaphorePermit,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        metrics::gauge!("stream_uploads_in_flight").decrement(1.0);
    }
}

fn rejected(reason: &'static str, message: &str, retry_after: u64) -> Error {
    metrics::counter!("stream_rejections_total", "reason" => reason).increment(1);
    Error::TooManyRequests {
        message: message.to_string(),
        retry_after,
    }
}

impl Limits {
    pub fn new(config: &Config) -> Self {
        let per_second = NonZeroU32::new(config.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst).unwrap_or(per_second);
        Limits {
            rate: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            checks: AtomicU64::new(0),
            streams: Arc::new(Semaphore::new(config.max_streams as usize)),
            uploads: Arc::new(Semaphore::new(config.max_uploads as usize)),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
            max_per_ip: config.max_streams_per_ip,
            trusted: config.trusted_proxies.clone(),
        }
    }

    /// The client's address: the peer, unless the peer is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its
    /// left could be forged by the client).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        svc::http::client_ip(peer, headers, &self.trusted)
    }

    /// Whether `peer` is a trusted proxy (`TRUSTED_PROXIES`).
    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        self.trusted.contains(&peer)
    }

    /// Counts one request against the client's rate.
    pub fn check_rate(&self, ip: IpAddr) -> Result<(), Error> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.rate.retain_recent();
            self.rate.shrink_to_fit();
        }
        match self.rate.check_key(&ip) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                Err(rejected(
                    "rate",
                    "too many requests from your address; slow down",
                    wait.as_secs() + 1,
                ))
            }
        }
    }

    /// A playback slot, or 429.
    pub fn stream_slot(&self, ip: IpAddr) -> Result<StreamSlot, Error> {
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            rejected(
                "streams",
                "the server is serving as many streams as it can; try again shortly",
                1,
            )
        })?;
        {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(rejected(
                    "streams_per_ip",
                    &format!(
                        "too many concurrent streams from your address (at most {}); close one and retry",
                        self.max_per_ip
                    ),
                    1,
                ));
            }
            *n += 1;
        }
        crate::meters::meters().active_streams.increment(1.0);
        Ok(StreamSlot {
            _permit: permit,
            ip,
            per_ip: self.per_ip.clone(),
        })
    }

    /// An upload slot, or 429.
    pub fn upload_slot(&self) -> Result<UploadSlot, Error> {
        let permit = self.uploads.clone().try_acquire_owned().map_err(|_| {
            rejected(
                "uploads",
                "the server is receiving as many uploads as it can; try again shortly",
                5,
            )
        })?;
        metrics::gauge!("stream_uploads_in_flight").increment(1.0);
        Ok(UploadSlot { _permit: permit })
    }
}

/// Videos with an upload in progress in this process. Two uploads of one video race: the
/// second is told 409 at once instead of after sending its whole body; across processes the
/// row lock taken when publishing (`ingest::publish`) decides.
#[derive(Default)]
pub struct VideoLocks {
    held: Arc<Mutex<HashSet<VideoId>>>,
}

/// A held per-video lock, released on drop.
pub struct VideoLock {
    id: VideoId,
    held: Arc<Mutex<HashSet<VideoId>>>,
}

impl Drop for VideoLock {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl VideoLocks {
    /// The lock of `id`, or 409 while another upload of it is in progress.
    pub fn try_lock(&self, id: &VideoId) -> Result<VideoLock, Error> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(id.clone()) {
            return Err(Error::Conflict(
                "another upload of this video is in progress".to_string(),
            ));
        }
        Ok(VideoLock {
            id: id.clone(),
            held: self.held.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn limits(pairs: &[(&str, &str)]) -> Limits {
        Limits::new(&Config::from_env(&svc::Env::from_pairs(pairs)).unwrap())
    }

    #[test]
    fn client_ip_behind_trusted_proxies() {
        let l = limits(&[("TRUSTED_PROXIES", "127.0.0.1,10.0.0.1")]);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(l.client_ip(local, &h), local);
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 198.51.100.7, 10.0.0.1"),
        );
        assert_eq!(
            l.client_ip(local, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // An untrusted peer's header is not believed.
        assert_eq!(l.client_ip(stranger, &h), stranger);
        h.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
        assert_eq!(l.client_ip(local, &h), local);
    }

    #[test]
    fn per_ip_stream_slots_are_released_on_drop() {
        let l = limits(&[("MAX_STREAMS_PER_IP", "2"), ("MAX_STREAMS", "3")]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = l.stream_slot(a).unwrap();
        let _s2 = l.stream_slot(a).unwrap();
        assert!(l.stream_slot(a).is_err());
        let _s3 = l.stream_slot(b).unwrap();
        // Global limit reached.
        assert!(l.stream_slot(b).is_err());
        drop(s1);
        let _s4 = l.stream_slot(a).unwrap();
    }

    #[test]
    fn rate_limit_rejects_past_the_burst() {
        let l = limits(&[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "2")]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.check_rate(a).is_ok());
        assert!(l.check_rate(a).is_ok());
        let e = l.check_rate(a).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert!(l.check_rate("192.0.2.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_rate_table_forgets_idle_clients() {
        let l = limits(&[("RATE_LIMIT_PER_SECOND", "1000"), ("RATE_LIMIT_BURST", "1")]);
        for i in 0..100u32 {
            l.check_rate(IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + i)))
                .unwrap();
        }
        assert_eq!(l.rate.len(), 100);
        // A millisecond replenishes each one-request budget; then a sweep is due.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let busy: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..FORGET_EVERY {
            let _ = l.check_rate(busy);
        }
        assert!(l.rate.len() <= 1, "{} clients remembered", l.rate.len());
    }

    #[test]
    fn one_upload_per_video_at_a_time() {
        let locks = VideoLocks::default();
        let (v, w) = (VideoId::random(), VideoId::random());
        let a = locks.try_lock(&v).unwrap();
        assert_eq!(
            locks.try_lock(&v).err().map(|e| e.status()),
            Some(http::StatusCode::CONFLICT)
        );
        assert!(locks.try_lock(&w).is_ok());
        drop(a);
        assert!(locks.try_lock(&v).is_ok());
    }
}
