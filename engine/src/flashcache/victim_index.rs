//! An index of each set's reclaimable (exactly VALID) blocks, so that choosing a victim in
//! a large set (`--assoc full`, or a writeback set full of dirty blocks) costs O(log n)
//! instead of flashcache's linear walk, with the same victim.
//!
//! Owns: a leveled bitmap of reclaimable blocks by index (the FIFO hand's "first
//! reclaimable at or after the hand") and, per set, a binary min-heap of the reclaimable
//! blocks keyed by their position in the LRU lists (warm list before hot list, LRU end
//! first: the first block flashcache's walk would accept). Does not own when it is kept up
//! to date: [`super::set::Blocks`] calls it wherever a block's state or list position
//! changes, and rebuilds it whenever states were written behind its back (a load).
//!
//! The index exists only from the first long walk on (see
//! [`super::set::VictimIndexMode`]), and its LRU half only from the first long LRU walk
//! (built then from the lists in O(n)): under FIFO a state change costs a bit flip and no
//! heap work, and a clean, hit-heavy cache whose walks stay short pays nothing.
//!
//! Positions: blocks enter lists only at their ends, so a per-list counter that grows at
//! the MRU end and shrinks at the LRU end gives every listed block a key that increases
//! from the LRU end to the MRU end. Keys start mid-range; 2^62 list insertions per set
//! would be needed to exhaust either side.

use super::set::{LruList, NIL};
use crate::changed_ids::Marked;

/// Not on any list.
const NO_KEY: u64 = u64::MAX;
/// The hot list sorts after the whole warm list.
const HOT_LIST_BIT: u64 = 1 << 63;
/// First key handed out at either end of an empty list.
const KEY_MIDDLE: u64 = 1 << 62;

/// Bits over `0..len` with one summary level per 64x, so "first set bit at or after `from`"
/// takes one word per level.
#[derive(Debug, Clone)]
pub(crate) struct LeveledBitmap {
    /// `levels[0]` holds one bit per position; bit `w` of `levels[k + 1]` says whether word
    /// `w` of `levels[k]` is non-zero. The last level has a single word.
    levels: Vec<Vec<u64>>,
}

