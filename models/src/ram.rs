//! The `ram` device: near-zero, fixed latency and unlimited parallelism. Used to isolate
//! engine behaviour from device timing.

use crate::{ModelCompletion, ModelRequest, TimingModel};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Parameters of the `ram` device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RamParams {
    pub capacity_sectors: u64,
    /// Fixed service time of every request, in ns.
    pub latency_ns: u64,
    /// Acknowledge writes from a volatile cache that only FLUSH/FUA make durable.
    #[serde(default)]
    pub volatile_write_cache: bool,
}

impl Default for RamParams {
    fn default() -> Self {
        RamParams {
            capacity_sectors: 64 << 21, // 64 GiB
            latency_ns: 1_000,
            volatile_write_cache: false,
        }
    }
}

/// A device that completes every request `latency_ns` after it arrives.
pub struct RamModel {
    params: RamParams,
    /// (done_ns, arrival sequence, tag): the sequence keeps equal-time completions in
    /// arrival order.
    pending: BinaryHeap<Reverse<(u64, u64, u64)>>,
    arrivals: u64,
}

impl RamModel {
    pub fn new(params: RamParams) -> Self {
        RamModel {
            params,
            pending: BinaryHeap::new(),
            arrivals: 0,
        }
    }
}

impl TimingModel for RamModel {
    fn kind(&self) -> &'static str {
        "ram"
    }
    fn capacity_sectors(&self) -> u64 {
        self.params.capacity_sectors
    }
    fn volatile_write_cache(&self) -> bool {
        self.params.volatile_write_cache
    }
    fn submit(&mut self, now_ns: u64, req: ModelRequest) {
        self.arrivals += 1;
        self.pending.push(Reverse((
            now_ns + self.params.latency_ns,
            self.arrivals,
            req.tag,
        )));
    }
    fn next_event_ns(&self) -> Option<u64> {
        self.pending.peek().map(|Reverse((t, _, _))| *t)
    }
    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
        while let Some(Reverse((t, _, tag))) = self.pending.peek().copied() {
            if t > now_ns {
                break;
            }
            self.pending.pop();
            out.push(ModelCompletion { tag, done_ns: t });
        }
    }
    fn in_flight(&self) -> usize {
        self.pending.len()
    }
}
