//! Look of every chart: size, fonts, the per-run palette, the page layout and the legend.
//!
//! Owns what makes the charts consistent with each other: run `i` has the same colour and
//! line/bar style in every chart, every chart has the same title strip and legend panel, and
//! text is drawn with the bundled DejaVu Sans so PNGs do not depend on installed fonts. It
//! deliberately holds no chart-specific logic.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::error::ReportError;

/// Chart size in pixels (width, height).
pub(crate) const CHART_SIZE: (u32, u32) = (1000, 600);
/// Height of the title strip at the top of every chart.
const TITLE_HEIGHT: u32 = 56;
/// Width of the legend panel at the right of every chart.
const LEGEND_WIDTH: u32 = 250;
/// Height of one legend row, and of one row in a compact legend (many runs).
const LEGEND_ROW_HEIGHT: i32 = 22;
const LEGEND_COMPACT_ROW_HEIGHT: i32 = 16;

/// The font family every chart uses; registered to the bundled DejaVu Sans for bitmaps and
/// left to the viewer's sans-serif in SVGs.
pub(crate) const FONT_FAMILY: &str = "sans-serif";
pub(crate) const TITLE_FONT_SIZE: f64 = 26.0;
pub(crate) const AXIS_DESC_FONT_SIZE: f64 = 18.0;
pub(crate) const TICK_FONT_SIZE: f64 = 15.0;
pub(crate) const LEGEND_FONT_SIZE: f64 = 15.0;
const LEGEND_COMPACT_FONT_SIZE: f64 = 12.0;

static BUNDLED_FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process.
pub(crate) fn ensure_font_registered() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT_FAMILY, FontStyle::Normal, BUNDLED_FONT).is_ok()
            && register_font(FONT_FAMILY, FontStyle::Bold, BUNDLED_FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}

/// Okabe–Ito's colour-blind-safe palette, yellow last (weakest on white).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// How lines and bars of one run are drawn once colours repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Solid line, filled bar.
    Solid,
    /// Dashed line, outlined bar with a pale fill.
    Dashed,
    /// Dotted (short-dashed) line, half-transparent bar.
    Dotted,
}

/// The drawing style of run `index`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunStyle {
    pub(crate) color: RGBColor,
    pub(crate) variant: Variant,
}

/// Run `index`'s style: colours cycle through the palette, then the line/bar variant changes.
pub(crate) fn run_style(index: usize) -> RunStyle {
    let variant = match (index / PALETTE.len()) % 3 {
        0 => Variant::Solid,
        1 => Variant::Dashed,
        _ => Variant::Dotted,
    };
    RunStyle {
        color: PALETTE[index % PALETTE.len()],
        variant,
    }
}

/// The plot and legend areas of a chart page (below its title strip).
pub(crate) struct Page<DB: DrawingBackend> {
    pub(crate) plot: DrawingArea<DB, Shift>,
    pub(crate) legend: DrawingArea<DB, Shift>,
}

pub(crate) type DrawResult = Result<(), String>;

/// Converts any plotters error to text (backend error types differ per backend).
pub(crate) fn text_error<E: std::fmt::Display>(error: E) -> String {
    error.to_string()
}

/// Clears `root` to white, draws the title strip, and splits the rest into plot and legend.
pub(crate) fn page<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<Page<DB>, String> {
    let rest = page_without_legend(root, title)?;
    let (plot_width, _) = rest.dim_in_pixel();
    let (plot, legend) = rest.split_horizontally(plot_width.saturating_sub(LEGEND_WIDTH));
    Ok(Page { plot, legend })
}

/// Clears `root` to white, draws the title strip, and returns the rest (charts that label
/// their runs themselves, without a legend panel).
pub(crate) fn page_without_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(text_error)?;
    let (title_area, rest) = root.split_vertically(TITLE_HEIGHT);
    let (width, _) = title_area.dim_in_pixel();
    let title_style = TextStyle::from((FONT_FAMILY, TITLE_FONT_SIZE).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    title_area
        .draw_text(
            title,
            &title_style,
            (width as i32 / 2, TITLE_HEIGHT as i32 / 2 + 2),
        )
        .map_err(text_error)?;
    Ok(rest)
}

