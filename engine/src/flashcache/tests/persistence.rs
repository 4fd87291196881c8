//! Create, load and store (spec 1.16): superblock states, crash recovery, refusals.

use super::harness::{devices, run_setup, run_setup_on, small_config, Fault, Harness, Store};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheDeviceSizes, CacheMode, Persistence, Tunable};
use crate::flashcache::instance::{Flashcache, Phase};
use crate::flashcache::io::{CacheRequest, Device, IoOp};
use crate::flashcache::layout::{
    offset, Superblock, SuperblockState, SB_STATE_DIRTY, SB_STATE_UNSTABLE,
};
use crate::flashcache::persist::SetupError;

fn config(persistence: Persistence) -> crate::flashcache::config::FlashcacheConfig {
    let mut config = small_config(CacheMode::WriteBack);
    config.table.persistence = persistence;
    config
}

fn reload(ssd: &mut Store) -> Result<Flashcache, SetupError> {
    run_setup(config(Persistence::Reload), ssd, 0)
}

fn superblock(ssd: &Store) -> Superblock {
    let mut bytes = vec![0u8; 512];
    ssd.read_bytes(0, &mut bytes);
    Superblock::decode(&bytes)
}

fn patch_u32(ssd: &mut Store, at: usize, value: u32) {
    let mut bytes = vec![0u8; 512];
    ssd.read_bytes(0, &mut bytes);
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    ssd.write_bytes(0, &bytes);
}

