//! flashcache end to end on simulated devices: the engine with a flashcache target over a
//! simulated SSD and disk, driven by a mixed random workload (whole blocks, partial and
//! unaligned IO, overwrites, queue depth 8), every read checked by the data oracle,
//! invariants checked after every input, no IO the simulated devices refuse.
//!
//! Covers every mode (writeback, writethrough, writearound, write-only) with every policy
//! (fifo, lru, lru-strict); threshold cleaning through kcopyd and a sysctl message; remove
//! (clean, store metadata) with the disk then holding every acknowledged write; an SSD fault
//! in writethrough switching to bypass; and a run on the nvme and 7200 rpm presets.

mod flashcache_support;

use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::flashcache::layout::SuperblockState;
use dmsim_engine::flashcache::{CacheMode, Phase, ReclaimPolicy, StoreOutcome};
use dmsim_engine::Op;
use dmsim_sim::device::faults::{FaultAction, FaultRule};
use flashcache_support::{
    closed_loop, config, idle_for, message, mixed_workload, oracle_observer, read_blocks, run,
    DeviceSpec, Machine, OracleObserver,
};

/// 2.25 MiB of SSD: 512 cache blocks (two 256-way sets) in every mode.
const SSD_SECTORS: u64 = 4608;
/// 1 GiB of disk.
const DISK_SECTORS: u64 = 1 << 21;
/// The workload's span: 2048 blocks, four times the cache.
const SPAN_BYTES: u64 = 8 << 20;
const POLICIES: [ReclaimPolicy; 3] = [
    ReclaimPolicy::Fifo,
    ReclaimPolicy::Lru,
    ReclaimPolicy::LruStrict,
];

/// A RAM-timed machine where the disk is ten times slower than the SSD (so completions of
/// concurrent bios reorder).
fn machine(seed: u64) -> Machine {
    let mut ssd = DeviceSpec::ram(SSD_SECTORS);
    ssd.sets.push(("latency_ns", "20000".to_string()));
    let mut disk = DeviceSpec::ram(DISK_SECTORS);
    disk.sets.push(("latency_ns", "200000".to_string()));
    Machine::new(ssd, disk, SSD_SECTORS, seed)
}

