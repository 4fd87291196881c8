//! Values by `u64` id in id order, for ids handed out in increasing order (IOs and writes in
//! flight): a sorted deque, where an insert is nearly always a push at the back and the
//! oldest leaves at the front. It keeps its room where a B-tree allocated and freed nodes as
//! entries came and went (issue 11).
//!
//! Deliberately not here: ids out of order are correct but cost a shift of the deque.

use std::collections::VecDeque;

/// Values by id, iterated in id order, as a `BTreeMap<u64, V>` is.
#[derive(Debug, Clone)]
pub struct IdDeque<V> {
    by_id: VecDeque<(u64, V)>,
}

impl<V> Default for IdDeque<V> {
    fn default() -> Self {
        IdDeque {
            by_id: VecDeque::new(),
        }
    }
}

impl<V> IdDeque<V> {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Where `id` is, or where it would go.
    fn position(&self, id: u64) -> Result<usize, usize> {
        // Newest ids are at the back, and an insert nearly always goes there.
        match self.by_id.back() {
            Some(&(last, _)) if last < id => Err(self.by_id.len()),
            _ => self.by_id.binary_search_by_key(&id, |&(id, _)| id),
        }
    }

    pub fn contains(&self, id: u64) -> bool {
        self.position(id).is_ok()
    }

    /// Adds `value` under `id`; false (and nothing changes) if `id` is present.
    #[must_use]
    pub fn insert(&mut self, id: u64, value: V) -> bool {
        match self.position(id) {
            Ok(_) => false,
            Err(at) => {
                self.by_id.insert(at, (id, value));
                true
            }
        }
    }

    pub fn get(&self, id: u64) -> Option<&V> {
        let at = self.position(id).ok()?;
        Some(&self.by_id[at].1)
    }

    pub fn remove(&mut self, id: u64) -> Option<V> {
        let at = self.position(id).ok()?;
        self.by_id.remove(at).map(|(_, value)| value)
    }

    /// (id, value) in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.by_id.iter().map(|(id, value)| (*id, value))
    }
}

impl<V> IntoIterator for IdDeque<V> {
    type Item = (u64, V);
    type IntoIter = std::collections::vec_deque::IntoIter<(u64, V)>;

    /// (id, value) in id order.
    fn into_iter(self) -> Self::IntoIter {
        self.by_id.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::IdDeque;

    #[test]
    fn ids_in_any_order_come_back_sorted_and_once() {
        let mut deque = IdDeque::default();
        for id in [5, 7, 2, 9, 1] {
            assert!(deque.insert(id, id * 10));
        }
        assert!(!deque.insert(7, 0), "an id present is refused");
        assert_eq!(deque.get(7), Some(&70));
        assert_eq!(deque.remove(2), Some(20));
        assert_eq!(deque.remove(2), None);
        assert!(!deque.contains(2) && deque.contains(9));
        let ids: Vec<u64> = deque.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [1, 5, 7, 9]);
        assert_eq!(deque.len(), 4);
        let all: Vec<(u64, u64)> = deque.into_iter().collect();
        assert_eq!(all, [(1, 10), (5, 50), (7, 70), (9, 90)]);
    }
}
