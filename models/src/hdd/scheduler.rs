//! Choosing the next command for the mechanism among the queued ones.
//!
//! Owns the policies (FCFS, SSTF, C-LOOK, SPTF) as pure functions over candidate keys in
//! arrival order; ties always go to the oldest command, so choices are deterministic. The
//! model computes the keys (cylinders, positioning estimates); this module moves nothing.

use super::params::SchedulerKind;

/// What a policy may look at for one queued command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Cylinder of the command's first sector.
    pub cylinder: u32,
    /// Estimated time until its first sector is under the head (SPTF only).
    pub positioning_ps: u128,
}

/// Index (into `candidates`, oldest first) of the command to serve next.
pub fn choose(kind: SchedulerKind, head_cylinder: u32, candidates: &[Candidate]) -> usize {
    assert!(!candidates.is_empty(), "nothing to schedule");
    match kind {
        SchedulerKind::Fcfs => 0,
        SchedulerKind::Sstf => argmin(candidates, |c| {
            u128::from(c.cylinder.abs_diff(head_cylinder))
        }),
        SchedulerKind::CLook => {
            // Sweep upwards; below the head counts as after the wrap.
            argmin(candidates, |c| {
                if c.cylinder >= head_cylinder {
                    u128::from(c.cylinder - head_cylinder)
                } else {
                    (1u128 << 40) + u128::from(c.cylinder)
                }
            })
        }
        SchedulerKind::Sptf => argmin(candidates, |c| c.positioning_ps),
    }
}

/// Index of the first candidate with the least key (the oldest of a tie).
fn argmin(candidates: &[Candidate], key: impl Fn(&Candidate) -> u128) -> usize {
    let mut best = 0;
    let mut best_key = key(&candidates[0]);
    for (i, c) in candidates.iter().enumerate().skip(1) {
        let k = key(c);
        if k < best_key {
            (best, best_key) = (i, k);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(cylinder: u32, positioning_ps: u128) -> Candidate {
        Candidate {
            cylinder,
            positioning_ps,
        }
    }

    #[test]
    fn policies_pick_as_documented_with_oldest_first_ties() {
        let q = [c(500, 9), c(90, 3), c(110, 7), c(20, 3)];
        assert_eq!(choose(SchedulerKind::Fcfs, 100, &q), 0);
        assert_eq!(
            choose(SchedulerKind::Sstf, 100, &q),
            1,
            "90 and 110 tie: oldest"
        );
        assert_eq!(choose(SchedulerKind::CLook, 100, &q), 2);
        assert_eq!(
            choose(SchedulerKind::CLook, 600, &q),
            3,
            "wraps to the lowest"
        );
        assert_eq!(choose(SchedulerKind::Sptf, 100, &q), 1);
    }
}
