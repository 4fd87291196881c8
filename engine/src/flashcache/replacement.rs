//! Replacement policies (spec 1.8): flashcache's FIFO hand and two-list hot/warm LRU with
//! the code's quirks (Decision 5), plus `lru-strict`, one plain LRU list per set
//! (Decision 11).
//!
//! Owns: choosing a reclaimable block and the list reordering that accesses cause. Side
//! effects happen even when the caller then decides not to use the block, as in flashcache.
//! Does not own: the free list (see [`super::set`]) or what "reclaimable" means (see
//! [`super::state`]).
//!
//! Each choice finds its block by flashcache's linear walk, or, in sets large enough to
//! keep a [`super::victim_index::VictimIndex`], by that index in O(log n): the same block,
//! so the side effects that follow are the same code.

use super::set::{Blocks, LruList, VictimIndexMode, LONG_WALK_BLOCKS};

/// How a bounded walk ended.
enum Walk {
    Found(u32),
    NotFound,
    /// Longer than allowed: the index answers instead.
    GaveUp,
}

/// What an LRU operation did besides reordering, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LruEffect {
    pub promoted: bool,
    pub demoted: bool,
}

/// The ways of a set on its hot list for a hot share of `hot_pct` percent (rounded down, as
/// flashcache's init and rebalance compute it).
pub(crate) fn hot_ways(assoc: u32, hot_pct: u32) -> u32 {
    (u64::from(assoc) * u64::from(hot_pct) / 100) as u32
}

impl Blocks {
    /// `flashcache_reclaim_fifo_get_old_block`: scan cyclically from the set's hand for the
    /// first block that is exactly VALID. The hand then points one past where the scan
    /// stopped — also when nothing was found.
    pub(crate) fn fifo_get_old_block(&mut self, set: u32) -> Option<u32> {
        let start = self.geometry.set_start(set);
        let end = start + self.geometry.assoc;
        let hand = self.set(set).fifo_next;
        debug_assert!((start..end).contains(&hand));
        let found = if self.victim_index.is_some() {
            self.fifo_first_indexed_checked(set, hand)
        } else {
            let steps_max = match self.victim_index_mode {
                VictimIndexMode::OnLongWalk => LONG_WALK_BLOCKS.min(self.geometry.assoc),
                _ => self.geometry.assoc,
            };
            match self.fifo_scan(set, hand, steps_max) {
                Walk::Found(index) => Some(index),
                Walk::NotFound => None,
                Walk::GaveUp => {
                    self.build_victim_index();
                    self.fifo_first_indexed_checked(set, hand)
                }
            }
        };
        // A fruitless scan went all the way round and stopped where it began.
        let stopped_at = found.unwrap_or(hand);
        let next = if stopped_at + 1 == end {
            start
        } else {
            stopped_at + 1
        };
        self.set_mut(set).fifo_next = next;
        found
    }

    /// The first reclaimable block at or after `hand`, round the set, by the index.
    fn fifo_first_indexed(&self, set: u32, hand: u32) -> Option<u32> {
        let victim_index = self.victim_index.as_ref().expect("an index");
        let start = self.geometry.set_start(set);
        let end = start + self.geometry.assoc;
        let in_set = |index: &u32| *index < end;
        victim_index
            .reclaimable
            .next_at_or_after(hand)
            .filter(in_set)
            .or_else(|| {
                victim_index
                    .reclaimable
                    .next_at_or_after(start)
                    .filter(in_set)
            })
    }

    /// [`Blocks::fifo_first_indexed`], checked against the whole walk when asked
    /// (`victim_walk_check`): the index must choose the walk's block.
    fn fifo_first_indexed_checked(&self, set: u32, hand: u32) -> Option<u32> {
        let found = self.fifo_first_indexed(set, hand);
        if self.victim_walk_check {
            let walked = match self.fifo_scan(set, hand, self.geometry.assoc) {
                Walk::Found(index) => Some(index),
                Walk::NotFound | Walk::GaveUp => None,
            };
            assert_eq!(
                found, walked,
                "victim index: FIFO victim of set {set} from hand {hand} is {found:?}, the \
                 linear walk's {walked:?}"
            );
        }
        found
    }

