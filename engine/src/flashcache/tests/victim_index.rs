//! Victims chosen through the victim index equal flashcache's linear walk on whole
//! workloads: every mode, every policy (also switched while running), fully associative and
//! small sets, in shuffled completion order. The same requests in the same order and the
//! same counters; the harness checks the index itself after every input.

use super::harness::{small_config, Harness};
use crate::block::Op;
use crate::flashcache::config::{Associativity, CacheMode, FlashcacheConfig, ReclaimPolicy};
use crate::flashcache::set::VictimIndexMode;
use crate::flashcache::tunables::Tunable;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a run varies besides the config.
#[derive(Clone, Copy)]
struct Variant {
    mode: VictimIndexMode,
    switch_policy: bool,
    sync: bool,
}

/// A random workload over far more blocks than the cache's 512, with a hot subset,
/// occasional policy switches, syncs and timers. Writeback runs are write-heavy (dirty
/// blocks make the walks long), the others read-heavy (reads fill a writearound cache).
fn run(config: FlashcacheConfig, seed: u64, variant: Variant) -> Harness {
    let Variant {
        mode,
        switch_policy,
        sync,
    } = variant;
    let writeback = config.table.mode == CacheMode::WriteBack;
    let mut h = Harness::new(config).shuffled(seed);
    h.fc.blocks.set_victim_index_mode(mode);
    let mut workload = ChaCha8Rng::seed_from_u64(seed ^ 0x51c7);
    let mut next = |bound: u64| workload.next_u64() % bound;
    let mut submitted = 0;
    while submitted < 2500 {
        if next(3) == 0 || h.outstanding().is_empty() {
            let block = if next(2) == 0 { next(3000) } else { next(64) };
            let op = if (next(3) == 0) == writeback {
                Op::Read
            } else {
                Op::Write
            };
            h.submit(op, 8 * block, 8);
            submitted += 1;
        } else {
            h.step();
        }
        if switch_policy && next(200) == 0 {
            let policy = [
                ReclaimPolicy::Fifo,
                ReclaimPolicy::Lru,
                ReclaimPolicy::LruStrict,
            ][next(3) as usize];
            h.fc.set_tunable(Tunable::ReclaimPolicy(policy))
                .expect("policy switch");
        }
        if sync && writeback && next(400) == 0 {
            h.fc.do_sync(h.now_ns).expect("writeback");
            h.collect();
        }
        if next(50) == 0 {
            h.now_ns += 300_000_000;
            if let Some(deadline) = h.fc.poll_deadline() {
                if deadline <= h.now_ns {
                    h.fc.tick(h.now_ns).expect("tick");
                    h.collect();
                }
            }
        }
    }
    h.settle();
    if mode != VictimIndexMode::OnLongWalk {
        let indexed = mode == VictimIndexMode::Always;
        assert_eq!(h.fc.blocks.victim_index.is_some(), indexed);
    }
    h
}

#[test]
fn indexed_victims_equal_the_linear_walk_in_every_mode_and_policy() {
    let mut seed = 900u64;
    for mode in [
        CacheMode::WriteBack,
        CacheMode::WriteThrough,
        CacheMode::WriteAround,
    ] {
        for policy in [
            ReclaimPolicy::Fifo,
            ReclaimPolicy::Lru,
            ReclaimPolicy::LruStrict,
        ] {
            for full in [false, true] {
                seed += 1;
                let mut config = small_config(mode);
                config.tunables.reclaim_policy = policy;
                if full {
                    config.table.assoc = Associativity::Full;
                }
                let variant = Variant {
                    mode: VictimIndexMode::Never,
                    switch_policy: seed.is_multiple_of(3),
                    sync: true,
                };
                let linear = run(config.clone(), seed, variant);
                let indexed = run(
                    config,
                    seed,
                    Variant {
                        mode: VictimIndexMode::Always,
                        ..variant
                    },
                );
                let stats = indexed.fc.stats();
                assert!(
                    stats.replace + stats.wr_replace > 80,
                    "{mode:?} {policy:?} full {full}: replacements to compare: {stats:?}"
                );
                assert_eq!(linear.log, indexed.log, "{mode:?} {policy:?} full {full}");
                assert_eq!(
                    linear.fc.stats(),
                    indexed.fc.stats(),
                    "{mode:?} {policy:?} full {full}"
                );
                let size = indexed.fc.geometry().size_blocks;
                for index in 0..size {
                    assert_eq!(linear.fc.block(index), indexed.fc.block(index));
                }
            }
        }
    }
}

/// In a writeback cache most blocks are dirty, so the linear walk passes many blocks per
/// miss: the case the index is for.
#[test]
fn indexed_victims_equal_the_linear_walk_when_dirty_blocks_fill_the_set() {
    for (seed, policy) in [
        (1001u64, ReclaimPolicy::Fifo),
        (1002, ReclaimPolicy::Lru),
        (1003, ReclaimPolicy::LruStrict),
    ] {
        let mut config = small_config(CacheMode::WriteBack);
        config.table.assoc = Associativity::Full;
        config.tunables.reclaim_policy = policy;
        // Cleaning starts late: the set stays mostly dirty.
        config.tunables.dirty_thresh_pct = 90;
        let variant = Variant {
            mode: VictimIndexMode::Never,
            switch_policy: false,
            sync: false,
        };
        let linear = run(config.clone(), seed, variant);
        let indexed = run(
            config.clone(),
            seed,
            Variant {
                mode: VictimIndexMode::Always,
                ..variant
            },
        );
        // Built at the first walk past LONG_WALK_BLOCKS dirty or busy blocks.
        let lazy = run(
            config,
            seed,
            Variant {
                mode: VictimIndexMode::OnLongWalk,
                ..variant
            },
        );
        assert!(
            lazy.fc.blocks.victim_index.is_some(),
            "{policy:?}: a long walk built the index"
        );
        assert_eq!(linear.log, lazy.log, "{policy:?} lazy");
        assert_eq!(linear.fc.stats(), lazy.fc.stats(), "{policy:?} lazy");
        let size = u64::from(indexed.fc.geometry().size_blocks);
        assert!(
            indexed.fc.nr_dirty * 2 > size,
            "{policy:?}: {} of {size} blocks dirty",
            indexed.fc.nr_dirty
        );
        assert_eq!(linear.log, indexed.log, "{policy:?}");
        assert_eq!(linear.fc.stats(), indexed.fc.stats(), "{policy:?}");
    }
}
