//! Values keyed by device IO tag, in a table indexed by the tag's slot: the engine's tags
//! are slab slots, dense and reused, so this is a map without a tree's node moves per IO.
//! A slot holds every generation given a value and not yet removed (an IO the engine gave
//! up on may still be in flight when its slot is reused), so it answers as a map keyed by
//! the whole tag does. Nothing walks it: no order to keep.

use dmsim_engine::io::IoTag;

/// More slots than any engine has IOs in flight: a bound on the table's size.
const SLOTS_MAX: usize = 1 << 24;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct TagTable<T> {
    /// Per slot: (generation, value), usually one.
    slots: Vec<Vec<(u32, T)>>,
    len: usize,
}

impl<T> Default for TagTable<T> {
    fn default() -> Self {
        TagTable {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<T> TagTable<T> {
    /// Sets `tag`'s value, replacing one it had.
    pub fn insert(&mut self, tag: IoTag, value: T) {
        let slot = tag.slot as usize;
        assert!(
            slot < SLOTS_MAX,
            "IO tag slot {slot}: not a dense slab slot"
        );
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, Vec::new);
        }
        let entries = &mut self.slots[slot];
        match entries
            .iter_mut()
            .find(|(generation, _)| *generation == tag.generation)
        {
            Some(entry) => entry.1 = value,
            None => {
                entries.push((tag.generation, value));
                self.len += 1;
            }
        }
    }

    /// Takes `tag`'s value out, if it has one.
    pub fn remove(&mut self, tag: IoTag) -> Option<T> {
        let entries = self.slots.get_mut(tag.slot as usize)?;
        let at = entries
            .iter()
            .position(|(generation, _)| *generation == tag.generation)?;
        self.len -= 1;
        Some(entries.swap_remove(at).1)
    }

    /// Tags with a value.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tag(slot: u32, generation: u32) -> IoTag {
        IoTag { slot, generation }
    }

    #[test]
    fn answers_as_a_map_keyed_by_the_whole_tag() {
        let mut table = TagTable::default();
        let mut map = BTreeMap::new();
        // A deterministic mix of inserts, overwrites and removes over few slots, with
        // generations sharing a slot.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..5000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = tag((x % 7) as u32, ((x >> 8) % 3) as u32);
            if x.is_multiple_of(3) {
                assert_eq!(table.remove(key), map.remove(&key), "step {step}");
            } else {
                table.insert(key, step);
                map.insert(key, step);
            }
            assert_eq!(table.len(), map.len());
        }
    }
}
