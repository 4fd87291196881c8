//! The invariants that hold between any two inputs: the full check in O(size) for tests and
//! the end of a run, and the incremental one the simulator runs after every input, which
//! looks only at the blocks, set records and buckets changed since its last call (and what
//! they were linked to).
//!
//! Owns: the cross-checks of counters against block states and lists, and what the
//! incremental check remembers between calls. Does not change the cache.

use super::geometry::Geometry;
use super::instance::Flashcache;
use super::set::{CacheBlock, LruList, NIL};
use super::state::BlockState;
use super::touched::Changes;
use crate::changed_ids::Marked;

/// Every this many calls the incremental check is a full one (the first call too), so a
/// change that escaped the marking, a bug in the marking itself, hides for fewer than this
/// many inputs; so does a list that broke away from its head without a changed block on
/// it (see `link_check`).
pub use crate::changed_ids::FULL_CHECK_EVERY_CALLS;

/// What blocks add up to, per set: the cache-wide counters' shares and what the set
/// record counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SetCounts {
    cached: u32,
    dirty: u32,
    queued: u32,
    /// Blocks with `DIRTY_FALLOW_2` (the set's `dirty_fallow`).
    fallow: u32,
    /// Blocks whose `lru_list` is the hot list.
    hot: u32,
    /// Blocks a victim may be (exactly VALID): the victim index's heap, if kept.
    reclaimable: u32,
}

impl SetCounts {
    /// What one block adds.
    #[inline]
    fn of_block(block: &CacheBlock) -> SetCounts {
        let state = block.state;
        SetCounts {
            cached: u32::from(state.is_valid()),
            dirty: u32::from(state.is_dirty()),
            queued: block.nr_queued,
            fallow: u32::from(state.contains(BlockState::DIRTY_FALLOW_2)),
            hot: u32::from(block.lru_list == LruList::Hot),
            reclaimable: u32::from(state.is_reclaimable()),
        }
    }

    fn add(&mut self, other: SetCounts) {
        self.cached += other.cached;
        self.dirty += other.dirty;
        self.queued += other.queued;
        self.fallow += other.fallow;
        self.hot += other.hot;
        self.reclaimable += other.reclaimable;
    }

    fn subtract(&mut self, other: SetCounts) {
        self.cached -= other.cached;
        self.dirty -= other.dirty;
        self.queued -= other.queued;
        self.fallow -= other.fallow;
        self.hot -= other.hot;
        self.reclaimable -= other.reclaimable;
    }
}

/// The sums of [`SetCounts`] (and of the sets' `clean_inprog`) over all sets.
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
    }

    fn subtract(&mut self, counts: SetCounts) {
        self.cached -= u64::from(counts.cached);
        self.dirty -= u64::from(counts.dirty);
        self.queued -= u64::from(counts.queued);
    }
}

/// What the incremental check keeps between calls: each set's counts as of the last check,
/// kept up to date by the difference each changed block makes, and their sums, so the
/// cache-wide counters are checked on every call without looking at unchanged blocks.
#[derive(Debug, Clone, Default)]
pub(crate) struct IncrementalCheck {
    /// Empty until the first (full) check, and again after a check failed half way.
    set_counts: Vec<SetCounts>,
    totals: CountTotals,
    /// The slots zombies held at the last check, sorted.
    held: Vec<u32>,
    calls: u64,
    /// Scratch, kept to stay allocation-free: what changed, and what to check, each once.
    changes: Changes,
    blocks_to_check: Option<Marked<()>>,
    sets_to_check: Option<Marked<()>>,
    taken: Vec<(u32, ())>,
    placed: Vec<(u32, ())>,
    held_now: Vec<u32>,
}

/// Mark for a check the block of `set` that the set-relative `link` names: an old link, list
/// end or bucket head of what changed, which may still take itself for linked to it. A link
/// out of the set is none (NIL), or garbage that escaped the marking, which the full check
/// names: it is not followed.
#[inline]
fn mark_linked(blocks_to_check: &mut Marked<()>, geometry: &Geometry, set: u32, link: u32) {
    if link != NIL && link < geometry.assoc {
        blocks_to_check.mark(geometry.set_start(set) + link, || ());
    }
}

impl Flashcache {
    /// Check every invariant that holds between inputs (O(size); for tests and the end of
    /// a run). Panics with a description on violation.
    pub fn check_invariants(&self) {
        self.check_all(&mut Vec::new());
    }

    /// The full check; `set_counts` gets each set's counts.
    fn check_all(&self, set_counts: &mut Vec<SetCounts>) -> CountTotals {
        let mut held: Vec<u32> = self.zombie_held_slots().collect();
        held.sort_unstable();
        let mut on_lists = Vec::new();
        let mut totals = CountTotals::default();
        set_counts.clear();
        for set in 0..self.blocks.geometry.num_sets {
            let counts = self.check_set(set, &held, &mut on_lists);
            totals.add(counts);
            totals.clean_inprog += u64::from(self.blocks.set(set).clean_inprog);
            set_counts.push(counts);
        }
        self.check_cache_wide(totals);
        self.check_jobs_and_buffers();
        totals
    }

