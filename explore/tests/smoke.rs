//! Small explorer runs (a few seconds in debug): every profile's seeds pass every oracle, a
//! seed runs the same every time, and a seed file replays to the same run.

use dmsim_explore::{run_spec, Profile, SeedSpec};

/// `seed` under `profile` with every segment cut to `requests` (keeps tests fast).
fn small(seed: u64, profile: Profile, requests: u64) -> SeedSpec {
    let mut spec = SeedSpec::draw(seed, profile);
    for segment in &mut spec.segments {
        segment.requests = segment.requests.min(requests);
    }
    spec
}

#[test]
fn small_seeds_of_every_profile_pass_every_oracle() {
    for profile in Profile::ALL {
        for seed in 0..2 {
            let spec = small(seed, profile, 60);
            let report = run_spec(&spec);
            assert_eq!(report.failure, None, "seed {seed} {}", profile.name());
            assert!(report.bios_done > 0, "seed {seed} {}", profile.name());
        }
    }
}

#[test]
fn a_seed_runs_the_same_every_time() {
    let spec = small(11, Profile::Swarm, 80);
    let first = run_spec(&spec);
    let second = run_spec(&spec);
    assert_eq!(first.failure, None);
    assert_ne!(first.event_hash, 0);
    assert_eq!(first.event_hash, second.event_hash);
    assert_eq!(first.marks, second.marks);
    assert_eq!(first.bios_done, second.bios_done);
    assert!(first.reads_verified > 0);
}

#[test]
fn different_seeds_run_differently() {
    let a = run_spec(&small(1, Profile::FaultFree, 40));
    let b = run_spec(&small(2, Profile::FaultFree, 40));
    assert_ne!(a.event_hash, b.event_hash);
}
