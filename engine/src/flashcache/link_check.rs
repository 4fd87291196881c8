//! The local checks of the intrusive lists, for the incremental invariant check (see
//! [`super::invariants`]): one block's links against its neighbours and its list heads,
//! one set's list ends, one bucket's head, and whether a block's list still ends (reaches a
//! head or tail instead of going round a cycle).
//!
//! Owns: what each of a set's lists states about one block, checked in O(1) (the
//! reachability walk in O(distance to the nearer end)). A list whose every block passes
//! the local checks is a path from its head plus, possibly, cycles that no head reaches; a
//! cycle needs a link that changed, so walking from every changed block rules it out.
//! Does not own which blocks to check (the caller's changed blocks, their old neighbours
//! and the old heads), nor the full check's list walks ([`Blocks::check_set_links`]).

use super::set::{Blocks, CacheBlock, LruList, NIL};
use super::state::BlockState;

/// A list of a set threaded through the hash links: a hash bucket's chain of VALID
/// blocks, or the free list of INVALID ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashLinked {
    Bucket(u32),
    Free,
}

impl Blocks {
    /// Which hash-linked list `block` must be on by its state, if any.
    #[inline]
    fn hash_linked_list(&self, block: &CacheBlock) -> Option<HashLinked> {
        if block.state.is_valid() {
            Some(HashLinked::Bucket(self.geometry.bucket_of(block.dbn)))
        } else if block.state == BlockState::INVALID {
            Some(HashLinked::Free)
        } else {
            None
        }
    }

    /// The set-relative head of `list` in `set`.
    #[inline]
    fn hash_linked_head(&self, set: u32, list: HashLinked) -> u32 {
        match list {
            HashLinked::Bucket(bucket) => self.bucket_head(set, bucket),
            HashLinked::Free => self.set(set).invalid_head,
        }
    }

    /// Whether `set`'s LRU lists hold its blocks (they hold all or none of them).
    #[inline]
    pub fn lru_lists_populated(&self, set: u32) -> bool {
        let set = self.set(set);
        set.hot.count + set.warm.count > 0
    }

    /// Block `index` is linked as its state and list say, locally: each neighbour links
    /// back and is on the same list, and a block without predecessor (successor) is its
    /// list's head (tail); a block on no hash-linked list has no hash links and heads
    /// none (O(1)).
    pub fn check_block_links(&self, index: u32) {
        let geometry = self.geometry;
        let set = geometry.set_of_index(index);
        let start = geometry.set_start(set);
        let relative = index - start;
        let block = *self.block(index);
        let state = block.state;
        match self.hash_linked_list(&block) {
            None => {
                assert!(
                    block.hash_prev == NIL && block.hash_next == NIL,
                    "block {index} in state {state:?} is hash-linked"
                );
                assert!(
                    self.set(set).invalid_head != relative
                        && self.bucket_head(set, geometry.bucket_of(block.dbn)) != relative,
                    "block {index} in state {state:?} heads a hash or free list"
                );
            }
            Some(list) => {
                let on_list = |neighbour: u32| {
                    self.hash_linked_list(self.block(start + neighbour)) == Some(list)
                };
                if block.hash_prev == NIL {
                    assert_eq!(
                        self.hash_linked_head(set, list),
                        relative,
                        "block {index} ({list:?}) has no predecessor and is not the head"
                    );
                } else {
                    let prev = block.hash_prev;
                    self.check_neighbour(index, "hash", "predecessor", prev, &list, |p| {
                        p.hash_next == relative && on_list(prev)
                    });
                }
                if block.hash_next != NIL {
                    let next = block.hash_next;
                    self.check_neighbour(index, "hash", "successor", next, &list, |n| {
                        n.hash_prev == relative && on_list(next)
                    });
                }
            }
        }
        if !self.lru_lists_populated(set) {
            return;
        }
        let list = block.lru_list;
        let ends = self.list_ends(set, list);
        if block.lru_prev == NIL {
            assert_eq!(
                ends.head, relative,
                "block {index} ({list:?} list) has no predecessor and is not the head"
            );
        } else {
            self.check_neighbour(index, "LRU", "predecessor", block.lru_prev, &list, |p| {
                p.lru_next == relative && p.lru_list == list
            });
        }
        if block.lru_next == NIL {
            assert_eq!(
                ends.tail, relative,
                "block {index} ({list:?} list) has no successor and is not the tail"
            );
        } else {
            self.check_neighbour(index, "LRU", "successor", block.lru_next, &list, |n| {
                n.lru_prev == relative && n.lru_list == list
            });
        }
    }

