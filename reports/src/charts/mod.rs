//! The comparison charts: which exist, what data each shows, and rendering to SVG and PNG.
//!
//! Owns [`ChartKind`] (the catalogue, with file names and titles) and the translation of run
//! reports into bar and line chart data. Drawing itself lives in `bars` and `lines`; look and
//! layout in `style`; axes in `axis`. It deliberately writes no files: the compare report
//! stages them through the atomic output batch.

mod axis;
mod bars;
mod lines;
pub(crate) mod mrc;
mod style;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::ReportError;
use crate::format;
use crate::latency::{LatencySummary, Op};
use crate::run_report::{stat, RunReport};
use crate::time_series::TimeSeriesData;

use axis::TickAxis;
use bars::{draw_bar_chart, BarChart};
use lines::{draw_line_chart, line_chart_size, Layout, LineChart};
use style::{DrawResult, CHART_SIZE};

/// Room above the highest value so lines and bars do not touch the frame.
const HEADROOM: f64 = 1.05;

/// One chart of a comparison. Each is written as `<file_stem>.svg` and `<file_stem>.png`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChartKind {
    /// Read and write hit ratio per run (grouped bars).
    HitRatio,
    /// Read latency CDF per run (log-scale latency).
    LatencyCdfRead,
    /// Write latency CDF per run (log-scale latency).
    LatencyCdfWrite,
    /// Read latency percentiles per run (grouped bars, log scale).
    LatencyPercentilesRead,
    /// Write latency percentiles per run (grouped bars, log scale).
    LatencyPercentilesWrite,
    /// Completed requests per second over virtual time (a line per run).
    Throughput,
    /// The cache's read hit ratio per time bucket (a line per run).
    HitRatioOverTime,
    /// Dirty share of the cache over virtual time, with each run's dirty threshold.
    DirtyBlocks,
    /// Read and write IO counts per device (grouped bars).
    DeviceIoCounts,
    /// MB read and written per device (grouped bars).
    DeviceIoBytes,
    /// Cleanings per second over virtual time (a line per run).
    Cleaning,
    /// An md raid5 array's sync pass (check, repair, resync, recovery) progress over virtual
    /// time (a line per run).
    SyncProgress,
    /// An md raid5 array's read-modify-write share of its stripe writes over virtual time.
    RmwShare,
    /// An md raid5 array's stripe heads in use over virtual time.
    StripeCacheActive,
}

impl ChartKind {
    /// Every chart, in the order the HTML index shows them.
    pub const ALL: [ChartKind; 14] = [
        ChartKind::HitRatio,
        ChartKind::LatencyCdfRead,
        ChartKind::LatencyCdfWrite,
        ChartKind::LatencyPercentilesRead,
        ChartKind::LatencyPercentilesWrite,
        ChartKind::Throughput,
        ChartKind::HitRatioOverTime,
        ChartKind::DirtyBlocks,
        ChartKind::Cleaning,
        ChartKind::SyncProgress,
        ChartKind::RmwShare,
        ChartKind::StripeCacheActive,
        ChartKind::DeviceIoCounts,
        ChartKind::DeviceIoBytes,
    ];

