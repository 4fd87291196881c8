//! Flash SSD model (placeholder until the SSD model lands).

use crate::presets::PresetInfo;
use crate::{ModelCompletion, ModelError, ModelRequest, ModelRng, TimingModel};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SsdParams {
    pub capacity_sectors: u64,
}

pub struct SsdModel {
    params: SsdParams,
}

impl SsdModel {
    pub fn new(params: SsdParams, _rng: ModelRng) -> Result<Self, ModelError> {
        Ok(SsdModel { params })
    }
}

impl TimingModel for SsdModel {
    fn kind(&self) -> &'static str {
        "ssd"
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

pub fn presets() -> Vec<(PresetInfo, SsdParams)> {
    Vec::new()
}
