//! [`IdTable`]: values by integer id, for the tables of things in flight (bios by id).
//!
//! A B-tree keyed by ids that grow allocates and frees nodes as ids enter at one end and
//! leave at the other; this table is a hash table that keeps its capacity: removed ids leave
//! tombstones, so it grows once more than the most ids live at once need (to about twice),
//! then cleans them up in place and allocates no more. It has no iteration on purpose:
//! hash order must never reach a result (DESIGN.md, determinism), and with lookups only it
//! cannot. The hash is a fixed function of the id, so even its timing is the same from run
//! to run.
#![allow(clippy::disallowed_types)] // lookups only: the table cannot be iterated (above)

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Values by `u64` id: insert, look up, remove, count; never iterated.
#[derive(Debug, Clone)]
pub struct IdTable<V> {
    map: HashMap<u64, V, BuildHasherDefault<IdHasher>>,
}

/// The hash of an id: one multiplication by an odd constant (2^64 / golden ratio), its high
/// half folded into the low one, where the table takes its bucket (slot and generation
/// of a tag or slab key live in the two halves). Ids are the program's own, never an
/// adversary's, so SipHash's defence against chosen keys bought nothing here but two
/// percent of a replay's time (issue 11).
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

const ID_HASH_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is reached (the keys are u64); this keeps any other key correct.
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0.rotate_left(5) ^ id).wrapping_mul(ID_HASH_MULTIPLIER);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

impl<V> Default for IdTable<V> {
    fn default() -> Self {
        IdTable {
            map: HashMap::default(),
        }
    }
}

impl<V> IdTable<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `value` under `id`; returns the value `id` held before, if any.
    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        self.map.insert(id, value)
    }

    pub fn get(&self, id: u64) -> Option<&V> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        self.map.get_mut(&id)
    }

    pub fn contains(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    pub fn remove(&mut self, id: u64) -> Option<V> {
        self.map.remove(&id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets every id (the capacity stays).
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_until_removed() {
        let mut table = IdTable::new();
        assert_eq!(table.insert(7, "a"), None);
        assert_eq!(table.insert(1 << 40, "b"), None);
        assert_eq!(table.insert(7, "c"), Some("a"), "a second insert replaces");
        assert_eq!((table.get(7), table.len()), (Some(&"c"), 2));
        *table.get_mut(1 << 40).expect("present") = "d";
        assert_eq!(table.remove(1 << 40), Some("d"));
        assert_eq!(table.remove(1 << 40), None);
        assert!(table.contains(7) && !table.contains(8));
        table.clear();
        assert!(table.is_empty());
    }

    #[test]
    fn ids_differing_in_either_half_hash_apart() {
        let hash = |id: u64| {
            let mut hasher = IdHasher::default();
            hasher.write_u64(id);
            hasher.finish()
        };
        let mut low_bits = std::collections::BTreeSet::new();
        for slot in 0..64u64 {
            for generation in 0..64u64 {
                low_bits.insert(hash((generation << 32) | slot) & 0xFFFF);
            }
        }
        // 4096 ids thrown at random into 65536 buckets fill about 3971 of them.
        assert!(
            low_bits.len() > 3900,
            "{} buckets of 4096 ids",
            low_bits.len()
        );
    }

    #[test]
    fn a_sliding_window_of_ids_keeps_the_table_small() {
        // Ids enter at one end and leave at the other, as bios in flight do: after the
        // first slides the capacity settles, whatever the ids reach.
        let window = 32u64;
        let mut table = IdTable::new();
        let slide = |table: &mut IdTable<u64>, id: u64| {
            if id >= window {
                assert_eq!(table.remove(id - window), Some(id - window));
            }
            table.insert(id, id);
        };
        for id in 0..1_000 {
            slide(&mut table, id);
        }
        let capacity = table.map.capacity();
        assert!(capacity <= 4 * window as usize, "capacity {capacity}");
        for id in 1_000..100_000 {
            slide(&mut table, id);
        }
        assert_eq!(table.len(), window as usize);
        assert_eq!(table.map.capacity(), capacity, "no growth once settled");
    }
}
