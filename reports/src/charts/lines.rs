//! Line charts: one line per run over a shared x axis (latency CDFs, values over time).
//!
//! Owns the drawing of [`LineChart`]s in the runs' styles. It deliberately does not compute
//! the series: callers turn reports into points.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::TickAxis;
use super::style::{
    draw_legend, draw_no_data, page, run_style, text_error, DrawResult, SampleShape, Variant,
    AXIS_DESC_FONT_SIZE, FONT_FAMILY, TICK_FONT_SIZE,
};

/// Line width of data series, in pixels.
const LINE_WIDTH: u32 = 2;

/// The data and labels of one line chart.
pub(crate) struct LineChart<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_desc: &'a str,
    pub(crate) y_desc: &'a str,
    pub(crate) x_axis: TickAxis,
    pub(crate) y_axis: TickAxis,
    pub(crate) x_format: &'a dyn Fn(f64) -> String,
    pub(crate) y_format: &'a dyn Fn(f64) -> String,
    /// Run labels, in legend order.
    pub(crate) runs: Vec<&'a str>,
    /// `series[run]`: the run's points in x order; empty draws nothing for that run.
    pub(crate) series: Vec<Vec<(f64, f64)>>,
    /// Shown instead of lines when no run has any point.
    pub(crate) no_data_message: &'a str,
}

/// Draws `chart` on `root`.
pub(crate) fn draw_line_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
) -> DrawResult {
    assert_eq!(chart.series.len(), chart.runs.len(), "one series per run");
    let page = page(root, chart.title)?;
    draw_legend(&page.legend, &chart.runs, SampleShape::Line)?;

    let mut context = ChartBuilder::on(&page.plot)
        .margin_top(10)
        .margin_left(24)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(chart.x_axis.clone(), chart.y_axis.clone())
        .map_err(text_error)?;
    let x_format = |value: &f64| (chart.x_format)(*value);
    let y_format = |value: &f64| (chart.y_format)(*value);
    context
        .configure_mesh()
        .x_desc(chart.x_desc)
        .y_desc(chart.y_desc)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .axis_desc_style((FONT_FAMILY, AXIS_DESC_FONT_SIZE))
        .label_style((FONT_FAMILY, TICK_FONT_SIZE))
        .bold_line_style(RGBColor(0xCC, 0xCC, 0xCC))
        .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
        .draw()
        .map_err(text_error)?;

    if chart.series.iter().all(Vec::is_empty) {
        return draw_no_data(&page.plot, chart.no_data_message);
    }

    // Draw later runs first so the first runs (usually the baselines) stay on top.
    for (run_index, points) in chart.series.iter().enumerate().rev() {
        if points.is_empty() {
            continue;
        }
        let style = run_style(run_index);
        if let [only] = points.as_slice() {
            // A single point draws no line; mark it so the run is still visible.
            context
                .draw_series(std::iter::once(Circle::new(*only, 4, style.color.filled())))
                .map_err(text_error)?;
            continue;
        }
        let stroke = style.color.stroke_width(LINE_WIDTH);
        let points = points.iter().copied();
        match style.variant {
            Variant::Solid => context
                .draw_series(LineSeries::new(points, stroke))
                .map(|_| ()),
            Variant::Dashed => context
                .draw_series(DashedLineSeries::new(points, 10, 6, stroke))
                .map(|_| ()),
            Variant::Dotted => context
                .draw_series(DashedLineSeries::new(points, 3, 5, stroke))
                .map(|_| ()),
        }
        .map_err(text_error)?;
    }
    Ok(())
}
