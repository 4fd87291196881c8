//! Chart axes with ticks this crate chooses itself.
//!
//! Owns [`TickAxis`], a plotters coordinate whose major and minor ticks are given explicitly,
//! linear or base-10 logarithmic, and the helpers that pick "nice" ticks. Choosing ticks here
//! (instead of plotters' defaults) keeps labels on round values (1 µs, 10 µs, …; 0, 20, 40 %)
//! and uses only basic IEEE arithmetic to place them, so they are the same on every machine.
//! It deliberately does not format labels: charts pass formatters to the mesh.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, KeyPointWeight, Ranged};

/// A 1-D axis over `lo..hi` with explicit major (labelled) and minor (grid only) ticks.
#[derive(Clone, Debug)]
pub(crate) struct TickAxis {
    lo: f64,
    hi: f64,
    log: bool,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl TickAxis {
    /// A linear axis from 0 to a nice value at or above `max`, ticked at nice steps.
    pub(crate) fn linear_from_zero(max: f64) -> Self {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let step = nice_step(max / 5.0);
        let mut major = vec![0.0];
        let mut tick = 0.0;
        let mut count = 0u32;
        while tick < max * (1.0 - 1e-9) {
            count += 1;
            tick = step * f64::from(count);
            major.push(tick);
        }
        let minor = (0..count).map(|i| step * (f64::from(i) + 0.5)).collect();
        TickAxis {
            lo: 0.0,
            hi: tick,
            log: false,
            major,
            minor,
        }
    }

    /// A linear axis from 0 to exactly `max` (for time: the run's end is the axis end), ticked
    /// at nice steps up to `max`.
    pub(crate) fn linear_exact(max: f64) -> Self {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        // At most about 8 labelled ticks: time labels are short.
        let step = nice_step(max / 8.0);
        let mut major = Vec::new();
        let mut minor = Vec::new();
        let mut count = 0u32;
        loop {
            let tick = step * f64::from(count);
            if tick > max * (1.0 + 1e-9) {
                break;
            }
            major.push(tick);
            let half = tick + step / 2.0;
            if half <= max {
                minor.push(half);
            }
            count += 1;
        }
        TickAxis {
            lo: 0.0,
            hi: max,
            log: false,
            major,
            minor,
        }
    }

    /// A linear axis over `lo..hi` with the given major and minor ticks.
    pub(crate) fn linear_with_ticks(lo: f64, hi: f64, major: Vec<f64>, minor: Vec<f64>) -> Self {
        assert!(hi > lo, "empty axis range {lo}..{hi}");
        TickAxis {
            lo,
            hi,
            log: false,
            major,
            minor,
        }
    }

    /// A base-10 log axis spanning whole decades around `[min, max]` (values below 1 are
    /// treated as 1), major ticks at each decade, minor at 2..9 times each decade.
    pub(crate) fn log_decades(min: u64, max: u64) -> Self {
        let min = min.max(1);
        let max = max.max(min);
        let mut lo: u64 = 1;
        while lo <= min / 10 {
            lo *= 10;
        }
        let mut hi = lo;
        while hi < max {
            match hi.checked_mul(10) {
                Some(next) => hi = next,
                None => break,
            }
        }
        if hi == lo {
            hi = lo.saturating_mul(10);
        }
        let mut major = Vec::new();
        let mut minor = Vec::new();
        let mut decade = lo;
        loop {
            major.push(decade as f64);
            if decade >= hi {
                break;
            }
            for multiple in 2..=9u64 {
                minor.push((decade * multiple) as f64);
            }
            match decade.checked_mul(10) {
                Some(next) => decade = next,
                None => break,
            }
        }
        TickAxis {
            lo: lo as f64,
            hi: hi as f64,
            log: true,
            major,
            minor,
        }
    }

    /// A log axis for sizes, from the power of two at or below `min` to the one at or above
    /// `max` (at least one doubling); every power of two in between is a tick, labelled at a
    /// stride that keeps about 8 labels, the others unlabelled grid lines.
    pub(crate) fn log_powers_of_two(min: u64, max: u64) -> Self {
        let min = min.max(1);
        let max = max.max(min);
        let lo_exp = 63 - min.leading_zeros();
        let hi_exp = if max.is_power_of_two() {
            max.trailing_zeros()
        } else {
            64 - max.leading_zeros()
        };
        let hi_exp = hi_exp.clamp(lo_exp + 1, 63);
        let stride = (hi_exp - lo_exp).div_ceil(8).max(1);
        let mut major = Vec::new();
        let mut minor = Vec::new();
        for exp in lo_exp..=hi_exp {
            let value = (1u64 << exp) as f64;
            if (exp - lo_exp).is_multiple_of(stride) {
                major.push(value);
            } else {
                minor.push(value);
            }
        }
        TickAxis {
            lo: (1u64 << lo_exp) as f64,
            hi: (1u64 << hi_exp) as f64,
            log: true,
            major,
            minor,
        }
    }

    /// Lowest value on the axis (where bars start).
    pub(crate) fn lo(&self) -> f64 {
        self.lo
    }

    /// Highest value on the axis.
    pub(crate) fn hi(&self) -> f64 {
        self.hi
    }

    fn position(&self, value: f64) -> f64 {
        if self.log {
            let value = value.max(self.lo);
            (value.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        }
    }
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1 - limit.0);
        let offset = (span * self.position(*value)).round();
        // Values far outside the axis are clipped by the drawing area; keep i32 safe.
        limit.0 + offset.clamp(-1e6, 1e6) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.major.clone(),
            KeyPointWeight::Any => {
                let mut all = self.major.clone();
                all.extend_from_slice(&self.minor);
                all.sort_by(f64::total_cmp);
                all
            }
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The smallest of 1, 2, 5 times a power of ten that is `>= raw` (for `raw > 0`).
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mut power = 1.0;
    while power * 10.0 <= raw {
        power *= 10.0;
    }
    while power > raw {
        power /= 10.0;
    }
    for multiple in [1.0, 2.0, 5.0, 10.0] {
        if power * multiple >= raw * (1.0 - 1e-12) {
            return power * multiple;
        }
    }
    power * 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::coord::ranged1d::BoldPoints;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.9), 1.0);
        assert_eq!(nice_step(1.1), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(20.0), 20.0);
        assert_eq!(nice_step(1234.0), 2000.0);
    }

    #[test]
    fn linear_axis_covers_max_with_round_ticks() {
        let axis = TickAxis::linear_from_zero(87.0);
        assert_eq!(axis.range(), 0.0..100.0);
        assert_eq!(
            axis.key_points(BoldPoints(10)),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(axis.map(&50.0, (0, 500)), 250);
    }

    #[test]
    fn exact_axis_ends_at_max() {
        let axis = TickAxis::linear_exact(10.05);
        assert_eq!(axis.range(), 0.0..10.05);
        assert_eq!(
            axis.key_points(BoldPoints(10)),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        let axis = TickAxis::linear_exact(3.0);
        assert_eq!(
            axis.key_points(BoldPoints(10)),
            vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        );
    }

    #[test]
    fn size_axis_spans_powers_of_two() {
        const MIB: u64 = 1 << 20;
        let axis = TickAxis::log_powers_of_two(16 * MIB, 1024 * MIB);
        assert_eq!(axis.range(), (16 * MIB) as f64..(1024 * MIB) as f64);
        assert_eq!(
            axis.key_points(BoldPoints(10)).len(),
            7,
            "16m..1g: every doubling"
        );
        assert_eq!(axis.map(&((128 * MIB) as f64), (0, 600)), 300);
        // Not powers of two: widened to the powers around them.
        let axis = TickAxis::log_powers_of_two(10 * MIB, 50 * MIB);
        assert_eq!(axis.range(), (8 * MIB) as f64..(64 * MIB) as f64);
        // One size: one doubling wide.
        let axis = TickAxis::log_powers_of_two(4096, 4096);
        assert_eq!(axis.range(), 4096.0..8192.0);
        // Many doublings: about 8 labels, the rest grid lines.
        let axis = TickAxis::log_powers_of_two(4096, 1 << 40);
        let labelled = axis.key_points(BoldPoints(10));
        assert!(labelled.len() <= 9, "{labelled:?}");
        assert_eq!(
            axis.key_points(plotters::coord::ranged1d::LightPoints::new(10, 100))
                .len(),
            29
        );
    }

    #[test]
    fn log_axis_spans_whole_decades() {
        let axis = TickAxis::log_decades(45_000, 12_000_000);
        assert_eq!(axis.range(), 10_000.0..100_000_000.0);
        assert_eq!(
            axis.key_points(BoldPoints(10)),
            vec![1e4, 1e5, 1e6, 1e7, 1e8]
        );
        assert_eq!(axis.map(&1e6, (0, 400)), 200);
        let single = TickAxis::log_decades(300, 300);
        assert_eq!(single.range(), 100.0..1000.0);
        let exact = TickAxis::log_decades(1_000, 1_000);
        assert_eq!(exact.range(), 1000.0..10_000.0);
    }
}
