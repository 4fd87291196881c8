//! One run's report: what `summary.json` holds and what `dmsim replay` prints.
//!
//! Owns [`RunReport`] and its parts ([`DeviceReport`], [`Throughput`]), their JSON form, the
//! derived figures everyone shows the same way (hit ratios), and the short text summary. It
//! deliberately does not collect anything (see [`crate::RunRecorder`]) nor draw charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::format;
use crate::latency::{LatencyReport, LatencySummary};
use crate::output::OutputBatch;
use crate::time_series::TimeSeriesData;

/// File name of a single run's report inside its output directory.
pub const SUMMARY_FILE_NAME: &str = "summary.json";

/// flashcache counter names this crate reads from [`RunReport::stats`] (specs/flashcache.md
/// §1.20). Missing counters are shown as `-`, never guessed.
pub mod stat {
    /// Read requests seen by the cache.
    pub const READS: &str = "reads";
    /// Write requests seen by the cache.
    pub const WRITES: &str = "writes";
    /// Reads served from the SSD.
    pub const READ_HITS: &str = "read_hits";
    /// Writes that hit a cached block.
    pub const WRITE_HITS: &str = "write_hits";
    /// Write hits on an already dirty block.
    pub const DIRTY_WRITE_HITS: &str = "dirty_write_hits";
    /// Dirty blocks written back to the disk.
    pub const CLEANINGS: &str = "cleanings";
    /// Blocks of the cache (its size).
    pub const SIZE_BLOCKS: &str = "size_blocks";
}

/// IO done on one device during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// Device name as the run configured it, e.g. "ssd", "hdd".
    pub name: String,
    /// Read IOs completed.
    pub reads: u64,
    /// Write IOs completed.
    pub writes: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// Request throughput of a run over its virtual duration. MB are 10^6 bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Virtual duration the rates are over, in ns.
    pub duration_ns: u64,
    /// Requests completed.
    pub requests: u64,
    /// Bytes moved by those requests.
    pub bytes: u64,
    /// `requests` per virtual second (0 when the duration is 0).
    pub requests_per_s: f64,
    /// `bytes` in MB per virtual second (0 when the duration is 0).
    pub mb_per_s: f64,
}

impl Throughput {
    /// Throughput of `requests` moving `bytes` over `duration_ns` of virtual time.
    pub fn new(requests: u64, bytes: u64, duration_ns: u64) -> Self {
        let (requests_per_s, mb_per_s) = if duration_ns == 0 {
            (0.0, 0.0)
        } else {
            let seconds = duration_ns as f64 / 1e9;
            (requests as f64 / seconds, bytes as f64 / 1e6 / seconds)
        };
        Throughput {
            duration_ns,
            requests,
            bytes,
            requests_per_s,
            mb_per_s,
        }
    }
}

/// One run's report; `summary.json` is one of these, `compare.json` holds several.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Short unique name of the run, e.g. "wb/lru". Used in legends and tables.
    pub label: String,
    /// Headline copies for scripts: requests completed (= `throughput.requests`).
    #[serde(default)]
    pub requests: u64,
    /// Requests per second of virtual time (= `throughput.requests_per_s`).
    #[serde(default)]
    pub iops: f64,
    /// Bytes moved by requests (= `throughput.bytes`).
    #[serde(default)]
    pub bytes: u64,
    /// Reads whose every sector the data oracle checked (0 when the run had no oracle).
    #[serde(default)]
    pub verified_reads: u64,
    /// Sectors the data oracle found wrong (stale, misplaced or corrupt data).
    #[serde(default)]
    pub data_errors: u64,
    /// The run's configuration as the caller describes it (mode, policy, sizes, options,
    /// deviations from flashcache). For comparisons, each grid axis's value is expected under
    /// the axis name (see [`crate::GridAxis`]).
    pub config: serde_json::Value,
    /// flashcache counters by name (see [`stat`]); a map so ordering is stable.
    pub stats: BTreeMap<String, u64>,
    /// Request latency distributions.
    pub latency: LatencyReport,
    /// Per-device IO, in the order the run configured its devices.
    pub devices: Vec<DeviceReport>,
    /// Request throughput over the run's virtual duration.
    pub throughput: Throughput,
    /// Throughput, gauges and cleaning activity over virtual time.
    pub time_series: TimeSeriesData,
    /// The resolved run spec that produced this report (`dmsim run --spec` reruns it); absent
    /// for runs not built from a spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
}

