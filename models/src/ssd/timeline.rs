//! Busy-interval reservation on a shared resource: a flash channel, a host link direction,
//! the buffer DRAM, a controller core. A user asks for the earliest start at or after a ready
//! time where a span of the given length fits between existing reservations, and reserves it.
//! Gap filling matters: a channel's data-out phase is reserved when a die op starts, often
//! far ahead of phases other dies need sooner.
//!
//! Deliberately not here: priorities or preemption (the die scheduler in `flash.rs` owns
//! those); a reservation once made never moves.

/// Disjoint busy intervals `[start, end)` in time order; touching intervals are merged so a
/// saturated resource stays one interval long.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    busy: Vec<(u64, u64)>,
    /// Intervals before `head` have ended; they are dropped in batches.
    head: usize,
}

impl Timeline {
    /// Forget intervals that ended at or before `now_ns`. Callers never ask about the past.
    pub fn prune(&mut self, now_ns: u64) {
        while self.head < self.busy.len() && self.busy[self.head].1 <= now_ns {
            self.head += 1;
        }
        if self.head > 32 && self.head * 2 > self.busy.len() {
            self.busy.drain(..self.head);
            self.head = 0;
        }
    }

    /// Earliest `t >= ready_ns` such that `[t, t + len_ns)` overlaps no reservation.
    pub fn earliest_start(&self, ready_ns: u64, len_ns: u64) -> u64 {
        let live = &self.busy[self.head..];
        let first = live.partition_point(|&(_, end)| end <= ready_ns);
        let mut t = ready_ns;
        for &(start, end) in &live[first..] {
            if t + len_ns <= start {
                break;
            }
            t = t.max(end);
        }
        t
    }

    /// If a reservation covers `at_ns`, when the channel next goes free (touching
    /// reservations are merged, so this is the end of the covering interval).
    pub fn busy_until(&self, at_ns: u64) -> Option<u64> {
        let live = &self.busy[self.head..];
        let i = live.partition_point(|&(_, end)| end <= at_ns);
        live.get(i)
            .filter(|&&(start, _)| start <= at_ns)
            .map(|&(_, end)| end)
    }

    /// Reserve `[start_ns, start_ns + len_ns)`, which must be free.
    pub fn reserve(&mut self, start_ns: u64, len_ns: u64) {
        if len_ns == 0 {
            return;
        }
        let end_ns = start_ns + len_ns;
        let pos = self.head + self.busy[self.head..].partition_point(|&(s, _)| s < start_ns);
        let touches_prev = pos > self.head && {
            let prev_end = self.busy[pos - 1].1;
            assert!(prev_end <= start_ns, "reservation overlaps the one before");
            prev_end == start_ns
        };
        let touches_next = pos < self.busy.len() && {
            let next_start = self.busy[pos].0;
            assert!(end_ns <= next_start, "reservation overlaps the one after");
            next_start == end_ns
        };
        match (touches_prev, touches_next) {
            (true, true) => {
                self.busy[pos - 1].1 = self.busy[pos].1;
                self.busy.remove(pos);
            }
            (true, false) => self.busy[pos - 1].1 = end_ns,
            (false, true) => self.busy[pos].0 = start_ns,
            (false, false) => self.busy.insert(pos, (start_ns, end_ns)),
        }
    }

    /// Prune to `now_ns`, then reserve the earliest fitting span; returns its start.
    pub fn acquire(&mut self, now_ns: u64, ready_ns: u64, len_ns: u64) -> u64 {
        debug_assert!(ready_ns >= now_ns, "reservation asked for the past");
        self.prune(now_ns);
        let start = self.earliest_start(ready_ns, len_ns);
        self.reserve(start, len_ns);
        start
    }

    /// Live reservations.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.busy.len() - self.head
    }
}

/// Time in ns to move `bytes` at `mb_per_s` (10^6 bytes per second), rounded up.
pub(crate) fn transfer_ns(bytes: u64, mb_per_s: u32) -> u64 {
    (bytes * 1000).div_ceil(u64::from(mb_per_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_gaps_and_merges_neighbours() {
        let mut t = Timeline::default();
        assert_eq!(t.acquire(0, 100, 10), 100);
        assert_eq!(t.acquire(0, 0, 50), 0);
        // 60 does not fit in [50, 100): goes after 110.
        assert_eq!(t.acquire(0, 40, 60), 110);
        // Exactly fills [50, 100): everything merges into one interval.
        assert_eq!(t.acquire(0, 50, 50), 50);
        assert_eq!(t.len(), 1);
        assert_eq!(t.earliest_start(0, 1), 170);
    }

    #[test]
    fn prune_drops_finished_intervals() {
        let mut t = Timeline::default();
        for i in 0..100u64 {
            t.acquire(0, i * 20, 10);
        }
        assert_eq!(t.len(), 100);
        t.prune(1000);
        assert_eq!(t.len(), 50);
        assert_eq!(t.earliest_start(1000, 5), 1010);
    }

    #[test]
    fn busy_until_reports_the_end_of_the_covering_interval() {
        let mut t = Timeline::default();
        t.acquire(0, 10, 10);
        t.acquire(0, 20, 5);
        assert_eq!(t.busy_until(9), None);
        // [10, 20) and [20, 25) merged: busy through 25.
        assert_eq!(t.busy_until(10), Some(25));
        assert_eq!(t.busy_until(24), Some(25));
        assert_eq!(t.busy_until(25), None);
    }

    #[test]
    fn transfer_rounds_up() {
        assert_eq!(transfer_ns(4096, 333), 12301);
        assert_eq!(transfer_ns(1000, 1000), 1000);
    }
}
