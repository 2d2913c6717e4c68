//! The process-wide Prometheus recorder behind `GET /metrics`.
//!
//! Code anywhere records with the `metrics` macros (`counter!`, `gauge!`, `histogram!`); this
//! module installs the recorder once and renders the text exposition format. Several apps started
//! in one test process share the one recorder, which is harmless: tests read their own counters.
//!
//! Every process also exports `clipshare_build_info{commit, version, schema} 1`, set when the
//! recorder is installed, so a scrape (and `./deploy.sh status`) tells which build answers.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request latency buckets in seconds: loopback API calls sit in the first few, long video
/// streams in the last.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder on first use and returns its handle.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_string()),
                LATENCY_BUCKETS,
            )
            .expect("latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, record_build_info);
        // Fails only if another recorder was installed first, in which case ours just isn't
        // global; rendering still works.
        let _ = metrics::set_global_recorder(recorder);
        let kept = handle.clone();
        let upkeep = std::thread::Builder::new()
            .name(UPKEEP_THREAD.into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                kept.run_upkeep();
            });
        if let Err(e) = upkeep {
            tracing::error!(error = %e, "cannot start the metrics upkeep thread; histograms grow until scraped");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets. The recorder keeps every sample
/// it is given until then (about 20 bytes a request), so without this a process nobody scrapes
/// grew by ~5 MiB per 250,000 requests until its next `GET /metrics`.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The name of the thread that does it.
const UPKEEP_THREAD: &str = "metrics-upkeep";

/// The constant `clipshare_build_info` gauge: 1, with the build's identity in its labels (the
/// Prometheus convention for build information, as `prometheus_build_info`).
fn record_build_info() {
    metrics::describe_gauge!(
        "clipshare_build_info",
        "Always 1; the labels name the build: git commit, package version, newest schema migration."
    );
    metrics::gauge!(
        "clipshare_build_info",
        "commit" => crate::build::COMMIT,
        "version" => crate::build::VERSION,
        "schema" => crate::build::SCHEMA_VERSION.to_string()
    )
    .set(1.0);
}

/// The current metrics in Prometheus text format.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

#[cfg(test)]
mod tests {
    #[test]
    fn histograms_are_folded_by_a_thread_of_their_own_not_only_when_scraped() {
        super::handle();
        // A new thread names itself once it runs, so its name can lag its spawn a moment.
        let threads = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let names = threads();
            if names.iter().any(|n| n == super::UPKEEP_THREAD) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {} thread among {names:?}",
                super::UPKEEP_THREAD
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn every_scrape_names_the_build() {
        let text = super::render();
        let line = text
            .lines()
            .find(|l| l.starts_with("clipshare_build_info{"))
            .unwrap_or_else(|| panic!("no clipshare_build_info in:\n{text}"));
        assert!(
            line.contains(&format!("commit=\"{}\"", crate::build::COMMIT)),
            "{line}"
        );
        assert!(
            line.contains(&format!("schema=\"{}\"", crate::build::SCHEMA_VERSION)),
            "{line}"
        );
        assert!(line.ends_with(" 1"), "{line}");
    }
}