impl RunReport {
    /// Counter `name` from [`RunReport::stats`], if the run reported it.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats.get(name).copied()
    }

    /// `read_hits * 100 / reads`, or `None` when either counter is missing or there were no
    /// reads.
    pub fn read_hit_percent(&self) -> Option<f64> {
        ratio_percent(self.stat(stat::READ_HITS), self.stat(stat::READS))
    }

    /// `write_hits * 100 / writes`, or `None` when either counter is missing or there were no
    /// writes.
    pub fn write_hit_percent(&self) -> Option<f64> {
        ratio_percent(self.stat(stat::WRITE_HITS), self.stat(stat::WRITES))
    }

    /// `dirty_write_hits * 100 / writes`, like flashcache's `dirty_write_hit_percent`.
    pub fn dirty_write_hit_percent(&self) -> Option<f64> {
        ratio_percent(self.stat(stat::DIRTY_WRITE_HITS), self.stat(stat::WRITES))
    }

    /// The device called `name`, if the run had one.
    pub fn device(&self, name: &str) -> Option<&DeviceReport> {
        self.devices.iter().find(|device| device.name == name)
    }

    /// The config value under `key` as table text: strings unquoted, other JSON values in
    /// compact JSON, `-` when absent.
    pub fn config_text(&self, key: &str) -> String {
        match self.config.get(key) {
            None | Some(serde_json::Value::Null) => "-".to_string(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// Checks the invariants a report read from disk must hold; `context` names its source.
    pub fn validate(&self, context: &str) -> Result<(), ReportError> {
        if self.label.is_empty() {
            return Err(ReportError::invalid(context, "label", "must not be empty"));
        }
        let context = format!("{context} (run '{}')", self.label);
        for (op, summary) in [("read", &self.latency.read), ("write", &self.latency.write)] {
            validate_latency(&context, op, summary)?;
        }
        for (name, value) in [
            ("throughput.requests_per_s", self.throughput.requests_per_s),
            ("throughput.mb_per_s", self.throughput.mb_per_s),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(ReportError::invalid(
                    &context,
                    name,
                    "must be finite and >= 0",
                ));
            }
        }
        self.time_series.validate(&context)
    }

    /// The report as pretty-printed JSON with a trailing newline. Deterministic: fields in
    /// declaration order, maps sorted, floats in shortest round-trip form.
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }

    /// Parses and validates a report; `path` is only used to name the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<RunReport, ReportError> {
        let report: RunReport = serde_json::from_str(text).map_err(|source| ReportError::Json {
            path: path.to_path_buf(),
            what: SUMMARY_FILE_NAME,
            source,
        })?;
        report.validate(&path.display().to_string())?;
        Ok(report)
    }

    /// Reads and validates a `summary.json`.
    pub fn read_summary(path: &Path) -> Result<RunReport, ReportError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ReportError::io(path, "read", source))?;
        RunReport::from_json(&text, path)
    }

    /// Writes `dir/summary.json` atomically (creating `dir` if needed) and returns its path.
    pub fn write_summary(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let mut batch = OutputBatch::begin(dir)?;
        batch.stage_bytes(SUMMARY_FILE_NAME, self.to_json().as_bytes())?;
        let mut written = batch.commit()?;
        written.pop().ok_or_else(|| {
            ReportError::invalid(dir.display().to_string(), SUMMARY_FILE_NAME, "not written")
        })
    }

    /// A short human summary for the terminal (a few lines, fixed layout).
    pub fn summary_text(&self) -> String {
        let mut text = String::new();
        let seconds = self.throughput.duration_ns as f64 / 1e9;
        let _ = writeln!(text, "run {}", self.label);
        let _ = writeln!(
            text,
            "  {} requests ({} reads, {} writes) in {:.3} s {}: {:.1} req/s, {:.2} MB/s",
            self.throughput.requests,
            self.latency.read.count,
            self.latency.write.count,
            seconds,
            // Real-device runs measure wall time; everything else is simulated time.
            if self.config_text("platform") == "real" {
                "wall"
            } else {
                "virtual"
            },
            self.throughput.requests_per_s,
            self.throughput.mb_per_s,
        );
        if self.config_text("target") == "linear" {
            // A bare device is recorded as `dev` (`replay --dev`) or `device` (`run`), a disk
            // with an idle SSD beside it as `hdd`.
            let bare = ["dev", "device"]
                .iter()
                .find_map(|key| self.config.get(*key).and_then(|dev| dev.as_str()));
            let device = match bare {
                Some(preset) => format!("the device ({preset})"),
                None => "the disk".to_string(),
            };
            let _ = writeln!(
                text,
                "  no cache (--target linear): every request goes to {device}"
            );
        } else {
            let _ = writeln!(
                text,
                "  hit ratio: read {} %, write {} %, dirty write {} %",
                format::percent(self.read_hit_percent()),
                format::percent(self.write_hit_percent()),
                format::percent(self.dirty_write_hit_percent()),
            );
        }
        let _ = writeln!(
            text,
            "  {:<7}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "latency", "count", "mean", "p50", "p90", "p99", "p99.9", "max"
        );
        for (op, summary) in [("read", &self.latency.read), ("write", &self.latency.write)] {
            let _ = writeln!(
                text,
                "  {:<7}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
                op,
                summary.count,
                format::duration_ns(summary.mean_ns),
                format::duration_ns(summary.p50_ns as f64),
                format::duration_ns(summary.p90_ns as f64),
                format::duration_ns(summary.p99_ns as f64),
                format::duration_ns(summary.p999_ns as f64),
                format::duration_ns(summary.max_ns as f64),
            );
        }
        for device in &self.devices {
            let _ = writeln!(
                text,
                "  device {}: {} reads ({} MB), {} writes ({} MB)",
                device.name,
                device.reads,
                format::megabytes(device.bytes_read),
                device.writes,
                format::megabytes(device.bytes_written),
            );
        }
        if let Some(cleanings) = self.stat(stat::CLEANINGS) {
            let _ = writeln!(text, "  cleanings: {cleanings}");
        }
        text
    }
}

