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

/// A trace whose hit ratios change with the cache size (the MSR sample's working set fits in
/// the smallest cache).
const TPCC: &str = "testdata/traces/tpcc-small.trace";

/// Miss-ratio curves: each cell of `--cache-sizes` × `--modes` × `--policies` has exactly the
/// counters of a single `dmsim hits` run with that --cache-size, --mode and --policy.
#[test]
fn every_cell_of_a_grid_equals_a_single_run() {
    let grid = json(&[
        "hits",
        TPCC,
        "--cache-sizes",
        "4m,16m,64m",
        "--modes",
        "writeback,writearound",
        "--policies",
        "fifo,lru",
        "--jobs",
        "2",
        "--json",
    ]);
    let cells = grid["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 2 * 2 * 3);
    assert_eq!(grid["records"], 6999);
    let mut read_hits = std::collections::BTreeSet::new();
    for cell in cells {
        let (mode, policy) = (
            cell["mode"].as_str().unwrap(),
            cell["policy"].as_str().unwrap(),
        );
        let size = cell["cache_size_bytes"].as_u64().unwrap().to_string();
        let single = json(&[
            "hits",
            TPCC,
            "--cache-size",
            &size,
            "--mode",
            mode,
            "--policy",
            policy,
            "--json",
        ]);
        let what = format!("{mode}/{policy} at {size} bytes");
        assert_eq!(cell["stats"], single["stats"], "{what}");
        assert_eq!(cell["requests"], single["requests"], "{what}");
        assert_eq!(
            cell["cache_blocks"], single["stats"]["size_blocks"],
            "{what}"
        );
        let stats = &single["stats"];
        let ratio = |hits: &str, lookups: &str| {
            stats[hits].as_u64().unwrap() as f64 / stats[lookups].as_u64().unwrap() as f64
        };
        assert_eq!(
            cell["read_hit_ratio"].as_f64(),
            Some(ratio("read_hits", "reads"))
        );
        read_hits.insert(stats["read_hits"].as_u64().unwrap());
    }
    assert!(
        read_hits.len() > 3,
        "the sizes change the hits: {read_hits:?}"
    );
}

/// The grid's output — stdout and every file of --out — is byte-identical whatever --jobs.
#[test]
fn a_grid_is_the_same_whatever_the_number_of_jobs() {
    let root = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for jobs in ["1", "3"] {
        let dir = root.path().join(format!("jobs{jobs}"));
        let output = dmsim(&[
            "hits",
            TPCC,
            "--cache-sizes",
            "4m..64m:5",
            "--modes",
            "all",
            "--policies",
            "lru,fifo",
            "--jobs",
            jobs,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains("| write-only/fifo "), "{stdout}");
        outputs.push((stdout.replace(dir.to_str().unwrap(), "DIR"), dir));
    }
    assert_eq!(outputs[0].0, outputs[1].0, "stdout");
    for name in ["mrc.json", "mrc.svg", "mrc.png", "index.html"] {
        let first = std::fs::read(outputs[0].1.join(name)).unwrap();
        assert!(!first.is_empty(), "{name}");
        assert_eq!(
            first,
            std::fs::read(outputs[1].1.join(name)).unwrap(),
            "{name}"
        );
    }
    let page = std::fs::read_to_string(outputs[0].1.join("index.html")).unwrap();
    for expected in [
        "tpcc-small.trace",
        "6999 (6999 requests counted, 0 skipped",
        "4 MiB, 8 MiB, 16 MiB, 32 MiB, 64 MiB",
        "writeback, writethrough, writearound, write-only",
        "lru, fifo",
        "<td class=\"label\">assoc</td><td>512</td>",
        "4 KiB",
        "mrc.svg",
    ] {
        assert!(page.contains(expected), "index.html lacks {expected}");
    }
}

#[test]
fn a_range_doubles_and_the_modes_default_to_mode() {
    let grid = json(&[
        "hits",
        TPCC,
        "--cache-sizes",
        "4m..32m",
        "--mode",
        "writethrough",
        "--json",
    ]);
    let sizes: Vec<u64> = grid["sizes_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() >> 20)
        .collect();
    assert_eq!(sizes, [4, 8, 16, 32]);
    assert_eq!(grid["modes"], serde_json::json!(["writethrough"]));
    assert_eq!(grid["policies"], serde_json::json!(["fifo"]));
}
