//! The process-wide Prometheus recorder behind `GET /metrics`.
//!
//! Code anywhere records with the `metrics` macros (`counter!`, `gauge!`, `histogram!`); this
//! module installs the recorder once and renders the text exposition format. Several apps started
//! in one test process share the one recorder, which is harmless: tests read their own counters.
//!
//! Every process also exports `clipshare_build_info{commit, version, schema} 1`, set when the
//! recorder is installed, so a scrape (and `./deploy.sh status`) tells which build answers.

use std::sync::OnceLock;

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
        handle
    })
}

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
