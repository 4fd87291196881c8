//! Fixed-interval time series over virtual time, with bounded memory.
//!
//! Owns [`TimeSeries`] (the recorder) and [`TimeSeriesData`] (its columnar, serialisable form).
//! Bucket `i` covers virtual time `[i * bucket_ns, (i + 1) * bucket_ns)`. Counters (requests,
//! bytes, cleanings, cache lookups and hits, an md raid5 array's rmw and rcw stripe writes) are
//! summed per bucket; gauges (dirty and cached blocks, the array's sync progress and stripe
//! cache use) keep the latest sample taken at or before the bucket's end, carried forward over
//! buckets without samples.
//!
//! Memory is bounded: when an event falls beyond `bucket_count_max` buckets, adjacent pairs of
//! buckets are merged and the interval doubles, as often as needed. Merging is exact for
//! counters and keeps the later gauge sample, so a coarsened series equals one recorded at the
//! coarser interval from the start.
//!
//! It deliberately does not turn counts into rates: charts do that, using each bucket's real
//! width ([`TimeSeriesData::bucket_width_ns`]) so a run's last partial bucket is not
//! understated.

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::latency::Op;

/// Records per-bucket counters and gauges over virtual time (see the module doc).
#[derive(Clone, Debug)]
pub struct TimeSeries {
    bucket_ns: u64,
    bucket_count_max: usize,
    buckets: Vec<Bucket>,
    /// Whether a cache counted lookups: without one the hit columns are left out.
    has_cache_lookups: bool,
    /// Whether an md raid5 array was sampled: without one its columns are left out.
    has_array: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    read_requests: u64,
    write_requests: u64,
    read_bytes: u64,
    write_bytes: u64,
    cleanings: u64,
    lookups: CacheLookups,
    gauges: Option<GaugeSample>,
    /// Stripe writes whose parity came by read-modify-write and by reconstruct-write.
    rmw: u64,
    rcw: u64,
    array: Option<(u64, ArrayGauges)>,
}

/// An md raid5 array at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArrayGauges {
    /// The running sync pass (check, repair, resync or recovery): member sectors done of its
    /// total; while none runs, the last finished pass complete, or 0 of 0 before any.
    pub sync_done_sectors: u64,
    pub sync_total_sectors: u64,
    /// Stripe heads in use (md's `stripe_cache_active`).
    pub stripe_cache_active: u64,
}

/// Requests a cache looked up and how many hit, counted by the cache itself (flashcache's
/// `reads`, `read_hits`, `writes`, `write_hits`), so a bucket's hit ratio is the cache's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheLookups {
    pub reads: u64,
    pub read_hits: u64,
    pub writes: u64,
    pub write_hits: u64,
}

impl CacheLookups {
    /// The lookups counted between `earlier` and these cumulative counters (0 where a
    /// counter went back, as after a cache reload resets them).
    pub fn since(&self, earlier: &CacheLookups) -> CacheLookups {
        CacheLookups {
            reads: self.reads.saturating_sub(earlier.reads),
            read_hits: self.read_hits.saturating_sub(earlier.read_hits),
            writes: self.writes.saturating_sub(earlier.writes),
            write_hits: self.write_hits.saturating_sub(earlier.write_hits),
        }
    }

