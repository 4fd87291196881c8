//! Items per second and the time left, from wall-clock samples of a growing count, and the
//! words a person reads them in. Pure: the caller owns the clock, so tests pin every value.

use std::collections::VecDeque;
use std::time::Duration;

/// How far back the rate looks: long enough to smooth the bursts of a simulation (whose
/// progress arrives per slice of virtual time), short enough to follow a change of pace.
const WINDOW: Duration = Duration::from_secs(10);
/// Samples closer than this to the one before replace it, so memory stays bounded however
/// often the count is reported.
const SAMPLE_SPACING: Duration = Duration::from_millis(100);

/// A rate over the last [`WINDOW`] of samples; the count starts at zero when the meter does.
///
/// The first sample is the start itself (zero items at zero seconds), so the first rate is
/// the count over the whole time so far, not the jump between two reports a moment apart.
pub struct RateMeter {
    samples: VecDeque<(Duration, u64)>,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            samples: VecDeque::from([(Duration::ZERO, 0)]),
        }
    }
}

impl RateMeter {
    /// `done` items counted `elapsed` after the start.
    pub fn record(&mut self, elapsed: Duration, done: u64) {
        let len = self.samples.len();
        if len >= 2 && elapsed.saturating_sub(self.samples[len - 2].0) < SAMPLE_SPACING {
            self.samples[len - 1] = (elapsed, done);
        } else {
            self.samples.push_back((elapsed, done));
        }
        // Keep the newest sample that is at least WINDOW old, so the rate spans the window.
        while self.samples.len() > 2 && elapsed.saturating_sub(self.samples[1].0) >= WINDOW {
            self.samples.pop_front();
        }
    }

    /// Items per second over the window, or `None` before any time has passed.
    pub fn per_sec(&self) -> Option<f64> {
        let (start, first) = *self.samples.front()?;
        let (end, last) = *self.samples.back()?;
        let seconds = end.saturating_sub(start).as_secs_f64();
        (seconds > 0.0).then(|| last.saturating_sub(first) as f64 / seconds)
    }

    /// Time left to reach `total` at the current rate; `None` while the rate is unknown or
    /// zero with items left.
    pub fn eta(&self, total: u64) -> Option<Duration> {
        let (_, done) = *self.samples.back()?;
        let left = total.saturating_sub(done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let rate = self.per_sec().filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64(left as f64 / rate))
    }
}

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with the precision it deserves: whole items from 100/s up, else two significant
/// digits (a comparison finishes a few runs a minute, a replay thousands of requests a second).
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 99.5 {
        count(per_sec.round() as u64)
    } else if per_sec >= 9.95 {
        format!("{per_sec:.0}")
    } else if per_sec >= 0.995 {
        format!("{per_sec:.1}")
    } else {
        format!("{per_sec:.2}")
    }
}

/// `42s`, `10m 38s`, `2h 05m`: to the second under an hour, to the minute above.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn the_first_rate_counts_from_the_start_not_from_the_first_report() {
        // The old display started measuring at its first report: 10,528 items a few
        // microseconds later read as 74 million a second.
        let mut meter = RateMeter::default();
        meter.record(secs(1.2), 10_528);
        meter.record(secs(1.200_01), 10_532);
        let rate = meter.per_sec().unwrap();
        assert!((rate - 10_532.0 / 1.200_01).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn no_rate_before_time_passes() {
        let meter = RateMeter::default();
        assert_eq!(meter.per_sec(), None);
        assert_eq!(meter.eta(10), None);
    }

    #[test]
    fn the_rate_follows_the_last_ten_seconds() {
        let mut meter = RateMeter::default();
        // 1,000/s for 60 s, then 4,000/s for 20 s, reported ten times a second.
        let mut done = 0u64;
        for tenth in 1..=800u64 {
            done += if tenth <= 600 { 100 } else { 400 };
            meter.record(Duration::from_millis(tenth * 100), done);
        }
        let rate = meter.per_sec().unwrap();
        assert!((rate - 4_000.0).abs() < 1.0, "{rate}");
        assert!(
            meter.samples.len() <= 102,
            "{} samples",
            meter.samples.len()
        );
    }

    #[test]
    fn eta_is_what_is_left_at_the_current_rate() {
        let mut meter = RateMeter::default();
        meter.record(secs(4.0), 1_000);
        assert_eq!(meter.eta(3_000), Some(secs(8.0)));
        assert_eq!(meter.eta(1_000), Some(Duration::ZERO));
        assert_eq!(meter.eta(10), Some(Duration::ZERO));
    }

    #[test]
    fn a_stalled_count_has_no_eta() {
        let mut meter = RateMeter::default();
        meter.record(secs(2.0), 0);
        assert_eq!(meter.per_sec(), Some(0.0));
        assert_eq!(meter.eta(5), None);
    }

    #[test]
    fn frequent_reports_keep_memory_bounded() {
        let mut meter = RateMeter::default();
        for us in 1..=100_000u64 {
            meter.record(Duration::from_micros(us * 10), us);
        }
        // One second of reports every 10 µs: about ten kept samples.
        assert!(meter.samples.len() <= 12, "{} samples", meter.samples.len());
        let rate = meter.per_sec().unwrap();
        assert!((rate - 100_000.0).abs() < 1.0, "{rate}");
    }

    #[test]
    fn words() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(372_581_163), "372,581,163");
        assert_eq!(rate(4_318.4), "4,318");
        assert_eq!(rate(42.4), "42");
        assert_eq!(rate(2.71), "2.7");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(duration(secs(0.4)), "0s");
        assert_eq!(duration(secs(42.0)), "42s");
        assert_eq!(duration(secs(638.0)), "10m 38s");
        assert_eq!(duration(secs(7_500.0)), "2h 05m");
    }
}