    /// File name without extension.
    pub fn file_stem(self) -> &'static str {
        match self {
            ChartKind::HitRatio => "hit_ratio",
            ChartKind::LatencyCdfRead => "latency_cdf_read",
            ChartKind::LatencyCdfWrite => "latency_cdf_write",
            ChartKind::LatencyPercentilesRead => "latency_percentiles_read",
            ChartKind::LatencyPercentilesWrite => "latency_percentiles_write",
            ChartKind::Throughput => "throughput",
            ChartKind::HitRatioOverTime => "hit_ratio_over_time",
            ChartKind::DirtyBlocks => "dirty_blocks",
            ChartKind::DeviceIoCounts => "device_io_counts",
            ChartKind::DeviceIoBytes => "device_io_bytes",
            ChartKind::Cleaning => "cleaning",
            ChartKind::SyncProgress => "raid5_sync_progress",
            ChartKind::RmwShare => "raid5_rmw_share",
            ChartKind::StripeCacheActive => "raid5_stripe_cache_active",
        }
    }

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::HitRatio => "Cache hit ratio",
            ChartKind::LatencyCdfRead => "Read latency CDF",
            ChartKind::LatencyCdfWrite => "Write latency CDF",
            ChartKind::LatencyPercentilesRead => "Read latency percentiles",
            ChartKind::LatencyPercentilesWrite => "Write latency percentiles",
            ChartKind::Throughput => "Throughput over virtual time",
            ChartKind::HitRatioOverTime => "Read hit ratio over virtual time",
            ChartKind::DirtyBlocks => "Dirty share of the cache over virtual time",
            ChartKind::DeviceIoCounts => "Device IO count",
            ChartKind::DeviceIoBytes => "Device IO volume",
            ChartKind::Cleaning => "Cleaning activity over virtual time",
            ChartKind::SyncProgress => "md raid5 resync and rebuild progress over virtual time",
            ChartKind::RmwShare => "md raid5 read-modify-write share over virtual time",
            ChartKind::StripeCacheActive => "md raid5 stripe cache in use over virtual time",
        }
    }

    /// One sentence saying what the chart shows, for captions.
    pub fn description(self) -> &'static str {
        match self {
            ChartKind::HitRatio => {
                "Share of read and write requests that hit a cached block (flashcache counters)."
            }
            ChartKind::LatencyCdfRead => {
                "Fraction of read requests completing within a latency (log scale)."
            }
            ChartKind::LatencyCdfWrite => {
                "Fraction of write requests completing within a latency (log scale)."
            }
            ChartKind::LatencyPercentilesRead => "Read latency at p50, p90, p99, p99.9 and max.",
            ChartKind::LatencyPercentilesWrite => "Write latency at p50, p90, p99, p99.9 and max.",
            ChartKind::Throughput => {
                "Completed requests per second of virtual time, per time bucket; a run's last \
                 bucket may be shorter than the others, its rate is over its real width and a \
                 hollow circle marks it."
            }
            ChartKind::HitRatioOverTime => {
                "Share of the reads the cache looked up in each time bucket that hit a cached \
                 block (flashcache's reads and read_hits); a bucket without reads has no point. \
                 Warm-up shows as the climb at the start."
            }
            ChartKind::DirtyBlocks => {
                "Dirty blocks as a share of the cache's blocks at the end of each time bucket; \
                 the dashed line is the run's dirty_thresh_pct, which flashcache applies to \
                 each set: a set above it is cleaned, so the whole cache can stay below the line \
                 while its busiest sets are being cleaned."
            }
            ChartKind::DeviceIoCounts => "Read and write IOs issued to each device.",
            ChartKind::DeviceIoBytes => "Megabytes read from and written to each device.",
            ChartKind::Cleaning => {
                "Dirty blocks written back to disk per second of virtual time, per time bucket \
                 (a hollow circle marks a shorter last bucket)."
            }
            ChartKind::SyncProgress => {
                "How far the md raid5 array's running sync pass had got at the end of each time \
                 bucket, as /proc/mdstat's percentage: the recovery that rebuilds an added \
                 spare, the resync after an unclean shutdown, or a check or repair. A line \
                 climbs while a pass runs (its slope is the pass's speed, within md's speed \
                 limits) and has no points while none does."
            }
            ChartKind::RmwShare => {
                "Of the md raid5 array's stripe writes in each time bucket, the share whose \
                 parity came by read-modify-write (pre-reading the old data and parity) rather \
                 than reconstruct-write (pre-reading the other data, or nothing for a \
                 full-stripe write); md picks whichever needs fewer reads. A bucket without \
                 stripe writes has no point."
            }
            ChartKind::StripeCacheActive => {
                "Stripe heads in use at the end of each time bucket as a share of the stripe \
                 cache (md's stripe_cache_active of stripe_cache_size); at 100 % new requests \
                 wait for a free head."
            }
        }
    }
}

