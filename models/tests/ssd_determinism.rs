//! Determinism: the same parameters, seed and requests give identical results; the device's
//! random stream only drives tail stalls.

mod ssd_support;

use dmsim_models::probe::{Pattern, ProbeResult};
use dmsim_models::ssd::{presets, SsdParams};
use dmsim_models::TimingModel;
use ssd_support::*;

/// A mixed run: reads, buffered writes, a flush, GC on a small drive.
fn mixed(params: SsdParams, model_seed: u64) -> Vec<ProbeResult> {
    let mut m = model_with_seed(params, model_seed);
    m.precondition(1.0);
    let mut results = vec![
        probe(&mut m, 1, Pattern::RandWrite, 4, 4096, None, 3000),
        probe(&mut m, 2, Pattern::RandRead, 8, 4096, None, 2000),
        probe(&mut m, 3, Pattern::SeqWrite, 2, 65536, None, 200),
    ];
    one(&mut m, dmsim_models::ModelOp::Flush, 0, 0, false);
    results.push(probe(&mut m, 4, Pattern::RandRead, 1, 8192, None, 500));
    results
}

fn buffered_small() -> SsdParams {
    let mut p = small_drive();
    p.write_buffer.enabled = true;
    p.write_buffer.capacity_bytes = 1 << 20;
    p
}

fn with_stalls(mut p: SsdParams) -> SsdParams {
    p.stalls.probability = 0.01;
    p.stalls.duration_ns = 2_000_000;
    p
}

#[test]
fn same_seed_gives_identical_results() {
    let a = mixed(with_stalls(buffered_small()), 5);
    let b = mixed(with_stalls(buffered_small()), 5);
    assert_eq!(a, b);
}

#[test]
fn without_stalls_the_device_seed_changes_nothing() {
    assert_eq!(mixed(buffered_small(), 1), mixed(buffered_small(), 2));
}

#[test]
fn stalls_come_from_the_device_stream_and_stretch_the_tail() {
    let calm = mixed(buffered_small(), 1);
    let a = mixed(with_stalls(buffered_small()), 1);
    let b = mixed(with_stalls(buffered_small()), 2);
    assert_ne!(a, b, "a different device seed must move the stalls");
    // Reads at QD8: stalls of 2 ms dwarf a ~100 µs read. At p99 (p99.9 of the calm run
    // already holds reads queued behind programs, ~3.7 ms).
    assert!(
        a[1].lat_p99_us > calm[1].lat_p99_us + 1000.0,
        "p99 {} µs, calm {}",
        a[1].lat_p99_us,
        calm[1].lat_p99_us
    );
}

#[test]
fn stall_count_follows_probability() {
    let mut m = model(with_stalls(presets::nvme_datacenter()));
    let (mut m2, span) = preconditioned(presets::nvme_datacenter(), 1 << 30);
    probe(&mut m, 1, Pattern::RandRead, 4, 4096, Some(span), 20_000);
    probe(&mut m2, 1, Pattern::RandRead, 4, 4096, Some(span), 20_000);
    // 22 000 commands × 1 %: about 220 stalls.
    let stalls = m.stats().stalls;
    assert!((150..300).contains(&stalls), "{stalls} stalls");
    assert_eq!(m2.stats().stalls, 0);
    assert_eq!(m.capacity_sectors(), m2.capacity_sectors());
}
