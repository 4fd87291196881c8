//! Defaults a storage engineer expects (issue 13.6): the probe says the span it measured,
//! `run`, `replay` and `compare` share one default queue depth, and flags that do nothing in
//! the chosen mode are refused with the reason instead of being ignored.

use std::process::{Command, Output};

const MSR_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
);

fn dmsim(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    output
}

fn accepted(args: &[&str]) -> String {
    let o = dmsim(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn refused(args: &[&str], needles: &[&str]) {
    let o = dmsim(args);
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} was accepted: {text}");
    assert!(o.stdout.is_empty(), "{args:?} printed a result");
    for needle in needles {
        assert!(text.contains(needle), "{args:?}: `{needle}` not in: {text}");
    }
}

#[test]
fn the_probe_prints_the_span_it_used() {
    let text = accepted(&["devices", "probe", "ram", "--qd", "1", "--requests", "200"]);
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("span ") && header.contains("; default: the first 16.0 GiB"),
        "{header}"
    );

    let text = accepted(&[
        "devices",
        "probe",
        "ram",
        "--qd",
        "1",
        "--requests",
        "200",
        "--span",
        "1m",
    ]);
    assert!(text.contains("span 1048576 B (1.0 MiB)"), "{text}");

    let json = accepted(&[
        "devices",
        "probe",
        "ram",
        "--qd",
        "1,2",
        "--requests",
        "200",
        "--span",
        "2m",
        "--json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["span_bytes"], 2 << 20, "{row}");
    }
}

#[test]
fn run_replay_and_compare_share_one_default_queue_depth() {
    let run = accepted(&["run", "--requests", "200", "--span", "64m", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    let replay = accepted(&[
        "replay", MSR_SAMPLE, "--limit", "200", "--hdd", "ram", "--json",
    ]);
    let replay: serde_json::Value = serde_json::from_str(&replay).unwrap();
    assert_eq!(run["config"]["qd"], 32, "{}", run["config"]);
    assert_eq!(replay["config"]["pacing"]["qd"], 32, "{}", replay["config"]);
    // The help of each says the same default and why.
    for command in ["run", "replay", "compare"] {
        let help = accepted(&[command, "--help"]);
        let qd_help: String = help
            .split("--qd")
            .nth(1)
            .expect("a --qd flag")
            .chars()
            .take(300)
            .collect();
        assert!(qd_help.contains("32"), "{command}: {qd_help}");
    }
}

#[test]
fn cache_flags_with_the_linear_target_are_refused_with_the_reason() {
    for flag in [
        ["--cache-size", "1g"],
        ["--ssd", "ssd-nvme"],
        ["--assoc", "256"],
        ["--mode", "writethrough"],
        ["--policy", "lru"],
        ["--block-size", "8k"],
    ] {
        let mut args = vec!["run", "--target", "linear", "--requests", "10"];
        args.extend(flag);
        refused(
            &args,
            &[
                &format!("{} does nothing here", flag[0]),
                "linear target has no cache",
            ],
        );
    }
}

#[test]
fn device_flags_of_the_other_mode_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev");
    std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
    let dev = file.to_str().unwrap();
    refused(
        &[
            "run",
            "--target",
            "flashcache",
            "--real",
            "--dev",
            dev,
            "--requests",
            "10",
        ],
        &["--dev does nothing here", "--ssd-dev"],
    );
    refused(
        &[
            "run",
            "--target",
            "linear",
            "--real",
            "--dev",
            dev,
            "--hdd",
            "hdd-7200",
            "--requests",
            "10",
        ],
        &["--hdd does nothing here", "simulated device preset"],
    );
    refused(
        &[
            "replay",
            MSR_SAMPLE,
            "--real",
            "--ssd-dev",
            dev,
            "--hdd-dev",
            dev,
            "--allow-write",
            "--ssd",
            "ssd-sata",
        ],
        &["--ssd does nothing here", "with --real"],
    );
}

#[test]
fn open_loop_options_without_open_loop_are_refused_with_the_reason() {
    refused(
        &["replay", MSR_SAMPLE, "--speed", "2"],
        &["--speed does nothing here", "--open-loop"],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    refused(
        &[
            "compare",
            MSR_SAMPLE,
            "--speed",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
        &["--speed does nothing here", "--open-loop"],
    );
    assert!(!out.exists(), "nothing is written for a refused comparison");
}