    /// The reference FIFO walk: the first exactly-VALID block from `hand` round the set,
    /// giving up after `steps_max` blocks if that is less than the set.
    fn fifo_scan(&self, set: u32, hand: u32, steps_max: u32) -> Walk {
        let start = self.geometry.set_start(set);
        let end = start + self.geometry.assoc;
        let mut cursor = hand;
        for _ in 0..steps_max {
            if self.state(cursor).is_reclaimable() {
                return Walk::Found(cursor);
            }
            cursor += 1;
            if cursor == end {
                cursor = start;
            }
        }
        if steps_max < self.geometry.assoc {
            Walk::GaveUp
        } else {
            Walk::NotFound
        }
    }

    /// The first exactly-VALID block from the warm list's LRU end, else from the hot
    /// list's: where both LRU reclaims stop.
    fn lru_first_reclaimable(&mut self, set: u32) -> Option<u32> {
        if let Some(victim_index) = &self.victim_index {
            if victim_index.lru_ordered() {
                return self.lru_first_indexed_checked(set);
            }
        }
        let steps_max = match self.victim_index_mode {
            VictimIndexMode::OnLongWalk => LONG_WALK_BLOCKS,
            _ => u32::MAX,
        };
        match self.lru_walk(set, steps_max) {
            Walk::Found(index) => Some(index),
            Walk::NotFound => None,
            Walk::GaveUp => {
                self.start_lru_victim_index();
                self.lru_first_indexed_checked(set)
            }
        }
    }

    /// The reference LRU walk: the first exactly-VALID block from the warm list's LRU end,
    /// else from the hot list's, giving up after `steps_max` blocks.
    fn lru_walk(&self, set: u32, steps_max: u32) -> Walk {
        let mut steps = 0u32;
        for list in [LruList::Warm, LruList::Hot] {
            let mut cursor = self.lru_head(set, list);
            while let Some(index) = cursor {
                steps += 1;
                if steps > steps_max {
                    return Walk::GaveUp;
                }
                if self.state(index).is_reclaimable() {
                    return Walk::Found(index);
                }
                cursor = self.lru_next_of(index);
            }
        }
        Walk::NotFound
    }

    /// The index's LRU choice, checked against the whole walk when asked
    /// (`victim_walk_check`).
    fn lru_first_indexed_checked(&self, set: u32) -> Option<u32> {
        let victim_index = self.victim_index.as_ref().expect("an LRU-ordered index");
        let found = victim_index.first_in_lru_order(set);
        if self.victim_walk_check {
            let walked = match self.lru_walk(set, u32::MAX) {
                Walk::Found(index) => Some(index),
                Walk::NotFound | Walk::GaveUp => None,
            };
            assert_eq!(
                found, walked,
                "victim index: LRU victim of set {set} is {found:?}, the linear walk's \
                 {walked:?}"
            );
        }
        found
    }

    /// `flashcache_reclaim_init_lru_lists`: the first `hot_pct`% of each set's slots go to
    /// the hot list, the rest to the warm list, in index order.
    pub(crate) fn lru_init_lists(&mut self, hot_pct: u32) {
        let assoc = self.geometry.assoc;
        let hot_per_set = hot_ways(assoc, hot_pct);
        for set in 0..self.geometry.num_sets {
            let start = self.geometry.set_start(set);
            for offset in 0..assoc {
                let list = if offset < hot_per_set {
                    LruList::Hot
                } else {
                    LruList::Warm
                };
                // flashcache adds each slot at the LRU end in ascending order, so a list
                // reads highest index first from its LRU end.
                self.lru_add_lru(start + offset, list);
                self.block_mut(start + offset).use_cnt = 0;
            }
        }
    }