/// How a legend sample is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SampleShape {
    Line,
    Bar,
}

/// Draws the run legend: one entry per label, in the runs' styles. A label too long for the
/// panel wraps onto more lines (after a `/`, `,` or space where it can) instead of being cut;
/// entries that do not fit are summarised as "… and N more" (the tables name every run).
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    header: &str,
    labels: &[&str],
    shape: SampleShape,
) -> DrawResult {
    let (width, height) = area.dim_in_pixel();
    let header_style = TextStyle::from((FONT_FAMILY, AXIS_DESC_FONT_SIZE).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let top = 24;
    area.draw_text(header, &header_style, (12, top))
        .map_err(text_error)?;
    let first_row_y = top + LEGEND_ROW_HEIGHT + 4;
    let sample_x = 12;
    let text_x = sample_x + 38;
    // DejaVu Sans averages about 0.55 em per character; a viewer's sans-serif in an SVG may
    // be wider, so leave a margin.
    let chars_fitting =
        |font_size: f64| ((width as i32 - text_x - 8) as f64 / (font_size * 0.62)) as usize;
    let layout = |font_size: f64| -> Vec<Vec<String>> {
        labels
            .iter()
            .map(|label| wrap(label, chars_fitting(font_size)))
            .collect()
    };
    let rows_fitting =
        |row_height: i32| ((height as i32 - first_row_y - 8) / row_height).max(1) as usize;
    let total_rows = |lines: &[Vec<String>]| lines.iter().map(Vec::len).sum::<usize>();
    // Switch to smaller rows before hiding any run.
    let mut row_height = LEGEND_ROW_HEIGHT;
    let mut font_size = LEGEND_FONT_SIZE;
    let mut lines = layout(font_size);
    if total_rows(&lines) > rows_fitting(row_height) {
        row_height = LEGEND_COMPACT_ROW_HEIGHT;
        font_size = LEGEND_COMPACT_FONT_SIZE;
        lines = layout(font_size);
    }
    let rows_available = rows_fitting(row_height);
    let text_style = TextStyle::from((FONT_FAMILY, font_size).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut row = 0usize;
    for (index, label_lines) in lines.iter().enumerate() {
        let rows_left_after = labels.len() - index - 1;
        // Keep one row for "… and N more" unless this is the last entry.
        let reserve = usize::from(rows_left_after > 0);
        if row + label_lines.len() + reserve > rows_available && rows_left_after > 0
            || row + label_lines.len() > rows_available
        {
            let y = first_row_y + row as i32 * row_height;
            let hidden = labels.len() - index;
            area.draw_text(&format!("… and {hidden} more"), &text_style, (text_x, y))
                .map_err(text_error)?;
            return Ok(());
        }
        let y = first_row_y + row as i32 * row_height;
        let style = run_style(index);
        match shape {
            SampleShape::Line => draw_line_sample(area, style, (sample_x, y))?,
            SampleShape::Bar => draw_bar_sample(area, style, (sample_x, y), row_height)?,
        }
        for (line_index, line) in label_lines.iter().enumerate() {
            let indent = if line_index == 0 { 0 } else { 10 };
            let line_y = first_row_y + (row + line_index) as i32 * row_height;
            area.draw_text(line, &text_style, (text_x + indent, line_y))
                .map_err(text_error)?;
        }
        row += label_lines.len();
    }
    Ok(())
}

/// `label` in lines of at most `max_chars` characters (continuation lines one less, as they
/// are indented), broken after the last `/`, `,` or space that fits, else mid-word.
pub(crate) fn wrap(label: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(4);
    let mut lines = Vec::new();
    let mut rest: Vec<char> = label.chars().collect();
    let mut limit = max_chars;
    while rest.len() > limit {
        let cut = rest[..limit]
            .iter()
            .rposition(|c| matches!(c, '/' | ',' | ' '))
            .map(|i| i + 1)
            .filter(|&i| i > limit / 3)
            .unwrap_or(limit);
        lines.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        rest.drain(..cut);
        limit = max_chars - 1;
    }
    lines.push(rest.into_iter().collect());
    lines
}

fn draw_line_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: RunStyle,
    (x, y): (i32, i32),
) -> DrawResult {
    let stroke = style.color.stroke_width(3);
    let segments: Vec<(i32, i32)> = match style.variant {
        Variant::Solid => vec![(0, 30)],
        Variant::Dashed => vec![(0, 9), (14, 23)],
        Variant::Dotted => vec![(0, 3), (8, 11), (16, 19), (24, 27)],
    };
    for (start, end) in segments {
        area.draw(&PathElement::new(
            vec![(x + start, y), (x + end, y)],
            stroke,
        ))
        .map_err(text_error)?;
    }
    Ok(())
}

fn draw_bar_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: RunStyle,
    (x, y): (i32, i32),
    row_height: i32,
) -> DrawResult {
    let half = row_height * 3 / 8;
    let corners = [(x + 4, y - half), (x + 26, y + half)];
    for element in bar_elements(corners, style) {
        area.draw(&element).map_err(text_error)?;
    }
    Ok(())
}

