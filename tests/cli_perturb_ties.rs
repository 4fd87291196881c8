//! `--perturb-ties SEED`: completions the simulated devices deliver at the same virtual
//! nanosecond reach the engine in a seeded order. The same seed must give the same run byte
//! for byte; other seeds must reach other interleavings (else the flag does nothing); real
//! devices refuse it (they have no ties to order).

use std::collections::BTreeSet;
use std::process::Command;

/// A flashcache run on two `ram` devices (fixed latency: every completion of a batch ties)
/// at queue depth 32, its JSON summary with `perturb` appended to the flags.
fn summary(perturb: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "--target",
        "flashcache",
        "--ssd",
        "ram",
        "--hdd",
        "ram",
        "--qd",
        "32",
        "--requests",
        "3000",
        "--cache-size",
        "4m",
        "--json",
    ];
    args.extend_from_slice(perturb);
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(&args)
        .output()
        .expect("dmsim runs");
    assert!(
        output.status.success(),
        "dmsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

/// The summary without its configuration (which names the perturbation seed itself).
fn results(mut summary: serde_json::Value) -> String {
    summary.as_object_mut().expect("an object").remove("config");
    summary.to_string()
}

#[test]
fn the_same_perturbation_seed_gives_the_same_run() {
    let first = summary(&["--perturb-ties", "7"]);
    let second = summary(&["--perturb-ties", "7"]);
    assert_eq!(first, second);
    assert_eq!(first["config"]["perturb_ties_seed"], 7);
    assert_eq!(first["data_errors"], 0);
}

#[test]
fn other_perturbation_seeds_reach_other_interleavings() {
    let unperturbed = summary(&[]);
    assert!(
        unperturbed["config"].get("perturb_ties_seed").is_none(),
        "an unperturbed run's configuration is what it always was"
    );
    let mut distinct = BTreeSet::new();
    distinct.insert(results(unperturbed));
    for seed in ["1", "2", "3"] {
        let run = summary(&["--perturb-ties", seed]);
        assert_eq!(run["data_errors"], 0, "seed {seed}");
        distinct.insert(results(run));
    }
    // Measured: all four differ. At least three must, or the order barely reaches the engine.
    assert!(
        distinct.len() >= 3,
        "only {} distinct results from 4 tie orders",
        distinct.len()
    );
}

#[test]
fn real_devices_refuse_a_tie_perturbation() {
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args([
            "run",
            "--real",
            "--dev",
            "/dev/null",
            "--workload",
            "randread",
            "--requests",
            "1",
            "--perturb-ties",
            "1",
        ])
        .output()
        .expect("dmsim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "accepted: {stderr}");
    assert!(
        stderr.contains("--perturb-ties") && stderr.contains("--real"),
        "{stderr}"
    );
}
