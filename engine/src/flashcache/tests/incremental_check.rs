//! The incremental invariant check: what it sees at once, and what it sees only at its next
//! full check. (That every change marks its block, set record or bucket, before the change,
//! is checked by the harness after every step of every test.)

use super::harness::{small_config, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::CacheMode;
use crate::flashcache::invariants::{IncrementalCheck, FULL_CHECK_EVERY_CALLS};
use crate::flashcache::set::LruList;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A writeback cache of two sets with a dirty block in set 0, whose next incremental check
/// is a full one (call 0); the harness checks nothing by itself any more.
fn checked_from_scratch() -> Harness {
    let mut h = Harness::new(small_config(CacheMode::WriteBack));
    assert_eq!(h.io(Op::Write, 0, 8), IoStatus::Ok);
    assert_eq!(h.fc.blocks.geometry.num_sets, 2);
    h.check_invariants = false;
    h.fc.incremental_check = IncrementalCheck::default();
    h.fc.check_invariants_incremental();
    h
}

/// The panic message of one incremental check, or `None` if it passed.
fn incremental_failure(h: &mut Harness) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| h.fc.check_invariants_incremental()));
    outcome.err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn a_broken_block_in_an_unmarked_set_is_caught_by_the_next_full_check() {
    let mut h = checked_from_scratch();
    let index = h.fc.blocks.geometry.set_start(1);
    // A bug in the marking: set 1 changes and is not marked.
    h.fc.blocks.block_mut_unmarked(index).nr_queued = 1;
    let full = catch_unwind(AssertUnwindSafe(|| h.fc.check_invariants()));
    assert!(full.is_err(), "the full check sees it at once");
    for call in 1..FULL_CHECK_EVERY_CALLS {
        assert_eq!(
            incremental_failure(&mut h),
            None,
            "call {call} looks at no set"
        );
    }
    let failure = incremental_failure(&mut h).expect("call 256 is a full check");
    assert!(failure.contains("bios queued on idle"), "{failure}");
}

#[test]
fn a_broken_marked_block_is_caught_at_once() {
    let mut h = checked_from_scratch();
    let index = h.fc.blocks.geometry.set_start(1);
    h.fc.blocks.block_mut(index).nr_queued = 1;
    let failure = incremental_failure(&mut h).expect("set 1 is checked");
    assert!(failure.contains("bios queued on idle"), "{failure}");
}

#[test]
fn cache_wide_counters_are_checked_on_every_call() {
    let mut h = checked_from_scratch();
    assert_eq!(incremental_failure(&mut h), None);
    h.fc.cached_blocks += 1;
    let failure = incremental_failure(&mut h).expect("no set touched, counters checked");
    assert!(failure.contains("cached_blocks"), "{failure}");
}

#[test]
fn the_check_after_a_failure_is_a_full_one() {
    let mut h = checked_from_scratch();
    let unmarked = h.fc.blocks.geometry.set_start(1);
    h.fc.blocks.block_mut_unmarked(unmarked).nr_queued = 1;
    h.fc.cached_blocks += 1;
    let failure = incremental_failure(&mut h).expect("counters checked");
    assert!(failure.contains("cached_blocks"), "{failure}");
    h.fc.cached_blocks -= 1;
    let failure = incremental_failure(&mut h).expect("all sets checked again");
    assert!(failure.contains("bios queued on idle"), "{failure}");
}

#[test]
fn incremental_and_full_checks_agree_on_a_healthy_cache() {
    let mut h = Harness::new(small_config(CacheMode::WriteBack)).shuffled(3);
    // The harness runs both checks, and the marking audit, after every step.
    for block in 0..64u64 {
        let sector = block * 8 * 37 % (1 << 16);
        assert_eq!(h.io(Op::Write, sector, 8), IoStatus::Ok);
        assert_eq!(h.io(Op::Read, sector, 8), IoStatus::Ok);
    }
    h.settle();
    h.fc.check_invariants();
    h.fc.check_invariants_incremental();
}

#[test]
fn a_broken_unmarked_block_beside_a_marked_one_waits_for_the_full_check() {
    let mut h = checked_from_scratch();
    let start = h.fc.blocks.geometry.set_start(1);
    let (marked, unmarked) = (start + 7, start + 100);
    h.fc.blocks.block_mut(marked).use_cnt = 1;
    h.fc.blocks.block_mut_unmarked(unmarked).nr_queued = 1;
    for call in 1..FULL_CHECK_EVERY_CALLS {
        assert_eq!(
            incremental_failure(&mut h),
            None,
            "call {call} checks only the marked block and its neighbours"
        );
    }
    let failure = incremental_failure(&mut h).expect("call 256 is a full check");
    assert!(failure.contains("bios queued on idle"), "{failure}");
}

/// The blocks of set 1's warm list, LRU end first (the harness's cache populates both).
fn warm_list_of_set_1(h: &Harness) -> Vec<u32> {
    let order = h.fc.blocks.lru_order(1, LruList::Warm);
    assert!(order.len() >= 4, "a warm list to break");
    order
}

#[test]
fn an_unmarked_neighbour_still_linking_to_a_changed_block_is_caught_at_once() {
    let mut h = checked_from_scratch();
    let order = warm_list_of_set_1(&h);
    // A buggy unlink: the block forgets its neighbours, they still point at it.
    let block = h.fc.blocks.block_mut(order[1]);
    block.lru_prev = crate::flashcache::set::NIL;
    block.lru_next = crate::flashcache::set::NIL;
    let failure = incremental_failure(&mut h).expect("the old neighbours are checked");
    assert!(
        failure.contains("does not link back") || failure.contains("not the"),
        "{failure}"
    );
}

#[test]
fn a_cycle_cut_off_from_its_list_is_caught_at_once() {
    let mut h = checked_from_scratch();
    let order = warm_list_of_set_1(&h);
    let start = h.fc.blocks.geometry.set_start(1);
    let relative = |index: u32| index - start;
    let (a, b, c, d) = (order[0], order[1], order[2], order[3]);
    // a -> d, and b <-> c on their own: every link has its back link, the list's count is
    // unchanged, only a walk from b or c finds no end.
    h.fc.blocks.block_mut(a).lru_next = relative(d);
    h.fc.blocks.block_mut(d).lru_prev = relative(a);
    h.fc.blocks.block_mut(b).lru_prev = relative(c);
    h.fc.blocks.block_mut(c).lru_next = relative(b);
    let failure = incremental_failure(&mut h).expect("the walks find the cycle");
    assert!(failure.contains("cycle"), "{failure}");
}

#[test]
fn a_bucket_left_naming_a_block_that_changed_its_dbn_is_caught_at_once() {
    let mut h = checked_from_scratch();
    let set = h.fc.blocks.geometry.set_of(0);
    let index =
        h.fc.blocks
            .hash_lookup(set, 0)
            .expect("block 0 of the volume is cached");
    // A buggy re-key: the block takes another dbn without leaving its old bucket.
    h.fc.blocks.block_mut(index).dbn += 1 << 20;
    let failure = incremental_failure(&mut h).expect("its old bucket is checked");
    assert!(
        failure.contains("bucket") || failure.contains("head"),
        "{failure}"
    );
}