/// The rectangles that draw one bar between two corners in `style` (fill, then outline).
pub(crate) fn bar_elements<C: Clone>(corners: [C; 2], style: RunStyle) -> Vec<Rectangle<C>> {
    let color = style.color;
    match style.variant {
        Variant::Solid => vec![Rectangle::new(corners, color.filled())],
        Variant::Dashed => vec![
            Rectangle::new(corners.clone(), color.mix(0.2).filled()),
            Rectangle::new(corners, color.stroke_width(2)),
        ],
        Variant::Dotted => vec![
            Rectangle::new(corners.clone(), color.mix(0.5).filled()),
            Rectangle::new(corners, color.stroke_width(1)),
        ],
    }
}

/// `label` cut to at most `max_chars` characters, ending in "…" when cut.
pub(crate) fn shorten(label: &str, max_chars: usize) -> String {
    let max_chars = max_chars.max(2);
    if label.chars().count() <= max_chars {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max_chars - 1).collect();
        short.push('…');
        short
    }
}

/// Draws `message` centred in `area` (for charts without data).
pub(crate) fn draw_no_data<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    message: &str,
) -> DrawResult {
    let (width, height) = area.dim_in_pixel();
    let style = TextStyle::from((FONT_FAMILY, AXIS_DESC_FONT_SIZE).into_font())
        .color(&RGBColor(0x55, 0x55, 0x55))
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(message, &style, (width as i32 / 2, height as i32 / 2))
        .map_err(text_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_cycle_colours_then_variants() {
        assert_eq!(run_style(0).color, run_style(8).color);
        assert_eq!(run_style(0).variant, Variant::Solid);
        assert_eq!(run_style(8).variant, Variant::Dashed);
        assert_eq!(run_style(16).variant, Variant::Dotted);
        assert_ne!(run_style(0).color, run_style(1).color);
    }

    #[test]
    fn long_labels_wrap_instead_of_being_cut() {
        assert_eq!(wrap("writeback/fifo", 22), vec!["writeback/fifo"]);
        assert_eq!(
            wrap("writethrough/lru-strict", 22),
            vec!["writethrough/", "lru-strict"]
        );
        assert_eq!(
            wrap("writeback/lru/dirty_thresh_pct=20", 12),
            vec!["writeback/", "lru/", "dirty_thres", "h_pct=20"]
        );
        let long = "a".repeat(30);
        let lines = wrap(&long, 12);
        assert_eq!(lines.concat(), long);
        assert!(lines.iter().all(|line| line.chars().count() <= 12));
    }

    #[test]
    fn shorten_adds_ellipsis() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
    }
}