/// Pixel size of chart `kind` for `runs` runs: over-time charts of many runs are small
/// multiples and grow downwards.
pub(crate) fn chart_size(kind: ChartKind, runs: usize) -> (u32, u32) {
    match kind {
        ChartKind::Throughput
        | ChartKind::HitRatioOverTime
        | ChartKind::DirtyBlocks
        | ChartKind::Cleaning
        | ChartKind::SyncProgress
        | ChartKind::RmwShare
        | ChartKind::StripeCacheActive => {
            line_chart_size(Layout::SmallMultiplesForMany, runs, CHART_SIZE)
        }
        _ => CHART_SIZE,
    }
}

/// Renders `kind` for `runs` as an SVG document.
pub(crate) fn render_svg(kind: ChartKind, runs: &[RunReport]) -> Result<String, String> {
    style::ensure_font_registered().map_err(|error| error.to_string())?;
    let mut svg = String::new();
    {
        let size = chart_size(kind, runs.len());
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(kind, &root, runs)?;
        root.present().map_err(style::text_error)?;
    }
    Ok(svg)
}

/// Renders `kind` for `runs` as a PNG file at `path` (whose extension must be `.png`).
pub(crate) fn render_png(kind: ChartKind, runs: &[RunReport], path: &Path) -> Result<(), String> {
    style::ensure_font_registered().map_err(|error| error.to_string())?;
    let root = BitMapBackend::new(path, chart_size(kind, runs.len())).into_drawing_area();
    draw(kind, &root, runs)?;
    root.present().map_err(style::text_error)
}

/// Renders `kind` into `path` as SVG or PNG, mapping failures to a [`ReportError`] naming
/// `shown_path` (the final path, not the temporary one).
pub(crate) fn chart_error(kind: ChartKind, shown_path: &Path, message: String) -> ReportError {
    ReportError::Chart {
        path: shown_path.to_path_buf(),
        chart: kind.file_stem(),
        message,
    }
}

fn draw<DB: DrawingBackend>(
    kind: ChartKind,
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
) -> DrawResult {
    let labels: Vec<&str> = runs.iter().map(|run| run.label.as_str()).collect();
    match kind {
        ChartKind::HitRatio => draw_hit_ratio(root, runs, labels),
        ChartKind::LatencyCdfRead => draw_latency_cdf(root, runs, labels, Op::Read),
        ChartKind::LatencyCdfWrite => draw_latency_cdf(root, runs, labels, Op::Write),
        ChartKind::LatencyPercentilesRead => draw_percentiles(root, runs, labels, Op::Read),
        ChartKind::LatencyPercentilesWrite => draw_percentiles(root, runs, labels, Op::Write),
        ChartKind::Throughput => draw_over_time(root, runs, labels, TimeMetric::Throughput),
        ChartKind::HitRatioOverTime => draw_over_time(root, runs, labels, TimeMetric::ReadHitRatio),
        ChartKind::DirtyBlocks => draw_over_time(root, runs, labels, TimeMetric::DirtyBlocks),
        ChartKind::Cleaning => draw_over_time(root, runs, labels, TimeMetric::Cleanings),
        ChartKind::SyncProgress => draw_over_time(root, runs, labels, TimeMetric::SyncProgress),
        ChartKind::RmwShare => draw_over_time(root, runs, labels, TimeMetric::RmwShare),
        ChartKind::StripeCacheActive => {
            draw_over_time(root, runs, labels, TimeMetric::StripeCacheActive)
        }
        ChartKind::DeviceIoCounts => draw_device_io(root, runs, labels, DeviceMetric::Count),
        ChartKind::DeviceIoBytes => draw_device_io(root, runs, labels, DeviceMetric::Bytes),
    }
}

fn percent_label(value: f64) -> String {
    format!("{} %", format::significant(value))
}

