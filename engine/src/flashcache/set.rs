//! Per-block and per-set structures (spec 1.5): the block array, each set's hash buckets,
//! its LIFO free list of INVALID blocks, and the links of its LRU lists.
//!
//! Owns: the intrusive doubly linked lists, threaded through set-relative `u32` links (`NIL`
//! = none) so a set may hold more than flashcache's 8192 blocks. Lookups and list edits are
//! O(1) and allocation-free. Does not own replacement decisions (see
//! [`super::replacement`]) nor what a block's state means to IO (see the target).

use super::geometry::Geometry;
use super::state::{BlockState, Transition};
use super::touched::Changes;
use super::victim_index::{ListedAt, VictimIndex};
use crate::changed_ids::Marked;

/// Sets of at least this many blocks keep a [`VictimIndex`]. Smaller sets (the default 512
/// ways) choose by flashcache's linear walk: short walks there, and no index memory (16
/// bytes a block). A mostly dirty writeback LRU cache replays in 3.7 s with the index
/// instead of 4.4 s at 4096 ways, in 3.4 s instead of 19.6 s with `--assoc full`, and
/// `dmsim hits` counts it in 0.29 s instead of 17.1 s of CPU (commits 246c052 and the next
/// have the commands).
pub(crate) const VICTIM_INDEX_MIN_ASSOC: u32 = 1024;

/// A walk for a victim longer than this builds the index (in sets that may have one). Below
/// it the walk is cheaper than the index's upkeep on every access: a clean, hit-heavy
/// fully associative LRU cache (`dmsim hits`, lru-strict) took 45 % more CPU with the index.
pub(crate) const LONG_WALK_BLOCKS: u32 = 64;

/// When a cache chooses victims through a [`VictimIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VictimIndexMode {
    /// Always by the linear walk (small sets; the reference in tests).
    Never,
    /// From the first walk longer than [`LONG_WALK_BLOCKS`] on (each half of the index on
    /// its own: FIFO's, LRU's).
    OnLongWalk,
    /// From the start, both halves (tests; the explorer's victim check).
    Always,
}

/// "No block" in a set-relative link (flashcache's `FLASHCACHE_NULL`, widened to 32 bits).
pub(crate) const NIL: u32 = u32::MAX;

/// Which LRU list a block is on (`lru_state`: HOT=1, WARM=2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LruList {
    Hot,
    Warm,
}

/// `struct cacheblock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheBlock {
    pub dbn: u64,
    pub state: BlockState,
    /// Bios queued on this block's pending queue.
    pub nr_queued: u32,
    pub use_cnt: u8,
    pub lru_list: LruList,
    /// A cleaning of this block failed and has not succeeded since (Decision 9 counts the
    /// retries).
    pub clean_failed: bool,
    pub hash_prev: u32,
    pub hash_next: u32,
    pub lru_prev: u32,
    pub lru_next: u32,
}

/// Ends and length of one LRU list; head = LRU end, tail = MRU end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListEnds {
    pub head: u32,
    pub tail: u32,
    pub count: u32,
}

impl ListEnds {
    const EMPTY: ListEnds = ListEnds {
        head: NIL,
        tail: NIL,
        count: 0,
    };
}

/// `struct cache_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheSet {
    /// FIFO hand (absolute index).
    pub fifo_next: u32,
    /// Where the FIFO cleaning scan resumes (absolute index).
    pub clean_next: u32,
    pub clean_inprog: u32,
    pub nr_dirty: u32,
    pub dirty_fallow: u32,
    pub fallow_tstamp_ns: u64,
    pub fallow_next_cleaning_ns: u64,
    pub hot: ListEnds,
    pub warm: ListEnds,
    /// Head of the LIFO list of INVALID blocks (set-relative).
    pub invalid_head: u32,
}