    /// Block `index`'s `side` on its `kind` list, `neighbour` (set-relative, not NIL), lies
    /// in the set, is not the block itself, and links back (`links_back`: its opposite link
    /// names the block and it is on the same list).
    fn check_neighbour(
        &self,
        index: u32,
        kind: &str,
        side: &str,
        neighbour: u32,
        list: &dyn std::fmt::Debug,
        links_back: impl FnOnce(&CacheBlock) -> bool,
    ) {
        let geometry = self.geometry;
        let set = geometry.set_of_index(index);
        let start = geometry.set_start(set);
        assert!(
            neighbour < geometry.assoc && start + neighbour != index,
            "block {index}: {kind} {side} {neighbour} out of its set"
        );
        assert!(
            links_back(self.block(start + neighbour)),
            "block {index} ({list:?}): {side} {neighbour} does not link back"
        );
    }

    /// The lists block `index` is on end both ways, at their head going back (the head
    /// its list names) and at their tail going on: it is no member of a cycle that no head
    /// reaches (O(distance to the nearer end), at most O(assoc)).
    pub fn check_block_reachable(&self, index: u32) {
        let geometry = self.geometry;
        let set = geometry.set_of_index(index);
        let start = geometry.set_start(set);
        let relative = index - start;
        let block = self.block(index);
        if let Some(list) = self.hash_linked_list(block) {
            let end = self.walk_to_an_end(start, relative, |b| (b.hash_prev, b.hash_next));
            if let ListEnd::Head(head) = end {
                assert_eq!(
                    self.hash_linked_head(set, list),
                    head,
                    "block {index} ({list:?}) is reached from block {head}, not the head"
                );
            }
        }
        if self.lru_lists_populated(set) {
            let list = block.lru_list;
            let ends = self.list_ends(set, list);
            match self.walk_to_an_end(start, relative, |b| (b.lru_prev, b.lru_next)) {
                ListEnd::Head(head) => assert_eq!(
                    ends.head, head,
                    "block {index} ({list:?} list) is reached from block {head}, not the head"
                ),
                ListEnd::Tail(tail) => assert_eq!(
                    ends.tail, tail,
                    "block {index} ({list:?} list) leads to block {tail}, not the tail"
                ),
            }
        }
    }

    /// Walk from set-relative `relative` back and on by `links` (prev, next) one step each
    /// in turn, to the first end found. Panics on a cycle or a walk longer than the set.
    fn walk_to_an_end(
        &self,
        start: u32,
        relative: u32,
        links: impl Fn(&CacheBlock) -> (u32, u32),
    ) -> ListEnd {
        let assoc = self.geometry.assoc;
        let (mut back, mut on) = (relative, relative);
        for _ in 0..assoc {
            let prev = links(self.block(start + back)).0;
            if prev == NIL {
                return ListEnd::Head(back);
            }
            let next = links(self.block(start + on)).1;
            if next == NIL {
                return ListEnd::Tail(on);
            }
            assert!(
                prev < assoc && next < assoc && prev != relative && next != relative,
                "block {}: its list goes round a cycle or out of the set",
                start + relative
            );
            (back, on) = (prev, next);
        }
        panic!(
            "block {}: its list outgrows the set (a cycle)",
            start + relative
        );
    }

    /// The ends of `set`'s free list and LRU lists are such ends: a head has no
    /// predecessor, a tail no successor, and each is on the list it ends (O(1)).
    pub fn check_set_ends(&self, set: u32) {
        let geometry = self.geometry;
        let start = geometry.set_start(set);
        let record = self.set(set);
        let head = record.invalid_head;
        if head != NIL {
            assert!(head < geometry.assoc, "free list head {head} of set {set}");
            let block = self.block(start + head);
            assert!(
                block.state == BlockState::INVALID && block.hash_prev == NIL,
                "free list head {} of set {set}: {:?}, predecessor {}",
                start + head,
                block.state,
                block.hash_prev
            );
        }
        for list in [LruList::Hot, LruList::Warm] {
            let ends = self.list_ends(set, list);
            assert_eq!(
                ends.head == NIL,
                ends.count == 0,
                "{list:?} list of set {set}: head {} with {} blocks",
                ends.head,
                ends.count
            );
            assert_eq!(
                ends.tail == NIL,
                ends.count == 0,
                "{list:?} list of set {set}: tail {} with {} blocks",
                ends.tail,
                ends.count
            );
            if ends.count == 0 {
                continue;
            }
            assert!(
                ends.head < geometry.assoc && ends.tail < geometry.assoc,
                "{list:?} list of set {set}: ends out of the set"
            );
            let head = self.block(start + ends.head);
            let tail = self.block(start + ends.tail);
            assert!(
                head.lru_list == list && head.lru_prev == NIL,
                "{list:?} list of set {set}: head {} is not one",
                start + ends.head
            );
            assert!(
                tail.lru_list == list && tail.lru_next == NIL,
                "{list:?} list of set {set}: tail {} is not one",
                start + ends.tail
            );
        }
    }

