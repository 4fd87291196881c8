//! The observer every run drives with: the data oracle's checks (`OracleObserver`), plus the
//! request latencies, throughput and device IO counts of the run's report — the same on
//! simulated and real devices, since it sees only what crosses the engine boundary.

use crate::run_progress::RunProgress;
use dmsim_engine::block::{DeviceId, Extent, Op};
use dmsim_engine::io::{Input, Output};
use dmsim_engine::platform::DriveObserver;
use dmsim_engine::raid5::Raid5Stats;
use dmsim_engine::{Engine, TargetView};
use dmsim_reports::{ArrayGauges, RunRecorder, RunReport};
use dmsim_sim::oracle_observer::OracleObserver;
use std::collections::BTreeMap;

/// The write-id base of a run on real devices: a per-run nonce (high 32 bits), so stamps a
/// previous run left on the device never equal this run's. Real runs are not reproducible
/// anyway; simulated runs use base 0.
#[allow(clippy::disallowed_methods)] // wall clock as a nonce, real devices only
pub fn real_run_write_id_base() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    (nanos & 0xffff_ffff).max(1) << 32
}

/// See the module documentation.
pub struct Verifier {
    checks: OracleObserver,
    recorder: RunRecorder,
    /// The raid5 array's counters at the last sample.
    array_seen: Raid5Stats,
    /// The total of the array's last finished sync pass: idle samples show it complete.
    last_pass_total_sectors: Option<u64>,
}

impl Verifier {
    /// `device_names` in engine device order; `initial_contents_known` is false on a real
    /// device that held data before the run.
    pub fn new(device_names: &[&str], initial_contents_known: bool) -> Self {
        Verifier {
            checks: OracleObserver::new(initial_contents_known),
            // 1 ms buckets, coarsened as the run grows (bounded memory).
            recorder: RunRecorder::new(device_names, 1_000_000, 512),
            array_seen: Raid5Stats::default(),
            last_pass_total_sectors: None,
        }
    }

    /// Declare that `device` sector s holds volume sector s - `offset_sectors`.
    pub fn with_volume_device(mut self, device: DeviceId, offset_sectors: u64) -> Self {
        self.checks = self.checks.with_volume_device(device, offset_sectors);
        self
    }

    pub fn first_data_error(&self) -> Option<String> {
        self.checks.data_errors().first().map(|e| e.to_string())
    }

    pub fn failed_bios(&self) -> u64 {
        self.checks.failed_bios()
    }

    /// Bios completed so far.
    pub fn bios_done(&self) -> u64 {
        self.checks.bios_done()
    }

    /// What the run has done so far, for a progress display: the bios, and the sync pass of
    /// an md raid5 array stacked in `engine`, if one runs.
    pub fn run_progress(&self, engine: &Engine) -> RunProgress {
        let array_sync = engine
            .stacked_targets()
            .into_iter()
            .find_map(|(_, view)| match view {
                TargetView::Raid5 { machine } => machine.sync_progress(),
                _ => None,
            });
        RunProgress {
            bios_done: self.bios_done(),
            array_sync,
        }
    }

    /// The recorder, for samples the verifier cannot see (cache gauges, cleanings).
    pub fn recorder_mut(&mut self) -> &mut RunRecorder {
        &mut self.recorder
    }

    /// Samples the md raid5 array stacked in `engine`, if there is one, at `time_ns`: its sync
    /// pass (check, repair, resync, recovery), stripe cache use, and rmw and rcw stripe writes
    /// since the previous sample. Once a pass has ended, idle samples show it complete (its
    /// line stays at 100 % until another pass starts).
    pub fn sample_array(&mut self, time_ns: u64, engine: &Engine) {
        let Some(machine) = engine
            .stacked_targets()
            .into_iter()
            .find_map(|(_, view)| match view {
                TargetView::Raid5 { machine } => Some(machine),
                _ => None,
            })
        else {
            return;
        };
        let stats = machine.stats();
        let ended = stats.sync_passes > self.array_seen.sync_passes;
        if ended {
            self.last_pass_total_sectors = Some(machine.geometry().member_sectors());
        }
        // After a pass ends, idle samples show it complete until the next one runs: a
        // sample as idle could otherwise replace the completed one in the same bucket and
        // stop the line short of 100 % (seen on a real array: 3248 of 4096).
        let (done, total) = match (machine.sync_progress(), self.last_pass_total_sectors) {
            (Some(progress), _) => progress,
            (None, Some(total)) => (total, total),
            (None, None) => (0, 0),
        };
        self.recorder.sample_array(
            time_ns,
            ArrayGauges {
                sync_done_sectors: done,
                sync_total_sectors: total,
                stripe_cache_active: machine.stripe_cache_active() as u64,
            },
        );
        self.recorder.record_stripe_writes(
            time_ns,
            stats.rmw.saturating_sub(self.array_seen.rmw),
            stats.rcw.saturating_sub(self.array_seen.rcw),
        );
        self.array_seen = stats;
    }

    /// The run's report, with the oracle's figures filled in.
    pub fn finish(
        self,
        label: &str,
        config: serde_json::Value,
        stats: BTreeMap<String, u64>,
        end_ns: u64,
    ) -> RunReport {
        let mut report = self.recorder.finish(label, config, stats, end_ns);
        report.verified_reads = self.checks.oracle().verified_reads();
        report.data_errors = self.checks.data_error_count();
        report
    }
}

impl DriveObserver for Verifier {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.checks.on_input(now_ns, input);
    }

    fn on_output(&mut self, now_ns: u64, output: &Output) {
        match output {
            Output::BioDone(done) => {
                let bio = self.checks.bio_done(done);
                let bytes = u64::from(bio.sectors) * 512;
                let op = match bio.op {
                    Op::Read => dmsim_reports::Op::Read,
                    Op::Write => dmsim_reports::Op::Write,
                    Op::Flush | Op::Discard => return,
                };
                self.recorder
                    .record_request(op, bio.submit_ns, now_ns, bytes);
            }
            Output::Submit(io) => {
                let bytes = u64::from(io.sectors) * 512;
                let op = match io.op {
                    Op::Read => dmsim_reports::Op::Read,
                    Op::Write => dmsim_reports::Op::Write,
                    Op::Flush | Op::Discard => return,
                };
                self.recorder
                    .record_device_io(usize::from(io.device.0), op, bytes);
            }
            _ => {}
        }
    }

    fn on_contents_unknown(&mut self, now_ns: u64, device: DeviceId, extent: Extent) {
        self.checks.on_contents_unknown(now_ns, device, extent);
    }
}
