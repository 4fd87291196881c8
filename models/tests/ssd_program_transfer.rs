//! `flash.program_transfers_written_sectors`: a host program carries over the flash channel
//! only the sectors the host wrote (MQSim sizes a flash write transaction by its request's
//! sectors), instead of whole 4 KiB mapping units.

mod ssd_support;

use dmsim_models::ssd::{presets, SsdParams};
use dmsim_models::ModelOp;
use ssd_support::*;

fn params(written_sectors_only: bool, buffered: bool) -> SsdParams {
    let mut p = presets::mqsim_default();
    p.write_buffer.enabled = buffered;
    // Resident mapping table: no translation read in the way.
    p.mapping_cache.capacity_bytes = 0;
    p.flash.program_transfers_written_sectors = written_sectors_only;
    p
}

/// Channel time of `bytes` at the preset's 333 MB/s, in ns.
fn channel_ns(bytes: u64) -> u64 {
    bytes * 1000 / 333
}

/// Latency of one write-through of `sectors` sectors at sector 0 of a fresh drive.
fn write_through_ns(written_sectors_only: bool, sectors: u32) -> u64 {
    let mut m = model(params(written_sectors_only, false));
    let latency = one(&mut m, ModelOp::Write, 0, sectors, false);
    m.check_invariants();
    latency
}

#[test]
fn a_partial_unit_program_moves_only_its_sectors() {
    // 6 sectors (3 KiB) of one 4 KiB unit: 1 KiB less over the channel.
    let saved = write_through_ns(false, 6) - write_through_ns(true, 6);
    let expected = channel_ns(1024);
    assert!(
        saved.abs_diff(expected) <= 50,
        "saved {saved} ns, expected ~{expected}"
    );
    // 10 sectors over two units (4 KiB + 1 KiB of 8 KiB): 3 KiB less.
    let saved = write_through_ns(false, 10) - write_through_ns(true, 10);
    let expected = channel_ns(3 * 1024);
    assert!(
        saved.abs_diff(expected) <= 50,
        "saved {saved} ns, expected ~{expected}"
    );
}

#[test]
fn whole_units_cost_the_same_either_way() {
    assert_eq!(write_through_ns(false, 16), write_through_ns(true, 16));
}

/// Time from a buffered write's acknowledgement until its page is programmed, via a FLUSH
/// issued right after it.
fn buffered_flush_ns(written_sectors_only: bool, sectors: u32) -> u64 {
    let mut m = model(params(written_sectors_only, true));
    one(&mut m, ModelOp::Write, 0, sectors, false);
    let flush = one(&mut m, ModelOp::Flush, 0, 0, false);
    m.check_invariants();
    flush
}

#[test]
fn a_buffered_page_programs_only_the_sectors_written_into_it() {
    let saved = buffered_flush_ns(false, 6) - buffered_flush_ns(true, 6);
    let expected = channel_ns(1024);
    assert!(
        saved.abs_diff(expected) <= 50,
        "saved {saved} ns, expected ~{expected}"
    );
}
