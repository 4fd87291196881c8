//! The explorer's CI tier (issue 9 item 5) as one cargo test: a fixed seed range of every
//! profile, then every explorer seed file of the regression corpus, each with every oracle
//! (data, invariants after every input, strict devices, liveness, determinism, pass-through).
//!
//! It is also the test `bench/mutants.sh` gives cargo-mutants, so it asserts only what the
//! oracles say (no pinned hashes or counts): a mutant it kills is one an oracle caught.
//! About 10 s on two cores (the test profile optimises the engine).

use dmsim_engine::marks::MarkCounts;
use dmsim_explore::counter_reach::CounterReach;
use dmsim_explore::{explore, run_spec, FailureKind, Profile, SeedSpec};
use std::path::{Path, PathBuf};

/// Seed ranges per profile: four times the ones `.ci/run` first ran as CLI loops (the tier
/// took under 4 s then, and seeds beyond them reached paths and counter identities the
/// first ranges never did: raid5's write hole, for one, first shows at seed 17).
const RANGES: [(Profile, u64, u64); 5] = [
    (Profile::Swarm, 0, 120),
    (Profile::FaultFree, 0, 120),
    (Profile::Flashcache, 0, 48),
    (Profile::Timeouts, 0, 60),
    (Profile::Raid5, 0, 48),
];

const JOBS: usize = 2;

#[test]
fn fixed_seed_ranges_pass_every_oracle_and_reach_every_mark() {
    let mut marks = MarkCounts::default();
    let mut counter_reach = CounterReach::default();
    let mut failures = Vec::new();
    let mut seeds_run = 0;
    for (profile, first, count) in RANGES {
        let report = explore(first, count, profile, JOBS, &|| true);
        assert_eq!(
            report.seeds_run,
            count,
            "{}: every seed ran",
            profile.name()
        );
        assert!(
            report.reads_verified > 0,
            "{}: no read verified",
            profile.name()
        );
        if profile == Profile::Flashcache {
            // Every flashcache seed's lookups and replacements meet the model.
            assert_eq!(
                report.seeds_policy_checked, report.seeds_run,
                "flashcache seeds the policy model did not compare"
            );
        }
        seeds_run += report.seeds_run;
        marks.add(&report.marks);
        counter_reach.add(&report.counter_reach);
        failures.extend(report.failures.iter().map(|f| {
            format!(
                "dmsim explore --seed {} --profile {}: {}",
                f.seed,
                profile.name(),
                f.failure
            )
        }));
    }
    assert!(
        failures.is_empty(),
        "{} of {seeds_run} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let missing: Vec<&str> = marks.missing().iter().map(|m| m.name()).collect();
    assert!(missing.is_empty(), "marks never reached: {missing:?}");
    let never: Vec<&str> = counter_reach.never_reached();
    let excused: Vec<&str> = COUNTERS_NOT_REACHED.iter().map(|(name, _)| *name).collect();
    let unexplained: Vec<&&str> = never.iter().filter(|n| !excused.contains(n)).collect();
    assert!(
        unexplained.is_empty(),
        "counters no seed moved (a path never driven, or a count that stopped counting): \
         {unexplained:?}"
    );
    let stale: Vec<&&str> = excused.iter().filter(|n| !never.contains(n)).collect();
    assert!(
        stale.is_empty(),
        "counters excused as never reached that the seeds now move: {stale:?}"
    );
}

/// Counters the fixed seed ranges never move, each with why (see
/// `dmsim_explore::counter_reach`). Every other counter must be seen above zero.
const COUNTERS_NOT_REACHED: [(&str, &str); 2] = [
    (
        "flashcache.skipclean",
        "flashcache never counts it (kept for its status text)",
    ),
    (
        "raid5.sync_parity_rewrites",
        "no repair pass meets a parity mismatch",
    ),
];

/// Seeds held against the hit-counting mode (`dmsim hits`): the first fault-free ones it
/// covers in writethrough or writearound (each compared), and in writeback (compared when
/// the run cleaned nothing, which most writeback runs do).
const HITS_SEEDS_WRITE_THROUGH_OR_AROUND: usize = 4;
const HITS_SEEDS_WRITEBACK: usize = 8;

#[test]
fn the_hit_counting_mode_agrees_with_the_timed_engine() {
    use dmsim_engine::flashcache::CacheMode;
    use dmsim_explore::spec::TargetChoice;
    let covered = |writeback: bool| {
        (0..2_000)
            .map(|seed| SeedSpec::draw(seed, Profile::FaultFree))
            .filter(dmsim_explore::hits_check::applies)
            .filter(move |spec| {
                matches!(&spec.target, TargetChoice::Flashcache(c)
                    if (c.table.mode == CacheMode::WriteBack) == writeback)
            })
    };
    let seeds = covered(false)
        .take(HITS_SEEDS_WRITE_THROUGH_OR_AROUND)
        .chain(covered(true).take(HITS_SEEDS_WRITEBACK));
    let mut ran = 0;
    for spec in seeds {
        let report = run_spec(&spec);
        let repro = format!("dmsim explore --seed {} --profile fault-free", spec.seed);
        assert_eq!(report.failure, None, "{repro}");
        let writeback = matches!(&spec.target, TargetChoice::Flashcache(c)
            if c.table.mode == CacheMode::WriteBack);
        assert!(writeback || report.hits_checked, "{repro}: not compared");
        ran += 1;
    }
    assert_eq!(
        ran,
        HITS_SEEDS_WRITE_THROUGH_OR_AROUND + HITS_SEEDS_WRITEBACK,
        "too few seeds the hits check covers"
    );
}

fn regression_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// The explorer seed files of the corpus, through the library (tests/regressions.rs runs the
/// same files through the CLI): fixed ones pass, open ones still fail as recorded, refused
/// ones are refused at setup.
#[test]
fn explorer_regression_seed_files_keep_their_status() {
    let mut replayed = 0;
    for file in regression_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        if doc["run"]["command"] != "explore" {
            continue;
        }
        let what = file.display();
        let spec: SeedSpec = serde_json::from_value(doc["spec"].clone())
            .unwrap_or_else(|e| panic!("{what}: not a seed spec: {e}"));
        let report = match spec.validate() {
            Ok(()) => run_spec(&spec),
            Err(refusal) => {
                assert_eq!(doc["status"], "refused", "{what}: {refusal}");
                replayed += 1;
                continue;
            }
        };
        match doc["status"].as_str() {
            None | Some("fixed") => {
                assert_eq!(report.failure, None, "{what}");
                assert!(report.reads_verified > 0, "{what}: no read verified");
            }
            Some("open") => {
                let expected = doc["open_failure"].as_str().expect("open_failure");
                let failure = report
                    .failure
                    .unwrap_or_else(|| panic!("{what}: the open bug passes now; update the file"));
                assert!(failure.to_string().contains(expected), "{what}: {failure}");
            }
            Some("refused") => {
                let expected = doc["refusal"].as_str().expect("refusal");
                let failure = report
                    .failure
                    .unwrap_or_else(|| panic!("{what}: a refused spec ran"));
                assert_eq!(failure.kind, FailureKind::Setup, "{what}: {failure}");
                assert!(failure.message.contains(expected), "{what}: {failure}");
            }
            Some(other) => panic!("{what}: status `{other}`"),
        }
        replayed += 1;
    }
    assert!(replayed >= 6, "only {replayed} explorer seed files");
}