    fn add(&mut self, more: &CacheLookups) {
        self.reads = self.reads.saturating_add(more.reads);
        self.read_hits = self.read_hits.saturating_add(more.read_hits);
        self.writes = self.writes.saturating_add(more.writes);
        self.write_hits = self.write_hits.saturating_add(more.write_hits);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GaugeSample {
    time_ns: u64,
    dirty_blocks: u64,
    cached_blocks: u64,
}

impl Bucket {
    fn absorb(&mut self, later: &Bucket) {
        self.read_requests = self.read_requests.saturating_add(later.read_requests);
        self.write_requests = self.write_requests.saturating_add(later.write_requests);
        self.read_bytes = self.read_bytes.saturating_add(later.read_bytes);
        self.write_bytes = self.write_bytes.saturating_add(later.write_bytes);
        self.cleanings = self.cleanings.saturating_add(later.cleanings);
        self.lookups.add(&later.lookups);
        if later.gauges.is_some() {
            self.gauges = later.gauges;
        }
        self.rmw = self.rmw.saturating_add(later.rmw);
        self.rcw = self.rcw.saturating_add(later.rcw);
        if later.array.is_some() {
            self.array = later.array;
        }
    }
}

impl TimeSeries {
    /// A series with buckets of `bucket_ns` that never holds more than `bucket_count_max`
    /// buckets.
    ///
    /// # Panics
    /// If `bucket_ns` is 0 or `bucket_count_max < 2` (programming errors: the caller validates
    /// user options before building a series).
    pub fn new(bucket_ns: u64, bucket_count_max: usize) -> Self {
        assert!(bucket_ns > 0, "time series bucket width must be positive");
        assert!(
            bucket_count_max >= 2,
            "time series needs room for 2 buckets"
        );
        TimeSeries {
            bucket_ns,
            bucket_count_max,
            buckets: Vec::new(),
            has_cache_lookups: false,
            has_array: false,
        }
    }

    /// The current bucket width in ns (doubles each time the series coarsens).
    pub fn bucket_ns(&self) -> u64 {
        self.bucket_ns
    }

    /// Number of buckets currently held (never more than `bucket_count_max`).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Counts one completed request of `op` moving `bytes` at virtual time `time_ns`.
    pub fn record_request(&mut self, time_ns: u64, op: Op, bytes: u64) {
        let bucket = self.bucket_at(time_ns);
        match op {
            Op::Read => {
                bucket.read_requests = bucket.read_requests.saturating_add(1);
                bucket.read_bytes = bucket.read_bytes.saturating_add(bytes);
            }
            Op::Write => {
                bucket.write_requests = bucket.write_requests.saturating_add(1);
                bucket.write_bytes = bucket.write_bytes.saturating_add(bytes);
            }
        }
    }

    /// Counts `count` cleanings (dirty blocks written back) at virtual time `time_ns`.
    pub fn record_cleanings(&mut self, time_ns: u64, count: u64) {
        let bucket = self.bucket_at(time_ns);
        bucket.cleanings = bucket.cleanings.saturating_add(count);
    }

    /// Counts the cache's lookups (and hits) made since the previous call at virtual time
    /// `time_ns`. Once called, the series carries the hit columns.
    pub fn record_cache_lookups(&mut self, time_ns: u64, lookups: CacheLookups) {
        self.has_cache_lookups = true;
        self.bucket_at(time_ns).lookups.add(&lookups);
    }

    /// Samples the gauges at virtual time `time_ns`. Within a bucket the sample with the
    /// latest time wins (the last one given, on equal times), whatever order samples arrive in.
    pub fn sample_gauges(&mut self, time_ns: u64, dirty_blocks: u64, cached_blocks: u64) {
        let bucket = self.bucket_at(time_ns);
        let newer = match bucket.gauges {
            Some(previous) => time_ns >= previous.time_ns,
            None => true,
        };
        if newer {
            bucket.gauges = Some(GaugeSample {
                time_ns,
                dirty_blocks,
                cached_blocks,
            });
        }
    }

    /// Samples an md raid5 array's gauges at virtual time `time_ns`. Once called, the series
    /// carries the array's columns. Within a bucket the latest sample wins, as for the other
    /// gauges.
    pub fn sample_array(&mut self, time_ns: u64, gauges: ArrayGauges) {
        assert!(
            gauges.sync_done_sectors <= gauges.sync_total_sectors,
            "sync progress {} of {}",
            gauges.sync_done_sectors,
            gauges.sync_total_sectors
        );
        self.has_array = true;
        let bucket = self.bucket_at(time_ns);
        if bucket
            .array
            .is_none_or(|(previous_ns, _)| time_ns >= previous_ns)
        {
            bucket.array = Some((time_ns, gauges));
        }
    }

    /// Counts an md raid5 array's stripe writes since the previous call at `time_ns`: `rmw`
    /// by read-modify-write, `rcw` by reconstruct-write (full-stripe writes among them).
    pub fn record_stripe_writes(&mut self, time_ns: u64, rmw: u64, rcw: u64) {
        self.has_array = true;
        let bucket = self.bucket_at(time_ns);
        bucket.rmw = bucket.rmw.saturating_add(rmw);
        bucket.rcw = bucket.rcw.saturating_add(rcw);
    }

    /// The recorded series covering `[0, max(end_ns, last event))`, gauges carried forward.
    /// Buckets between the last event and `end_ns` are present and empty; if covering `end_ns`
    /// needs more than `bucket_count_max` buckets the result is coarsened like the recorder.
    pub fn data(&self, end_ns: u64) -> TimeSeriesData {
        let mut series = self.clone();
        if end_ns > 0 {
            // Touch the bucket holding the last instant before end_ns so it exists.
            series.bucket_at(end_ns - 1);
        }
        let bucket_count = u64::try_from(series.buckets.len()).unwrap_or(u64::MAX);
        let end_ns = match bucket_count.checked_sub(1) {
            None => 0,
            Some(last) => {
                let last_start_ns = last.saturating_mul(series.bucket_ns);
                if end_ns > last_start_ns {
                    end_ns
                } else {
                    // Events were recorded after end_ns: cover them whole.
                    last_start_ns.saturating_add(series.bucket_ns)
                }
            }
        };

        let mut data = TimeSeriesData {
            bucket_ns: series.bucket_ns,
            end_ns,
            ..TimeSeriesData::default()
        };
        let mut gauges = GaugeSample {
            time_ns: 0,
            dirty_blocks: 0,
            cached_blocks: 0,
        };
        let mut array = ArrayGauges::default();
        for bucket in &series.buckets {
            if let Some(sample) = bucket.gauges {
                gauges = sample;
            }
            if let Some((_, sample)) = bucket.array {
                array = sample;
            }
            if series.has_array {
                data.sync_done_sectors.push(array.sync_done_sectors);
                data.sync_total_sectors.push(array.sync_total_sectors);
                data.stripe_cache_active.push(array.stripe_cache_active);
                data.rmw.push(bucket.rmw);
                data.rcw.push(bucket.rcw);
            }
            data.read_requests.push(bucket.read_requests);
            data.write_requests.push(bucket.write_requests);
            data.read_bytes.push(bucket.read_bytes);
            data.write_bytes.push(bucket.write_bytes);
            data.cleanings.push(bucket.cleanings);
            data.dirty_blocks.push(gauges.dirty_blocks);
            data.cached_blocks.push(gauges.cached_blocks);
            if series.has_cache_lookups {
                data.cache_reads.push(bucket.lookups.reads);
                data.cache_read_hits.push(bucket.lookups.read_hits);
                data.cache_writes.push(bucket.lookups.writes);
                data.cache_write_hits.push(bucket.lookups.write_hits);
            }
        }
        debug_assert!(data.validate("time series").is_ok());
        data
    }

    fn bucket_at(&mut self, time_ns: u64) -> &mut Bucket {
        while time_ns / self.bucket_ns >= self.bucket_count_max as u64 {
            self.coarsen();
        }
        let index = (time_ns / self.bucket_ns) as usize;
        if index >= self.buckets.len() {
            self.buckets.resize(index + 1, Bucket::default());
        }
        assert!(self.buckets.len() <= self.bucket_count_max);
        &mut self.buckets[index]
    }

    /// Merges adjacent pairs of buckets and doubles the interval.
    fn coarsen(&mut self) {
        // The loop in bucket_at stops before this can overflow: once bucket_ns > u64::MAX / 2,
        // every time maps to bucket 0 or 1, and bucket_count_max >= 2.
        assert!(self.bucket_ns <= u64::MAX / 2, "bucket width overflow");
        let merged: Vec<Bucket> = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut bucket = pair[0];
                if let Some(later) = pair.get(1) {
                    bucket.absorb(later);
                }
                bucket
            })
            .collect();
        self.buckets = merged;
        self.bucket_ns *= 2;
    }
}

