//! The bad-input table (issue 13): every case of `tests/bad_input/cases.json` — malformed
//! trace lines of each format, whole files, compressed files, scenario files, DiskSim
//! parameter files, flags and device paths — must be refused by dmsim with a non-zero exit
//! code, a short message naming the file, line, field or flag (each case lists what its
//! message must contain), no panic, nothing left in `--out`, and an answer within seconds.
//!
//! A case is `{"name", "args", "files", "expect", "no_out"?}`. `{dir}` in an argument is the
//! case's own temporary folder, where `files` are written first; unless `no_out` is set,
//! `--out {dir}/out` is added and `{dir}/out` must not exist afterwards. A file is one of
//! `{"text"}`, `{"hex"}`, `{"zeros": bytes}` or `{"copy": repository path, "replace": [[from,
//! to]]}`, optionally with `"compress": "gz"` and `"cut_to": bytes`.
// The wall clock only times how fast dmsim answers; it never reaches a result.
#![allow(clippy::disallowed_methods)]

use serde_json::Value;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest a refusal may take (debug build on a loaded 2-core machine).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// Longest message accepted: a refusal is a few lines, never the input echoed back.
const MESSAGE_BYTES_MAX: usize = 1500;

fn file_bytes(spec: &Value) -> Vec<u8> {
    let mut bytes = if let Some(text) = spec["text"].as_str() {
        text.as_bytes().to_vec()
    } else if let Some(hex) = spec["hex"].as_str() {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex pairs"))
            .collect()
    } else if let Some(count) = spec["zeros"].as_u64() {
        vec![0; count as usize]
    } else if let Some(path) = spec["copy"].as_str() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let mut text = std::fs::read_to_string(&source).expect("copied file exists");
        for pair in spec["replace"].as_array().into_iter().flatten() {
            let (from, to) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            assert!(text.contains(from), "{path} has no `{from}`");
            text = text.replacen(from, to, 1);
        }
        text.into_bytes()
    } else {
        panic!("unknown file spec {spec}");
    };
    if spec["compress"] == "gz" {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&bytes).unwrap();
        bytes = encoder.finish().unwrap();
    }
    if let Some(cut) = spec["cut_to"].as_u64() {
        bytes.truncate(cut as usize);
    }
    bytes
}

/// Runs one case; `Err` says what was wrong with dmsim's answer.
fn check(case: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().to_str().unwrap();
    for (name, spec) in case["files"].as_object().unwrap() {
        std::fs::write(dir.path().join(name), file_bytes(spec)).unwrap();
    }
    let mut args: Vec<String> = case["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("{dir}", dir_text))
        .collect();
    let out = dir.path().join("out");
    let with_out = case["no_out"] != true;
    if with_out {
        args.push("--out".to_string());
        args.push(out.to_str().unwrap().to_string());
    }
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(&args)
        .output()
        .expect("dmsim runs");
    let elapsed = started.elapsed();
    let message = String::from_utf8_lossy(&output.stderr).to_string();
    let mut problems = Vec::new();
    if output.status.success() {
        problems.push("exit code 0".to_string());
    }
    if output.status.code().is_none() {
        problems.push(format!("killed by a signal: {:?}", output.status));
    }
    if message.contains("panicked") {
        problems.push("panicked".to_string());
    }
    if elapsed > ANSWER_WITHIN {
        problems.push(format!("took {elapsed:?}"));
    }
    if message.len() > MESSAGE_BYTES_MAX {
        problems.push(format!("message of {} bytes", message.len()));
    }
    for needle in case["expect"].as_array().unwrap() {
        let needle = needle.as_str().unwrap();
        if !message.contains(needle) {
            problems.push(format!("no `{needle}`"));
        }
    }
    if with_out && out.exists() {
        problems.push("output left in --out".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n    dmsim {}\n    {}",
            case["name"].as_str().unwrap(),
            problems.join(", "),
            args.join(" "),
            message.trim_end().replace('\n', "\n    ")
        ))
    }
}

#[test]
fn every_bad_input_of_the_table_is_refused_clearly_quickly_and_cleanly() {
    let table: Value = serde_json::from_str(include_str!("bad_input/cases.json")).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 60, "the table holds {} cases", cases.len());
    let mut names = std::collections::BTreeSet::new();
    for case in cases {
        assert!(
            names.insert(case["name"].as_str().unwrap()),
            "duplicate case {}",
            case["name"]
        );
        assert!(
            !case["expect"].as_array().unwrap().is_empty(),
            "{} expects nothing",
            case["name"]
        );
    }
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
