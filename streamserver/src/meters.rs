//! The metrics recorded on every playback request, looked up once: a `metrics::gauge!` or
//! `counter!` finds its series by name in the recorder's registry (a hash and a lock) each time
//! it runs, which on a 4 KiB answer is a measurable share of the streamserver's own CPU.

use std::sync::LazyLock;

use metrics::{Counter, Gauge};

pub struct Meters {
    /// `stream_active_streams`: playback bodies being sent (stream slots held).
    pub active_streams: Gauge,
    /// `stream_bytes_served_total`: body bytes handed to hyper by playback.
    pub bytes_served: Counter,
}

/// The handles, registered with the process's recorder (installed first if it is not yet).
pub fn meters() -> &'static Meters {
    static METERS: LazyLock<Meters> = LazyLock::new(|| {
        svc::metrics::handle();
        Meters {
            active_streams: metrics::gauge!("stream_active_streams"),
            bytes_served: metrics::counter!("stream_bytes_served_total"),
        }
    });
    &METERS
}
