//! The invariants that hold between any two inputs: the full check in O(size) for tests and
//! the end of a run, and the incremental one the simulator runs after every input, which
//! looks only at the sets changed since its last call.
//!
//! Owns: the cross-checks of counters against block states and lists, and what the
//! incremental check remembers between calls. Does not change the cache.

use super::instance::Flashcache;
use super::state::BlockState;
use std::collections::BTreeSet;

/// Every this many calls the incremental check is a full one (the first call too), so a
/// change that escaped the touched sets, a bug in the marking itself, hides for fewer than
/// this many inputs.
pub const FULL_CHECK_EVERY_CALLS: u64 = 256;

/// What one set adds to the cache-wide counters, as the per-set check counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SetCounts {
    cached: u32,
    dirty: u32,
    queued: u32,
    clean_inprog: u32,
}

/// The sums of [`SetCounts`] over all sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CountTotals {
    cached: u64,
    dirty: u64,
    queued: u64,
    clean_inprog: u64,
}

impl CountTotals {
    fn add(&mut self, counts: SetCounts) {
        self.cached += u64::from(counts.cached);
        self.dirty += u64::from(counts.dirty);
        self.queued += u64::from(counts.queued);
        self.clean_inprog += u64::from(counts.clean_inprog);
    }

    fn subtract(&mut self, counts: SetCounts) {
        self.cached -= u64::from(counts.cached);
        self.dirty -= u64::from(counts.dirty);
        self.queued -= u64::from(counts.queued);
        self.clean_inprog -= u64::from(counts.clean_inprog);
    }
}

/// What the incremental check keeps between calls: each set's counts as of the last time
/// it was checked and their sums, so the cache-wide counters are checked on every call
/// without walking the untouched sets.
#[derive(Debug, Clone, Default)]
pub(crate) struct IncrementalCheck {
    /// Empty until the first (full) check, and again after a check failed half way.
    set_counts: Vec<SetCounts>,
    totals: CountTotals,
    calls: u64,
    /// Scratch buffers, kept to stay allocation-free.
    sets_to_check: Vec<u32>,
    on_lists: Vec<u8>,
}

impl Flashcache {
    /// Check every invariant that holds between inputs (O(size); for tests and the end of
    /// a run). Panics with a description on violation.
    pub fn check_invariants(&self) {
        let held = self.zombie_held_slots().collect();
        let mut on_lists = Vec::new();
        let mut totals = CountTotals::default();
        for set in 0..self.blocks.geometry.num_sets {
            totals.add(self.check_set(set, &held, &mut on_lists));
        }
        self.check_cache_wide(totals);
    }

    /// The same invariants as [`Flashcache::check_invariants`], but per set only in the
    /// sets changed since the last call, except on every
    /// [`FULL_CHECK_EVERY_CALLS`]th call (the first included), which checks all of them.
    /// The cache-wide counters are checked on every call, against per-set counts kept from
    /// each set's last check. For the simulator's check after every input. Panics with a
    /// description on violation; the next call after a panic is a full check.
    pub fn check_invariants_incremental(&mut self) {
        // Taken, so a panic below leaves an empty record and the next call checks all.
        let mut progress = std::mem::take(&mut self.incremental_check);
        self.blocks.take_touched_sets(&mut progress.sets_to_check);
        let num_sets = self.blocks.geometry.num_sets;
        let full =
            progress.set_counts.is_empty() || progress.calls.is_multiple_of(FULL_CHECK_EVERY_CALLS);
        if full {
            progress.sets_to_check.clear();
            progress.sets_to_check.extend(0..num_sets);
            progress.set_counts.clear();
            progress
                .set_counts
                .resize(num_sets as usize, SetCounts::default());
            progress.totals = CountTotals::default();
        }
        let held = self.zombie_held_slots().collect();
        for &set in &progress.sets_to_check {
            let counts = self.check_set(set, &held, &mut progress.on_lists);
            let before = std::mem::replace(&mut progress.set_counts[set as usize], counts);
            progress.totals.subtract(before);
            progress.totals.add(counts);
        }
        self.check_cache_wide(progress.totals);
        progress.calls += 1;
        self.incremental_check = progress;
    }

    /// Every per-set and per-block invariant of `set` (O(assoc)); returns what the set
    /// adds to the cache-wide counters. `held` are the slots zombies hold.
    fn check_set(&self, set: u32, held: &BTreeSet<u32>, on_lists: &mut Vec<u8>) -> SetCounts {
        self.blocks.check_set_links(set, on_lists);
        let geometry = &self.blocks.geometry;
        let mut counts = SetCounts::default();
        let mut fallow = 0u32;
        let start = geometry.set_start(set);
        for index in start..start + geometry.assoc {
            let block = self.blocks.block(index);
            let state = block.state;
            assert!(
                state.is_valid() != state.is_invalid(),
                "block {index}: exactly one of VALID/INVALID, got {state:?}"
            );
            if state.is_valid() {
                counts.cached += 1;
            }
            if state.is_dirty() {
                assert!(state.is_valid(), "block {index}: DIRTY without VALID");
                counts.dirty += 1;
            }
            if state.intersects(BlockState::FALLOW) {
                assert!(
                    state.is_dirty_idle(),
                    "block {index}: fallow bits on {state:?}"
                );
            }
            if state.contains(BlockState::DIRTY_FALLOW_2) {
                fallow += 1;
            }
            if block.nr_queued > 0 {
                assert!(
                    state.is_busy(),
                    "block {index}: {} bios queued on idle {state:?}",
                    block.nr_queued
                );
            }
            counts.queued += block.nr_queued;
            if state.is_invalid() && !held.contains(&index) {
                assert!(
                    !state.is_busy(),
                    "block {index}: INVALID and busy between inputs (no zombie holds it)"
                );
            }
        }
        let cache_set = self.blocks.set(set);
        assert_eq!(cache_set.nr_dirty, counts.dirty, "set {set} nr_dirty");
        assert_eq!(cache_set.dirty_fallow, fallow, "set {set} dirty_fallow");
        counts.clean_inprog = cache_set.clean_inprog;
        counts
    }

    /// The invariants not tied to one set: counters against the sums of the sets' counts,
    /// list totals, zombie holds and metadata rewrite waiters (O(zombies + metadata
    /// blocks)).
    fn check_cache_wide(&self, totals: CountTotals) {
        self.blocks.check_list_totals();
        assert_eq!(totals.cached, self.cached_blocks, "cached_blocks");
        assert_eq!(totals.dirty, self.nr_dirty, "nr_dirty");
        assert_eq!(totals.queued, self.pending.len(), "pending_jobs_count");
        assert_eq!(
            totals.clean_inprog,
            u64::from(self.clean_inprog),
            "clean_inprog"
        );
        self.check_zombie_holds();
        self.check_md_rewrite_waiters();
    }
}