/// All blocks and sets of one cache.
#[derive(Debug, Clone)]
pub(crate) struct Blocks {
    pub geometry: Geometry,
    /// Private, like `sets` and `buckets`: every mutable access goes through a method that
    /// marks what it hands out (with its value before) in `touched_*`, so the incremental
    /// invariant check misses no change.
    blocks: Vec<CacheBlock>,
    sets: Vec<CacheSet>,
    /// `num_sets * hash_buckets_per_set` bucket heads, set-relative.
    buckets: Vec<u32>,
    /// Blocks, set records and bucket heads changed since the last invariant check took
    /// them.
    touched_blocks: Marked<CacheBlock>,
    touched_sets: Marked<CacheSet>,
    touched_buckets: Marked<u32>,
    /// Cache-wide list lengths (`lru_hot_blocks`, `lru_warm_blocks`).
    pub lru_hot_blocks: u64,
    pub lru_warm_blocks: u64,
    /// Reclaimable blocks indexed for O(log n) victim choice (large sets only); `None`
    /// chooses by the linear walk, the reference the index is tested against.
    pub(crate) victim_index: Option<VictimIndex>,
    pub(crate) victim_index_mode: VictimIndexMode,
    /// Every choice the index makes is checked against the linear walk (the explorer's
    /// `EngineConfig::victim_index_check`; O(assoc) per victim).
    pub(crate) victim_walk_check: bool,
}

impl Blocks {
    /// Every block INVALID with dbn 0, no list populated yet; `now_ns` starts the fallow
    /// clocks.
    pub fn new(geometry: Geometry, now_ns: u64) -> Blocks {
        let block = CacheBlock {
            dbn: 0,
            state: BlockState::INVALID,
            nr_queued: 0,
            use_cnt: 0,
            lru_list: LruList::Warm,
            clean_failed: false,
            hash_prev: NIL,
            hash_next: NIL,
            lru_prev: NIL,
            lru_next: NIL,
        };
        let sets = (0..geometry.num_sets)
            .map(|set| CacheSet {
                fifo_next: geometry.set_start(set),
                clean_next: geometry.set_start(set),
                clean_inprog: 0,
                nr_dirty: 0,
                dirty_fallow: 0,
                fallow_tstamp_ns: now_ns,
                fallow_next_cleaning_ns: now_ns,
                hot: ListEnds::EMPTY,
                warm: ListEnds::EMPTY,
                invalid_head: NIL,
            })
            .collect();
        Blocks {
            geometry,
            blocks: vec![block; geometry.size_blocks as usize],
            sets,
            buckets: vec![NIL; geometry.num_sets as usize * geometry.hash_buckets_per_set as usize],
            touched_blocks: Marked::until_taken(geometry.size_blocks),
            touched_sets: Marked::until_taken(geometry.num_sets),
            touched_buckets: Marked::until_taken(geometry.num_sets * geometry.hash_buckets_per_set),
            lru_hot_blocks: 0,
            lru_warm_blocks: 0,
            victim_index: None,
            victim_index_mode: if geometry.assoc >= VICTIM_INDEX_MIN_ASSOC {
                VictimIndexMode::OnLongWalk
            } else {
                VictimIndexMode::Never
            },
            victim_walk_check: false,
        }
    }

    /// Choose victims as `mode` says, whatever the set size; an index is rebuilt from the
    /// current states and lists (tests compare the modes; the explorer's victim check).
    pub(crate) fn set_victim_index_mode(&mut self, mode: VictimIndexMode) {
        self.mark_all();
        self.victim_index_mode = mode;
        self.victim_index = None;
        if mode == VictimIndexMode::Always {
            self.build_victim_index();
            self.start_lru_victim_index();
        }
    }

    /// Build the FIFO half of the victim index, if there is none yet.
    pub(crate) fn build_victim_index(&mut self) {
        if self.victim_index.is_none() {
            self.mark_all();
            self.victim_index = Some(VictimIndex::new(
                self.geometry.num_sets,
                self.geometry.assoc,
            ));
            self.rebuild_victim_index();
        }
    }

    /// Rebuild the victim index, if there is one, from the blocks' states (and lists, if it
    /// kept their order).
    fn rebuild_victim_index(&mut self) {
        let Some(before) = &self.victim_index else {
            return;
        };
        let lru_ordered = before.lru_ordered();
        self.mark_all();
        let mut victim_index = VictimIndex::new(self.geometry.num_sets, self.geometry.assoc);
        for index in 0..self.geometry.size_blocks {
            if self.state(index).is_reclaimable() {
                victim_index.reclaimable.insert(index);
            }
        }
        if lru_ordered {
            self.order_lists_into(&mut victim_index);
        }
        self.victim_index = Some(victim_index);
    }

    /// Make the victim index (built if need be) keep the LRU order from now on.
    pub(crate) fn start_lru_victim_index(&mut self) {
        self.build_victim_index();
        let Some(mut victim_index) = self.victim_index.take() else {
            unreachable!("just built");
        };
        if !victim_index.lru_ordered() {
            self.mark_all();
            self.order_lists_into(&mut victim_index);
        }
        self.victim_index = Some(victim_index);
    }

