//! The miss-ratio curve chart: hit ratio against cache size, one line per mode and policy.
//!
//! Owns the translation of an [`MrcReport`] into line chart data: sizes on a log axis of
//! powers of two, a dot at every measured size (the lines between dots join measurements,
//! they are not measured), the y axis from 0 to just above the highest ratio. Drawing is
//! `lines`', look `style`'s; it writes no files.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::TickAxis;
use super::lines::{draw_line_chart, Layout, LineChart};
use super::style::{self, DrawResult, CHART_SIZE};
use super::{percent_label, HEADROOM};
use crate::format;
use crate::mrc::MrcReport;

/// The chart's title.
pub(crate) const MRC_CHART_TITLE: &str = "Hit ratio against cache size";

/// One sentence saying what the chart shows, for its caption.
pub(crate) const MRC_CHART_DESCRIPTION: &str = "Share of all requests' block lookups (reads \
    and writes) that hit a cached block, per cache size (log scale); a dot marks each \
    measured size, the lines between dots only join them.";

/// Pixel size of the chart.
pub(crate) const MRC_CHART_SIZE: (u32, u32) = CHART_SIZE;

/// Renders the chart as an SVG document.
pub(crate) fn render_mrc_svg(report: &MrcReport) -> Result<String, String> {
    style::ensure_font_registered().map_err(|error| error.to_string())?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, MRC_CHART_SIZE).into_drawing_area();
        draw_mrc(&root, report)?;
        root.present().map_err(style::text_error)?;
    }
    Ok(svg)
}

/// Renders the chart as a PNG file at `path` (whose extension must be `.png`).
pub(crate) fn render_mrc_png(report: &MrcReport, path: &Path) -> Result<(), String> {
    style::ensure_font_registered().map_err(|error| error.to_string())?;
    let root = BitMapBackend::new(path, MRC_CHART_SIZE).into_drawing_area();
    draw_mrc(&root, report)?;
    root.present().map_err(style::text_error)
}

fn draw_mrc<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, report: &MrcReport) -> DrawResult {
    let curves = report.curve_labels();
    let series: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|label| {
            report
                .cells
                .iter()
                .filter(|cell| cell.label() == *label)
                .filter_map(|cell| Some((cell.cache_size_bytes as f64, cell.hit_ratio? * 100.0)))
                .collect()
        })
        .collect();
    let y_max = series.iter().flatten().map(|&(_, y)| y).fold(0.0, f64::max);
    let min = report.sizes_bytes.first().copied().unwrap_or(1);
    let max = report.sizes_bytes.last().copied().unwrap_or(min);
    let size_label = |bytes: f64| format::binary_size(bytes as u64);
    let labels: Vec<&str> = curves.iter().map(String::as_str).collect();
    let chart = LineChart {
        title: MRC_CHART_TITLE,
        x_desc: "cache size (log scale)",
        y_desc: "hit ratio (% of lookups)",
        x_axis: TickAxis::log_powers_of_two(min, max),
        y_axis: TickAxis::linear_from_zero((y_max * HEADROOM).min(100.0)),
        x_format: &size_label,
        y_format: &percent_label,
        runs: labels,
        series,
        partial_last: Vec::new(),
        thresholds: Vec::new(),
        threshold_name: "",
        layout: Layout::Overlay,
        no_data_message: "no cell counted a read or a write",
        empty_labels: Vec::new(),
        legend_title: "mode/policy",
        markers: true,
    };
    draw_line_chart(root, &chart)
}
