//! A fixed seed batch reaches every coverage mark, and a seed's run is the same every time.

use dmsim_engine::marks::{Mark, MarkCounts};
use dmsim_explore::{explore, run_spec, Profile, SeedSpec};

#[test]
fn a_fixed_seed_batch_reaches_every_mark() {
    let mut marks = MarkCounts::default();
    // Chosen to be small and reach every mark: swarm 8 and 9 fill sets with dirty blocks
    // (set_has_no_room), 11 cancels SSD IO by device, timeouts 4 runs a small kcopyd pool
    // dry, 8 and 10 throttle kcopyd, 12 fails a job allocation at each of BUGGIFY's four
    // sites; raid5 11 rebuilds a failed member onto its spare and reads across the rebuild
    // front meanwhile; flashcache 12 takes pages from the modern kcopyd's reserve; the rest
    // covers the common paths.
    for (profile, seeds) in [
        (Profile::Swarm, 6..12),
        (Profile::Timeouts, 4..13),
        (Profile::Flashcache, 12..13),
        (Profile::FaultFree, 0..1),
        (Profile::Raid5, 11..12),
    ] {
        let report = explore(seeds.start, seeds.end - seeds.start, profile, 2, &|| true);
        marks.add(&report.marks);
    }
    let missing: Vec<&str> = marks.missing().iter().map(|m| m.name()).collect();
    assert!(missing.is_empty(), "marks never reached: {missing:?}");
    assert!(Mark::ALL.len() >= 30);
}

#[test]
fn a_seed_runs_the_same_every_time() {
    let spec = SeedSpec::draw(11, Profile::Swarm);
    let first = run_spec(&spec);
    let second = run_spec(&spec);
    assert_eq!(first.event_hash, second.event_hash);
    assert_ne!(first.event_hash, 0);
    assert_eq!(first.marks, second.marks);
    assert!(first.bios_done > 0);
}

/// Clean stops are drawn and run: a fault-free writeback seed removes its cache (the
/// metadata store) and reloads it, in the phases its report lists.
#[test]
fn fault_free_seeds_stop_cleanly_and_reload() {
    use dmsim_engine::flashcache::CacheMode;
    use dmsim_explore::spec::TargetChoice;
    let (seed, spec) = (0..100)
        .map(|seed| (seed, SeedSpec::draw(seed, Profile::FaultFree)))
        .find(|(_, spec)| {
            matches!(&spec.target, TargetChoice::Flashcache(c) if c.table.mode == CacheMode::WriteBack)
                && spec.segments.len() == 2
                && spec.segments[0].clean_stop
        })
        .expect("a fault-free writeback seed with a clean stop in 0..100");
    let report = run_spec(&spec);
    assert_eq!(report.failure, None, "seed {seed}");
    let phases = report.phases.join("\n");
    assert!(
        phases.contains("segment 0: remove") && phases.contains("segment 0: reload"),
        "seed {seed}: {phases}"
    );
}

/// The CI tier's seed ranges (explore/tests/ci_tier.rs) draw the dimensions that some
/// oracles need to see anything: a member with a foreign superblock, members with a small
/// `max_sectors`, and the smallest kcopyd pool (one sub-job of one cache block).
#[test]
fn the_ci_tier_ranges_draw_the_rare_dimensions() {
    use dmsim_engine::services::kcopyd::KcopydPages;
    let raid5: Vec<SeedSpec> = (0..12)
        .map(|seed| SeedSpec::draw(seed, Profile::Raid5))
        .collect();
    let foreign = raid5
        .iter()
        .filter(|s| s.foreign_superblock_member.is_some())
        .count();
    let small_max = raid5
        .iter()
        .filter(|s| s.devices.iter().any(|d| d.max_sectors.is_some()))
        .count();
    let smallest_pool = [
        (Profile::Swarm, 30),
        (Profile::FaultFree, 30),
        (Profile::Flashcache, 12),
        (Profile::Timeouts, 15),
    ]
    .into_iter()
    .flat_map(|(profile, count)| (0..count).map(move |seed| SeedSpec::draw(seed, profile)))
    .filter(|s| s.kcopyd.config().pages == KcopydPages::Pool { pages: 1 })
    .count();
    assert!(
        foreign > 0 && small_max > 0 && smallest_pool > 0,
        "foreign superblocks {foreign}, small max_sectors {small_max}, smallest pools \
         {smallest_pool}"
    );
}
