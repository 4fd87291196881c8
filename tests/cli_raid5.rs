//! End-to-end tests of md raid5 through the CLI binary (issue 10, stacking): `--hdd-raid5
//! NxPRESET --chunk SIZE` puts an md raid5 array of simulated members under flashcache
//! (`run`, `replay`, `compare`, or the scenario fields `devices.hdd_raid5`/`devices.chunk`)
//! or under linear (`run --target linear`), every read verified by the data oracle through
//! the whole stack, md's counters in summary.json; bad shapes are refused naming the flag.

use std::process::Command;

fn dmsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

fn summary(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn flashcache_on_an_hdd_raid5_verifies_every_read_and_reports_md_counters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "flashcache",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "64k",
        "--cache-size",
        "4m",
        "--workload",
        "randrw",
        "--qd",
        "8",
        "--requests",
        "3000",
        "--span",
        "32m",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[4/4] [UUUU]"), "mdstat line: {stdout}");
    assert!(stdout.contains("64k chunk"), "{stdout}");
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1000);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    let stat = |name: &str| {
        s["stats"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("stats.{name}"))
    };
    // The cache misses to and cleans onto the array, which turns them into member IO.
    assert!(stat("raid5.reads") > 0 && stat("raid5.writes") > 0);
    assert!(stat("raid5.member_writes") >= 2 * stat("raid5.writes"));
    assert!(stat("raid5.rmw") + stat("raid5.rcw") > 0);
    assert_eq!(stat("raid5.degraded"), 0);
    assert_eq!(stat("raid5.stripe_cache_size"), 256);
    assert_eq!(s["config"]["raid5"]["members"], 4);
    assert_eq!(s["config"]["raid5"]["config"]["chunk_sectors"], 128);
    assert_eq!(s["config"]["raid5"]["config"]["layout"], "left-symmetric");
    // The SSD and four members are the devices; the array is not one.
    assert_eq!(
        s["devices"].as_array().map(Vec::len),
        Some(5),
        "{}",
        s["devices"]
    );
}

#[test]
fn linear_on_raid5_is_verified_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = dmsim(&[
            "run",
            "--target",
            "linear",
            "--hdd-raid5",
            "3xram",
            "--chunk",
            "16k",
            "--workload",
            "randrw",
            "--bs",
            "8k",
            "--qd",
            "8",
            "--requests",
            "3000",
            "--span",
            "8m",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out.join("summary.json")).unwrap()
    };
    let first = run("a", "4");
    assert_eq!(first, run("b", "4"), "same seed, byte-identical summary");
    assert_ne!(first, run("c", "5"));
    let s = summary(&dir.path().join("a"));
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1000);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    assert_eq!(s["data_errors"], 0);
    assert!(s["stats"]["raid5.member_reads"].as_u64().unwrap() > 0);
}

#[test]
fn a_scenario_names_the_array_and_compare_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("raid.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "raid5-hm0",
  "input": { "trace": { "path": "bundled:msr-cambridge1-sample.csv", "format": "msr" } },
  "devices": { "ssd": "ssd-nvme", "hdd_raid5": "4xhdd-7200", "chunk": "64k" },
  "cache": { "cache_size": "8m", "assoc": "256" },
  "grid": { "modes": ["writeback", "writethrough"], "policies": ["fifo"] }
}"#,
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let o = dmsim(&[
        "compare",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("compare.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["config"]["raid5"]["members"], 4, "{}", run["config"]);
        assert_eq!(run["data_errors"], 0);
        assert!(run["verified_reads"].as_u64().unwrap() > 0);
        assert!(run["stats"]["raid5.writes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn impossible_arrays_are_refused_naming_the_flag() {
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["--hdd-raid5", "2xram"],
            &["--hdd-raid5", "3 to 16 members"],
        ),
        (
            &["--hdd-raid5", "17xram"],
            &["--hdd-raid5", "3 to 16 members"],
        ),
        (&["--hdd-raid5", "fourxram"], &["--hdd-raid5", "NxPRESET"]),
        (&["--hdd-raid5", "4xnope"], &["--hdd-raid5", "nope"]),
        (
            &["--hdd-raid5", "4xram", "--chunk", "6k"],
            &["--chunk", "power of two"],
        ),
        (&["--chunk", "64k"], &["--chunk", "--hdd-raid5"]),
        (
            &["--hdd-raid5", "4xram", "--set", "raid5.stripe_cache_size=5"],
            &["stripe_cache_size"],
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run", "--target", "flashcache", "--requests", "10"];
        args.extend_from_slice(flags);
        let o = dmsim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?} accepted");
        assert!(!err.contains("panicked"), "{flags:?}: {err}");
        for word in expected {
            assert!(err.contains(word), "{flags:?}: {err}");
        }
    }
}
