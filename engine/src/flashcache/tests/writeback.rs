//! Writeback persistence at run time: metadata batching (spec 1.14), cleaning thresholds,
//! limits, merging and fallow cleaning, sync and remove (spec 1.15), and the replacement
//! policies as the target uses them (spec 1.8).

use super::harness::{is_md_write, small_config, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheMode, ReclaimPolicy, Tunable};
use crate::flashcache::instance::Phase;
use crate::flashcache::io::CacheRequest;
use crate::flashcache::layout::{decode_slot, Superblock, SuperblockState, SB_STATE_CLEAN};
use crate::flashcache::state::BlockState;

const SEC: u64 = 1_000_000_000;

fn writeback() -> Harness {
    Harness::new(small_config(CacheMode::WriteBack))
}

fn is_copy(request: &CacheRequest) -> bool {
    matches!(request, CacheRequest::KcopydCopy(_))
}

fn copies(h: &Harness) -> usize {
    h.outstanding().iter().filter(|r| is_copy(r)).count()
}

/// The metadata slot of cache block `index` as it is on the SSD.
fn slot_on_ssd(h: &Harness, index: u32) -> (u64, u32) {
    let geometry = *h.fc.geometry();
    let md_block = geometry.md_block_of(index);
    let mut bytes = vec![0u8; geometry.md_block_size_sectors as usize * 512];
    for (i, chunk) in bytes.chunks_mut(512).enumerate() {
        h.ssd
            .read_bytes(geometry.md_block_sector(md_block) + i as u64, chunk);
    }
    let slot = decode_slot(&bytes, (index % geometry.slots_per_md_block()) as usize);
    (slot.dbn, slot.state)
}

#[test]
fn metadata_updates_are_serialised_per_md_block_and_batched() {
    let mut h = writeback();
    let a = h.submit(Op::Write, 0, 8);
    let b = h.submit(Op::Write, 8, 8);
    let c = h.submit(Op::Write, 16, 8);
    assert_eq!(h.outstanding().len(), 3, "three data writes");
    h.complete_at(0);
    h.run_worker();
    let md_writes = h.outstanding().iter().filter(|r| is_md_write(r)).count();
    assert_eq!(md_writes, 1, "A's metadata write is out");
    h.complete_at(0);
    h.complete_at(0);
    assert!(!h.worker_wanted(), "B and C queue behind A's md write");
    assert_eq!(h.outstanding().len(), 1);
    h.complete_at(0);
    assert_eq!(h.status_of(a), None, "completion runs in the worker");
    h.run_worker();
    assert_eq!(h.status_of(a), Some(IoStatus::Ok));
    assert_eq!((h.status_of(b), h.status_of(c)), (None, None));
    assert_eq!(h.fc.stats().md_write_batch, 1, "C rides on B's write");
    h.settle();
    assert_eq!(
        (h.status_of(b), h.status_of(c)),
        (Some(IoStatus::Ok), Some(IoStatus::Ok))
    );
    let stats = h.fc.stats().clone();
    assert_eq!((stats.md_ssd_writes, stats.md_write_dirty), (2, 3));
    for dbn in [0u64, 8, 16] {
        let index = h.fc.find_block(dbn).expect("cached");
        assert_eq!(slot_on_ssd(&h, index), (dbn, 0x42), "slot of dbn {dbn}");
    }
}

#[test]
fn cleaning_respects_thresholds_and_limits() {
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.max_clean_ios_set = 2;
    config.tunables.max_clean_ios_total = 3;
    let mut h = Harness::new(config);
    // 60 non-contiguous blocks (no merging) in set 0: threshold is 256 * 20% = 51.
    for k in 0..60u64 {
        h.submit(Op::Write, 16 * k, 8);
        h.settle_except(is_copy);
    }
    assert_eq!(copies(&h), 2, "per-set limit");
    for k in 0..60u64 {
        h.submit(Op::Write, 2048 + 16 * k, 8);
        h.settle_except(is_copy);
    }
    assert_eq!(copies(&h), 3, "cache-wide limit");
    assert!(
        h.fc.poll_deadline().is_some(),
        "a delayed pass waits for the limits"
    );
    while h.step() {
        assert!(copies(&h) <= 3);
        assert!(h.fc.gauges().clean_inprog <= 3);
    }
    let sets = [0u64, 2048].map(|base| {
        (0..60u64)
            .filter(|k| {
                let index = h.fc.find_block(base + 16 * k).expect("still cached");
                h.fc.block(index).0.is_dirty()
            })
            .count()
    });
    for dirty in sets {
        assert!(
            (47..=51).contains(&dirty),
            "left {dirty} dirty, threshold 51"
        );
    }
    assert_eq!(h.fc.stats().front_merge + h.fc.stats().back_merge, 0);
    assert_eq!(h.fc.stats().cleanings, h.fc.stats().md_write_clean);
}

