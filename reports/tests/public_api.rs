//! The reports crate as the CLI uses it: record runs, write summary.json, compare runs, write
//! the comparison directory. Pins the JSON layout with a small golden file
//! (`DMSIM_UPDATE_GOLDEN=1` rewrites it after a deliberate change).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use dmsim_reports::{
    stat, ChartKind, CompareReport, GridAxis, Op, RunRecorder, RunReport, COMPARE_FILE_NAME,
    INDEX_FILE_NAME, SUMMARY_FILE_NAME,
};

/// A small run: `reads` reads at `read_ns` and 3 writes at `write_ns`, 1 ms apart.
fn small_run(label: &str, mode: &str, read_ns: u64, write_ns: u64, reads: u64) -> RunReport {
    let mut recorder = RunRecorder::new(&["ssd", "hdd"], 2_000_000, 4);
    let mut time = 0;
    for _ in 0..reads {
        recorder.record_request(Op::Read, time, time + read_ns, 4096);
        recorder.record_device_io(0, Op::Read, 4096);
        time += 1_000_000;
    }
    for index in 0..3 {
        recorder.record_request(Op::Write, time, time + write_ns, 8192);
        recorder.record_device_io(1, Op::Write, 8192);
        recorder.sample_gauges(time + write_ns, index + 1, 10 + index);
        time += 1_000_000;
    }
    recorder.record_cleanings(time, 2);
    let stats: BTreeMap<String, u64> = [
        (stat::READS, reads),
        (stat::READ_HITS, reads / 2),
        (stat::WRITES, 3),
        (stat::WRITE_HITS, 1),
        (stat::CLEANINGS, 2),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    let config = serde_json::json!({ "mode": mode, "policy": "lru" });
    recorder.finish(label, config, stats, 12_000_000)
}

fn small_compare() -> CompareReport {
    let runs = vec![
        small_run("wb/lru", "wb", 120_000, 150_000, 5),
        small_run("wt/lru", "wt", 130_000, 7_000_000, 4),
    ];
    let axes = vec![
        GridAxis {
            name: "mode".to_string(),
            values: vec!["wb".to_string(), "wt".to_string()],
        },
        GridAxis {
            name: "policy".to_string(),
            values: vec!["lru".to_string()],
        },
    ];
    CompareReport::new("small", axes, runs).expect("valid comparison")
}

#[test]
fn recorded_run_has_the_expected_numbers() {
    let run = small_run("r", "wb", 120_000, 150_000, 5);
    assert_eq!(run.latency.read.count, 5);
    assert_eq!(run.latency.read.p99_ns, 120_000);
    assert_eq!(run.latency.write.max_ns, 150_000);
    assert_eq!(run.throughput.requests, 8);
    assert_eq!(run.throughput.duration_ns, 12_000_000);
    assert_eq!(run.device("hdd").map(|d| d.bytes_written), Some(3 * 8192));
    assert_eq!(run.read_hit_percent(), Some(40.0));
    // 12 ms at 2 ms per bucket needs 6 buckets > 4: coarsened once to 4 ms.
    assert_eq!(run.time_series.bucket_ns, 4_000_000);
    assert_eq!(run.time_series.len(), 3);
    assert_eq!(run.time_series.cleanings.iter().sum::<u64>(), 2);
}

#[test]
fn summary_json_round_trips_through_a_directory() {
    let run = small_run("r", "wb", 120_000, 150_000, 5);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("nested").join("out");
    let path = run.write_summary(&dir).unwrap();
    assert_eq!(path, dir.join(SUMMARY_FILE_NAME));
    assert_eq!(RunReport::read_summary(&path).unwrap(), run);
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![SUMMARY_FILE_NAME]);
}

#[test]
fn compare_directory_holds_every_output_and_json_matches_golden() {
    let report = small_compare();
    let root = tempfile::tempdir().unwrap();
    let written = report.write(root.path()).unwrap();
    let names = CompareReport::output_file_names();
    assert_eq!(written.len(), names.len());
    assert_eq!(names.len(), 2 + 2 * ChartKind::ALL.len());
    for name in &names {
        assert!(root.path().join(name).is_file(), "{name} missing");
    }
    assert!(names.contains(&INDEX_FILE_NAME.to_string()));

    let json = fs::read_to_string(root.path().join(COMPARE_FILE_NAME)).unwrap();
    assert_eq!(json, report.to_json());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/small_compare.json");
    if std::env::var_os("DMSIM_UPDATE_GOLDEN").is_some() {
        fs::write(&golden, &json).unwrap();
    }
    let expected = fs::read_to_string(&golden).expect("golden file (DMSIM_UPDATE_GOLDEN=1)");
    assert_eq!(json, expected, "compare.json layout changed");
}

#[test]
fn markdown_table_lists_each_run_with_axis_values() {
    let markdown = small_compare().to_markdown();
    let rows: Vec<&str> = markdown.lines().collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0].contains("| mode | policy |"), "{markdown}");
    assert!(
        rows[2].starts_with("| wb/lru | wb   | lru    | 40.00"),
        "{markdown}"
    );
    assert!(rows[3].contains("7 ms"), "wt write p50: {markdown}");
}

#[test]
fn corrupt_compare_json_is_rejected_with_its_path() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(COMPARE_FILE_NAME);
    fs::write(&path, "{\"title\": \"x\", \"axes\": [], \"runs\": []}").unwrap();
    let error = CompareReport::read(&path).unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("at least one run"), "{error}");
}
