//! A cache run's speed-up over the no-cache baseline of its comparison.
//!
//! A run names its baseline by label in its configuration ([`BASELINE_KEY`]); the baseline is
//! another run of the same comparison (the workload on the bare disk). The headline figure is
//! the ratio of mean request latencies, baseline over run: it is what a storage engineer asks
//! of a cache ("how much faster is each request"), and unlike throughput it means the same in
//! open loop, where requests arrive at the trace's rate whatever the device does. The
//! throughput ratio is kept beside it for closed-loop readers.

use serde::{Deserialize, Serialize};

use crate::run_report::RunReport;

/// Key of [`RunReport::config`] holding the label of the run's no-cache baseline.
pub const BASELINE_KEY: &str = "baseline";

/// One run against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Speedup {
    /// The run.
    pub label: String,
    /// Its baseline run.
    pub baseline: String,
    /// Baseline mean latency / run mean latency, over all requests (`None` when the run's
    /// mean is zero or either run has no requests).
    pub mean_latency_speedup: Option<f64>,
    /// Run requests/s / baseline requests/s (`None` when the baseline's rate is zero).
    pub throughput_speedup: Option<f64>,
}

/// The label of `run`'s baseline, if it names one.
pub fn baseline_of(run: &RunReport) -> Option<&str> {
    run.config
        .get(BASELINE_KEY)
        .and_then(|value| value.as_str())
}

/// The speed-up of every run that names a baseline present in `runs`, in run order.
pub(crate) fn speedups(runs: &[RunReport]) -> Vec<Speedup> {
    runs.iter()
        .filter_map(|run| {
            let label = baseline_of(run)?;
            let baseline = runs.iter().find(|other| other.label == label)?;
            Some(Speedup {
                label: run.label.clone(),
                baseline: baseline.label.clone(),
                mean_latency_speedup: ratio(
                    baseline.latency.all.mean_ns,
                    run.latency.all.mean_ns,
                    baseline.latency.all.count > 0 && run.latency.all.count > 0,
                ),
                throughput_speedup: ratio(
                    run.throughput.requests_per_s,
                    baseline.throughput.requests_per_s,
                    true,
                ),
            })
        })
        .collect()
}

fn ratio(numerator: f64, denominator: f64, defined: bool) -> Option<f64> {
    (defined && denominator > 0.0 && numerator.is_finite() && denominator.is_finite())
        .then(|| numerator / denominator)
}

/// `12.3×`, `0.87×` (three significant figures), or `-`.
pub fn format_speedup(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(value) if value >= 100.0 => format!("{value:.0}×"),
        Some(value) if value >= 10.0 => format!("{value:.1}×"),
        Some(value) => format!("{value:.2}×"),
    }
}
