//! A simulated device's IOs in flight by internal id, in id order.
//!
//! Owns where the records live: in slots that never move while the IO is in flight, with
//! an ordered index of ids to slots (an [`IdDeque`]: ids are handed out in increasing
//! order). An IO record carries its write data inline (a few hundred bytes), and an ordered
//! map holding the records themselves moved its neighbours on every insert and remove (a
//! twentieth of the explorer's time, as `memmove`).
//!
//! Deliberately not here: what an IO in flight means (the device owns that).

use crate::id_deque::IdDeque;

/// Records of type `T` by id (`u64`), iterated in id order, as a `BTreeMap<u64, T>` is.
#[derive(Debug)]
pub(super) struct InflightTable<T> {
    /// Id → slot in `slots`.
    index: IdDeque<u32>,
    slots: Vec<Option<T>>,
    /// Empty slots, the most recently emptied last.
    free: Vec<u32>,
}

impl<T> Default for InflightTable<T> {
    fn default() -> Self {
        InflightTable {
            index: IdDeque::default(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> InflightTable<T> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains_key(&self, id: u64) -> bool {
        self.index.contains(id)
    }

    fn slot(&self, id: u64) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Stores `value` under `id`, which must not be in the table.
    pub fn insert(&mut self, id: u64, value: T) {
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none(), "a free slot is empty");
                self.slots[slot as usize] = Some(value);
                slot
            }
            None => {
                self.slots.push(Some(value));
                u32::try_from(self.slots.len() - 1).expect("IOs in flight fit u32")
            }
        };
        assert!(self.index.insert(id, slot), "id {id} is in flight already");
    }

    pub fn get(&self, id: u64) -> Option<&T> {
        let slot = self.slot(id)?;
        self.slots[slot as usize].as_ref()
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let slot = self.slot(id)?;
        self.slots[slot as usize].as_mut()
    }

    pub fn remove(&mut self, id: u64) -> Option<T> {
        let slot = self.index.remove(id)?;
        self.free.push(slot);
        let value = self.slots[slot as usize].take();
        debug_assert!(value.is_some(), "an indexed slot holds its record");
        value
    }

    /// Records in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.index.iter().map(|(id, &slot)| {
            let value = self.slots[slot as usize]
                .as_ref()
                .expect("an indexed slot holds its record");
            (id, value)
        })
    }

    /// Every record, in no particular order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }

    /// Every record in id order, leaving the table empty.
    pub fn take_all(&mut self) -> Vec<(u64, T)> {
        let index = std::mem::take(&mut self.index);
        let mut slots = std::mem::take(&mut self.slots);
        self.free.clear();
        index
            .into_iter()
            .map(|(id, slot)| {
                let value = slots[slot as usize]
                    .take()
                    .expect("an indexed slot holds its record");
                (id, value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::InflightTable;

    #[test]
    fn records_come_back_in_id_order_whatever_their_slots() {
        let mut table = InflightTable::default();
        table.insert(5, "e");
        table.insert(2, "b");
        assert_eq!(table.remove(5), Some("e"));
        table.insert(9, "i"); // reuses 5's slot
        table.insert(1, "a");
        assert_eq!(table.remove(5), None);
        assert!(table.contains_key(9) && !table.contains_key(5));
        *table.get_mut(2).unwrap() = "B";
        assert_eq!(table.get(2), Some(&"B"));
        let seen: Vec<_> = table.iter().map(|(id, v)| (id, *v)).collect();
        assert_eq!(seen, vec![(1, "a"), (2, "B"), (9, "i")]);
        assert_eq!(table.len(), 3);
        assert_eq!(table.take_all(), vec![(1, "a"), (2, "B"), (9, "i")]);
        assert!(table.is_empty());
        table.insert(3, "c");
        assert_eq!(table.iter().count(), 1);
    }
}