    fn order_lists_into(&self, victim_index: &mut VictimIndex) {
        victim_index.start_lru_order();
        for set in 0..self.geometry.num_sets {
            for list in [LruList::Warm, LruList::Hot] {
                let mut cursor = self.lru_head(set, list);
                while let Some(index) = cursor {
                    victim_index.listed(index, set, list, true);
                    cursor = self.lru_next_of(index);
                }
            }
        }
    }

    /// The block at absolute `index`.
    #[inline]
    pub fn block(&self, index: u32) -> &CacheBlock {
        &self.blocks[index as usize]
    }

    /// Block `index` for a change (marked touched).
    #[inline]
    pub fn block_mut(&mut self, index: u32) -> &mut CacheBlock {
        self.mark_block(index);
        &mut self.blocks[index as usize]
    }

    /// The record of `set`.
    #[inline]
    pub fn set(&self, set: u32) -> &CacheSet {
        &self.sets[set as usize]
    }

    /// The record of `set` for a change (marked touched).
    #[inline]
    pub fn set_mut(&mut self, set: u32) -> &mut CacheSet {
        self.touched_sets.mark(set, || self.sets[set as usize]);
        &mut self.sets[set as usize]
    }

    /// The set-relative head of hash bucket `bucket` of `set` (`NIL`: empty).
    #[inline]
    pub fn bucket_head(&self, set: u32, bucket: u32) -> u32 {
        self.buckets[set as usize * self.geometry.hash_buckets_per_set as usize + bucket as usize]
    }

    /// Set bucket head `slot` (see [`Blocks::bucket_slot`]), marked touched.
    #[inline]
    fn set_bucket_head(&mut self, slot: usize, head: u32) {
        self.touched_buckets
            .mark(slot as u32, || self.buckets[slot]);
        self.buckets[slot] = head;
    }

    /// What changed since the last call, moved into `into` (see [`Marked::take`]).
    pub fn take_changes(&mut self, into: &mut Changes) {
        self.touched_blocks.take(&mut into.blocks);
        self.touched_sets.take(&mut into.sets);
        self.touched_buckets.take(&mut into.buckets);
    }

    /// Mark every block, set record and bucket touched (whole-cache rewrites: a load, a
    /// victim index built or rebuilt).
    fn mark_all(&mut self) {
        for set in 0..self.geometry.num_sets {
            self.touched_sets.mark(set, || self.sets[set as usize]);
        }
        for index in 0..self.geometry.size_blocks {
            self.mark_block(index);
        }
        for slot in 0..self.buckets.len() {
            self.touched_buckets
                .mark(slot as u32, || self.buckets[slot]);
        }
    }

    /// Mark block `index` touched, before a change.
    #[inline]
    fn mark_block(&mut self, index: u32) {
        self.touched_blocks
            .mark(index, || self.blocks[index as usize]);
    }

    #[inline]
    pub fn state(&self, index: u32) -> BlockState {
        self.blocks[index as usize].state
    }

    /// Change a block's state through the checked transition function.
    #[inline]
    #[track_caller]
    pub fn apply(&mut self, index: u32, transition: Transition) -> BlockState {
        self.mark_block(index);
        let block = &mut self.blocks[index as usize];
        let before = block.state;
        let after = before.apply(transition);
        block.state = after;
        if let Some(victim_index) = &mut self.victim_index {
            if before.is_reclaimable() != after.is_reclaimable() {
                victim_index.reclaimable_changed(index, after.is_reclaimable());
            }
        }
        after
    }

    /// The set of `index` and its first block, the block marked touched: every caller
    /// edits its links.
    #[inline]
    fn set_start_of(&mut self, index: u32) -> (u32, u32) {
        self.mark_block(index);
        let set = self.geometry.set_of_index(index);
        (set, self.geometry.set_start(set))
    }

    #[inline]
    fn bucket_slot(&self, set: u32, dbn: u64) -> usize {
        set as usize * self.geometry.hash_buckets_per_set as usize
            + self.geometry.bucket_of(dbn) as usize
    }