impl LeveledBitmap {
    pub fn new(len: u32) -> LeveledBitmap {
        let mut levels = Vec::new();
        let mut words = (len as usize).div_ceil(64).max(1);
        loop {
            levels.push(vec![0u64; words]);
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        LeveledBitmap { levels }
    }

    #[inline]
    pub fn contains(&self, position: u32) -> bool {
        let position = position as usize;
        self.levels[0][position / 64] & (1 << (position % 64)) != 0
    }

    pub fn insert(&mut self, position: u32) {
        let mut position = position as usize;
        for level in self.levels.iter_mut() {
            let word = &mut level[position / 64];
            let was_empty = *word == 0;
            *word |= 1 << (position % 64);
            if !was_empty {
                return;
            }
            position /= 64;
        }
    }

    pub fn remove(&mut self, position: u32) {
        let mut position = position as usize;
        for level in self.levels.iter_mut() {
            let word = &mut level[position / 64];
            *word &= !(1u64 << (position % 64));
            if *word != 0 {
                return;
            }
            position /= 64;
        }
    }

    /// The first set position at or after `from`.
    pub fn next_at_or_after(&self, from: u32) -> Option<u32> {
        self.next_in_level(0, from as usize)
            .map(|position| position as u32)
    }

    fn next_in_level(&self, level: usize, from: usize) -> Option<usize> {
        let words = self.levels.get(level)?;
        let word_index = from / 64;
        let word = *words.get(word_index)?;
        let bits = word & (u64::MAX << (from % 64));
        if bits != 0 {
            return Some(word_index * 64 + bits.trailing_zeros() as usize);
        }
        // The next non-zero word of this level, found in the level above.
        let next_word = self.next_in_level(level + 1, word_index + 1)?;
        let bits = words[next_word];
        debug_assert!(bits != 0, "summary bit set over an empty word");
        Some(next_word * 64 + bits.trailing_zeros() as usize)
    }

    /// Every summary bit agrees with the level below (tests; O(len / 64)).
    #[cfg(test)]
    pub fn check_levels(&self) {
        self.check_levels_over(0, self.levels[0].len() * 64);
    }

    /// The summary bits above the words holding positions `from..to` agree with those
    /// words, level by level (O((to - from) / 64) plus one word per level).
    pub fn check_levels_over(&self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let (mut first, mut last) = (from / 64, (to - 1) / 64);
        for (level, pair) in self.levels.windows(2).enumerate() {
            let (below, above) = (&pair[0], &pair[1]);
            for (word_index, &word) in below.iter().enumerate().take(last + 1).skip(first) {
                let summary = above[word_index / 64] & (1 << (word_index % 64)) != 0;
                assert_eq!(
                    summary,
                    word != 0,
                    "victim index bitmap: level {} bit {word_index} disagrees with its word",
                    level + 1
                );
            }
            first /= 64;
            last /= 64;
        }
    }
}

/// Per-set list-end counters: the next key at each end of each list.
#[derive(Debug, Clone, Copy)]
struct KeyEnds {
    warm_lru: u64,
    warm_mru: u64,
    hot_lru: u64,
    hot_mru: u64,
}

impl KeyEnds {
    const FRESH: KeyEnds = KeyEnds {
        warm_lru: KEY_MIDDLE - 1,
        warm_mru: KEY_MIDDLE,
        hot_lru: KEY_MIDDLE - 1,
        hot_mru: KEY_MIDDLE,
    };
}

/// The index of one cache's reclaimable blocks (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct VictimIndex {
    assoc: u32,
    /// Keys and heaps are kept (see [`VictimIndex::start_lru_order`]); until then their
    /// per-block vectors are empty (16 bytes a block not spent under FIFO).
    lru_ordered: bool,
    /// Reclaimable blocks by absolute index (the FIFO view).
    pub reclaimable: LeveledBitmap,
    /// Each block's list position key, `NO_KEY` while it is on no list.
    order_key: Vec<u64>,
    key_ends: Vec<KeyEnds>,
    /// Set `s`'s heap occupies `heap[s * assoc..][..heap_len[s]]` (absolute indices).
    heap: Vec<u32>,
    heap_len: Vec<u32>,
    /// Each block's set-relative heap slot, `NIL` if it is not in its set's heap.
    heap_slot: Vec<u32>,
    /// Blocks put in a heap slot since the last take: a sift moves blocks that did not
    /// change, and the incremental check looks at their slots.
    placed: Marked<()>,
}

/// Where a block sits in its set's LRU lists, for [`VictimIndex::check_block`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListedAt {
    pub list: LruList,
    /// The absolute indices of its neighbours on the list.
    pub prev: Option<u32>,
    pub next: Option<u32>,
}

impl VictimIndex {
    /// An empty index: nothing reclaimable, nothing listed.
    pub fn new(num_sets: u32, assoc: u32) -> VictimIndex {
        let size = num_sets as usize * assoc as usize;
        VictimIndex {
            assoc,
            lru_ordered: false,
            reclaimable: LeveledBitmap::new(size as u32),
            order_key: Vec::new(),
            key_ends: vec![KeyEnds::FRESH; num_sets as usize],
            heap: Vec::new(),
            heap_len: vec![0; num_sets as usize],
            heap_slot: Vec::new(),
            placed: Marked::until_taken(size as u32),
        }
    }

    #[inline]
    fn is_listed(&self, index: u32) -> bool {
        self.order_key[index as usize] != NO_KEY
    }

    /// `index` became reclaimable (`true`) or stopped being so.
    pub fn reclaimable_changed(&mut self, index: u32, reclaimable: bool) {
        if reclaimable {
            self.reclaimable.insert(index);
            if self.lru_ordered && self.is_listed(index) {
                self.heap_push(index);
            }
        } else {
            self.reclaimable.remove(index);
            if self.lru_ordered && self.heap_slot[index as usize] != NIL {
                self.heap_remove(index);
            }
        }
    }

    /// Whether the LRU half is kept.
    #[inline]
    pub fn lru_ordered(&self) -> bool {
        self.lru_ordered
    }

    /// Start keeping the LRU half: the caller then passes every listed block to
    /// [`VictimIndex::listed`], each list from its LRU end, as if appending it.
    pub fn start_lru_order(&mut self) {
        assert!(!self.lru_ordered, "LRU order started twice");
        let size = self.heap_len.len() * self.assoc as usize;
        self.order_key = vec![NO_KEY; size];
        self.heap = vec![NIL; size];
        self.heap_slot = vec![NIL; size];
        self.lru_ordered = true;
    }

