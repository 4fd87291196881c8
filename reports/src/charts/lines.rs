//! Line charts: one line per run over a shared x axis (latency CDFs, values over time), drawn
//! overlaid, or as small multiples (a panel per run, the other runs faint behind it) when an
//! overlay of many runs would be a tangle.
//!
//! Owns the drawing of [`LineChart`]s in the runs' styles, the mark of a partial last bucket
//! and threshold lines. It deliberately does not compute the series: callers turn reports
//! into points.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::TickAxis;
use super::style::{
    draw_legend, draw_no_data, page, page_without_legend, run_style, shorten, text_error,
    DrawResult, RunStyle, SampleShape, Variant, AXIS_DESC_FONT_SIZE, FONT_FAMILY, TICK_FONT_SIZE,
};

/// Line width of data series, in pixels.
const LINE_WIDTH: u32 = 2;
/// More runs than this are drawn as small multiples where the chart allows it.
pub(crate) const OVERLAY_RUNS_MAX: usize = 4;
/// Panels per row of small multiples.
pub(crate) const SMALL_MULTIPLE_COLUMNS: usize = 3;
/// Height of the line under the title that names the axes of small multiples.
const AXES_NOTE_HEIGHT: u32 = 26;
/// The other runs behind a panel's run: context, not data to read.
const CONTEXT_GREY: RGBColor = RGBColor(0xD8, 0xD8, 0xD8);
const THRESHOLD_GREY: RGBColor = RGBColor(0x55, 0x55, 0x55);
const SMALL_TICK_FONT_SIZE: f64 = 12.0;
const PANEL_TITLE_FONT_SIZE: f64 = 15.0;

/// How runs share the plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Every run's line on one plot, with a legend.
    Overlay,
    /// Overlaid up to [`OVERLAY_RUNS_MAX`] runs, small multiples above.
    SmallMultiplesForMany,
}

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
    /// `partial_last[run]`: the run's last point stands for a shorter interval than the
    /// others (a run's last time bucket); it is drawn as a hollow circle. Empty: none.
    pub(crate) partial_last: Vec<bool>,
    /// `thresholds[run]`: a y value drawn as a labelled dashed line (e.g. a dirty threshold).
    /// Empty: none.
    pub(crate) thresholds: Vec<Option<f64>>,
    /// The label of threshold lines, e.g. "dirty_thresh_pct".
    pub(crate) threshold_name: &'a str,
    pub(crate) layout: Layout,
    /// Shown instead of lines when no run has any point.
    pub(crate) no_data_message: &'a str,
    /// Heading of the legend ("Runs", "Curves").
    pub(crate) legend_title: &'a str,
    /// Mark every point with a dot (measured points joined by lines, e.g. cache sizes).
    pub(crate) markers: bool,
    /// `empty_labels[run]`: what an empty panel of that run says instead of "no data" (e.g.
    /// "no cache" for a cache metric of the no-cache baseline). Empty: "no data" for all.
    pub(crate) empty_labels: Vec<Option<&'a str>>,
}

impl LineChart<'_> {
    fn small_multiples(&self) -> bool {
        self.layout == Layout::SmallMultiplesForMany && self.runs.len() > OVERLAY_RUNS_MAX
    }

    fn partial_last(&self, run: usize) -> bool {
        self.partial_last.get(run).copied().unwrap_or(false)
    }

    fn threshold(&self, run: usize) -> Option<f64> {
        self.thresholds.get(run).copied().flatten()
    }

    fn empty_label(&self, run: usize) -> &str {
        self.empty_labels
            .get(run)
            .copied()
            .flatten()
            .unwrap_or("no data")
    }
}

/// Pixel size of a line chart of `runs` runs in `layout`: small multiples grow downwards so
/// each panel keeps a readable height.
pub(crate) fn line_chart_size(layout: Layout, runs: usize, base: (u32, u32)) -> (u32, u32) {
    if layout == Layout::SmallMultiplesForMany && runs > OVERLAY_RUNS_MAX {
        let rows = runs.div_ceil(SMALL_MULTIPLE_COLUMNS) as u32;
        (base.0, 56 + AXES_NOTE_HEIGHT + rows * 230)
    } else {
        base
    }
}

/// Draws `chart` on `root`.
pub(crate) fn draw_line_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
) -> DrawResult {
    assert_eq!(chart.series.len(), chart.runs.len(), "one series per run");
    if chart.small_multiples() {
        return draw_small_multiples(root, chart);
    }
    let page = page(root, chart.title)?;
    draw_legend(
        &page.legend,
        chart.legend_title,
        &chart.runs,
        SampleShape::Line,
    )?;

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

    let mut thresholds: Vec<f64> = (0..chart.runs.len())
        .filter_map(|run| chart.threshold(run))
        .collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    for value in thresholds {
        draw_threshold(&mut context, chart, value)?;
    }
    // Draw later runs first so the first runs (usually the baselines) stay on top.
    for (run_index, points) in chart.series.iter().enumerate().rev() {
        draw_run(
            &mut context,
            points,
            run_style(run_index),
            chart.partial_last(run_index),
        )?;
        if chart.markers {
            draw_markers(&mut context, points, run_style(run_index))?;
        }
    }
    Ok(())
}

