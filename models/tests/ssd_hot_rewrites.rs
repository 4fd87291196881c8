//! `write_buffer.hot_rewrite_window_ns`: the write buffer keeps a rewrite of a logical page
//! it already sent to flash in the current window in DRAM instead of programming it again,
//! as MQSim's write cache does with its bloom filter (reset every second).

mod ssd_support;

use dmsim_models::ssd::{presets, SsdModel, SsdParams};
use dmsim_models::{ModelOp, TimingModel};
use ssd_support::*;

/// Sectors per 8 KiB logical page.
const PAGE: u64 = 16;

/// A drive whose clock has moved past 0 (MQSim's window clock starts at 0 and a write at
/// exactly 0 does not open a window).
fn drive(window_ns: u64) -> SsdModel {
    let mut m = model(params(window_ns));
    idle_until(&mut m, 1_000);
    m
}

fn params(window_ns: u64) -> SsdParams {
    let mut p = presets::mqsim_default();
    // Resident mapping table: no translation reads in the way.
    p.mapping_cache.capacity_bytes = 0;
    p.write_buffer.hot_rewrite_window_ns = window_ns;
    p
}

/// Write logical page `page` (whole) now and let the drive go idle.
fn write_page(m: &mut SsdModel, page: u64, fua: bool) {
    one(m, ModelOp::Write, page * PAGE, PAGE as u32, fua);
    settle(m);
}

/// Move the model's clock to `at_ns` (nothing is in flight).
fn idle_until(m: &mut SsdModel, at_ns: u64) {
    let mut out = Vec::new();
    m.advance(at_ns, &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_rewrite_in_the_window_stays_in_dram() {
    let mut m = drive(1_000_000_000);
    // The first write only opens the window (MQSim's reset after its first write).
    write_page(&mut m, 9, false);
    write_page(&mut m, 3, false);
    write_page(&mut m, 3, false);
    let s = m.stats();
    assert_eq!(
        s.flash_programs_host, 2,
        "page 9 and the first write of page 3"
    );
    assert_eq!(s.units_kept_in_dram, 2, "both units of the rewrite");
    // A read of it comes from DRAM: no flash read.
    let reads = m.stats().flash_reads_host;
    one(&mut m, ModelOp::Read, 3 * PAGE, PAGE as u32, false);
    assert_eq!(m.stats().flash_reads_host, reads);
    m.check_invariants();
}

#[test]
fn without_a_window_every_write_is_programmed() {
    let mut m = drive(0);
    write_page(&mut m, 9, false);
    write_page(&mut m, 3, false);
    write_page(&mut m, 3, false);
    assert_eq!(m.stats().flash_programs_host, 3);
    assert_eq!(m.stats().units_kept_in_dram, 0);
}

#[test]
fn a_flush_takes_kept_rewrites_to_flash() {
    let mut m = drive(1_000_000_000);
    write_page(&mut m, 9, false);
    write_page(&mut m, 3, false);
    write_page(&mut m, 3, false);
    assert_eq!(m.stats().flash_programs_host, 2);
    let flush = one(&mut m, ModelOp::Flush, 0, 0, false);
    assert_eq!(m.stats().flash_programs_host, 3);
    // The flush waited for that program.
    assert!(flush > 750_000, "flush took {flush} ns");
    // Nothing is kept any more: the next read goes to flash.
    let reads = m.stats().flash_reads_host;
    one(&mut m, ModelOp::Read, 3 * PAGE, PAGE as u32, false);
    assert!(m.stats().flash_reads_host > reads);
    m.check_invariants();
}

#[test]
fn a_fua_rewrite_and_a_new_window_go_to_flash() {
    let mut m = drive(1_000_000_000);
    write_page(&mut m, 9, false);
    write_page(&mut m, 3, false);
    write_page(&mut m, 3, true);
    assert_eq!(m.stats().flash_programs_host, 3, "FUA writes through");
    // Past the window's end a write empties the set: the rewrite after it is programmed.
    let later = m.now_ns() + 2_000_000_000;
    idle_until(&mut m, later);
    write_page(&mut m, 9, false);
    write_page(&mut m, 3, false);
    assert_eq!(m.stats().flash_programs_host, 5);
    assert_eq!(m.stats().units_kept_in_dram, 0);
    m.check_invariants();
}