    /// `flashcache_hash_lookup`: the VALID block of `set` holding `dbn`.
    #[inline]
    pub fn hash_lookup(&self, set: u32, dbn: u64) -> Option<u32> {
        let start = self.geometry.set_start(set);
        let mut relative = self.buckets[self.bucket_slot(set, dbn)];
        while relative != NIL {
            let index = start + relative;
            let block = &self.blocks[index as usize];
            debug_assert!(
                block.state.is_valid() && !block.state.is_invalid(),
                "only VALID blocks are hashed"
            );
            if block.dbn == dbn {
                return Some(index);
            }
            relative = block.hash_next;
        }
        None
    }

    /// `flashcache_hash_insert`: put a VALID block (not yet on any list) on its bucket.
    pub fn hash_insert(&mut self, index: u32) {
        let (set, start) = self.set_start_of(index);
        let block = self.blocks[index as usize];
        assert!(block.state.is_valid(), "hashing a non-VALID block");
        assert!(
            block.hash_prev == NIL && block.hash_next == NIL,
            "block {index} already linked"
        );
        let slot = self.bucket_slot(set, block.dbn);
        let head = self.buckets[slot];
        let relative = index - start;
        if head != NIL {
            self.block_mut(start + head).hash_prev = relative;
        }
        let block = &mut self.blocks[index as usize];
        block.hash_prev = NIL;
        block.hash_next = head;
        self.set_bucket_head(slot, relative);
    }

    /// `flashcache_hash_remove`: take a VALID block off its bucket.
    pub fn hash_remove(&mut self, index: u32) {
        let (set, start) = self.set_start_of(index);
        let block = self.blocks[index as usize];
        assert!(block.state.is_valid(), "unhashing a non-VALID block");
        if block.hash_prev != NIL {
            self.block_mut(start + block.hash_prev).hash_next = block.hash_next;
        } else {
            let slot = self.bucket_slot(set, block.dbn);
            debug_assert_eq!(self.buckets[slot], index - start, "bucket head mismatch");
            self.set_bucket_head(slot, block.hash_next);
        }
        if block.hash_next != NIL {
            self.block_mut(start + block.hash_next).hash_prev = block.hash_prev;
        }
        let block = &mut self.blocks[index as usize];
        block.hash_prev = NIL;
        block.hash_next = NIL;
    }

    /// `flashcache_invalid_insert`: push an INVALID block on its set's free list (LIFO).
    pub fn invalid_insert(&mut self, index: u32) {
        let (set, start) = self.set_start_of(index);
        let block = self.blocks[index as usize];
        assert!(
            block.state == BlockState::INVALID,
            "free list takes only INVALID blocks, got {:?}",
            block.state
        );
        assert!(
            block.hash_prev == NIL && block.hash_next == NIL,
            "block {index} is still linked"
        );
        let head = self.set(set).invalid_head;
        if head != NIL {
            self.block_mut(start + head).hash_prev = index - start;
        }
        let block = &mut self.blocks[index as usize];
        block.hash_next = head;
        block.hash_prev = NIL;
        self.set_mut(set).invalid_head = index - start;
    }

    /// `flashcache_invalid_remove`.
    fn invalid_remove(&mut self, index: u32) {
        let (set, start) = self.set_start_of(index);
        let block = self.blocks[index as usize];
        assert!(
            block.state == BlockState::INVALID,
            "free list holds INVALID blocks"
        );
        // flashcache's removal handles any place in the list; the only caller takes the head.
        assert_eq!(block.hash_prev, NIL, "only the free list's head is taken");
        self.set_mut(set).invalid_head = block.hash_next;
        if block.hash_next != NIL {
            self.block_mut(start + block.hash_next).hash_prev = NIL;
        }
        let block = &mut self.blocks[index as usize];
        block.hash_prev = NIL;
        block.hash_next = NIL;
    }

    /// `flashcache_invalid_get`: pop the head of `set`'s free list.
    pub fn invalid_get(&mut self, set: u32) -> Option<u32> {
        let head = self.sets[set as usize].invalid_head;
        if head == NIL {
            return None;
        }
        let index = self.geometry.set_start(set) + head;
        self.invalid_remove(index);
        Some(index)
    }

