//! `dmsim replay --target linear`: the no-cache baseline. The same trace, pacing and data
//! verification as a cache replay, onto the bare disk: every request becomes exactly one disk
//! IO (nothing cached, nothing cleaned, the SSD idle), flashcache's counters are absent rather
//! than zero, and the cache's flags are refused instead of silently ignored.

use std::process::{Command, Output};

const TRACE: &str = "scenarios/bundled/traces/msr-cambridge1-sample.csv";

fn dmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

fn summary(args: &[&str]) -> serde_json::Value {
    let output = dmsim(args);
    assert!(
        output.status.success(),
        "dmsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

fn device<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["devices"]
        .as_array()
        .expect("devices is a list")
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no device {name} in {}", summary["devices"]))
}

#[test]
fn a_linear_replay_sends_every_request_to_the_disk_once_and_verifies_every_read() {
    let linear = summary(&["replay", TRACE, "--target", "linear", "--json"]);
    let requests = linear["requests"].as_u64().unwrap();
    let reads = linear["latency"]["read"]["count"].as_u64().unwrap();
    let writes = linear["latency"]["write"]["count"].as_u64().unwrap();
    assert_eq!(requests, 1000);
    assert_eq!(reads + writes, requests);
    assert_eq!(linear["verified_reads"].as_u64().unwrap(), reads);
    assert_eq!(linear["data_errors"], 0);
    // No request of this trace exceeds the disk's largest IO: one disk IO per request.
    let hdd = device(&linear, "hdd");
    assert_eq!(hdd["reads"].as_u64().unwrap(), reads, "{hdd}");
    assert_eq!(hdd["writes"].as_u64().unwrap(), writes, "{hdd}");
    let ssd = device(&linear, "ssd");
    assert_eq!(
        (ssd["reads"].as_u64(), ssd["writes"].as_u64()),
        (Some(0), Some(0))
    );
    // What ran is on record, and nothing of a cache is.
    let config = &linear["config"];
    assert_eq!(config["target"], "linear");
    assert_eq!(linear["label"], "linear");
    for key in ["flashcache", "mode", "policy", "ssd", "deviations"] {
        assert!(
            config.get(key).is_none(),
            "config.{key} on a linear run: {config}"
        );
    }
    assert_eq!(
        linear["stats"],
        serde_json::json!({}),
        "no flashcache counters"
    );

    // The cache replay of the same trace moves the same requests but not the same disk IO:
    // writeback absorbs writes on the SSD.
    let cached = summary(&["replay", TRACE, "--json"]);
    assert_eq!(cached["requests"].as_u64().unwrap(), requests);
    assert_eq!(cached["config"]["mode"], "writeback");
    assert!(device(&cached, "ssd")["writes"].as_u64().unwrap() > 0);
    assert!(
        device(&cached, "hdd")["writes"].as_u64().unwrap() < writes,
        "writeback wrote as much to the disk as linear: {}",
        cached["devices"]
    );
}

#[test]
fn a_linear_replay_over_raid5_verifies_through_the_array() {
    let linear = summary(&[
        "replay",
        TRACE,
        "--target",
        "linear",
        "--hdd-raid5",
        "4xhdd-7200",
        "--chunk",
        "64k",
        "--json",
    ]);
    assert_eq!(linear["data_errors"], 0);
    let reads = linear["latency"]["read"]["count"].as_u64().unwrap();
    assert_eq!(linear["verified_reads"].as_u64().unwrap(), reads);
    assert!(reads > 0);
    assert_eq!(linear["config"]["target"], "linear");
}

#[test]
fn the_text_summary_says_there_is_no_cache() {
    let output = dmsim(&["replay", TRACE, "--target", "linear"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("no cache (--target linear)"), "{text}");
    assert!(!text.contains("hit ratio"), "{text}");
}

#[test]
fn cache_flags_with_linear_are_refused_naming_the_flag() {
    for (extra, needle) in [
        (&["--mode", "writethrough"][..], "--mode does nothing here"),
        (&["--policy", "lru"][..], "--policy does nothing here"),
        (
            &["--cache-size", "4m"][..],
            "--cache-size does nothing here",
        ),
        (&["--assoc", "8"][..], "--assoc does nothing here"),
        (&["--ssd", "ssd-sata"][..], "--ssd does nothing here"),
        (
            &["--set", "dirty_thresh_pct=30"][..],
            "--set dirty_thresh_pct=30 does nothing here",
        ),
        (
            &[
                "--real",
                "--ssd-dev",
                "/dev/null",
                "--hdd-dev",
                "/dev/zero",
                "--allow-write",
            ][..],
            "runs on simulated devices",
        ),
    ] {
        let mut args = vec!["replay", TRACE, "--target", "linear", "--json"];
        args.extend_from_slice(extra);
        let output = dmsim(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(output.stdout.is_empty(), "{args:?} printed a result");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
    // The disk's own parameters still apply.
    let output = dmsim(&[
        "replay",
        TRACE,
        "--target",
        "linear",
        "--set",
        "hdd.queue.depth=4",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
