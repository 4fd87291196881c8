//! The DRAM write buffer: which host units wait in controller memory, how much room is left,
//! the page being filled, and the order in which buffered pages reach flash (for FLUSH).
//! Room is counted in sectors of host data, as MQSim's write cache counts the data it has on
//! its way to flash: a write of half a unit takes half a unit of room.
//!
//! Host writes are copied into DRAM and acknowledged; their units fill an open flash page
//! (several units per page); a full page is programmed in the background and its units leave
//! the buffer when the program ends. A write that finds no room waits (in arrival order) for
//! programs to free it. A unit rewritten while its page is still open is overwritten in place
//! (coalesced). FLUSH closes the open page (unfilled slots become padding) and waits until
//! every page issued before it is programmed.
//!
//! Deliberately not modelled: read caching, write-back ordering other than fill order,
//! idle-time flushing of a partly filled page.

use super::table::NONE;
use super::timeline::{transfer_ns, Timeline};
use std::collections::VecDeque;

pub(crate) struct WriteBuffer {
    pub enabled: bool,
    /// Acknowledged data is lost on power failure unless flushed.
    pub volatile: bool,
    capacity_sectors: u32,
    occupied_sectors: u32,
    /// Buffered writes waiting for room, in arrival order.
    pub waiters: VecDeque<u32>,
    /// Page being filled, or NONE.
    pub open_page: u32,
    /// Logical page (unit / units per page) of the open page's first unit.
    pub open_group: u32,
    pub open_fill: u32,
    /// Latest DRAM arrival of the open page's units.
    pub open_ready_ns: u64,
    pub open_units: Vec<u32>,
    /// Sectors the buffered writes carry into each of `open_units` (bit per sector).
    pub open_unit_sectors: Vec<u32>,
    /// Sectors of host data in the open page (what it frees when programmed).
    pub open_sectors: u32,
    /// Buffered pages whose program has not ended.
    pub pages_in_flight: u32,
    next_seq: u64,
    /// Every page with a sequence number below this is programmed.
    done_below: u64,
    /// Completion flags of pages `done_below..next_seq`.
    done: VecDeque<bool>,
    /// FLUSH jobs waiting for pages below their target to be programmed.
    pub flush_waiters: VecDeque<(u32, u64)>,
    dram: Timeline,
    dram_mb_per_s: u32,
    dram_access_ns: u64,
}

impl WriteBuffer {
    pub fn new(
        enabled: bool,
        volatile: bool,
        capacity_sectors: u32,
        dram_mb_per_s: u32,
        dram_access_ns: u64,
    ) -> WriteBuffer {
        WriteBuffer {
            enabled,
            volatile,
            capacity_sectors,
            occupied_sectors: 0,
            waiters: VecDeque::new(),
            open_page: NONE,
            open_group: NONE,
            open_fill: 0,
            open_ready_ns: 0,
            open_units: Vec::new(),
            open_unit_sectors: Vec::new(),
            open_sectors: 0,
            pages_in_flight: 0,
            next_seq: 0,
            done_below: 0,
            done: VecDeque::new(),
            flush_waiters: VecDeque::new(),
            dram: Timeline::default(),
            dram_mb_per_s,
            dram_access_ns,
        }
    }

    pub fn capacity_sectors(&self) -> u32 {
        self.capacity_sectors
    }

    pub fn occupied_sectors(&self) -> u32 {
        self.occupied_sectors
    }

    pub fn fits(&self, sectors: u32) -> bool {
        self.occupied_sectors + sectors <= self.capacity_sectors
    }

    /// Sectors of host data entered the buffer.
    pub fn occupy(&mut self, sectors: u32) {
        self.occupied_sectors += sectors;
        debug_assert!(
            self.occupied_sectors <= self.capacity_sectors + 64 * 64,
            "buffer overfilled"
        );
    }

    pub fn release(&mut self, sectors: u32) {
        assert!(
            self.occupied_sectors >= sectors,
            "buffer released more than held"
        );
        self.occupied_sectors -= sectors;
    }

    /// Sequence number of a page about to be programmed.
    pub fn issue_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.done.push_back(false);
        self.pages_in_flight += 1;
        seq
    }

    /// The page `seq` is programmed.
    pub fn complete_seq(&mut self, seq: u64) {
        assert!(
            seq >= self.done_below && seq < self.next_seq,
            "unknown page {seq}"
        );
        self.done[(seq - self.done_below) as usize] = true;
        while self.done.front() == Some(&true) {
            self.done.pop_front();
            self.done_below += 1;
        }
        self.pages_in_flight -= 1;
    }

    /// Sequence number the next page will get (a FLUSH's target).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether every page numbered below `target` is programmed.
    pub fn drained_below(&self, target: u64) -> bool {
        self.done_below >= target
    }

    /// One DRAM access of `bytes`; returns when it ends.
    pub fn dram_access(&mut self, now_ns: u64, ready_ns: u64, bytes: u64) -> u64 {
        let len = self.dram_access_ns
            + if self.dram_mb_per_s == 0 {
                0
            } else {
                transfer_ns(bytes, self.dram_mb_per_s)
            };
        self.dram.acquire(now_ns, ready_ns, len) + len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_tracks_out_of_order_completions() {
        let mut b = WriteBuffer::new(true, true, 16, 1000, 0);
        let a = b.issue_seq();
        let c = b.issue_seq();
        let target = b.next_seq();
        b.complete_seq(c);
        assert!(!b.drained_below(target));
        b.complete_seq(a);
        assert!(b.drained_below(target));
        assert_eq!(b.pages_in_flight, 0);
    }

    #[test]
    fn dram_accesses_serialise() {
        let mut b = WriteBuffer::new(true, true, 16, 1000, 10);
        assert_eq!(b.dram_access(0, 0, 1000), 1010);
        assert_eq!(b.dram_access(0, 0, 1000), 2020);
    }
}
