//! Comparison of several runs over a grid of options: compare.json, charts, index.html and
//! the terminal table.
//!
//! Owns [`CompareReport`] and [`GridAxis`], their validation and JSON form, the markdown
//! table, and the all-or-nothing writing of a comparison directory. It deliberately does not
//! run anything: the CLI runs the grid and hands the finished [`RunReport`]s over.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::charts::{self, ChartKind};
use crate::error::ReportError;
use crate::format;
use crate::html;
use crate::output::OutputBatch;
use crate::run_report::{stat, to_pretty_json, RunReport};
use crate::speedup::{self, format_speedup, Speedup};

/// File name of the comparison data inside the output directory.
pub const COMPARE_FILE_NAME: &str = "compare.json";
/// File name of the HTML page showing every chart.
pub const INDEX_FILE_NAME: &str = "index.html";

/// One dimension of the comparison grid, e.g. `mode` with values `wb`, `wt`, `wa`.
///
/// Each run is expected to carry its value for the axis in its `config` under `name`; tables
/// show that value in a column named after the axis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAxis {
    /// Axis name, also the key of the run's value in [`RunReport::config`].
    pub name: String,
    /// The values the grid took along this axis, in the order they were run.
    pub values: Vec<String>,
}

/// A comparison: the grid axes and one report per grid point, in run order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// What was compared, e.g. the trace's name; the HTML page's heading.
    pub title: String,
    /// The grid's dimensions.
    pub axes: Vec<GridAxis>,
    /// One report per run; labels are unique. Run `i` has the same colour in every chart.
    pub runs: Vec<RunReport>,
    /// Each run's speed-up over the no-cache baseline it names (derived from `runs` by
    /// [`CompareReport::new`]; empty when the comparison has no baseline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speedups: Vec<Speedup>,
}

impl CompareReport {
    /// A validated comparison (see [`CompareReport::validate`]).
    pub fn new(
        title: impl Into<String>,
        axes: Vec<GridAxis>,
        runs: Vec<RunReport>,
    ) -> Result<Self, ReportError> {
        let speedups = speedup::speedups(&runs);
        let report = CompareReport {
            title: title.into(),
            axes,
            runs,
            speedups,
        };
        report.validate("compare report")?;
        Ok(report)
    }

