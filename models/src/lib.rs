//! dmsim-models: timing models of storage devices.
//!
//! A model answers one question for every request: when does it complete. It is a small
//! discrete-event machine of its own, driven by the simulator through [`TimingModel`]:
//! requests arrive with [`TimingModel::submit`], the simulator asks when the model next has
//! something to do ([`TimingModel::next_event_ns`]) and lets it run up to a time
//! ([`TimingModel::advance`]), collecting completions. Models store no data (that is the
//! simulated device's job in `dmsim-sim`) and read no clock; their only randomness comes
//! from the seeded stream they are constructed with.
//!
//! Map: [`hdd`] (mechanical disk), [`ssd`] (flash), [`ram`] (near-zero latency),
//! [`disksim`] (DiskSim 4.0 parameter import), [`presets`] (named devices with sources).

pub mod disksim;
pub mod hdd;
pub mod presets;
pub mod probe;
pub mod ram;
pub mod ssd;

use serde::{Deserialize, Serialize};

/// Seeded randomness handed to a model at construction (one ChaCha stream per device).
pub type ModelRng = Box<dyn rand_core::RngCore + Send>;

/// What a request asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelOp {
    Read,
    Write,
    Flush,
    Discard,
}

/// One request as the timing model sees it: no data, only its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelRequest {
    /// Chosen by the caller; returned unchanged in the completion. Unique among requests in
    /// flight in one model.
    pub tag: u64,
    pub op: ModelOp,
    /// First 512-byte sector.
    pub sector: u64,
    /// Length in 512-byte sectors (0 only for Flush).
    pub sectors: u32,
    /// Force unit access: the write must reach stable media before it completes.
    pub fua: bool,
}

/// A request the model has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCompletion {
    pub tag: u64,
    /// Virtual time at which the request completed, in ns.
    pub done_ns: u64,
}

/// A device timing model. Calling obligations:
/// - `now_ns` never decreases across calls to `submit` and `advance`.
/// - The caller calls `advance(t)` for every `t` returned by `next_event_ns` (or later), and
///   before `submit` at a time later than a pending event.
/// - Completions come out of `advance` in non-decreasing `done_ns`, each `done_ns <= now_ns`.
pub trait TimingModel: Send {
    /// Short name of the model kind ("hdd", "ssd", "ram").
    fn kind(&self) -> &'static str;
    /// Capacity in 512-byte sectors.
    fn capacity_sectors(&self) -> u64;
    /// The smallest IO unit in bytes (alignment the simulated device enforces).
    fn logical_block_size(&self) -> u32 {
        512
    }
    /// True if writes may be acknowledged from a volatile cache that only FLUSH/FUA make
    /// durable.
    fn volatile_write_cache(&self) -> bool;
    /// Accept a request arriving at `now_ns`.
    fn submit(&mut self, now_ns: u64, req: ModelRequest);
    /// Earliest virtual time at which the model has work to do, if it has any.
    fn next_event_ns(&self) -> Option<u64>;
    /// Run the model up to and including `now_ns`, appending finished requests to `out`.
    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>);
    /// Number of requests submitted and not yet completed.
    fn in_flight(&self) -> usize;
    /// Put the device, without time passing, in the state of one whose first `span_sectors`
    /// were written sequentially (a filled SSD maps them; a disk has nothing to change).
    /// Call before the first request.
    fn precondition(&mut self, span_sectors: u64) {
        let _ = span_sectors;
    }
}

/// Errors building a model from parameters.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown device preset '{name}'; known presets: {known}")]
    UnknownPreset { name: String, known: String },
    #[error("invalid parameter '{key}': {reason}")]
    InvalidParameter { key: String, reason: String },
    #[error(transparent)]
    DiskSim(#[from] disksim::DiskSimError),
}
