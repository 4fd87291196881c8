//! Latency recording and summaries: per-op histograms, percentiles, CDF points.
//!
//! Owns [`LatencyRecorder`] (what a run records while it goes) and [`LatencySummary`] /
//! [`LatencyReport`] (what reports store). It deliberately knows nothing about devices, time
//! series or charts.
//!
//! # Storage and percentile definition
//!
//! Latencies are recorded in an HDR histogram with 3 significant decimal digits: every value is
//! kept in a bucket whose width is at most 1/1000 of the values it holds (values below 2048 ns
//! are exact). Count, sum (hence mean), minimum and maximum are tracked exactly beside it.
//!
//! The q-quantile (`q = numerator / denominator`) is the *nearest-rank* value: with `n` values
//! sorted ascending, it is the value of rank `r = max(1, ceil(n * q))`. The recorder returns the
//! highest value of the histogram bucket holding rank `r`, clamped to the exact `[min, max]`, so
//! it is within 0.1 % above the true nearest-rank value and exact for values below 2048 ns. All
//! rank arithmetic is integer arithmetic, so the result does not depend on float rounding.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Significant decimal digits kept by the latency histograms.
const HISTOGRAM_SIGNIFICANT_DIGITS: u8 = 3;

/// Number of evenly spaced ranks (every 0.5 %) sampled for the CDF, before the tail points.
const CDF_BODY_STEPS: u64 = 200;

/// Tail quantiles added to the CDF, as (numerator, denominator): 99.9 %, 99.99 %, 99.999 %.
const CDF_TAIL_QUANTILES: [(u64, u64); 3] = [(999, 1_000), (9_999, 10_000), (99_999, 100_000)];

/// The direction of a block request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A read request.
    Read,
    /// A write request.
    Write,
}

/// One point of an empirical CDF: `fraction` of the requests took at most `latency_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// The latency, in nanoseconds (a histogram bucket's upper value).
    pub latency_ns: u64,
    /// Fraction of requests with latency `<= latency_ns`, in `(0, 1]`.
    pub fraction: f64,
}

/// The latency distribution of one op, as stored in reports.
///
/// When `count` is 0 every other number is 0 and `cdf` is empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of requests recorded.
    pub count: u64,
    /// Exact arithmetic mean, in nanoseconds.
    pub mean_ns: f64,
    /// Exact minimum, in nanoseconds.
    pub min_ns: u64,
    /// Median (nearest rank, see the module doc), in nanoseconds.
    pub p50_ns: u64,
    /// 90th percentile, in nanoseconds.
    pub p90_ns: u64,
    /// 99th percentile, in nanoseconds.
    pub p99_ns: u64,
    /// 99.9th percentile, in nanoseconds.
    pub p999_ns: u64,
    /// Exact maximum, in nanoseconds.
    pub max_ns: u64,
    /// Sampled CDF points, strictly increasing in both latency and fraction, last fraction 1.
    pub cdf: Vec<CdfPoint>,
}

/// Headline latency figures over every request of a run, reads and writes together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OverallLatency {
    /// Number of requests recorded.
    pub count: u64,
    /// Exact arithmetic mean, in nanoseconds.
    pub mean_ns: f64,
    /// Median (nearest rank), in nanoseconds.
    pub p50_ns: u64,
    /// 90th percentile, in nanoseconds.
    pub p90_ns: u64,
    /// 99th percentile, in nanoseconds.
    pub p99_ns: u64,
    /// 99.9th percentile, in nanoseconds.
    pub p999_ns: u64,
    /// Exact maximum, in nanoseconds.
    pub max_ns: u64,
}

/// Latency distributions of one run: all requests (flattened into this object's fields, so
/// `latency.p99_ns` is the run's p99), and reads and writes apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    /// Every request, reads and writes together.
    #[serde(flatten, default)]
    pub all: OverallLatency,
    /// Latency of read requests.
    pub read: LatencySummary,
    /// Latency of write requests.
    pub write: LatencySummary,
}

impl LatencyReport {
    /// The summary for `op`.
    pub fn get(&self, op: Op) -> &LatencySummary {
        match op {
            Op::Read => &self.read,
            Op::Write => &self.write,
        }
    }
}

