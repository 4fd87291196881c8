//! End-to-end tests of `dmsim run --target linear` on simulated devices: every read verified,
//! summary.json shape, determinism, and bad input.

mod cli_support;

use cli_support::dmsim;

#[test]
fn linear_randrw_verifies_every_read_and_writes_summary_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "linear",
        "--hdd",
        "ram",
        "--workload",
        "randrw",
        "--bs",
        "4k",
        "--qd",
        "16",
        "--requests",
        "20000",
        "--span",
        "1m",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["requests"], 20000);
    assert_eq!(s["bytes"], 20000 * 4096);
    assert_eq!(s["data_errors"], 0);
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 9000, "about half are reads: {reads}");
    assert_eq!(
        s["verified_reads"].as_u64().unwrap(),
        reads,
        "every read verified"
    );
    for key in ["mean_ns", "p50_ns", "p99_ns", "p999_ns"] {
        assert!(s["latency"][key].as_f64().unwrap() > 0.0, "latency.{key}");
    }
    assert!(s["iops"].as_f64().unwrap() > 0.0);
}

#[test]
fn same_seed_gives_byte_identical_summaries_on_a_hard_disk() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = dmsim(&[
            "run",
            "--hdd",
            "hdd-7200",
            "--workload",
            "randrw",
            "--qd",
            "4",
            "--requests",
            "300",
            "--span",
            "64m",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out.join("summary.json")).unwrap()
    };
    let a = run("a", "9");
    assert_eq!(a, run("b", "9"));
    assert_ne!(a, run("c", "10"), "another seed, another run");
}

#[test]
fn bad_run_input_is_refused_with_a_message() {
    let o = dmsim(&["run", "--hdd", "ram"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--requests"));

    let o = dmsim(&["run", "--hdd", "ram", "--requests", "10", "--bs", "3k1"]);
    assert!(!o.status.success());

    let o = dmsim(&["run", "--hdd", "ram", "--requests", "10", "--span", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--span"));

    let o = dmsim(&["run", "--real", "--requests", "10"]);
    assert!(!o.status.success(), "--real needs --dev");
}

/// `--dev` is the linear target's one device in both worlds: a preset in simulation (as
/// `--hdd`), a path with `--real`; the other kind is refused saying which flag to add or drop.
#[test]
fn dev_names_a_preset_in_simulation_and_a_path_with_real() {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = dmsim(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    #[rustfmt::skip]
    let run = |flag: &str, preset: &str| json(&[
        "run", "--target", "linear", flag, preset, "--workload", "randread", "--requests", "500",
        "--span", "64m", "--json", "-q",
    ]);
    let via_dev = run("--dev", "ssd-nvme");
    assert_eq!(via_dev["config"]["device"], "ssd-nvme");
    assert_eq!(via_dev["verified_reads"], 500);
    assert_eq!(via_dev, run("--hdd", "ssd-nvme"), "--dev P is --hdd P");
    let disk = run("--dev", "hdd-7200");
    let mean = |s: &serde_json::Value| s["latency"]["read"]["mean_ns"].as_f64().unwrap();
    assert!(
        mean(&disk) > 20.0 * mean(&via_dev),
        "{} vs {}",
        mean(&disk),
        mean(&via_dev)
    );

    for (args, needle) in [
        (&["--dev", "/dev/null"][..], "add --real"),
        (&["--real", "--dev", "ssd-nvme"][..], "drop --real"),
        (&["--dev", "ssd-nvme", "--hdd", "hdd-7200"][..], "give one"),
        (
            &["--dev", "nope"][..],
            "--dev: unknown device preset 'nope'",
        ),
    ] {
        let mut all = vec!["run", "--requests", "10"];
        all.extend_from_slice(args);
        let o = dmsim(&all);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} accepted");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
}
