//! The self-contained `index.html` of a comparison directory.
//!
//! Owns the page layout: heading, comparison and latency tables, every chart (relative links
//! to the SVGs, with the PNG linked beside), and each run's configuration. Styles are inline;
//! the page loads nothing from elsewhere. It deliberately has no scripts and no timestamps, so
//! the same comparison gives the same bytes.

use std::fmt::Write as _;

use crate::charts::{self, ChartKind};
use crate::compare::{CompareReport, COMPARE_FILE_NAME};
use crate::format::{self, html_escape};
use crate::latency::LatencySummary;
use crate::run_report::stat;

const STYLE: &str = "\
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2em auto; max-width: 1060px; \
color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td.label, th.label { text-align: left; }
table.setup td { text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1.5em 0; }
figure img { width: 100%; max-width: 1000px; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.9em; margin-top: 0.3em; }
details { margin: 0.4em 0; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
";

/// The page of a miss-ratio report: what was computed, the chart, the table.
pub(crate) fn mrc_index_html(report: &crate::mrc::MrcReport) -> String {
    use crate::charts::mrc::{MRC_CHART_DESCRIPTION, MRC_CHART_SIZE, MRC_CHART_TITLE};
    use crate::mrc::{MRC_CHART_STEM, MRC_FILE_NAME};
    let mut page = String::new();
    let title = html_escape(&report.trace);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>dmsim hits: miss-ratio curves of {title}</title>\n<style>\n{STYLE}</style>\n\
         </head>\n<body>\n<h1>dmsim hits: miss-ratio curves of {title}</h1>\n"
    );
    let _ = writeln!(
        page,
        "<p class=\"meta\">Exact flashcache counters, one cache per mode, policy and size, \
         each run over the whole trace with instant, dataless devices, one request at a time \
         (as <code>dmsim hits</code>). Data: <a href=\"{MRC_FILE_NAME}\">{MRC_FILE_NAME}</a>.</p>"
    );
    page.push_str("<h2 id=\"computed\">What was computed</h2>\n<table class=\"setup\">\n<tbody>\n");
    let computed_records = report.records - report.skipped_records.min(report.records);
    let rows = [
        ("trace", report.trace.clone()),
        (
            "records",
            format!(
                "{} ({computed_records} requests counted, {} skipped: no bio equivalent)",
                report.records, report.skipped_records
            ),
        ),
        ("cache sizes", report.sizes_text()),
        ("modes", report.modes.join(", ")),
        ("policies", report.policies.join(", ")),
        ("assoc", report.assoc.clone()),
        ("block size", format::binary_size(report.block_size_bytes)),
        ("SSD, disk", format!("{}, {}", report.ssd, report.hdd)),
        ("dmsim", report.dmsim_version.clone()),
    ];
    for (name, value) in rows {
        table_row(&mut page, &[name.to_string(), value], false);
    }
    for note in &report.notes {
        table_row(&mut page, &["note".to_string(), note.clone()], false);
    }
    page.push_str("</tbody>\n</table>\n");
    let (width, height) = MRC_CHART_SIZE;
    let _ = writeln!(
        page,
        "<h2 id=\"chart\">Chart</h2>\n<figure id=\"{MRC_CHART_STEM}\">\n<img src=\"{MRC_CHART_STEM}.svg\" \
         alt=\"{MRC_CHART_TITLE}\" width=\"{width}\" height=\"{height}\">\n<figcaption><strong>\
         {MRC_CHART_TITLE}.</strong> {} <a href=\"{MRC_CHART_STEM}.svg\">SVG</a> · \
         <a href=\"{MRC_CHART_STEM}.png\">PNG</a></figcaption>\n</figure>",
        html_escape(MRC_CHART_DESCRIPTION)
    );
    page.push_str("<h2 id=\"cells\">Hit ratios</h2>\n<table>\n<thead>\n");
    let (header, rows) = report.table();
    table_row(&mut page, &header, true);
    page.push_str("</thead>\n<tbody>\n");
    for row in &rows {
        table_row(&mut page, row, false);
    }
    page.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    page
}

