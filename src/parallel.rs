//! Independent jobs spread over worker threads, their results returned in input order.
//!
//! Owns the one parallel runner of the front end (`compare`'s grid, `hits --cache-sizes`):
//! workers take the next job from a shared counter, so the order jobs finish in varies with
//! `jobs` and timing, but each result lands in its job's slot, so what the caller sees — and
//! writes — never depends on either. It deliberately knows nothing of what a job is.

use crate::progress::Progress;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The number of workers when the user gives none: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on every item on up to `jobs` threads (at least one, at most one per item),
/// advancing `progress` by one per finished item; returns the results in `items` order.
pub fn run_in_order<T, R>(
    items: &[T],
    jobs: usize,
    progress: Progress,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let jobs = jobs.clamp(1, items.len().max(1));
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let progress = Mutex::new(progress);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let slot = next.fetch_add(1, Ordering::SeqCst);
                if slot >= items.len() {
                    break;
                }
                let result = work(&items[slot]);
                *results[slot].lock().expect("no poisoned result slot") = Some(result);
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                progress
                    .lock()
                    .expect("no poisoned progress")
                    .update(finished as u64);
            });
        }
    });
    progress
        .into_inner()
        .expect("no poisoned progress")
        .finish();
    // A worker that panicked has already propagated its panic out of the scope, so every
    // slot is filled here.
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("no poisoned result slot")
                .expect("every job ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_whatever_the_worker_count() {
        let items: Vec<u64> = (0..50).collect();
        let serial = run_in_order(&items, 1, Progress::new("t", None, "jobs", true), |n| n * n);
        assert_eq!(serial, items.iter().map(|n| n * n).collect::<Vec<_>>());
        for jobs in [2, 3, 8, 100] {
            let parallel =
                run_in_order(&items, jobs, Progress::new("t", None, "jobs", true), |n| {
                    n * n
                });
            assert_eq!(parallel, serial, "{jobs} workers");
        }
    }

    #[test]
    fn no_items_no_results() {
        let items: Vec<u8> = Vec::new();
        let results = run_in_order(&items, 4, Progress::new("t", None, "jobs", true), |n| *n);
        assert!(results.is_empty());
    }
}