fn draw_hit_ratio<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
    labels: Vec<&str>,
) -> DrawResult {
    let values = runs
        .iter()
        .map(|run| vec![run.read_hit_percent(), run.write_hit_percent()])
        .collect();
    let chart = BarChart {
        title: ChartKind::HitRatio.title(),
        y_desc: "hit ratio (% of requests)",
        groups: vec!["read hits".to_string(), "write hits".to_string()],
        runs: labels,
        values,
        y_axis: TickAxis::linear_from_zero(100.0),
        y_format: &percent_label,
        no_data_message: "no run reported reads/read_hits or writes/write_hits",
    };
    draw_bar_chart(root, &chart)
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Read => "read",
        Op::Write => "write",
    }
}

fn latency_range(summaries: &[&LatencySummary]) -> (u64, u64) {
    let with_data = summaries.iter().filter(|summary| summary.count > 0);
    let min = with_data.clone().map(|s| s.min_ns).min().unwrap_or(1_000);
    let max = with_data.map(|s| s.max_ns).max().unwrap_or(1_000_000);
    (min, max)
}

/// The CDF as a step function, in % of requests: flat at the fraction reached so far until
/// the next point's latency, then straight up. Each point carries the exact fraction of
/// requests at or below its latency; between points nothing more is known, so a line drawn
/// between them would invent requests at latencies no request had (a cache's hits and
/// misses are two steps, not a ramp). Drawing the lower value until the next point is the
/// CDF itself wherever the points are consecutive buckets, and a bound below it elsewhere.
pub(crate) fn cdf_steps(points: &[crate::latency::CdfPoint]) -> Vec<(f64, f64)> {
    let mut steps = Vec::with_capacity(points.len() * 2);
    let mut below = 0.0;
    for point in points {
        let x = point.latency_ns.max(1) as f64;
        steps.push((x, below));
        below = point.fraction * 100.0;
        steps.push((x, below));
    }
    steps
}

fn draw_latency_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
    labels: Vec<&str>,
    op: Op,
) -> DrawResult {
    let summaries: Vec<&LatencySummary> = runs.iter().map(|run| run.latency.get(op)).collect();
    let (min, max) = latency_range(&summaries);
    let series = summaries
        .iter()
        .map(|summary| cdf_steps(&summary.cdf))
        .collect();
    let title = match op {
        Op::Read => ChartKind::LatencyCdfRead.title(),
        Op::Write => ChartKind::LatencyCdfWrite.title(),
    };
    let y_desc = format!("% of {}s completed within latency", op_name(op));
    let no_data = format!("no {} requests in any run", op_name(op));
    let y_ticks = (0..=5).map(|i| f64::from(i) * 20.0).collect();
    let y_minor = (0..5).map(|i| f64::from(i) * 20.0 + 10.0).collect();
    let chart = LineChart {
        title,
        x_desc: "latency (log scale)",
        y_desc: &y_desc,
        x_axis: TickAxis::log_decades(min, max),
        y_axis: TickAxis::linear_with_ticks(0.0, 100.0, y_ticks, y_minor),
        x_format: &format::duration_ns,
        y_format: &percent_label,
        runs: labels,
        series,
        partial_last: Vec::new(),
        thresholds: Vec::new(),
        threshold_name: "",
        layout: Layout::Overlay,
        no_data_message: &no_data,
        empty_labels: Vec::new(),
        legend_title: "Runs",
        markers: false,
    };
    draw_line_chart(root, &chart)
}

