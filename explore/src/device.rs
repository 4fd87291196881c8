//! The explorer's simulated device: a RAM model with a logical block size of its own (512
//! bytes or 4 KiB). A 4 KiB-sector device refuses IO that is not whole 4 KiB blocks (the
//! simulated device checks it, strictly), so the engine must round what it splits and
//! refuse misaligned bios at the volume.

use crate::spec::DeviceChoice;
use dmsim_models::ram::RamModel;
use dmsim_models::{ModelCompletion, ModelRequest, TimingModel};

/// [`RamModel`] with `logical_block_size` bytes per logical block.
pub struct RamDevice {
    ram: RamModel,
    logical_block_size: u32,
}

impl RamDevice {
    pub fn new(choice: &DeviceChoice) -> RamDevice {
        RamDevice {
            ram: RamModel::new(choice.ram.clone()),
            logical_block_size: choice.logical_block_size,
        }
    }
}

impl TimingModel for RamDevice {
    fn kind(&self) -> &'static str {
        self.ram.kind()
    }
    fn capacity_sectors(&self) -> u64 {
        self.ram.capacity_sectors()
    }
    fn logical_block_size(&self) -> u32 {
        self.logical_block_size
    }
    fn volatile_write_cache(&self) -> bool {
        self.ram.volatile_write_cache()
    }
    fn submit(&mut self, now_ns: u64, req: ModelRequest) {
        self.ram.submit(now_ns, req)
    }
    fn next_event_ns(&self) -> Option<u64> {
        self.ram.next_event_ns()
    }
    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
        self.ram.advance(now_ns, out)
    }
    fn in_flight(&self) -> usize {
        self.ram.in_flight()
    }
    fn precondition(&mut self, span_sectors: u64) {
        self.ram.precondition(span_sectors)
    }
}
