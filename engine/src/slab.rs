//! A generational slab: the storage of every job record in the engine (dm_io requests,
//! kcopyd jobs, bios, device IOs in flight).
//!
//! Owns slot reuse and stale-key detection: a key names a slot *and* the generation the slot
//! had when the value was inserted, so a key kept past its value's removal never reaches the
//! slot's next occupant. Iteration is in slot order, so it is deterministic.
//!
//! Also owns the record of which slots changed since an owner's incremental check last
//! looked ([`Slab::take_changes`]): every insert, `get_mut` and remove marks its slot.
//!
//! Deliberately not here: any notion of what the values mean, or ordering by time.

use crate::changed_ids::Marked;

/// Names one value in a slab: slot index and the slot's generation at insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlabKey {
    pub index: u32,
    pub generation: u32,
}

impl SlabKey {
    /// Packs the key into one integer (index in the low half), e.g. for a caller cookie.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// Inverse of [`SlabKey::to_u64`].
    pub fn from_u64(value: u64) -> SlabKey {
        SlabKey {
            index: value as u32,
            generation: (value >> 32) as u32,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// Values addressed by generational keys; freed slots are reused most-recently-freed first.
#[derive(Debug, Clone)]
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
    /// Slots changed since the last [`Slab::take_changes`], each with whether it held a
    /// value before (kept from the first take on).
    changed: Marked<bool>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            changed: Marked::until_taken(0),
        }
    }

    /// Number of values stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated so far, live or free: every key's index is below it, so a `Vec` of
    /// this length indexed by [`SlabKey::index`] has one cell per live value.
    pub fn slots(&self) -> usize {
        self.entries.len()
    }

