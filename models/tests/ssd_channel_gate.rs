//! `flash.start_on_idle_channel`: a chip picks its next operation only once its channel
//! carries no transfer (MQSim's TSU issues commands on an idle channel only), so a read that
//! arrives while the channel is busy still goes ahead of a program queued before it.

mod ssd_support;

use dmsim_models::ssd::{presets, SsdParams};
use dmsim_models::{ModelCompletion, ModelOp, TimingModel};
use ssd_support::*;

/// 16 sectors (8 KiB) per logical page; under static allocation logical page `g` lives on
/// channel `g % 8`, chip `(g / 8) % 4`, die `(g / 32) % 2`.
const PAGE_SECTORS: u64 = 16;

fn params(gated: bool) -> SsdParams {
    let mut p = presets::mqsim_default();
    p.write_buffer.enabled = false;
    // Resident mapping table: no translation reads in the way.
    p.mapping_cache.capacity_bytes = 0;
    p.flash.start_on_idle_channel = gated;
    p
}

/// Write logical page 0 (chip 0) at 0 and logical page 8 (chip 1, same channel) at 1 µs,
/// then read logical page 40 (chip 1, other die) at 20 µs, while the first write's data
/// still occupies the channel. Returns the read's latency in µs.
fn read_latency_us(gated: bool) -> f64 {
    let mut m = model(params(gated));
    m.precondition_extents([(40 * PAGE_SECTORS, 16)]);
    let mut out: Vec<ModelCompletion> = Vec::new();
    let mut at = |m: &mut dmsim_models::ssd::SsdModel, t: u64, tag: u64, op, page: u64| {
        out.clear();
        m.advance(t, &mut out);
        assert!(out.is_empty(), "nothing completes this early");
        m.submit(t, request(tag, op, page * PAGE_SECTORS, 16, false));
    };
    at(&mut m, 0, 0, ModelOp::Write, 0);
    at(&mut m, 1_000, 1, ModelOp::Write, 8);
    at(&mut m, 20_000, 2, ModelOp::Read, 40);
    let done = drain(&mut m);
    m.check_invariants();
    let read = done.iter().find(|c| c.tag == 2).expect("read completed");
    (read.done_ns - 20_000) as f64 / 1000.0
}

#[test]
fn a_read_overtakes_a_program_that_waited_for_the_channel() {
    let gated = read_latency_us(true);
    let ungated = read_latency_us(false);
    // Gated: chip 1 chooses when the channel frees (~31 µs) and takes the read first: one
    // array read plus transfers.
    assert!(gated < 200.0, "gated read {gated} µs");
    // Ungated: chip 1 committed to its program at ~12 µs; the read waits out tPROG.
    assert!(ungated > 750.0, "ungated read {ungated} µs");
}
