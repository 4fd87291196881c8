//! Restoring time order within a bounded window, for traces that are nearly but not fully
//! sorted (SYSTOR'17).
//!
//! [`TimeSorter`] holds up to `window_records` records in a min-heap keyed by
//! (time, position in the input), so equal times keep file order and the output is
//! deterministic. A record that arrives after a later-timed record was already emitted
//! cannot be put back in order: it is emitted as soon as it is read and counted in
//! [`TimeSorter::late_records`] (an open-loop replay issues it immediately). Memory is bounded
//! by the window, not by the trace.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::error::TraceError;
use super::record::TraceRecord;

struct Keyed {
    time_ns: u64,
    sequence: u64,
    record: TraceRecord,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ns, self.sequence).cmp(&(other.time_ns, other.sequence))
    }
}

/// Sorts a record stream by time within a window of `window_records` records.
pub struct TimeSorter<I> {
    inner: I,
    window_records: usize,
    heap: BinaryHeap<Reverse<Keyed>>,
    sequence: u64,
    last_emitted_ns: Option<u64>,
    late_records: u64,
    inner_done: bool,
}

impl<I> TimeSorter<I>
where
    I: Iterator<Item = Result<TraceRecord, TraceError>>,
{
    /// `window_records` must be at least 1 (1 means no reordering).
    pub fn new(inner: I, window_records: usize) -> Self {
        assert!(
            window_records >= 1,
            "a sort window holds at least one record"
        );
        TimeSorter {
            inner,
            window_records,
            heap: BinaryHeap::with_capacity(window_records + 1),
            sequence: 0,
            last_emitted_ns: None,
            late_records: 0,
            inner_done: false,
        }
    }

    /// Records that arrived too late to be put in order (see the module doc).
    pub fn late_records(&self) -> u64 {
        self.late_records
    }

    /// The wrapped iterator (for its counters).
    pub fn inner(&self) -> &I {
        &self.inner
    }

    fn emit(&mut self, record: TraceRecord) -> TraceRecord {
        match self.last_emitted_ns {
            Some(last) if record.time_ns < last => self.late_records += 1,
            _ => self.last_emitted_ns = Some(record.time_ns),
        }
        record
    }
}

impl<I> Iterator for TimeSorter<I>
where
    I: Iterator<Item = Result<TraceRecord, TraceError>>,
{
    type Item = Result<TraceRecord, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.inner_done && self.heap.len() < self.window_records {
            match self.inner.next() {
                Some(Ok(record)) => {
                    self.sequence += 1;
                    self.heap.push(Reverse(Keyed {
                        time_ns: record.time_ns,
                        sequence: self.sequence,
                        record,
                    }));
                }
                Some(Err(error)) => return Some(Err(error)),
                None => self.inner_done = true,
            }
        }
        let Reverse(keyed) = self.heap.pop()?;
        Some(Ok(self.emit(keyed.record)))
    }
}