    /// Hash bucket `bucket` of `set` is empty or headed by a VALID block of that bucket
    /// without predecessor (O(1)).
    pub fn check_bucket_head(&self, set: u32, bucket: u32) {
        let head = self.bucket_head(set, bucket);
        if head == NIL {
            return;
        }
        assert!(
            head < self.geometry.assoc,
            "bucket {bucket} of set {set}: head {head}"
        );
        let index = self.geometry.set_start(set) + head;
        let block = self.block(index);
        assert!(
            block.state.is_valid()
                && self.geometry.bucket_of(block.dbn) == bucket
                && block.hash_prev == NIL,
            "bucket {bucket} of set {set}: head {index} ({:?}, dbn {}, predecessor {}) is not one",
            block.state,
            block.dbn,
            block.hash_prev
        );
    }
}

/// Where a walk along a list stopped (set-relative).
enum ListEnd {
    Head(u32),
    Tail(u32),
}

#[cfg(test)]
mod tests {
    //! Each local check on a consistent set, where it must pass, and on one corruption at a
    //! time of what it states, checking only the block, set or bucket it names (a whole
    //! cache check would also see most of them through a neighbour).

    use super::super::geometry::{Geometry, GeometryParts};
    use super::super::set::{Blocks, LruList, NIL};
    use super::super::state::BlockState;
    use crate::flashcache::tests::panic_of;

    const ASSOC: u32 = 8;

    /// Three sets of 8 blocks. Set 0: all INVALID, its LRU lists not populated. Set 1:
    /// blocks 8-10 VALID in one hash bucket, 11 VALID alone in another, 12 being read into
    /// (on no hash-linked list), 13-15 INVALID; 10-8 on the hot list, 15-11 on the warm one.
    /// Set 2: all INVALID, all on the warm list (the hot one empty).
    fn blocks() -> Blocks {
        let geometry = Geometry::new(GeometryParts {
            block_size_sectors: 8,
            assoc: ASSOC,
            size_blocks: 3 * ASSOC,
            disk_assoc_sectors: 0,
            on_ssd_version: 4,
            md_block_size_sectors: 8,
            md_blocks: 4,
            fully_associative: false,
        });
        let mut blocks = Blocks::new(geometry, 0);
        let bucket = geometry.bucket_of(1);
        let mut same_bucket = (2u64..).filter(|&dbn| geometry.bucket_of(dbn) == bucket);
        let chained = [1, same_bucket.next().unwrap(), same_bucket.next().unwrap()];
        let alone = (2u64..)
            .find(|&dbn| geometry.bucket_of(dbn) != bucket)
            .unwrap();
        for (index, dbn) in (8..11).zip(chained).chain([(11, alone)]) {
            let block = blocks.block_mut(index);
            block.state = BlockState::VALID;
            block.dbn = dbn;
        }
        blocks.block_mut(12).state = BlockState::DISK_READ_IN_PROGRESS;
        blocks.link_by_state();
        // Added from the set's end: the lists' heads are not at the set's start, where a
        // head read from the wrong block could pass for one.
        for index in (8..16).rev() {
            let list = if index < 11 {
                LruList::Hot
            } else {
                LruList::Warm
            };
            blocks.lru_add_mru(index, list);
        }
        for index in 16..24 {
            blocks.lru_add_mru(index, LruList::Warm);
        }
        check_everything(&blocks);
        blocks
    }

    fn check_everything(blocks: &Blocks) {
        for index in 0..3 * ASSOC {
            blocks.check_block_links(index);
            blocks.check_block_reachable(index);
        }
        for set in 0..3 {
            blocks.check_set_ends(set);
            for bucket in 0..blocks.geometry.hash_buckets_per_set {
                blocks.check_bucket_head(set, bucket);
            }
        }
    }

    /// Set 1's hash chain of blocks 8-10, head first (absolute indices).
    fn chain(blocks: &Blocks) -> [u32; 3] {
        let head = blocks.bucket_head(1, blocks.geometry.bucket_of(1));
        let middle = blocks.block(8 + head).hash_next;
        let tail = blocks.block(8 + middle).hash_next;
        assert_eq!(blocks.block(8 + tail).hash_next, NIL);
        [8 + head, 8 + middle, 8 + tail]
    }