    /// Rebuild hash and free lists from the blocks' states, in index order as flashcache's
    /// constructor does (so a fresh set hands out its highest index first).
    pub fn link_by_state(&mut self) {
        self.mark_all();
        for slot in self.buckets.iter_mut() {
            *slot = NIL;
        }
        for set in self.sets.iter_mut() {
            set.invalid_head = NIL;
        }
        for block in self.blocks.iter_mut() {
            block.hash_prev = NIL;
            block.hash_next = NIL;
        }
        for index in 0..self.geometry.size_blocks {
            let state = self.blocks[index as usize].state;
            if state.is_valid() {
                self.hash_insert(index);
            }
            if state.is_invalid() {
                self.invalid_insert(index);
            }
        }
        // States may have been written directly (a load): index them afresh.
        self.rebuild_victim_index();
    }

    /// The list ends of `list` in `set`.
    #[inline]
    pub fn list_ends(&self, set: u32, list: LruList) -> ListEnds {
        let set = &self.sets[set as usize];
        match list {
            LruList::Hot => set.hot,
            LruList::Warm => set.warm,
        }
    }

    #[inline]
    fn list_ends_mut(&mut self, set: u32, list: LruList) -> &mut ListEnds {
        let set = self.set_mut(set);
        match list {
            LruList::Hot => &mut set.hot,
            LruList::Warm => &mut set.warm,
        }
    }

    fn count_change(&mut self, list: LruList, added: bool) {
        let counter = match list {
            LruList::Hot => &mut self.lru_hot_blocks,
            LruList::Warm => &mut self.lru_warm_blocks,
        };
        if added {
            *counter += 1;
        } else {
            *counter -= 1;
        }
    }

    /// Take a block off the LRU list it is on.
    pub fn lru_remove(&mut self, index: u32) {
        let (set, start) = self.set_start_of(index);
        let block = self.blocks[index as usize];
        let list = block.lru_list;
        if block.lru_prev != NIL {
            self.block_mut(start + block.lru_prev).lru_next = block.lru_next;
        } else {
            let ends = self.list_ends_mut(set, list);
            assert_eq!(ends.head, index - start, "LRU head mismatch");
            ends.head = block.lru_next;
        }
        if block.lru_next != NIL {
            self.block_mut(start + block.lru_next).lru_prev = block.lru_prev;
        } else {
            let ends = self.list_ends_mut(set, list);
            assert_eq!(ends.tail, index - start, "LRU tail mismatch");
            ends.tail = block.lru_prev;
        }
        let ends = self.list_ends_mut(set, list);
        ends.count -= 1;
        let emptied = ends.count == 0;
        self.count_change(list, false);
        let block = &mut self.blocks[index as usize];
        block.lru_prev = NIL;
        block.lru_next = NIL;
        if let Some(victim_index) = &mut self.victim_index {
            victim_index.unlisted(index);
            if emptied {
                victim_index.list_emptied(set, list);
            }
        }
    }

    /// Append a block (off every list) at the MRU end of `list`.
    pub fn lru_add_mru(&mut self, index: u32, list: LruList) {
        let (set, start) = self.set_start_of(index);
        let relative = index - start;
        let tail = self.list_ends(set, list).tail;
        if tail != NIL {
            self.block_mut(start + tail).lru_next = relative;
        }
        let block = &mut self.blocks[index as usize];
        block.lru_list = list;
        block.lru_prev = tail;
        block.lru_next = NIL;
        let ends = self.list_ends_mut(set, list);
        if ends.head == NIL {
            ends.head = relative;
        }
        ends.tail = relative;
        ends.count += 1;
        self.count_change(list, true);
        if let Some(victim_index) = &mut self.victim_index {
            victim_index.listed(index, set, list, true);
        }
    }

    /// Insert a block (off every list) at the LRU end of `list`.
    pub fn lru_add_lru(&mut self, index: u32, list: LruList) {
        let (set, start) = self.set_start_of(index);
        let relative = index - start;
        let head = self.list_ends(set, list).head;
        if head != NIL {
            self.block_mut(start + head).lru_prev = relative;
        }
        let block = &mut self.blocks[index as usize];
        block.lru_list = list;
        block.lru_next = head;
        block.lru_prev = NIL;
        let ends = self.list_ends_mut(set, list);
        if ends.tail == NIL {
            ends.tail = relative;
        }
        ends.head = relative;
        ends.count += 1;
        self.count_change(list, true);
        if let Some(victim_index) = &mut self.victim_index {
            victim_index.listed(index, set, list, false);
        }
    }

    /// Move a block to the MRU end of the list it is on.
    pub fn lru_move_to_mru(&mut self, index: u32) {
        let list = self.blocks[index as usize].lru_list;
        self.lru_remove(index);
        self.lru_add_mru(index, list);
    }

