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

/// `--dev PRESET`: the trace onto one simulated device alone, named `dev`.
fn bare(preset: &str, pacing: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "replay", TRACE, "--target", "linear", "--dev", preset, "--json",
    ];
    args.extend_from_slice(pacing);
    summary(&args)
}

fn mean_ns(summary: &serde_json::Value, op: &str) -> f64 {
    summary["latency"][op]["mean_ns"].as_f64().unwrap()
}

#[test]
fn a_bare_device_replay_sends_every_request_to_that_one_device() {
    for pacing in [&["--qd", "32"][..], &["--open-loop", "--speed", "10"][..]] {
        let hdd = bare("hdd-7200", pacing);
        let ssd = bare("ssd-nvme", pacing);
        for (preset, run) in [("hdd-7200", &hdd), ("ssd-nvme", &ssd)] {
            let reads = run["latency"]["read"]["count"].as_u64().unwrap();
            let writes = run["latency"]["write"]["count"].as_u64().unwrap();
            assert_eq!(run["requests"], 1000, "{preset} {pacing:?}");
            assert_eq!(run["verified_reads"].as_u64().unwrap(), reads);
            assert_eq!(run["data_errors"], 0);
            // The device alone: no idle SSD beside it, one device IO per request.
            let devices = run["devices"].as_array().unwrap();
            assert_eq!(devices.len(), 1, "{preset}: {}", run["devices"]);
            let dev = device(run, "dev");
            assert_eq!(dev["reads"].as_u64().unwrap(), reads, "{preset}: {dev}");
            assert_eq!(dev["writes"].as_u64().unwrap(), writes, "{preset}: {dev}");
            assert_eq!(run["config"]["dev"], preset);
            assert!(run["config"]["devices"]["dev"].is_object());
            assert!(run["config"].get("hdd").is_none(), "{}", run["config"]);
        }
        // Seeks and rotation against flash: the disk is orders of magnitude slower.
        let (hdd_read, ssd_read) = (mean_ns(&hdd, "read"), mean_ns(&ssd, "read"));
        assert!(
            hdd_read > 50.0 * ssd_read,
            "{pacing:?}: hdd read mean {hdd_read} ns, ssd {ssd_read} ns"
        );
    }
    // `--dev P` is `--hdd P` without the idle SSD: the same timing, request for request.
    let via_hdd = summary(&[
        "replay", TRACE, "--target", "linear", "--hdd", "hdd-7200", "--json",
    ]);
    assert_eq!(bare("hdd-7200", &[])["latency"], via_hdd["latency"]);
}

#[test]
fn dev_is_a_preset_of_the_linear_target_only() {
    for (args, needle) in [
        (
            &["--target", "linear", "--dev", "/dev/sdb"][..],
            "dmsim run --real --target linear --dev /dev/sdb",
        ),
        (
            &["--target", "linear", "--dev", "nope"][..],
            "--dev: unknown device preset 'nope'",
        ),
        (&["--dev", "ssd-nvme"][..], "one device of --target linear"),
        (
            &[
                "--target", "linear", "--dev", "ssd-nvme", "--hdd", "hdd-15k",
            ][..],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["replay", TRACE, "--json"];
        all.extend_from_slice(args);
        let output = dmsim(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(output.stdout.is_empty(), "{args:?} printed a result");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
}
