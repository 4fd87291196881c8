//! md raid5 as the engine's target over simulated RAM members (issue 10, step 3): the
//! closed-form costs md's rules give (a full-stripe write reads nothing; a 4 KiB write costs
//! two reads and two writes), a mixed workload read back, degraded reads after a member
//! fails, and IO errors (never wrong data) after a second failure. The data oracle checks
//! every read and the engine's invariants are checked after every input.

mod support;

use dmsim_engine::block::{DeviceId, IoStatus};
use dmsim_engine::flashcache::{
    Associativity, CacheMode, FlashcacheConfig, Persistence, TableLine,
};
use dmsim_engine::io::{Control, Input};
use dmsim_engine::platform::Platform;
use dmsim_engine::raid5::{Raid5Config, Raid5Stats};
use dmsim_engine::TargetSpec;
use dmsim_engine::{DriveOutcome, Engine};
use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use support::{blocks, failed, mixed, Rig};

/// 8 MiB per member.
const MEMBER_SECTORS: u64 = 1 << 14;
/// 64 KiB chunks (the older mdadm default).
const CHUNK_SECTORS: u64 = 128;

fn raid5_stats(engine: &Engine) -> Raid5Stats {
    engine.target().raid5().expect("a raid5 target").stats()
}

fn write(sector: u64, sectors: u64) -> TraceRecord {
    TraceRecord {
        time_ns: 0,
        op: TraceOp::Write,
        sector,
        sectors,
        device: DeviceKey::Number(0),
        measured_latency_ns: None,
    }
}

/// Member device reads and writes the simulated devices carried out, summed.
fn device_totals(rig: &Rig, members: usize) -> (u64, u64) {
    (0..members).fold((0, 0), |(r, w), m| {
        let stats = rig.device(m).stats();
        (r + stats.reads, w + stats.writes)
    })
}

/// Fails member `member` between runs (mdadm --fail), with the engine idle.
fn fail_member(rig: &mut Rig, engine: &mut Engine, member: usize) {
    assert!(engine.is_idle());
    engine
        .handle(
            rig.platform.now_ns(),
            Input::Control(Control::TargetMessage(format!("fail {member}"))),
        )
        .expect("a valid message");
    assert!(
        engine.poll_output().is_none(),
        "failing a member issues no IO"
    );
}

#[test]
fn a_full_stripe_sequential_write_issues_no_reads() {
    let members = 4;
    let mut rig = Rig::raid5(1, members, MEMBER_SECTORS, Raid5Config::new(CHUNK_SECTORS));
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let row_sectors = CHUNK_SECTORS * (members as u64 - 1);
    let rows = 24;
    let records: Vec<TraceRecord> = (0..rows)
        .map(|r| write(r * row_sectors, row_sectors))
        .collect();
    let mut source = rig.source(records.into_iter(), 2);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let stats = raid5_stats(&engine);
    let stripe_heads = rows * CHUNK_SECTORS / 8;
    assert_eq!(stats.member_reads, 0, "{stats:?}");
    assert_eq!(stats.prereads, 0);
    assert_eq!(stats.full_stripe_writes, stripe_heads);
    assert_eq!(stats.rcw, stripe_heads);
    assert_eq!(stats.rmw, 0);
    assert_eq!(stats.member_writes, stripe_heads * members as u64);
    assert_eq!(
        device_totals(&rig, members),
        (0, stripe_heads * members as u64),
        "the members saw exactly the array's writes"
    );
    // Every row reads back, through the cache (multi-chunk reads) and aligned (4 KiB).
    let mut rows_back = rig.source(
        (0..rows).map(|r| TraceRecord {
            op: TraceOp::Read,
            ..write(r * row_sectors, row_sectors)
        }),
        2,
    );
    rig.run(&mut engine, &mut rows_back, &mut checker, None);
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker.oracle.assert_clean("full-stripe writes");
    assert_eq!(failed(&checker), 0);
    assert_eq!(
        checker.oracle.oracle().verified_reads(),
        rows + rows * row_sectors / 8
    );
    assert!(raid5_stats(&engine).aligned_reads >= rows * row_sectors / 8);
}

