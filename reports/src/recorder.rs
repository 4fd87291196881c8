//! The metrics recorder a run feeds as it goes, turned into a [`RunReport`] at the end.
//!
//! Owns the bookkeeping that ties latencies, the time series, per-device IO and throughput
//! together so that every run counts them the same way. It deliberately does not know where
//! events come from (sim or real platform) nor read flashcache's counters: the caller hands
//! those over in [`RunRecorder::finish`].

use std::collections::BTreeMap;

use crate::latency::{LatencyRecorder, Op};
use crate::run_report::{DeviceReport, RunReport, Throughput};
use crate::time_series::{ArrayGauges, CacheLookups, TimeSeries};

/// Collects one run's metrics (see the module doc).
#[derive(Clone, Debug)]
pub struct RunRecorder {
    latency: LatencyRecorder,
    time_series: TimeSeries,
    devices: Vec<DeviceReport>,
    requests: u64,
    bytes: u64,
    last_event_ns: u64,
}

impl RunRecorder {
    /// A recorder for a run with the given devices (index `i` of `device_names` is device `i`
    /// in [`RunRecorder::record_device_io`]) and a time series starting with `bucket_ns`
    /// buckets, never holding more than `bucket_count_max`.
    ///
    /// # Panics
    /// As [`TimeSeries::new`].
    pub fn new(device_names: &[&str], bucket_ns: u64, bucket_count_max: usize) -> Self {
        RunRecorder {
            latency: LatencyRecorder::new(),
            time_series: TimeSeries::new(bucket_ns, bucket_count_max),
            devices: device_names
                .iter()
                .map(|name| DeviceReport {
                    name: (*name).to_string(),
                    ..DeviceReport::default()
                })
                .collect(),
            requests: 0,
            bytes: 0,
            last_event_ns: 0,
        }
    }

    /// Records a request of `op` moving `bytes`, issued at `issue_ns` and completed at
    /// `completion_ns` (virtual or monotonic ns since the run started). It counts towards
    /// throughput in the bucket of its completion.
    ///
    /// # Panics
    /// If it completes before it was issued (a platform bug).
    pub fn record_request(&mut self, op: Op, issue_ns: u64, completion_ns: u64, bytes: u64) {
        assert!(
            completion_ns >= issue_ns,
            "request completed at {completion_ns} ns before its issue at {issue_ns} ns"
        );
        self.latency.record(op, completion_ns - issue_ns);
        self.time_series.record_request(completion_ns, op, bytes);
        self.requests = self.requests.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
        self.last_event_ns = self.last_event_ns.max(completion_ns);
    }

    /// Records one IO of `op` moving `bytes` on device `device`.
    ///
    /// # Panics
    /// If `device` is not an index into the names given to [`RunRecorder::new`].
    pub fn record_device_io(&mut self, device: usize, op: Op, bytes: u64) {
        let count = self.devices.len();
        let Some(report) = self.devices.get_mut(device) else {
            panic!("device index {device} out of range: the run has {count} devices");
        };
        match op {
            Op::Read => {
                report.reads = report.reads.saturating_add(1);
                report.bytes_read = report.bytes_read.saturating_add(bytes);
            }
            Op::Write => {
                report.writes = report.writes.saturating_add(1);
                report.bytes_written = report.bytes_written.saturating_add(bytes);
            }
        }
    }

    /// Records `count` cleanings (dirty blocks written back) completed at `time_ns`.
    pub fn record_cleanings(&mut self, time_ns: u64, count: u64) {
        self.time_series.record_cleanings(time_ns, count);
        self.last_event_ns = self.last_event_ns.max(time_ns);
    }

    /// Counts the cache's lookups and hits made since the previous call, at `time_ns`.
    pub fn record_cache_lookups(&mut self, time_ns: u64, lookups: CacheLookups) {
        self.time_series.record_cache_lookups(time_ns, lookups);
        self.last_event_ns = self.last_event_ns.max(time_ns);
    }

