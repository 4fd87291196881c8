//! `dmsim run --spec FILE` (issue 8.3): every simulated `replay` and `run --target
//! flashcache` embeds its resolved run spec in summary.json, every cell of `compare` in its
//! run in compare.json, and rerunning that spec gives the same summary, byte for byte. A spec
//! that is not one (an unknown field, a bad value) is refused naming the file and the field
//! (more such rows are in tests/bad_input/cases.json).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const TRACE: &str = "scenarios/bundled/traces/msr-cambridge1-sample.csv";

fn dmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

fn succeed(args: &[&str]) {
    let output = dmsim(args);
    assert!(
        output.status.success(),
        "dmsim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reruns `spec` (a spec or a summary.json) with `run --spec` into `out`.
fn rerun_spec(spec: &Path, out: &Path) {
    succeed(&[
        "run",
        "--spec",
        spec.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
}

/// Runs `dmsim ARGS --quiet --out FIRST`, reruns its summary.json with `run --spec` into
/// another folder, and returns both summaries' bytes.
fn run_then_rerun(args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let second = dir.path().join("rerun");
    let mut all = args.to_vec();
    all.extend_from_slice(&["--quiet", "--out", first.to_str().unwrap()]);
    succeed(&all);
    let summary = first.join("summary.json");
    rerun_spec(&summary, &second);
    (read(&summary), read(&second.join("summary.json")))
}

/// Replays the MSR sample with `replay_args`, then reruns it from its summary.
fn replay_and_rerun(replay_args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let mut args = vec!["replay", TRACE];
    args.extend_from_slice(replay_args);
    run_then_rerun(&args)
}

#[test]
fn a_writeback_replay_reruns_from_its_summary_byte_for_byte() {
    let (replayed, rerun) = replay_and_rerun(&["--mode", "writeback"]);
    assert!(replayed == rerun, "the rerun's summary.json differs");
    let summary: Value = serde_json::from_slice(&replayed).unwrap();
    let spec = &summary["spec"];
    assert_eq!(spec["records"]["trace"]["source"]["file"], TRACE);
    assert_eq!(spec["setup"]["target"], "flashcache");
    assert_eq!(spec["seed"], 1);
    assert_eq!(spec["config"]["mode"], "writeback");
    assert!(summary["requests"].as_u64().unwrap() > 0);
}

#[test]
fn open_loop_raid5_and_linear_replays_rerun_byte_for_byte() {
    let (replayed, rerun) = replay_and_rerun(&[
        "--hdd-raid5",
        "3xhdd-7200",
        "--raid5-fail",
        "1@300io",
        "--mode",
        "writethrough",
        "--policy",
        "lru",
        "--open-loop",
        "--speed",
        "50",
    ]);
    assert!(replayed == rerun, "the raid5 rerun's summary.json differs");
    let summary: Value = serde_json::from_slice(&replayed).unwrap();
    assert_eq!(summary["spec"]["setup"]["raid5"]["members"], 3);
    assert_eq!(summary["config"]["raid5"]["state"], "degraded");
    assert_eq!(
        summary["spec"]["setup"]["raid5"]["fails"][0]["text"],
        "1@300io"
    );
    let (replayed, rerun) = replay_and_rerun(&[
        "--target", "linear", "--fit", "wrap", "--limit", "500", "--qd", "4",
    ]);
    assert!(replayed == rerun, "the linear rerun's summary.json differs");
    let summary: Value = serde_json::from_slice(&replayed).unwrap();
    assert_eq!(summary["requests"], 500);
    assert_eq!(summary["spec"]["records"]["trace"]["input"]["fit"], "wrap");
}

#[test]
fn an_edited_queue_depth_in_the_spec_changes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("replay");
    succeed(&["replay", TRACE, "--quiet", "--out", first.to_str().unwrap()]);
    let summary: Value = serde_json::from_slice(&read(&first.join("summary.json"))).unwrap();
    let mut spec = summary["spec"].clone();
    spec["pacing"]["closed_loop"]["queue_depth"] = 1.into();
    let spec_file = dir.path().join("qd1.json");
    std::fs::write(&spec_file, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let second = dir.path().join("qd1");
    rerun_spec(&spec_file, &second);
    let rerun: Value = serde_json::from_slice(&read(&second.join("summary.json"))).unwrap();
    assert_eq!(rerun["requests"], summary["requests"]);
    assert_ne!(
        rerun["throughput"], summary["throughput"],
        "one request in flight instead of 32 must change the run's duration"
    );
    assert_eq!(rerun["spec"], spec);
}

#[test]
fn a_bad_value_deep_in_a_real_spec_is_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("replay");
    succeed(&["replay", TRACE, "--quiet", "--out", first.to_str().unwrap()]);
    let summary: Value = serde_json::from_slice(&read(&first.join("summary.json"))).unwrap();
    for (edit, field) in [
        ("depth", "pacing"),
        ("assoc", "setup.cache.table.assoc"),
        ("unknown", "setup.bogus"),
        // The description is typed too: a misspelt key is refused, not taken for an old
        // whole config, and a target its setup contradicts is refused.
        ("misspelt", "config`: unknown field `mdoe`"),
        (
            "contradiction",
            "config.target`: linear but the setup's target is flashcache",
        ),
    ] {
        let mut spec = summary["spec"].clone();
        match edit {
            "depth" => spec["pacing"]["closed_loop"]["queue_depth"] = 0.into(),
            "assoc" => spec["setup"]["cache"]["table"]["assoc"] = "banana".into(),
            "misspelt" => spec["config"]["mdoe"] = "writeback".into(),
            "contradiction" => spec["config"]["target"] = "linear".into(),
            _ => spec["setup"]["bogus"] = true.into(),
        }
        assert_spec_refused(dir.path(), edit, &spec, &format!("`{field}"));
    }
}

/// Writes `spec` as `DIR/EDIT.json`, reruns it, and requires a refusal naming the file and
/// `expected`, with no output left behind.
fn assert_spec_refused(dir: &Path, edit: &str, spec: &Value, expected: &str) {
    let spec_file = dir.join(format!("{edit}.json"));
    std::fs::write(&spec_file, serde_json::to_vec(spec).unwrap()).unwrap();
    let out = dir.join(format!("{edit}-out"));
    let output = dmsim(&[
        "run",
        "--spec",
        spec_file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{edit}: accepted");
    assert!(
        message.contains(&format!("{edit}.json")) && message.contains(expected),
        "{edit}: {message}"
    );
    assert!(!out.exists(), "{edit}: output left behind");
}

#[test]
fn a_compare_cell_reruns_from_its_spec_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("compare");
    succeed(&[
        "compare",
        TRACE,
        "--modes",
        "writeback,writethrough",
        "--policies",
        "lru",
        "--set",
        "dirty_thresh_pct=10,40",
        "--quiet",
        "--out",
        report.to_str().unwrap(),
    ]);
    let compare: Value = serde_json::from_slice(&read(&report.join("compare.json"))).unwrap();
    let runs = compare["runs"].as_array().unwrap();
    // The baseline and the four cache cells each carry their spec.
    assert_eq!(runs.len(), 5);
    let cell = runs
        .iter()
        .find(|r| r["label"] == "writethrough/lru/dirty_thresh_pct=40")
        .expect("the cell");
    assert_eq!(cell["spec"]["records"]["trace"]["source"]["file"], TRACE);
    let spec_file = dir.path().join("cell.json");
    std::fs::write(&spec_file, serde_json::to_vec(&cell["spec"]).unwrap()).unwrap();
    let rerun = dir.path().join("rerun");
    rerun_spec(&spec_file, &rerun);
    // The cell as its own summary.json, written the way every summary is.
    let cell_report =
        dmsim_reports::RunReport::from_json(&cell.to_string(), Path::new("compare.json")).unwrap();
    assert!(
        cell_report.to_json().into_bytes() == read(&rerun.join("summary.json")),
        "the rerun's summary.json differs from the compare cell"
    );
}

#[test]
fn a_flashcache_run_and_a_workload_compare_cell_rerun_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("run");
    succeed(&[
        "run",
        "--target",
        "flashcache",
        "--workload",
        "randrw",
        "--cache-size",
        "16m",
        "--duration",
        "300ms",
        "--seed",
        "7",
        "--quiet",
        "--out",
        first.to_str().unwrap(),
    ]);
    let summary = first.join("summary.json");
    let second = dir.path().join("rerun");
    rerun_spec(&summary, &second);
    let (ran, rerun) = (read(&summary), read(&second.join("summary.json")));
    assert!(ran == rerun, "the flashcache run's rerun differs");
    let ran: Value = serde_json::from_slice(&ran).unwrap();
    assert_eq!(ran["spec"]["stop_at_ns"], 300_000_000u64);
    assert!(ran["requests"].as_u64().unwrap() > 0);
    assert_eq!(
        ran["spec"]["records"]["generator"]["workload"]["read_percent"],
        50.0
    );

    // The bundled default scenario is a generated workload.
    let report = dir.path().join("compare");
    succeed(&["compare", "--quiet", "--out", report.to_str().unwrap()]);
    let compare: Value = serde_json::from_slice(&read(&report.join("compare.json"))).unwrap();
    let cell = compare["runs"].as_array().unwrap().last().unwrap().clone();
    assert!(
        cell["spec"]["records"]["generator"].is_object(),
        "{}",
        cell["label"]
    );
    let spec_file = dir.path().join("cell.json");
    std::fs::write(&spec_file, serde_json::to_vec(&cell["spec"]).unwrap()).unwrap();
    let rerun = dir.path().join("cell-rerun");
    rerun_spec(&spec_file, &rerun);
    let cell_report =
        dmsim_reports::RunReport::from_json(&cell.to_string(), Path::new("compare.json")).unwrap();
    assert!(
        cell_report.to_json().into_bytes() == read(&rerun.join("summary.json")),
        "the workload cell's rerun differs"
    );
}

/// `dmsim run` with `run_args`, then rerun from its summary.
fn run_and_rerun(run_args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let mut args = vec!["run"];
    args.extend_from_slice(run_args);
    run_then_rerun(&args)
}

#[test]
fn linear_runs_on_a_device_and_on_an_array_rerun_byte_for_byte() {
    let (ran, rerun) = run_and_rerun(&[
        "--workload",
        "randrw",
        "--requests",
        "400",
        "--qd",
        "4",
        "--hdd",
        "hdd-15k",
        "--set",
        "queue.depth=4",
        "--perturb-ties",
        "9",
        "--seed",
        "3",
    ]);
    assert!(ran == rerun, "the linear run's rerun differs");
    let summary: Value = serde_json::from_slice(&ran).unwrap();
    let spec = &summary["spec"]["linear"];
    assert_eq!(spec["device"]["sim"]["name"], "hdd-15k");
    assert_eq!(spec["workload"]["kind"], "randrw");
    assert_eq!(spec["workload"]["seed"], 3);
    assert_eq!(spec["perturb_ties_seed"], 9);
    assert_eq!(summary["requests"], 400);

    let (ran, rerun) = run_and_rerun(&[
        "--workload",
        "randwrite",
        "--requests",
        "600",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "16k",
        "--set",
        "capacity_sectors=8192",
        "--raid5-fail",
        "1@200io",
        "--raid5-spare",
        "300io",
    ]);
    assert!(ran == rerun, "the raid5 linear run's rerun differs");
    let summary: Value = serde_json::from_slice(&ran).unwrap();
    let device = &summary["spec"]["linear"]["device"]["raid5"];
    assert_eq!(device["members"], 4);
    assert_eq!(device["fails"][0]["text"], "1@200io");
    assert_eq!(device["fails"][1]["text"], "300io");
}

#[test]
fn a_bad_linear_spec_is_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("run");
    succeed(&[
        "run",
        "--requests",
        "50",
        "--quiet",
        "--out",
        first.to_str().unwrap(),
    ]);
    let summary: Value = serde_json::from_slice(&read(&first.join("summary.json"))).unwrap();
    for (edit, field) in [
        ("qd", "linear.workload.qd"),
        ("bs", "linear.workload.bs"),
        ("endless", "linear.workload"),
        ("kind", "linear.workload.kind"),
        ("real", "linear.device"),
        ("extra", "holds `linear` alone"),
    ] {
        let mut spec = summary["spec"].clone();
        let linear = &mut spec["linear"];
        match edit {
            "qd" => linear["workload"]["qd"] = 0.into(),
            "bs" => linear["workload"]["bs"] = 1000.into(),
            "endless" => linear["workload"]["requests"] = Value::Null,
            "kind" => linear["workload"]["kind"] = "randomread".into(),
            "real" => {
                linear["device"] =
                    serde_json::json!({"real": {"path": "/dev/null", "allow_write": false}})
            }
            _ => spec["seed"] = 1.into(),
        }
        assert_spec_refused(dir.path(), edit, &spec, field);
    }
}

/// A spec keeps its trace path as the user gave it (summaries stay the same on any machine);
/// rerun from another folder, a relative path is not found, and the error says why and what
/// to do instead of only "no such file".
#[test]
fn a_relative_trace_path_rerun_from_elsewhere_says_where_it_is_relative_to() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("replay");
    succeed(&[
        "replay",
        TRACE,
        "--limit",
        "100",
        "--quiet",
        "--out",
        first.to_str().unwrap(),
    ]);
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(["run", "--spec", "replay/summary.json", "--out", "rerun"])
        .current_dir(dir.path())
        .output()
        .expect("dmsim runs");
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        message.contains("replay/summary.json")
            && message.contains(TRACE)
            && message.contains("relative to the folder")
            && message.contains("records.trace.source.file"),
        "{message}"
    );
    assert!(!dir.path().join("rerun").exists(), "output left behind");
}