/// `count` 4 KiB writes, each to its own stripe head, spread over rows, offsets and data
/// members of an `members`-wide array.
fn distinct_stripe_writes(members: usize, count: u64) -> Vec<TraceRecord> {
    let data = members as u64 - 1;
    let units_per_chunk = CHUNK_SECTORS / 8;
    let heads = MEMBER_SECTORS / 8;
    assert!(count < heads);
    (0..count)
        .map(|i| {
            // 7919 is prime and coprime with the power-of-two head count: distinct heads.
            let head = (i * 7919) % heads;
            let (row, unit) = (head / units_per_chunk, head % units_per_chunk);
            let data_index = (i * 31 + 7) % data;
            write((row * data + data_index) * CHUNK_SECTORS + unit * 8, 8)
        })
        .collect()
}

#[test]
fn a_random_4k_write_costs_two_reads_and_two_writes() {
    for members in [4usize, 5, 6] {
        let mut rig = Rig::raid5(2, members, MEMBER_SECTORS, Raid5Config::new(CHUNK_SECTORS));
        let mut engine = rig.engine();
        let mut checker = rig.checker();
        let writes = 150;
        let mut source = rig.source(distinct_stripe_writes(members, writes).into_iter(), 4);
        let report = rig.run(&mut engine, &mut source, &mut checker, None);
        assert_eq!(report.outcome, DriveOutcome::Finished);
        let stats = raid5_stats(&engine);
        let what = format!("{members} members: {stats:?}");
        assert_eq!(stats.member_reads, 2 * writes, "{what}");
        assert_eq!(stats.member_writes, 2 * writes, "{what}");
        assert_eq!(stats.prereads, 2 * writes, "{what}");
        assert_eq!(device_totals(&rig, members), (2 * writes, 2 * writes));
        assert_eq!(stats.full_stripe_writes, 0);
        if members == 4 {
            // Old data + parity (2 reads) ties with the two other data members: md's rule
            // takes rmw only when it needs strictly fewer reads.
            assert_eq!((stats.rmw, stats.rcw), (0, writes), "{what}");
        } else {
            assert_eq!((stats.rmw, stats.rcw), (writes, 0), "{what}");
        }
        let mut reads = rig.read_back(&checker);
        rig.run(&mut engine, &mut reads, &mut checker, None);
        checker.oracle.assert_clean(&what);
        assert_eq!(checker.oracle.oracle().verified_reads(), writes);
    }
}