    /// `flashcache_reclaim_rebalance_lru`: move blocks between the lists' LRU ends so each
    /// set's hot share goes from `old_pct` to `new_pct`. Values above 100 are ignored (the
    /// function returns false), as flashcache does.
    pub(crate) fn lru_rebalance(&mut self, old_pct: u32, new_pct: u32) -> bool {
        if new_pct > 100 {
            return false;
        }
        let assoc = self.geometry.assoc;
        let new_hot = hot_ways(assoc, new_pct);
        let old_hot = hot_ways(assoc, old_pct);
        let (from, to, count) = if new_hot > old_hot {
            (LruList::Warm, LruList::Hot, new_hot - old_hot)
        } else {
            (LruList::Hot, LruList::Warm, old_hot - new_hot)
        };
        for set in 0..self.geometry.num_sets {
            let mut moved = 0;
            while moved < count {
                let Some(index) = self.lru_head(set, from) else {
                    break;
                };
                self.lru_remove(index);
                self.block_mut(index).use_cnt = 0;
                self.lru_add_lru(index, to);
                moved += 1;
            }
        }
        true
    }

    /// `flashcache_lru_accessed`: a hot block moves to the hot MRU end; a warm block moves to
    /// the warm MRU end until its use count reaches `promote_thresh`, then it swaps places
    /// with the hot list's LRU block, entering the hot list at its *LRU* end (quirk kept).
    pub(crate) fn lru_accessed(&mut self, index: u32, promote_thresh: u32) -> LruEffect {
        let block = *self.block(index);
        if block.lru_list == LruList::Hot {
            self.lru_move_to_mru(index);
            return LruEffect::default();
        }
        if block.state == super::state::BlockState::INVALID {
            self.lru_move_to_mru(index);
            return LruEffect::default();
        }
        let use_cnt = block.use_cnt.wrapping_add(1);
        self.block_mut(index).use_cnt = use_cnt;
        if u32::from(use_cnt) < promote_thresh {
            self.lru_move_to_mru(index);
            return LruEffect::default();
        }
        let set = self.geometry.set_of_index(index);
        let Some(hot_victim) = self.lru_head(set, LruList::Hot) else {
            // Nothing to swap with: stay warm (use count not reset, as flashcache).
            self.lru_move_to_mru(index);
            return LruEffect::default();
        };
        self.lru_remove(index);
        self.lru_remove(hot_victim);
        self.block_mut(index).use_cnt = 0;
        self.lru_add_lru(index, LruList::Hot);
        self.block_mut(hot_victim).use_cnt = 0;
        self.lru_add_mru(hot_victim, LruList::Warm);
        LruEffect {
            promoted: true,
            demoted: false,
        }
    }

    /// `flashcache_reclaim_lru_get_old_block`: the first exactly-VALID block from the warm
    /// list's LRU end (moved to the warm MRU end); failing that, from the hot list's LRU end,
    /// demoted by swapping with the warm MRU block (victim → warm MRU, that block → hot LRU).
    pub(crate) fn lru_get_old_block(&mut self, set: u32) -> (Option<u32>, LruEffect) {
        let Some(index) = self.lru_first_reclaimable(set) else {
            return (None, LruEffect::default());
        };
        if self.block(index).lru_list == LruList::Warm {
            self.block_mut(index).use_cnt = 0;
            self.lru_move_to_mru(index);
            return (Some(index), LruEffect::default());
        }
        let Some(warm_mru) = self.lru_tail(set, LruList::Warm) else {
            self.lru_move_to_mru(index);
            return (Some(index), LruEffect::default());
        };
        self.lru_remove(index);
        self.lru_remove(warm_mru);
        self.block_mut(index).use_cnt = 0;
        self.lru_add_mru(index, LruList::Warm);
        self.block_mut(warm_mru).use_cnt = 0;
        self.lru_add_lru(warm_mru, LruList::Hot);
        (
            Some(index),
            LruEffect {
                promoted: false,
                demoted: true,
            },
        )
    }

    /// `lru-strict` access: the block moves to the MRU end of the set's single list (the
    /// warm list; blocks left on the hot list by another policy migrate on first touch).
    pub(crate) fn lru_strict_accessed(&mut self, index: u32) {
        self.lru_remove(index);
        self.lru_add_mru(index, LruList::Warm);
    }