/// The page for `report`.
pub(crate) fn index_html(report: &CompareReport) -> String {
    let mut page = String::new();
    let title = html_escape(&report.title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>dmsim compare: {title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>dmsim compare: {title}</h1>\n"
    );
    let grid: Vec<String> = report
        .axes
        .iter()
        .map(|axis| {
            format!(
                "{} ({})",
                html_escape(&axis.name),
                html_escape(&axis.values.join(", "))
            )
        })
        .collect();
    let _ = writeln!(
        page,
        "<p class=\"meta\">{} runs; grid: {}. Data: <a href=\"{COMPARE_FILE_NAME}\">{COMPARE_FILE_NAME}</a>. \
         Times are virtual (simulated) unless the runs say otherwise.</p>",
        report.runs.len(),
        if grid.is_empty() { "none".to_string() } else { grid.join(" × ") },
    );
    page.push_str(
        "<nav><a href=\"#simulated\">What was simulated</a><a href=\"#comparison\">Comparison</a>\
                   <a href=\"#latency\">Latency</a><a href=\"#charts\">Charts</a>\
                   <a href=\"#runs\">Runs</a></nav>\n",
    );

    setup_table(&mut page, report);
    comparison_table(&mut page, report);
    latency_tables(&mut page, report);

    page.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for kind in ChartKind::ALL {
        let stem = kind.file_stem();
        let (width, height) = charts::chart_size(kind, report.runs.len());
        let _ = writeln!(
            page,
            "<figure id=\"{stem}\">\n<img src=\"{stem}.svg\" alt=\"{}\" width=\"{width}\" height=\"{height}\">\n\
             <figcaption><strong>{}.</strong> {} <a href=\"{stem}.svg\">SVG</a> · <a href=\"{stem}.png\">PNG</a></figcaption>\n</figure>",
            html_escape(kind.title()),
            html_escape(kind.title()),
            html_escape(kind.description()),
        );
    }

    page.push_str("<h2 id=\"runs\">Runs</h2>\n");
    for run in &report.runs {
        let config = serde_json::to_string_pretty(&run.config).unwrap_or_default();
        let stats: Vec<String> = run
            .stats
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        let _ = writeln!(
            page,
            "<details>\n<summary>{}</summary>\n<pre>{}</pre>\n<pre>{}</pre>\n</details>",
            html_escape(&run.label),
            html_escape(&config),
            html_escape(&stats.join("\n")),
        );
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// What the runs were: input, devices, cache, pacing, seed and version, from their configs.
fn setup_table(page: &mut String, report: &CompareReport) {
    page.push_str(
        "<h2 id=\"simulated\">What was simulated</h2>\n<table class=\"setup\">\n<tbody>\n",
    );
    // The baselines are described in a row of their own: listing them among the cache runs
    // would mark every cache setting as differing between runs.
    let baselines = report.baseline_labels();
    let cache_runs: Vec<crate::RunReport> = report
        .runs
        .iter()
        .filter(|run| !baselines.contains(&run.label.as_str()))
        .cloned()
        .collect();
    let described = if cache_runs.is_empty() {
        &report.runs[..]
    } else {
        &cache_runs[..]
    };
    for (name, value) in crate::setup_summary::setup_rows(described) {
        table_row(page, &[name.to_string(), value], false);
    }
    if !baselines.is_empty() {
        let value = format!(
            "{}: the same input straight onto the disk (dm-linear), no cache",
            baselines.join(", ")
        );
        table_row(page, &["no-cache baseline".to_string(), value], false);
    }
    page.push_str("</tbody>\n</table>\n");
}

fn table_row(page: &mut String, cells: &[String], header: bool) {
    let tag = if header { "th" } else { "td" };
    page.push_str("<tr>");
    for (index, cell) in cells.iter().enumerate() {
        let class = if index == 0 { " class=\"label\"" } else { "" };
        let _ = write!(page, "<{tag}{class}>{}</{tag}>", html_escape(cell));
    }
    page.push_str("</tr>\n");
}

fn comparison_table(page: &mut String, report: &CompareReport) {
    let devices = report.device_names();
    let has_baseline = !report.speedups.is_empty();
    page.push_str("<h2 id=\"comparison\">Comparison</h2>\n");
    if has_baseline {
        page.push_str(
            "<p>Speed-up: the no-cache baseline's mean request latency (the same workload on \
             the bare disk, reads and writes together) divided by the run's; above 1× the \
             cache makes the average request faster. compare.json also holds each run's \
             throughput ratio.</p>\n",
        );
    }
    page.push_str("<table>\n<thead>\n");
    let mut header: Vec<String> = vec!["run".to_string()];
    header.extend(report.axes.iter().map(|axis| axis.name.clone()));
    if has_baseline {
        header.push(crate::compare::SPEEDUP_HEADER.to_string());
    }
    header.extend(
        [
            "read hit %",
            "write hit %",
            "dirty write hit %",
            "requests",
            "req/s",
            "MB/s",
        ]
        .map(String::from),
    );
    for name in &devices {
        header.push(format!("{name} reads"));
        header.push(format!("{name} writes"));
    }
    header.push("cleanings".to_string());
    table_row(page, &header, true);
    page.push_str("</thead>\n<tbody>\n");
    for run in &report.runs {
        let mut row = vec![run.label.clone()];
        row.extend(report.axes.iter().map(|axis| run.config_text(&axis.name)));
        if has_baseline {
            row.push(report.speedup_cell(run));
        }
        row.push(format::percent(run.read_hit_percent()));
        row.push(format::percent(run.write_hit_percent()));
        row.push(format::percent(run.dirty_write_hit_percent()));
        row.push(run.throughput.requests.to_string());
        row.push(format!("{:.1}", run.throughput.requests_per_s));
        row.push(format!("{:.2}", run.throughput.mb_per_s));
        for name in &devices {
            match run.device(name) {
                Some(device) => {
                    row.push(device.reads.to_string());
                    row.push(device.writes.to_string());
                }
                None => row.extend(["-".to_string(), "-".to_string()]),
            }
        }
        row.push(
            run.stat(stat::CLEANINGS)
                .map_or_else(|| "-".to_string(), |value| value.to_string()),
        );
        table_row(page, &row, false);
    }
    page.push_str("</tbody>\n</table>\n");
}

fn latency_cells(summary: &LatencySummary) -> Vec<String> {
    if summary.count == 0 {
        let mut cells = vec!["0".to_string()];
        cells.extend(std::iter::repeat_n("-".to_string(), 6));
        return cells;
    }
    let mut cells = vec![
        summary.count.to_string(),
        format::duration_ns(summary.mean_ns),
    ];
    cells.extend(
        [
            summary.p50_ns,
            summary.p90_ns,
            summary.p99_ns,
            summary.p999_ns,
            summary.max_ns,
        ]
        .iter()
        .map(|&value| format::duration_ns(value as f64)),
    );
    cells
}

fn latency_tables(page: &mut String, report: &CompareReport) {
    page.push_str("<h2 id=\"latency\">Latency percentiles</h2>\n");
    for (name, pick) in [
        (
            "Read",
            (|run| &run.latency.read) as fn(&crate::RunReport) -> &LatencySummary,
        ),
        ("Write", |run| &run.latency.write),
    ] {
        let _ = writeln!(page, "<table>\n<caption>{name} latency</caption>\n<thead>");
        let header: Vec<String> = ["run", "count", "mean", "p50", "p90", "p99", "p99.9", "max"]
            .map(String::from)
            .to_vec();
        table_row(page, &header, true);
        page.push_str("</thead>\n<tbody>\n");
        for run in &report.runs {
            let mut row = vec![run.label.clone()];
            row.extend(latency_cells(pick(run)));
            table_row(page, &row, false);
        }
        page.push_str("</tbody>\n</table>\n");
    }
}
