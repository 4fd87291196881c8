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