type Context<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickAxis, TickAxis>>;

/// One run's line in its style, a lone point as a dot, a partial last point hollow.
fn draw_run<DB: DrawingBackend>(
    context: &mut Context<'_, DB>,
    points: &[(f64, f64)],
    style: RunStyle,
    partial_last: bool,
) -> DrawResult {
    if points.is_empty() {
        return Ok(());
    }
    if let [only] = points {
        // A single point draws no line; mark it so the run is still visible.
        return context
            .draw_series(std::iter::once(Circle::new(*only, 4, style.color.filled())))
            .map(|_| ())
            .map_err(text_error);
    }
    let stroke = style.color.stroke_width(LINE_WIDTH);
    let line = points.iter().copied();
    match style.variant {
        // One path per segment: a thick polyline's miter join at a sharp spike (a burst of
        // completions between idle buckets) is drawn by the bitmap backend without a miter
        // limit and shoots far past the axis; separate segments have no joins.
        Variant::Solid => context
            .draw_series(
                points
                    .windows(2)
                    .map(|pair| PathElement::new(vec![pair[0], pair[1]], stroke)),
            )
            .map(|_| ()),
        Variant::Dashed => context
            .draw_series(DashedLineSeries::new(line, 10, 6, stroke))
            .map(|_| ()),
        Variant::Dotted => context
            .draw_series(DashedLineSeries::new(line, 3, 5, stroke))
            .map(|_| ()),
    }
    .map_err(text_error)?;
    if partial_last {
        let last = points[points.len() - 1];
        context
            .draw_series([
                Circle::new(last, 5, WHITE.filled()),
                Circle::new(last, 5, style.color.stroke_width(2)),
            ])
            .map_err(text_error)?;
    }
    Ok(())
}

/// A dot at each of `points` in the run's colour, ringed in white so overlapping curves stay
/// apart.
fn draw_markers<DB: DrawingBackend>(
    context: &mut Context<'_, DB>,
    points: &[(f64, f64)],
    style: RunStyle,
) -> DrawResult {
    context
        .draw_series(points.iter().flat_map(|&point| {
            [
                Circle::new(point, 5, WHITE.filled()),
                Circle::new(point, 4, style.color.filled()),
            ]
        }))
        .map(|_| ())
        .map_err(text_error)
}

/// A dashed horizontal line at `value` across the plot, labelled at its right end.
fn draw_threshold<DB: DrawingBackend>(
    context: &mut Context<'_, DB>,
    chart: &LineChart<'_>,
    value: f64,
) -> DrawResult {
    let (x_lo, x_hi) = (chart.x_axis.lo(), chart.x_axis.hi());
    let stroke = THRESHOLD_GREY.stroke_width(1);
    context
        .draw_series(DashedLineSeries::new(
            [(x_lo, value), (x_hi, value)],
            6,
            4,
            stroke,
        ))
        .map_err(text_error)?;
    let label = format!("{} {}", chart.threshold_name, (chart.y_format)(value));
    let style = TextStyle::from((FONT_FAMILY, SMALL_TICK_FONT_SIZE).into_font())
        .color(&THRESHOLD_GREY)
        .pos(Pos::new(HPos::Right, VPos::Bottom));
    let (x, y) = context.backend_coord(&(x_hi, value));
    context
        .plotting_area()
        .strip_coord_spec()
        .draw_text(&label, &style, {
            let (left, top) = context.plotting_area().get_base_pixel();
            (x - left - 4, y - top - 2)
        })
        .map_err(text_error)
}

