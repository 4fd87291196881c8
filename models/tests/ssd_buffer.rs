//! The DRAM write buffer: early acknowledgement, FLUSH and FUA semantics, volatility, room,
//! reads of buffered data.

mod ssd_support;

use dmsim_models::probe::Pattern;
use dmsim_models::ssd::{presets, SsdParams};
use dmsim_models::{ModelOp, TimingModel};
use ssd_support::*;

/// MQSim's flash behind a small volatile buffer on a small drive.
fn volatile() -> SsdParams {
    let mut p = small_drive();
    p.geometry.page_bytes = 8192;
    p.write_buffer.enabled = true;
    p.write_buffer.capacity_bytes = 1 << 20;
    // The plain buffer: every write goes to flash (hot rewrites have their own tests).
    p.write_buffer.hot_rewrite_window_ns = 0;
    p
}

fn protected() -> SsdParams {
    let mut p = volatile();
    p.write_buffer.power_loss_protected = true;
    p
}

const PROGRAM_NS: u64 = 750_000;

#[test]
fn volatility_is_reported() {
    assert!(model(volatile()).volatile_write_cache());
    assert!(!model(protected()).volatile_write_cache());
    let mut off = volatile();
    off.write_buffer.enabled = false;
    assert!(!model(off).volatile_write_cache());
    assert!(!model(presets::nvme_datacenter()).volatile_write_cache());
    assert!(model(presets::sata()).volatile_write_cache());
}

#[test]
fn writes_are_acknowledged_before_flash_and_flush_waits_for_it() {
    let mut m = model(volatile());
    let write = one(&mut m, ModelOp::Write, 0, 8, false);
    assert!(write < 100_000, "buffered write took {write} ns");
    assert!(m.buffer_occupied_bytes() > 0);
    // FLUSH programs the half-filled page: at least one tPROG.
    let flush = one(&mut m, ModelOp::Flush, 0, 0, false);
    assert!(flush >= PROGRAM_NS, "flush took {flush} ns");
    assert_eq!(m.buffer_occupied_bytes(), 0);
    // Nothing left to drain: the next flush is immediate.
    let again = one(&mut m, ModelOp::Flush, 0, 0, false);
    assert!(again < 50_000, "{again} ns");
}

#[test]
fn fua_reaches_flash_on_a_volatile_buffer_only() {
    let mut m = model(volatile());
    let fua = one(&mut m, ModelOp::Write, 64, 8, true);
    assert!(fua >= PROGRAM_NS, "FUA write took {fua} ns");
    let mut p = model(protected());
    let fua = one(&mut p, ModelOp::Write, 64, 8, true);
    assert!(fua < 100_000, "FUA on protected buffer took {fua} ns");
    let flush = one(&mut p, ModelOp::Flush, 0, 0, false);
    assert!(flush < 50_000, "flush on protected buffer took {flush} ns");
}

#[test]
fn reads_of_buffered_data_come_from_dram() {
    let mut m = model(volatile());
    m.precondition(1.0);
    one(&mut m, ModelOp::Write, 800, 8, false);
    let read = one(&mut m, ModelOp::Read, 800, 8, false);
    assert!(
        read < 75_000,
        "read of buffered data took {read} ns (tR is 75 µs)"
    );
    assert_eq!(m.stats().units_read_from_dram, 1);
    assert_eq!(m.stats().flash_reads_host, 0);
    settle(&mut m);
    let read = one(&mut m, ModelOp::Read, 800, 8, false);
    assert!(read > 75_000, "read from flash took {read} ns");
}

#[test]
fn rewrites_of_an_open_page_coalesce() {
    let mut m = model(volatile());
    for _ in 0..3 {
        one(&mut m, ModelOp::Write, 0, 8, false);
    }
    assert_eq!(m.stats().units_coalesced_in_buffer, 2);
    assert_eq!(m.buffer_occupied_bytes(), 4096);
}

#[test]
fn sustained_writes_fill_the_buffer_then_run_at_flash_speed() {
    let mut m = model(volatile());
    m.precondition(0.5);
    let span = Some(m.capacity_sectors() / 2);
    // 1 MiB buffer = 256 units; 2000 writes overflow it many times.
    let r = probe(&mut m, 1, Pattern::RandWrite, 4, 4096, span, 2000);
    assert!(m.stats().buffer_full_waits > 0);
    // 4 dies × 2 units per 8 KiB page per 750 µs ≈ 10.7 K units/s at best.
    assert!(r.iops < 12_000.0, "{} IOPS", r.iops);
    assert!(r.lat_p50_us > 100.0, "p50 {} µs", r.lat_p50_us);
    settle(&mut m);
    assert_eq!(m.buffer_occupied_bytes(), 0);
    m.check_invariants();
}

#[test]
fn sub_unit_write_through_reads_the_old_unit_first() {
    let mut p = small_drive();
    p.write_buffer.enabled = false;
    let mut m = model(p);
    m.precondition(1.0);
    let partial = one(&mut m, ModelOp::Write, 3, 1, false);
    assert_eq!(m.stats().flash_reads_modify, 1);
    let whole = one(&mut m, ModelOp::Write, 16, 8, false);
    assert_eq!(m.stats().flash_reads_modify, 1);
    assert!(partial > whole + 50_000, "{partial} vs {whole}");
}

#[test]
fn never_written_and_discarded_units_need_no_flash() {
    let mut m = model(presets::nvme_datacenter());
    let read = one(&mut m, ModelOp::Read, 0, 8, false);
    assert_eq!(m.stats().flash_reads_host, 0);
    assert!(read < 20_000, "{read} ns");
    one(&mut m, ModelOp::Write, 0, 8, false);
    one(&mut m, ModelOp::Flush, 0, 0, false);
    settle(&mut m);
    one(&mut m, ModelOp::Discard, 0, 8, false);
    one(&mut m, ModelOp::Read, 0, 8, false);
    assert_eq!(m.stats().flash_reads_host, 0);
    assert_eq!(m.ftl_counters().units_trimmed, 1);
}

#[test]
fn requests_past_the_end_are_clipped_not_fatal() {
    let mut m = model(volatile());
    let end = m.capacity_sectors();
    one(&mut m, ModelOp::Write, end - 4, 64, false);
    one(&mut m, ModelOp::Read, end + 1000, 8, false);
    assert_eq!(m.stats().out_of_range_requests, 2);
    settle(&mut m);
    m.check_invariants();
}