/// Records request latencies per op and summarises them (see the module doc for the
/// percentile definition).
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    read: OpLatency,
    write: OpLatency,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        LatencyRecorder {
            read: OpLatency::new(),
            write: OpLatency::new(),
        }
    }

    /// Records one request of `op` that took `latency_ns`.
    pub fn record(&mut self, op: Op, latency_ns: u64) {
        self.op_mut(op).record(latency_ns, 1);
    }

    /// Adds everything `other` recorded to `self`. Merging is exact for count, sum, min and max,
    /// and bucket-exact for the histogram, so merge order does not change any summary.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        self.read.merge(&other.read);
        self.write.merge(&other.write);
    }

    /// Number of requests of `op` recorded.
    pub fn count(&self, op: Op) -> u64 {
        self.op(op).count
    }

    /// The `numerator / denominator` quantile of `op`'s latency in ns (nearest rank, see the
    /// module doc); 0 when nothing was recorded.
    ///
    /// # Panics
    /// If `denominator` is 0 or `numerator > denominator` (a programming error).
    pub fn quantile_ns(&self, op: Op, numerator: u64, denominator: u64) -> u64 {
        assert!(denominator > 0, "quantile denominator must be positive");
        assert!(numerator <= denominator, "quantile above 1");
        let latency = self.op(op);
        let buckets = latency.cumulative_buckets();
        latency.value_at_rank(&buckets, rank_for(latency.count, numerator, denominator))
    }

    /// The summary of `op`'s latencies as stored in reports.
    pub fn summary(&self, op: Op) -> LatencySummary {
        self.op(op).summary()
    }

    /// Read and write summaries.
    pub fn report(&self) -> LatencyReport {
        let mut both = self.read.clone();
        both.merge(&self.write);
        let all = both.summary();
        LatencyReport {
            all: OverallLatency {
                count: all.count,
                mean_ns: all.mean_ns,
                p50_ns: all.p50_ns,
                p90_ns: all.p90_ns,
                p99_ns: all.p99_ns,
                p999_ns: all.p999_ns,
                max_ns: all.max_ns,
            },
            read: self.summary(Op::Read),
            write: self.summary(Op::Write),
        }
    }

    fn op(&self, op: Op) -> &OpLatency {
        match op {
            Op::Read => &self.read,
            Op::Write => &self.write,
        }
    }

    fn op_mut(&mut self, op: Op) -> &mut OpLatency {
        match op {
            Op::Read => &mut self.read,
            Op::Write => &mut self.write,
        }
    }
}

/// Nearest rank (1-based) of the `numerator / denominator` quantile among `count` values.
fn rank_for(count: u64, numerator: u64, denominator: u64) -> u64 {
    let product = u128::from(count) * u128::from(numerator);
    let rank = product.div_ceil(u128::from(denominator));
    // rank <= count because numerator <= denominator, so it fits in u64.
    u64::try_from(rank).unwrap_or(count).max(1)
}