#[test]
fn cleaning_merges_contiguous_dirty_neighbours_ignoring_limits() {
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.dirty_thresh_pct = 10;
    let mut h = Harness::new(config);
    // Threshold 25: the 27th write finds 26 dirty blocks, one is picked and its dirty
    // neighbours ride along.
    for k in 0..27u64 {
        h.submit(Op::Write, 8 * k, 8);
        h.settle_except(is_copy);
    }
    let merged = h.fc.stats().front_merge + h.fc.stats().back_merge;
    assert!(merged > 2, "neighbours merged ({merged})");
    assert!(copies(&h) > 2, "merging ignores max_clean_ios_set");
    h.settle();
    assert_eq!(h.fc.stats().clean_set_ios, 1 + merged);
}

#[test]
fn fallow_blocks_are_cleaned_after_two_sweeps() {
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.fallow_delay_secs = Some(10);
    let mut h = Harness::new(config);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    h.now_ns = 11 * SEC;
    // Not adjacent to block 0, or the cleaning of block 0 would merge it.
    assert_eq!(h.io(Op::Write, 40, 8), IoStatus::Ok);
    let a = h.fc.find_block(0).expect("cached");
    assert!(h.fc.block(a).0.contains(BlockState::DIRTY_FALLOW_1));
    h.now_ns = 22 * SEC;
    h.read_block(80);
    assert_eq!(h.fc.stats().fallow_cleanings, 1);
    assert_eq!(h.fc.block(a).0, BlockState::VALID, "cleaned");
    let b = h.fc.find_block(40).expect("cached");
    assert!(h.fc.block(b).0.contains(BlockState::DIRTY_FALLOW_1));
    // Any hit makes a block young again.
    h.read_block(40);
    assert_eq!(h.fc.block(b).0, BlockState::VALID.union(BlockState::DIRTY));
}

#[test]
fn fallow_timer_option_cleans_idle_sets_without_io() {
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.fallow_delay_secs = Some(10);
    config.options.fallow_timer = true;
    let mut h = Harness::new(config);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    h.advance_to(15 * SEC);
    assert_eq!(h.fc.gauges().nr_dirty, 1, "one sweep only");
    h.advance_to(25 * SEC);
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert_eq!(h.fc.stats().fallow_cleanings, 1);
    // Without the option nothing happens while idle.
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.fallow_delay_secs = Some(10);
    let mut h = Harness::new(config);
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    assert_eq!(h.fc.poll_deadline(), None);
    h.advance_to(100 * SEC);
    assert_eq!(h.fc.gauges().nr_dirty, 1);
}

#[test]
fn sync_cleans_everything_within_the_total_limit_and_stops_on_request() {
    let mut h = writeback();
    for k in 0..20u64 {
        h.io(Op::Write, 16 * k + 2048 * (k % 2), 8);
    }
    assert_eq!(h.fc.gauges().nr_dirty, 20);
    h.fc.do_sync(h.now_ns).expect("writeback");
    h.collect();
    assert_eq!(copies(&h), 4, "max_clean_ios_total, no per-set limit");
    while h.step() {
        assert!(copies(&h) <= 4);
    }
    assert_eq!(h.fc.gauges().nr_dirty, 0);
    assert_eq!(h.fc.stats().cleanings, 20);
    for k in 0..20u64 {
        let sector = 16 * k + 2048 * (k % 2);
        assert_eq!(h.disk.version(sector), h.settled(sector).expect("settled"));
    }
    // stop_sync: the cleanings in flight finish, nothing more starts.
    for k in 0..20u64 {
        h.io(Op::Write, 16 * k, 8);
    }
    h.fc.do_sync(h.now_ns).expect("writeback");
    h.fc.stop_sync();
    h.collect();
    h.settle();
    assert_eq!(h.fc.gauges().nr_dirty, 16);
}

#[test]
fn slow_remove_cleans_everything_and_stores_a_clean_superblock() {
    let mut h = writeback();
    for k in 0..30u64 {
        h.io(Op::Write, 8 * k, 8);
    }
    h.read_block(4096);
    h.remove();
    let Phase::Stopped(Some(outcome)) = h.fc.phase().clone() else {
        panic!("writeback remove stores metadata");
    };
    assert_eq!(outcome.superblock_state, SuperblockState::Clean);
    assert_eq!(
        (
            outcome.dirty_blocks,
            outcome.valid_blocks,
            outcome.write_errors
        ),
        (0, 31, 0)
    );
    for k in 0..30u64 {
        assert_eq!(h.disk.version(8 * k), k + 1);
    }
    let mut bytes = vec![0u8; 512];
    h.ssd.read_bytes(0, &mut bytes);
    assert_eq!(Superblock::decode(&bytes).state_raw, SB_STATE_CLEAN);
    assert!(h.fc.is_idle());
}

#[test]
fn fast_remove_leaves_dirty_blocks_and_stores_fastclean() {
    let mut h = writeback();
    h.fc.set_tunable(Tunable::FastRemove(true))
        .expect("writeback sysctl");
    for k in 0..10u64 {
        h.io(Op::Write, 8 * k, 8);
    }
    h.remove();
    let Phase::Stopped(Some(outcome)) = h.fc.phase().clone() else {
        panic!("stored");
    };
    assert_eq!(outcome.superblock_state, SuperblockState::FastClean);
    assert_eq!(outcome.dirty_blocks, 10);
    assert_eq!(h.disk.version(0), 0, "nothing was cleaned");
}

