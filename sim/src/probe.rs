//! `dmsim devices probe`: the closed-loop microbenchmark of `dmsim_models::probe`, run through
//! a simulated device so its strict checks and content store take part. Writes carry stamps
//! (write id = request tag + 1).

use crate::device::{SimDevice, SimIo, WritePayload};
use dmsim_engine::block::Op;
use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_models::probe::{self, ProbeResult, ProbeSpec};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_core::RngCore;

/// A simulated device seen through the `TimingModel` interface the probe drives.
struct DeviceUnderProbe<'a> {
    device: &'a mut SimDevice,
    completions: Vec<crate::device::DeviceCompletion>,
}

impl TimingModel for DeviceUnderProbe<'_> {
    fn kind(&self) -> &'static str {
        self.device.model_kind()
    }
    fn capacity_sectors(&self) -> u64 {
        self.device.capacity_sectors()
    }
    fn logical_block_size(&self) -> u32 {
        self.device.logical_block_size()
    }
    fn volatile_write_cache(&self) -> bool {
        false
    }
    fn submit(&mut self, now_ns: u64, req: ModelRequest) {
        let op = match req.op {
            ModelOp::Read => Op::Read,
            ModelOp::Write => Op::Write,
            ModelOp::Flush => Op::Flush,
            ModelOp::Discard => Op::Discard,
        };
        let payload = if op == Op::Write {
            WritePayload::Contents(
                (0..u64::from(req.sectors))
                    .map(|i| {
                        SectorContent::Stamp(SectorStamp {
                            sector: req.sector + i,
                            write_id: req.tag + 1,
                        })
                    })
                    .collect(),
            )
        } else {
            WritePayload::None
        };
        let io = SimIo {
            tag: req.tag,
            op,
            sector: req.sector,
            sectors: req.sectors,
            fua: req.fua,
            payload,
        };
        if let Err(e) = self.device.submit(now_ns, io) {
            panic!("probe generated an IO the device refuses: {e}");
        }
    }
    fn next_event_ns(&self) -> Option<u64> {
        self.device.next_event_ns()
    }
    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
        self.completions.clear();
        self.device.advance(now_ns, &mut self.completions);
        out.extend(self.completions.iter().map(|c| ModelCompletion {
            tag: c.tag,
            done_ns: c.done_ns,
        }));
    }
    fn in_flight(&self) -> usize {
        self.device.in_flight()
    }
}

/// Run `spec` on `device` from `start_ns` with addresses drawn from `rng`.
pub fn run(
    device: &mut SimDevice,
    spec: &ProbeSpec,
    rng: &mut dyn RngCore,
    start_ns: u64,
) -> ProbeResult {
    let mut adapter = DeviceUnderProbe {
        device,
        completions: Vec::new(),
    };
    probe::run(&mut adapter, spec, rng, start_ns)
}