/// A spec carries only the front end's description of its run; what the rest of the spec
/// decides (the flashcache table, device parameters, pacing, seed, version) is added when
/// the run starts, so a spec does not repeat itself (specs were half of compare.json's
/// growth).
/// Specs of the older formats (the whole config; an untyped description) rerun to the same
/// report.
#[test]
fn a_spec_describes_its_run_without_repeating_itself_and_older_specs_still_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("replay");
    succeed(&[
        "replay",
        TRACE,
        "--limit",
        "300",
        "--quiet",
        "--out",
        first.to_str().unwrap(),
    ]);
    let summary: Value = serde_json::from_slice(&read(&first.join("summary.json"))).unwrap();
    let description = summary["spec"]["config"].as_object().unwrap();
    let keys: Vec<&str> = description.keys().map(String::as_str).collect();
    assert_eq!(keys, ["mode", "platform", "policy", "trace"]);
    for derived in [
        "pacing",
        "flashcache",
        "devices",
        "seed",
        "ssd",
        "hdd",
        "dmsim_version",
    ] {
        assert!(summary["config"].get(derived).is_some(), "config.{derived}");
    }

    // Specs of two older formats: the whole config, and an untyped description that held
    // the pacing.
    let mut untyped = summary["spec"]["config"].clone();
    untyped["pacing"] = summary["config"]["pacing"].clone();
    for (name, config) in [("whole", summary["config"].clone()), ("untyped", untyped)] {
        let mut old_style = summary["spec"].clone();
        old_style["config"] = config;
        let spec_file = dir.path().join(format!("{name}.json"));
        std::fs::write(&spec_file, serde_json::to_vec(&old_style).unwrap()).unwrap();
        let second = dir.path().join(format!("{name}-rerun"));
        rerun_spec(&spec_file, &second);
        let mut rerun: Value = serde_json::from_slice(&read(&second.join("summary.json"))).unwrap();
        assert_eq!(
            rerun["spec"], old_style,
            "{name}: the spec is embedded as given"
        );
        let mut expected = summary.clone();
        expected.as_object_mut().unwrap().remove("spec");
        rerun.as_object_mut().unwrap().remove("spec");
        assert_eq!(rerun, expected, "{name}: the same report");
    }
}

