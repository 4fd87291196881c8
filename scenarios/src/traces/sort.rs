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
use std::collections::{BinaryHeap, VecDeque};

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
///
/// The window is split in two: `run` holds records that arrived in key order (each at or
/// after the one before it, as nearly all of a sorted trace do: O(1) each), `heap` the
/// others. The next record out is the smaller of the two fronts, so the output is exactly
/// that of one heap over the whole window.
pub struct TimeSorter<I> {
    inner: I,
    window_records: usize,
    run: VecDeque<Keyed>,
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
            run: VecDeque::with_capacity(window_records + 1),
            heap: BinaryHeap::new(),
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

    #[inline]
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
        while !self.inner_done && self.run.len() + self.heap.len() < self.window_records {
            match self.inner.next() {
                Some(Ok(record)) => {
                    self.sequence += 1;
                    let keyed = Keyed {
                        time_ns: record.time_ns,
                        sequence: self.sequence,
                        record,
                    };
                    // Sequences grow: a time at or after the run's last keeps it in order.
                    if self
                        .run
                        .back()
                        .is_none_or(|last| last.time_ns <= keyed.time_ns)
                    {
                        self.run.push_back(keyed);
                    } else {
                        self.heap.push(Reverse(keyed));
                    }
                }
                Some(Err(error)) => return Some(Err(error)),
                None => self.inner_done = true,
            }
        }
        // An empty heap (a sorted trace: always) leaves nothing to compare.
        let from_run = match self.heap.peek() {
            None => true,
            Some(Reverse(least)) => self.run.front().is_some_and(|first| first < least),
        };
        let keyed = if from_run {
            self.run.pop_front()?
        } else {
            self.heap.pop().expect("peeked above").0
        };
        Some(Ok(self.emit(keyed.record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::record::{DeviceKey, TraceOp};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn record(time_ns: u64, sector: u64) -> TraceRecord {
        TraceRecord {
            time_ns,
            op: TraceOp::Read,
            sector,
            sectors: 8,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }
    }

    /// The sorter as it was: one heap over the whole window.
    fn one_heap(records: &[TraceRecord], window: usize) -> Vec<(u64, u64)> {
        let mut heap = BinaryHeap::new();
        let mut out = Vec::new();
        let mut input = records.iter().enumerate();
        loop {
            while heap.len() < window {
                let Some((position, r)) = input.next() else {
                    break;
                };
                heap.push(Reverse((r.time_ns, position, r.sector)));
            }
            let Some(Reverse((time_ns, _, sector))) = heap.pop() else {
                return out;
            };
            out.push((time_ns, sector));
        }
    }

    #[test]
    fn run_and_heap_emit_exactly_what_one_heap_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut next = move |bound: u64| rng.random_range(0..bound);
        for (case, window) in [1usize, 2, 4, 64].into_iter().enumerate() {
            // Mostly increasing times with ties, jumps back of up to 50, and repeats.
            let mut time_ns = 1_000;
            let records: Vec<TraceRecord> = (0..5_000)
                .map(|sector| {
                    match next(10) {
                        0 => time_ns -= next(50).min(time_ns),
                        1..=3 => {}
                        _ => time_ns += next(20),
                    }
                    record(time_ns, sector)
                })
                .collect();
            let expected = one_heap(&records, window);
            let mut sorter = TimeSorter::new(records.clone().into_iter().map(Ok), window);
            let got: Vec<(u64, u64)> = sorter
                .by_ref()
                .map(|r| r.map(|r| (r.time_ns, r.sector)).expect("no errors"))
                .collect();
            assert_eq!(got, expected, "case {case}, window {window}");
            assert!(
                window < 64 || sorter.late_records() < records.len() as u64 / 10,
                "case {case}: the window reorders"
            );
        }
    }
}
