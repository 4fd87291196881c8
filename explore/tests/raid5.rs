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
fn a_cut_power_loss_then_a_member_failure_opens_the_write_hole() {
    // Any raid5 seed, reshaped: a segment cut mid-IO by a power loss, then one that fails a
    // member as it starts (the array is still assembling: nothing is resynced).
    let mut spec = SeedSpec::draw(3, Profile::Raid5);
    spec.faults.iter_mut().for_each(Vec::clear);
    let mut first = spec.segments[0].clone();
    first.requests = 400;
    first.fail_member = None;
    first.cut_after_inputs = Some(3_000);
    let mut second = first.clone();
    second.requests = 200;
    second.cut_after_inputs = None;
    second.fail_member = Some(1);
    spec.workload.read_percent = 20;
    spec.queue_depth = 8;
    spec.segments = vec![first, second];
    spec.validate().expect("a valid spec");
    let report = run_spec(&spec);
    assert_eq!(report.failure, None);
    assert!(report.write_hole_sectors > 0, "{:?}", report.phases);
    assert_eq!(report.write_hole_sectors % 8, 0);
}