fn draw_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
    labels: Vec<&str>,
    op: Op,
) -> DrawResult {
    let summaries: Vec<&LatencySummary> = runs.iter().map(|run| run.latency.get(op)).collect();
    let (min, max) = latency_range(&summaries);
    let values = summaries
        .iter()
        .map(|summary| {
            if summary.count == 0 {
                return vec![None; 5];
            }
            [
                summary.p50_ns,
                summary.p90_ns,
                summary.p99_ns,
                summary.p999_ns,
                summary.max_ns,
            ]
            .iter()
            .map(|&value| Some(value.max(1) as f64))
            .collect()
        })
        .collect();
    let title = match op {
        Op::Read => ChartKind::LatencyPercentilesRead.title(),
        Op::Write => ChartKind::LatencyPercentilesWrite.title(),
    };
    let y_desc = format!("{} latency (log scale)", op_name(op));
    let no_data = format!("no {} requests in any run", op_name(op));
    let chart = BarChart {
        title,
        y_desc: &y_desc,
        groups: ["p50", "p90", "p99", "p99.9", "max"]
            .iter()
            .map(|name| name.to_string())
            .collect(),
        runs: labels,
        values,
        y_axis: TickAxis::log_decades(min, max),
        y_format: &format::duration_ns,
        no_data_message: &no_data,
    };
    draw_bar_chart(root, &chart)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeMetric {
    Throughput,
    ReadHitRatio,
    DirtyBlocks,
    Cleanings,
    SyncProgress,
    RmwShare,
    StripeCacheActive,
}

impl TimeMetric {
    /// A metric of an md raid5 array (absent from runs without one).
    fn is_array(self) -> bool {
        matches!(
            self,
            TimeMetric::SyncProgress | TimeMetric::RmwShare | TimeMetric::StripeCacheActive
        )
    }

    /// A count per second over each bucket (its last, shorter bucket is marked), not a sample
    /// or a ratio.
    fn is_rate(self) -> bool {
        matches!(self, TimeMetric::Throughput | TimeMetric::Cleanings)
    }
}

/// The unit in which virtual time is shown: (ns per unit, unit name).
fn time_unit(end_ns: u64) -> (f64, &'static str) {
    if end_ns >= 10_000_000_000 {
        (1e9, "s")
    } else if end_ns >= 10_000_000 {
        (1e6, "ms")
    } else if end_ns >= 10_000 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

/// The points of one run's `metric` over time, x in `ns_per_unit` units. Dirty blocks are a
/// percentage of `cache_blocks` (none without it).
fn time_points(
    data: &TimeSeriesData,
    metric: TimeMetric,
    ns_per_unit: f64,
    cache_blocks: Option<u64>,
    stripe_cache_size: Option<u64>,
) -> Vec<(f64, f64)> {
    if metric == TimeMetric::DirtyBlocks && cache_blocks.is_none_or(|blocks| blocks == 0) {
        return Vec::new();
    }
    let cache_blocks = cache_blocks.unwrap_or(1) as f64;
    if metric == TimeMetric::ReadHitRatio {
        return read_hit_points(data, ns_per_unit);
    }
    if metric == TimeMetric::SyncProgress {
        return sync_progress_points(data, ns_per_unit);
    }
    if metric == TimeMetric::RmwShare {
        return rmw_share_points(data, ns_per_unit);
    }
    if metric == TimeMetric::StripeCacheActive {
        let Some(size) = stripe_cache_size.filter(|&size| size > 0) else {
            return Vec::new();
        };
        return data
            .stripe_cache_active
            .iter()
            .enumerate()
            .map(|(index, &active)| {
                let end = data.bucket_start_ns(index) + data.bucket_width_ns(index);
                (
                    end as f64 / ns_per_unit,
                    active as f64 * 100.0 / size as f64,
                )
            })
            .collect();
    }
    (0..data.len())
        .map(|index| {
            let start = data.bucket_start_ns(index) as f64;
            let width = data.bucket_width_ns(index) as f64;
            let per_second = |count: u64| count as f64 * 1e9 / width;
            match metric {
                TimeMetric::Throughput => {
                    let requests = data.read_requests[index] + data.write_requests[index];
                    ((start + width / 2.0) / ns_per_unit, per_second(requests))
                }
                TimeMetric::Cleanings => (
                    (start + width / 2.0) / ns_per_unit,
                    per_second(data.cleanings[index]),
                ),
                TimeMetric::DirtyBlocks => (
                    (start + width) / ns_per_unit,
                    data.dirty_blocks[index] as f64 * 100.0 / cache_blocks,
                ),
                TimeMetric::ReadHitRatio
                | TimeMetric::SyncProgress
                | TimeMetric::RmwShare
                | TimeMetric::StripeCacheActive => unreachable!("handled above"),
            }
        })
        .collect()
}

/// Read hit percentage per bucket with reads, at the bucket's middle. A hit is counted when
/// served and a read when it arrives, so a read queued across a bucket edge can lift a bucket
/// past 100 %: it is capped there.
fn read_hit_points(data: &TimeSeriesData, ns_per_unit: f64) -> Vec<(f64, f64)> {
    data.cache_reads
        .iter()
        .zip(&data.cache_read_hits)
        .enumerate()
        .filter(|&(_, (&reads, _))| reads > 0)
        .map(|(index, (&reads, &hits))| {
            let start = data.bucket_start_ns(index) as f64;
            let width = data.bucket_width_ns(index) as f64;
            let percent = (hits as f64 * 100.0 / reads as f64).min(100.0);
            ((start + width / 2.0) / ns_per_unit, percent)
        })
        .collect()
}

/// The running sync pass's percentage done at the end of each bucket in which one ran.
fn sync_progress_points(data: &TimeSeriesData, ns_per_unit: f64) -> Vec<(f64, f64)> {
    data.sync_done_sectors
        .iter()
        .zip(&data.sync_total_sectors)
        .enumerate()
        .filter(|&(_, (_, &total))| total > 0)
        .map(|(index, (&done, &total))| {
            let end = data.bucket_start_ns(index) + data.bucket_width_ns(index);
            (
                end as f64 / ns_per_unit,
                (done as f64 * 100.0 / total as f64).min(100.0),
            )
        })
        .collect()
}

/// The rmw share of the stripe writes of each bucket that had any, at the bucket's middle.
fn rmw_share_points(data: &TimeSeriesData, ns_per_unit: f64) -> Vec<(f64, f64)> {
    data.rmw
        .iter()
        .zip(&data.rcw)
        .enumerate()
        .filter(|&(_, (&rmw, &rcw))| rmw + rcw > 0)
        .map(|(index, (&rmw, &rcw))| {
            let start = data.bucket_start_ns(index) as f64;
            let width = data.bucket_width_ns(index) as f64;
            (
                (start + width / 2.0) / ns_per_unit,
                rmw as f64 * 100.0 / (rmw + rcw) as f64,
            )
        })
        .collect()
}

fn draw_over_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
    labels: Vec<&str>,
    metric: TimeMetric,
) -> DrawResult {
    let end_ns = runs
        .iter()
        .map(|run| run.time_series.end_ns)
        .max()
        .unwrap_or(0);
    let (ns_per_unit, unit) = time_unit(end_ns);
    let series: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|run| {
            let cache_blocks = run.stat(stat::SIZE_BLOCKS);
            let stripe_cache_size = run.stat("raid5.stripe_cache_size");
            time_points(
                &run.time_series,
                metric,
                ns_per_unit,
                cache_blocks,
                stripe_cache_size,
            )
        })
        .collect();
    // A rate over a bucket shorter than the others is marked; a gauge is a sample, not a rate.
    let partial_last = runs
        .iter()
        .map(|run| metric.is_rate() && last_bucket_is_partial(&run.time_series))
        .collect();
    let thresholds: Vec<Option<f64>> = match metric {
        TimeMetric::DirtyBlocks => runs.iter().map(dirty_thresh_pct).collect(),
        _ => Vec::new(),
    };
    let y_max = series
        .iter()
        .flatten()
        .map(|&(_, y)| y)
        .chain(thresholds.iter().flatten().copied())
        .fold(0.0, f64::max);
    let (title, y_desc, no_data) = match metric {
        TimeMetric::Throughput => (
            ChartKind::Throughput.title(),
            "requests per second",
            "no run recorded a time series",
        ),
        TimeMetric::ReadHitRatio => (
            ChartKind::HitRatioOverTime.title(),
            "read hits (% of reads)",
            "no run recorded cache lookups over time",
        ),
        TimeMetric::DirtyBlocks => (
            ChartKind::DirtyBlocks.title(),
            "dirty blocks (% of the cache)",
            "no run recorded dirty blocks and the cache's size",
        ),
        TimeMetric::Cleanings => (
            ChartKind::Cleaning.title(),
            "cleanings per second",
            "no run recorded a time series",
        ),
        TimeMetric::SyncProgress => (
            ChartKind::SyncProgress.title(),
            "pass done (% of the array)",
            "no md raid5 array ran a resync, rebuild, check or repair pass",
        ),
        TimeMetric::RmwShare => (
            ChartKind::RmwShare.title(),
            "read-modify-write (% of stripe writes)",
            "no md raid5 array wrote a stripe",
        ),
        TimeMetric::StripeCacheActive => (
            ChartKind::StripeCacheActive.title(),
            "stripe heads in use (% of the cache)",
            "no run had an md raid5 array",
        ),
    };
    // A cache metric of a run without a cache (the no-cache baseline) is absent, not missing;
    // so is an array's sync of a run without an array.
    let empty_labels = runs
        .iter()
        .map(|run| match metric {
            TimeMetric::Throughput => None,
            metric if metric.is_array() => run
                .time_series
                .sync_total_sectors
                .is_empty()
                .then_some("no raid5 array"),
            _ => run.stat(stat::SIZE_BLOCKS).is_none().then_some("no cache"),
        })
        .collect();
    let x_desc = format!("virtual time ({unit})");
    let chart = LineChart {
        title,
        x_desc: &x_desc,
        y_desc,
        x_axis: TickAxis::linear_exact(end_ns as f64 / ns_per_unit),
        y_axis: match metric {
            TimeMetric::ReadHitRatio
            | TimeMetric::SyncProgress
            | TimeMetric::RmwShare
            | TimeMetric::StripeCacheActive => TickAxis::linear_from_zero(100.0),
            _ => TickAxis::linear_from_zero(y_max * HEADROOM),
        },
        x_format: &format::significant,
        y_format: match metric {
            TimeMetric::DirtyBlocks
            | TimeMetric::ReadHitRatio
            | TimeMetric::SyncProgress
            | TimeMetric::RmwShare
            | TimeMetric::StripeCacheActive => &percent_label,
            _ => &format::si,
        },
        runs: labels,
        series,
        partial_last,
        thresholds,
        threshold_name: "dirty_thresh_pct",
        layout: Layout::SmallMultiplesForMany,
        no_data_message: no_data,
        empty_labels,
        legend_title: "Runs",
        markers: false,
    };
    draw_line_chart(root, &chart)
}

