//! md raid5 across a power loss (issue 10, item 3): the superblock's clean/dirty state, the
//! assembly that reads it back, the resync of a dirty array (optionally only the write-intent
//! bitmap's chunks), and the write hole: a member failing before the resync covers a stripe
//! torn by the crash makes its data there unknown — the oracle reports those sectors as
//! unknown, never as a data error, and never lets any other sector pass unchecked.
//!
//! Every read goes through the data oracle; the engine's invariants are checked after every
//! input; devices refuse no IO.

mod support;

use dmsim_engine::block::DeviceId;
use dmsim_engine::io::{Control, Input};
use dmsim_engine::platform::{BioSource, Platform};
use dmsim_engine::raid5::superblock::METADATA_SECTORS;
use dmsim_engine::raid5::{Raid5, Raid5Config, SyncAction};
use dmsim_engine::{DriveOutcome, Engine};
use dmsim_scenarios::traces::TraceOp;
use dmsim_sim::device::PowerLoss;
use dmsim_sim::oracle_observer::OracleObserver;
use support::{blocks, failed, mixed, Checker, Rig};

const MEMBERS: usize = 4;
/// 16 KiB chunks.
const CHUNK_SECTORS: u64 = 32;
/// 512 KiB of data per member (128 stripes) after the superblock and bitmap.
const DATA_SECTORS: u64 = 1024;
const MEMBER_SECTORS: u64 = DATA_SECTORS + METADATA_SECTORS;
const ARRAY_BYTES: u64 = (MEMBERS as u64 - 1) * DATA_SECTORS * 512;

/// An array with a superblock (and `bitmap_chunk_sectors`), resync limited to 100 KiB/s
/// under load and `speed_max_kib_s` idle.
fn rig(seed: u64, bitmap_chunk_sectors: Option<u64>, speed_max_kib_s: u64) -> Rig {
    let config = Raid5Config {
        superblock: true,
        bitmap_chunk_sectors,
        stripe_cache_size: 32,
        speed_limit_min_kib_s: 100,
        speed_limit_max_kib_s: speed_max_kib_s,
        ..Raid5Config::new(CHUNK_SECTORS)
    };
    Rig::raid5(seed, MEMBERS, MEMBER_SECTORS, config)
}

fn raid(engine: &Engine) -> &Raid5 {
    engine.target().raid5().expect("raid5")
}

fn message(rig: &Rig, engine: &mut Engine, text: &str) {
    engine
        .handle(
            rig.platform.now_ns(),
            Input::Control(Control::TargetMessage(text.to_string())),
        )
        .unwrap_or_else(|e| panic!("message {text}: {e}"));
}

/// A checker whose oracle knows the volume is this raid5 array.
fn checker(rig: &Rig, engine: &Engine) -> Checker {
    let mut checker = rig.checker();
    let oracle = std::mem::replace(&mut checker.oracle, OracleObserver::new(true));
    checker.oracle = oracle.with_raid5(*raid(engine).geometry());
    checker
}

