//! Many seeds over worker threads: each seed's spec drawn and run with every oracle; the
//! failures (in seed order, whatever thread ran them) and the coverage marks summed.
//!
//! Wall-clock budgets are the caller's: `more` is asked before each seed.

use crate::counter_reach::CounterReach;
use crate::run::{run_spec, Failure, RunReport};
use crate::spec::{Profile, SeedSpec};
use dmsim_engine::marks::MarkCounts;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One seed that failed.
#[derive(Debug, Clone)]
pub struct SeedResult {
    pub seed: u64,
    pub spec: SeedSpec,
    pub failure: Failure,
}

/// What a batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub seeds_run: u64,
    pub bios_done: u64,
    pub reads_verified: u64,
    /// Device IOs of the seeds' first runs (each seed also runs again, and fault-free ones
    /// a third time against pass-through).
    pub device_ios: u64,
    /// raid5: sectors the write hole made unknown, over the seeds' first runs.
    pub write_hole_sectors: u64,
    /// Seeds whose first segment was held against the hit-counting mode.
    pub seeds_hits_checked: u64,
    /// Seeds whose first segment was held against the lookup and replacement model.
    pub seeds_policy_checked: u64,
    /// Failed seeds in seed order.
    pub failures: Vec<SeedResult>,
    pub marks: MarkCounts,
    /// Counters seen above zero in the seeds' first runs.
    pub counter_reach: CounterReach,
}

/// Runs seeds `first..first + count` (or fewer, once `more()` says stop) under `profile` on
/// `jobs` threads.
pub fn explore(
    first: u64,
    count: u64,
    profile: Profile,
    jobs: usize,
    more: &(dyn Fn() -> bool + Sync),
) -> BatchReport {
    explore_with(first, count, profile, jobs, more, &run_spec)
}

/// [`explore`] with each spec run by `run` (the real-device runner, or the simulated one).
pub fn explore_with(
    first: u64,
    count: u64,
    profile: Profile,
    jobs: usize,
    more: &(dyn Fn() -> bool + Sync),
    run: &(dyn Fn(&SeedSpec) -> RunReport + Sync),
) -> BatchReport {
    let next = AtomicU64::new(first);
    let end = first.saturating_add(count);
    let total = Mutex::new(BatchReport::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                let mut mine = BatchReport::default();
                while more() {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let spec = SeedSpec::draw(seed, profile);
                    let report = run(&spec);
                    mine.seeds_run += 1;
                    mine.bios_done += report.bios_done;
                    mine.reads_verified += report.reads_verified;
                    mine.device_ios += report.device_ios;
                    mine.write_hole_sectors += report.write_hole_sectors;
                    mine.seeds_hits_checked += u64::from(report.hits_checked);
                    mine.seeds_policy_checked += u64::from(report.policy_checked);
                    mine.marks.add(&report.marks);
                    mine.counter_reach.add(&report.counter_reach);
                    if let Some(failure) = report.failure {
                        mine.failures.push(SeedResult {
                            seed,
                            spec,
                            failure,
                        });
                    }
                }
                let mut total = total.lock().expect("no worker panics holding the lock");
                total.seeds_run += mine.seeds_run;
                total.bios_done += mine.bios_done;
                total.reads_verified += mine.reads_verified;
                total.device_ios += mine.device_ios;
                total.write_hole_sectors += mine.write_hole_sectors;
                total.seeds_hits_checked += mine.seeds_hits_checked;
                total.seeds_policy_checked += mine.seeds_policy_checked;
                total.marks.add(&mine.marks);
                total.counter_reach.add(&mine.counter_reach);
                total.failures.extend(mine.failures);
            });
        }
    });
    let mut total = total.into_inner().expect("workers finished");
    total.failures.sort_by_key(|f| f.seed);
    total
}