/// Runs the mixed workload (queue depth 8, partial and unaligned IO) and reads every written
/// block back; returns the rig, engine and checker for more.
fn mixed_run(seed: u64, members: usize, requests: u64) -> (Rig, Engine, support::Checker) {
    let mut config = Raid5Config::new(CHUNK_SECTORS);
    config.stripe_cache_size = 17;
    let mut rig = Rig::raid5(seed, members, MEMBER_SECTORS, config);
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(4 << 20, requests, 40.0, seed, Some(97)), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let mut reads = rig.read_back(&checker);
    let report = rig.run(&mut engine, &mut reads, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    (rig, engine, checker)
}

#[test]
fn a_mixed_workload_reads_back_exactly_and_deterministically() {
    let summary = |seed: u64| {
        let (_rig, engine, checker) = mixed_run(seed, 5, 1_200);
        checker.oracle.assert_clean(&format!("seed {seed}"));
        assert_eq!(failed(&checker), 0);
        let stats = raid5_stats(&engine);
        assert!(stats.rmw > 0 && stats.rcw > 0, "{stats:?}");
        assert!(
            stats.delayed_stripes > 0 && stats.aligned_reads > 0,
            "{stats:?}"
        );
        assert!(
            stats.stripe_cache_waits > 0,
            "17 heads under queue depth 8 run out: {stats:?}"
        );
        assert!(checker.oracle.oracle().verified_reads() > 700);
        (stats, checker.oracle.oracle().verified_sectors())
    };
    let first = summary(3);
    assert_eq!(first, summary(3), "the same seed gives the same run");
    assert_ne!(first, summary(4));
}

#[test]
fn a_failed_member_is_reconstructed_and_a_second_failure_fails_io_never_data() {
    let members = 4;
    let (mut rig, mut engine, mut checker) = mixed_run(5, members, 600);
    checker.oracle.assert_clean("before the failure");
    fail_member(&mut rig, &mut engine, 2);
    let writes_before = rig.device(2).stats().writes;
    // Degraded: reads of member 2's data are computed; writes keep parity so it stays
    // recoverable.
    let mut source = rig.source(mixed(4 << 20, 400, 40.0, 6, None), 8);
    rig.run(&mut engine, &mut source, &mut checker, None);
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker.oracle.assert_clean("degraded");
    assert_eq!(failed(&checker), 0, "one failure is survivable");
    let stats = raid5_stats(&engine);
    assert!(stats.reconstructions > 50, "{stats:?}");
    assert_eq!(
        rig.device(2).stats().writes,
        writes_before,
        "no IO to a failed member"
    );
    assert!(engine.target_status().text.contains("[4/3] [UU_U]"));
    assert_eq!(engine.target_status().state, "degraded");

    fail_member(&mut rig, &mut engine, 0);
    let done_before = checker.bios.len();
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    let after: Vec<_> = checker.bios[done_before..].to_vec();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|b| b.status == IoStatus::IoError),
        "two failures: every bio errors"
    );
    checker.oracle.assert_clean("failed array");
}

#[test]
fn a_4k_block_write_to_one_member_chunk_reads_back_through_both_read_paths() {
    // Small sanity check of the two read paths on one block: aligned (4 KiB inside a chunk)
    // and through the stripe cache (a read spanning two chunks).
    let members = 3;
    let mut rig = Rig::raid5(9, members, MEMBER_SECTORS, Raid5Config::new(CHUNK_SECTORS));
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(
        vec![write(CHUNK_SECTORS - 8, 16), write(0, 8)].into_iter(),
        1,
    );
    rig.run(&mut engine, &mut source, &mut checker, None);
    let mut reads = rig.source(
        blocks(TraceOp::Read, [0, CHUNK_SECTORS / 8 - 1, CHUNK_SECTORS / 8])
            .into_iter()
            .chain([TraceRecord {
                op: TraceOp::Read,
                ..write(CHUNK_SECTORS - 8, 16)
            }]),
        1,
    );
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker.oracle.assert_clean("two read paths");
    assert_eq!(checker.oracle.oracle().verified_reads(), 4);
    let stats = raid5_stats(&engine);
    assert_eq!(stats.aligned_reads, 3, "{stats:?}");
}

/// RAM members for a stack: four 8 MiB members (20 µs) and a 2.25 MiB SSD (20 µs) last.
fn stack_devices() -> Vec<support::RamSpec> {
    let ram = |name: &'static str, capacity_sectors: u64| support::RamSpec {
        name,
        capacity_sectors,
        latency_ns: 20_000,
        volatile_write_cache: false,
    };
    vec![
        ram("m0", MEMBER_SECTORS),
        ram("m1", MEMBER_SECTORS),
        ram("m2", MEMBER_SECTORS),
        ram("m3", MEMBER_SECTORS),
        ram("ssd", support::SSD_SECTORS),
    ]
}

/// The array over devices 0..4 with `stripe_cache_size` heads.
fn lower_raid5(stripe_cache_size: u32) -> TargetSpec {
    let mut config = Raid5Config::new(CHUNK_SECTORS);
    config.stripe_cache_size = stripe_cache_size;
    TargetSpec::Raid5 {
        members: (0..4).map(DeviceId).collect(),
        config,
        spares: Vec::new(),
    }
}

