//! A flashcache setup a hang fault holds (its synchronous metadata IO has no timeout) is held,
//! not a liveness failure: the create before a segment's messages, and the reload after a
//! clean stop (regression 011).

use dmsim_engine::flashcache::CacheMode;
use dmsim_explore::spec::TargetChoice;
use dmsim_explore::{run_spec, Profile, SeedSpec};
use serde_json::{json, Value};

/// A fault-free writeback seed whose first segment stops cleanly, as JSON to edit.
fn writeback_seed_with_clean_stop() -> Value {
    let spec = (0..100)
        .map(|seed| SeedSpec::draw(seed, Profile::FaultFree))
        .find(|spec| {
            matches!(&spec.target, TargetChoice::Flashcache(c) if c.table.mode == CacheMode::WriteBack)
                && spec.segments.len() == 2
                && spec.segments[0].clean_stop
        })
        .expect("a fault-free writeback seed with a clean stop in 0..100");
    let mut value = serde_json::to_value(&spec).expect("a spec serializes");
    value["segments"][0]["requests"] = json!(30);
    value["segments"][1]["requests"] = json!(30);
    // A held setup never ends: the segment's power loss ends it.
    value["segments"][0]["power_loss"] =
        json!({ "cache_survival_ppm": 500_000, "tear_cached_blocks": false });
    value
}

/// One hang on the SSD's superblock (sectors 0..8): the first `op` IO there after `skip`.
fn superblock_hang(op: &str, skip: u64) -> Value {
    json!([{
        "kind": "rule",
        "op": op,
        "range": { "sector": 0, "sectors": 8 },
        "skip": skip,
        "count": 1,
        "rate_ppm": 1_000_000,
        "action": "hang",
    }])
}

/// Runs the spec; every oracle must pass. Its phases and verified reads.
fn run(value: Value) -> (Vec<String>, u64) {
    let spec: SeedSpec = serde_json::from_value(value).expect("a valid spec");
    let report = run_spec(&spec);
    assert_eq!(report.failure, None, "phases: {:#?}", report.phases);
    (report.phases, report.reads_verified)
}

#[test]
fn a_create_held_by_a_hang_skips_the_messages_and_the_power_loss_ends_it() {
    let mut value = writeback_seed_with_clean_stop();
    // The create writes the superblock at sector 0 after its slots.
    value["faults"][0] = superblock_hang("write", 0);
    value["segments"][0]["messages"] = json!(["set lru_hot_pct 50"]);
    // Whether the held superblock write lands at the power loss decides if the cache
    // reloads; a superblock that never landed fails the reload (no cache): both are fine.
    let (phases, _) = run(value);
    assert!(
        phases
            .iter()
            .any(|p| p.starts_with("segment 0: setup: held by a hang fault")),
        "{phases:#?}"
    );
}

#[test]
fn a_reload_held_by_a_hang_after_a_clean_stop_is_blocked() {
    let mut value = writeback_seed_with_clean_stop();
    // The create probes sector 0 first (skipped); the reload's superblock read hangs.
    value["faults"][0] = superblock_hang("read", 1);
    let (phases, reads_verified) = run(value);
    assert!(reads_verified > 0, "{phases:#?}");
    assert!(
        phases
            .iter()
            .any(|p| p.starts_with("segment 0: reload: held by a hang fault")),
        "{phases:#?}"
    );
}