    #[test]
    fn a_consistent_cache_passes_every_local_check() {
        let blocks = blocks();
        assert!(!blocks.lru_lists_populated(0));
        assert!(blocks.lru_lists_populated(1));
        assert!(blocks.lru_lists_populated(2));
        assert_eq!(blocks.lru_order(1, LruList::Hot), vec![10, 9, 8]);
        assert_eq!(blocks.lru_order(2, LruList::Hot).len(), 0);
    }

    #[test]
    fn a_hash_predecessor_that_does_not_link_back_is_named() {
        let mut blocks = blocks();
        let [head, _, tail] = chain(&blocks);
        // The tail names the head, on its list, whose successor is the middle block.
        blocks.block_mut(tail).hash_prev = head - 8;
        let message = panic_of(|| blocks.check_block_links(tail));
        assert!(
            message.contains(&format!("predecessor {} does not link back", head - 8)),
            "{message}"
        );
    }

    #[test]
    fn a_hash_successor_that_does_not_link_back_is_named() {
        let mut blocks = blocks();
        let [head, _, tail] = chain(&blocks);
        blocks.block_mut(head).hash_next = tail - 8;
        let message = panic_of(|| blocks.check_block_links(head));
        assert!(
            message.contains(&format!("successor {} does not link back", tail - 8)),
            "{message}"
        );
    }

    #[test]
    fn an_lru_predecessor_that_does_not_link_back_is_named() {
        let mut blocks = blocks();
        let hot = blocks.lru_order(1, LruList::Hot);
        // The last names the first, on its list, whose successor is the middle block.
        blocks.block_mut(hot[2]).lru_prev = hot[0] - 8;
        let message = panic_of(|| blocks.check_block_links(hot[2]));
        assert!(
            message.contains(&format!("predecessor {} does not link back", hot[0] - 8)),
            "{message}"
        );
    }

    #[test]
    fn an_lru_successor_that_does_not_link_back_is_named_in_a_set_without_hot_blocks() {
        let mut blocks = blocks();
        let warm = blocks.lru_order(2, LruList::Warm);
        blocks.block_mut(warm[0]).lru_next = warm[2] - 16;
        let message = panic_of(|| blocks.check_block_links(warm[0]));
        assert!(
            message.contains(&format!("successor {} does not link back", warm[2] - 16)),
            "{message}"
        );
    }

    #[test]
    fn an_lru_cycle_no_head_reaches_is_named() {
        let mut blocks = blocks();
        let warm = blocks.lru_order(1, LruList::Warm);
        let relative = |index: u32| index - 8;
        let (a, b, c, d) = (warm[0], warm[1], warm[2], warm[3]);
        // a -> d, and b <-> c on their own: every link has its back link.
        blocks.block_mut(a).lru_next = relative(d);
        blocks.block_mut(d).lru_prev = relative(a);
        blocks.block_mut(b).lru_prev = relative(c);
        blocks.block_mut(c).lru_next = relative(b);
        blocks.check_block_links(b);
        let message = panic_of(|| blocks.check_block_reachable(b));
        assert!(message.contains("cycle"), "{message}");
    }

    #[test]
    fn a_free_list_head_that_is_not_invalid_is_named() {
        let mut blocks = blocks();
        blocks.set_mut(1).invalid_head = 0;
        let message = panic_of(|| blocks.check_set_ends(1));
        assert!(
            message.starts_with("free list head 8 of set 1"),
            "{message}"
        );
    }

    #[test]
    fn an_lru_head_with_a_predecessor_is_named() {
        let mut blocks = blocks();
        let hot = blocks.lru_order(1, LruList::Hot);
        blocks.set_mut(1).hot.head = hot[1] - 8;
        let message = panic_of(|| blocks.check_set_ends(1));
        assert_eq!(
            message,
            format!("Hot list of set 1: head {} is not one", hot[1])
        );
    }

    #[test]
    fn a_bucket_head_with_a_predecessor_is_named() {
        let mut blocks = blocks();
        let [head, middle, _] = chain(&blocks);
        blocks.block_mut(head).hash_prev = middle - 8;
        let bucket = blocks.geometry.bucket_of(1);
        let message = panic_of(|| blocks.check_bucket_head(1, bucket));
        assert!(
            message.starts_with(&format!("bucket {bucket} of set 1: head {head}")),
            "{message}"
        );
    }
}