/// The array behind device 5 of a stack over [`stack_devices`].
fn stacked_raid5_stats(engine: &Engine) -> Raid5Stats {
    let stacked = engine.stacked_targets();
    assert_eq!(stacked.len(), 1);
    assert_eq!(stacked[0].0, DeviceId(5));
    stacked[0].1.raid5().expect("raid5 below").stats()
}

#[test]
fn flashcache_on_raid5_verifies_every_read_through_the_whole_stack() {
    let array_sectors = 3 * MEMBER_SECTORS;
    let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, array_sectors);
    table.assoc = Associativity::Ways(256);
    let spec = TargetSpec::Stack {
        lower: vec![lower_raid5(256)],
        upper: Box::new(TargetSpec::flashcache(
            DeviceId(4),
            DeviceId(5),
            FlashcacheConfig::new(table),
        )),
    };
    let mut rig = Rig::with_spec(11, stack_devices(), spec);
    let mut engine = rig.engine();
    assert_eq!(engine.volume_sectors(), array_sectors);
    assert_eq!(engine.devices().len(), 5, "the array is no platform device");
    let mut checker = rig.checker();
    // Twice the cache's span: cleaning and misses go to the array.
    let mut source = rig.source(mixed(8 << 20, 1_500, 40.0, 11, Some(101)), 8);
    let report = rig.run(&mut engine, &mut source, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker.oracle.assert_clean("flashcache on raid5");
    assert_eq!(failed(&checker), 0);
    assert!(checker.oracle.oracle().verified_reads() > 1_000);
    let raid = stacked_raid5_stats(&engine);
    assert!(raid.writes > 100 && raid.reads > 100, "{raid:?}");
    let fc = engine
        .target()
        .flashcache()
        .expect("flashcache on top")
        .stats();
    assert!(fc.cleanings > 0, "{fc:?}");
    assert!((0..4).all(|m| rig.device(m).stats().writes > 0));
    let status = engine.stacked_status();
    assert!(
        status[0].1.text.contains("[4/4] [UUUU]"),
        "{}",
        status[0].1.text
    );
}

#[test]
fn linear_on_a_degraded_raid5_reads_back_exactly() {
    // A small stripe cache: the read-back finds few pages of the failed member cached.
    let spec = TargetSpec::Stack {
        lower: vec![lower_raid5(17)],
        upper: Box::new(TargetSpec::Linear {
            device: DeviceId(5),
            offset_sectors: 0,
        }),
    };
    let mut rig = Rig::with_spec(12, stack_devices(), spec);
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    let mut source = rig.source(mixed(4 << 20, 600, 40.0, 12, None), 8);
    rig.run(&mut engine, &mut source, &mut checker, None);
    engine
        .handle(
            rig.platform.now_ns(),
            Input::Control(Control::StackedMessage {
                device: DeviceId(5),
                message: "fail 1".to_string(),
            }),
        )
        .expect("a valid message");
    let mut reads = rig.read_back(&checker);
    rig.run(&mut engine, &mut reads, &mut checker, None);
    checker.oracle.assert_clean("linear on degraded raid5");
    assert_eq!(failed(&checker), 0);
    assert!(stacked_raid5_stats(&engine).reconstructions > 0);
}

#[test]
fn a_stack_refuses_shared_members_and_non_raid_lower_targets() {
    let infos = vec![dmsim_engine::DeviceInfo::new(MEMBER_SECTORS, 512); 5];
    let build = |spec: TargetSpec| {
        Engine::new(dmsim_engine::EngineConfig::default(), infos.clone(), spec)
            .expect_err("refused")
            .to_string()
    };
    let shared = build(TargetSpec::Stack {
        lower: vec![lower_raid5(256)],
        upper: Box::new(TargetSpec::Linear {
            device: DeviceId(2),
            offset_sectors: 0,
        }),
    });
    assert!(
        shared.contains("dev2, a member of a lower target"),
        "{shared}"
    );
    let linear_below = build(TargetSpec::Stack {
        lower: vec![TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        }],
        upper: Box::new(TargetSpec::Linear {
            device: DeviceId(5),
            offset_sectors: 0,
        }),
    });
    assert!(linear_below.contains("only raid5"), "{linear_below}");
}

