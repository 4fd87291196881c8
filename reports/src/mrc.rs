//! Miss-ratio curves: the exact hit ratios of one trace over many cache sizes, per cache mode
//! and replacement policy (`dmsim hits --cache-sizes`): mrc.json, the chart (SVG and PNG),
//! index.html, and the terminal table.
//!
//! Owns [`MrcReport`] and [`MrcCell`], their validation and JSON form, the table, and the
//! all-or-nothing writing of the report directory. It deliberately runs nothing: the CLI
//! counts every cell and hands the counters over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::charts::mrc::{render_mrc_png, render_mrc_svg};
use crate::compare::{markdown_table, INDEX_FILE_NAME};
use crate::error::ReportError;
use crate::format;
use crate::html;
use crate::output::OutputBatch;
use crate::run_report::{stat, to_pretty_json};

/// File name of the curves' data inside the output directory.
pub const MRC_FILE_NAME: &str = "mrc.json";
/// File name of the chart, without extension (written as SVG and PNG).
pub const MRC_CHART_STEM: &str = "mrc";

/// Miss-ratio curves of one trace: what was computed, and one cell per mode, policy and
/// cache size, curve by curve (modes × policies in the order given), sizes ascending within
/// a curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MrcReport {
    /// The trace's name as reports show it.
    pub trace: String,
    /// Trace records read (after the filters), each counted as a request or skipped.
    pub records: u64,
    /// Records with no bio equivalent (zero length, too long, an unknown operation): skipped
    /// in every cell, as replay skips them.
    pub skipped_records: u64,
    /// The cache sizes asked for, in bytes, ascending.
    pub sizes_bytes: Vec<u64>,
    pub modes: Vec<String>,
    pub policies: Vec<String>,
    /// Set associativity (`512`, `full`, …).
    pub assoc: String,
    pub block_size_bytes: u64,
    /// The SSD and disk presets (they bound the cache and the volume).
    pub ssd: String,
    pub hdd: String,
    /// What else the reader should know (how the trace was fitted onto the volume, `--set`s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub cells: Vec<MrcCell>,
    pub dmsim_version: String,
}

/// One mode, policy and cache size: flashcache's counters over the whole trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MrcCell {
    pub mode: String,
    pub policy: String,
    /// The size asked for.
    pub cache_size_bytes: u64,
    /// The cache's blocks (flashcache's `size_blocks`: the size rounded down to whole sets,
    /// less the metadata in writeback).
    pub cache_blocks: u64,
    pub requests: u64,
    /// `(read_hits + write_hits) / (reads + writes)`; none without lookups.
    pub hit_ratio: Option<f64>,
    pub read_hit_ratio: Option<f64>,
    pub write_hit_ratio: Option<f64>,
    /// Every flashcache counter and gauge, under flashcache's names.
    pub stats: BTreeMap<String, u64>,
}

fn ratio(part: Option<u64>, whole: Option<u64>) -> Option<f64> {
    match (part, whole) {
        (Some(part), Some(whole)) if whole > 0 => Some(part as f64 / whole as f64),
        _ => None,
    }
}

fn ratio_percent(value: Option<f64>) -> String {
    format::percent(value.map(|ratio| ratio * 100.0))
}

impl MrcCell {
    /// A cell with its ratios derived from `stats`.
    pub fn new(
        mode: impl Into<String>,
        policy: impl Into<String>,
        cache_size_bytes: u64,
        requests: u64,
        stats: BTreeMap<String, u64>,
    ) -> MrcCell {
        let get = |name: &str| stats.get(name).copied();
        let hits = get(stat::READ_HITS)
            .zip(get(stat::WRITE_HITS))
            .map(|(r, w)| r + w);
        let lookups = get(stat::READS).zip(get(stat::WRITES)).map(|(r, w)| r + w);
        MrcCell {
            mode: mode.into(),
            policy: policy.into(),
            cache_size_bytes,
            cache_blocks: get(stat::SIZE_BLOCKS).unwrap_or(0),
            requests,
            hit_ratio: ratio(hits, lookups),
            read_hit_ratio: ratio(get(stat::READ_HITS), get(stat::READS)),
            write_hit_ratio: ratio(get(stat::WRITE_HITS), get(stat::WRITES)),
            stats,
        }
    }

    /// The curve the cell belongs to: `mode/policy`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.mode, self.policy)
    }
}

impl MrcReport {
    /// The curves' labels (`mode/policy`), in curve order.
    pub fn curve_labels(&self) -> Vec<String> {
        self.modes
            .iter()
            .flat_map(|mode| {
                self.policies
                    .iter()
                    .map(move |policy| format!("{mode}/{policy}"))
            })
            .collect()
    }