    /// Absolute index of the next block towards the MRU end, if any.
    #[inline]
    pub fn lru_next_of(&self, index: u32) -> Option<u32> {
        let next = self.blocks[index as usize].lru_next;
        (next != NIL).then(|| self.geometry.set_start(self.geometry.set_of_index(index)) + next)
    }

    /// Absolute index of the LRU end of `list` in `set`, if any.
    #[inline]
    pub fn lru_head(&self, set: u32, list: LruList) -> Option<u32> {
        let head = self.list_ends(set, list).head;
        (head != NIL).then(|| self.geometry.set_start(set) + head)
    }

    /// Absolute index of the MRU end of `list` in `set`, if any.
    #[inline]
    pub fn lru_tail(&self, set: u32, list: LruList) -> Option<u32> {
        let tail = self.list_ends(set, list).tail;
        (tail != NIL).then(|| self.geometry.set_start(set) + tail)
    }

    /// The blocks of `list` in `set`, LRU end first (tests).
    #[cfg(test)]
    pub fn lru_order(&self, set: u32, list: LruList) -> Vec<u32> {
        let mut order = Vec::new();
        let mut cursor = self.lru_head(set, list);
        while let Some(index) = cursor {
            order.push(index);
            cursor = self.lru_next_of(index);
        }
        order
    }

    /// Block `index` for a change that is not marked: a bug in the marking, for
    /// tests of the incremental check.
    #[cfg(test)]
    pub fn block_mut_unmarked(&mut self, index: u32) -> &mut CacheBlock {
        &mut self.blocks[index as usize]
    }

    /// Every block, set record and bucket head not marked touched is as in `before`, and
    /// every marked one kept its value from `before` (tests: the marking misses no change
    /// and marks before the change).
    #[cfg(test)]
    pub fn assert_unmarked_unchanged(&self, before: &Blocks) {
        assert_eq!(self.geometry, before.geometry, "another cache");
        let marked = self.touched_blocks.values_before();
        for (index, (now, then)) in (0u32..).zip(self.blocks.iter().zip(&before.blocks)) {
            match marked[index as usize] {
                None => assert_eq!(now, then, "block {index} changed without being marked"),
                Some(kept) => assert_eq!(&kept, then, "block {index} marked after a change"),
            }
        }
        let marked = self.touched_sets.values_before();
        for (set, (now, then)) in (0u32..).zip(self.sets.iter().zip(&before.sets)) {
            match marked[set as usize] {
                None => assert_eq!(now, then, "set {set} changed without being marked"),
                Some(kept) => assert_eq!(&kept, then, "set {set} marked after a change"),
            }
        }
        let marked = self.touched_buckets.values_before();
        for (slot, (now, then)) in (0u32..).zip(self.buckets.iter().zip(&before.buckets)) {
            match marked[slot as usize] {
                None => assert_eq!(now, then, "bucket {slot} changed without being marked"),
                Some(kept) => assert_eq!(&kept, then, "bucket {slot} marked after a change"),
            }
        }
    }

    /// The free list of `set`, head first (tests).
    #[cfg(test)]
    pub fn free_list(&self, set: u32) -> Vec<u32> {
        let start = self.geometry.set_start(set);
        let mut order = Vec::new();
        let mut relative = self.sets[set as usize].invalid_head;
        while relative != NIL {
            order.push(start + relative);
            relative = self.blocks[(start + relative) as usize].hash_next;
        }
        order
    }

    /// Check the structural invariants of every set (tests; O(size)). Walks the lists in
    /// place (the explorer checks after every input, so no list is collected), each walk
    /// bounded by the set's size: a cycle fails here instead of hanging.
    #[cfg(test)]
    pub fn check_links(&self) {
        let mut on_lists = Vec::new();
        for set in 0..self.geometry.num_sets {
            self.check_set_links(set, &mut on_lists);
        }
        self.check_list_totals();
    }