    /// Checks: at least one run; every run valid with a unique, non-empty label; axis names
    /// non-empty and unique; axis values unique per axis. `context` names the source.
    pub fn validate(&self, context: &str) -> Result<(), ReportError> {
        if self.runs.is_empty() {
            return Err(ReportError::invalid(
                context,
                "runs",
                "needs at least one run",
            ));
        }
        for (index, run) in self.runs.iter().enumerate() {
            run.validate(&format!("{context}: runs[{index}]"))?;
            if self.runs[..index]
                .iter()
                .any(|other| other.label == run.label)
            {
                return Err(ReportError::invalid(
                    context,
                    format!("runs[{index}].label"),
                    format!("label '{}' is used by an earlier run", run.label),
                ));
            }
        }
        for (index, speedup) in self.speedups.iter().enumerate() {
            for (field, label) in [("label", &speedup.label), ("baseline", &speedup.baseline)] {
                if !self.runs.iter().any(|run| run.label == *label) {
                    return Err(ReportError::invalid(
                        context,
                        format!("speedups[{index}].{field}"),
                        format!("no run is labelled '{label}'"),
                    ));
                }
            }
        }
        for (index, axis) in self.axes.iter().enumerate() {
            if axis.name.is_empty() {
                return Err(ReportError::invalid(
                    context,
                    format!("axes[{index}].name"),
                    "must not be empty",
                ));
            }
            if self.axes[..index]
                .iter()
                .any(|other| other.name == axis.name)
            {
                return Err(ReportError::invalid(
                    context,
                    format!("axes[{index}].name"),
                    format!("axis '{}' appears twice", axis.name),
                ));
            }
            for (value_index, value) in axis.values.iter().enumerate() {
                if axis.values[..value_index].contains(value) {
                    return Err(ReportError::invalid(
                        context,
                        format!("axes[{index}].values[{value_index}]"),
                        format!("value '{value}' appears twice"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The comparison as pretty-printed JSON with a trailing newline (deterministic).
    pub fn to_json(&self) -> String {
        to_pretty_json(self)
    }

    /// Parses and validates a comparison; `path` only names the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<CompareReport, ReportError> {
        let report: CompareReport =
            serde_json::from_str(text).map_err(|source| ReportError::Json {
                path: path.to_path_buf(),
                what: COMPARE_FILE_NAME,
                source,
            })?;
        report.validate(&path.display().to_string())?;
        Ok(report)
    }

    /// Reads and validates a `compare.json`.
    pub fn read(path: &Path) -> Result<CompareReport, ReportError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ReportError::io(path, "read", source))?;
        CompareReport::from_json(&text, path)
    }

    /// Names of the files [`CompareReport::write`] creates, in the order it creates them.
    pub fn output_file_names() -> Vec<String> {
        let mut names = vec![COMPARE_FILE_NAME.to_string()];
        for kind in ChartKind::ALL {
            names.push(format!("{}.svg", kind.file_stem()));
            names.push(format!("{}.png", kind.file_stem()));
        }
        names.push(INDEX_FILE_NAME.to_string());
        names
    }

    /// Writes `compare.json`, every chart as SVG and PNG, and `index.html` into `dir`
    /// (created if missing). All files appear together or, on error, none of them do; the
    /// error names the path at fault. Returns the written paths in
    /// [`CompareReport::output_file_names`] order.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        self.validate("compare report")?;
        let mut batch = OutputBatch::begin(dir)?;
        batch.stage_bytes(COMPARE_FILE_NAME, self.to_json().as_bytes())?;
        for kind in ChartKind::ALL {
            let svg_name = format!("{}.svg", kind.file_stem());
            let svg = charts::render_svg(kind, &self.runs).map_err(|message| {
                charts::chart_error(kind, &batch.final_path(&svg_name), message)
            })?;
            batch.stage_bytes(&svg_name, svg.as_bytes())?;

            let png_name = format!("{}.png", kind.file_stem());
            let png_path = batch.final_path(&png_name);
            batch.stage_with(&png_name, |temp_path| {
                charts::render_png(kind, &self.runs, temp_path)
                    .map_err(|message| charts::chart_error(kind, &png_path, message))
            })?;
        }
        batch.stage_bytes(INDEX_FILE_NAME, html::index_html(self).as_bytes())?;
        batch.commit()
    }

    /// Device names over all runs, in order of first appearance.
    pub fn device_names(&self) -> Vec<&str> {
        charts::device_names(&self.runs)
    }

    /// Labels of the runs other runs are measured against, in run order.
    pub fn baseline_labels(&self) -> Vec<&str> {
        self.runs
            .iter()
            .map(|run| run.label.as_str())
            .filter(|label| self.speedups.iter().any(|s| s.baseline == *label))
            .collect()
    }

    /// The speed-up cell of `run` in a table with a baseline: its mean-latency speed-up,
    /// `baseline` for a baseline run, `-` for a run without one.
    pub(crate) fn speedup_cell(&self, run: &RunReport) -> String {
        if let Some(speedup) = self.speedups.iter().find(|s| s.label == run.label) {
            format_speedup(speedup.mean_latency_speedup)
        } else if self.baseline_labels().contains(&run.label.as_str()) {
            "baseline".to_string()
        } else {
            "-".to_string()
        }
    }

    /// The comparison as a markdown table for the terminal: one row per run with its axis
    /// values, hit ratios, latency p50/p99, throughput, per-device IO counts and cleanings.
    pub fn to_markdown(&self) -> String {
        let devices = self.device_names();
        let has_baseline = !self.speedups.is_empty();
        let mut header: Vec<String> = vec!["run".to_string()];
        header.extend(self.axes.iter().map(|axis| axis.name.clone()));
        if has_baseline {
            header.push(SPEEDUP_HEADER.to_string());
        }
        header.extend(
            [
                "read hit %",
                "write hit %",
                "read p50",
                "read p99",
                "write p50",
                "write p99",
                "req/s",
                "MB/s",
            ]
            .map(String::from),
        );
        header.extend(devices.iter().map(|name| format!("{name} IOs")));
        header.push("cleanings".to_string());

        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|run| {
                let mut row = vec![run.label.clone()];
                row.extend(self.axes.iter().map(|axis| run.config_text(&axis.name)));
                if has_baseline {
                    row.push(self.speedup_cell(run));
                }
                row.push(format::percent(run.read_hit_percent()));
                row.push(format::percent(run.write_hit_percent()));
                for summary in [&run.latency.read, &run.latency.write] {
                    for value in [summary.p50_ns, summary.p99_ns] {
                        row.push(if summary.count == 0 {
                            "-".to_string()
                        } else {
                            format::duration_ns(value as f64)
                        });
                    }
                }
                row.push(format!("{:.1}", run.throughput.requests_per_s));
                row.push(format!("{:.2}", run.throughput.mb_per_s));
                for name in &devices {
                    row.push(match run.device(name) {
                        Some(device) => device.reads.saturating_add(device.writes).to_string(),
                        None => "-".to_string(),
                    });
                }
                row.push(
                    run.stat(stat::CLEANINGS)
                        .map_or_else(|| "-".to_string(), |value| value.to_string()),
                );
                row
            })
            .collect();
        markdown_table(&header, &rows)
    }
}

/// The speed-up column's heading: what is divided by what.
pub(crate) const SPEEDUP_HEADER: &str = "speed-up over none (mean latency)";

/// A markdown table with columns padded to their widest cell (in characters).
pub(crate) fn markdown_table(header: &[String], rows: &[Vec<String>]) -> String {
    let cells = |row: &[String]| -> Vec<String> {
        row.iter().map(|cell| format::markdown_cell(cell)).collect()
    };
    let header = cells(header);
    let rows: Vec<Vec<String>> = rows.iter().map(|row| cells(row)).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
                .max(3)
        })
        .collect();
    let mut text = String::new();
    let write_row = |text: &mut String, row: &[String]| {
        text.push('|');
        for (column, width) in widths.iter().enumerate() {
            let cell = row.get(column).map_or("", String::as_str);
            let padding = width - cell.chars().count().min(*width);
            let _ = write!(text, " {cell}{} |", " ".repeat(padding));
        }
        text.push('\n');
    };
    write_row(&mut text, &header);
    text.push('|');
    for width in &widths {
        let _ = write!(text, " {} |", "-".repeat(*width));
    }
    text.push('\n');
    for row in &rows {
        write_row(&mut text, row);
    }
    text
}
