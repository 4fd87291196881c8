//! The regression corpus (`tests/regressions/*.json`, see its README): every bug found, kept as
//! the smallest run that showed it, run on every `cargo test`. Each run must succeed with every
//! read verified and no data error.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/regressions exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn strings(value: &serde_json::Value, what: &str, file: &Path) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{}: {what} must be a list", file.display()))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{}: {what} holds strings", file.display()))
                .to_string()
        })
        .collect()
}

#[test]
fn every_regression_scenario_passes() {
    let files = corpus();
    assert!(!files.is_empty(), "the corpus is empty");
    let tmp = tempfile::tempdir().unwrap();
    for file in files {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for key in ["what_broke", "why", "fix"] {
            assert!(
                doc["postmortem"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{}: postmortem.{key} is missing",
                file.display()
            );
        }
        if doc["run"]["command"] == "explore" {
            match doc["status"].as_str() {
                None | Some("fixed") => replay_seed_file(&file),
                Some("open") => replay_open_seed_file(&file, &doc),
                Some("refused") => replay_refused_seed_file(&file, &doc),
                Some(other) => panic!(
                    "{}: status `{other}` (open, fixed or refused)",
                    file.display()
                ),
            }
            continue;
        }
        let trace = tmp.path().join("trace");
        std::fs::write(
            &trace,
            strings(&doc["trace"], "trace", &file).join("\n") + "\n",
        )
        .unwrap();
        let format = doc["trace_format"].as_str().expect("trace_format");
        let run = &doc["run"];
        let args = strings(&run["args"], "run.args", &file);
        for mode in strings(&run["modes"], "run.modes", &file) {
            let out = Command::new(env!("CARGO_BIN_EXE_dmsim"))
                .arg(run["command"].as_str().expect("run.command"))
                .arg(&trace)
                .args(["--format", format, "--mode", &mode, "--json"])
                .args(&args)
                .output()
                .expect("dmsim runs");
            let what = format!("{} in {mode}", file.display());
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{what}: summary is not JSON: {e}"));
            assert_eq!(summary["data_errors"], 0, "{what}");
            let reads = summary["latency"]["read"]["count"].as_u64().unwrap();
            assert!(reads > 0, "{what}: no read was checked");
            assert_eq!(summary["verified_reads"].as_u64(), Some(reads), "{what}");
        }
    }
}

/// `dmsim explore --json --replay FILE`.
fn replay_explore(file: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(["explore", "--json", "--replay"])
        .arg(file)
        .output()
        .expect("dmsim runs")
}

/// An explorer seed file (`run.command` is `explore`, the run under `spec`): replayed with
/// `dmsim explore --replay`, every oracle of the explorer must pass and reads be verified.
fn replay_seed_file(file: &Path) {
    let out = replay_explore(file);
    let what = file.display();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: report is not JSON: {e}"));
    assert!(report["failure"].is_null(), "{what}: {report}");
    assert!(
        report["reads_verified"].as_u64().unwrap() > 0,
        "{what}: no read was checked"
    );
}

/// An open bug's seed file: it must still fail with its `open_failure`. When it passes (or
/// fails otherwise) the bug was fixed or changed: say so, so the fix updates the file.
fn replay_open_seed_file(file: &Path, doc: &serde_json::Value) {
    let expected = doc["open_failure"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{}: an open bug needs open_failure", file.display()));
    let out = replay_explore(file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && text.contains(expected),
        "{}: the open bug no longer fails with `{expected}`: if it is fixed, drop status and \
         open_failure from the file; output: {text}",
        file.display()
    );
}

/// A seed file the explorer must refuse (a spec shape outside its model, found when the rig
/// mishandled it): the replay is refused as the file is read, or fails as a Setup failure,
/// with a message that contains `refusal`; it never reaches an engine, data or liveness
/// verdict.
fn replay_refused_seed_file(file: &Path, doc: &serde_json::Value) {
    let expected = doc["refusal"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{}: a refused spec needs refusal", file.display()));
    let out = replay_explore(file);
    let what = file.display();
    assert!(!out.status.success(), "{what}: the spec was not refused");
    if out.stdout.is_empty() {
        // Refused as it was read (`SeedSpec::validate`): bad input, a clear error.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "{what}: refused otherwise than `{expected}`: {stderr}"
        );
        return;
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: report is not JSON: {e}"));
    assert_eq!(report["failure"]["kind"], "setup", "{what}: {report}");
    let message = report["failure"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(expected),
        "{what}: refused otherwise than `{expected}`: {report}"
    );
}