    /// [`Blocks::check_links`] for one set (O(assoc)): its free list, LRU lists and hash
    /// chains, each block on the hash or free list its state says, and the victim index's
    /// view of the set. `on_lists` is scratch, reused across calls.
    pub fn check_set_links(&self, set: u32, on_lists: &mut Vec<u8>) {
        let geometry = self.geometry;
        let walk_max = geometry.assoc;
        let start = geometry.set_start(set);
        // Set-relative links: no walk needs a division to find the set.
        on_lists.clear();
        on_lists.resize(geometry.assoc as usize, 0);
        let mut relative = self.sets[set as usize].invalid_head;
        let mut steps = 0u32;
        while relative != NIL {
            steps += 1;
            assert!(
                steps <= walk_max && relative < walk_max,
                "free list of set {set} outgrows the set"
            );
            let index = start + relative;
            assert_eq!(
                self.state(index),
                BlockState::INVALID,
                "free list block {index}"
            );
            on_lists[relative as usize] += 1;
            relative = self.blocks[index as usize].hash_next;
        }
        for list in [LruList::Hot, LruList::Warm] {
            let mut length = 0u32;
            let mut relative = self.list_ends(set, list).head;
            while relative != NIL {
                length += 1;
                assert!(
                    length <= walk_max && relative < walk_max,
                    "{list:?} list of set {set} outgrows the set"
                );
                let block = &self.blocks[(start + relative) as usize];
                assert_eq!(block.lru_list, list);
                relative = block.lru_next;
            }
            assert_eq!(length, self.list_ends(set, list).count);
        }
        let buckets = geometry.hash_buckets_per_set as usize;
        for bucket in 0..buckets {
            let mut relative = self.buckets[set as usize * buckets + bucket];
            let mut steps = 0u32;
            while relative != NIL {
                steps += 1;
                assert!(
                    steps <= walk_max && relative < walk_max,
                    "hash chain of set {set} outgrows the set"
                );
                let index = start + relative;
                let block = self.block(index);
                assert!(block.state.is_valid(), "hashed block {index} not VALID");
                assert_eq!(geometry.bucket_of(block.dbn) as usize, bucket);
                on_lists[relative as usize] += 1;
                relative = block.hash_next;
            }
        }
        for (index, &count) in (start..).zip(on_lists.iter()) {
            let state = self.blocks[index as usize].state;
            let expected = u8::from(state.is_valid() || state == BlockState::INVALID);
            assert_eq!(
                count, expected,
                "block {index} in state {state:?} is on {count} hash/free lists"
            );
        }
        // The walks above bounded this set's lists, so the index check's walks end.
        self.check_set_victim_index(set);
    }

    /// The cache-wide list lengths: every block on an LRU list, or none yet (O(1)).
    pub fn check_list_totals(&self) {
        let lru_total = self.lru_hot_blocks + self.lru_warm_blocks;
        assert!(lru_total == 0 || lru_total == u64::from(self.geometry.size_blocks));
    }

    /// The victim index, if any, agrees with the states and lists (tests; O(size); each
    /// list must already be known to end).
    #[cfg(test)]
    pub fn check_victim_index(&self) {
        for set in 0..self.geometry.num_sets {
            self.check_set_victim_index(set);
        }
    }

    /// What the victim index, if any, says of block `index` agrees with its state and its
    /// place in the LRU lists, locally (see [`VictimIndex::check_block`]; O(1)).
    pub fn check_block_victim_index(&self, index: u32) {
        let Some(victim_index) = &self.victim_index else {
            return;
        };
        let set = self.geometry.set_of_index(index);
        let start = self.geometry.set_start(set);
        let block = self.block(index);
        let listed = self.lru_lists_populated(set).then(|| ListedAt {
            list: block.lru_list,
            prev: (block.lru_prev != NIL).then(|| start + block.lru_prev),
            next: (block.lru_next != NIL).then(|| start + block.lru_next),
        });
        victim_index.check_block(index, block.state.is_reclaimable(), listed);
    }

    /// The victim index's heap of `set`, if any, holds its `reclaimable` blocks if its
    /// lists are populated, else none (O(1)).
    pub fn check_victim_heap_len(&self, set: u32, reclaimable: u32) {
        if let Some(victim_index) = &self.victim_index {
            let listed = if self.lru_lists_populated(set) {
                reclaimable
            } else {
                0
            };
            victim_index.check_heap_len(set, listed);
        }
    }

    /// Block `index` sits in its victim index heap slot in heap order, if it has one.
    pub fn check_victim_heap_slot(&self, index: u32) {
        if let Some(victim_index) = &self.victim_index {
            victim_index.check_heap_slot(index);
        }
    }

