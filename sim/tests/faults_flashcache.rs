//! The fault kinds that matter to a cache, end to end through flashcache over a simulated
//! RAM SSD and disk: a mixed random workload over a span four times the cache, every read
//! checked by the data oracle, engine invariants after every input, no IO the devices
//! refuse. Each test shows the fault happened, what the cache made of it (spec 1.17), and
//! that the oracle judged every read exactly.

mod support;

use dmsim_engine::block::{IoStatus, Op};
use dmsim_engine::flashcache::CacheMode;
use dmsim_engine::{DriveOutcome, Engine};
use dmsim_sim::device::faults::{DeviceFault, FaultAction, FaultRule, Landing};
use support::{failed, mixed, Checker, Rig, DISK, SSD};

/// 8 MiB: 2048 blocks, four times the cache.
const SPAN_BYTES: u64 = 8 << 20;

/// Runs `requests` of the mixed workload and reads back every written block.
fn workload_then_read_back(rig: &mut Rig, requests: u64, read_percent: f64) -> (Engine, Checker) {
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, requests, read_percent, rig.seed, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished, "{report:?}");
    let mut reads = rig.read_back(&checker);
    let report = rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished, "{report:?}");
    (engine, checker)
}

#[test]
fn writethrough_ssd_eio_at_rates_switches_to_bypass_and_reads_stay_exact() {
    let mut rig = Rig::flashcache(21, CacheMode::WriteThrough, |_| {});
    let eio = FaultAction::Fail(IoStatus::IoError);
    rig.add_fault(
        SSD,
        FaultRule::always(eio)
            .on(Op::Read)
            .at_rate_ppm(20_000)
            .after(200),
    );
    rig.add_fault(
        SSD,
        FaultRule::always(eio)
            .on(Op::Write)
            .at_rate_ppm(20_000)
            .after(200),
    );
    let (engine, checker) = workload_then_read_back(&mut rig, 1_200, 60.0);
    checker.oracle.assert_clean("writethrough with SSD errors");
    let fc = engine.target().flashcache().expect("running");
    assert!(fc.bypassing(), "{:?}", fc.errors());
    let errors = fc.errors();
    assert!(errors.ssd_read_errors + errors.ssd_write_errors >= 1);
    assert!(checker.oracle.oracle().verified_reads() > 1_000);
}

#[test]
fn writeback_survives_failing_cleaning_and_corrupt_and_misdirected_ssd_io() {
    let mut rig = Rig::flashcache(23, CacheMode::WriteBack, |_| {});
    rig.add_fault(
        DISK,
        FaultRule::always(FaultAction::Fail(IoStatus::IoError))
            .on(Op::Write)
            .at_rate_ppm(200_000),
    );
    rig.add_fault(
        SSD,
        FaultRule::always(FaultAction::SilentCorruption).at_rate_ppm(20_000),
    );
    rig.add_fault(
        SSD,
        FaultRule::always(FaultAction::MisdirectedWrite {
            landing: Landing::Random,
        })
        .at_rate_ppm(10_000),
    );
    let (engine, checker) = workload_then_read_back(&mut rig, 1_500, 50.0);
    checker
        .oracle
        .assert_clean("writeback with disk, corruption and misdirection faults");
    let fc = engine.target().flashcache().expect("running");
    assert!(fc.errors().disk_write_errors > 0, "{:?}", fc.errors());
    let ssd = rig.device(SSD).fault_stats().clone();
    assert!(
        ssd.corrupted_sectors > 0 && ssd.misdirected_writes > 0,
        "{ssd:?}"
    );
    assert!(checker.oracle.oracle().corrupt_sectors_delivered() > 0);
}

