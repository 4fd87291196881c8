//! End-to-end tests of `dmsim replay` and `dmsim compare`: every read verified, report files,
//! determinism (serial and parallel runs byte-identical), a pinned small comparison, and bad
//! input.

mod cli_support;

use cli_support::dmsim;

use std::path::Path;

const MSR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
);
const TPCC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/traces/tpcc-small.trace"
);

fn small_compare(out: &Path, jobs: &str) -> std::process::Output {
    let out = out.to_str().unwrap();
    #[rustfmt::skip]
    let args = [
        "compare", TPCC, "--limit", "400", "--qd", "4", "--modes", "writeback,writethrough",
        "--policies", "fifo,lru", "--cache-size", "2m", "--assoc", "256", "--jobs", jobs, "--out", out,
    ];
    dmsim(&args)
}

#[test]
fn replay_writes_a_summary_with_flashcache_counters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = dmsim(&[
        "replay",
        TPCC,
        "--limit",
        "2000",
        "--mode",
        "writeback",
        "--policy",
        "lru",
        "--cache-size",
        "4m",
        "--assoc",
        "256",
        "--qd",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["requests"], 2000);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(
        s["verified_reads"], s["latency"]["read"]["count"],
        "every read verified"
    );
    // flashcache's own counter names; bios are split into 4 KiB pieces, so reads >= requests read.
    let stats = &s["stats"];
    for key in [
        "reads",
        "writes",
        "read_hits",
        "write_hits",
        "dirty_write_hits",
        "disk_reads",
        "ssd_writes",
        "md_write_dirty",
    ] {
        assert!(stats.get(key).is_some(), "stats.{key} missing");
    }
    assert!(stats["reads"].as_u64().unwrap() >= s["latency"]["read"]["count"].as_u64().unwrap());
    for key in ["mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns"] {
        assert!(
            s["latency"]["read"].get(key).is_some() && s["latency"]["write"].get(key).is_some(),
            "latency.*.{key}"
        );
    }
    let devices: Vec<&str> = s["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["ssd", "hdd"]);
    assert_eq!(s["config"]["mode"], "writeback");
    assert_eq!(
        s["config"]["flashcache"]["tunables"]["reclaim_policy"],
        "lru"
    );
}

#[test]
fn replay_open_loop_and_fit() {
    let o = dmsim(&[
        "replay",
        MSR,
        "--open-loop",
        "--speed",
        "20",
        "--cache-size",
        "8m",
        "--assoc",
        "256",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["requests"], 1000);
    // Recorded over 127.2 s, replayed 20x faster: about 6.4 s of virtual time.
    let secs = s["throughput"]["duration_ns"].as_f64().unwrap() / 1e9;
    assert!((6.3..8.0).contains(&secs), "{secs} s");

    // hm_0 addresses up to ~14 GB. On a 1 GiB disk `--fit refuse` refuses it and says how
    // to fit it; the default (auto) compacts it and says so; each fit replays.
    let small_disk = |fit: &str| {
        dmsim(&[
            "replay",
            MSR,
            "--fit",
            fit,
            "--cache-size",
            "4m",
            "--assoc",
            "256",
            "--set",
            "hdd.geometry.exported_sectors=2097152",
            "--json",
        ])
    };
    let o = small_disk("refuse");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--fit wrap") && err.contains("msr-cambridge1-sample.csv"),
        "{err}"
    );
    let mut summaries = std::collections::BTreeMap::new();
    for fit in ["wrap", "compact", "auto"] {
        let o = small_disk(fit);
        assert!(
            o.status.success(),
            "--fit {fit}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The embedded run spec names the fit asked for; the results are compared.
        s.as_object_mut().unwrap().remove("spec").expect("a spec");
        summaries.insert(fit, s);
    }
    let mut auto = summaries["auto"].clone();
    let fit = auto["config"]
        .as_object_mut()
        .unwrap()
        .remove("fit")
        .expect("an auto-fitted run records its fit");
    assert_eq!(fit["mode"], "compact");
    assert_eq!(fit["chosen_by"], "auto");
    assert_eq!(fit["volume_sectors"], 2097152);
    assert!(fit["trace_end_sector"].as_u64().unwrap() > 2097152, "{fit}");
    assert_eq!(
        auto, summaries["compact"],
        "auto on a trace that does not fit is compact, and says so"
    );
    // A trace that fits is replayed as it is: auto equals refuse, and records no fit.
    let fitting = |fit: &str| {
        let o = dmsim(&[
            "replay",
            MSR,
            "--fit",
            fit,
            "--limit",
            "300",
            "--cache-size",
            "4m",
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut s = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
        // The embedded run spec names the fit asked for; the results are compared.
        s.as_object_mut().unwrap().remove("spec").expect("a spec");
        s
    };
    let (auto, refuse) = (fitting("auto"), fitting("refuse"));
    assert!(auto["config"].get("fit").is_none(), "{}", auto["config"]);
    assert_eq!(auto, refuse);
}

#[test]
fn compare_is_deterministic_serial_or_parallel_and_writes_every_chart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let oa = small_compare(&a, "1");
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    let ob = small_compare(&b, "2");
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    let table = |o: &std::process::Output| {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        text.lines()
            .filter(|l| !l.starts_with("report: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&oa), table(&ob), "same markdown table");
    let mut svgs = 0;
    for entry in std::fs::read_dir(&a).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_str().unwrap();
        if name.ends_with(".json") || name.ends_with(".svg") || name.ends_with(".html") {
            assert_eq!(
                std::fs::read(a.join(name)).unwrap(),
                std::fs::read(b.join(name)).unwrap(),
                "{name} differs"
            );
        }
        svgs += usize::from(name.ends_with(".svg"));
        if let Some(stem) = name.strip_suffix(".svg") {
            assert!(a.join(format!("{stem}.png")).exists(), "{stem}.png missing");
        }
    }
    assert!(svgs >= 8, "{svgs} charts");
    let index = std::fs::read_to_string(a.join("index.html")).unwrap();
    assert!(index.contains("hit_ratio.svg") && index.contains("writeback/lru"));
}

#[test]
fn small_compare_json_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let o = small_compare(&out, "2");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    // The reviewable part: each run's counters, latency summaries, device IO and throughput.
    let runs: Vec<serde_json::Value> = full["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let summary = |op: &str| {
                let l = &r["latency"][op];
                serde_json::json!({"count": l["count"], "mean_ns": l["mean_ns"], "p50_ns": l["p50_ns"], "p99_ns": l["p99_ns"], "max_ns": l["max_ns"]})
            };
            serde_json::json!({
                "label": r["label"], "mode": r["config"]["mode"], "policy": r["config"]["policy"],
                "deviations": r["config"]["deviations"], "stats": r["stats"], "verified_reads": r["verified_reads"],
                "data_errors": r["data_errors"], "read": summary("read"), "write": summary("write"),
                "devices": r["devices"], "throughput": r["throughput"],
            })
        })
        .collect();
    insta::assert_json_snapshot!(
        "small_compare",
        serde_json::json!({"title": full["title"], "axes": full["axes"], "runs": runs, "speedups": full["speedups"]})
    );
}

#[test]
fn compare_refuses_bad_input_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let o = dmsim(&[
        "compare",
        "--scenario",
        "msr-hm0",
        "--set",
        "dirty_thresh_pctt=30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dirty_thresh_pctt") && err.contains("dirty_thresh_pct"),
        "{err}"
    );
    assert!(!out.exists(), "no report directory after a refused run");

    let o = dmsim(&["compare", "--scenario", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("msr-hm0"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"name\": \"x\",\n  \"input\": {\"trace\": {\"path\": \"t\"}},\n  \"grid\": {\"modez\": []}\n}\n").unwrap();
    let o = dmsim(&[
        "compare",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.json:4:") && err.contains("modez"),
        "{err}"
    );

    let bad_trace = dir.path().join("bad.csv");
    std::fs::write(&bad_trace, "128166385295514663,hm,0,Write,9056014336,2048,2833\n128166385295514878,hm,0,Jump,1,512,2617\n").unwrap();
    let o = dmsim(&["replay", bad_trace.to_str().unwrap(), "--format", "msr"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.csv") && err.contains(":2"), "{err}");
}

/// A workload span past the volume is refused with the label of the first cell it cannot
/// run on (the baseline comes first), and no report is written.
#[test]
fn a_workload_span_past_the_volume_is_refused_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let scenario = dir.path().join("too-wide.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "too-wide",
  "input": {"workload": {"span_start_bytes": 1099511627776000, "span_bytes": 4096,
    "pattern": {"kind": "uniform"}, "read_percent": 50,
    "request_size": {"kind": "fixed", "bytes": 4096}, "requests": 10}},
  "cache": {"cache_size": "1m"},
  "grid": {"modes": ["writeback"], "policies": ["fifo"]}
}
"#,
    )
    .unwrap();
    let o = dmsim(&[
        "compare",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "run none: input.workload: span 1099511627776000+4096 bytes ends beyond the volume"
        ),
        "{err}"
    );
    assert!(!out.exists(), "no report directory after a refused grid");
}

#[test]
fn a_replay_whose_filters_match_nothing_is_an_error() {
    let o = dmsim(&[
        "replay",
        MSR,
        "--device",
        "hm_1",
        "--cache-size",
        "8m",
        "--assoc",
        "256",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no record matched"));
}

fn baseline_grid(out: &Path, extra: &[&str]) -> serde_json::Value {
    #[rustfmt::skip]
    let mut args = vec![
        "compare", MSR, "--limit", "300", "--modes", "writeback", "--policies", "fifo",
        "--set", "hdd.queue.depth=1,32", "--cache-size", "8m", "--assoc", "256", "-q",
        "--out", out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = dmsim(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        table.contains("speed-up over none (mean latency)"),
        extra.is_empty(),
        "{table}"
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap()
}

fn labels(report: &serde_json::Value) -> Vec<&str> {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["label"].as_str().unwrap())
        .collect()
}

#[test]
fn compare_runs_a_no_cache_baseline_per_disk_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let with = baseline_grid(&dir.path().join("with"), &[]);
    // A disk axis changes the baseline too: one per disk, first.
    assert_eq!(
        labels(&with),
        [
            "none/hdd.queue.depth=1",
            "none/hdd.queue.depth=32",
            "writeback/fifo/hdd.queue.depth=1",
            "writeback/fifo/hdd.queue.depth=32",
        ]
    );
    let runs = with["runs"].as_array().unwrap();
    for none in &runs[..2] {
        assert_eq!(none["config"]["target"], "linear");
        assert_eq!(none["stats"], serde_json::json!({}), "no cache counters");
        assert_eq!(none["data_errors"], 0);
        assert_eq!(none["verified_reads"], none["latency"]["read"]["count"]);
        // Every request is one disk IO and the SSD stays idle.
        let devices = none["devices"].as_array().unwrap();
        let io =
            |d: &serde_json::Value| d["reads"].as_u64().unwrap() + d["writes"].as_u64().unwrap();
        assert_eq!((io(&devices[0]), io(&devices[1])), (0, 300), "{devices:?}");
    }
    // Each cache run against the baseline on its own disk, by mean latency over all requests.
    let speedups = with["speedups"].as_array().unwrap();
    assert_eq!(speedups.len(), 2);
    for (speedup, (run, none)) in speedups.iter().zip(runs[2..].iter().zip(&runs[..2])) {
        assert_eq!(speedup["label"], run["label"]);
        assert_eq!(speedup["baseline"], none["label"]);
        assert_eq!(run["config"]["baseline"], none["label"]);
        let expected = none["latency"]["mean_ns"].as_f64().unwrap()
            / run["latency"]["mean_ns"].as_f64().unwrap();
        let got = speedup["mean_latency_speedup"].as_f64().unwrap();
        assert!(
            (got - expected).abs() <= 1e-12 * expected,
            "{got} vs {expected}"
        );
    }

    // --no-baseline: the cache runs alone, as they were, and no speed-ups.
    let without = baseline_grid(&dir.path().join("without"), &["--no-baseline"]);
    assert_eq!(labels(&without), labels(&with)[2..]);
    assert!(without.get("speedups").is_none());
    for (mut run, bare) in runs[2..]
        .iter()
        .cloned()
        .zip(without["runs"].as_array().unwrap())
    {
        run["config"].as_object_mut().unwrap().remove("baseline");
        // The embedded run spec carries the config it was run with.
        run["spec"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("baseline")
            .expect("the spec's config names the baseline");
        assert_eq!(&run, bare);
    }
    let index = std::fs::read_to_string(dir.path().join("with").join("index.html")).unwrap();
    assert!(index.contains("no-cache baseline") && index.contains("speed-up over none"));
}
