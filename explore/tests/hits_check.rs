//! The hits check itself: it passes on a run the hit-counting mode repeats, and reports a
//! difference when the hit-counting mode is given other control messages than the run had.

use dmsim_engine::flashcache::CacheMode;
use dmsim_engine::Engine;
use dmsim_explore::hits_check::{applies, check};
use dmsim_explore::rig::{workload, Rig};
use dmsim_explore::spec::TargetChoice;
use dmsim_explore::{Profile, SeedSpec};

/// The first fault-free writethrough seed the check covers whose first segment sends no
/// message.
fn plain_spec() -> SeedSpec {
    (0..2_000)
        .map(|seed| SeedSpec::draw(seed, Profile::FaultFree))
        .find(|spec| {
            applies(spec)
                && spec.segments[0].messages.is_empty()
                && matches!(&spec.target, TargetChoice::Flashcache(c) if c.table.mode == CacheMode::WriteThrough)
        })
        .expect("a covered writethrough seed without messages")
}

/// The first segment's requests through the timed engine, to idle.
fn timed_run(spec: &SeedSpec) -> (Rig, Engine) {
    let mut rig = Rig::new(spec).expect("a valid spec");
    let mut checker = rig.checker();
    let mut engine = rig.engine().expect("an engine");
    let records = workload(&spec.workload, spec.segments[0].requests, 0);
    let mut source = rig.source(records);
    rig.run(
        &mut engine,
        &mut source,
        &mut checker,
        None,
        spec.segment_time_ns(),
    )
    .expect("the segment runs");
    assert!(engine.is_idle(), "seed {}: idle at the end", spec.seed);
    (rig, engine)
}

#[test]
fn the_same_requests_agree_and_other_messages_differ() {
    let spec = plain_spec();
    let (rig, engine) = timed_run(&spec);
    let compared = check(&spec, rig.cache_device_sizes(), &engine).expect("the same run agrees");
    assert!(compared, "seed {}: compared", spec.seed);

    // Told that the run turned caching off for every pid, the hit-counting mode caches
    // nothing, unlike the run.
    let mut other = spec.clone();
    other.segments[0]
        .messages
        .push("set cache_all 0".to_string());
    let error = check(&other, rig.cache_device_sizes(), &engine).expect_err("they differ");
    assert!(error.contains("differs from the timed run"), "{error}");
}

#[test]
fn deeper_queues_and_faults_are_not_covered() {
    let spec = plain_spec();
    let mut deeper = spec.clone();
    deeper.queue_depth = 2;
    assert!(!applies(&deeper));
    let mut faulty = spec.clone();
    faulty.buggify = true;
    assert!(!applies(&faulty));
}