/// Every sector a write touched holds, on the disk's media, the last acknowledged write.
fn assert_disk_holds_every_acknowledged_write(machine: &Machine, observer: &OracleObserver) {
    let mut checked = 0;
    for block in observer.written_blocks() {
        for sector in block * 8..block * 8 + 8 {
            let expected = match observer.oracle().acknowledged(sector) {
                None => continue,
                Some(0) => SectorContent::Zero,
                Some(write_id) => SectorContent::Stamp(SectorStamp { sector, write_id }),
            };
            assert_eq!(
                machine.disk_sector(sector),
                expected,
                "disk sector {sector}"
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} sectors checked");
}

/// One mixed run; returns the pieces for mode-specific checks.
fn mixed_run(
    mode: CacheMode,
    write_only: bool,
    policy: ReclaimPolicy,
    seed: u64,
) -> (dmsim_engine::Engine, Machine, OracleObserver) {
    let mut machine = machine(seed);
    let mut engine = machine.engine(config(mode, write_only, policy, DISK_SECTORS));
    let mut observer = oracle_observer();
    let mut source = closed_loop(mixed_workload(SPAN_BYTES, 1000, 50.0, seed), 8);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    let what = format!("{mode:?} write_only={write_only} {policy:?}");
    observer.assert_clean(&what);
    assert_eq!(observer.failed_bios(), 0, "{what}");
    assert!(
        observer.oracle().verified_reads() > 300,
        "{what}: {} reads",
        observer.oracle().verified_reads()
    );
    let stats = engine
        .target()
        .flashcache()
        .expect("running")
        .stats()
        .clone();
    assert!(stats.read_hits > 0, "{what}: no read hit");
    assert!(
        stats.uncached_reads > 0 && stats.uncached_writes > 0,
        "{what}: {stats:?}"
    );
    match policy {
        // Promotion needs repeated hits, which writearound (every write invalidates) lacks.
        ReclaimPolicy::Lru if mode != CacheMode::WriteAround => {
            assert!(stats.lru_promotions > 0, "{what}: {stats:?}")
        }
        ReclaimPolicy::Lru => {}
        ReclaimPolicy::Fifo | ReclaimPolicy::LruStrict => {
            assert_eq!(stats.lru_promotions + stats.lru_demotions, 0, "{what}")
        }
    }
    (engine, machine, observer)
}

/// `remove`: a writeback cache cleans everything and stores its metadata (superblock CLEAN).
fn remove(engine: &mut dmsim_engine::Engine, machine: &mut Machine) -> StoreOutcome {
    message(engine, machine, "remove");
    run(
        engine,
        machine,
        &mut dmsim_engine::NoBios { finished: true },
        &mut oracle_observer(),
        None,
    );
    match engine.target().flashcache().expect("running").phase() {
        Phase::Stopped(Some(outcome)) => outcome.clone(),
        other => panic!("remove did not finish: {other:?}"),
    }
}

#[test]
fn writeback_with_every_policy_keeps_data_and_cleans_on_remove() {
    for (index, policy) in POLICIES.into_iter().enumerate() {
        let (mut engine, mut machine, observer) =
            mixed_run(CacheMode::WriteBack, false, policy, 11 + index as u64);
        let stats = engine
            .target()
            .flashcache()
            .expect("running")
            .stats()
            .clone();
        assert!(
            stats.md_write_dirty > 0 && stats.write_hits > 0,
            "{stats:?}"
        );
        assert!(
            engine
                .target()
                .flashcache()
                .map(|fc| fc.gauges())
                .expect("flashcache")
                .nr_dirty
                > 0,
            "writeback keeps dirty blocks"
        );
        let outcome = remove(&mut engine, &mut machine);
        assert_eq!(
            outcome.superblock_state,
            SuperblockState::Clean,
            "{policy:?}"
        );
        assert_eq!(outcome.dirty_blocks, 0);
        assert_disk_holds_every_acknowledged_write(&machine, &observer);
    }
}

#[test]
fn write_only_caches_writes_and_never_fills_on_a_read_miss() {
    for (index, policy) in POLICIES.into_iter().enumerate() {
        let (mut engine, mut machine, observer) =
            mixed_run(CacheMode::WriteBack, true, policy, 21 + index as u64);
        let status = engine
            .target()
            .flashcache()
            .map(|fc| fc.status())
            .expect("flashcache");
        assert!(status.write_only);
        assert_eq!(status.stats.replace, 0, "no read miss claimed a slot");
        assert!(status.stats.md_write_dirty > 0);
        let outcome = remove(&mut engine, &mut machine);
        assert_eq!(outcome.dirty_blocks, 0);
        assert_disk_holds_every_acknowledged_write(&machine, &observer);
    }
}

#[test]
fn writethrough_with_every_policy_keeps_the_disk_current() {
    for (index, policy) in POLICIES.into_iter().enumerate() {
        let (engine, machine, observer) =
            mixed_run(CacheMode::WriteThrough, false, policy, 31 + index as u64);
        let stats = engine
            .target()
            .flashcache()
            .expect("running")
            .stats()
            .clone();
        assert!(stats.write_hits > 0, "{stats:?}");
        assert_eq!(stats.md_write_dirty, 0, "writethrough writes no metadata");
        assert_eq!(
            engine
                .target()
                .flashcache()
                .map(|fc| fc.gauges())
                .expect("flashcache")
                .nr_dirty,
            0
        );
        assert_disk_holds_every_acknowledged_write(&machine, &observer);
    }
}

#[test]
fn writearound_with_every_policy_caches_only_reads() {
    for (index, policy) in POLICIES.into_iter().enumerate() {
        let (engine, machine, observer) =
            mixed_run(CacheMode::WriteAround, false, policy, 41 + index as u64);
        let stats = engine
            .target()
            .flashcache()
            .expect("running")
            .stats()
            .clone();
        assert_eq!(stats.write_hits + stats.wr_replace, 0, "{stats:?}");
        assert!(
            stats.wr_invalidates > 0,
            "writes drop cached copies: {stats:?}"
        );
        assert_disk_holds_every_acknowledged_write(&machine, &observer);
    }
}

#[test]
fn dirty_threshold_cleaning_runs_through_kcopyd_and_follows_the_sysctl() {
    let seed = 51;
    let mut machine = machine(seed);
    let mut engine = machine.engine(config(
        CacheMode::WriteBack,
        false,
        ReclaimPolicy::Fifo,
        DISK_SECTORS,
    ));
    let mut observer = oracle_observer();
    // Write-heavy: the sets fill with dirty blocks beyond the 20% threshold.
    let mut source = closed_loop(mixed_workload(SPAN_BYTES, 1500, 10.0, seed), 8);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    observer.assert_clean("write phase");
    let threshold_per_set = 256 * 20 / 100;
    let fc = engine.target().flashcache().expect("running");
    let (stats, gauges) = (fc.stats().clone(), fc.gauges());
    assert!(stats.cleanings > 0 && stats.md_write_clean > 0, "{stats:?}");
    let kcopyd = engine.stats().services.kcopyd;
    assert!(
        kcopyd.jobs >= stats.cleanings,
        "every cleaning is a kcopyd copy: {kcopyd:?} vs {stats:?}"
    );
    // Cleaning beyond the limits (merged neighbours) can leave a set above its threshold
    // with nothing to restart it but flashcache's delayed pass, due 1 s later.
    if gauges.nr_dirty > 2 * threshold_per_set {
        assert!(
            engine.poll_deadline().is_some(),
            "a delayed pass is pending"
        );
    }
    idle_for(&mut engine, &mut machine, &mut observer, 2_000_000_000);
    let gauges = engine
        .target()
        .flashcache()
        .map(|fc| fc.gauges())
        .expect("flashcache");
    assert!(
        gauges.nr_dirty <= 2 * threshold_per_set,
        "cleaning brings the sets down to the threshold: {gauges:?}"
    );
    // Lower the threshold; read misses in both sets trigger cleaning down to it (with the
    // legacy mapping, 1 MiB chunks alternate between the two sets).
    message(&mut engine, &machine, "set dirty_thresh_pct 10");
    let before = engine
        .target()
        .flashcache()
        .map(|fc| fc.gauges())
        .expect("flashcache")
        .nr_dirty;
    let misses = (4096..4096 + 64).chain(4352..4352 + 64);
    let mut reads = closed_loop(read_blocks(misses).into_iter(), 4);
    run(&mut engine, &mut machine, &mut reads, &mut observer, None);
    observer.assert_clean("read phase");
    let after = engine
        .target()
        .flashcache()
        .map(|fc| fc.gauges())
        .expect("flashcache")
        .nr_dirty;
    assert!(
        after < before && after <= 2 * (256 * 10 / 100),
        "dirty blocks {before} -> {after}"
    );
}

#[test]
fn an_ssd_read_fault_in_writethrough_switches_to_bypass_and_reads_stay_correct() {
    let seed = 61;
    let mut machine = machine(seed);
    machine
        .platform
        .device_mut(0)
        .add_fault(
            FaultRule::always(FaultAction::Fail(dmsim_engine::IoStatus::IoError))
                .on(Op::Read)
                .after(40)
                .at_most(1),
        )
        .expect("a valid fault");
    let mut engine = machine.engine(config(
        CacheMode::WriteThrough,
        false,
        ReclaimPolicy::Lru,
        DISK_SECTORS,
    ));
    let mut observer = oracle_observer();
    let mut source = closed_loop(mixed_workload(SPAN_BYTES, 800, 60.0, seed), 8);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    observer.assert_clean("writethrough with an SSD fault");
    assert_eq!(
        observer.failed_bios(),
        0,
        "a cache read error is served from disk"
    );
    let fc = engine.target().flashcache().expect("running");
    assert!(
        fc.bypassing(),
        "the cache error switched to bypass: {:?} {:?}, ssd {:?}",
        fc.stats(),
        fc.errors(),
        machine.platform.devices()[0].stats()
    );
    assert_eq!(fc.errors().ssd_read_errors, 1);
    let hits = fc.stats().read_hits;
    assert!(hits > 0, "hits before the fault");
    // In bypass, reads of cached blocks go to the disk and still return the data.
    let written: Vec<u64> = observer.written_blocks().take(200).collect();
    let mut reads = closed_loop(read_blocks(written).into_iter(), 4);
    run(&mut engine, &mut machine, &mut reads, &mut observer, None);
    observer.assert_clean("bypass reads");
    assert_eq!(
        engine
            .target()
            .flashcache()
            .expect("running")
            .stats()
            .read_hits,
        hits
    );
    assert_disk_holds_every_acknowledged_write(&machine, &observer);
}

#[test]
fn writeback_on_the_nvme_and_7200_rpm_presets() {
    let seed = 71;
    let mut machine = Machine::new(
        DeviceSpec {
            preset: "ssd-nvme",
            sets: Vec::new(),
        },
        DeviceSpec {
            preset: "hdd-7200",
            sets: Vec::new(),
        },
        SSD_SECTORS,
        seed,
    );
    let disk_sectors = machine.platform.device_infos()[1].capacity_sectors;
    let mut config = config(
        CacheMode::WriteBack,
        false,
        ReclaimPolicy::Lru,
        disk_sectors,
    );
    config.table.cache_size_sectors = SSD_SECTORS;
    let mut engine = machine.engine(config);
    let mut observer = oracle_observer();
    let mut source = closed_loop(mixed_workload(SPAN_BYTES, 500, 50.0, seed), 8);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    observer.assert_clean("nvme + hdd-7200");
    assert_eq!(observer.failed_bios(), 0);
    let stats = engine
        .target()
        .flashcache()
        .expect("running")
        .stats()
        .clone();
    assert!(stats.read_hits > 0 && stats.write_hits > 0, "{stats:?}");
    let text = engine.target_status().text;
    assert!(text.contains("total blocks(512)"), "{text}");
}

#[test]
fn a_hung_ssd_read_in_writeback_times_out_and_fails_only_its_bio() {
    let seed = 81;
    let mut machine = machine(seed);
    machine
        .platform
        .device_mut(0)
        .add_fault(
            FaultRule::always(FaultAction::Hang)
                .on(Op::Read)
                .after(30)
                .at_most(1),
        )
        .expect("a valid fault");
    let mut config = config(
        CacheMode::WriteBack,
        false,
        ReclaimPolicy::Lru,
        DISK_SECTORS,
    );
    config.options.ssd_timeout_ns = Some(5_000_000);
    let mut engine = machine.engine(config);
    let mut observer = oracle_observer();
    let mut source = closed_loop(mixed_workload(SPAN_BYTES, 800, 60.0, seed), 8);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    observer.assert_clean("writeback with a hung SSD read");
    assert_eq!(
        machine.platform.devices()[0].stats().cancelled,
        1,
        "the timed-out read was cancelled"
    );
    let fc = engine.target().flashcache().expect("running");
    assert!(!fc.bypassing(), "writeback never bypasses");
    // The hung IO is a read hit's (READCACHE): in writeback its bio fails with EIO.
    assert_eq!(fc.errors().ssd_read_errors, 1);
    assert_eq!(
        observer.failed_bios(),
        1,
        "only the bio of the timed-out read fails"
    );
    let outcome = remove(&mut engine, &mut machine);
    assert_eq!(outcome.dirty_blocks, 0);
    assert_disk_holds_every_acknowledged_write(&machine, &observer);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let outcome = || {
        let (engine, machine, observer) =
            mixed_run(CacheMode::WriteBack, false, ReclaimPolicy::Lru, 91);
        (
            serde_json::to_string(&engine.target().flashcache().map(|fc| fc.status()))
                .expect("serialises"),
            format!("{:?}", engine.stats()),
            dmsim_engine::Platform::now_ns(&machine.platform),
            observer.oracle().verified_reads(),
        )
    };
    assert_eq!(outcome(), outcome());
}