    /// The same invariants as [`Flashcache::check_invariants`], but only of what changed
    /// since the last call, except on every [`FULL_CHECK_EVERY_CALLS`]th call (the first
    /// included), which checks everything. Every block changed since the last call, and
    /// every block it was linked to before, is checked as the full check would (its state,
    /// its links against its neighbours and list heads, its lists reaching their ends), its
    /// set's counters against counts kept by difference, and its set's list ends. The
    /// cache-wide counters are checked on every call. For the simulator's check after every
    /// input. Panics with a description on violation; the next call after a panic is a
    /// full check.
    pub fn check_invariants_incremental(&mut self) {
        // Taken, so a panic below leaves an empty record and the next call checks all.
        let mut progress = std::mem::take(&mut self.incremental_check);
        self.blocks.take_changes(&mut progress.changes);
        self.blocks.take_victim_placed(&mut progress.placed);
        let full =
            progress.set_counts.is_empty() || progress.calls.is_multiple_of(FULL_CHECK_EVERY_CALLS);
        if full {
            progress.totals = self.check_all(&mut progress.set_counts);
            progress.held.clear();
            progress.held.extend(self.zombie_held_slots());
            progress.held.sort_unstable();
        } else {
            self.check_changes(&mut progress);
            // A remove's metadata store lasts a few inputs, far fewer than a full check's
            // period: while it runs, its buffer is accounted on every input (the full
            // check above accounts it anyway).
            if self.store.is_some() {
                self.check_jobs_and_buffers();
            }
        }
        progress.calls += 1;
        self.incremental_check = progress;
    }

    /// The incremental part of [`Flashcache::check_invariants_incremental`].
    fn check_changes(&self, progress: &mut IncrementalCheck) {
        let geometry = self.blocks.geometry;
        let mut blocks_to_check = progress
            .blocks_to_check
            .take()
            .unwrap_or_else(|| Marked::new(geometry.size_blocks));
        let mut sets_to_check = progress
            .sets_to_check
            .take()
            .unwrap_or_else(|| Marked::new(geometry.num_sets));
        let changes = &progress.changes;
        for (index, before) in &changes.blocks {
            let (index, before) = (*index, *before);
            let now = self.blocks.block(index);
            let set = geometry.set_of_index(index);
            let counts = &mut progress.set_counts[set as usize];
            let (then, now) = (SetCounts::of_block(&before), SetCounts::of_block(now));
            counts.subtract(then);
            counts.add(now);
            progress.totals.subtract(then);
            progress.totals.add(now);
            sets_to_check.mark(set, || ());
            blocks_to_check.mark(index, || ());
            // Its old neighbours: a neighbour that still links to it must be seen.
            for neighbour in [
                before.hash_prev,
                before.hash_next,
                before.lru_prev,
                before.lru_next,
            ] {
                mark_linked(&mut blocks_to_check, &geometry, set, neighbour);
            }
            // The bucket it headed, which may still name it.
            if before.state.is_valid() && before.hash_prev == NIL {
                self.blocks
                    .check_bucket_head(set, geometry.bucket_of(before.dbn));
            }
        }
        for (set, before) in &changes.sets {
            sets_to_check.mark(*set, || ());
            let now = self.blocks.set(*set);
            progress.totals.clean_inprog -= u64::from(before.clean_inprog);
            progress.totals.clean_inprog += u64::from(now.clean_inprog);
            // Its old list ends, which may still take themselves for ends.
            for end in [
                before.invalid_head,
                before.hot.head,
                before.hot.tail,
                before.warm.head,
                before.warm.tail,
            ] {
                mark_linked(&mut blocks_to_check, &geometry, *set, end);
            }
        }
        let buckets_per_set = geometry.hash_buckets_per_set;
        for &(slot, old_head) in &changes.buckets {
            let (set, bucket) = (slot / buckets_per_set, slot % buckets_per_set);
            self.blocks.check_bucket_head(set, bucket);
            mark_linked(&mut blocks_to_check, &geometry, set, old_head);
        }
        // Blocks a zombie took or let go of: whether they may be INVALID and busy changed.
        progress.held_now.clear();
        progress.held_now.extend(self.zombie_held_slots());
        progress.held_now.sort_unstable();
        for &index in progress.held.iter().chain(&progress.held_now) {
            if progress.held.binary_search(&index).is_ok()
                != progress.held_now.binary_search(&index).is_ok()
            {
                blocks_to_check.mark(index, || ());
            }
        }
        std::mem::swap(&mut progress.held, &mut progress.held_now);
        blocks_to_check.take(&mut progress.taken);
        for &(index, ()) in &progress.taken {
            self.check_block(index, &progress.held);
            self.blocks.check_block_links(index);
            self.blocks.check_block_victim_index(index);
        }
        // Blocks a heap sift moved, changed or not.
        for &(index, ()) in &progress.placed {
            self.blocks.check_victim_heap_slot(index);
        }
        // A cycle that no head reaches needs a changed link: walks from changed blocks only.
        for &(index, _) in &changes.blocks {
            self.blocks.check_block_reachable(index);
        }
        sets_to_check.take(&mut progress.taken);
        for &(set, ()) in &progress.taken {
            self.check_set_record(set, progress.set_counts[set as usize]);
            self.blocks.check_set_ends(set);
        }
        self.check_cache_wide(progress.totals);
        progress.blocks_to_check = Some(blocks_to_check);
        progress.sets_to_check = Some(sets_to_check);
    }

