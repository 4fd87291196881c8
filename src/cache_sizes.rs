//! `hits --cache-sizes`: the cache sizes of a miss-ratio curve, as a storage engineer spells
//! them. A comma-separated list of sizes and ranges, sorted into ascending order:
//!
//! - `16m,64m,256m,1g`: those sizes;
//! - `16m..1g`: doubling from 16 MiB (16m, 32m, 64m, …, 1g), and the end itself when the
//!   doubling steps over it;
//! - `16m..1g:8`: 8 points spaced evenly on a log scale, both ends included; the points
//!   between are rounded to a granule of a sixteenth of the start, rounded down to a power of
//!   two (1 MiB for 16m), so they read as round sizes.
//!
//! Sizes are positive, distinct and at most [`CACHE_SIZES_MAX`]. The log spacing uses the
//! pure-Rust `libm`, so the points are the same on every machine.

use dmsim_testbed::units::parse_size;

/// The most sizes one run computes.
pub const CACHE_SIZES_MAX: usize = 64;

/// Cache sizes in bytes: positive, distinct, ascending, at most [`CACHE_SIZES_MAX`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSizes(pub Vec<u64>);

/// Parses `--cache-sizes` (see the module documentation).
pub fn parse_cache_sizes(text: &str) -> Result<CacheSizes, String> {
    let mut sizes = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err("an empty entry between commas; give sizes like 16m,64m,1g".to_string());
        }
        match item.split_once("..") {
            Some((start, rest)) => sizes.extend(parse_range(item, start, rest)?),
            None => sizes.push(parse_positive(item)?),
        }
        if sizes.len() > CACHE_SIZES_MAX {
            return Err(too_many());
        }
    }
    sizes.sort_unstable();
    if let Some(pair) = sizes.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!(
            "the size {} bytes appears twice; give each size once",
            pair[0]
        ));
    }
    Ok(CacheSizes(sizes))
}

fn too_many() -> String {
    format!("more than {CACHE_SIZES_MAX} sizes; give at most {CACHE_SIZES_MAX} (e.g. 16m..1g:16)")
}

fn parse_positive(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes == 0 {
        return Err(format!(
            "'{text}': a cache size must be positive (a sweep has no `0 = the whole SSD`)"
        ));
    }
    Ok(bytes)
}

/// `START..END` (doubling) or `START..END:POINTS` (log-spaced).
fn parse_range(item: &str, start: &str, rest: &str) -> Result<Vec<u64>, String> {
    let (end, points) = match rest.split_once(':') {
        Some((end, points)) => {
            let points: usize = points.trim().parse().map_err(|_| {
                format!("'{item}': the number of points after ':' must be a whole number")
            })?;
            (end, Some(points))
        }
        None => (rest, None),
    };
    let lo = parse_positive(start.trim())?;
    let hi = parse_positive(end.trim())?;
    if hi <= lo {
        return Err(format!(
            "the range '{item}' runs backwards or is empty: give the smaller size first \
             (e.g. 16m..1g)"
        ));
    }
    match points {
        None => {
            let mut sizes = Vec::new();
            let mut size = lo;
            while size <= hi {
                sizes.push(size);
                if sizes.len() > CACHE_SIZES_MAX {
                    return Err(too_many());
                }
                match size.checked_mul(2) {
                    Some(next) => size = next,
                    None => break,
                }
            }
            if sizes.last() != Some(&hi) {
                sizes.push(hi);
            }
            Ok(sizes)
        }
        Some(points) if points < 2 => Err(format!(
            "'{item}': a range has at least 2 points (its two ends)"
        )),
        Some(points) if points > CACHE_SIZES_MAX => Err(too_many()),
        Some(points) => log_spaced(item, lo, hi, points),
    }
}

/// `points` sizes from `lo` to `hi`, evenly spaced on a log scale, the inner ones rounded to
/// the range's granule.
fn log_spaced(item: &str, lo: u64, hi: u64, points: usize) -> Result<Vec<u64>, String> {
    assert!(lo > 0 && hi > lo && points >= 2, "a checked range");
    // The largest power of two at or below lo/16 (at least one byte).
    let sixteenth = (lo / 16).max(1);
    let granule = 1u64 << (63 - sixteenth.leading_zeros());
    let ratio = hi as f64 / lo as f64;
    let mut sizes = Vec::with_capacity(points);
    for index in 0..points {
        let size = if index == 0 {
            lo
        } else if index == points - 1 {
            hi
        } else {
            let exact = lo as f64 * libm::pow(ratio, index as f64 / (points - 1) as f64);
            let rounded = libm::round(exact / granule as f64) * granule as f64;
            rounded as u64
        };
        if sizes.last().is_some_and(|&last| last >= size) {
            return Err(format!(
                "'{item}': {points} points are too many for this range (two would round to \
                 the same size); give fewer"
            ));
        }
        sizes.push(size);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn sizes(text: &str) -> Vec<u64> {
        parse_cache_sizes(text).expect(text).0
    }

    #[test]
    fn a_list_is_sorted() {
        assert_eq!(
            sizes("64m,16m, 1g ,256m"),
            vec![16 * MIB, 64 * MIB, 256 * MIB, 1024 * MIB]
        );
        assert_eq!(sizes("4096"), vec![4096]);
    }

    #[test]
    fn a_plain_range_doubles_and_keeps_its_end() {
        assert_eq!(
            sizes("16m..1g"),
            [16, 32, 64, 128, 256, 512, 1024].map(|m| m * MIB).to_vec()
        );
        assert_eq!(
            sizes("10m..50m"),
            [10, 20, 40, 50].map(|m| m * MIB).to_vec()
        );
    }

    #[test]
    fn a_range_with_points_is_log_spaced_with_round_sizes() {
        // 16 MiB to 1 GiB is a factor 64: 8 points are a factor 64^(1/7) = 1.811 apart.
        assert_eq!(
            sizes("16m..1g:8"),
            [16, 29, 53, 95, 172, 312, 565, 1024]
                .map(|m| m * MIB)
                .to_vec()
        );
        assert_eq!(sizes("1m..4m:3"), vec![MIB, 2 * MIB, 4 * MIB]);
        // Lists and ranges mix.
        assert_eq!(sizes("1m..4m:3,8m"), vec![MIB, 2 * MIB, 4 * MIB, 8 * MIB]);
    }

    #[test]
    fn bad_sizes_are_refused_with_the_reason() {
        for (text, reason) in [
            ("0", "must be positive"),
            ("16m,0", "must be positive"),
            ("16x", "unknown size suffix"),
            ("big", "is not a size"),
            ("1g..16m", "runs backwards"),
            ("16m..16m", "runs backwards or is empty"),
            ("16m..1g:1", "at least 2 points"),
            ("16m..1g:x", "whole number"),
            ("16m..1g:65", "more than 64 sizes"),
            ("1..1t,3..1t", "more than 64 sizes"),
            ("16m,16m", "appears twice"),
            ("16m..32m,32m", "appears twice"),
            ("16m,,1g", "empty entry"),
            ("1k..2k:64", "too many for this range"),
        ] {
            let error = parse_cache_sizes(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
        let list: Vec<String> = (1..=65).map(|m| format!("{m}m")).collect();
        let error = parse_cache_sizes(&list.join(",")).unwrap_err();
        assert!(error.contains("more than 64 sizes"), "{error}");
        let list: Vec<String> = (1..=64).map(|m| format!("{m}m")).collect();
        assert_eq!(parse_cache_sizes(&list.join(",")).unwrap().0.len(), 64);
    }
}
