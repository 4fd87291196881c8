//! Every fault kind end to end through the engine with a linear target over one simulated
//! RAM device: a mixed random workload (queue depth 8, partial and unaligned IO), every read
//! checked by the data oracle, engine invariants after every input, no IO the device
//! refuses. Each test shows the fault happened, what it did to the bios, and that the oracle
//! judged every read exactly: no data error from a fault's legitimate consequence, and
//! poison never taken for data when the run did not declare it.

mod support;

use dmsim_engine::block::{Extent, IoStatus, Op};
use dmsim_engine::DriveOutcome;
use dmsim_scenarios::traces::TraceOp;
use dmsim_sim::device::faults::{DeviceFault, FaultAction, FaultRule, Landing};
use dmsim_sim::device::PowerLoss;
use support::{blocks, failed, mixed, Rig};

/// The workload's span: 4 MiB, a quarter of the volume.
const SPAN_BYTES: u64 = 4 << 20;
const SPAN_BLOCKS: u64 = SPAN_BYTES / 4096;

/// Runs `requests` of the mixed workload, then reads back every written block.
fn workload_then_read_back(rig: &mut Rig, requests: u64, read_percent: f64) -> support::Checker {
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, requests, read_percent, rig.seed, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let mut reads = rig.read_back(&checker);
    let report = rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    checker
}

#[test]
fn transient_eio_on_reads_and_writes_fails_bios_and_the_oracle_stays_exact() {
    let summary = |seed: u64| {
        let mut rig = Rig::linear(seed, false);
        let eio = FaultAction::Fail(IoStatus::IoError);
        rig.add_fault(0, FaultRule::always(eio).on(Op::Read).at_rate_ppm(30_000));
        rig.add_fault(0, FaultRule::always(eio).on(Op::Write).at_rate_ppm(30_000));
        let checker = workload_then_read_back(&mut rig, 1_500, 50.0);
        checker.oracle.assert_clean(&format!("seed {seed}"));
        let fired: Vec<u64> = rig.device(0).fault_plan().rules().map(|r| r.2).collect();
        assert!(fired.iter().all(|&f| f > 5), "{fired:?}");
        let failed_reads = checker
            .bios
            .iter()
            .filter(|b| b.op == Op::Read && b.status == IoStatus::IoError)
            .count();
        let failed_writes = support::failed(&checker) - failed_reads;
        assert!(failed_reads > 0 && failed_writes > 0);
        assert!(checker.oracle.oracle().verified_reads() > 1_000);
        (
            fired,
            failed(&checker),
            checker.oracle.oracle().verified_sectors(),
        )
    };
    let first = summary(1);
    assert_eq!(first, summary(1), "the same seed gives the same run");
    assert_ne!(first, summary(2));
}

#[test]
fn latent_sector_errors_fail_reads_until_the_sectors_are_rewritten() {
    let mut rig = Rig::linear(3, false);
    // A bad range in the hot part of the span, and blocks going bad under reads.
    rig.add_fault(
        0,
        DeviceFault::LatentErrors {
            extent: Extent::new(64, 24),
        },
    );
    rig.add_fault(
        0,
        FaultRule::always(FaultAction::LatentError)
            .on(Op::Read)
            .at_rate_ppm(20_000)
            .at_most(10),
    );
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, 1_500, 60.0, 3, None), 8);
    rig.run(&mut engine, &mut source, &mut checker, None);
    checker.oracle.assert_clean("workload");
    let stats = rig.device(0).fault_stats().clone();
    assert_eq!(stats.latent_blocks_marked, 10);
    assert!(stats.latent_error_reads > 10, "{stats:?}");
    assert_eq!(failed(&checker) as u64, stats.latent_error_reads);
    // Rewriting the whole span repairs every bad sector: reads then all succeed.
    let mut rewrite = rig.source(blocks(TraceOp::Write, 0..SPAN_BLOCKS).into_iter(), 8);
    rig.run(&mut engine, &mut rewrite, &mut checker, None);
    assert_eq!(rig.device(0).latent_sectors(), 0);
    let before = failed(&checker);
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(failed(&checker), before, "no read fails after the rewrite");
    checker.oracle.assert_clean("after the rewrite");
}

#[test]
fn late_completions_and_ignored_cancels_reorder_io_without_data_errors() {
    let mut rig = Rig::linear(5, false);
    rig.add_fault(
        0,
        FaultRule::always(FaultAction::Delay {
            extra_ns: 3_000_000,
        })
        .at_rate_ppm(100_000),
    );
    rig.add_fault(
        0,
        FaultRule::always(FaultAction::CompleteDespiteCancel { extra_ns: 700_000 })
            .at_rate_ppm(100_000),
    );
    let checker = workload_then_read_back(&mut rig, 1_500, 50.0);
    checker.oracle.assert_clean("delays");
    assert_eq!(failed(&checker), 0);
    assert!(rig.device(0).fault_stats().fired > 200);
    // Late completions overtake: some bio ended after a bio submitted later than it.
    let overtaken = checker
        .bios
        .windows(2)
        .any(|w| w[1].submit_ns < w[0].submit_ns);
    assert!(overtaken, "completions reordered");
}

