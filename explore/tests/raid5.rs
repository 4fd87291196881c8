//! The raid5 profile (issue 10, item 3): md raid5 arrays with a superblock, power losses mid-IO
//! with assembly and resync, and member failures; every seed passes every explorer oracle,
//! and the write hole (a member failing before the resync covered a torn stripe) is reached
//! and judged as unknown sectors, never as a data error.

use dmsim_explore::{explore, run_spec, Profile, SeedSpec};

#[test]
fn raid5_seeds_pass_every_oracle_and_reach_the_write_hole() {
    let report = explore(0, 12, Profile::Raid5, 2, &|| true);
    assert_eq!(report.seeds_run, 12);
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("seed {}: {}", f.seed, f.failure))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(report.reads_verified > 1_000, "{}", report.reads_verified);
    assert!(
        report.write_hole_sectors > 0,
        "no seed opened the write hole"
    );
}

#[test]
fn some_raid5_seeds_put_the_array_under_flashcache_and_pass() {
    let stacked: Vec<u64> = (0..12)
        .filter(|&seed| {
            matches!(
                SeedSpec::draw(seed, Profile::Raid5).target,
                dmsim_explore::spec::TargetChoice::Raid5UnderFlashcache { .. }
            )
        })
        .collect();
    assert!(stacked.len() >= 2, "{stacked:?}");
    for seed in stacked.into_iter().take(2) {
        let spec = SeedSpec::draw(seed, Profile::Raid5);
        assert!(spec.segments.iter().all(|s| s.fail_member.is_none()));
        let report = run_spec(&spec);
        assert_eq!(report.failure, None, "seed {seed}");
        assert!(report.reads_verified > 0, "seed {seed}");
    }
}
