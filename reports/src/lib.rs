//! dmsim-reports: what users look at after a run.
//!
//! - [`RunRecorder`] collects a run's metrics as it goes: request latencies
//!   ([`LatencyRecorder`]), a bounded [`TimeSeries`] of throughput, gauges and cleanings, and
//!   per-device IO; [`RunRecorder::finish`] turns them into a [`RunReport`], which is what
//!   `summary.json` holds and what `dmsim replay` prints ([`RunReport::summary_text`]).
//! - [`CompareReport`] holds several runs over a grid of options and writes `compare.json`,
//!   charts (SVG and PNG) and a self-contained `index.html`, and renders a markdown table.
//! - [`MrcReport`] holds miss-ratio curves (hit ratio per cache size, mode and policy) and
//!   writes `mrc.json`, its chart and `index.html`.
//! - [`CompareShard`] is one shard of a comparison split across machines ([`ShardId`]);
//!   [`merge_shards`] checks the shards belong together and rebuilds the [`CompareReport`].
//!
//! Every output is deterministic: the same input gives byte-identical JSON, SVG and PNG files
//! (no timestamps, stable ordering, fixed float formatting, a bundled font for bitmaps). Files
//! appear atomically and a failed write leaves nothing behind.
//!
//! This crate deliberately knows nothing about the engine or simulator: it only sees numbers
//! handed to it.

mod charts;
mod compare;
pub mod error;
pub mod format;
mod html;
pub mod latency;
mod mrc;
mod output;
pub mod recorder;
pub mod run_report;
mod setup_summary;
pub mod shard;
pub mod speedup;
pub mod time_series;

#[cfg(test)]
mod compare_tests;
#[cfg(test)]
mod demo;
#[cfg(test)]
mod shard_tests;

pub use charts::ChartKind;
pub use compare::{CompareReport, GridAxis, COMPARE_FILE_NAME, INDEX_FILE_NAME};
pub use error::ReportError;
pub use latency::{CdfPoint, LatencyRecorder, LatencyReport, LatencySummary, Op, OverallLatency};
pub use mrc::{MrcCell, MrcReport, MRC_CHART_STEM, MRC_FILE_NAME};
pub use recorder::RunRecorder;
pub use run_report::{stat, DeviceReport, RunReport, Throughput, SUMMARY_FILE_NAME};
pub use shard::{
    merge_shards, CompareShard, GridHasher, MergeError, ShardCell, ShardId, SHARD_FILE_NAME,
};
pub use speedup::{Speedup, BASELINE_KEY};
pub use time_series::{ArrayGauges, CacheLookups, TimeSeries, TimeSeriesData};