#[derive(Clone, Debug)]
struct OpLatency {
    histogram: Histogram<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

/// One non-empty histogram bucket: its highest value and the number of values up to and
/// including it.
#[derive(Clone, Copy, Debug)]
struct CumulativeBucket {
    value_ns: u64,
    count_through: u64,
}

impl OpLatency {
    fn new() -> Self {
        OpLatency {
            histogram: new_histogram(),
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    fn record(&mut self, latency_ns: u64, times: u64) {
        if times == 0 {
            return;
        }
        if self.histogram.record_n(latency_ns, times).is_err() {
            // Only values beyond what the auto-resizing histogram can index (~2^63 ns) get
            // here; they are clamped into its top bucket, max_ns stays exact.
            self.histogram.saturating_record_n(latency_ns, times);
        }
        self.count = self.count.saturating_add(times);
        self.sum_ns = self
            .sum_ns
            .saturating_add(u128::from(latency_ns) * u128::from(times));
        self.min_ns = self.min_ns.min(latency_ns);
        self.max_ns = self.max_ns.max(latency_ns);
    }

    fn merge(&mut self, other: &OpLatency) {
        if other.count == 0 {
            return;
        }
        for bucket in other.histogram.iter_recorded() {
            let value = bucket.value_iterated_to();
            if self
                .histogram
                .record_n(value, bucket.count_at_value())
                .is_err()
            {
                self.histogram
                    .saturating_record_n(value, bucket.count_at_value());
            }
        }
        self.count = self.count.saturating_add(other.count);
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    fn cumulative_buckets(&self) -> Vec<CumulativeBucket> {
        let mut buckets = Vec::new();
        let mut count_through = 0u64;
        for bucket in self.histogram.iter_recorded() {
            count_through = count_through.saturating_add(bucket.count_at_value());
            buckets.push(CumulativeBucket {
                value_ns: self
                    .histogram
                    .highest_equivalent(bucket.value_iterated_to()),
                count_through,
            });
        }
        debug_assert_eq!(
            count_through, self.count,
            "histogram and exact count disagree"
        );
        buckets
    }

    /// The clamped upper value of the bucket holding `rank` (1-based).
    fn value_at_rank(&self, buckets: &[CumulativeBucket], rank: u64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let index = buckets.partition_point(|bucket| bucket.count_through < rank);
        let value = buckets
            .get(index)
            .or(buckets.last())
            .map_or(self.max_ns, |bucket| bucket.value_ns);
        value.clamp(self.min_ns, self.max_ns)
    }

    fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        let buckets = self.cumulative_buckets();
        let at = |numerator, denominator| {
            self.value_at_rank(&buckets, rank_for(self.count, numerator, denominator))
        };
        // u128 -> f64 and the division are correctly rounded, so the mean is deterministic.
        let mean_ns = self.sum_ns as f64 / self.count as f64;
        LatencySummary {
            count: self.count,
            mean_ns,
            min_ns: self.min_ns,
            p50_ns: at(50, 100),
            p90_ns: at(90, 100),
            p99_ns: at(99, 100),
            p999_ns: at(999, 1_000),
            max_ns: self.max_ns,
            cdf: self.cdf(&buckets),
        }
    }

    /// CDF points at every 0.5 % of ranks plus the tail quantiles, one point per distinct
    /// bucket, each carrying the exact fraction of values in or below that bucket.
    fn cdf(&self, buckets: &[CumulativeBucket]) -> Vec<CdfPoint> {
        let mut ranks: Vec<u64> = (1..=CDF_BODY_STEPS)
            .map(|step| rank_for(self.count, step, CDF_BODY_STEPS))
            .collect();
        ranks.push(1);
        ranks.extend(
            CDF_TAIL_QUANTILES
                .iter()
                .map(|&(numerator, denominator)| rank_for(self.count, numerator, denominator)),
        );
        ranks.sort_unstable();
        ranks.dedup();

        let mut points: Vec<CdfPoint> = Vec::with_capacity(ranks.len());
        for rank in ranks {
            let index = buckets.partition_point(|bucket| bucket.count_through < rank);
            let Some(bucket) = buckets.get(index) else {
                continue;
            };
            let latency_ns = bucket.value_ns.clamp(self.min_ns, self.max_ns);
            let fraction = bucket.count_through as f64 / self.count as f64;
            match points.last() {
                Some(last) if last.latency_ns >= latency_ns => {}
                _ => points.push(CdfPoint {
                    latency_ns,
                    fraction,
                }),
            }
        }
        debug_assert!(points
            .windows(2)
            .all(|pair| pair[0].latency_ns < pair[1].latency_ns
                && pair[0].fraction < pair[1].fraction));
        points
    }
}

fn new_histogram() -> Histogram<u64> {
    match Histogram::new(HISTOGRAM_SIGNIFICANT_DIGITS) {
        Ok(histogram) => histogram,
        // 3 significant digits is a valid constant; creation cannot fail for it.
        Err(error) => unreachable!("histogram creation with 3 digits failed: {error:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder_with(op: Op, values: impl IntoIterator<Item = u64>) -> LatencyRecorder {
        let mut recorder = LatencyRecorder::new();
        for value in values {
            recorder.record(op, value);
        }
        recorder
    }

    #[test]
    fn percentiles_of_one_to_thousand_are_nearest_rank() {
        let recorder = recorder_with(Op::Read, 1..=1000);
        let summary = recorder.summary(Op::Read);
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.min_ns, 1);
        assert_eq!(summary.p50_ns, 500);
        assert_eq!(summary.p90_ns, 900);
        assert_eq!(summary.p99_ns, 990);
        assert_eq!(summary.p999_ns, 999);
        assert_eq!(summary.max_ns, 1000);
        assert_eq!(summary.mean_ns, 500.5);
        assert_eq!(recorder.quantile_ns(Op::Read, 1, 1000), 1);
        assert_eq!(recorder.quantile_ns(Op::Read, 0, 1), 1);
        assert_eq!(recorder.summary(Op::Write), LatencySummary::default());
    }

    #[test]
    fn percentiles_of_small_uneven_set() {
        // Nearest rank on 10 values: p50 = 5th, p90 = 9th, p99 = 10th.
        let recorder = recorder_with(Op::Write, [7, 1, 3, 9, 5, 2, 8, 4, 10, 6]);
        let summary = recorder.summary(Op::Write);
        assert_eq!((summary.p50_ns, summary.p90_ns, summary.p99_ns), (5, 9, 10));
    }

    #[test]
    fn large_values_are_within_a_thousandth() {
        // 1 ms .. 100 ms in steps of 99 µs: large values exercise non-exact buckets.
        let values: Vec<u64> = (0..1000).map(|i| 1_000_000 + i * 99_000).collect();
        let recorder = recorder_with(Op::Read, values.iter().copied());
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for (numerator, denominator) in [(50, 100), (90, 100), (99, 100), (999, 1000)] {
            let rank = rank_for(1000, numerator, denominator);
            let exact = sorted[(rank - 1) as usize];
            let approx = recorder.quantile_ns(Op::Read, numerator, denominator);
            assert!(
                approx >= exact,
                "q{numerator}/{denominator}: {approx} < {exact}"
            );
            assert!(
                approx - exact <= exact / 1000,
                "q{numerator}/{denominator}: {approx} too far above {exact}"
            );
        }
        assert_eq!(recorder.summary(Op::Read).max_ns, *sorted.last().unwrap());
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let mut left = recorder_with(Op::Read, (1..=500).map(|v| v * 1_013));
        let right = recorder_with(Op::Read, (501..=1000).map(|v| v * 1_013));
        let mut write_side = LatencyRecorder::new();
        write_side.record(Op::Write, 42);
        left.merge(&right);
        left.merge(&write_side);
        let whole = recorder_with(Op::Read, (1..=1000).map(|v| v * 1_013));
        assert_eq!(left.summary(Op::Read), whole.summary(Op::Read));
        assert_eq!(left.count(Op::Write), 1);
        assert_eq!(left.summary(Op::Write).p99_ns, 42);
    }

    #[test]
    fn cdf_is_monotone_and_ends_at_one() {
        let recorder = recorder_with(
            Op::Read,
            (0..10_000u64).map(|i| 50_000 + (i * i) % 9_000_000),
        );
        let cdf = recorder.summary(Op::Read).cdf;
        assert!(cdf.len() > 50, "only {} points", cdf.len());
        assert!(cdf.len() <= 204);
        assert_eq!(cdf.last().map(|p| p.fraction), Some(1.0));
        for pair in cdf.windows(2) {
            assert!(pair[0].latency_ns < pair[1].latency_ns);
            assert!(pair[0].fraction < pair[1].fraction);
        }
    }

    #[test]
    fn cdf_of_a_single_value_is_one_point() {
        let recorder = recorder_with(Op::Write, [1234; 17]);
        let summary = recorder.summary(Op::Write);
        assert_eq!(
            summary.cdf,
            vec![CdfPoint {
                latency_ns: 1234,
                fraction: 1.0
            }]
        );
        assert_eq!(summary.p999_ns, 1234);
        assert_eq!(summary.mean_ns, 1234.0);
    }

    #[test]
    fn zero_and_huge_latencies_are_recorded() {
        let recorder = recorder_with(Op::Read, [0, u64::MAX]);
        let summary = recorder.summary(Op::Read);
        assert_eq!(summary.min_ns, 0);
        assert_eq!(summary.max_ns, u64::MAX);
        assert_eq!(summary.p50_ns, 0);
        assert_eq!(summary.count, 2);
    }
}
