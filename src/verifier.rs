//! The observer every run drives with: it checks each read with the data oracle, records
//! request latencies and throughput, and counts device IO — the same on simulated and real
//! devices, since it sees only what crosses the engine boundary.

use dmsim_engine::block::{DeviceId, Extent, IoStatus, Op};
use dmsim_engine::content::SectorContent;
use dmsim_engine::io::{BioDone, Input, Output};
use dmsim_engine::platform::DriveObserver;
use dmsim_reports::{RunRecorder, RunReport};
use dmsim_sim::oracle::Oracle;
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

/// A bio seen entering the engine.
struct InFlightBio {
    op: Op,
    sector: u64,
    sectors: u32,
    submit_ns: u64,
    /// Oracle mark (reads) or write id (writes).
    mark: u64,
}

/// See the module documentation.
pub struct Verifier {
    oracle: Oracle,
    recorder: RunRecorder,
    in_flight: BTreeMap<u64, InFlightBio>,
    data_errors: u64,
    first_data_error: Option<String>,
    failed_bios: u64,
    /// The device whose sector s is volume sector s - offset (linear's device, flashcache's
    /// disk): a late write there makes that volume range unknown to the oracle.
    volume_device: Option<(DeviceId, u64)>,
    bios_done: u64,
}

impl Verifier {
    /// `device_names` in engine device order; `initial_contents_known` is false on a real
    /// device that held data before the run.
    pub fn new(device_names: &[&str], initial_contents_known: bool) -> Self {
        Verifier {
            oracle: Oracle::new(initial_contents_known),
            // 1 ms buckets, coarsened as the run grows (bounded memory).
            recorder: RunRecorder::new(device_names, 1_000_000, 512),
            in_flight: BTreeMap::new(),
            data_errors: 0,
            first_data_error: None,
            failed_bios: 0,
            volume_device: None,
            bios_done: 0,
        }
    }

    /// Declare that `device` sector s holds volume sector s - `offset_sectors`.
    pub fn with_volume_device(mut self, device: DeviceId, offset_sectors: u64) -> Self {
        self.volume_device = Some((device, offset_sectors));
        self
    }

    pub fn first_data_error(&self) -> Option<&str> {
        self.first_data_error.as_deref()
    }

    pub fn failed_bios(&self) -> u64 {
        self.failed_bios
    }

    /// The recorder, for samples the verifier cannot see (cache gauges, cleanings).
    pub fn recorder_mut(&mut self) -> &mut RunRecorder {
        &mut self.recorder
    }

    /// Bios completed so far.
    pub fn bios_done(&self) -> u64 {
        self.bios_done
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
        report.verified_reads = self.oracle.verified_reads();
        report.data_errors = self.data_errors;
        report
    }

    fn bio_done(&mut self, now_ns: u64, done: &BioDone) {
        let bio = self
            .in_flight
            .remove(&done.id.0)
            .expect("a bio completes once, after it was submitted");
        self.bios_done += 1;
        let ok = done.status == IoStatus::Ok;
        if !ok {
            self.failed_bios += 1;
        }
        match bio.op {
            Op::Write => self.oracle.write_done(bio.mark, ok),
            // Unknown from submission to completion: a write acknowledged meanwhile may still
            // be zeroed by the discard landing after it.
            Op::Discard => self
                .oracle
                .contents_unknown(bio.sector, u64::from(bio.sectors)),
            Op::Read if ok => {
                if let Err(e) = self
                    .oracle
                    .read_done(done.id.0, bio.mark, bio.sector, &done.data)
                {
                    self.data_errors += 1;
                    if self.first_data_error.is_none() {
                        self.first_data_error = Some(e.to_string());
                    }
                }
            }
            _ => {}
        }
        let bytes = u64::from(bio.sectors) * 512;
        match bio.op {
            Op::Read => {
                self.recorder
                    .record_request(dmsim_reports::Op::Read, bio.submit_ns, now_ns, bytes)
            }
            Op::Write => {
                self.recorder
                    .record_request(dmsim_reports::Op::Write, bio.submit_ns, now_ns, bytes)
            }
            Op::Flush | Op::Discard => {}
        }
    }
}

impl DriveObserver for Verifier {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        if let Input::Bio(bio) = input {
            let mark = match bio.op {
                Op::Write => {
                    // The id the workload stamped into the data (see RecordSource).
                    let write_id = match bio.data.first() {
                        Some(SectorContent::Stamp(stamp)) => stamp.write_id,
                        _ => panic!("bio {} writes unstamped data", bio.id.0),
                    };
                    self.oracle
                        .write_submitted(write_id, bio.sector, u64::from(bio.sectors));
                    write_id
                }
                Op::Read => self.oracle.read_started(),
                Op::Discard => {
                    // A discard may or may not drop data (flashcache ignores it): unknown.
                    self.oracle
                        .contents_unknown(bio.sector, u64::from(bio.sectors));
                    0
                }
                Op::Flush => 0,
            };
            self.in_flight.insert(
                bio.id.0,
                InFlightBio {
                    op: bio.op,
                    sector: bio.sector,
                    sectors: bio.sectors,
                    submit_ns: now_ns,
                    mark,
                },
            );
        }
    }

    fn on_output(&mut self, now_ns: u64, output: &Output) {
        match output {
            Output::BioDone(done) => self.bio_done(now_ns, done),
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

    fn on_contents_unknown(&mut self, _now_ns: u64, device: DeviceId, extent: Extent) {
        if let Some((volume_device, offset)) = self.volume_device {
            if device == volume_device && extent.end() > offset {
                let start = extent.sector.max(offset);
                self.oracle
                    .contents_unknown(start - offset, extent.end() - start);
            }
        }
    }
}
