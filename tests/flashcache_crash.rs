//! Crash tests of the writeback cache (spec 1.16, "crash semantics"): run a mixed workload,
//! stop after N inputs for N in a seeded set, lose power on both devices (in-flight IO lost,
//! in-flight writes torn per sector, volatile caches lost), reload the cache over the same
//! devices, and read back every block any write touched. The data oracle, which still counts
//! the writes that were in flight at the crash as in flight, checks every sector: it holds
//! the last acknowledged write or one of the writes in flight then — no acknowledged write
//! is lost, no stale data is served. After a crash the superblock says DIRTY, and the reload
//! loads exactly the slots the SSD holds as DIRTY, every other block starting INVALID.

mod flashcache_support;

use dmsim_engine::flashcache::layout::{decode_slot, Superblock, SuperblockState, SLOT_BYTES};
use dmsim_engine::flashcache::{BlockState, CacheMode, Persistence, ReclaimPolicy};
use dmsim_engine::{DriveOutcome, FlashcacheState};
use flashcache_support::{
    closed_loop, config, mixed_workload, oracle_observer, read_blocks, run, DeviceSpec, Machine,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 512 cache blocks after metadata (two 256-way sets).
const SSD_SECTORS: u64 = 4608;
const DISK_SECTORS: u64 = 1 << 21;
const SPAN_BYTES: u64 = 8 << 20;
const REQUESTS: u64 = 1200;

fn ram_machine(seed: u64) -> Machine {
    let mut ssd = DeviceSpec::ram(SSD_SECTORS);
    ssd.sets.push(("latency_ns", "20000".to_string()));
    let mut disk = DeviceSpec::ram(DISK_SECTORS);
    disk.sets.push(("latency_ns", "200000".to_string()));
    Machine::new(ssd, disk, SSD_SECTORS, seed)
}

/// The test's own seeded choice of crash points (a ChaCha stream of its own).
fn crash_points(seed: u64, count: usize, total_inputs: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut points: Vec<u64> = (0..count)
        .map(|_| 1 + rng.next_u64() % total_inputs)
        .collect();
    points.sort_unstable();
    points
}

/// What the SSD's metadata said at the crash: superblock state and the dirty slots.
struct OnSsd {
    superblock: Superblock,
    /// (cache block index, dbn) of every slot persisted DIRTY.
    dirty_slots: Vec<(u32, u64)>,
}

fn read_metadata(machine: &Machine, size_blocks: u32) -> OnSsd {
    let superblock = Superblock::decode(&machine.ssd_bytes(0, 8));
    // Default md block of 8 sectors: slots start at sector 8, 256 per md block, contiguous.
    let slot_sectors = (u64::from(size_blocks) * SLOT_BYTES as u64).div_ceil(512);
    let bytes = machine.ssd_bytes(8, slot_sectors);
    let dirty = u32::from(BlockState::DIRTY.bits());
    let dirty_slots = (0..size_blocks)
        .filter_map(|index| {
            let slot = decode_slot(&bytes, index as usize);
            (slot.state & dirty != 0).then_some((index, slot.dbn))
        })
        .collect();
    OnSsd {
        superblock,
        dirty_slots,
    }
}

/// Runs until `crash_after` inputs, crashes, reloads and reads everything back. Returns the
/// number of blocks the reload found dirty.
fn crash_and_reload(
    mut machine: Machine,
    policy: ReclaimPolicy,
    seed: u64,
    crash_after: u64,
) -> usize {
    let disk_sectors = machine.platform.device_infos()[1].capacity_sectors;
    let mut create = config(CacheMode::WriteBack, false, policy, disk_sectors);
    create.table.cache_size_sectors = SSD_SECTORS;
    let mut engine = machine.engine(create.clone());
    let mut observer = oracle_observer();
    let mut workload = closed_loop(mixed_workload(SPAN_BYTES, REQUESTS, 40.0, seed), 8);
    let report = run(
        &mut engine,
        &mut machine,
        &mut workload,
        &mut observer,
        Some(crash_after),
    );
    let what = format!("seed {seed} {policy:?}, crash after {crash_after} inputs");
    observer.assert_clean(&what);
    assert_eq!(observer.failed_bios(), 0, "{what}");
    let size_blocks = engine
        .target()
        .flashcache()
        .map(|fc| fc.geometry().size_blocks);
    drop(engine); // the kernel is gone with the power
    machine.crash();
    let mut reload = create;
    reload.table.persistence = Persistence::Reload;
    let mut engine = machine.engine(reload);
    let Some(size_blocks) = size_blocks else {
        // The crash hit the create itself: no bio was ever mapped, so none was acknowledged.
        assert_eq!(report.bios_done, 0, "{what}");
        flashcache_support::run(
            &mut engine,
            &mut machine,
            &mut dmsim_engine::NoBios { finished: true },
            &mut oracle_observer(),
            None,
        );
        let state = engine.target().flashcache_state();
        assert!(
            matches!(state, Some(FlashcacheState::Failed(_)))
                || matches!(state, Some(FlashcacheState::Running)),
            "{what}: {state:?}"
        );
        return 0;
    };
    let on_ssd = read_metadata(&machine, size_blocks);
    assert_eq!(
        on_ssd.superblock.state(),
        Some(SuperblockState::Dirty),
        "{what}: a running cache's superblock says DIRTY"
    );
    flashcache_support::set_up(&mut engine, &mut machine);
    let fc = engine.target().flashcache().expect("reloaded");
    let gauges = fc.gauges();
    assert_eq!(
        gauges.cached_blocks, gauges.nr_dirty,
        "{what}: only dirty slots are loaded"
    );
    assert_eq!(gauges.nr_dirty, on_ssd.dirty_slots.len() as u64, "{what}");
    for &(index, dbn) in &on_ssd.dirty_slots {
        let (state, loaded_dbn) = fc.block(index);
        assert!(
            state.is_dirty() && loaded_dbn == dbn,
            "{what}: block {index}"
        );
    }
    // Read back every block a write touched, through the reloaded cache.
    let blocks: Vec<u64> = observer.written_blocks().collect();
    let mut reads = closed_loop(read_blocks(blocks).into_iter(), 8);
    let report = run(&mut engine, &mut machine, &mut reads, &mut observer, None);
    assert_eq!(report.outcome, DriveOutcome::Finished);
    observer.assert_clean(&format!("{what}: after reload"));
    assert_eq!(observer.failed_bios(), 0, "{what}: after reload");
    on_ssd.dirty_slots.len()
}

/// Inputs of the whole run without a crash (the range crash points are drawn from).
fn total_inputs(machine: Machine, policy: ReclaimPolicy, seed: u64) -> u64 {
    let mut machine = machine;
    let disk_sectors = machine.platform.device_infos()[1].capacity_sectors;
    let mut create = config(CacheMode::WriteBack, false, policy, disk_sectors);
    create.table.cache_size_sectors = SSD_SECTORS;
    let mut engine = machine.engine(create);
    let mut observer = oracle_observer();
    let mut workload = closed_loop(mixed_workload(SPAN_BYTES, REQUESTS, 40.0, seed), 8);
    let report = run(
        &mut engine,
        &mut machine,
        &mut workload,
        &mut observer,
        None,
    );
    observer.assert_clean("the run without a crash");
    report.inputs
}

#[test]
fn writeback_survives_crashes_at_seeded_points_fifo() {
    let seed = 101;
    let total = total_inputs(ram_machine(seed), ReclaimPolicy::Fifo, seed);
    let mut dirty_seen = 0;
    // Two points inside setup, then seeded ones across the run.
    let mut points = vec![1, 3];
    points.extend(crash_points(seed, 14, total));
    for crash_after in points {
        dirty_seen += crash_and_reload(ram_machine(seed), ReclaimPolicy::Fifo, seed, crash_after);
    }
    assert!(dirty_seen > 0, "the crashes found dirty blocks to recover");
}

#[test]
fn writeback_survives_crashes_at_seeded_points_lru() {
    let seed = 202;
    let total = total_inputs(ram_machine(seed), ReclaimPolicy::Lru, seed);
    let mut dirty_seen = 0;
    for crash_after in crash_points(seed, 12, total) {
        dirty_seen += crash_and_reload(ram_machine(seed), ReclaimPolicy::Lru, seed, crash_after);
    }
    assert!(dirty_seen > 0, "the crashes found dirty blocks to recover");
}

/// Real device timing (an NVMe SSD with power-loss protection over a 7200 rpm disk whose
/// write cache is off: flashcache issues no FLUSH, so a volatile disk cache would lose
/// cleaned data by design, not by a bug).
#[test]
fn writeback_survives_crashes_on_the_nvme_and_7200_rpm_presets() {
    let seed = 303;
    let machine = || {
        Machine::new(
            DeviceSpec {
                preset: "ssd-nvme",
                sets: Vec::new(),
            },
            DeviceSpec {
                preset: "hdd-7200",
                sets: vec![("cache.write_back", "false".to_string())],
            },
            SSD_SECTORS,
            seed,
        )
    };
    let total = total_inputs(machine(), ReclaimPolicy::LruStrict, seed);
    for crash_after in crash_points(seed, 4, total) {
        crash_and_reload(machine(), ReclaimPolicy::LruStrict, seed, crash_after);
    }
}

/// Faithful flashcache issues no FLUSH or FUA (Decision 1): on an SSD whose volatile write
/// cache loses everything at power loss, even the superblock written by the create is gone,
/// so the reload refuses the cache and every block the workload wrote back is lost. Pinned
/// here so that a change in either the flush behaviour or the crash model is noticed.
#[test]
fn a_volatile_ssd_cache_loses_the_whole_cache_at_power_loss() {
    let seed = 404;
    let mut ssd = DeviceSpec::ram(SSD_SECTORS);
    ssd.sets.push(("volatile_write_cache", "true".to_string()));
    let mut machine = Machine::new(ssd, DeviceSpec::ram(DISK_SECTORS), SSD_SECTORS, seed);
    let mut create = config(
        CacheMode::WriteBack,
        false,
        ReclaimPolicy::Fifo,
        DISK_SECTORS,
    );
    create.table.cache_size_sectors = SSD_SECTORS;
    let mut engine = machine.engine(create.clone());
    let mut observer = oracle_observer();
    let mut workload = closed_loop(mixed_workload(SPAN_BYTES, 300, 0.0, seed), 8);
    run(
        &mut engine,
        &mut machine,
        &mut workload,
        &mut observer,
        None,
    );
    observer.assert_clean("before the crash");
    assert!(
        engine
            .target()
            .flashcache()
            .map(|fc| fc.gauges())
            .expect("running")
            .nr_dirty
            > 0
    );
    drop(engine);
    let reports = machine.crash();
    assert!(reports[0].cached_blocks_lost > 0, "{:?}", reports[0]);
    assert_eq!(
        Superblock::decode(&machine.ssd_bytes(0, 8)).state(),
        None,
        "the superblock never left the SSD's cache"
    );
    let mut reload = create;
    reload.table.persistence = Persistence::Reload;
    let mut engine = machine.engine(reload);
    run(
        &mut engine,
        &mut machine,
        &mut dmsim_engine::NoBios { finished: true },
        &mut oracle_observer(),
        None,
    );
    let Some(FlashcacheState::Failed(error)) = engine.target().flashcache_state() else {
        panic!(
            "the reload should fail: {:?}",
            engine.target().flashcache_state()
        );
    };
    assert!(error.to_string().contains("Corrupt"), "{error}");
}
