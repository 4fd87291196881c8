//! Garbage collection: the write cliff of a full drive, write amplification, and the FTL's
//! bookkeeping under churn.

mod ssd_support;

use dmsim_models::probe::Pattern;
use dmsim_models::TimingModel;
use rand_chacha::rand_core::SeedableRng;
use ssd_support::*;

/// Flash pages programmed per host unit written between two stats snapshots (4 KiB pages:
/// one unit per page, so no padding).
fn window_wa(before: &dmsim_models::ssd::SsdStats, after: &dmsim_models::ssd::SsdStats) -> f64 {
    let programs = (after.flash_programs_host + after.flash_programs_gc)
        - (before.flash_programs_host + before.flash_programs_gc);
    programs as f64 / (after.host_units_written - before.host_units_written) as f64
}

#[test]
fn full_drive_under_random_writes_hits_the_write_cliff() {
    let mut m = model(small_drive());
    m.precondition(1.0);
    // Spare blocks absorb the first few hundred writes without GC.
    let s0 = m.stats().clone();
    let fresh = probe(&mut m, 1, Pattern::RandWrite, 1, 4096, None, 300);
    let s1 = m.stats().clone();
    assert_eq!(
        s1.flash_reads_gc, s0.flash_reads_gc,
        "GC ran before the spare was used"
    );
    assert!((window_wa(&s0, &s1) - 1.0).abs() < 1e-9);

    // Churn past the spare, then measure the steady state.
    probe(&mut m, 2, Pattern::RandWrite, 1, 4096, None, 5000);
    let s2 = m.stats().clone();
    let steady = probe(&mut m, 3, Pattern::RandWrite, 1, 4096, None, 5000);
    let s3 = m.stats().clone();

    let wa = window_wa(&s2, &s3);
    assert!(wa > 2.0, "write amplification {wa}");
    assert!(m.write_amplification() > 1.5, "{}", m.write_amplification());
    assert!(s3.flash_erases > s2.flash_erases);
    assert!(
        steady.lat_mean_us > 3.0 * fresh.lat_mean_us,
        "cliff: {} µs fresh vs {} µs steady",
        fresh.lat_mean_us,
        steady.lat_mean_us
    );
    // GC work lands unevenly on writes: the tail stretches.
    assert!(steady.lat_p999_us > 1.5 * steady.lat_p50_us);
    m.check_invariants();
}

#[test]
fn gc_stays_ahead_at_depth_and_keeps_the_maps_consistent() {
    let mut m = model(small_drive());
    m.precondition(1.0);
    let r = probe(&mut m, 4, Pattern::RandWrite, 8, 4096, None, 20_000);
    assert!(r.iops > 0.0);
    assert!(m.ftl_counters().gc_victims > 100);
    settle(&mut m);
    m.check_invariants();
}

#[test]
fn sequential_overwrite_frees_whole_blocks_without_copying_much() {
    let mut m = model(small_drive());
    m.precondition(1.0);
    let before = m.stats().clone();
    // Rewrite the whole drive in order: victims are (nearly) all invalid.
    let requests = 2 * m.capacity_sectors() / 128;
    probe(&mut m, 5, Pattern::SeqWrite, 4, 65536, None, requests);
    let wa = window_wa(&before, m.stats());
    assert!(wa < 1.2, "write amplification {wa}");
    m.check_invariants();
}

#[test]
fn random_overwrite_preconditioning_reaches_steady_state_without_time() {
    let mut m = model(small_drive());
    m.precondition(1.0);
    m.precondition_random_overwrite(1.0, 3.0, &mut rand_chacha::ChaCha8Rng::seed_from_u64(11));
    assert_eq!(m.now_ns(), 0);
    assert_eq!(m.next_event_ns(), None, "preconditioning scheduled work");
    assert!(m.ftl_counters().gc_victims > 0);
    assert_eq!(
        m.stats().host_writes,
        0,
        "preconditioning counted as host work"
    );
    m.check_invariants();
    // Already in steady state: GC from the first write on.
    let before = m.stats().clone();
    probe(&mut m, 6, Pattern::RandWrite, 1, 4096, None, 300);
    assert!(window_wa(&before, m.stats()) > 2.0);
}

#[test]
fn discard_gives_space_back_to_gc() {
    let mut trimmed = model(small_drive());
    trimmed.precondition(1.0);
    // Trim half of the drive: GC finds empty or near-empty victims.
    let half = trimmed.capacity_sectors() / 2;
    for (tag, start) in (0..half).step_by(256).enumerate() {
        trimmed.submit(
            trimmed.now_ns(),
            request(
                tag as u64,
                dmsim_models::ModelOp::Discard,
                start,
                256,
                false,
            ),
        );
    }
    drain(&mut trimmed);
    let mut full = model(small_drive());
    full.precondition(1.0);
    let span = Some(trimmed.capacity_sectors());
    let a = probe(&mut trimmed, 7, Pattern::RandWrite, 1, 4096, span, 4000);
    let b = probe(&mut full, 7, Pattern::RandWrite, 1, 4096, span, 4000);
    assert!(
        trimmed.write_amplification() < full.write_amplification(),
        "{} vs {}",
        trimmed.write_amplification(),
        full.write_amplification()
    );
    assert!(a.lat_mean_us < b.lat_mean_us);
    trimmed.check_invariants();
}
