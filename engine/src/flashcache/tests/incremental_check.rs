//! The incremental invariant check: what it sees at once, and what it sees only at its next
//! full check. (That every change marks its set is checked by the harness after every
//! step of every test.)

use super::harness::{small_config, Harness};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::CacheMode;
use crate::flashcache::invariants::{IncrementalCheck, FULL_CHECK_EVERY_CALLS};
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
fn a_broken_block_in_a_marked_set_is_caught_at_once() {
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
