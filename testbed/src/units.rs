//! Parsing of user-facing quantities: sizes (`4k`, `1MiB`, `512`), lists (`1,4,32`) and
//! durations (`10s`, `250ms`).

/// Bytes in a size such as `4096`, `4k`, `4K`, `4KiB`, `1m`, `2G` (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size (examples: 4096, 4k, 1MiB)"))?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "'{text}': unknown size suffix '{suffix}' (use k, m, g or t)"
            ))
        }
    };
    value
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A size that must be a positive multiple of 512 bytes.
pub fn parse_io_size(text: &str) -> Result<u32, String> {
    let bytes = parse_size(text)?;
    if bytes == 0 || !bytes.is_multiple_of(512) {
        return Err(format!("'{text}' must be a positive multiple of 512 bytes"));
    }
    u32::try_from(bytes).map_err(|_| format!("'{text}' is larger than 4 GiB"))
}

/// A comma-separated list of positive integers, e.g. queue depths `1,4,32`.
pub fn parse_depths(text: &str) -> Result<Vec<u32>, String> {
    text.split(',')
        .map(|part| match part.trim().parse::<u32>() {
            Ok(n) if (1..=65_536).contains(&n) => Ok(n),
            _ => Err(format!(
                "'{part}' in '{text}' is not a queue depth (1..65536)"
            )),
        })
        .collect()
}

/// Nanoseconds in a duration such as `10s`, `250ms`, `50us`, `1m`.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (examples: 10s, 250ms)"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" | "" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (ns, us, ms, s, m, h)"
            ))
        }
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("'{text}' must be positive"));
    }
    Ok((value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("4q").unwrap_err().contains("suffix"));
        assert!(parse_io_size("100").unwrap_err().contains("512"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration_ns("2s"), Ok(2_000_000_000));
        assert!(parse_duration_ns("-1s").is_err());
        assert!(parse_duration_ns("3 fortnights").is_err());
    }

    #[test]
    fn depths() {
        assert_eq!(parse_depths("1,4,32"), Ok(vec![1, 4, 32]));
        assert!(parse_depths("1,0").is_err());
    }
}