    /// `index` was put at one end of `list` in `set`.
    pub fn listed(&mut self, index: u32, set: u32, list: LruList, at_mru_end: bool) {
        if !self.lru_ordered {
            return;
        }
        debug_assert!(!self.is_listed(index), "block {index} listed twice");
        let ends = &mut self.key_ends[set as usize];
        let counter = match (list, at_mru_end) {
            (LruList::Warm, false) => &mut ends.warm_lru,
            (LruList::Warm, true) => &mut ends.warm_mru,
            (LruList::Hot, false) => &mut ends.hot_lru,
            (LruList::Hot, true) => &mut ends.hot_mru,
        };
        let sequence = *counter;
        assert!(
            sequence > 0 && sequence < HOT_LIST_BIT - 1,
            "list position keys of set {set} exhausted"
        );
        *counter = if at_mru_end {
            sequence + 1
        } else {
            sequence - 1
        };
        let list_bit = if list == LruList::Hot {
            HOT_LIST_BIT
        } else {
            0
        };
        self.order_key[index as usize] = list_bit | sequence;
        if self.reclaimable.contains(index) {
            self.heap_push(index);
        }
    }

    /// `index` was taken off its list.
    pub fn unlisted(&mut self, index: u32) {
        if !self.lru_ordered {
            return;
        }
        if self.heap_slot[index as usize] != NIL {
            self.heap_remove(index);
        }
        self.order_key[index as usize] = NO_KEY;
    }

    /// A list of `set` became empty: its keys may restart mid-range.
    pub fn list_emptied(&mut self, set: u32, list: LruList) {
        let ends = &mut self.key_ends[set as usize];
        match list {
            LruList::Warm => {
                ends.warm_lru = KeyEnds::FRESH.warm_lru;
                ends.warm_mru = KeyEnds::FRESH.warm_mru;
            }
            LruList::Hot => {
                ends.hot_lru = KeyEnds::FRESH.hot_lru;
                ends.hot_mru = KeyEnds::FRESH.hot_mru;
            }
        }
    }

    /// The reclaimable block flashcache's LRU walk accepts first in `set`: the warm list's
    /// from its LRU end, else the hot list's.
    #[inline]
    pub fn first_in_lru_order(&self, set: u32) -> Option<u32> {
        debug_assert!(
            self.lru_ordered,
            "an LRU choice before the LRU order was kept"
        );
        (self.heap_len[set as usize] > 0).then(|| self.heap[set as usize * self.assoc as usize])
    }

    /// Which list `index` is on by its key (it must be listed).
    pub fn list_of(&self, index: u32) -> LruList {
        let key = self.order_key[index as usize];
        debug_assert!(key != NO_KEY);
        if key & HOT_LIST_BIT != 0 {
            LruList::Hot
        } else {
            LruList::Warm
        }
    }

    #[inline]
    fn key_at(&self, set_base: usize, slot: u32) -> u64 {
        self.order_key[self.heap[set_base + slot as usize] as usize]
    }

    #[inline]
    fn place(&mut self, set_base: usize, slot: u32, index: u32) {
        self.placed.mark(index, || ());
        self.heap[set_base + slot as usize] = index;
        self.heap_slot[index as usize] = slot;
    }

    fn set_base_of(&self, index: u32) -> (usize, usize) {
        let set = index / self.assoc;
        (set as usize, set as usize * self.assoc as usize)
    }

    fn heap_push(&mut self, index: u32) {
        debug_assert_eq!(self.heap_slot[index as usize], NIL);
        let (set, base) = self.set_base_of(index);
        let slot = self.heap_len[set];
        assert!(slot < self.assoc, "heap of set {set} outgrows the set");
        self.heap_len[set] += 1;
        self.place(base, slot, index);
        self.sift_up(base, slot);
    }

    fn heap_remove(&mut self, index: u32) {
        let (set, base) = self.set_base_of(index);
        let slot = self.heap_slot[index as usize];
        let last = self.heap_len[set] - 1;
        self.heap_len[set] = last;
        self.heap_slot[index as usize] = NIL;
        if slot == last {
            self.heap[base + last as usize] = NIL;
            return;
        }
        let moved = self.heap[base + last as usize];
        self.heap[base + last as usize] = NIL;
        self.place(base, slot, moved);
        self.sift_down(base, slot, last);
        self.sift_up(base, self.heap_slot[moved as usize]);
    }