/// Runs nothing until the engine is idle (the resync, the clean marking).
fn settle(rig: &mut Rig, engine: &mut Engine, checker: &mut Checker) {
    let mut nothing = rig.source(Vec::new().into_iter(), 1);
    let report = rig.run(engine, &mut nothing, checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
}

/// Reads back every block any write touched and checks it.
fn read_back(rig: &mut Rig, engine: &mut Engine, checker: &mut Checker, what: &str) {
    let before = checker.oracle.oracle().verified_reads();
    let mut reads = rig.read_back(checker);
    let report = rig.run(engine, &mut reads, checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished, "{what}");
    checker.oracle.assert_clean(what);
    assert_eq!(failed(checker), 0, "{what}");
    assert!(
        checker.oracle.oracle().verified_reads() > before,
        "{what}: reads were checked"
    );
}

/// A write-heavy workload over the first `span_bytes` of the array, stopped after
/// `inputs` inputs with writes in flight; then the power goes and a new engine assembles
/// the array. Returns the new engine.
fn crash_during_writes(
    rig: &mut Rig,
    engine: Engine,
    checker: &mut Checker,
    span_bytes: u64,
    inputs: u64,
) -> Engine {
    let mut engine = engine;
    let mut source = rig.source(mixed(span_bytes, 4_000, 20.0, rig.seed, None), 8);
    let report = rig.run(&mut engine, &mut source, checker, Some(inputs));
    assert_eq!(report.outcome, DriveOutcome::InputLimit);
    // Completions of one instant come together: step on until bios are in the array and
    // member IO is on the devices.
    while checker.oracle.bios_in_flight() < 4 || rig.platform.is_quiescent() {
        let report = rig.run(&mut engine, &mut source, checker, Some(1));
        assert_eq!(report.outcome, DriveOutcome::InputLimit);
    }
    checker.oracle.assert_clean("before the crash");
    assert_eq!(
        raid(&engine).array_state().map(|s| s.0),
        Some(true),
        "dirty"
    );
    drop(engine); // the kernel goes with the power
    rig.power_loss(checker, &PowerLoss::LOSE_CACHE);
    assert!(
        !checker.oracle.oracle().crash_uncertain_blocks().is_empty(),
        "writes were in flight at the crash"
    );
    rig.engine()
}

#[test]
fn a_clean_array_is_marked_clean_and_restarts_without_a_resync() {
    let mut rig = rig(31, None, 200_000);
    let mut engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    let mut source = rig.source(mixed(ARRAY_BYTES, 2_000, 30.0, 31, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    checker.oracle.assert_clean("first run");
    // The run ends once safemode has marked the array clean.
    let stats = raid(&engine).stats();
    assert_eq!(raid(&engine).array_state(), Some((false, 0)));
    assert_eq!((stats.assemblies, stats.dirty_assemblies), (1, 0));
    assert!(stats.metadata_writes >= 2, "dirty, then clean: {stats:?}");
    assert!(engine.target_status().text.contains("array_state clean"));
    drop(engine);
    rig.power_loss(&mut checker, &PowerLoss::LOSE_CACHE);
    assert!(checker.oracle.oracle().crash_uncertain_blocks().is_empty());

    let mut engine = rig.engine();
    read_back(&mut rig, &mut engine, &mut checker, "after a clean restart");
    let stats = raid(&engine).stats();
    assert_eq!(
        (stats.assemblies, stats.dirty_assemblies, stats.sync_passes),
        (1, 0, 0),
        "{stats:?}"
    );
    assert_eq!(raid(&engine).sync_running(), None);
}

/// Members with volatile write caches (regression 012): md writes its superblock with
/// PREFLUSH and FUA, so the clean marking lands only after every write before it is durable,
/// and durably itself. A power loss that drops every cache then loses nothing: the array
/// restarts clean, whole, with every acknowledged write (the oracle is told writes are
/// durable on acknowledgement, which only the marking's preflush makes true).
#[test]
fn on_volatile_members_the_clean_marking_makes_every_write_durable() {
    let config = Raid5Config {
        superblock: true,
        bitmap_chunk_sectors: Some(64),
        stripe_cache_size: 32,
        ..Raid5Config::new(CHUNK_SECTORS)
    };
    let mut rig = Rig::raid5_cached(35, MEMBERS, MEMBER_SECTORS, config, true);
    let mut engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    let mut source = rig.source(mixed(ARRAY_BYTES, 2_000, 30.0, 35, None), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    checker.oracle.assert_clean("first run");
    assert_eq!(
        raid(&engine).array_state(),
        Some((false, 0)),
        "marked clean"
    );
    let flushes: u64 = rig
        .platform
        .devices()
        .iter()
        .map(|d| d.stats().flushes)
        .sum();
    assert!(
        flushes >= 2 * MEMBERS as u64,
        "a preflush per member and marking: {flushes}"
    );
    drop(engine);
    rig.power_loss(&mut checker, &PowerLoss::LOSE_CACHE);

    let mut engine = rig.engine();
    read_back(
        &mut rig,
        &mut engine,
        &mut checker,
        "after losing every cache",
    );
    let stats = raid(&engine).stats();
    assert_eq!(
        (stats.assemblies, stats.dirty_assemblies, stats.sync_passes),
        (1, 0, 0),
        "{stats:?}"
    );
    assert_eq!(raid(&engine).degraded(), 0, "no member fell behind");
}

#[test]
fn a_dirty_array_resyncs_reads_stay_exact_and_check_then_finds_no_mismatch() {
    let mut rig = rig(32, None, 100);
    let engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    let mut engine = crash_during_writes(&mut rig, engine, &mut checker, ARRAY_BYTES, 3_001);

    // Assembly reads the superblocks, finds the array dirty and starts the resync.
    let mut nothing = rig.source(Vec::new().into_iter(), 1);
    let report = rig.run(&mut engine, &mut nothing, &mut checker, Some(20));
    assert_eq!(report.outcome, DriveOutcome::InputLimit);
    assert_eq!(raid(&engine).sync_running(), Some(SyncAction::Resync));
    let stats = raid(&engine).stats();
    assert_eq!((stats.assemblies, stats.dirty_assemblies), (1, 1));
    let text = engine.target_status().text;
    assert!(
        text.contains("resync = ") && text.contains("array_state active"),
        "{text}"
    );

    // Reads during the resync return what was written (the resync only rewrites parity).
    let verified = checker.oracle.oracle().verified_reads();
    let mut reads = rig.read_back(&checker);
    while !reads.is_finished() || checker.oracle.bios_in_flight() > 0 {
        let report = rig.run(&mut engine, &mut reads, &mut checker, Some(1));
        assert_eq!(report.outcome, DriveOutcome::InputLimit);
    }
    checker.oracle.assert_clean("reads during the resync");
    assert_eq!(failed(&checker), 0);
    assert!(checker.oracle.oracle().verified_reads() > verified + 100);
    assert_eq!(
        raid(&engine).sync_running(),
        Some(SyncAction::Resync),
        "the reads ended before the 100 KiB/s resync"
    );
    settle(&mut rig, &mut engine, &mut checker);
    let machine = raid(&engine);
    assert_eq!(machine.stats().resyncs, 1);
    assert_eq!(machine.stats().sync_stripes, DATA_SECTORS / 8);
    assert_eq!(
        machine.array_state(),
        Some((false, 0)),
        "clean after the resync"
    );
    assert!(
        (0..DATA_SECTORS)
            .step_by(8)
            .all(|s| !machine.stripe_needs_resync(s)),
        "every stripe resynced"
    );

    // A check after the resync: parity agrees everywhere.
    message(&rig, &mut engine, "check");
    settle(&mut rig, &mut engine, &mut checker);
    assert_eq!(
        raid(&engine).stats().sync_passes,
        2,
        "the resync and the check"
    );
    assert_eq!(raid(&engine).mismatch_cnt(), 0);

    // A member failing now loses nothing: every reconstructed read is exact.
    message(&rig, &mut engine, "fail 1");
    let machine = raid(&engine);
    let unknown = checker
        .oracle
        .raid5_member_failed(1, &|s| machine.stripe_needs_resync(s));
    assert_eq!(unknown, 0);
    assert_eq!(machine.stats().write_hole_exposed_sectors, 0);
    let reconstructions = machine.stats().reconstructions;
    read_back(
        &mut rig,
        &mut engine,
        &mut checker,
        "degraded after the resync",
    );
    assert!(raid(&engine).stats().reconstructions > reconstructions);
    assert_eq!(checker.oracle.write_hole_sectors(), 0);
}

#[test]
fn a_member_failing_before_the_resync_shows_the_write_hole_as_unknown_sectors() {
    let mut rig = rig(33, None, 200_000);
    let engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    let mut engine = crash_during_writes(&mut rig, engine, &mut checker, ARRAY_BYTES, 2_501);

    // Member 1 fails at once, while the array assembles: no stripe is resynced.
    message(&rig, &mut engine, "fail 1");
    let machine = raid(&engine);
    let unknown = checker
        .oracle
        .raid5_member_failed(1, &|s| machine.stripe_needs_resync(s));
    assert!(unknown > 0, "torn stripes with data on member 1");
    assert_eq!(unknown % 8, 0);
    settle(&mut rig, &mut engine, &mut checker);
    let machine = raid(&engine);
    let stats = machine.stats();
    assert_eq!(stats.dirty_assemblies, 1);
    assert_eq!(stats.sync_passes, 0, "a degraded array cannot resync");
    // The array counts every unsynced stripe's data on the member (it cannot know which
    // were torn): three of four stripes hold data there.
    assert_eq!(stats.write_hole_exposed_sectors, DATA_SECTORS * 3 / 4);
    assert!(unknown <= stats.write_hole_exposed_sectors);
    assert_eq!(engine.target_status().state, "degraded");

    // Every read is judged: the write hole's sectors accept anything, all others exactly.
    read_back(
        &mut rig,
        &mut engine,
        &mut checker,
        "degraded with the write hole",
    );
    assert_eq!(checker.oracle.write_hole_sectors(), unknown);
}

#[test]
fn with_a_bitmap_the_resync_covers_only_dirty_chunks_and_closes_the_hole() {
    // 64-sector bitmap chunks (16 per member); writes only to the first quarter of the
    // array (member sectors 0..256: chunks 0..4).
    let bitmap_chunk = 64;
    let mut rig = rig(34, Some(bitmap_chunk), 200_000);
    let engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    let span_bytes = ARRAY_BYTES / 4;
    let mut engine = crash_during_writes(&mut rig, engine, &mut checker, span_bytes, 2_001);

    settle(&mut rig, &mut engine, &mut checker);
    let machine = raid(&engine);
    let stats = machine.stats();
    assert_eq!((stats.dirty_assemblies, stats.resyncs), (1, 1), "{stats:?}");
    // Only the bitmap's dirty chunks were resynced: at most the 4 chunks written.
    assert!(
        stats.sync_stripes > 0 && stats.sync_stripes <= 4 * bitmap_chunk / 8,
        "{stats:?}"
    );
    assert_eq!(stats.sync_stripes % (bitmap_chunk / 8), 0, "whole chunks");
    assert_eq!(
        machine.array_state(),
        Some((false, 0)),
        "clean, bitmap cleared"
    );

    message(&rig, &mut engine, "check");
    settle(&mut rig, &mut engine, &mut checker);
    assert_eq!(
        raid(&engine).mismatch_cnt(),
        0,
        "no stale parity left anywhere"
    );

    // Member 0 fails: nothing is unknown, every reconstructed read is exact.
    message(&rig, &mut engine, "fail 0");
    let machine = raid(&engine);
    let unknown = checker
        .oracle
        .raid5_member_failed(0, &|s| machine.stripe_needs_resync(s));
    assert_eq!(unknown, 0);
    read_back(
        &mut rig,
        &mut engine,
        &mut checker,
        "degraded after a bitmap resync",
    );
    assert_eq!(checker.oracle.write_hole_sectors(), 0);
}

/// Who tells the oracle of a member failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    /// Nobody: the oracle judges reconstructed reads as if nothing had failed.
    Nobody,
    /// Whoever failed the member (`raid5_member_failed`, as the explorer's `fail_member`).
    ByTheCaller,
    /// The array itself (`Output::ContentsUnknown` on the array's device id), as when a
    /// member fails by read errors nobody asked for.
    ByTheArray,
}

/// One crash point of [`the_write_hole_is_real_and_exactly_the_unknown_sectors_cover_it`]:
/// crash, member 1 fails at once, every block of the array is read. Returns (data errors,
/// sectors the caller's report made unknown).
fn crash_fail_and_read_everything(seed: u64, told: Told) -> (u64, u64) {
    let mut rig = rig(100 + seed, None, 200_000);
    let engine = rig.engine();
    let mut checker = checker(&rig, &engine);
    if told == Told::ByTheArray {
        let oracle = std::mem::replace(&mut checker.oracle, OracleObserver::new(true));
        // The array is device MEMBERS, the first after the platform's.
        checker.oracle = oracle.with_volume_device(DeviceId(MEMBERS as u16), 0);
    }
    let inputs = 500 + seed * 97;
    let mut engine = crash_during_writes(&mut rig, engine, &mut checker, ARRAY_BYTES, inputs);
    message(&rig, &mut engine, "fail 1");
    let unknown = if told == Told::ByTheCaller {
        let machine = raid(&engine);
        checker
            .oracle
            .raid5_member_failed(1, &|s| machine.stripe_needs_resync(s))
    } else {
        0
    };
    let every_block = 0..ARRAY_BYTES / 4096;
    let mut reads = rig.source(blocks(TraceOp::Read, every_block).into_iter(), 8);
    let report = rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    assert_eq!(failed(&checker), 0);
    (checker.oracle.data_error_count(), unknown)
}

#[test]
fn the_write_hole_is_real_and_exactly_the_unknown_sectors_cover_it() {
    // The same runs twice (they are deterministic): an oracle not told of the failure sees
    // wrong reconstructed data after some crashes — the write hole is real — and the oracle
    // that is told accepts those reads as unknown and finds no data error anywhere.
    let mut naive_errors = 0;
    let mut unknown_total = 0;
    for seed in 0..16 {
        let (errors, _) = crash_fail_and_read_everything(seed, Told::Nobody);
        naive_errors += errors;
        let (errors, unknown) = crash_fail_and_read_everything(seed, Told::ByTheCaller);
        assert_eq!(errors, 0, "seed {seed}: a data error beside the write hole");
        unknown_total += unknown;
        // The array's own report of its hole, narrowed to the stripes the crash may have
        // torn, is enough (regression 010: a member failed by read errors).
        let (errors, _) = crash_fail_and_read_everything(seed, Told::ByTheArray);
        assert_eq!(errors, 0, "seed {seed}: the array's report missed the hole");
    }
    assert!(naive_errors >= 5, "{naive_errors} reads hit the write hole");
    assert!(unknown_total > 0);
}