    /// Every per-set and per-block invariant of `set` (O(assoc)); returns what the set's
    /// blocks add up to. `held` are the slots zombies hold, sorted.
    fn check_set(&self, set: u32, held: &[u32], on_lists: &mut Vec<u8>) -> SetCounts {
        self.blocks.check_set_links(set, on_lists);
        self.blocks.check_set_ends(set);
        let geometry = &self.blocks.geometry;
        let mut counts = SetCounts::default();
        let start = geometry.set_start(set);
        for index in start..start + geometry.assoc {
            self.check_block(index, held);
            self.blocks.check_block_links(index);
            self.blocks.check_block_victim_index(index);
            counts.add(SetCounts::of_block(self.blocks.block(index)));
        }
        self.check_set_record(set, counts);
        counts
    }

    /// What the state of block `index` says on its own (O(log held)). `held` are the slots
    /// zombies hold, sorted.
    fn check_block(&self, index: u32, held: &[u32]) {
        let block = self.blocks.block(index);
        let state = block.state;
        assert!(
            state.is_valid() != state.is_invalid(),
            "block {index}: exactly one of VALID/INVALID, got {state:?}"
        );
        if state.is_dirty() {
            assert!(state.is_valid(), "block {index}: DIRTY without VALID");
        }
        if state.intersects(BlockState::FALLOW) {
            assert!(
                state.is_dirty_idle(),
                "block {index}: fallow bits on {state:?}"
            );
        }
        if block.nr_queued > 0 {
            assert!(
                state.is_busy(),
                "block {index}: {} bios queued on idle {state:?}",
                block.nr_queued
            );
        }
        if state.is_invalid() && held.binary_search(&index).is_err() {
            assert!(
                !state.is_busy(),
                "block {index}: INVALID and busy between inputs (no zombie holds it)"
            );
        }
    }

    /// The record of `set` against what its blocks add up to (O(1)).
    fn check_set_record(&self, set: u32, counts: SetCounts) {
        let cache_set = self.blocks.set(set);
        assert_eq!(cache_set.nr_dirty, counts.dirty, "set {set} nr_dirty");
        assert_eq!(
            cache_set.dirty_fallow, counts.fallow,
            "set {set} dirty_fallow"
        );
        self.blocks.check_victim_heap_len(set, counts.reclaimable);
        // A running cache keeps every way on an LRU list (lru_init_lists at creation).
        let listed = cache_set.hot.count + cache_set.warm.count;
        let assoc = self.blocks.geometry.assoc;
        assert_eq!(
            listed, assoc,
            "set {set}: LRU lists hold some of its blocks"
        );
        assert_eq!(
            cache_set.hot.count, counts.hot,
            "set {set}: hot list length against its blocks' lists"
        );
        // The hot list starts at the hot share of the ways (lru_init_lists); promotion
        // and demotion swap a block each way, lru_rebalance moves the share's change,
        // and only lru-strict's accesses shrink it (blocks left hot by another policy
        // move to the warm list), so it never holds more than the share.
        let hot_share = super::replacement::hot_ways(assoc, self.hot_list_pct);
        assert!(
            counts.hot <= hot_share,
            "set {set}: {} hot blocks, above the hot share {} % of {assoc} ways",
            counts.hot,
            self.hot_list_pct
        );
    }

    /// The invariants not tied to one set: counters against the sums of the sets' counts,
    /// list totals, zombie holds and metadata rewrite waiters (O(zombies + metadata
    /// blocks)).
    /// Jobs and metadata buffers against what holds them: a leak or a double count shows
    /// here. O(jobs): the full check only.
    fn check_jobs_and_buffers(&self) {
        let (mut jobs, mut md_buffers) = (0u64, 0usize);
        for job in self.jobs.iter() {
            jobs += 1;
            md_buffers += usize::from(job.md_buffer.is_some());
        }
        assert_eq!(self.jobs.live(), jobs, "live jobs vs jobs in the slab");
        let store = usize::from(self.store.as_ref().is_some_and(|s| s.holds_buffer()));
        assert_eq!(
            self.meta.in_use(),
            md_buffers + store,
            "metadata buffers handed out vs their holders ({md_buffers} metadata writes, \
             {store} store step)"
        );
    }

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

/// The checks against one corruption at a time (a child module: it reaches the checks'
/// parts and the incremental check's record).
#[cfg(test)]
#[path = "invariants_check_tests.rs"]
mod check_tests;