#[test]
fn a_hang_without_a_timeout_stalls_the_run_and_a_power_loss_frees_it() {
    let mut rig = Rig::linear(7, false);
    rig.add_fault(
        0,
        FaultRule::always(FaultAction::Hang).after(300).at_most(1),
    );
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, 1_000, 50.0, 7, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    let DriveOutcome::Stalled { waiting } = report.outcome else {
        panic!("linear has no timeout: {report:?}");
    };
    assert!(!waiting.is_empty());
    checker.oracle.assert_clean("before the power loss");
    drop(engine);
    let reports = rig.power_loss(&mut checker, &PowerLoss::LOSE_CACHE);
    assert!(reports[0].in_flight_lost >= 1, "{reports:?}");
    let mut engine = rig.engine();
    let mut reads = rig.read_back(&checker);
    let report = rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    checker.oracle.assert_clean("after the power loss");
    assert_eq!(failed(&checker), 0);
}

#[test]
fn misdirected_writes_deliver_poison_and_never_pass_for_data() {
    let run = |accept: bool| {
        let mut rig = Rig::linear(9, false);
        let misdirect = |sectors| FaultAction::MisdirectedWrite {
            landing: Landing::Shift { sectors },
        };
        rig.add_fault(0, FaultRule::always(misdirect(512)).at_rate_ppm(20_000));
        rig.add_fault(0, FaultRule::always(misdirect(-40)).at_rate_ppm(20_000));
        let mut checker = rig.checker();
        if !accept {
            // The same run judged by an oracle that was not told about poison.
            checker.oracle = dmsim_sim::oracle_observer::OracleObserver::new(true)
                .with_volume_device(dmsim_engine::DeviceId(0), 0)
                .tracking_written_blocks();
        }
        let mut engine = rig.engine();
        let mut source = rig.source(mixed(SPAN_BYTES, 1_500, 50.0, 9, None), 8);
        rig.run(&mut engine, &mut source, &mut checker, None);
        let mut reads = rig.read_back(&checker);
        rig.run(&mut engine, &mut reads, &mut checker, None);
        assert_eq!(failed(&checker), 0, "a misdirected write reports success");
        assert!(rig.device(0).fault_stats().misdirected_writes > 10);
        checker
    };
    let accepted = run(true);
    accepted.oracle.assert_clean("poison accepted");
    assert!(accepted.oracle.oracle().corrupt_sectors_delivered() > 100);
    let refused = run(false);
    assert!(refused.oracle.data_error_count() > 0);
    assert!(
        refused.oracle.data_errors()[0].allowed.contains("poison"),
        "{}",
        refused.oracle.data_errors()[0]
    );
}

#[test]
fn silent_corruption_delivers_poison_until_the_data_is_rewritten() {
    let mut rig = Rig::linear(11, false);
    rig.add_fault(
        0,
        FaultRule::always(FaultAction::SilentCorruption).at_rate_ppm(30_000),
    );
    let checker = workload_then_read_back(&mut rig, 1_500, 60.0);
    checker.oracle.assert_clean("corruption");
    assert_eq!(failed(&checker), 0);
    let corrupted = rig.device(0).fault_stats().corrupted_sectors;
    assert!(corrupted > 10, "{corrupted}");
    // The read that corrupted a sector already returns the poison.
    assert!(checker.oracle.oracle().corrupt_sectors_delivered() >= corrupted);
}

#[test]
fn a_pulled_drive_fails_every_bio_from_then_on() {
    let mut rig = Rig::linear(13, false);
    let pulled_at = 20_000_000; // 20 ms: about 8 000 bios in, mid-run
    rig.add_fault(0, DeviceFault::Disappear { at_ns: pulled_at });
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(SPAN_BYTES, 12_000, 50.0, 13, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished, "no stall");
    checker.oracle.assert_clean("pulled drive");
    let (before, after): (Vec<&support::BioEnd>, Vec<&support::BioEnd>) =
        checker.bios.iter().partition(|b| b.done_ns < pulled_at);
    assert!(before.iter().all(|b| b.status == IoStatus::Ok));
    assert!(
        before.len() > 1_000 && after.len() > 1_000,
        "{}",
        before.len()
    );
    assert!(after.iter().all(|b| b.status == IoStatus::IoError));
    let in_flight_then = after.iter().filter(|b| b.submit_ns < pulled_at).count();
    assert!(in_flight_then > 0, "IO in flight at the pull failed too");
    assert_eq!(
        rig.device(0).fault_stats().disappeared_at_ns,
        Some(pulled_at)
    );
}

#[test]
fn power_losses_with_a_volatile_cache_keep_exactly_what_was_flushed() {
    let mut rig = Rig::linear(17, true);
    let mut checker = rig.checker();
    let loss = PowerLoss {
        cache_survival_ppm: 500_000,
        tear_cached_blocks: true,
    };
    let mut totals = support::CrashTotals::default();
    for round in 0..3 {
        let mut engine = rig.engine();
        let records = mixed(SPAN_BYTES, 5_000, 30.0, 17 + round, Some(25));
        let mut source = rig.source(records, 8);
        let report = rig.run(&mut engine, &mut source, &mut checker, Some(2_000));
        assert_eq!(report.outcome, DriveOutcome::InputLimit);
        checker.oracle.assert_clean(&format!("round {round}"));
        drop(engine);
        totals.add(&rig.power_loss(&mut checker, &loss));
    }
    let mut engine = rig.engine();
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker
        .oracle
        .assert_clean("read back after three power losses");
    assert_eq!(failed(&checker), 0);
    assert_eq!(checker.oracle.oracle().crashes(), 3);
    assert!(
        totals.cached_blocks_lost > 0 && totals.cached_blocks_torn > 0,
        "{totals:?}"
    );
    assert!(totals.torn_sectors_written > 0, "{totals:?}");
}