#[test]
fn create_writes_invalid_slots_and_a_dirty_superblock() {
    let mut ssd = Store::default();
    let fc = run_setup(config(Persistence::Create), &mut ssd, 0).expect("created");
    let sb = superblock(&ssd);
    assert_eq!(sb.state_raw, SB_STATE_DIRTY);
    assert_eq!((sb.version, sb.size_blocks, sb.assoc), (4, 512, 256));
    assert_eq!(sb.cache_devname, "cachedev");
    assert_eq!(sb.cache_devsize_sectors, devices().ssd_sectors);
    let mut slot = vec![0u8; 512];
    ssd.read_bytes(fc.geometry().md_block_sector(1), &mut slot);
    assert_eq!(
        &slot[0..16],
        &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(fc.gauges().cached_blocks, 0);
}

#[test]
fn create_refuses_an_existing_cache_unless_forced() {
    let mut h = Harness::new(config(Persistence::Create));
    h.io(Op::Write, 0, 8);
    h.remove();
    let mut ssd = h.ssd.clone();
    assert_eq!(superblock(&ssd).state(), Some(SuperblockState::Clean));
    assert_eq!(
        run_setup(config(Persistence::Create), &mut ssd, 0).err(),
        Some(SetupError::ExistingCache)
    );
    let fc = run_setup(config(Persistence::ForceCreate), &mut ssd, 0).expect("forced");
    assert_eq!(fc.gauges().cached_blocks, 0);
    // A cache in use (DIRTY superblock) is existing too.
    assert_eq!(
        run_setup(config(Persistence::Create), &mut ssd, 0).err(),
        Some(SetupError::ExistingCache)
    );
}

#[test]
fn reload_after_a_clean_remove_loads_every_slot() {
    let mut h = Harness::new(config(Persistence::Create));
    for k in 0..5u64 {
        h.io(Op::Write, 8 * k, 8);
    }
    for k in 0..3u64 {
        h.read_block(400 + 8 * k);
    }
    h.remove();
    let mut h = h.restart(reload).expect("loads");
    assert_eq!(
        superblock(&h.ssd).state_raw,
        SB_STATE_DIRTY,
        "marked in use again"
    );
    assert_eq!(h.fc.gauges().cached_blocks, 8);
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    for k in 0..5u64 {
        assert_eq!(h.read_block(8 * k), vec![k + 1; 8]);
    }
    assert_eq!(h.fc.stats().read_hits, 5);
}

#[test]
fn reload_after_a_fast_remove_keeps_dirty_blocks_dirty() {
    let mut h = Harness::new(config(Persistence::Create));
    h.fc.set_tunable(Tunable::FastRemove(true)).expect("sysctl");
    for k in 0..4u64 {
        h.io(Op::Write, 8 * k, 8);
    }
    h.remove();
    assert_eq!(superblock(&h.ssd).state(), Some(SuperblockState::FastClean));
    let mut h = h.restart(reload).expect("loads");
    assert_eq!(
        (h.fc.gauges().cached_blocks, h.fc.gauges().nr_dirty),
        (4, 4)
    );
    assert_eq!(h.read_block(16), vec![3; 8], "served from the cache");
    assert_eq!(h.disk.version(16), 0);
    h.remove();
    assert_eq!(h.disk.version(16), 3, "cleaned by the next slow remove");
}

/// The crash test: acknowledged writes survive, clean cached data does not, an unfinished
/// dirtying (data written, metadata not) is forgotten.
#[test]
fn load_after_a_crash_trusts_only_dirty_slots() {
    let mut h = Harness::new(config(Persistence::Create));
    for k in 0..5u64 {
        assert_eq!(h.io(Op::Write, 8 * k, 8), IoStatus::Ok);
    }
    for k in 0..3u64 {
        h.read_block(400 + 8 * k);
    }
    assert_eq!(h.fc.gauges().cached_blocks, 8);
    // A write whose data reached the SSD but whose metadata write is still in flight.
    let unacked = h.submit(Op::Write, 800, 8);
    h.complete_at(0);
    h.run_worker();
    assert!(h.outstanding().iter().any(super::harness::is_md_write));
    assert_eq!(h.status_of(unacked), None);
    let mut h = h.restart(reload).expect("loads after a crash");
    assert_eq!(h.fc.gauges().nr_dirty, 5);
    assert_eq!(
        h.fc.gauges().cached_blocks,
        5,
        "clean blocks are not trusted"
    );
    for k in 0..5u64 {
        assert_eq!(
            h.read_block(8 * k),
            vec![k + 1; 8],
            "acknowledged write {k} survived"
        );
    }
    assert_eq!(h.fc.stats().read_hits, 5);
    assert_eq!(h.read_block(400), vec![0; 8]);
    assert_eq!(
        h.read_block(800),
        vec![0; 8],
        "never acknowledged, never loaded"
    );
}

#[test]
fn store_errors_leave_an_unstable_superblock_that_does_not_load() {
    let mut h = Harness::new(config(Persistence::Create));
    h.fc.set_tunable(Tunable::FastRemove(true)).expect("sysctl");
    h.io(Op::Write, 0, 8);
    h.faults.push(Fault {
        device: Device::Ssd,
        op: IoOp::Write,
        count: 1,
    });
    h.remove();
    let Phase::Stopped(Some(outcome)) = h.fc.phase().clone() else {
        panic!("stored");
    };
    assert_eq!(outcome.write_errors, 1);
    assert_eq!(outcome.superblock_state, SuperblockState::Unstable);
    let mut ssd = h.ssd.clone();
    assert_eq!(superblock(&ssd).state_raw, SB_STATE_UNSTABLE);
    assert!(matches!(
        reload(&mut ssd),
        Err(SetupError::CorruptSuperblock {
            field: "cache_sb_state",
            ..
        })
    ));
}

#[test]
fn load_refuses_unknown_versions_and_garbage() {
    let mut h = Harness::new(config(Persistence::Create));
    h.remove();
    let mut ssd = h.ssd.clone();
    patch_u32(&mut ssd, offset::VERSION, 5);
    assert_eq!(
        reload(&mut ssd).err(),
        Some(SetupError::UnknownVersion { version: 5 })
    );
    let mut blank = Store::default();
    assert!(matches!(
        reload(&mut blank),
        Err(SetupError::CorruptSuperblock { .. })
    ));
    let mut ssd = h.ssd.clone();
    patch_u32(&mut ssd, offset::ASSOC, 300);
    assert!(matches!(
        reload(&mut ssd),
        Err(SetupError::CorruptSuperblock { field: "assoc", .. })
    ));
    // A slot whose state no cache at rest can have.
    let mut ssd = h.ssd.clone();
    let mut slot = vec![0u8; 512];
    ssd.read_bytes(8, &mut slot);
    slot[8] = 0x43;
    ssd.write_bytes(8, &slot);
    assert_eq!(
        reload(&mut ssd).err(),
        Some(SetupError::CorruptSlot {
            index: 0,
            state: 0x43
        })
    );
}

#[test]
fn version_two_superblock_reloads_with_legacy_invalidation() {
    let mut h = Harness::new(config(Persistence::Create));
    h.read_block(24);
    h.remove();
    let mut h = h
        .restart(|ssd| {
            patch_u32(ssd, offset::VERSION, 2);
            reload(ssd)
        })
        .expect("v2 loads");
    assert!(h.fc.geometry().uses_legacy_invalidation());
    assert_eq!(
        superblock(&h.ssd).version,
        2,
        "the version is kept on rewrite"
    );
    assert!(h.fc.find_block(24).is_some());
    // Partial write: the set scan finds the overlapping block and invalidates it.
    assert_eq!(h.io(Op::Write, 27, 3), IoStatus::Ok);
    assert!(h.fc.find_block(24).is_none());
    assert_eq!(h.fc.stats().wr_invalidates, 1);
}

#[test]
fn version_one_superblock_uses_one_sector_metadata_blocks() {
    let mut config = config(Persistence::Create);
    config.table.md_block_size_sectors = 1;
    let mut h = Harness::new(config);
    assert_eq!(h.fc.geometry().slots_per_md_block(), 32);
    h.io(Op::Write, 0, 8);
    h.fc.set_tunable(Tunable::FastRemove(true)).expect("sysctl");
    h.remove();
    let mut h = h
        .restart(|ssd| {
            patch_u32(ssd, offset::VERSION, 1);
            patch_u32(ssd, offset::MD_BLOCK_SIZE, 0);
            reload(ssd)
        })
        .expect("v1 loads");
    assert_eq!(h.fc.geometry().md_block_size_sectors, 1);
    assert_eq!(h.read_block(0), vec![1; 8]);
}

#[test]
fn bulk_metadata_io_moves_at_most_256_kib_per_request() {
    let devices = CacheDeviceSizes {
        ssd_sectors: 600_000,
        ..devices()
    };
    let mut ssd = Store::default();
    let (fc, sizes) =
        run_setup_on(config(Persistence::Create), devices, &mut ssd, 0).expect("created");
    // Probe + slot chunks + superblock.
    let slot_sectors: u64 = sizes[1..sizes.len() - 1].iter().sum();
    assert_eq!(slot_sectors, u64::from(fc.geometry().slot_md_blocks()) * 8);
    assert!(sizes.iter().all(|&sectors| sectors <= 512));
    assert!(sizes.len() > 4, "several chunks: {sizes:?}");
    let (fc, load_sizes) =
        run_setup_on(config(Persistence::Reload), devices, &mut ssd, 0).expect("loads");
    assert_eq!(load_sizes[0], 8, "load probes 8 sectors");
    assert_eq!(
        fc.gauges().size_blocks,
        u64::from(fc.geometry().size_blocks)
    );
    let _ = CacheRequest::WakeWorker;
}
