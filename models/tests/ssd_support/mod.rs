//! Helpers shared by the SSD integration tests: building models and running probes.
#![allow(dead_code)]

use dmsim_models::probe::{run, Pattern, ProbeResult, ProbeSpec};
use dmsim_models::ssd::{presets, Allocation, SsdModel, SsdParams};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_chacha::rand_core::SeedableRng;

pub const GIB: u64 = 1 << 30;

pub fn model_with_seed(params: SsdParams, seed: u64) -> SsdModel {
    SsdModel::new(
        params,
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
    )
    .expect("valid parameters")
}

pub fn model(params: SsdParams) -> SsdModel {
    model_with_seed(params, 7)
}

/// A model whose first `span_bytes` are written (preconditioned), and that span in sectors.
pub fn preconditioned(params: SsdParams, span_bytes: u64) -> (SsdModel, u64) {
    let mut m = model(params);
    let capacity = m.capacity_sectors() * 512;
    assert!(span_bytes <= capacity);
    // A hair over the span so rounding never leaves its last unit unwritten.
    m.precondition((span_bytes as f64 / capacity as f64 * 1.000_001).min(1.0));
    (m, span_bytes / 512)
}

/// Run a probe from the model's current time; `seed` picks the addresses.
pub fn probe(
    m: &mut SsdModel,
    seed: u64,
    pattern: Pattern,
    queue_depth: u32,
    block_bytes: u32,
    span_sectors: Option<u64>,
    measured: u64,
) -> ProbeResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let spec = ProbeSpec {
        pattern,
        block_bytes,
        queue_depth,
        warmup_requests: measured / 10,
        measured_requests: measured,
        span_sectors,
    };
    let start = m.now_ns();
    run(m, &spec, &mut rng, start)
}

/// A drive small enough to fill and churn in a debug test: 2 channels × 1 chip × 1 die ×
/// 2 planes × 64 blocks × 32 pages of 4 KiB (32 MiB raw), 15 % spare, GC at 5 % free, no
/// write buffer, whole mapping table resident, striped allocation. MQSim flash timing.
pub fn small_drive() -> SsdParams {
    let mut p = presets::mqsim_default();
    p.geometry.channels = 2;
    p.geometry.chips_per_channel = 1;
    p.geometry.dies_per_chip = 1;
    p.geometry.planes_per_die = 2;
    p.geometry.blocks_per_plane = 64;
    p.geometry.pages_per_block = 32;
    p.geometry.page_bytes = 4096;
    p.ftl.overprovisioning = 0.15;
    // Pages fill in any plane and buffered data is read back out of DRAM, as on a generic
    // drive (the preset's MQSim-specific choices are pinned in ssd_mqsim*.rs).
    p.ftl.allocation = Allocation::Striped;
    p.write_buffer.destage_reads_dram = true;
    p.write_buffer.enabled = false;
    p.mapping_cache.capacity_bytes = 0;
    p
}

pub fn request(tag: u64, op: ModelOp, sector: u64, sectors: u32, fua: bool) -> ModelRequest {
    ModelRequest {
        tag,
        op,
        sector,
        sectors,
        fua,
    }
}

/// Drive the model until nothing is in flight; returns the completions in order, checking
/// the trait's promises (non-decreasing times, none in the future).
pub fn drain(m: &mut SsdModel) -> Vec<ModelCompletion> {
    let mut all = Vec::new();
    let mut out = Vec::new();
    while m.in_flight() > 0 {
        let t = m.next_event_ns().expect("work in flight has a next event");
        assert!(t >= m.now_ns());
        out.clear();
        m.advance(t, &mut out);
        for c in &out {
            assert!(c.done_ns <= t, "completion in the future");
            if let Some(last) = all.last() {
                let last: &ModelCompletion = last;
                assert!(c.done_ns >= last.done_ns, "completions out of order");
            }
        }
        all.extend_from_slice(&out);
    }
    all
}

/// Submit one request at the model's current time and run until it completes; returns its
/// latency in ns.
pub fn one(m: &mut SsdModel, op: ModelOp, sector: u64, sectors: u32, fua: bool) -> u64 {
    let start = m.now_ns();
    m.submit(start, request(0, op, sector, sectors, fua));
    let done = drain(m);
    assert_eq!(done.len(), 1);
    done[0].done_ns - start
}

/// Let background work (buffer destaging, GC) finish.
pub fn settle(m: &mut SsdModel) {
    let mut out = Vec::new();
    while let Some(t) = m.next_event_ns() {
        m.advance(t, &mut out);
    }
    assert!(out.is_empty(), "settling completed host requests");
}