/// A recorded time series in columnar form, as stored in reports. Every column has one entry
/// per bucket; bucket `i` starts at `i * bucket_ns`; the last bucket ends at `end_ns`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSeriesData {
    /// Bucket width, in virtual ns.
    pub bucket_ns: u64,
    /// End of the recorded period, in virtual ns (`<= buckets * bucket_ns`).
    pub end_ns: u64,
    /// Completed read requests per bucket.
    pub read_requests: Vec<u64>,
    /// Completed write requests per bucket.
    pub write_requests: Vec<u64>,
    /// Bytes read per bucket.
    pub read_bytes: Vec<u64>,
    /// Bytes written per bucket.
    pub write_bytes: Vec<u64>,
    /// Cleanings (dirty blocks written back to the disk) per bucket.
    pub cleanings: Vec<u64>,
    /// Dirty cache blocks at the end of each bucket.
    pub dirty_blocks: Vec<u64>,
    /// Valid (cached) cache blocks at the end of each bucket.
    pub cached_blocks: Vec<u64>,
    /// Read requests the cache looked up per bucket (empty when the run had no cache).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_reads: Vec<u64>,
    /// Reads that hit a cached block. Counted when the hit is served, which for a read queued
    /// behind a busy block can fall in a later bucket than its lookup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_read_hits: Vec<u64>,
    /// Write requests the cache looked up per bucket (empty when the run had no cache).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_writes: Vec<u64>,
    /// Of those, writes that hit a cached block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_write_hits: Vec<u64>,
    /// An md raid5 array's running sync pass (check, repair, resync after a crash, or the
    /// recovery that rebuilds a spare) at the end of each bucket: member sectors done, and
    /// the pass's total (while none runs: the last finished pass complete, 0 of 0 before any).
    /// Empty when the run had no array.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_done_sectors: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_total_sectors: Vec<u64>,
    /// The array's stripe heads in use at the end of each bucket (md's
    /// `stripe_cache_active`). Empty when the run had no array.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stripe_cache_active: Vec<u64>,
    /// The array's stripe writes per bucket whose parity came by read-modify-write, and by
    /// reconstruct-write (full-stripe writes among them). Empty when the run had no array.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rmw: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rcw: Vec<u64>,
}

