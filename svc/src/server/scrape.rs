//! Gauges read fresh at every `GET /metrics`: whether the process is ready, and what the
//! operating system says it costs (memory, CPU, file descriptors), under the names Prometheus's
//! own client libraries use (`process_*`), so stock dashboards and alerts understand them.
//!
//! Readiness is exported so that Prometheus, which scrapes `/metrics` and not `/readyz`, can
//! alert on a process that runs but cannot work (database down, storage not writable).
//! The process figures come from Linux's `/proc/self`; elsewhere they are simply absent.

use std::sync::Once;

/// Names the series (their `# HELP` lines); called once when the first server binds.
pub(super) fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_gauge!(
            "clipshare_ready",
            "1 when the process can do its work (its /readyz answers 200), else 0."
        );
        metrics::describe_counter!(
            "http_requests_total",
            "Requests answered, by route, method and status."
        );
        metrics::describe_histogram!(
            "http_request_duration_seconds",
            metrics::Unit::Seconds,
            "Time from a request's head to its response head, by route."
        );
        metrics::describe_gauge!(
            "http_connections_open",
            "Client connections open now, idle ones included."
        );
        metrics::describe_gauge!(
            "http_connections_taken_over",
            "Connections whose response the app writes outside hyper now (App::takes_over: \
             long-lived streams)."
        );
        metrics::describe_counter!(
            "http_connections_rejected_total",
            "Connections ended by a cap: client_cap (429, too many from one address), \
             header_timeout (a request head not sent in time), head_too_large (431)."
        );
        metrics::describe_gauge!(
            "process_resident_memory_bytes",
            metrics::Unit::Bytes,
            "Resident set size (VmRSS)."
        );
        metrics::describe_gauge!(
            "process_virtual_memory_bytes",
            metrics::Unit::Bytes,
            "Virtual memory size (VmSize)."
        );
        metrics::describe_counter!(
            "process_cpu_seconds_total",
            metrics::Unit::Seconds,
            "User and system CPU time spent, in whole seconds."
        );
        metrics::describe_gauge!("process_open_fds", "Open file descriptors.");
        metrics::describe_gauge!(
            "process_max_fds",
            "The soft limit on open file descriptors."
        );
        metrics::describe_gauge!("process_threads", "Operating system threads.");
        metrics::describe_gauge!(
            "process_start_time_seconds",
            metrics::Unit::Seconds,
            "When the process started, in seconds since the Unix epoch."
        );
    });
}

/// Sets the readiness gauge from the app's own check.
pub(super) fn record_readiness(ready: &Result<(), String>) {
    metrics::gauge!("clipshare_ready").set(if ready.is_ok() { 1.0 } else { 0.0 });
}

/// Sets the `process_*` series from `/proc/self`.
pub(super) fn record_process() {
    let Some(stats) = ProcessStats::read() else {
        return;
    };
    metrics::gauge!("process_resident_memory_bytes").set(stats.rss_bytes as f64);
    metrics::gauge!("process_virtual_memory_bytes").set(stats.virtual_bytes as f64);
    metrics::gauge!("process_threads").set(stats.threads as f64);
    // The exporter's counters hold whole numbers; a second is fine for a rate over minutes.
    metrics::counter!("process_cpu_seconds_total").absolute(stats.cpu_seconds as u64);
    metrics::gauge!("process_start_time_seconds").set(stats.start_time_seconds);
    if let Some(open) = stats.open_fds {
        metrics::gauge!("process_open_fds").set(open as f64);
    }
    if let Some(max) = stats.max_fds {
        metrics::gauge!("process_max_fds").set(max as f64);
    }
}

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every architecture this
/// runs on (x86, ARM).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Default)]
struct ProcessStats {
    rss_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    cpu_seconds: f64,
    start_time_seconds: f64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

impl ProcessStats {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| field(&s, "btime"))?;
        let mut stats = parse(&status, &stat, boot_time)?;
        stats.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as u64);
        stats.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| max_open_files(&l));
        Some(stats)
    }
}

/// Reads `/proc/self/status` (proc(5): `VmRSS:  1234 kB`), `/proc/self/stat` and the boot time.
fn parse(status: &str, stat: &str, boot_time: u64) -> Option<ProcessStats> {
    // The second field of stat is the command in parentheses, which may hold spaces; the rest
    // follows the last `)`: state is field 3, utime 14, stime 15, starttime 22.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| rest.get(field - 3)?.parse::<u64>().ok();
    let cpu_ticks = ticks(14)? + ticks(15)?;
    Some(ProcessStats {
        rss_bytes: field(status, "VmRSS:")? * 1024,
        virtual_bytes: field(status, "VmSize:")? * 1024,
        threads: field(status, "Threads:")?,
        cpu_seconds: cpu_ticks as f64 / TICKS_PER_SECOND,
        start_time_seconds: boot_time as f64 + ticks(22)? as f64 / TICKS_PER_SECOND,
        open_fds: None,
        max_fds: None,
    })
}

/// The first number after `key` on the line that starts with it.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit in `/proc/self/limits`' "Max open files" line.
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_linux_writes() {
        let status = "Name:\tapi\nVmSize:\t  123456 kB\nVmRSS:\t   2048 kB\nThreads:\t7\n";
        // A command with spaces and a parenthesis must not shift the fields.
        let stat = "4242 (my (odd) api) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 7 0 \
                    12345 1000 100 18446744073709551615";
        let stats = parse(status, stat, 1_700_000_000).unwrap();
        assert_eq!(stats.rss_bytes, 2048 * 1024);
        assert_eq!(stats.virtual_bytes, 123456 * 1024);
        assert_eq!(stats.threads, 7);
        assert!((stats.cpu_seconds - 3.0).abs() < 1e-9, "{stats:?}");
        assert!(
            (stats.start_time_seconds - 1_700_000_123.45).abs() < 1e-3,
            "{stats:?}"
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let stats = ProcessStats::read().expect("this test runs on Linux");
        assert!(stats.rss_bytes > 1024 * 1024, "{stats:?}");
        assert!(
            stats.threads >= 1 && stats.open_fds.unwrap() >= 3,
            "{stats:?}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            stats.start_time_seconds <= now + 1.0
                && stats.start_time_seconds > now - 86400.0 * 30.0,
            "{stats:?}"
        );
    }
}