/// Sends the array a message (`check`, `fail N`, …) with the engine idle.
fn message(rig: &Rig, engine: &mut Engine, text: &str) {
    engine
        .handle(
            rig.platform.now_ns(),
            Input::Control(Control::TargetMessage(text.to_string())),
        )
        .expect("a valid message");
}

#[test]
fn a_check_pass_finds_no_mismatch_after_a_clean_run_and_counts_silent_corruption() {
    let members = 4;
    let mut rig = Rig::raid5(3, members, MEMBER_SECTORS, Raid5Config::new(CHUNK_SECTORS));
    let mut engine = rig.engine();
    let mut checker = rig.checker();
    // Every data page holds workload data: full rows, then a mixed run over them.
    let row_sectors = CHUNK_SECTORS * (members as u64 - 1);
    let rows = MEMBER_SECTORS / CHUNK_SECTORS;
    let fill: Vec<TraceRecord> = (0..rows)
        .map(|r| write(r * row_sectors, row_sectors))
        .collect();
    let mut source = rig.source(fill.into_iter(), 4);
    rig.run(&mut engine, &mut source, &mut checker, None);
    let mut source = rig.source(mixed(rows * row_sectors * 512, 2000, 50.0, 3, None), 8);
    rig.run(&mut engine, &mut source, &mut checker, None);
    let stripes = MEMBER_SECTORS / 8;

    message(&rig, &mut engine, "check");
    assert!(!engine.is_idle(), "a check pass is work");
    let status = engine.target_status();
    assert!(
        status.text.contains("check = ") && status.text.contains("/8192)"),
        "{}",
        status.text
    );
    let mut nothing = rig.source(Vec::new().into_iter(), 1);
    let report = rig.run(&mut engine, &mut nothing, &mut checker, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    let machine = engine.target().raid5().expect("raid5");
    assert_eq!(machine.mismatch_cnt(), 0);
    assert_eq!(machine.sync_action(), "idle");
    let stats = machine.stats();
    assert_eq!((stats.sync_passes, stats.sync_stripes), (1, stripes));
    assert_eq!(stats.sync_stripes_skipped, 0);
    assert!(stats.sync_reads > 0 && stats.sync_reads <= stripes * members as u64);
    assert_eq!(engine.target_status().gauges["mismatch_cnt"], 0);

    // Member 1 silently corrupts one block of row 0 (where it holds data) when next read;
    // a fresh engine (empty stripe cache) checks again.
    rig.add_fault(
        1,
        dmsim_sim::device::faults::FaultRule::once(
            Some(dmsim_engine::block::Op::Read),
            Some(dmsim_engine::block::Extent {
                sector: 0,
                sectors: CHUNK_SECTORS,
            }),
            dmsim_sim::device::faults::FaultAction::SilentCorruption,
        ),
    );
    drop(engine);
    let mut engine = rig.engine();
    message(&rig, &mut engine, "check");
    let mut nothing = rig.source(Vec::new().into_iter(), 1);
    rig.run(&mut engine, &mut nothing, &mut checker, None);
    let machine = engine.target().raid5().expect("raid5");
    assert_eq!(machine.stats().sync_stripes, stripes);
    assert_eq!(
        machine.mismatch_cnt(),
        8,
        "one stripe (8 sectors) disagrees"
    );
    assert_eq!(machine.stats().sync_parity_rewrites, 0, "check only counts");
    let err = engine
        .handle(
            rig.platform.now_ns(),
            Input::Control(Control::TargetMessage("resync".to_string())),
        )
        .expect_err("refused");
    assert!(format!("{err}").contains("check"), "{err}");
}
