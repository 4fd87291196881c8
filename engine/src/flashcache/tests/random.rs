//! Randomised workloads against the scripted executor with shuffled completion order (and
//! optionally device faults): every read is checked against the oracle, every invariant
//! after every input, and at the end every acknowledged write must be readable — and, for
//! writeback after a slow remove, on the disk.

use super::harness::{small_config, Fault, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::{CacheMode, FlashcacheConfig, ReclaimPolicy};
use crate::flashcache::instance::Phase;
use crate::flashcache::io::{Device, IoOp};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded generator for the workload (independent of the executor's order stream).
struct Workload(ChaCha8Rng);

impl Workload {
    fn seeded(seed: u64) -> Workload {
        Workload(ChaCha8Rng::seed_from_u64(seed))
    }

    fn next(&mut self, bound: u64) -> u64 {
        // Modulo bias is at most bound / 2^64: irrelevant for choosing test steps.
        self.0.next_u64() % bound
    }
}

/// Distinct blocks touched: far more than the cache's 512, over both sets, plus a hot subset.
const BLOCKS: u64 = 2000;

fn run(config: FlashcacheConfig, seed: u64, operations: u32, faults: bool) -> Harness {
    run_scanning(config, seed, operations, faults, false)
}

/// [`run`], invalidating by flashcache's linear set scan if `always_scan`.
fn run_scanning(
    config: FlashcacheConfig,
    seed: u64,
    operations: u32,
    faults: bool,
    always_scan: bool,
) -> Harness {
    let mut h = Harness::new(config).shuffled(seed);
    h.fc.invalidation_always_scans = always_scan;
    let mut workload = Workload::seeded(seed ^ 0x5eed);
    let mut submitted = 0;
    while submitted < operations {
        if workload.next(3) == 0 || h.outstanding().is_empty() {
            let block = if workload.next(2) == 0 {
                workload.next(BLOCKS)
            } else {
                workload.next(48)
            };
            let (offset, sectors) = if workload.next(6) == 0 {
                let offset = workload.next(8);
                (offset, 1 + workload.next(8 - offset) as u32)
            } else {
                (0, 8)
            };
            let op = if workload.next(2) == 0 {
                Op::Read
            } else {
                Op::Write
            };
            if faults && workload.next(40) == 0 {
                let device = if workload.next(2) == 0 {
                    Device::Ssd
                } else {
                    Device::Disk
                };
                let fault_op = if workload.next(2) == 0 {
                    IoOp::Read
                } else {
                    IoOp::Write
                };
                h.faults.push(Fault {
                    device,
                    op: fault_op,
                    count: 1,
                });
            }
            h.submit(op, 8 * block + offset, sectors);
            submitted += 1;
        } else {
            h.step();
        }
        if workload.next(500) == 0 && h.fc.config().table.mode == CacheMode::WriteBack {
            h.fc.do_sync(h.now_ns).expect("writeback");
            h.collect();
        }
        if workload.next(50) == 0 {
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
    h.faults.clear();
    assert!(h.fc.is_idle(), "idle after settling");
    h
}

/// Read back every block ever written; the oracle checks each value.
fn verify_all(h: &mut Harness) {
    for block in 0..BLOCKS {
        let id = h.submit(Op::Read, 8 * block, 8);
        h.settle();
        assert_eq!(h.status_of(id), Some(IoStatus::Ok));
        for (i, version) in h.read_pages(id).into_iter().enumerate() {
            if let Some(expected) = h.settled(8 * block + i as u64) {
                assert_eq!(
                    version,
                    expected,
                    "sector {} lost its last write",
                    8 * block + i as u64
                );
            }
        }
    }
}

fn check_mode(mode: CacheMode, policy: ReclaimPolicy, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let mut config = small_config(mode);
        config.tunables.reclaim_policy = policy;
        let mut h = run(config, seed, 1500, false);
        verify_all(&mut h);
        if mode == CacheMode::WriteBack {
            h.remove();
            assert!(matches!(h.fc.phase(), Phase::Stopped(Some(_))));
            for (sector, expected) in h.written_sectors() {
                if let Some(expected) = expected {
                    assert_eq!(
                        h.disk.version(sector),
                        expected,
                        "seed {seed} sector {sector}"
                    );
                }
            }
        }
    }
}

#[test]
fn writeback_random_workload_loses_nothing() {
    check_mode(CacheMode::WriteBack, ReclaimPolicy::Fifo, 1..4);
}

#[test]
fn writeback_lru_random_workload_loses_nothing() {
    check_mode(CacheMode::WriteBack, ReclaimPolicy::Lru, 11..13);
    check_mode(CacheMode::WriteBack, ReclaimPolicy::LruStrict, 21..23);
}

#[test]
fn writethrough_and_writearound_random_workloads_serve_no_stale_data() {
    check_mode(CacheMode::WriteThrough, ReclaimPolicy::Fifo, 31..34);
    check_mode(CacheMode::WriteAround, ReclaimPolicy::Lru, 41..44);
}

#[test]
fn random_workloads_with_device_faults_keep_invariants() {
    for (mode, seed) in [
        (CacheMode::WriteBack, 51u64),
        (CacheMode::WriteBack, 52),
        (CacheMode::WriteThrough, 53),
        (CacheMode::WriteAround, 54),
    ] {
        let mut h = run(small_config(mode), seed, 800, true);
        // Reads after the faults are still checked against the oracle.
        for block in 0..64 {
            let id = h.submit(Op::Read, 8 * block, 8);
            h.settle();
            assert!(h.status_of(id).is_some());
        }
    }
}

#[test]
fn same_seed_same_requests() {
    let first = run(small_config(CacheMode::WriteBack), 77, 300, true);
    let second = run(small_config(CacheMode::WriteBack), 77, 300, true);
    assert_eq!(first.log, second.log);
    assert_eq!(first.fc.stats(), second.fc.stats());
}

#[test]
fn random_workload_exercises_replacement_and_queues() {
    let h = run(small_config(CacheMode::WriteBack), 1, 1500, false);
    let stats = h.fc.stats();
    assert!(stats.replace + stats.wr_replace > 0, "sets filled up");
    assert!(stats.enqueues > 0 && stats.uncached_io_requeue > 0);
    assert!(stats.md_write_batch > 0 && stats.cleanings > 0);
}

#[test]
fn fully_associative_writeback_random_workload_loses_nothing() {
    let mut config = small_config(CacheMode::WriteBack);
    config.table.assoc = crate::flashcache::config::Associativity::Full;
    let mut h = run(config, 61, 1500, false);
    assert_eq!(h.fc.geometry().num_sets, 1);
    assert!(
        !h.fc.geometry().assoc.is_power_of_two(),
        "a set of {} blocks",
        h.fc.geometry().assoc
    );
    verify_all(&mut h);
    h.remove();
    for (sector, expected) in h.written_sectors() {
        if let Some(expected) = expected {
            assert_eq!(h.disk.version(sector), expected);
        }
    }
}

/// Writethrough and writearound caches invalidate through the hash where flashcache scans
/// the set (`inval_blocks`): the same requests in the same order, the same counters, with
/// IOs in flight in shuffled order, partial IOs, device faults, and a fully associative set.
#[test]
fn hash_invalidation_equals_the_linear_set_scan() {
    for (mode, seed, faults, full) in [
        (CacheMode::WriteThrough, 81u64, false, false),
        (CacheMode::WriteThrough, 82, true, false),
        (CacheMode::WriteAround, 83, false, false),
        (CacheMode::WriteAround, 84, true, false),
        (CacheMode::WriteThrough, 85, false, true),
    ] {
        let mut config = small_config(mode);
        if full {
            config.table.assoc = crate::flashcache::config::Associativity::Full;
        }
        let scanned = run_scanning(config.clone(), seed, 1200, faults, true);
        let hashed = run_scanning(config, seed, 1200, faults, false);
        let stats = hashed.fc.stats();
        // With faults a writethrough or writearound cache soon bypasses itself for good.
        let (invalidations, enqueues) = if faults { (10, 0) } else { (50, 1) };
        assert!(
            stats.rd_invalidates + stats.wr_invalidates > invalidations,
            "seed {seed}: invalidations to compare: {stats:?}"
        );
        assert!(stats.enqueues >= enqueues, "seed {seed}: busy blocks met");
        assert_eq!(scanned.log, hashed.log, "seed {seed}");
        assert_eq!(scanned.fc.stats(), hashed.fc.stats(), "seed {seed}");
    }
}
