//! Shrinking: a failing [`SeedSpec`] made smaller — fewer segments, records, faults, a
//! shallower queue, a plainer workload, no device cancels, classic kcopyd, BUGGIFY and tie
//! perturbation off — one step at a
//! time, each kept only if the run still fails the same way (same [`FailureKind`]).
//! Greedy and bounded: at most `runs_max` reruns.

use crate::run::{run_once, run_spec, Failure, FailureKind};
use crate::spec::SeedSpec;

/// Every one-step smaller variant of `spec`, most shrinking first.
fn candidates(spec: &SeedSpec) -> Vec<SeedSpec> {
    let mut out = Vec::new();
    let mut with = |edit: &dyn Fn(&mut SeedSpec)| {
        let mut smaller = spec.clone();
        edit(&mut smaller);
        if smaller != *spec {
            out.push(smaller);
        }
    };
    for index in 0..spec.segments.len() {
        if spec.segments.len() > 1 {
            with(&|s| {
                s.segments.remove(index);
            });
        }
    }
    for index in 0..spec.segments.len() {
        with(&|s| s.segments[index].requests = (s.segments[index].requests / 2).max(1));
        with(&|s| s.segments[index].requests = s.segments[index].requests * 9 / 10);
    }
    for device in 0..spec.faults.len() {
        for index in 0..spec.faults[device].len() {
            with(&|s| {
                s.faults[device].remove(index);
            });
        }
    }
    for index in 0..spec.segments.len() {
        with(&|s| s.segments[index].power_loss = None);
        with(&|s| s.segments[index].ssd_cancels_at_ns.clear());
        with(&|s| s.segments[index].idle_before_requests_ns = None);
    }
    with(&|s| s.kcopyd = dmsim_engine::KcopydGeneration::Classic);
    with(&|s| s.buggify = false);
    with(&|s| s.perturb_ties = false);
    with(&|s| s.queue_depth = (s.queue_depth / 2).max(1));
    with(&|s| s.workload.large_one_in = 0);
    with(&|s| s.workload.unaligned_one_in = 0);
    with(&|s| s.workload.flush_every = 0);
    with(&|s| s.foreign_superblock_member = None);
    with(&|s| s.rebuild_front_reads = false);
    with(&|s| {
        for device in &mut s.devices {
            device.max_sectors = None;
        }
    });
    out
}

fn fails_like(spec: &SeedSpec, kind: FailureKind) -> Option<Failure> {
    let failure = if kind == FailureKind::Nondeterminism || kind == FailureKind::PassThrough {
        run_spec(spec).failure
    } else {
        run_once(spec)
    };
    failure.filter(|f| f.kind == kind)
}

/// The smallest spec found that fails like `failure`, with its failure and the reruns used.
pub fn shrink(spec: &SeedSpec, failure: &Failure, runs_max: u32) -> (SeedSpec, Failure, u32) {
    let mut best = spec.clone();
    let mut best_failure = failure.clone();
    let mut runs = 0;
    'improve: while runs < runs_max {
        for candidate in candidates(&best) {
            if runs >= runs_max {
                break 'improve;
            }
            runs += 1;
            if let Some(failure) = fails_like(&candidate, best_failure.kind) {
                best = candidate;
                best_failure = failure;
                continue 'improve;
            }
        }
        break;
    }
    (best, best_failure, runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Profile;

    #[test]
    fn every_candidate_is_a_valid_smaller_spec() {
        let spec = SeedSpec::draw(3, Profile::Swarm);
        let all = candidates(&spec);
        assert!(!all.is_empty());
        for candidate in all {
            assert_ne!(candidate, spec);
            candidate.validate().unwrap();
            let requests = |s: &SeedSpec| s.segments.iter().map(|g| g.requests).sum::<u64>();
            let faults = |s: &SeedSpec| s.faults.iter().map(Vec::len).sum::<usize>();
            assert!(requests(&candidate) <= requests(&spec));
            assert!(faults(&candidate) <= faults(&spec));
        }
    }
}
