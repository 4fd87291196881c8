//! Ids marked as changed since an invariant check last looked, each with its value from
//! before its first change, so a check after every input can look at those only (the
//! flashcache blocks, sets and buckets, raid5's stripe heads).
//!
//! Owns the deduplicated record of marks, and how often a check after every input checks
//! everything instead. Does not own when ids are marked: each owner marks in every accessor
//! that hands an item out mutably, before the change.

/// Every this many calls (the first included) a check after every input checks everything,
/// so a change that escaped the marking is caught within that many inputs.
pub const FULL_CHECK_EVERY_CALLS: u64 = 256;

/// When a check after every input checks everything: on its first call, every
/// [`FULL_CHECK_EVERY_CALLS`]th call, and on the call after one that failed (a failure leaves
/// the counts it keeps between calls behind).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CheckSchedule {
    /// Calls since the last full check or failure (0: the next call is full).
    calls: u64,
}

impl CheckSchedule {
    /// Whether this call checks everything.
    pub fn full_due(&self) -> bool {
        self.calls.is_multiple_of(FULL_CHECK_EVERY_CALLS)
    }

    /// This call ended with `result`.
    pub fn done(&mut self, result: &Result<(), String>) {
        self.calls = if result.is_ok() { self.calls + 1 } else { 0 };
    }
}

/// Ids in `0..len` marked since the last [`Marked::take`], each once, in marking order,
/// with the value it had when first marked. A record of changes ([`Marked::until_taken`])
/// keeps nothing before its first take: a run that never checks incrementally (a replay,
/// `dmsim hits`) spends no memory on old values (as much again as the blocks), and the
/// first incremental check is a full one anyway.
#[derive(Debug, Clone)]
pub(crate) struct Marked<T> {
    /// Whether marks are kept (always, or from the first take on).
    keeping: bool,
    listed: Vec<(u32, T)>,
    /// Bit `id` is on iff `id` is in `listed`.
    is_listed: Vec<u64>,
    len: u32,
}

impl<T: Copy> Marked<T> {
    /// Nothing marked yet, for ids `0..len`; every mark is kept.
    pub fn new(len: u32) -> Marked<T> {
        Marked {
            keeping: true,
            listed: Vec::new(),
            is_listed: vec![0; (len as usize).div_ceil(64)],
            len,
        }
    }

    /// [`Marked::new`], but marks are kept only from the first take on.
    pub fn until_taken(len: u32) -> Marked<T> {
        Marked {
            keeping: false,
            ..Marked::new(len)
        }
    }

    /// Note that `id` is about to change; `before` is its value now, kept if this is its
    /// first mark (O(1), allocation-free once every id was listed once).
    #[inline]
    pub fn mark(&mut self, id: u32, before: impl FnOnce() -> T) {
        debug_assert!(id < self.len, "id {id} of {}", self.len);
        if !self.keeping {
            return;
        }
        let word = &mut self.is_listed[id as usize / 64];
        let bit = 1u64 << (id % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.listed.push((id, before()));
        }
    }

    /// Room for ids `0..len` (`len` never shrinks): for records that grow, like a slab's
    /// slots.
    pub fn grow_to(&mut self, len: u32) {
        debug_assert!(len >= self.len);
        self.is_listed.resize((len as usize).div_ceil(64), 0);
        self.len = len;
    }

    /// Whether `id` was marked since the last take (tests).
    #[cfg(test)]
    pub fn contains(&self, id: u32) -> bool {
        self.is_listed[id as usize / 64] & (1 << (id % 64)) != 0
    }

    /// Per id, the value it had before its first change since the last take, if it
    /// changed (tests).
    #[cfg(test)]
    pub fn values_before(&self) -> Vec<Option<T>> {
        let mut before = vec![None; self.len as usize];
        for &(id, value) in &self.listed {
            before[id as usize] = Some(value);
        }
        before
    }

    /// The marked ids with their old values, moved into `into` (cleared first), and
    /// nothing marked any more. Swapping buffers keeps both allocations alive: a check per
    /// input allocates nothing.
    pub fn take(&mut self, into: &mut Vec<(u32, T)>) {
        self.keeping = true;
        into.clear();
        std::mem::swap(&mut self.listed, into);
        for &(id, _) in into.iter() {
            self.is_listed[id as usize / 64] = 0;
        }
        debug_assert!(self.listed.is_empty());
        debug_assert!(self.is_listed.iter().all(|&word| word == 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_listed_once_with_its_first_value_until_taken() {
        let mut marked = Marked::<u32>::new(130);
        for (id, value) in [
            (5, 50),
            (129, 1290),
            (5, 51),
            (64, 640),
            (129, 1291),
            (0, 0),
        ] {
            marked.mark(id, || value);
        }
        assert!(marked.contains(64) && !marked.contains(63));
        assert_eq!(
            marked.values_before()[5],
            Some(50),
            "the value before the first change"
        );
        let mut taken = vec![(99, 99)];
        marked.take(&mut taken);
        assert_eq!(taken, vec![(5, 50), (129, 1290), (64, 640), (0, 0)]);
        assert!(!marked.contains(5));
        marked.mark(5, || 52);
        marked.take(&mut taken);
        assert_eq!(taken, vec![(5, 52)]);
    }

    #[test]
    fn a_record_of_changes_keeps_nothing_before_its_first_take() {
        let mut marked = Marked::<u32>::until_taken(10);
        marked.mark(7, || 70);
        let mut taken = vec![(99, 99)];
        marked.take(&mut taken);
        assert_eq!(taken, vec![]);
        marked.mark(7, || 71);
        marked.take(&mut taken);
        assert_eq!(taken, vec![(7, 71)]);
    }
}