    /// The blocks the victim index put in a heap slot since the last call, moved into
    /// `into` (none without an index).
    pub fn take_victim_placed(&mut self, into: &mut Vec<(u32, ())>) {
        match &mut self.victim_index {
            Some(victim_index) => victim_index.take_placed(into),
            None => into.clear(),
        }
    }

    /// [`Blocks::check_victim_index`] for one set (O(assoc)).
    pub fn check_set_victim_index(&self, set: u32) {
        if let Some(victim_index) = &self.victim_index {
            victim_index.check_set(
                set,
                |index| self.state(index).is_reclaimable(),
                |visit| {
                    for list in [LruList::Warm, LruList::Hot] {
                        let mut cursor = self.lru_head(set, list);
                        while let Some(index) = cursor {
                            visit(list, index);
                            cursor = self.lru_next_of(index);
                        }
                    }
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashcache::geometry::GeometryParts;

    pub(crate) fn small_geometry(num_sets: u32, assoc: u32) -> Geometry {
        Geometry::new(GeometryParts {
            block_size_sectors: 8,
            assoc,
            size_blocks: num_sets * assoc,
            disk_assoc_sectors: 0,
            on_ssd_version: 4,
            md_block_size_sectors: 8,
            md_blocks: 4,
            fully_associative: false,
        })
    }

    #[test]
    fn fresh_sets_hand_out_their_highest_index_first() {
        let mut blocks = Blocks::new(small_geometry(2, 4), 0);
        blocks.link_by_state();
        assert_eq!(blocks.free_list(0), vec![3, 2, 1, 0]);
        assert_eq!(blocks.invalid_get(1), Some(7));
        assert_eq!(blocks.free_list(1), vec![6, 5, 4]);
        blocks.check_links_after_pop(7);
    }

    impl Blocks {
        fn check_links_after_pop(&mut self, popped: u32) {
            // A popped slot is on no list until claimed or pushed back.
            self.invalid_insert(popped);
            self.check_links();
        }
    }

    #[test]
    #[should_panic(expected = "free list of set 0 outgrows the set")]
    fn a_cycle_in_a_free_list_fails_the_check_instead_of_hanging() {
        let mut blocks = Blocks::new(small_geometry(1, 4), 0);
        blocks.link_by_state();
        let head = blocks.sets[0].invalid_head;
        let tail = *blocks.free_list(0).last().expect("a free block");
        // Set 0 starts at block 0: relative and absolute indexes agree.
        blocks.blocks[tail as usize].hash_next = head;
        blocks.check_links();
    }

    #[test]
    fn hash_finds_valid_blocks_and_forgets_removed_ones() {
        let mut blocks = Blocks::new(small_geometry(1, 8), 0);
        blocks.link_by_state();
        let mut claimed = Vec::new();
        for dbn in [0u64, 8, 16, 1 << 40] {
            let index = blocks.invalid_get(0).expect("free slot");
            blocks.block_mut(index).dbn = dbn;
            blocks.apply(index, Transition::ClaimForRead);
            blocks.hash_insert(index);
            blocks.apply(index, Transition::IoFinished);
            claimed.push((dbn, index));
        }
        blocks.check_links();
        for &(dbn, index) in &claimed {
            assert_eq!(blocks.hash_lookup(0, dbn), Some(index));
        }
        assert_eq!(blocks.hash_lookup(0, 24), None);
        let (dbn, index) = claimed[1];
        blocks.hash_remove(index);
        blocks.apply(index, Transition::Invalidate);
        blocks.invalid_insert(index);
        assert_eq!(blocks.hash_lookup(0, dbn), None);
        assert_eq!(
            blocks.free_list(0)[0],
            index,
            "freed block goes to the head"
        );
        blocks.check_links();
    }

    #[test]
    fn lru_lists_keep_order_and_counts() {
        let mut blocks = Blocks::new(small_geometry(1, 4), 0);
        for index in 0..4 {
            blocks.lru_add_mru(index, LruList::Warm);
        }
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![0, 1, 2, 3]);
        blocks.lru_move_to_mru(1);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![0, 2, 3, 1]);
        blocks.lru_remove(0);
        blocks.lru_add_lru(0, LruList::Hot);
        blocks.lru_remove(3);
        blocks.lru_add_lru(3, LruList::Hot);
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![3, 0]);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![2, 1]);
        assert_eq!((blocks.lru_hot_blocks, blocks.lru_warm_blocks), (2, 2));
        assert_eq!(blocks.lru_tail(0, LruList::Warm), Some(1));
    }
}