    /// Checks: at least one size, mode and policy; sizes positive and ascending; one cell per
    /// mode, policy and size, in curve order. `context` names the source.
    pub fn validate(&self, context: &str) -> Result<(), ReportError> {
        for (field, empty) in [
            ("sizes_bytes", self.sizes_bytes.is_empty()),
            ("modes", self.modes.is_empty()),
            ("policies", self.policies.is_empty()),
        ] {
            if empty {
                return Err(ReportError::invalid(context, field, "needs at least one"));
            }
        }
        if self.sizes_bytes[0] == 0 || self.sizes_bytes.windows(2).any(|p| p[0] >= p[1]) {
            return Err(ReportError::invalid(
                context,
                "sizes_bytes",
                "must be positive and strictly ascending",
            ));
        }
        let expected: Vec<(String, u64)> = self
            .curve_labels()
            .into_iter()
            .flat_map(|label| {
                self.sizes_bytes
                    .iter()
                    .map(move |&size| (label.clone(), size))
            })
            .collect();
        if expected.len() != self.cells.len() {
            return Err(ReportError::invalid(
                context,
                "cells",
                format!(
                    "{} cells for {} modes × {} policies × {} sizes",
                    self.cells.len(),
                    self.modes.len(),
                    self.policies.len(),
                    self.sizes_bytes.len()
                ),
            ));
        }
        for (index, (cell, (label, size))) in self.cells.iter().zip(&expected).enumerate() {
            if cell.label() != *label || cell.cache_size_bytes != *size {
                return Err(ReportError::invalid(
                    context,
                    format!("cells[{index}]"),
                    format!(
                        "is {} at {} bytes, expected {label} at {size} bytes",
                        cell.label(),
                        cell.cache_size_bytes
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The report as pretty-printed JSON with a trailing newline (deterministic).
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }

    /// Parses and validates an `mrc.json`; `path` only names the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<MrcReport, ReportError> {
        let report: MrcReport = serde_json::from_str(text).map_err(|source| ReportError::Json {
            path: path.to_path_buf(),
            what: MRC_FILE_NAME,
            source,
        })?;
        report.validate(&path.display().to_string())?;
        Ok(report)
    }

    /// One line saying what was computed, for headings.
    pub fn description(&self) -> String {
        format!(
            "{}: {} records ({} requests counted, {} skipped); {} cache sizes ({}); modes {}; \
             policies {}; assoc {}; block size {}; SSD {}, disk {}",
            self.trace,
            self.records,
            self.records - self.skipped_records.min(self.records),
            self.skipped_records,
            self.sizes_bytes.len(),
            self.sizes_text(),
            self.modes.join(", "),
            self.policies.join(", "),
            self.assoc,
            format::binary_size(self.block_size_bytes),
            self.ssd,
            self.hdd
        )
    }

    /// The sizes, comma-separated, in binary units.
    pub fn sizes_text(&self) -> String {
        self.sizes_bytes
            .iter()
            .map(|&size| format::binary_size(size))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The header and rows of the table: one row per cell, curve by curve.
    pub(crate) fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header = [
            "mode/policy",
            "cache size",
            "cache blocks",
            "hit %",
            "read hit %",
            "write hit %",
            "reads",
            "read hits",
            "writes",
            "write hits",
        ]
        .map(String::from)
        .to_vec();
        let count = |cell: &MrcCell, name: &str| {
            cell.stats
                .get(name)
                .map_or_else(|| "-".to_string(), u64::to_string)
        };
        let rows = self
            .cells
            .iter()
            .map(|cell| {
                vec![
                    cell.label(),
                    format::binary_size(cell.cache_size_bytes),
                    cell.cache_blocks.to_string(),
                    ratio_percent(cell.hit_ratio),
                    ratio_percent(cell.read_hit_ratio),
                    ratio_percent(cell.write_hit_ratio),
                    count(cell, stat::READS),
                    count(cell, stat::READ_HITS),
                    count(cell, stat::WRITES),
                    count(cell, stat::WRITE_HITS),
                ]
            })
            .collect();
        (header, rows)
    }

    /// The table as markdown, for the terminal.
    pub fn to_markdown(&self) -> String {
        let (header, rows) = self.table();
        markdown_table(&header, &rows)
    }

    /// Names of the files [`MrcReport::write`] creates, in the order it creates them.
    pub fn output_file_names() -> Vec<String> {
        vec![
            MRC_FILE_NAME.to_string(),
            format!("{MRC_CHART_STEM}.svg"),
            format!("{MRC_CHART_STEM}.png"),
            INDEX_FILE_NAME.to_string(),
        ]
    }

    /// Writes `mrc.json`, the chart as SVG and PNG, and `index.html` into `dir` (created if
    /// missing). All files appear together or, on error, none of them do; the error names the
    /// path at fault. Returns the written paths in [`MrcReport::output_file_names`] order.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        self.validate("miss-ratio report")?;
        let mut batch = OutputBatch::begin(dir)?;
        batch.stage_bytes(MRC_FILE_NAME, self.to_json().as_bytes())?;
        let chart_error = |path: PathBuf, message: String| ReportError::Chart {
            path,
            chart: MRC_CHART_STEM,
            message,
        };
        let svg_name = format!("{MRC_CHART_STEM}.svg");
        let svg = render_mrc_svg(self)
            .map_err(|message| chart_error(batch.final_path(&svg_name), message))?;
        batch.stage_bytes(&svg_name, svg.as_bytes())?;
        let png_name = format!("{MRC_CHART_STEM}.png");
        let png_path = batch.final_path(&png_name);
        batch.stage_with(&png_name, |temp_path| {
            render_mrc_png(self, temp_path).map_err(|message| chart_error(png_path, message))
        })?;
        batch.stage_bytes(INDEX_FILE_NAME, html::mrc_index_html(self).as_bytes())?;
        batch.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn stats(reads: u64, read_hits: u64, writes: u64, write_hits: u64) -> BTreeMap<String, u64> {
        [
            (stat::READS, reads),
            (stat::READ_HITS, read_hits),
            (stat::WRITES, writes),
            (stat::WRITE_HITS, write_hits),
            (stat::SIZE_BLOCKS, 1024),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    fn report() -> MrcReport {
        let mut cells = Vec::new();
        for (mode, base) in [("writeback", 10), ("writethrough", 5)] {
            for (step, size) in [16 * MIB, 64 * MIB, 256 * MIB].into_iter().enumerate() {
                let read_hits = base + 20 * step as u64;
                cells.push(MrcCell::new(
                    mode,
                    "lru",
                    size,
                    200,
                    stats(100, read_hits, 100, read_hits / 2),
                ));
            }
        }
        MrcReport {
            trace: "t.csv".to_string(),
            records: 201,
            skipped_records: 1,
            sizes_bytes: vec![16 * MIB, 64 * MIB, 256 * MIB],
            modes: vec!["writeback".to_string(), "writethrough".to_string()],
            policies: vec!["lru".to_string()],
            assoc: "512".to_string(),
            block_size_bytes: 4096,
            ssd: "ssd-nvme".to_string(),
            hdd: "hdd-7200".to_string(),
            notes: vec!["a note".to_string()],
            cells,
            dmsim_version: "0.0.0".to_string(),
        }
    }

    #[test]
    fn ratios_come_from_the_counters() {
        let cell = MrcCell::new("writeback", "fifo", MIB, 10, stats(8, 2, 2, 1));
        assert_eq!(cell.hit_ratio, Some(0.3));
        assert_eq!(cell.read_hit_ratio, Some(0.25));
        assert_eq!(cell.write_hit_ratio, Some(0.5));
        assert_eq!(cell.cache_blocks, 1024);
        let idle = MrcCell::new("writeback", "fifo", MIB, 0, stats(0, 0, 0, 0));
        assert_eq!(idle.hit_ratio, None);
        assert_eq!(ratio_percent(idle.read_hit_ratio), "-");
    }

    #[test]
    fn json_round_trips_and_the_table_has_a_row_per_cell() {
        let report = report();
        let text = report.to_json();
        assert_eq!(
            MrcReport::from_json(&text, Path::new("mrc.json")).unwrap(),
            report
        );
        let table = report.to_markdown();
        assert_eq!(table.lines().count(), 2 + 6, "{table}");
        assert!(table.contains("| writethrough/lru | 256 MiB"), "{table}");
        assert!(table.contains("| 37.50 "), "{table}");
    }

    #[test]
    fn cells_out_of_curve_order_are_refused() {
        let mut report = report();
        report.cells.swap(0, 1);
        let error = report.validate("test").unwrap_err().to_string();
        assert!(error.contains("cells[0]"), "{error}");
        let mut report = self::report();
        report.cells.pop();
        assert!(report.validate("test").is_err());
        let mut report = self::report();
        report.sizes_bytes.swap(0, 1);
        let error = report.validate("test").unwrap_err().to_string();
        assert!(error.contains("ascending"), "{error}");
    }

    #[test]
    fn write_creates_every_file_deterministically() {
        let report = report();
        let root = tempfile::tempdir().unwrap();
        let (first, second) = (root.path().join("a"), root.path().join("b"));
        let written = report.write(&first).unwrap();
        report.write(&second).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, MrcReport::output_file_names());
        for name in &names {
            let a = std::fs::read(first.join(name)).unwrap();
            assert!(!a.is_empty(), "{name}");
            assert_eq!(a, std::fs::read(second.join(name)).unwrap(), "{name}");
        }
        let html = std::fs::read_to_string(first.join(INDEX_FILE_NAME)).unwrap();
        for expected in [
            "t.csv",
            "201 (200 requests counted, 1 skipped",
            "16 MiB, 64 MiB, 256 MiB",
            "writethrough",
            "<td class=\"label\">assoc</td><td>512</td>",
            "<td class=\"label\">block size</td><td>4 KiB</td>",
            "mrc.svg",
            "a note",
        ] {
            assert!(html.contains(expected), "index.html lacks {expected}");
        }
    }

    #[test]
    fn an_invalid_report_writes_nothing() {
        let mut report = report();
        report.cells.clear();
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        assert!(report.write(&dir).is_err());
        assert!(!dir.exists());
    }
}
