//! End-to-end tests of `dmsim explore`: a seed file replays, its JSON report, and bad input
//! (unknown profile, missing or broken seed file, zero jobs) refused with a clear message.

mod cli_support;

use cli_support::dmsim;

use dmsim_explore::{Profile, SeedSpec};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small seed file (few requests: fast in debug) in a fresh directory, removed when the
/// returned guard drops.
fn seed_file() -> (tempfile::TempDir, std::path::PathBuf, SeedSpec) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SeedSpec::draw(5, Profile::Flashcache);
    for segment in &mut spec.segments {
        segment.requests = segment.requests.min(50);
    }
    let path = dir.path().join("seed.json");
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    (dir, path, spec)
}

#[test]
fn a_seed_file_replays_the_same_run_twice() {
    let (_dir, path, spec) = seed_file();
    let path = path.to_str().unwrap();
    let out = dmsim(&["explore", "--replay", path, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["seed"], spec.seed);
    assert!(report["failure"].is_null(), "{report}");
    assert!(report["bios_done"].as_u64().unwrap() > 0);
    let again = dmsim(&["explore", "--replay", path, "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["event_hash"], again["event_hash"]);
}

#[test]
fn bad_input_is_refused_naming_what_is_wrong() {
    let out = dmsim(&["explore", "--profile", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nope") && stderr(&out).contains("--profile"),
        "{}",
        stderr(&out)
    );

    let out = dmsim(&["explore", "--jobs", "0", "--seeds", "1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--jobs"), "{}", stderr(&out));

    let out = dmsim(&["explore", "--replay", "/nonexistent/seed.json"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/seed.json"),
        "{}",
        stderr(&out)
    );

    let (_dir, path, _) = seed_file();
    std::fs::write(&path, "{\n  \"seed\": 1,\n  oops\n}\n").unwrap();
    let out = dmsim(&["explore", "--replay", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));

    std::fs::write(&path, "{\"seed\": 1}").unwrap();
    let out = dmsim(&["explore", "--replay", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a seed spec"), "{}", stderr(&out));

    let (_dir, path, mut spec) = seed_file();
    spec.queue_depth = 0;
    std::fs::write(&path, serde_json::to_string(&spec).unwrap()).unwrap();
    let out = dmsim(&["explore", "--replay", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("queue_depth"), "{}", stderr(&out));
}

#[test]
fn events_writes_one_runs_whole_log_the_same_every_time() {
    let (dir, path, spec) = seed_file();
    let path = path.to_str().unwrap();
    let log = dir.path().join("events.txt");
    let run = || {
        let out = dmsim(&[
            "explore",
            "--replay",
            path,
            "--events",
            log.to_str().unwrap(),
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read_to_string(&log).unwrap()
    };
    let text = run();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("# dmsim explore event log: seed {}", spec.seed)),
        "{}",
        lines[0]
    );
    assert_eq!(lines.last(), Some(&"# end: the run passed"));
    let events = lines.iter().filter(|l| !l.starts_with('#')).count();
    assert!(
        lines.iter().any(|l| l.contains(" in Bio(")) && events > 100,
        "{events} events"
    );
    // A segment whose clean stop reloaded the cache skips its power loss.
    let losses = spec.segments.iter().filter(|s| s.power_loss.is_some());
    let (losses_max, losses_min) = (
        losses.clone().count(),
        losses.filter(|s| !s.clean_stop).count(),
    );
    let noted = lines.iter().filter(|l| l.contains(" power loss ")).count();
    assert!(
        (losses_min..=losses_max).contains(&noted) && losses_max > 0,
        "{noted} power losses noted, {losses_min}..={losses_max} drawn"
    );
    for index in 0..spec.segments.len() {
        let note = format!(" segment {index}: ");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with('#') && l.contains(&note)),
            "{note}"
        );
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with('#') && l.contains(" liveness: ")));
    // Each segment with a power loss ends in one or in a clean stop's reload.
    let restarts = lines.iter().filter(|l| l.contains(" clean stop ")).count();
    assert!(noted + restarts >= losses_max, "{noted} + {restarts} notes");
    assert_eq!(run(), text, "the same log again");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
}

#[test]
fn events_without_one_seed_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.txt");
    let out = dmsim(&["explore", "--seeds", "2", "--events", log.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--events") && stderr(&out).contains("--seed or --replay"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
