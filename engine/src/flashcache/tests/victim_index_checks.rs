//! The victim index's own checks (`check_levels_over`, `check_block`, `check_heap_slot`,
//! `check_heap_len`, `check_set`) name each corruption of the index and pass a healthy one.
//! A check passes on a correct engine whatever it asserts, so no workload test can tell a
//! weakened check; these corrupt one thing at a time and ask every check that covers it.

use super::{ListedAt, VictimIndex};
use crate::flashcache::set::{LruList, NIL};
use crate::flashcache::tests::panic_of;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Two sets of 2,100 ways: 4,200 positions, a bitmap of three levels (66, 2 and 1 words).
const SETS: u32 = 2;
const ASSOC: u32 = 2100;

/// An index and the state it mirrors: each set's lists (LRU end first) and which blocks are
/// reclaimable.
struct Fixture {
    index: VictimIndex,
    lists: Vec<[Vec<u32>; 2]>,
    reclaimable: Vec<bool>,
}

fn list_slot(list: LruList) -> usize {
    match list {
        LruList::Warm => 0,
        LruList::Hot => 1,
    }
}

/// Three blocks in four listed, on either list at either end; half of all reclaimable.
fn fixture(lru_ordered: bool) -> Fixture {
    let mut index = VictimIndex::new(SETS, ASSOC);
    if lru_ordered {
        index.start_lru_order();
    }
    let mut f = Fixture {
        index,
        lists: vec![[Vec::new(), Vec::new()]; SETS as usize],
        reclaimable: vec![false; (SETS * ASSOC) as usize],
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for block in 0..SETS * ASSOC {
        let set = block / ASSOC;
        if lru_ordered && rng.next_u64() % 4 != 0 {
            let list = if rng.next_u64() % 3 == 0 {
                LruList::Hot
            } else {
                LruList::Warm
            };
            let at_mru_end = rng.next_u64() % 2 == 0;
            f.index.listed(block, set, list, at_mru_end);
            let entries = &mut f.lists[set as usize][list_slot(list)];
            if at_mru_end {
                entries.push(block);
            } else {
                entries.insert(0, block);
            }
        }
        if rng.next_u64() % 2 == 0 {
            f.index.reclaimable_changed(block, true);
            f.reclaimable[block as usize] = true;
        }
    }
    f
}

impl Fixture {
    fn listed_at(&self, block: u32) -> Option<ListedAt> {
        let set = (block / ASSOC) as usize;
        for list in [LruList::Warm, LruList::Hot] {
            let entries = &self.lists[set][list_slot(list)];
            if let Some(at) = entries.iter().position(|&b| b == block) {
                return Some(ListedAt {
                    list,
                    prev: at.checked_sub(1).map(|p| entries[p]),
                    next: entries.get(at + 1).copied(),
                });
            }
        }
        None
    }

    fn check_block(&self, block: u32) {
        let listed = if self.index.lru_ordered() {
            self.listed_at(block)
        } else {
            None
        };
        self.index
            .check_block(block, self.reclaimable[block as usize], listed);
    }

    fn check_set(&self, set: u32) {
        self.index.check_set(
            set,
            |block| self.reclaimable[block as usize],
            |visit| {
                for list in [LruList::Warm, LruList::Hot] {
                    for &block in &self.lists[set as usize][list_slot(list)] {
                        visit(list, block);
                    }
                }
            },
        );
    }

    fn reclaimable_listed(&self, set: u32) -> u32 {
        self.lists[set as usize]
            .iter()
            .flatten()
            .filter(|&&block| self.reclaimable[block as usize])
            .count() as u32
    }

    /// Every check over every block and set.
    fn check_all(&self) {
        for set in 0..SETS {
            self.check_set(set);
            self.index.check_heap_len(set, self.reclaimable_listed(set));
        }
        for block in 0..SETS * ASSOC {
            self.check_block(block);
            if self.index.lru_ordered() {
                self.index.check_heap_slot(block);
            }
        }
        self.index
            .reclaimable
            .check_levels_over(0, (SETS * ASSOC) as usize);
    }

    fn heap_slot(&self, block: u32) -> u32 {
        self.index.heap_slot[block as usize]
    }

    /// A listed reclaimable block of `set` sitting in heap slot `slot`.
    fn in_heap_slot(&self, set: u32, slot: u32) -> u32 {
        self.index.heap[(set * ASSOC + slot) as usize]
    }
}

fn silenced<T>(run: impl FnOnce() -> T) -> T {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = run();
    std::panic::set_hook(hook);
    result
}

#[test]
fn a_healthy_index_passes_every_check_lru_ordered_or_not() {
    for lru_ordered in [false, true] {
        let mut f = fixture(lru_ordered);
        f.check_all();
        // And after blocks leave the heap, lists and the bitmap.
        for block in (0..SETS * ASSOC).step_by(7) {
            if f.reclaimable[block as usize] {
                f.index.reclaimable_changed(block, false);
                f.reclaimable[block as usize] = false;
            }
        }
        for block in (0..SETS * ASSOC).step_by(5) {
            if let Some(at) = f.listed_at(block) {
                f.index.unlisted(block);
                let set = (block / ASSOC) as usize;
                f.lists[set][list_slot(at.list)].retain(|&b| b != block);
            }
        }
        f.check_all();
    }
}

/// Each summary bit of each level, flipped alone, is named by `check_levels_over` over any
/// range covering the word below it, and by the block and set checks over it; a range that
/// does not cover it passes.
#[test]
fn a_summary_bit_that_disagrees_is_named_at_every_level() {
    silenced(|| {
        let f = fixture(true);
        let len = (SETS * ASSOC) as usize;
        for block in [0u32, 63, 64, 1000, 4095, 4096, 4199] {
            let position = block as usize;
            for level in 1..f.index.reclaimable.levels.len() {
                let mut g = Fixture {
                    index: f.index.clone(),
                    lists: f.lists.clone(),
                    reclaimable: f.reclaimable.clone(),
                };
                let word_below = position >> (6 * (level - 1)) >> 6;
                g.index.reclaimable.levels[level][word_below / 64] ^= 1 << (word_below % 64);
                let message = panic_of(|| {
                    g.index
                        .reclaimable
                        .check_levels_over(position, position + 1)
                });
                assert!(
                    message.contains(&format!("level {level} bit {word_below} disagrees")),
                    "block {block} level {level}: {message}"
                );
                panic_of(|| g.index.reclaimable.check_levels_over(0, len));
                panic_of(|| {
                    g.index
                        .reclaimable
                        .check_levels_over(position / 64 * 64, position + 1)
                });
                panic_of(|| g.check_block(block));
                panic_of(|| g.check_set(block / ASSOC));
                // Empty ranges check nothing; a range ending where the positions under the
                // flipped bit start passes.
                g.index.reclaimable.check_levels_over(position, position);
                let covered_from = word_below << (6 * level);
                if covered_from > 0 {
                    g.index.reclaimable.check_levels_over(0, covered_from);
                }
            }
        }
    });
}

#[test]
fn a_block_whose_bit_disagrees_with_its_state_is_named() {
    silenced(|| {
        let mut f = fixture(true);
        let block = (0..SETS * ASSOC)
            .find(|&b| f.reclaimable[b as usize] && f.listed_at(b).is_some())
            .expect("a listed reclaimable block");
        f.reclaimable[block as usize] = false;
        let message = panic_of(|| f.check_block(block));
        assert!(
            message.contains(&format!("block {block} reclaimable bit")),
            "{message}"
        );
        let message = panic_of(|| f.check_set(block / ASSOC));
        assert!(
            message.contains(&format!("block {block} reclaimable bit")),
            "{message}"
        );
    });
}

#[test]
fn keys_or_heaps_kept_before_an_lru_choice_are_named() {
    silenced(|| {
        let mut f = fixture(false);
        f.index.order_key = vec![0; (SETS * ASSOC) as usize];
        for check in [
            Box::new(|f: &Fixture| f.check_block(5)) as Box<dyn Fn(&Fixture)>,
            Box::new(|f: &Fixture| f.check_set(1)),
        ] {
            let message = panic_of(|| check(&f));
            assert!(message.contains("kept before an LRU choice"), "{message}");
        }
        let mut f = fixture(false);
        f.index.heap = vec![NIL; 4];
        panic_of(|| f.check_block(5));
        panic_of(|| f.check_set(0));
        let mut f = fixture(false);
        f.index.heap_slot = vec![NIL; 4];
        panic_of(|| f.check_block(5));
        panic_of(|| f.check_set(0));
        let mut f = fixture(false);
        f.index.heap_len[1] = 1;
        panic_of(|| f.check_set(1));
        let message = panic_of(|| f.index.check_heap_len(1, 0));
        assert!(message.contains("heap length of set 1"), "{message}");
        // Unordered, the heap length is 0 whatever the lists hold.
        f.index.heap_len[1] = 0;
        f.index.check_heap_len(1, 7);
    });
}

#[test]
fn an_unlisted_block_with_a_key_or_a_heap_slot_is_named() {
    silenced(|| {
        let f = fixture(true);
        let unlisted = (0..SETS * ASSOC)
            .find(|&b| f.listed_at(b).is_none())
            .expect("an unlisted block");
        let mut g = fixture(true);
        g.index.order_key[unlisted as usize] = 12;
        let message = panic_of(|| g.check_block(unlisted));
        assert!(
            message.contains(&format!("unlisted block {unlisted}")),
            "{message}"
        );
        let mut g = fixture(true);
        g.index.heap_slot[unlisted as usize] = 0;
        let message = panic_of(|| g.check_block(unlisted));
        assert!(
            message.contains(&format!("unlisted block {unlisted}")),
            "{message}"
        );
    });
}

#[test]
fn a_listed_block_without_a_key_or_on_the_wrong_list_is_named() {
    silenced(|| {
        let f = fixture(true);
        let block = (0..SETS * ASSOC)
            .find(|&b| f.listed_at(b).is_some_and(|at| at.list == LruList::Warm))
            .expect("a block on a warm list");
        let mut g = fixture(true);
        g.index.order_key[block as usize] = u64::MAX;
        let message = panic_of(|| g.check_block(block));
        assert!(
            message.contains(&format!("listed block {block} has no key")),
            "{message}"
        );
        let message = panic_of(|| g.check_set(block / ASSOC));
        assert!(
            message.contains(&format!("listed block {block} has no key")),
            "{message}"
        );
        // The hot list's bit on a warm block: the key still increases within the warm list
        // only if it is the last one, so ask the list check before the order check.
        let mut g = fixture(true);
        g.index.order_key[block as usize] |= 1 << 63;
        let message = panic_of(|| g.check_block(block));
        assert!(
            message.contains(&format!("block {block} list"))
                || message.contains("keys not increasing"),
            "{message}"
        );
        let message = panic_of(|| g.check_set(block / ASSOC));
        assert!(
            message.contains(&format!("block {block} list")) || message.contains("not increasing"),
            "{message}"
        );
    });
}

/// A key equal to its neighbour's on the list breaks the strict order, on either side.
#[test]
fn keys_not_strictly_increasing_along_a_list_are_named() {
    silenced(|| {
        let f = fixture(true);
        let entries = &f.lists[0][list_slot(LruList::Warm)];
        let (prev, block, next) = (entries[10], entries[11], entries[12]);
        let mut g = fixture(true);
        g.index.order_key[block as usize] = g.index.order_key[prev as usize];
        let message = panic_of(|| g.check_block(block));
        assert!(
            message.contains(&format!("keys not increasing from block {prev} to {block}")),
            "{message}"
        );
        let message = panic_of(|| g.check_set(0));
        assert!(message.contains("not increasing"), "{message}");
        let mut g = fixture(true);
        g.index.order_key[block as usize] = g.index.order_key[next as usize];
        let message = panic_of(|| g.check_block(block));
        assert!(
            message.contains(&format!("keys not increasing from block {block} to {next}")),
            "{message}"
        );
        panic_of(|| g.check_set(0));
    });
}

#[test]
fn a_reclaimable_listed_block_out_of_its_heap_is_named() {
    silenced(|| {
        let f = fixture(true);
        let block = f.in_heap_slot(1, 0);
        let mut g = fixture(true);
        g.index.heap_slot[block as usize] = NIL;
        let message = panic_of(|| g.check_block(block));
        assert!(
            message.contains(&format!("block {block} in heap")),
            "{message}"
        );
        let message = panic_of(|| g.check_set(1));
        assert!(
            message.contains(&format!("block {block} in heap")),
            "{message}"
        );
    });
}

#[test]
fn a_heap_slot_that_does_not_hold_its_block_is_named() {
    silenced(|| {
        let f = fixture(true);
        let len = f.index.heap_len[1];
        let (first, second) = (f.in_heap_slot(1, 3), f.in_heap_slot(1, 4));
        // Past the heap's end.
        let mut g = fixture(true);
        g.index.heap_slot[first as usize] = len;
        for check in [
            Box::new(|g: &Fixture| g.index.check_heap_slot(first)) as Box<dyn Fn(&Fixture)>,
            Box::new(|g: &Fixture| g.check_block(first)),
            Box::new(|g: &Fixture| g.check_set(1)),
        ] {
            let message = panic_of(|| check(&g));
            assert!(message.contains("heap slot of"), "{message}");
        }
        // Another block's slot.
        let mut g = fixture(true);
        g.index.heap_slot[first as usize] = g.heap_slot(second);
        let message = panic_of(|| g.index.check_heap_slot(first));
        assert!(
            message.contains(&format!("heap slot of {first}")),
            "{message}"
        );
        let message = panic_of(|| g.check_set(1));
        assert!(message.contains("heap slot of"), "{message}");
        // Past the end, even where a stale entry names the block.
        let mut g = fixture(true);
        g.index.heap_slot[first as usize] = len;
        g.index.heap[(ASSOC + len) as usize] = first;
        let message = panic_of(|| g.index.check_heap_slot(first));
        assert!(
            message.contains(&format!("heap slot of {first}")),
            "{message}"
        );
        // The last slot of a heap is inside it.
        let last = f.in_heap_slot(1, len - 1);
        f.index.check_heap_slot(last);
    });
}

/// A child whose key sorts before its parent's is named from either side, for the left
/// and the right child of two parents; equal keys are no heap-order error (the list check
/// names them).
#[test]
fn a_heap_out_of_order_is_named_against_parent_and_children() {
    silenced(|| {
        let f = fixture(true);
        assert!(f.index.heap_len[0] > 20);
        for parent in [1u32, 2] {
            let parent_block = f.in_heap_slot(0, parent);
            let parent_key = f.index.order_key[parent_block as usize];
            for child in [2 * parent + 1, 2 * parent + 2] {
                let mut g = fixture(true);
                let child_block = g.in_heap_slot(0, child);
                g.index.order_key[child_block as usize] = parent_key - 1;
                let expected = format!("heap order of set 0 at slot {child}");
                let message = panic_of(|| g.index.check_heap_slot(parent_block));
                assert!(message.contains(&expected), "{parent}/{child}: {message}");
                let message = panic_of(|| g.index.check_heap_slot(child_block));
                assert!(message.contains(&expected), "{parent}/{child}: {message}");
                g.index.order_key[child_block as usize] = parent_key;
                g.index.check_heap_slot(parent_block);
                g.index.check_heap_slot(child_block);
            }
        }
        // Entries swapped (slots kept consistent), keys untouched: the set check's heap walk.
        let mut g = fixture(true);
        let (a, b) = (g.in_heap_slot(0, 1), g.in_heap_slot(0, 4));
        g.index.heap[1] = b;
        g.index.heap[4] = a;
        g.index.heap_slot[a as usize] = 4;
        g.index.heap_slot[b as usize] = 1;
        let message = panic_of(|| g.check_set(0));
        assert!(message.contains("heap order of set 0 at slot"), "{message}");
    });
}

#[test]
fn a_heap_length_that_disagrees_with_the_lists_is_named() {
    silenced(|| {
        let f = fixture(true);
        let listed = f.reclaimable_listed(1);
        f.index.check_heap_len(1, listed);
        let message = panic_of(|| f.index.check_heap_len(1, listed + 1));
        assert!(message.contains("heap length of set 1"), "{message}");
        let mut g = fixture(true);
        g.index.heap_len[1] -= 1;
        let message = panic_of(|| g.check_set(1));
        assert!(message.contains("heap length of set 1"), "{message}");
    });
}

#[test]
fn a_set_that_does_not_exist_is_named() {
    silenced(|| {
        let f = fixture(true);
        let message = panic_of(|| f.check_set(SETS));
        assert!(message.contains(&format!("no set {SETS}")), "{message}");
    });
}