    /// Stores `value` and returns its key.
    pub fn insert(&mut self, value: T) -> SlabKey {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            self.changed.mark(index, || false);
            let entry = &mut self.entries[index as usize];
            debug_assert!(entry.value.is_none(), "free slot holds a value");
            entry.value = Some(value);
            SlabKey {
                index,
                generation: entry.generation,
            }
        } else {
            let index = u32::try_from(self.entries.len()).expect("slab exceeds u32 slots");
            self.changed.grow_to(index + 1);
            self.changed.mark(index, || false);
            self.entries.push(Entry {
                generation: 0,
                value: Some(value),
            });
            SlabKey {
                index,
                generation: 0,
            }
        }
    }

    /// The value `key` names, if it is still stored.
    pub fn get(&self, key: SlabKey) -> Option<&T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        entry.value.as_ref()
    }

    /// The value `key` names, for a change (its slot is marked as changed).
    pub fn get_mut(&mut self, key: SlabKey) -> Option<&mut T> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        let value = entry.value.as_mut()?;
        self.changed.mark(key.index, || true);
        Some(value)
    }

    /// Removes and returns the value `key` names; the slot's generation advances so `key`
    /// (and any copy of it) goes stale.
    pub fn remove(&mut self, key: SlabKey) -> Option<T> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        let value = entry.value.take()?;
        self.changed.mark(key.index, || true);
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// Values in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (SlabKey, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                entry.value.as_ref().map(|value| {
                    (
                        SlabKey {
                            index: index as u32,
                            generation: entry.generation,
                        },
                        value,
                    )
                })
            })
    }

    /// The value in slot `index` with its key, if the slot holds one (for a check of the
    /// changed slots).
    pub fn at(&self, index: u32) -> Option<(SlabKey, &T)> {
        let entry = self.entries.get(index as usize)?;
        let key = SlabKey {
            index,
            generation: entry.generation,
        };
        entry.value.as_ref().map(|value| (key, value))
    }

    /// The slots changed since the last call (inserted into, handed out mutably, removed
    /// from), each once with whether it held a value before its first change, moved into
    /// `into`. Marks are kept from the first call on (see [`Marked::until_taken`]).
    pub fn take_changes(&mut self, into: &mut Vec<(u32, bool)>) {
        self.changed.take(into);
    }

    /// Marks the slot `key` names as changed without changing it: for an owner whose index
    /// naming the value (by id, by deadline) changed while the value did not.
    pub fn touch(&mut self, key: SlabKey) {
        if let Some(entry) = self.entries.get(key.index as usize) {
            let occupied = entry.value.is_some();
            self.changed.mark(key.index, || occupied);
        }
    }

    /// Whether slot `index` changed since the last [`Slab::take_changes`] (tests).
    #[cfg(test)]
    pub fn is_changed(&self, index: u32) -> bool {
        self.changed.contains(index)
    }

    /// The slab's count and free list against `occupied` slots counted by the caller (by
    /// difference over the changes, in an incremental check).
    pub fn check_occupied(&self, occupied: usize) -> Result<(), String> {
        self.check_counts(occupied)
    }

    /// The incremental twin of [`Slab::check_each`]: `each` live value among `changes` (from
    /// [`Slab::take_changes`]), with `occupied`, the caller's count kept between calls,
    /// brought up to date by difference and checked against the bookkeeping. Same results
    /// as `check_each`: the outer one the bookkeeping's, the inner one the first error of
    /// `each`, after which `each` is not called again.
    pub fn check_changed(
        &self,
        changes: &[(u32, bool)],
        occupied: &mut usize,
        mut each: impl FnMut(SlabKey, &T) -> Result<(), String>,
    ) -> Result<Result<(), String>, String> {
        let mut first_error = Ok(());
        for &(index, was_occupied) in changes {
            let now = self.at(index);
            // Wrapping: a change that escaped the marking makes the count wrong, not a panic.
            *occupied = occupied
                .wrapping_add(usize::from(now.is_some()))
                .wrapping_sub(usize::from(was_occupied));
            if let (Some((key, value)), Ok(())) = (now, &first_error) {
                first_error = each(key, value);
            }
        }
        self.check_counts(*occupied)?;
        Ok(first_error)
    }

    /// Keys in slot order (a snapshot, so the slab can be mutated while walking it).
    pub fn keys(&self) -> Vec<SlabKey> {
        self.iter().map(|(key, _)| key).collect()
    }

    /// [`Slab::check`] and `each` live value in slot order, in one pass over the slots
    /// (the per-input invariant checks walk their slabs anyway). The outer result is the
    /// bookkeeping's, the inner one the first error of `each`, after which `each` is not
    /// called again: a caller reports them in that order, as if it had checked first.
    pub fn check_each(
        &self,
        mut each: impl FnMut(SlabKey, &T) -> Result<(), String>,
    ) -> Result<Result<(), String>, String> {
        let mut occupied = 0;
        let mut first_error = Ok(());
        for (index, entry) in self.entries.iter().enumerate() {
            if let Some(value) = &entry.value {
                occupied += 1;
                if first_error.is_ok() {
                    let key = SlabKey {
                        index: index as u32,
                        generation: entry.generation,
                    };
                    first_error = each(key, value);
                }
            }
        }
        self.check_counts(occupied)?;
        Ok(first_error)
    }

    /// Checks the slab's own bookkeeping (count and free list agree with the slots).
    pub fn check(&self) -> Result<(), String> {
        let occupied = self.entries.iter().filter(|e| e.value.is_some()).count();
        self.check_counts(occupied)
    }

    /// `occupied` slots, counted, agree with the count and the free list.
    fn check_counts(&self, occupied: usize) -> Result<(), String> {
        if occupied != self.len {
            return Err(format!("slab len {} but {} occupied", self.len, occupied));
        }
        if occupied + self.free.len() != self.entries.len() {
            return Err(format!(
                "slab: {} occupied + {} free != {} slots",
                occupied,
                self.free.len(),
                self.entries.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_key_goes_stale_even_when_its_slot_is_reused() {
        let mut slab = Slab::new();
        let first = slab.insert("a");
        assert_eq!(slab.remove(first), Some("a"));
        let second = slab.insert("b");
        assert_eq!(first.index, second.index);
        assert_ne!(first.generation, second.generation);
        assert_eq!(slab.get(first), None);
        assert_eq!(slab.remove(first), None);
        assert_eq!(slab.get(second), Some(&"b"));
        assert_eq!(slab.len(), 1);
        slab.check().unwrap();
    }

    #[test]
    fn keys_round_trip_through_u64() {
        let key = SlabKey {
            index: 7,
            generation: 0xdead_beef,
        };
        assert_eq!(SlabKey::from_u64(key.to_u64()), key);
    }

    #[test]
    fn iteration_is_in_slot_order() {
        let mut slab = Slab::new();
        let a = slab.insert(1);
        let b = slab.insert(2);
        let c = slab.insert(3);
        slab.remove(b);
        let d = slab.insert(4);
        let seen: Vec<_> = slab.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(seen, vec![(a, 1), (d, 4), (c, 3)]);
    }

    #[test]
    fn every_change_marks_its_slot_with_whether_it_held_a_value() {
        let mut slab = Slab::new();
        let kept = slab.insert("a");
        let removed = slab.insert("b");
        let mut changes = Vec::new();
        // Nothing is kept before the first take.
        slab.take_changes(&mut changes);
        assert_eq!(changes, vec![]);
        assert_eq!(slab.get(kept), Some(&"a"));
        assert!(!slab.is_changed(kept.index), "reading changes nothing");
        slab.remove(removed);
        assert!(slab.get_mut(removed).is_none());
        let added = slab.insert("c");
        assert_eq!(added.index, removed.index);
        let grown = slab.insert("d");
        slab.take_changes(&mut changes);
        assert_eq!(changes, vec![(removed.index, true), (grown.index, false)]);
        *slab.get_mut(kept).unwrap() = "e";
        slab.take_changes(&mut changes);
        assert_eq!(changes, vec![(kept.index, true)]);
        assert_eq!(slab.at(kept.index), Some((kept, &"e")));
        slab.check_occupied(3).unwrap();
        assert!(slab.check_occupied(2).is_err());
    }
}