#[test]
fn writethrough_remove_persists_nothing() {
    let mut h = Harness::new(small_config(CacheMode::WriteThrough));
    h.io(Op::Write, 0, 8);
    h.remove();
    assert_eq!(h.fc.phase(), &Phase::Stopped(None));
    assert!(h.count_log(is_md_write) == 0);
}

#[test]
fn faithful_fifo_evicts_the_newest_block_on_the_first_wrap() {
    let mut h = writeback();
    // Fill set 0 (disk sectors 0..2048 map to it) with 256 clean blocks.
    for k in 0..256u64 {
        h.read_block(8 * k);
    }
    assert_eq!(
        h.fc.find_block(0),
        Some(255),
        "the free list hands out the top index first"
    );
    assert_eq!(h.fc.find_block(8 * 255), Some(0));
    // Disk sector 4096 also maps to set 0: a miss there reclaims at the FIFO hand (index 0).
    h.read_block(4096);
    assert!(
        h.fc.find_block(8 * 255).is_none(),
        "the newest block went first"
    );
    assert!(
        h.fc.find_block(0).is_some(),
        "textbook FIFO would have evicted this one"
    );
    assert_eq!(h.fc.stats().replace, 1);
}

#[test]
fn lru_policy_promotes_on_second_access_and_reclaims_warm_first() {
    let mut config = small_config(CacheMode::WriteBack);
    config.tunables.reclaim_policy = ReclaimPolicy::Lru;
    let mut h = Harness::new(config);
    for k in 0..256u64 {
        h.read_block(8 * k);
    }
    // Two more accesses to block 0: promoted to the hot list.
    h.read_block(0);
    h.read_block(0);
    assert!(h.fc.stats().lru_promotions >= 1);
    h.read_block(4096);
    assert!(h.fc.find_block(0).is_some(), "hot blocks survive");
    assert_eq!(
        h.fc.gauges().lru_hot_blocks + h.fc.gauges().lru_warm_blocks,
        512
    );
}

#[test]
fn lru_hot_pct_option_rebalances_at_start_and_sysctl_rebalances_live() {
    let mut config = small_config(CacheMode::WriteBack);
    config.options.lru_hot_pct = Some(75);
    let h = Harness::new(config);
    assert_eq!(h.fc.gauges().lru_hot_blocks, 2 * 192);
    let mut h = writeback();
    assert_eq!(
        h.fc.gauges().lru_hot_blocks,
        2 * 128,
        "the code's 50% split"
    );
    h.fc.set_tunable(Tunable::LruHotPct(25)).expect("sysctl");
    assert_eq!(h.fc.gauges().lru_hot_blocks, 2 * 64);
}

#[test]
fn disk_assoc_places_extents_in_hashed_sets() {
    let mut config = small_config(CacheMode::WriteBack);
    config.table.disk_assoc_sectors = 256;
    let mut h = Harness::new(config);
    assert!(!h.fc.geometry().uses_legacy_mapping());
    for k in 0..64u64 {
        h.io(Op::Write, 256 * k, 8);
    }
    let in_set_1 = (0..64u64)
        .filter(|k| h.fc.find_block(256 * k).expect("cached") >= 256)
        .count();
    assert!(
        in_set_1 > 10 && in_set_1 < 54,
        "both sets used ({in_set_1} in set 1)"
    );
    for k in 0..64u64 {
        let set = h.fc.geometry().set_of(256 * k);
        assert_eq!(h.fc.find_block(256 * k).expect("cached") / 256, set);
    }
}

#[test]
fn zero_stats_and_tunables_of_writethrough() {
    let mut h = Harness::new(small_config(CacheMode::WriteThrough));
    h.io(Op::Write, 0, 8);
    h.fc.zero_stats();
    assert_eq!(h.fc.stats().writes, 0);
    assert!(h.fc.set_tunable(Tunable::DirtyThreshPct(50)).is_err());
    assert!(h.fc.set_tunable(Tunable::SkipSeqThreshKb(64)).is_ok());
    assert!(h.fc.do_sync(0).is_err());
    let mut h = writeback();
    h.fc.set_tunable(Tunable::DirtyThreshPct(99))
        .expect("writeback");
    assert_eq!(h.fc.tunables().dirty_thresh_pct, 95);
    h.fc.set_tunable(Tunable::FallowCleanSpeed(0))
        .expect("writeback");
    assert_eq!(h.fc.tunables().fallow_clean_speed, 1);
}

#[test]
fn forced_cleaning_on_a_miss_is_lru_only() {
    for (policy, expected) in [(ReclaimPolicy::Lru, 1), (ReclaimPolicy::Fifo, 0)] {
        let mut config = small_config(CacheMode::WriteBack);
        config.tunables.reclaim_policy = policy;
        config.tunables.clean_on_write_miss = 2;
        let mut h = Harness::new(config);
        h.io(Op::Write, 0, 8);
        h.io(Op::Write, 80, 8);
        assert_eq!(h.fc.stats().force_clean_block, expected, "{policy:?}");
    }
}