    /// Samples the cache gauges at `time_ns` (call whenever they change, or periodically).
    pub fn sample_gauges(&mut self, time_ns: u64, dirty_blocks: u64, cached_blocks: u64) {
        self.time_series
            .sample_gauges(time_ns, dirty_blocks, cached_blocks);
        self.last_event_ns = self.last_event_ns.max(time_ns);
    }

    /// Samples an md raid5 array's gauges at `time_ns`.
    pub fn sample_array(&mut self, time_ns: u64, gauges: ArrayGauges) {
        self.time_series.sample_array(time_ns, gauges);
        self.last_event_ns = self.last_event_ns.max(time_ns);
    }

    /// Counts an md raid5 array's rmw and rcw stripe writes since the previous call.
    pub fn record_stripe_writes(&mut self, time_ns: u64, rmw: u64, rcw: u64) {
        self.time_series.record_stripe_writes(time_ns, rmw, rcw);
        self.last_event_ns = self.last_event_ns.max(time_ns);
    }

    /// Latencies recorded so far.
    pub fn latency(&self) -> &LatencyRecorder {
        &self.latency
    }

    /// The finished report. The run's duration is `end_ns`, extended to the last recorded
    /// event if that came later (+1 ns so the event lies inside the period).
    pub fn finish(
        self,
        label: &str,
        config: serde_json::Value,
        stats: BTreeMap<String, u64>,
        end_ns: u64,
    ) -> RunReport {
        let has_events = self.requests > 0 || !self.time_series.is_empty();
        let end_ns = if has_events {
            end_ns.max(self.last_event_ns.saturating_add(1))
        } else {
            end_ns
        };
        let throughput = Throughput::new(self.requests, self.bytes, end_ns);
        RunReport {
            label: label.to_string(),
            requests: throughput.requests,
            iops: throughput.requests_per_s,
            bytes: throughput.bytes,
            verified_reads: 0,
            data_errors: 0,
            config,
            stats,
            latency: self.latency.report(),
            devices: self.devices,
            throughput,
            time_series: self.time_series.data(end_ns),
            spec: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_builds_a_consistent_report() {
        let mut recorder = RunRecorder::new(&["ssd", "hdd"], 1_000_000, 32);
        recorder.record_request(Op::Read, 0, 200_000, 4096);
        recorder.record_request(Op::Write, 500_000, 5_500_000, 8192);
        recorder.record_device_io(0, Op::Read, 4096);
        recorder.record_device_io(1, Op::Write, 8192);
        recorder.record_cleanings(3_000_000, 2);
        recorder.sample_gauges(4_000_000, 3, 10);
        let report = recorder.finish("r", serde_json::json!({}), BTreeMap::new(), 8_000_000);
        assert_eq!(report.latency.read.p50_ns, 200_000);
        assert_eq!(report.latency.write.max_ns, 5_000_000);
        assert_eq!(report.throughput.requests, 2);
        assert_eq!(report.throughput.bytes, 12_288);
        assert_eq!(report.throughput.duration_ns, 8_000_000);
        assert_eq!(report.devices[0].bytes_read, 4096);
        assert_eq!(report.devices[1].writes, 1);
        assert_eq!(report.time_series.len(), 8);
        assert_eq!(report.time_series.write_requests[5], 1);
        assert_eq!(report.time_series.cleanings[3], 2);
        assert_eq!(report.time_series.dirty_blocks[7], 3);
        assert!(report.validate("test").is_ok());
    }

    #[test]
    fn duration_extends_to_the_last_event() {
        let mut recorder = RunRecorder::new(&[], 1_000, 8);
        recorder.record_request(Op::Read, 0, 2_500, 512);
        let report = recorder.finish("r", serde_json::Value::Null, BTreeMap::new(), 1_000);
        assert_eq!(report.throughput.duration_ns, 2_501);
        assert!(report.time_series.validate("test").is_ok());
    }
}
