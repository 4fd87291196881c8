//! `dmsim hits`: the counters `replay --qd 1` reports, from the same trace with the same
//! cache flags (writethrough and writearound: equal whatever the devices' timing; see
//! `dmsim_engine::flashcache::hits`), and its refusals.

use std::process::{Command, Output};

const TRACE: &str = "scenarios/bundled/traces/msr-cambridge1-sample.csv";

fn dmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let output = dmsim(args);
    assert!(
        output.status.success(),
        "dmsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

#[test]
fn hits_counters_equal_replay_qd1_counters() {
    for (mode, policy) in [
        ("writethrough", "fifo"),
        ("writethrough", "lru"),
        ("writearound", "lru"),
    ] {
        let cache = [
            "--mode",
            mode,
            "--policy",
            policy,
            "--cache-blocks",
            "1024",
            "--json",
        ];
        let mut replay_args = vec!["replay", TRACE, "--qd", "1", "-q"];
        replay_args.extend(cache);
        let mut hits_args = vec!["hits", TRACE];
        hits_args.extend(cache);
        let replay = json(&replay_args);
        let hits = json(&hits_args);
        let stats = hits["stats"].as_object().expect("stats");
        assert!(
            stats.len() > 40,
            "{mode}/{policy}: every counter: {stats:?}"
        );
        for (name, value) in stats {
            assert_eq!(replay["stats"][name], *value, "{mode}/{policy}: {name}");
        }
        assert_eq!(hits["requests"], 1000);
        assert!(
            hits["stats"]["read_hits"].as_u64() > Some(0),
            "{mode}/{policy}"
        );
    }
}

#[test]
fn hits_prints_the_hit_ratios() {
    let output = dmsim(&[
        "hits",
        TRACE,
        "--mode",
        "writethrough",
        "--cache-blocks",
        "1024",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("1000 requests, 2473 bios"), "{text}");
    assert!(text.contains("read hits 57 (3.71%)"), "{text}");
}

#[test]
fn hits_refuses_a_raid5_disk() {
    let output = dmsim(&["hits", TRACE, "--hdd-raid5", "4xhdd-7200"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--hdd-raid5"));
}