    /// `lru-strict` reclaim: the least recently used exactly-VALID block of the set.
    pub(crate) fn lru_strict_get_old_block(&mut self, set: u32) -> Option<u32> {
        let index = self.lru_first_reclaimable(set)?;
        self.lru_strict_accessed(index);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashcache::geometry::{Geometry, GeometryParts};
    use crate::flashcache::state::{BlockState, Transition};

    fn geometry(assoc: u32) -> Geometry {
        Geometry::new(GeometryParts {
            block_size_sectors: 8,
            assoc,
            size_blocks: assoc,
            disk_assoc_sectors: 0,
            on_ssd_version: 4,
            md_block_size_sectors: 8,
            md_blocks: 3,
            fully_associative: false,
        })
    }

    /// The slot a miss on `dbn` takes, as flashcache's lookup picks it: free list head, else
    /// FIFO; the block then holds `dbn` and is idle VALID.
    fn fifo_insert(blocks: &mut Blocks, dbn: u64) -> u32 {
        let index = blocks
            .invalid_get(0)
            .or_else(|| blocks.fifo_get_old_block(0))
            .expect("room");
        if blocks.state(index).is_valid() {
            blocks.hash_remove(index);
        }
        blocks.apply(index, Transition::ClaimForRead);
        blocks.block_mut(index).dbn = dbn;
        blocks.hash_insert(index);
        blocks.apply(index, Transition::IoFinished);
        index
    }

    /// Textbook FIFO evicts in insertion order. flashcache's cold set hands out slots from
    /// its LIFO free list (highest index first) while the hand starts at the set's first
    /// slot, so the first wrap evicts the *newest* block first.
    #[test]
    fn faithful_fifo_differs_from_textbook_fifo_on_a_cold_set() {
        let mut blocks = Blocks::new(geometry(4), 0);
        blocks.link_by_state();
        let a = fifo_insert(&mut blocks, 100);
        let b = fifo_insert(&mut blocks, 200);
        let c = fifo_insert(&mut blocks, 300);
        let d = fifo_insert(&mut blocks, 400);
        assert_eq!((a, b, c, d), (3, 2, 1, 0));
        let mut evicted = Vec::new();
        for dbn in [500u64, 600, 700, 800] {
            let victim_index = blocks.fifo_get_old_block_preview();
            evicted.push(blocks.block(victim_index).dbn);
            fifo_insert(&mut blocks, dbn);
        }
        // Textbook FIFO would evict 100, 200, 300, 400.
        assert_eq!(evicted, vec![400, 300, 200, 100]);
        // From the second wrap on, the order is first-in first-out.
        let mut evicted = Vec::new();
        for dbn in [900u64, 1000] {
            let victim_index = blocks.fifo_get_old_block_preview();
            evicted.push(blocks.block(victim_index).dbn);
            fifo_insert(&mut blocks, dbn);
        }
        assert_eq!(evicted, vec![500, 600]);
        blocks.check_links();
    }

    impl Blocks {
        fn fifo_get_old_block_preview(&self) -> u32 {
            let mut copy = self.clone();
            copy.fifo_get_old_block(0).expect("a reclaimable block")
        }
    }

    #[test]
    fn fifo_hand_advances_even_when_nothing_is_reclaimable() {
        let mut blocks = Blocks::new(geometry(4), 0);
        blocks.link_by_state();
        for dbn in [8u64, 16, 24, 32] {
            fifo_insert(&mut blocks, dbn);
        }
        for index in 0..4 {
            blocks.apply(index, Transition::ReadHit);
        }
        blocks.set_mut(0).fifo_next = 2;
        assert_eq!(blocks.fifo_get_old_block(0), None);
        // Scanned 2,3,0,1 and stopped at 2 after wrapping: the hand moves to 3.
        assert_eq!(blocks.set(0).fifo_next, 3);
        // A hit does not reorder FIFO: the block at the hand is taken regardless.
        for index in 0..4 {
            blocks.apply(index, Transition::IoFinished);
        }
        assert_eq!(blocks.fifo_get_old_block(0), Some(3));
        assert_eq!(blocks.set(0).fifo_next, 0);
    }

    fn lru_blocks(assoc: u32, hot_pct: u32) -> Blocks {
        let mut blocks = Blocks::new(geometry(assoc), 0);
        blocks.link_by_state();
        blocks.lru_init_lists(hot_pct);
        // Make every block a clean VALID block holding dbn = 8 * index.
        while let Some(index) = blocks.invalid_get(0) {
            blocks.apply(index, Transition::ClaimForRead);
            blocks.block_mut(index).dbn = 8 * u64::from(index);
            blocks.hash_insert(index);
            blocks.apply(index, Transition::IoFinished);
        }
        blocks
    }

    #[test]
    fn lru_init_splits_half_hot_half_warm_in_reverse_index_order() {
        let blocks = lru_blocks(8, 50);
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![3, 2, 1, 0]);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![7, 6, 5, 4]);
        assert_eq!((blocks.lru_hot_blocks, blocks.lru_warm_blocks), (4, 4));
    }

    #[test]
    fn lru_promotion_enters_hot_list_at_its_lru_end() {
        let mut blocks = lru_blocks(8, 50);
        // First access: use_cnt 1 < 2, warm MRU.
        assert_eq!(blocks.lru_accessed(6, 2), LruEffect::default());
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![7, 5, 4, 6]);
        // Second access: promoted, swapping with hot LRU block 3.
        let effect = blocks.lru_accessed(6, 2);
        assert!(effect.promoted);
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![6, 2, 1, 0]);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![7, 5, 4, 3]);
        assert_eq!(blocks.block(6).use_cnt, 0);
        // A hot access moves to the hot MRU end.
        blocks.lru_accessed(6, 2);
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![2, 1, 0, 6]);
    }

    #[test]
    fn lru_reclaim_prefers_warm_lru_then_demotes_from_hot() {
        let mut blocks = lru_blocks(8, 50);
        let (victim, effect) = blocks.lru_get_old_block(0);
        assert_eq!((victim, effect), (Some(7), LruEffect::default()));
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![6, 5, 4, 7]);
        // Make every warm block busy: the victim comes from the hot list.
        for index in [4u32, 5, 6, 7] {
            blocks.apply(index, Transition::ReadHit);
        }
        let (victim, effect) = blocks.lru_get_old_block(0);
        assert_eq!(victim, Some(3));
        assert!(effect.demoted);
        // Victim at warm MRU; the former warm MRU (7) at the hot LRU end.
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![6, 5, 4, 3]);
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![7, 2, 1, 0]);
    }

    #[test]
    fn lru_rebalance_moves_lru_ends() {
        let mut blocks = lru_blocks(8, 50);
        assert!(blocks.lru_rebalance(50, 75));
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![6, 7, 3, 2, 1, 0]);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![5, 4]);
        assert!(blocks.lru_rebalance(75, 25));
        assert_eq!(blocks.lru_order(0, LruList::Hot), vec![1, 0]);
        assert!(!blocks.lru_rebalance(25, 101));
        assert_eq!(blocks.lru_hot_blocks, 2);
    }

    /// One legal state change of `index`, chosen by `choice`, that keeps it off the hash
    /// and free lists (their upkeep is not what these tests compare).
    fn random_transition(blocks: &mut Blocks, index: u32, choice: u64) {
        let state = blocks.state(index);
        let cache_write = BlockState::VALID.union(BlockState::CACHE_WRITE_IN_PROGRESS);
        let cleaning = BlockState::VALID
            .union(BlockState::DIRTY)
            .union(BlockState::DISK_WRITE_IN_PROGRESS);
        let transition = if state == BlockState::INVALID || state.is_reclaimable() {
            match choice % 4 {
                0 => Transition::ClaimForRead,
                1 => Transition::ClaimForWrite,
                2 => Transition::ReadHit,
                _ => Transition::WriteHit,
            }
        } else if state == cache_write && choice.is_multiple_of(2) {
            Transition::MarkDirty
        } else if state == cleaning && choice.is_multiple_of(2) {
            Transition::MarkClean
        } else if state.is_busy() {
            Transition::IoFinished
        } else if state.is_dirty_idle() && choice.is_multiple_of(3) {
            Transition::FallowSweep
        } else if state.is_dirty_idle() {
            Transition::StartCleaning
        } else {
            return;
        };
        let transition = match transition {
            // A hit needs VALID: an INVALID block is claimed instead.
            Transition::ReadHit | Transition::WriteHit if state == BlockState::INVALID => {
                Transition::ClaimForRead
            }
            other => other,
        };
        blocks.apply(index, transition);
    }

    /// Victims, FIFO hands, list orders and use counts agree between the linear walk, the
    /// index from the start, and the index built at the first long walk, through random
    /// state changes, accesses, reclaims and rebalances, in small and large sets; each index
    /// passes its own check along the way.
    #[test]
    fn victim_index_chooses_as_the_linear_walk_does() {
        use crate::flashcache::set::VictimIndexMode;
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        for (seed, num_sets, assoc) in [(1u64, 4u32, 64u32), (2, 1, 1000), (3, 2, 300), (4, 1, 4)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let geometry = Geometry::new(GeometryParts {
                block_size_sectors: 8,
                assoc,
                size_blocks: num_sets * assoc,
                disk_assoc_sectors: 0,
                on_ssd_version: 4,
                md_block_size_sectors: 8,
                md_blocks: 3,
                fully_associative: false,
            });
            let mut linear = Blocks::new(geometry, 0);
            linear.set_victim_index_mode(VictimIndexMode::Never);
            linear.lru_init_lists(50);
            let mut others = [linear.clone(), linear.clone()];
            others[0].set_victim_index_mode(VictimIndexMode::Always);
            others[1].set_victim_index_mode(VictimIndexMode::OnLongWalk);
            let size = num_sets * assoc;
            let mut found = 0;
            for step in 0..20_000 {
                let draw = rng.next_u64();
                let index = (rng.next_u64() % u64::from(size)) as u32;
                let set = index / assoc;
                let operate = |blocks: &mut Blocks| -> Option<u32> {
                    match draw % 10 {
                        0..=3 => {
                            random_transition(blocks, index, draw >> 8);
                            None
                        }
                        4 => blocks.fifo_get_old_block(set),
                        5 => {
                            let (victim, effect) = blocks.lru_get_old_block(set);
                            // Encode the effect too: it must agree as well.
                            victim.map(|v| v | (u32::from(effect.demoted) << 31))
                        }
                        6 => blocks.lru_strict_get_old_block(set),
                        7 => {
                            let thresh = 1 + (draw >> 8) as u32 % 3;
                            let effect = blocks.lru_accessed(index, thresh);
                            effect.promoted.then_some(index)
                        }
                        8 => {
                            blocks.lru_strict_accessed(index);
                            None
                        }
                        _ if draw % 100 == 9 => {
                            let pct = (draw >> 8) as u32 % 110;
                            blocks.lru_rebalance(50, pct).then_some(pct)
                        }
                        _ => {
                            // Force the hand anywhere, as after many earlier reclaims.
                            let hand = set * assoc + (draw >> 8) as u32 % assoc;
                            blocks.set_mut(set).fifo_next = hand;
                            None
                        }
                    }
                };
                let expected = operate(&mut linear);
                let chose = (4..=6).contains(&(draw % 10));
                found += u32::from(chose && expected.is_some());
                for (variant, blocks) in others.iter_mut().enumerate() {
                    assert_eq!(
                        operate(blocks),
                        expected,
                        "seed {seed} step {step} variant {variant}: victim"
                    );
                    assert_eq!(
                        linear.set(set).fifo_next,
                        blocks.set(set).fifo_next,
                        "seed {seed} step {step} variant {variant}: FIFO hand"
                    );
                    if step % 97 == 0 || (chose && expected.is_some()) {
                        for list in [LruList::Warm, LruList::Hot] {
                            assert_eq!(
                                linear.lru_order(set, list),
                                blocks.lru_order(set, list),
                                "seed {seed} step {step} variant {variant}: {list:?} list"
                            );
                        }
                        blocks.check_victim_index();
                    }
                }
            }
            assert!(found > 1000, "seed {seed}: only {found} victims compared");
            for blocks in &others {
                for index in 0..size {
                    assert_eq!(linear.block(index).use_cnt, blocks.block(index).use_cnt);
                    assert_eq!(linear.state(index), blocks.state(index));
                }
                blocks.check_victim_index();
            }
            // Long walks happened in the large sets: the lazy index was built.
            if assoc >= 300 {
                let lazy = others[1]
                    .victim_index
                    .as_ref()
                    .expect("built on a long walk");
                assert!(lazy.lru_ordered(), "seed {seed}: LRU half built");
            }
            assert!(linear.victim_index.is_none());
        }
    }

    /// A load writes states straight into the blocks, behind the index's back: linking the
    /// lists rebuilds it, so a reloaded large set chooses as the walk does.
    #[test]
    fn victim_index_of_a_loaded_set_is_rebuilt_from_its_states() {
        use crate::flashcache::set::{VictimIndexMode, VICTIM_INDEX_MIN_ASSOC};
        let assoc = VICTIM_INDEX_MIN_ASSOC;
        let mut indexed = Blocks::new(geometry(assoc), 0);
        assert_eq!(indexed.victim_index_mode, VictimIndexMode::OnLongWalk);
        indexed.set_victim_index_mode(VictimIndexMode::Always);
        let dirty = BlockState::VALID.union(BlockState::DIRTY);
        for index in 0..assoc {
            // Runs of dirty blocks with clean and free ones between them, as reloaded.
            indexed.block_mut(index).state = match index % 7 {
                0 => BlockState::VALID,
                1 => BlockState::INVALID,
                _ => dirty,
            };
            indexed.block_mut(index).dbn = 8 * u64::from(index);
        }
        indexed.lru_init_lists(25);
        indexed.link_by_state();
        indexed.check_links();
        let mut linear = indexed.clone();
        linear.set_victim_index_mode(VictimIndexMode::Never);
        indexed.set_mut(0).fifo_next = 3;
        linear.set_mut(0).fifo_next = 3;
        assert_eq!(indexed.fifo_get_old_block(0), Some(7));
        assert_eq!(linear.fifo_get_old_block(0), Some(7));
        let reclaimable = (0..assoc).filter(|index| index % 7 == 0).count();
        for _ in 0..reclaimable {
            let (victim, effect) = indexed.lru_get_old_block(0);
            assert_eq!((victim, effect), linear.lru_get_old_block(0));
            assert!(victim.is_some());
            // Taken: no longer reclaimable, so the next choice moves on.
            indexed.apply(victim.unwrap(), Transition::ReadHit);
            linear.apply(victim.unwrap(), Transition::ReadHit);
        }
        assert_eq!(indexed.lru_get_old_block(0).0, None);
        assert_eq!(linear.lru_get_old_block(0).0, None);
        indexed.check_links();
    }

    #[test]
    fn lru_strict_is_a_single_recency_list() {
        let mut blocks = lru_blocks(4, 0);
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![3, 2, 1, 0]);
        blocks.lru_strict_accessed(3);
        blocks.lru_strict_accessed(2);
        assert_eq!(blocks.lru_strict_get_old_block(0), Some(1));
        assert_eq!(blocks.lru_order(0, LruList::Warm), vec![0, 3, 2, 1]);
        blocks.apply(0, Transition::ReadHit);
        assert_eq!(blocks.lru_strict_get_old_block(0), Some(3));
        assert_eq!(
            blocks.state(0),
            BlockState::VALID.union(BlockState::CACHE_READ_IN_PROGRESS)
        );
    }
}
