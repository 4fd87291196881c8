//! Grouped bar charts: one group per metric, one bar per run inside each group.
//!
//! Owns the drawing of [`BarChart`]s (hit ratios, latency percentiles, device IO). Groups are
//! metrics so that runs keep their legend colour across all charts and long run labels never
//! sit under the x axis. It deliberately does not know which metrics exist: callers build the
//! chart data.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::TickAxis;
use super::style::{
    bar_elements, draw_legend, draw_no_data, page, run_style, text_error, DrawResult, SampleShape,
    AXIS_DESC_FONT_SIZE, FONT_FAMILY, TICK_FONT_SIZE,
};

/// Fraction of a group's width taken by its bars (the rest separates groups).
const GROUP_FILL: f64 = 0.8;

/// The data and labels of one grouped bar chart.
pub(crate) struct BarChart<'a> {
    pub(crate) title: &'a str,
    pub(crate) y_desc: &'a str,
    /// Group names along the x axis.
    pub(crate) groups: Vec<String>,
    /// Run labels, in legend order.
    pub(crate) runs: Vec<&'a str>,
    /// `values[run][group]`; `None` draws no bar (metric undefined for that run).
    pub(crate) values: Vec<Vec<Option<f64>>>,
    /// The value axis (linear from 0, or log for latencies).
    pub(crate) y_axis: TickAxis,
    pub(crate) y_format: &'a dyn Fn(f64) -> String,
    /// Shown instead of the bars when no run has any value.
    pub(crate) no_data_message: &'a str,
}

/// Draws `chart` on `root`.
pub(crate) fn draw_bar_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &BarChart<'_>,
) -> DrawResult {
    assert_eq!(
        chart.values.len(),
        chart.runs.len(),
        "one value row per run"
    );
    let page = page(root, chart.title)?;
    draw_legend(&page.legend, "Runs", &chart.runs, SampleShape::Bar)?;

    let group_count = chart.groups.len().max(1);
    let group_centres: Vec<f64> = (0..group_count).map(|g| g as f64 + 0.5).collect();
    let x_axis = TickAxis::linear_with_ticks(0.0, group_count as f64, group_centres, Vec::new());
    let y_axis = chart.y_axis.clone();
    let y_base = y_axis.lo();

    let mut context = ChartBuilder::on(&page.plot)
        .margin_top(10)
        .margin_left(24)
        .margin_right(16)
        .x_label_area_size(48)
        .y_label_area_size(84)
        .build_cartesian_2d(x_axis, y_axis)
        .map_err(text_error)?;
    let groups = &chart.groups;
    let x_format = |value: &f64| {
        let index = value.floor().max(0.0) as usize;
        groups.get(index).cloned().unwrap_or_default()
    };
    let y_format = |value: &f64| (chart.y_format)(*value);
    context
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(chart.y_desc)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_labels(group_count)
        .axis_desc_style((FONT_FAMILY, AXIS_DESC_FONT_SIZE))
        .label_style((FONT_FAMILY, TICK_FONT_SIZE))
        .bold_line_style(RGBColor(0xCC, 0xCC, 0xCC))
        .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
        .draw()
        .map_err(text_error)?;

    let any_value = chart.values.iter().flatten().any(Option::is_some);
    if !any_value {
        return draw_no_data(&page.plot, chart.no_data_message);
    }

    let run_count = chart.runs.len().max(1) as f64;
    let bar_width = GROUP_FILL / run_count;
    let first_offset = (1.0 - GROUP_FILL) / 2.0;
    for (run_index, row) in chart.values.iter().enumerate() {
        let style = run_style(run_index);
        for (group_index, value) in row.iter().enumerate() {
            let Some(value) = value else { continue };
            let left = group_index as f64 + first_offset + bar_width * run_index as f64;
            // A sliver of white between adjacent bars keeps them apart.
            let right = left + bar_width * 0.92;
            let top = value.max(y_base);
            context
                .draw_series(bar_elements([(left, y_base), (right, top)], style))
                .map_err(text_error)?;
        }
    }
    Ok(())
}
