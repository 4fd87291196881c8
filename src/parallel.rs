//! Independent jobs spread over worker threads, their results returned in input order.
//!
//! Owns the one parallel runner of the front end (`compare`'s grid, `hits --cache-sizes`):
//! workers take the next job from a shared counter, so the order jobs finish in varies with
//! `jobs` and timing, but each result lands in its job's slot, so what the caller sees — and
//! writes — never depends on either. It deliberately knows nothing of what a job is.

use crate::progress::Progress;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How often the waiting thread re-reports progress while no job finishes, so a log still
/// gets its status line every few seconds when each job runs for minutes.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// Counts a worker out when it ends, by return or by panic, and wakes the waiting thread.
struct WorkerExit<'a> {
    running: &'a AtomicUsize,
    waiting: std::thread::Thread,
}

impl Drop for WorkerExit<'_> {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.waiting.unpark();
    }
}

/// The number of workers when the user gives none: the machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on every item on up to `jobs` threads (at least one, at most one per item),
/// advancing `progress` by one per finished item (and re-reporting the count every
/// [`HEARTBEAT`], or as often as status lines are due, meanwhile, so elapsed time and status
/// lines move on); returns the results in `items` order.
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
    let heartbeat = progress.heartbeat(HEARTBEAT);
    let progress = Mutex::new(progress);
    let running = AtomicUsize::new(jobs);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let exit = WorkerExit {
                running: &running,
                waiting: std::thread::current(),
            };
            let (next, done, results, progress, work) = (&next, &done, &results, &progress, &work);
            scope.spawn(move || {
                let _exit = exit;
                loop {
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
                }
            });
        }
        while running.load(Ordering::SeqCst) > 0 {
            std::thread::park_timeout(heartbeat);
            if let Ok(mut progress) = progress.lock() {
                progress.update(done.load(Ordering::SeqCst) as u64);
            }
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
    fn a_panicking_job_propagates_instead_of_leaving_the_waiting_thread_parked() {
        let items = [1u8, 2, 3];
        let outcome = std::panic::catch_unwind(|| {
            run_in_order(&items, 2, Progress::new("t", None, "jobs", true), |n| {
                assert!(*n != 2, "job 2 fails");
                *n
            })
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn no_items_no_results() {
        let items: Vec<u8> = Vec::new();
        let results = run_in_order(&items, 4, Progress::new("t", None, "jobs", true), |n| *n);
        assert!(results.is_empty());
    }
}