    fn sift_up(&mut self, base: usize, mut slot: u32) {
        let index = self.heap[base + slot as usize];
        let key = self.order_key[index as usize];
        while slot > 0 {
            let parent = (slot - 1) / 2;
            if self.key_at(base, parent) <= key {
                break;
            }
            let parent_index = self.heap[base + parent as usize];
            self.place(base, slot, parent_index);
            slot = parent;
        }
        self.place(base, slot, index);
    }

    fn sift_down(&mut self, base: usize, mut slot: u32, len: u32) {
        let index = self.heap[base + slot as usize];
        let key = self.order_key[index as usize];
        loop {
            let left = 2 * slot + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.key_at(base, right) < self.key_at(base, left) {
                right
            } else {
                left
            };
            if self.key_at(base, child) >= key {
                break;
            }
            let child_index = self.heap[base + child as usize];
            self.place(base, slot, child_index);
            slot = child;
        }
        self.place(base, slot, index);
    }

    /// The blocks put in a heap slot since the last call, moved into `into`.
    pub fn take_placed(&mut self, into: &mut Vec<(u32, ())>) {
        self.placed.take(into);
    }

    /// What the index says of block `index` agrees with its state (`reclaimable`) and its
    /// place in the LRU lists (`listed`, `None` while the set's lists are not populated),
    /// locally: its bitmap bit and the summary bits above it, its key against its list
    /// neighbours' keys, and its heap slot against its parent and children (O(1) plus a
    /// word per bitmap level).
    pub fn check_block(&self, index: u32, reclaimable: bool, listed: Option<ListedAt>) {
        assert_eq!(
            self.reclaimable.contains(index),
            reclaimable,
            "victim index: block {index} reclaimable bit"
        );
        self.reclaimable
            .check_levels_over(index as usize, index as usize + 1);
        if !self.lru_ordered {
            assert!(
                self.order_key.is_empty() && self.heap.is_empty() && self.heap_slot.is_empty(),
                "victim index: LRU keys or heaps kept before an LRU choice"
            );
            return;
        }
        let key = self.order_key[index as usize];
        let in_heap = self.heap_slot[index as usize] != NIL;
        let Some(at) = listed else {
            assert!(
                key == NO_KEY && !in_heap,
                "victim index: unlisted block {index} has a key or a heap slot"
            );
            return;
        };
        assert_ne!(key, NO_KEY, "victim index: listed block {index} has no key");
        assert_eq!(
            self.list_of(index),
            at.list,
            "victim index: block {index} list"
        );
        if let Some(prev) = at.prev {
            assert!(
                self.order_key[prev as usize] < key,
                "victim index: keys not increasing from block {prev} to {index}"
            );
        }
        if let Some(next) = at.next {
            assert!(
                key < self.order_key[next as usize],
                "victim index: keys not increasing from block {index} to {next}"
            );
        }
        assert_eq!(in_heap, reclaimable, "victim index: block {index} in heap");
        if in_heap {
            self.check_heap_slot(index);
        }
    }

    /// Block `index`, if in its set's heap, sits in its slot in heap order with its
    /// parent and children (O(1)).
    pub fn check_heap_slot(&self, index: u32) {
        let slot = self.heap_slot[index as usize];
        if slot == NIL {
            return;
        }
        let (set, base) = self.set_base_of(index);
        let len = self.heap_len[set];
        assert!(
            slot < len && self.heap[base + slot as usize] == index,
            "heap slot of {index}"
        );
        let key = self.order_key[index as usize];
        if slot > 0 {
            assert!(
                self.key_at(base, (slot - 1) / 2) <= key,
                "victim index: heap order of set {set} at slot {slot}"
            );
        }
        for child in [2 * slot + 1, 2 * slot + 2] {
            if child < len {
                assert!(
                    key <= self.key_at(base, child),
                    "victim index: heap order of set {set} at slot {child}"
                );
            }
        }
    }

    /// The heap of `set` holds `reclaimable_listed` blocks: its listed reclaimable ones
    /// (O(1)).
    pub fn check_heap_len(&self, set: u32, reclaimable_listed: u32) {
        let len = if self.lru_ordered {
            reclaimable_listed
        } else {
            0
        };
        assert_eq!(
            self.heap_len[set as usize], len,
            "victim index: heap length of set {set}"
        );
    }