impl TimeSeriesData {
    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.read_requests.len()
    }

    /// True when there are no buckets.
    pub fn is_empty(&self) -> bool {
        self.read_requests.is_empty()
    }

    /// Start of bucket `index`, in ns.
    pub fn bucket_start_ns(&self, index: usize) -> u64 {
        (index as u64).saturating_mul(self.bucket_ns)
    }

    /// Real width of bucket `index` in ns: `bucket_ns`, except that the last bucket ends at
    /// `end_ns`. Never 0, so rates can divide by it.
    pub fn bucket_width_ns(&self, index: usize) -> u64 {
        let start = self.bucket_start_ns(index);
        let full_end = start.saturating_add(self.bucket_ns);
        let end = if index + 1 == self.len() {
            full_end.min(self.end_ns)
        } else {
            full_end
        };
        end.saturating_sub(start).max(1)
    }

    /// Checks that every column has one entry per bucket, `bucket_ns` is positive when there
    /// are buckets, and `end_ns` lies inside the last bucket. `context` names the file or run.
    pub fn validate(&self, context: &str) -> Result<(), ReportError> {
        let buckets = self.len();
        let columns: [(&str, usize); 6] = [
            ("write_requests", self.write_requests.len()),
            ("read_bytes", self.read_bytes.len()),
            ("write_bytes", self.write_bytes.len()),
            ("cleanings", self.cleanings.len()),
            ("dirty_blocks", self.dirty_blocks.len()),
            ("cached_blocks", self.cached_blocks.len()),
        ];
        let optional_columns: [(&str, usize); 4] = [
            ("cache_reads", self.cache_reads.len()),
            ("cache_read_hits", self.cache_read_hits.len()),
            ("cache_writes", self.cache_writes.len()),
            ("cache_write_hits", self.cache_write_hits.len()),
        ];
        let has_hits = optional_columns.iter().any(|&(_, length)| length > 0);
        let sync_columns: [(&str, usize); 5] = [
            ("sync_done_sectors", self.sync_done_sectors.len()),
            ("sync_total_sectors", self.sync_total_sectors.len()),
            ("stripe_cache_active", self.stripe_cache_active.len()),
            ("rmw", self.rmw.len()),
            ("rcw", self.rcw.len()),
        ];
        let has_sync = sync_columns.iter().any(|&(_, length)| length > 0);
        let required = columns
            .into_iter()
            .chain(optional_columns.into_iter().filter(|_| has_hits))
            .chain(sync_columns.into_iter().filter(|_| has_sync));
        for (name, length) in required {
            if length != buckets {
                return Err(ReportError::invalid(
                    context,
                    format!("time_series.{name}"),
                    format!("{length} entries, but read_requests has {buckets}"),
                ));
            }
        }
        if buckets > 0 {
            if self.bucket_ns == 0 {
                return Err(ReportError::invalid(
                    context,
                    "time_series.bucket_ns",
                    "must be positive",
                ));
            }
            if let Some(index) = (0..self.sync_done_sectors.len())
                .find(|&i| self.sync_done_sectors[i] > self.sync_total_sectors[i])
            {
                return Err(ReportError::invalid(
                    context,
                    format!("time_series.sync_done_sectors[{index}]"),
                    format!(
                        "{} sectors done of a pass of {}",
                        self.sync_done_sectors[index], self.sync_total_sectors[index]
                    ),
                ));
            }
            let last_start = self.bucket_start_ns(buckets - 1);
            let covered_end = last_start.saturating_add(self.bucket_ns);
            if self.end_ns <= last_start || self.end_ns > covered_end {
                return Err(ReportError::invalid(
                    context,
                    "time_series.end_ns",
                    format!(
                        "{} is outside the last bucket [{last_start}, {covered_end}]",
                        self.end_ns
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TimeSeriesData {
        fn to_json_for_test(&self) -> String {
            serde_json::to_string(self).expect("serialisable")
        }
    }

    #[test]
    fn counters_land_in_their_buckets() {
        let mut series = TimeSeries::new(1_000, 16);
        series.record_request(0, Op::Read, 4096);
        series.record_request(999, Op::Write, 512);
        series.record_request(1_000, Op::Read, 8192);
        series.record_cleanings(2_500, 3);
        let data = series.data(3_000);
        assert_eq!(data.bucket_ns, 1_000);
        assert_eq!(data.read_requests, vec![1, 1, 0]);
        assert_eq!(data.write_requests, vec![1, 0, 0]);
        assert_eq!(data.read_bytes, vec![4096, 8192, 0]);
        assert_eq!(data.write_bytes, vec![512, 0, 0]);
        assert_eq!(data.cleanings, vec![0, 0, 3]);
        assert_eq!(data.end_ns, 3_000);
        assert!(data.validate("test").is_ok());
    }

    #[test]
    fn gauges_keep_latest_sample_and_carry_forward() {
        let mut series = TimeSeries::new(100, 16);
        series.sample_gauges(50, 7, 70);
        series.sample_gauges(10, 1, 10); // earlier sample arriving late loses
        series.sample_gauges(250, 9, 90);
        let data = series.data(400);
        assert_eq!(data.dirty_blocks, vec![7, 7, 9, 9]);
        assert_eq!(data.cached_blocks, vec![70, 70, 90, 90]);
    }

    #[test]
    fn an_array_s_columns_are_gauges_and_counters_only_there_when_sampled() {
        let sync = |done, total, active| ArrayGauges {
            sync_done_sectors: done,
            sync_total_sectors: total,
            stripe_cache_active: active,
        };
        let mut series = TimeSeries::new(100, 4);
        series.record_request(10, Op::Read, 512);
        let data = series.data(100);
        assert!(data.sync_done_sectors.is_empty() && data.rmw.is_empty());
        series.sample_array(120, sync(8, 64, 3));
        series.sample_array(150, sync(16, 64, 5));
        series.sample_array(110, sync(0, 0, 9)); // earlier, arriving late: loses
        series.sample_array(390, sync(0, 0, 1)); // the pass ended
        series.record_stripe_writes(130, 2, 1);
        series.record_stripe_writes(180, 1, 0);
        series.record_stripe_writes(310, 0, 4);
        let data = series.data(400);
        assert_eq!(data.sync_done_sectors, vec![0, 16, 16, 0]);
        assert_eq!(data.sync_total_sectors, vec![0, 64, 64, 0]);
        assert_eq!(data.stripe_cache_active, vec![0, 5, 5, 1]);
        assert_eq!(data.rmw, vec![0, 3, 0, 0]);
        assert_eq!(data.rcw, vec![0, 1, 0, 4]);
        assert!(data.validate("test").is_ok());
        // Coarsening keeps the later sample and sums the counters.
        series.sample_array(420, sync(32, 64, 2));
        let data = series.data(450);
        assert_eq!(data.bucket_ns, 200);
        assert_eq!(data.sync_done_sectors, vec![16, 0, 32]);
        assert_eq!(data.rcw, vec![1, 4, 0]);
        let mut bad = data.clone();
        bad.sync_done_sectors[2] = 65;
        let error = bad.validate("run").unwrap_err().to_string();
        assert!(
            error.contains("time_series.sync_done_sectors[2]"),
            "{error}"
        );
        bad.sync_done_sectors.pop();
        let error = bad.validate("run").unwrap_err().to_string();
        assert!(error.contains("time_series.sync_done_sectors"), "{error}");
    }

    #[test]
    fn coarsening_bounds_memory_and_matches_coarse_recording() {
        let mut fine = TimeSeries::new(10, 8);
        let mut coarse = TimeSeries::new(40, 8);
        for step in 0..300u64 {
            let time = step + (step % 7) * 3;
            for series in [&mut fine, &mut coarse] {
                series.record_request(time, Op::Read, step);
                if step % 5 == 0 {
                    series.record_cleanings(time, 2);
                }
                series.sample_gauges(time, step % 11, step);
            }
            assert!(fine.len() <= 8);
        }
        // 300 ns + 18 of jitter at 10 ns needs 32 buckets: coarsened twice to 40 ns.
        assert_eq!(fine.bucket_ns(), 40);
        assert_eq!(fine.data(320), coarse.data(320));
        let data = fine.data(320);
        assert_eq!(data.read_requests.iter().sum::<u64>(), 300);
        assert_eq!(data.cleanings.iter().sum::<u64>(), 60 * 2);
        assert_eq!(data.len(), 8);
    }

    #[test]
    fn end_beyond_capacity_coarsens_the_snapshot_only() {
        let mut series = TimeSeries::new(10, 4);
        series.record_request(5, Op::Write, 1);
        let data = series.data(100);
        assert_eq!(data.bucket_ns, 40);
        assert_eq!(data.len(), 3);
        assert_eq!(data.end_ns, 100);
        assert_eq!(data.bucket_width_ns(2), 20);
        assert_eq!(series.bucket_ns(), 10, "the recorder itself is unchanged");
    }

    #[test]
    fn validate_names_the_bad_column() {
        let mut series = TimeSeries::new(10, 4);
        series.record_request(5, Op::Write, 1);
        let mut data = series.data(10);
        data.cleanings.push(1);
        let message = data.validate("run-a").unwrap_err().to_string();
        assert!(message.contains("run-a"), "{message}");
        assert!(message.contains("time_series.cleanings"), "{message}");
    }

    #[test]
    fn cache_lookups_are_columns_only_with_a_cache() {
        let mut plain = TimeSeries::new(100, 8);
        plain.record_request(10, Op::Read, 512);
        let data = plain.data(200);
        assert!(data.cache_reads.is_empty() && data.cache_write_hits.is_empty());
        assert!(!data.to_json_for_test().contains("cache_reads"));

        let mut cached = TimeSeries::new(100, 8);
        let lookups = |reads, read_hits| CacheLookups {
            reads,
            read_hits,
            writes: 1,
            write_hits: 0,
        };
        cached.record_cache_lookups(50, lookups(4, 3));
        cached.record_cache_lookups(60, lookups(2, 1));
        cached.record_cache_lookups(350, lookups(5, 5));
        let data = cached.data(400);
        assert_eq!(data.cache_reads, vec![6, 0, 0, 5]);
        assert_eq!(data.cache_read_hits, vec![4, 0, 0, 5]);
        assert_eq!(data.cache_writes, vec![2, 0, 0, 1]);
        assert!(data.validate("cached").is_ok());
        // Coarsening sums lookups like any counter.
        let mut small = TimeSeries::new(100, 2);
        small.record_cache_lookups(50, lookups(4, 3));
        small.record_cache_lookups(350, lookups(5, 5));
        assert_eq!(small.data(400).cache_read_hits, vec![3, 5]);
    }

    #[test]
    fn validate_names_a_short_hit_column() {
        let mut series = TimeSeries::new(10, 4);
        series.record_cache_lookups(5, CacheLookups::default());
        let mut data = series.data(20);
        assert!(data.validate("run-h").is_ok());
        data.cache_read_hits.pop();
        let message = data.validate("run-h").unwrap_err().to_string();
        assert!(message.contains("time_series.cache_read_hits"), "{message}");
        assert!(
            message.contains("1 entries, but read_requests has 2"),
            "{message}"
        );
    }

    #[test]
    fn empty_series_is_empty_and_valid() {
        let series = TimeSeries::new(10, 4);
        let data = series.data(0);
        assert!(data.is_empty());
        assert!(data.validate("empty").is_ok());
    }
}