fn ratio_percent(part: Option<u64>, whole: Option<u64>) -> Option<f64> {
    match (part, whole) {
        (Some(part), Some(whole)) if whole > 0 => Some(part as f64 * 100.0 / whole as f64),
        _ => None,
    }
}

fn validate_latency(context: &str, op: &str, summary: &LatencySummary) -> Result<(), ReportError> {
    let field = |name: &str| format!("latency.{op}.{name}");
    if !summary.mean_ns.is_finite() || summary.mean_ns < 0.0 {
        return Err(ReportError::invalid(
            context,
            field("mean_ns"),
            "must be finite and >= 0",
        ));
    }
    let ordered = [
        summary.min_ns,
        summary.p50_ns,
        summary.p90_ns,
        summary.p99_ns,
        summary.p999_ns,
        summary.max_ns,
    ];
    if ordered.windows(2).any(|pair| pair[0] > pair[1]) {
        return Err(ReportError::invalid(
            context,
            field("p50_ns"),
            "min <= p50 <= p90 <= p99 <= p99.9 <= max does not hold",
        ));
    }
    for (index, point) in summary.cdf.iter().enumerate() {
        if !(point.fraction > 0.0 && point.fraction <= 1.0) {
            return Err(ReportError::invalid(
                context,
                field(&format!("cdf[{index}].fraction")),
                "must be in (0, 1]",
            ));
        }
    }
    Ok(())
}

