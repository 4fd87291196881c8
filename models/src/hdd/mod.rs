//! Mechanical disk model (placeholder until the HDD model lands).

use crate::presets::PresetInfo;
use crate::{ModelCompletion, ModelError, ModelRequest, ModelRng, TimingModel};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HddParams {
    pub capacity_sectors: u64,
}

pub struct HddModel {
    params: HddParams,
}

impl HddModel {
    pub fn new(params: HddParams, _rng: ModelRng) -> Result<Self, ModelError> {
        Ok(HddModel { params })
    }
}

impl TimingModel for HddModel {
    fn kind(&self) -> &'static str {
        "hdd"
    }
    fn capacity_sectors(&self) -> u64 {
        self.params.capacity_sectors
    }
    fn volatile_write_cache(&self) -> bool {
        false
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
