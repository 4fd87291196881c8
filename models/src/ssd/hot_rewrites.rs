//! Hot/cold separation in the write buffer, as MQSim's write cache does it: a logical page
//! the buffer already sent to flash in the current window is "hot", and a rewrite of it
//! stays in DRAM instead of being programmed again. The window is MQSim's bloom-filter
//! period: after each buffered write the clock is checked, and once a write finds the
//! window over the set is emptied (forgetting that write's pages too, as MQSim's reset at
//! the end of `write_to_destage_buffer` does) and a new window of `window_ns` starts.
//!
//! Kept units are remembered with the sectors they hold so that reads are served from DRAM
//! and a FLUSH (or a later write-back of the unit) still takes them to flash.
//!
//! Deliberately not here: where data goes (`flows.rs`), buffer room (`buffer.rs`). Ordered
//! collections keep every walk deterministic.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub(crate) struct HotRewrites {
    /// Window length; 0 turns the separation off.
    window_ns: u64,
    /// The current window is over once a write comes after this instant.
    window_end_ns: u64,
    /// Logical pages sent to flash in the current window.
    written_back: BTreeSet<u32>,
    /// Units held only in DRAM, with the sectors they hold (bit per sector).
    kept: BTreeMap<u32, u32>,
}

impl HotRewrites {
    pub fn new(window_ns: u64) -> HotRewrites {
        HotRewrites {
            window_ns,
            ..HotRewrites::default()
        }
    }

    pub fn enabled(&self) -> bool {
        self.window_ns > 0
    }

    /// Whether a write to logical page `group` stays in DRAM.
    pub fn is_hot(&self, group: u32) -> bool {
        self.enabled() && self.written_back.contains(&group)
    }

    /// Logical page `group` is on its way to flash.
    pub fn written_back(&mut self, group: u32) {
        if self.enabled() {
            self.written_back.insert(group);
        }
    }

    /// A buffered write was admitted at `now_ns`: start a new window if this one is over.
    pub fn after_write(&mut self, now_ns: u64) {
        if self.enabled() && now_ns > self.window_end_ns {
            self.written_back.clear();
            self.window_end_ns = now_ns + self.window_ns;
        }
    }

    /// `sectors` of `unit` now live only in DRAM (merged with what it held there).
    pub fn keep(&mut self, unit: u32, sectors: u32) {
        *self.kept.entry(unit).or_default() |= sectors;
    }

    pub fn is_kept(&self, unit: u32) -> bool {
        self.kept.contains_key(&unit)
    }

    /// Forget `unit`'s DRAM-only copy, returning the sectors it held.
    pub fn take(&mut self, unit: u32) -> Option<u32> {
        self.kept.remove(&unit)
    }

    /// Every kept unit with its sectors, in unit order; none is kept afterwards.
    pub fn take_all(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.kept).into_iter().collect()
    }

    #[cfg(test)]
    pub fn kept_units(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_written_back_in_the_window_is_hot_until_the_window_ends() {
        let mut h = HotRewrites::new(1_000);
        // The first write finds the (empty) window over: it starts one and forgets its page.
        h.written_back(7);
        h.after_write(10);
        assert!(!h.is_hot(7));
        h.written_back(7);
        h.after_write(500);
        assert!(h.is_hot(7));
        assert!(!h.is_hot(8));
        // 1,010 is the end: a write after it empties the set.
        h.after_write(1_010);
        assert!(h.is_hot(7));
        h.after_write(1_011);
        assert!(!h.is_hot(7));
    }

    #[test]
    fn a_zero_window_keeps_nothing() {
        let mut h = HotRewrites::new(0);
        h.written_back(3);
        h.after_write(5);
        assert!(!h.is_hot(3));
    }

    #[test]
    fn kept_units_merge_their_sectors_and_leave_once() {
        let mut h = HotRewrites::new(1);
        h.keep(4, 0b0011);
        h.keep(4, 0b0100);
        h.keep(2, 0b1000);
        assert!(h.is_kept(4));
        assert_eq!(h.take(4), Some(0b0111));
        assert_eq!(h.take(4), None);
        assert_eq!(h.take_all(), vec![(2, 0b1000)]);
        assert_eq!(h.kept_units(), 0);
    }
}