/// True when the run's last bucket is shorter than the others (the run ended inside it).
fn last_bucket_is_partial(data: &TimeSeriesData) -> bool {
    !data.is_empty() && data.bucket_width_ns(data.len() - 1) < data.bucket_ns
}

/// The run's `dirty_thresh_pct` tunable, from its configuration (`flashcache.tunables`).
fn dirty_thresh_pct(run: &RunReport) -> Option<f64> {
    run.config
        .pointer("/flashcache/tunables/dirty_thresh_pct")
        .and_then(serde_json::Value::as_f64)
}

#[derive(Clone, Copy, Debug)]
enum DeviceMetric {
    Count,
    Bytes,
}

/// Device names over all runs, in order of first appearance.
pub(crate) fn device_names(runs: &[RunReport]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for device in runs.iter().flat_map(|run| &run.devices) {
        if !names.contains(&device.name.as_str()) {
            names.push(&device.name);
        }
    }
    names
}

fn draw_device_io<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunReport],
    labels: Vec<&str>,
    metric: DeviceMetric,
) -> DrawResult {
    let names = device_names(runs);
    let mut groups = Vec::new();
    for name in &names {
        let upper = name.to_uppercase();
        match metric {
            DeviceMetric::Count => {
                groups.push(format!("{upper} reads"));
                groups.push(format!("{upper} writes"));
            }
            DeviceMetric::Bytes => {
                groups.push(format!("{upper} read"));
                groups.push(format!("{upper} written"));
            }
        }
    }
    let values: Vec<Vec<Option<f64>>> = runs
        .iter()
        .map(|run| {
            names
                .iter()
                .flat_map(|name| match run.device(name) {
                    None => [None, None],
                    Some(device) => match metric {
                        DeviceMetric::Count => {
                            [Some(device.reads as f64), Some(device.writes as f64)]
                        }
                        DeviceMetric::Bytes => [
                            Some(device.bytes_read as f64 / 1e6),
                            Some(device.bytes_written as f64 / 1e6),
                        ],
                    },
                })
                .collect()
        })
        .collect();
    let y_max = values
        .iter()
        .flatten()
        .flatten()
        .fold(0.0, |a: f64, &b| a.max(b));
    let (title, y_desc) = match metric {
        DeviceMetric::Count => (ChartKind::DeviceIoCounts.title(), "IOs"),
        DeviceMetric::Bytes => (ChartKind::DeviceIoBytes.title(), "MB (10^6 bytes)"),
    };
    let chart = BarChart {
        title,
        y_desc,
        groups,
        runs: labels,
        values,
        y_axis: TickAxis::linear_from_zero(y_max * HEADROOM),
        y_format: &format::si,
        no_data_message: "no run reported device IO",
    };
    draw_bar_chart(root, &chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::CdfPoint;

    #[test]
    fn a_cdf_is_drawn_as_steps() {
        // 60 % of reads at 11 µs (hits), the rest at 84 µs (misses): two steps, no ramp.
        let points = [
            CdfPoint {
                latency_ns: 11_000,
                fraction: 0.6,
            },
            CdfPoint {
                latency_ns: 84_000,
                fraction: 1.0,
            },
        ];
        assert_eq!(
            cdf_steps(&points),
            vec![
                (11_000.0, 0.0),
                (11_000.0, 60.0),
                (84_000.0, 60.0),
                (84_000.0, 100.0)
            ]
        );
        assert!(cdf_steps(&[]).is_empty());
    }

    #[test]
    fn array_metrics_are_percentages_and_absent_without_an_array() {
        use crate::time_series::{ArrayGauges, TimeSeries};
        let gauges = |done, total, active| ArrayGauges {
            sync_done_sectors: done,
            sync_total_sectors: total,
            stripe_cache_active: active,
        };
        let mut series = TimeSeries::new(1_000, 16);
        series.sample_array(500, gauges(0, 0, 16));
        series.sample_array(1_500, gauges(256, 1_024, 64));
        series.sample_array(2_500, gauges(768, 1_024, 256));
        series.sample_array(3_100, gauges(0, 0, 0));
        series.record_stripe_writes(600, 1, 3);
        series.record_stripe_writes(2_200, 2, 0);
        let data = series.data(3_500);
        let points = |metric| time_points(&data, metric, 1_000.0, None, Some(256));
        // Progress at the ends of the buckets a pass ran in.
        assert_eq!(
            points(TimeMetric::SyncProgress),
            vec![(2.0, 25.0), (3.0, 75.0)]
        );
        // The rmw share of buckets with stripe writes, at their middles.
        assert_eq!(
            points(TimeMetric::RmwShare),
            vec![(0.5, 25.0), (2.5, 100.0)]
        );
        assert_eq!(
            points(TimeMetric::StripeCacheActive),
            vec![(1.0, 6.25), (2.0, 25.0), (3.0, 100.0), (3.5, 0.0)]
        );
        // Without the cache's size there is no share.
        assert!(time_points(&data, TimeMetric::StripeCacheActive, 1_000.0, None, None).is_empty());
        // A run without an array has no points (and no columns).
        let data = TimeSeries::new(1_000, 16).data(3_000);
        for metric in [
            TimeMetric::SyncProgress,
            TimeMetric::RmwShare,
            TimeMetric::StripeCacheActive,
        ] {
            assert!(time_points(&data, metric, 1_000.0, None, Some(256)).is_empty());
        }
    }
}
