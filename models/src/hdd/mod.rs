//! Mechanical disk model (in progress: parameters and DiskSim import first).

mod params;

pub use params::{
    BusParams, CacheParams, CommandOverheads, ControllerParams, ExtraWriteDisconnect,
    GeometryParams, HddParams, MechanicsParams, QueueParams, ReadAheadStop, SchedulerKind,
    SeekParams, SeekPoint, Sparing, SurfaceOrder, ZoneParams,
};

use crate::presets::PresetInfo;
use crate::{ModelCompletion, ModelError, ModelRequest, ModelRng, TimingModel};

/// Placeholder until the timing pipeline lands.
pub struct HddModel {
    params: HddParams,
}

impl HddModel {
    pub fn new(params: HddParams, _rng: ModelRng) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(HddModel { params })
    }
}

impl TimingModel for HddModel {
    fn kind(&self) -> &'static str {
        "hdd"
    }
    fn capacity_sectors(&self) -> u64 {
        self.params.geometry.exported_sectors.unwrap_or(0)
    }
    fn volatile_write_cache(&self) -> bool {
        self.params.cache.write_back
    }
    fn submit(&mut self, _now_ns: u64, _req: ModelRequest) {}
    fn next_event_ns(&self) -> Option<u64> {
        None
    }
    fn advance(&mut self, _now_ns: u64, _out: &mut Vec<ModelCompletion>) {}
    fn in_flight(&self) -> usize {
        0
    }
}

pub fn presets() -> Vec<(PresetInfo, HddParams)> {
    Vec::new()
}