    /// The index agrees, for the blocks of one set, with the states and lists it mirrors,
    /// and the bitmap's summary bits above them agree (O(assoc)). `reclaimable(i)` is
    /// block `i`'s state; `list_walk(visit)` visits each list of the set from its LRU end,
    /// warm list first, as (list, block).
    pub fn check_set(
        &self,
        set: u32,
        reclaimable: impl Fn(u32) -> bool,
        list_walk: impl FnOnce(&mut dyn FnMut(LruList, u32)),
    ) {
        assert!(
            (set as usize) < self.heap_len.len(),
            "victim index: no set {set}"
        );
        let start = set * self.assoc;
        let end = start + self.assoc;
        self.reclaimable
            .check_levels_over(start as usize, end as usize);
        for index in start..end {
            assert_eq!(
                self.reclaimable.contains(index),
                reclaimable(index),
                "victim index: block {index} reclaimable bit"
            );
        }
        if !self.lru_ordered {
            assert!(
                self.order_key.is_empty()
                    && self.heap.is_empty()
                    && self.heap_slot.is_empty()
                    && self.heap_len[set as usize] == 0,
                "victim index: LRU keys or heaps kept before an LRU choice"
            );
            return;
        }
        let base = start as usize;
        let mut previous_key = None;
        let mut listed_reclaimable = 0u32;
        list_walk(&mut |list, index| {
            let key = self.order_key[index as usize];
            assert_ne!(key, NO_KEY, "victim index: listed block {index} has no key");
            assert_eq!(
                self.list_of(index),
                list,
                "victim index: block {index} list"
            );
            if let Some(previous) = previous_key {
                assert!(
                    key > previous,
                    "victim index: keys of set {set} not increasing at block {index}"
                );
            }
            previous_key = Some(key);
            let in_heap = self.heap_slot[index as usize] != NIL;
            assert_eq!(
                in_heap,
                reclaimable(index),
                "victim index: block {index} in heap"
            );
            listed_reclaimable += u32::from(in_heap);
        });
        let len = self.heap_len[set as usize];
        assert_eq!(
            len, listed_reclaimable,
            "victim index: heap length of set {set}"
        );
        for slot in 0..len {
            let index = self.heap[base + slot as usize];
            assert_eq!(self.heap_slot[index as usize], slot, "heap slot of {index}");
            if slot > 0 {
                let parent = (slot - 1) / 2;
                assert!(
                    self.key_at(base, parent) <= self.key_at(base, slot),
                    "victim index: heap order of set {set} at slot {slot}"
                );
            }
        }
    }
}

/// The checks against a corrupted index (a child module: they corrupt private fields).
#[cfg(test)]
#[path = "tests/victim_index_checks.rs"]
mod check_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn leveled_bitmap_finds_the_next_set_bit_like_a_scan() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for len in [1u32, 63, 64, 65, 4095, 4096, 4097, 300_000] {
            let mut bitmap = LeveledBitmap::new(len);
            let mut plain = vec![false; len as usize];
            for _ in 0..2000 {
                let position = (rng.next_u64() % u64::from(len)) as u32;
                if rng.next_u64() % 3 == 0 {
                    bitmap.remove(position);
                    plain[position as usize] = false;
                } else {
                    bitmap.insert(position);
                    plain[position as usize] = true;
                }
                let from = (rng.next_u64() % u64::from(len)) as u32;
                let expected = (from..len).find(|&p| plain[p as usize]);
                assert_eq!(
                    bitmap.next_at_or_after(from),
                    expected,
                    "len {len} from {from}"
                );
            }
            bitmap.check_levels();
            assert_eq!(bitmap.next_at_or_after(len), None);
        }
    }

    #[test]
    fn leveled_bitmap_of_one_word_and_of_three_levels() {
        assert_eq!(LeveledBitmap::new(64).levels.len(), 1);
        assert_eq!(LeveledBitmap::new(65).levels.len(), 2);
        let mut bitmap = LeveledBitmap::new(300_000);
        assert_eq!(bitmap.levels.len(), 4);
        bitmap.insert(299_999);
        assert_eq!(bitmap.next_at_or_after(0), Some(299_999));
        bitmap.remove(299_999);
        assert_eq!(bitmap.next_at_or_after(0), None);
        assert!(bitmap
            .levels
            .iter()
            .all(|level| level.iter().all(|&w| w == 0)));
    }
}
