//! The invariants that hold between any two inputs, checked in O(size) for tests and for
//! the simulator's per-event checks.
//!
//! Owns: the cross-checks of counters against block states and lists. Does not change
//! anything.

use super::instance::Flashcache;
use super::state::BlockState;

impl Flashcache {
    /// Check every invariant that holds between inputs (O(size); for tests and the
    /// simulator's per-event checks). Panics with a description on violation.
    pub fn check_invariants(&self) {
        self.blocks.check_links();
        let geometry = &self.blocks.geometry;
        let mut cached = 0u64;
        let mut dirty = 0u64;
        let mut queued = 0u64;
        let mut set_dirty = vec![0u32; geometry.num_sets as usize];
        let mut set_fallow = vec![0u32; geometry.num_sets as usize];
        let held: std::collections::BTreeSet<u32> = self.zombie_held_slots().collect();
        // Set by set, so no block's set costs a division.
        let set_and_index = (0..geometry.num_sets).flat_map(|set| {
            let start = geometry.set_start(set);
            (start..start + geometry.assoc).map(move |index| (set as usize, index))
        });
        for (set, index) in set_and_index {
            let block = self.blocks.block(index);
            let state = block.state;
            assert!(
                state.is_valid() != state.is_invalid(),
                "block {index}: exactly one of VALID/INVALID, got {state:?}"
            );
            if state.is_valid() {
                cached += 1;
            }
            if state.is_dirty() {
                assert!(state.is_valid(), "block {index}: DIRTY without VALID");
                dirty += 1;
                set_dirty[set] += 1;
            }
            if state.intersects(BlockState::FALLOW) {
                assert!(
                    state.is_dirty_idle(),
                    "block {index}: fallow bits on {state:?}"
                );
            }
            if state.contains(BlockState::DIRTY_FALLOW_2) {
                set_fallow[set] += 1;
            }
            if block.nr_queued > 0 {
                assert!(
                    state.is_busy(),
                    "block {index}: {} bios queued on idle {state:?}",
                    block.nr_queued
                );
            }
            queued += u64::from(block.nr_queued);
            if state.is_invalid() && !held.contains(&index) {
                assert!(
                    !state.is_busy(),
                    "block {index}: INVALID and busy between inputs (no zombie holds it)"
                );
            }
        }
        assert_eq!(cached, self.cached_blocks, "cached_blocks");
        assert_eq!(dirty, self.nr_dirty, "nr_dirty");
        assert_eq!(queued, self.pending.len(), "pending_jobs_count");
        let mut clean_inprog = 0;
        for (set, cache_set) in self.blocks.sets.iter().enumerate() {
            assert_eq!(cache_set.nr_dirty, set_dirty[set], "set {set} nr_dirty");
            assert_eq!(
                cache_set.dirty_fallow, set_fallow[set],
                "set {set} dirty_fallow"
            );
            clean_inprog += cache_set.clean_inprog;
        }
        assert_eq!(clean_inprog, self.clean_inprog, "clean_inprog");
        self.check_zombie_holds();
        self.check_md_rewrite_waiters();
    }
}
