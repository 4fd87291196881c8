//! The sets changed since the last invariant check, so the per-event check can look at
//! those sets only (see [`super::invariants`]).
//!
//! Owns: a deduplicated list of set numbers (a bitmap says which are listed). Does not own
//! when sets are marked: [`super::set::Blocks`] marks a set in every accessor that hands out
//! its blocks or its set record mutably, so no change can bypass it.

/// Set numbers marked since the last [`TouchedSets::take`], each once, in marking order.
#[derive(Debug, Clone)]
pub(crate) struct TouchedSets {
    listed: Vec<u32>,
    /// Bit `set` is on iff `set` is in `listed`.
    is_listed: Vec<u64>,
    num_sets: u32,
}

impl TouchedSets {
    /// Nothing marked yet, for sets `0..num_sets`.
    pub fn new(num_sets: u32) -> TouchedSets {
        TouchedSets {
            listed: Vec::new(),
            is_listed: vec![0; (num_sets as usize).div_ceil(64)],
            num_sets,
        }
    }

    /// Note that `set` changed (O(1), allocation-free once every set was listed once).
    #[inline]
    pub fn mark(&mut self, set: u32) {
        debug_assert!(set < self.num_sets, "set {set} of {}", self.num_sets);
        let word = &mut self.is_listed[set as usize / 64];
        let bit = 1u64 << (set % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.listed.push(set);
        }
    }

    /// Whether `set` was marked since the last take (tests).
    #[cfg(test)]
    pub fn contains(&self, set: u32) -> bool {
        self.is_listed[set as usize / 64] & (1 << (set % 64)) != 0
    }

    /// The marked sets, moved into `into` (cleared first), and nothing marked any more.
    /// Swapping buffers keeps both allocations alive: a check per event allocates nothing.
    pub fn take(&mut self, into: &mut Vec<u32>) {
        into.clear();
        std::mem::swap(&mut self.listed, into);
        for &set in into.iter() {
            self.is_listed[set as usize / 64] = 0;
        }
        debug_assert!(self.listed.is_empty());
        debug_assert!(self.is_listed.iter().all(|&word| word == 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_is_listed_once_in_marking_order_until_taken() {
        let mut touched = TouchedSets::new(130);
        for set in [5, 129, 5, 64, 129, 0] {
            touched.mark(set);
        }
        assert!(touched.contains(64) && !touched.contains(63));
        let mut taken = vec![99];
        touched.take(&mut taken);
        assert_eq!(taken, vec![5, 129, 64, 0]);
        assert!(!touched.contains(5));
        touched.mark(5);
        touched.take(&mut taken);
        assert_eq!(taken, vec![5]);
    }
}
