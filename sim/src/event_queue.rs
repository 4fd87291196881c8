//! The event queue: pending events ordered by (virtual time, order key).
//!
//! Virtual time is integer nanoseconds. The order key breaks ties: normally it is the
//! scheduling sequence number, so events at the same time come out in the order they were
//! scheduled. With schedule perturbation on, it is a draw from the queue's own seeded stream,
//! so same-time events come out in a seeded random order — a different but reproducible
//! interleaving per seed, which is how the explorer shakes out ordering races. (Two draws
//! colliding is a 2^-64 event, and even then the heap's order is deterministic.) One key
//! word instead of two keeps entries as small as a bare (time, seq) heap's.

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A scheduled event with its ordering key.
struct Entry<E> {
    time_ns: u64,
    order: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (u64, u64) {
        (self.time_ns, self.order)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time_ns
            .cmp(&self.time_ns)
            .then_with(|| other.order.cmp(&self.order))
    }
}

/// Pending events of one simulation. `pop` never returns an event earlier than one it
/// returned before: scheduling into the past is refused.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    now_ns: u64,
    /// Present when ties are perturbed; the stream is the queue's own.
    perturbation: Option<ChaCha8Rng>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// A queue at time 0 that orders ties by scheduling order.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now_ns: 0,
            perturbation: None,
        }
    }

    /// A queue at time 0 that orders ties by draws from `stream`.
    pub fn with_perturbation(stream: ChaCha8Rng) -> Self {
        EventQueue {
            perturbation: Some(stream),
            ..Self::new()
        }
    }

    /// Virtual time of the last event popped (0 before the first).
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Schedule `event` at absolute time `time_ns` (not before now).
    pub fn schedule_at(&mut self, time_ns: u64, event: E) {
        assert!(
            time_ns >= self.now_ns,
            "event scheduled in the past: {time_ns} ns < now {} ns",
            self.now_ns
        );
        let order = match &mut self.perturbation {
            Some(rng) => rng.next_u64(),
            None => self.next_seq,
        };
        self.next_seq += 1;
        self.heap.push(Entry {
            time_ns,
            order,
            event,
        });
    }

    /// Schedule `event` `delay_ns` after now.
    pub fn schedule_in(&mut self, delay_ns: u64, event: E) {
        self.schedule_at(self.now_ns + delay_ns, event);
    }

    /// Time of the earliest pending event.
    pub fn peek_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.time_ns)
    }

    /// Remove the earliest event and advance the clock to its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let entry = self.heap.pop()?;
        debug_assert!(entry.time_ns >= self.now_ns);
        self.now_ns = entry.time_ns;
        Some((entry.time_ns, entry.event))
    }

    /// Advance the clock to `time_ns` without an event (e.g. to a deadline). Refuses to pass a
    /// pending event, which would make it fire in the past.
    pub fn advance_to(&mut self, time_ns: u64) {
        assert!(time_ns >= self.now_ns, "time runs forward only");
        if let Some(next) = self.peek_time_ns() {
            assert!(
                time_ns <= next,
                "advance_to({time_ns}) would skip an event at {next}"
            );
        }
        self.now_ns = time_ns;
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Total events ever scheduled (a cheap measure of simulation work).
    pub fn scheduled_total(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn events_come_out_by_time_then_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule_at(30, "c");
        q.schedule_at(10, "a1");
        q.schedule_at(20, "b");
        q.schedule_at(10, "a2");
        q.schedule_at(10, "a3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![(10, "a1"), (10, "a2"), (10, "a3"), (20, "b"), (30, "c")]
        );
        assert_eq!(q.now_ns(), 30);
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_into_the_past_is_refused() {
        let mut q = EventQueue::new();
        q.schedule_at(10, ());
        q.pop();
        q.schedule_at(5, ());
    }

    #[test]
    fn perturbation_reorders_ties_only_and_reproducibly() {
        let run = |seed: u64| {
            let mut q = EventQueue::with_perturbation(ChaCha8Rng::seed_from_u64(seed));
            for i in 0..8u32 {
                q.schedule_at(100, i);
            }
            q.schedule_at(50, 99);
            q.schedule_at(200, 77);
            std::iter::from_fn(|| q.pop()).collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1), "same seed, same order");
        assert_eq!(a[0], (50, 99), "earlier time still first");
        assert_eq!(a[9], (200, 77), "later time still last");
        let ties: Vec<u32> = a[1..9].iter().map(|&(_, e)| e).collect();
        assert_ne!(
            ties,
            (0..8).collect::<Vec<_>>(),
            "seed 1 perturbs the tie order"
        );
        let differs = (2..20).any(|s| run(s)[1..9] != a[1..9]);
        assert!(differs, "other seeds give other tie orders");
    }
}