#[test]
fn a_pulled_ssd_in_writethrough_leaves_the_volume_on_the_disk() {
    let pulled_at = 10_000_000;
    let mut rig = Rig::flashcache(25, CacheMode::WriteThrough, |_| {});
    rig.add_fault(SSD, DeviceFault::Disappear { at_ns: pulled_at });
    let (engine, checker) = workload_then_read_back(&mut rig, 3_000, 60.0);
    checker.oracle.assert_clean("pulled SSD");
    assert!(engine.target().flashcache().expect("running").bypassing());
    let ssd = rig.device(SSD).fault_stats().clone();
    assert_eq!(ssd.disappeared_at_ns, Some(pulled_at), "{ssd:?}");
    // Only bios that reached the SSD around the pull fail (a writethrough write the SSD
    // fails fails its bio, spec 1.17); after the first errors, the disk serves everything.
    let after: Vec<_> = checker
        .bios
        .iter()
        .filter(|b| b.submit_ns > pulled_at + 1_000_000)
        .collect();
    assert!(after.len() > 1_000, "{}", after.len());
    let bad: Vec<_> = after.iter().filter(|b| b.status != IoStatus::Ok).collect();
    assert!(
        bad.is_empty(),
        "{bad:?} {:?}",
        engine.target().flashcache().unwrap().errors()
    );
    assert!((1..=16).contains(&failed(&checker)), "{}", failed(&checker));
}

#[test]
fn writeback_ssd_timeouts_with_slow_and_late_reads_keep_the_oracle_exact() {
    let mut rig = Rig::flashcache(27, CacheMode::WriteBack, |config| {
        config.options.ssd_timeout_ns = Some(2_000_000);
    });
    rig.add_fault(
        SSD,
        FaultRule::always(FaultAction::CompleteDespiteCancel {
            extra_ns: 5_000_000,
        })
        .on(Op::Read)
        .at_rate_ppm(20_000),
    );
    // Slow rather than hung: kcopyd's cleaning reads carry no timeout (specs/dm-io-kcopyd.md
    // §3), so a hung one would stall the bios queued behind its block for good.
    rig.add_fault(
        SSD,
        FaultRule::always(FaultAction::Delay {
            extra_ns: 10_000_000,
        })
        .on(Op::Read)
        .at_rate_ppm(10_000),
    );
    let (engine, checker) = workload_then_read_back(&mut rig, 1_500, 50.0);
    checker.oracle.assert_clean("writeback with SSD timeouts");
    let ssd = rig.device(SSD);
    let fired: Vec<u64> = ssd.fault_plan().rules().map(|r| r.2).collect();
    assert!(fired.iter().all(|&f| f > 5), "{fired:?}");
    assert!(ssd.stats().cancelled > 0, "slow reads were cancelled");
    assert!(
        ssd.fault_stats().cancels_ignored > 0,
        "late reads were cancelled in vain"
    );
    assert!(failed(&checker) > 0, "timed-out writeback read hits fail");
    assert!(!engine.target().flashcache().expect("running").bypassing());
}

#[test]
fn writeback_with_latent_errors_on_the_ssd_fails_bios_of_bad_blocks() {
    let mut rig = Rig::flashcache(29, CacheMode::WriteBack, |_| {});
    rig.add_fault(
        SSD,
        FaultRule::always(FaultAction::LatentError)
            .on(Op::Read)
            .at_rate_ppm(10_000)
            .at_most(6),
    );
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, 1_500, 60.0, 29, None), 8);
    rig.run(&mut engine, &mut source, &mut checker, None);
    checker
        .oracle
        .assert_clean("writeback with latent SSD errors");
    let ssd = rig.device(SSD).fault_stats().clone();
    assert_eq!(ssd.latent_blocks_marked, 6, "{ssd:?}");
    assert!(ssd.latent_error_reads >= 6);
    let fc = engine.target().flashcache().expect("running");
    assert!(fc.errors().ssd_read_errors >= 6, "{:?}", fc.errors());
    // Read hits of bad blocks fail; so do bios queued behind a cleaning that cannot read
    // its block (spec 1.17: the block stays dirty).
    assert!(failed(&checker) > 0);
}