/// A CLI run rebuilt inside a test: the spec of a `replay` runs through the testbed library
/// to the summary the CLI wrote, byte for byte, and a run that cannot start says whose move
/// it is (`RunError`): a trace that is not there is the input's fault, not a finding.
#[test]
fn a_cli_replay_reruns_through_the_library_and_its_errors_are_typed() {
    use dmsim_testbed::spec::SpecFile;
    use dmsim_testbed::{RunError, Testbed};
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("replay");
    succeed(&[
        "replay",
        TRACE,
        "--mode",
        "writeback",
        "--limit",
        "500",
        "--quiet",
        "--out",
        first.to_str().unwrap(),
    ]);
    let summary_bytes = read(&first.join("summary.json"));
    let text = String::from_utf8(summary_bytes.clone()).unwrap();
    let SpecFile::Cache(spec) = SpecFile::from_json(&text, "summary.json").unwrap() else {
        panic!("a replay's spec is a cache run's");
    };
    let outcome = Testbed::sim(&spec).expect("the spec runs");
    assert!(outcome.report.verified_reads > 0);
    let library = dir.path().join("library");
    outcome.report.write_summary(&library).unwrap();
    assert!(
        read(&library.join("summary.json")) == summary_bytes,
        "the library's summary differs from the CLI's"
    );

    let mut missing: Value = serde_json::from_str(&text).unwrap();
    missing["spec"]["records"]["trace"]["source"]["file"] = "no/such/trace.csv".into();
    let SpecFile::Cache(spec) = SpecFile::from_json(&missing.to_string(), "missing.json").unwrap()
    else {
        panic!("still a cache run's spec");
    };
    let error = Testbed::sim(&spec).err().expect("no trace, no run");
    assert!(matches!(error, RunError::Input(_)), "{error:?}");
    assert!(!error.is_engine_bug());
    assert!(error.to_string().contains("no/such/trace.csv"), "{error}");

    let bad = text.replace("\"seed\"", "\"sead\"");
    let error = SpecFile::from_json(&bad, "bad.json").expect_err("refused");
    assert!(
        matches!(&error, RunError::Input(m) if m.contains("bad.json")),
        "{error:?}"
    );
}
