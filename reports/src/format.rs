//! Deterministic number formatting for tables, chart labels and summaries.
//!
//! Owns the text forms of durations, counts, byte sizes and percentages. Rust's float
//! formatting with a fixed precision is exact and platform-independent, so these strings are
//! the same on every machine. It deliberately does no locale handling (no thousands
//! separators) so outputs stay machine-readable.

/// A duration in ns with a unit chosen for readability and at most 3 significant digits,
/// e.g. `850 ns`, `1.5 µs`, `12.3 ms`, `4.2 s`.
pub fn duration_ns(value_ns: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns")];
    if value_ns == 0.0 || !value_ns.is_finite() {
        return "0 ns".to_string();
    }
    for (scale, unit) in UNITS {
        if value_ns.abs() >= scale {
            return format!("{} {unit}", significant(value_ns / scale));
        }
    }
    format!("{} ns", significant(value_ns))
}

/// A non-negative quantity with an SI suffix and at most 3 significant digits:
/// `950`, `1.2k`, `34.5M`, `7G`.
pub fn si(value: f64) -> String {
    const SUFFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    if !value.is_finite() {
        return "0".to_string();
    }
    for (scale, suffix) in SUFFIXES {
        if value.abs() >= scale {
            return format!("{}{suffix}", significant(value / scale));
        }
    }
    significant(value)
}

/// A byte count in MB (10^6 bytes), two decimals.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

/// A size in binary units with at most 3 significant digits: `512 B`, `4 KiB`, `16 MiB`,
/// `22.6 MiB`, `1 GiB`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scale = 1024u64;
    while unit + 1 < UNITS.len() && bytes >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    format!(
        "{} {}",
        significant(bytes as f64 / scale as f64),
        UNITS[unit]
    )
}

/// A percentage with two decimals, or `-` when undefined.
pub fn percent(value: Option<f64>) -> String {
    match value {
        Some(value) => format!("{value:.2}"),
        None => "-".to_string(),
    }
}

/// `value` with 3 significant digits (fewer when they are trailing zeros after the point).
pub fn significant(value: f64) -> String {
    let magnitude = value.abs();
    let text = if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    trim_fraction(text)
}

fn trim_fraction(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Escapes text for a markdown table cell (pipes and line breaks would break the row).
pub fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_pick_the_largest_whole_unit() {
        assert_eq!(binary_size(0), "0 B");
        assert_eq!(binary_size(1023), "1023 B");
        assert_eq!(binary_size(1024), "1 KiB");
        assert_eq!(binary_size(16 << 20), "16 MiB");
        assert_eq!(binary_size(1 << 30), "1 GiB");
        assert_eq!(binary_size((22 << 20) + (600 << 10)), "22.6 MiB");
        assert_eq!(binary_size(3 << 40), "3 TiB");
    }

    #[test]
    fn durations_pick_readable_units() {
        assert_eq!(duration_ns(0.0), "0 ns");
        assert_eq!(duration_ns(850.0), "850 ns");
        assert_eq!(duration_ns(1_000.0), "1 µs");
        assert_eq!(duration_ns(1_500.0), "1.5 µs");
        assert_eq!(duration_ns(12_345_678.0), "12.3 ms");
        assert_eq!(duration_ns(4_200_000_000.0), "4.2 s");
        assert_eq!(duration_ns(0.5), "0.5 ns");
    }

    #[test]
    fn si_and_percent() {
        assert_eq!(si(950.0), "950");
        assert_eq!(si(1_234.0), "1.23k");
        assert_eq!(si(34_500_000.0), "34.5M");
        assert_eq!(si(0.0), "0");
        assert_eq!(percent(Some(12.345)), "12.35");
        assert_eq!(percent(None), "-");
        assert_eq!(megabytes(1_500_000), "1.50");
    }

    #[test]
    fn escaping() {
        assert_eq!(html_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(markdown_cell("a|b\nc"), "a\\|b c");
    }
}