/// Pretty JSON with a trailing newline; serialising these plain data types cannot fail.
pub(crate) fn to_pretty_json<T: Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Only non-string map keys or failing Serialize impls can fail; these types have none.
        Err(error) => unreachable!("report serialisation failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::{LatencyRecorder, Op};
    use crate::time_series::TimeSeries;

    pub(crate) fn sample_report() -> RunReport {
        let mut latency = LatencyRecorder::new();
        let mut series = TimeSeries::new(1_000_000, 64);
        for i in 0..100u64 {
            let op = if i % 3 == 0 { Op::Write } else { Op::Read };
            latency.record(op, 100_000 + i * 7_919);
            series.record_request(i * 100_000, op, 4096);
            series.sample_gauges(i * 100_000, i / 3, i);
        }
        series.record_cleanings(5_000_000, 4);
        let stats = [
            (stat::READS, 66),
            (stat::WRITES, 34),
            (stat::READ_HITS, 50),
            (stat::WRITE_HITS, 17),
            (stat::DIRTY_WRITE_HITS, 5),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        RunReport {
            label: "wb/lru".to_string(),
            requests: 100,
            iops: 10_000.0,
            bytes: 100 * 4096,
            verified_reads: 66,
            data_errors: 0,
            config: serde_json::json!({"mode": "wb", "policy": "lru", "ssd_blocks": 1024}),
            stats,
            latency: latency.report(),
            devices: vec![DeviceReport {
                name: "ssd".to_string(),
                reads: 50,
                writes: 51,
                bytes_read: 50 * 4096,
                bytes_written: 51 * 4096,
            }],
            throughput: Throughput::new(100, 100 * 4096, 10_000_000),
            time_series: series.data(10_000_000),
            spec: None,
        }
    }

    #[test]
    fn hit_ratios_come_from_stats() {
        let report = sample_report();
        assert_eq!(report.read_hit_percent(), Some(50.0 * 100.0 / 66.0));
        assert_eq!(report.write_hit_percent(), Some(50.0));
        let mut no_reads = report.clone();
        no_reads.stats.insert("reads".to_string(), 0);
        assert_eq!(no_reads.read_hit_percent(), None);
    }

    #[test]
    fn summary_json_round_trips() {
        let report = sample_report();
        let root = tempfile::tempdir().unwrap();
        let path = report.write_summary(root.path()).unwrap();
        assert_eq!(path, root.path().join(SUMMARY_FILE_NAME));
        let back = RunReport::read_summary(&path).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.to_json(), report.to_json());
    }

    #[test]
    fn throughput_rates() {
        let throughput = Throughput::new(1_000, 4_000_000, 2_000_000_000);
        assert_eq!(throughput.requests_per_s, 500.0);
        assert_eq!(throughput.mb_per_s, 2.0);
        assert_eq!(Throughput::new(5, 5, 0).requests_per_s, 0.0);
    }

    #[test]
    fn invalid_summary_names_file_and_field() {
        let mut report = sample_report();
        report.latency.read.p50_ns = report.latency.read.max_ns + 1;
        let path = Path::new("/somewhere/summary.json");
        let error = RunReport::from_json(&report.to_json(), path)
            .unwrap_err()
            .to_string();
        assert!(error.contains("/somewhere/summary.json"), "{error}");
        assert!(error.contains("latency.read.p50_ns"), "{error}");

        let error = RunReport::from_json("{\"label\": 3}", path)
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn summary_text_shows_the_headline_numbers() {
        let text = sample_report().summary_text();
        assert!(text.starts_with("run wb/lru\n"), "{text}");
        assert!(
            text.contains("100 requests (66 reads, 34 writes) in 0.010 s"),
            "{text}"
        );
        assert!(text.contains("read 75.76 %, write 50.00 %"), "{text}");
        assert!(text.contains("device ssd: 50 reads (0.20 MB)"), "{text}");
    }

    #[test]
    fn config_text_renders_values() {
        let report = sample_report();
        assert_eq!(report.config_text("mode"), "wb");
        assert_eq!(report.config_text("ssd_blocks"), "1024");
        assert_eq!(report.config_text("absent"), "-");
    }
}