/// A panel per run on shared axes: the run in its style over the other runs in grey.
fn draw_small_multiples<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
) -> DrawResult {
    let area = page_without_legend(root, chart.title)?;
    let (note_area, grid) = area.split_vertically(AXES_NOTE_HEIGHT);
    let (width, _) = note_area.dim_in_pixel();
    let note_style = TextStyle::from((FONT_FAMILY, TICK_FONT_SIZE).into_font())
        .color(&RGBColor(0x33, 0x33, 0x33))
        .pos(Pos::new(HPos::Center, VPos::Center));
    let mut note = format!(
        "one panel per run, the other runs in grey behind it · x: {} · y: {}",
        chart.x_desc, chart.y_desc
    );
    if chart.partial_last.iter().any(|&partial| partial) {
        note += " · ○ a last bucket shorter than the others";
    }
    note_area
        .draw_text(
            &note,
            &note_style,
            (width as i32 / 2, AXES_NOTE_HEIGHT as i32 / 2),
        )
        .map_err(text_error)?;

    let rows = chart.runs.len().div_ceil(SMALL_MULTIPLE_COLUMNS);
    let panels = grid.split_evenly((rows, SMALL_MULTIPLE_COLUMNS));
    let x_format = |value: &f64| (chart.x_format)(*value);
    let y_format = |value: &f64| (chart.y_format)(*value);
    for (run, panel) in panels.iter().enumerate().take(chart.runs.len()) {
        let (panel_width, _) = panel.dim_in_pixel();
        let max_chars = (f64::from(panel_width) / (PANEL_TITLE_FONT_SIZE * 0.62)) as usize;
        let mut context = ChartBuilder::on(panel)
            .caption(
                shorten(chart.runs[run], max_chars),
                (FONT_FAMILY, PANEL_TITLE_FONT_SIZE),
            )
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(58)
            .build_cartesian_2d(chart.x_axis.clone(), chart.y_axis.clone())
            .map_err(text_error)?;
        context
            .configure_mesh()
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style((FONT_FAMILY, SMALL_TICK_FONT_SIZE))
            .x_labels(5)
            .y_labels(5)
            .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
            .light_line_style(RGBColor(0xF2, 0xF2, 0xF2))
            .draw()
            .map_err(text_error)?;
        for (other, points) in chart.series.iter().enumerate() {
            if other != run && points.len() > 1 {
                context
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        CONTEXT_GREY.stroke_width(1),
                    ))
                    .map_err(text_error)?;
            }
        }
        if let Some(value) = chart.threshold(run) {
            draw_threshold(&mut context, chart, value)?;
        }
        if chart.series[run].is_empty() {
            draw_no_data(panel, chart.empty_label(run))?;
        }
        draw_run(
            &mut context,
            &chart.series[run],
            run_style(run),
            chart.partial_last(run),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::style::PALETTE;

    #[test]
    fn many_runs_grow_the_chart_downwards() {
        let base = (1000, 600);
        assert_eq!(line_chart_size(Layout::Overlay, 9, base), base);
        assert_eq!(
            line_chart_size(Layout::SmallMultiplesForMany, 4, base),
            base
        );
        assert_eq!(
            line_chart_size(Layout::SmallMultiplesForMany, 9, base),
            (1000, 56 + 26 + 3 * 230)
        );
    }

    /// A burst between idle buckets (0, 80, 0, 40, 0) is a spike with sharp turns: drawn as
    /// one thick polyline, the bitmap backend's unlimited miter joins shot far below the x
    /// axis (seen in the MSR sample's throughput chart). No pixel of the run's colour may lie
    /// below the plot, in any line variant.
    #[test]
    fn a_spiky_run_stays_inside_its_plot() {
        for style in [
            run_style(0),
            run_style(PALETTE.len()),
            run_style(2 * PALETTE.len()),
        ] {
            let (lowest_row, plot_bottom) = lowest_row_of_spiky_run(style);
            assert!(
                lowest_row <= plot_bottom + LINE_WIDTH,
                "{:?}: the line reaches row {lowest_row}, the plot ends at {plot_bottom}",
                style.variant
            );
        }
    }

    /// Draws 0..=300 buckets, idle but for 80 at bucket 150 and 40 at 152, about one pixel
    /// per bucket so the turns at the peaks are very sharp; returns the lowest pixel row of
    /// the run's colour and the plot's bottom row.
    fn lowest_row_of_spiky_run(style: RunStyle) -> (u32, u32) {
        const WIDTH: u32 = 300;
        const HEIGHT: u32 = 300;
        const BELOW_PLOT_PX: u32 = 100;
        const BUCKETS: u32 = 300;
        let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
            let mut context = ChartBuilder::on(&root)
                .x_label_area_size(BELOW_PLOT_PX)
                .build_cartesian_2d(
                    TickAxis::linear_exact(BUCKETS as f64),
                    TickAxis::linear_from_zero(100.0),
                )
                .unwrap();
            let spiky: Vec<(f64, f64)> = (0..=BUCKETS)
                .map(|bucket| {
                    let value = match bucket {
                        150 => 80.0,
                        152 => 40.0,
                        _ => 0.0,
                    };
                    (bucket as f64, value)
                })
                .collect();
            draw_run(&mut context, &spiky, style, false).unwrap();
            root.present().unwrap();
        }
        let colour = [style.color.0, style.color.1, style.color.2];
        let lowest_row = pixels
            .chunks(3)
            .enumerate()
            .filter(|(_, pixel)| *pixel == colour)
            .map(|(index, _)| index as u32 / WIDTH)
            .max()
            .expect("the run is drawn");
        (lowest_row, HEIGHT - BELOW_PLOT_PX)
    }
}
