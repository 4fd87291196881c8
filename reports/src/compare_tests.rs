//! Tests of comparison output: determinism, atomicity, golden tables, validation.
//!
//! Set `DMSIM_REPORTS_DEMO_DIR=/some/dir` to also write the demo comparison there and look at
//! the charts; set `DMSIM_UPDATE_GOLDEN=1` to rewrite the golden files after a deliberate
//! change (then review the diff).

use std::fs;
use std::path::{Path, PathBuf};

use crate::charts::ChartKind;
use crate::compare::{CompareReport, GridAxis, COMPARE_FILE_NAME, INDEX_FILE_NAME};
use crate::demo::demo_compare_report;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(name)
}

/// Compares `actual` with the golden file `name`, or rewrites it when asked to.
fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("DMSIM_UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (DMSIM_UPDATE_GOLDEN=1 creates it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; rerun with DMSIM_UPDATE_GOLDEN=1 if the change is intended",
        path.display()
    );
}

fn sorted_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn demo_outputs_are_complete_and_byte_identical_across_writes() {
    let report = demo_compare_report();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let written = report.write(first.path()).unwrap();
    report.write(second.path()).unwrap();

    let expected_names = CompareReport::output_file_names();
    assert_eq!(written.len(), expected_names.len());
    let mut sorted_expected = expected_names.clone();
    sorted_expected.sort();
    assert_eq!(
        sorted_entries(first.path()),
        sorted_expected,
        "no temporaries left"
    );

    for name in &expected_names {
        let a = fs::read(first.path().join(name)).unwrap();
        let b = fs::read(second.path().join(name)).unwrap();
        assert!(!a.is_empty(), "{name} is empty");
        assert!(
            a == b,
            "{name} differs between two writes of the same report"
        );
    }
    for kind in ChartKind::ALL {
        let png = fs::read(first.path().join(format!("{}.png", kind.file_stem()))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{kind:?} is not a PNG");
        let svg =
            fs::read_to_string(first.path().join(format!("{}.svg", kind.file_stem()))).unwrap();
        assert!(svg.contains("<svg"), "{kind:?}");
        assert!(svg.contains(kind.title()), "{kind:?} SVG lacks its title");
        assert!(svg.contains("wb/lru"), "{kind:?} SVG lacks the legend");
    }

    let back = CompareReport::read(&first.path().join(COMPARE_FILE_NAME)).unwrap();
    assert_eq!(back, report);

    if let Some(dir) = std::env::var_os("DMSIM_REPORTS_DEMO_DIR") {
        report.write(Path::new(&dir)).unwrap();
    }
}

#[test]
fn index_html_is_self_contained_and_shows_every_chart() {
    let report = demo_compare_report();
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    let html = fs::read_to_string(dir.path().join(INDEX_FILE_NAME)).unwrap();
    for kind in ChartKind::ALL {
        assert!(
            html.contains(&format!("<img src=\"{}.svg\"", kind.file_stem())),
            "{kind:?} missing"
        );
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external resource"
    );
    assert!(!html.contains("<script"), "scripts are not needed");
    assert!(html.contains("<style>"));
    assert!(html.contains("wt/fifo"));
    check_golden("demo_index.html", &html);
}

#[test]
fn demo_markdown_matches_golden() {
    let markdown = demo_compare_report().to_markdown();
    let lines: Vec<&str> = markdown.lines().collect();
    assert_eq!(lines.len(), 2 + 6, "header, rule, one row per run");
    assert!(lines[0].starts_with("| run "));
    assert!(lines
        .iter()
        .all(|line| line.starts_with('|') && line.ends_with('|')));
    let widths: Vec<usize> = lines.iter().map(|line| line.chars().count()).collect();
    assert!(
        widths.windows(2).all(|w| w[0] == w[1]),
        "columns are aligned"
    );
    check_golden("demo_compare.md", &markdown);
}

#[test]
fn demo_summary_text_matches_golden() {
    let report = demo_compare_report();
    let text: String = report.runs.iter().map(|run| run.summary_text()).collect();
    check_golden("demo_summaries.txt", &text);
}

#[test]
fn demo_data_is_plausible() {
    let report = demo_compare_report();
    let by_label = |label: &str| report.runs.iter().find(|run| run.label == label).unwrap();
    let wb = by_label("wb/lru");
    let wa = by_label("wa/lru");
    // Write-back absorbs writes on the SSD; write-around sends them to the disk.
    assert!(wb.latency.write.p50_ns < 1_000_000);
    assert!(wa.latency.write.p50_ns > 1_000_000);
    assert!(wb.stat("cleanings").unwrap_or(0) > 0);
    assert_eq!(wa.stat("write_hits"), None);
    assert!(wb.time_series.dirty_blocks.iter().any(|&d| d > 1_000));
    assert!(wa.time_series.dirty_blocks.iter().all(|&d| d == 0));
    assert!(by_label("wb/lru").read_hit_percent() > by_label("wb/fifo").read_hit_percent());
}

#[test]
fn failed_write_leaves_nothing_of_its_own() {
    let report = demo_compare_report();
    let dir = tempfile::tempdir().unwrap();
    // index.html is renamed last; a directory in its place makes that rename fail after every
    // other file was renamed into place.
    fs::create_dir(dir.path().join(INDEX_FILE_NAME)).unwrap();
    fs::write(dir.path().join(INDEX_FILE_NAME).join("keep"), b"x").unwrap();
    let error = report.write(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains(&dir.path().join(INDEX_FILE_NAME).display().to_string()),
        "{error}"
    );
    assert_eq!(
        sorted_entries(dir.path()),
        vec![INDEX_FILE_NAME.to_string()]
    );
}

#[test]
fn unwritable_directory_is_an_error_naming_it() {
    let report = demo_compare_report();
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let target = file.join("out");
    let error = report.write(&target).unwrap_err().to_string();
    assert!(error.contains(&target.display().to_string()), "{error}");
    assert_eq!(sorted_entries(root.path()), vec!["not-a-dir".to_string()]);
}

#[test]
fn validation_rejects_duplicates_and_empty_grids() {
    let mut runs = demo_compare_report().runs;
    runs.truncate(2);
    runs[1].label = runs[0].label.clone();
    let error = CompareReport::new("t", Vec::new(), runs.clone())
        .unwrap_err()
        .to_string();
    assert!(error.contains("runs[1].label"), "{error}");

    let error = CompareReport::new("t", Vec::new(), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(error.contains("at least one run"), "{error}");

    runs[1].label = "other".to_string();
    let axes = vec![
        GridAxis {
            name: "mode".to_string(),
            values: vec!["wb".to_string()],
        },
        GridAxis {
            name: "mode".to_string(),
            values: vec!["wt".to_string()],
        },
    ];
    let error = CompareReport::new("t", axes, runs).unwrap_err().to_string();
    assert!(error.contains("axes[1].name"), "{error}");
}

#[test]
fn charts_cope_with_runs_without_data() {
    let mut report = demo_compare_report();
    report.runs.truncate(1);
    let run = &mut report.runs[0];
    run.latency = Default::default();
    run.devices.clear();
    run.stats.clear();
    run.time_series = Default::default();
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    let svg = fs::read_to_string(dir.path().join("latency_cdf_read.svg")).unwrap();
    assert!(svg.contains("no read requests in any run"));
}

#[test]
fn many_runs_get_distinct_styles_and_a_bounded_legend() {
    let template = demo_compare_report().runs;
    let runs: Vec<_> = (0..40)
        .map(|index| {
            let mut run = template[index % template.len()].clone();
            run.label = format!("run-{index:02}-with-a-rather-long-label");
            run
        })
        .collect();
    let report = CompareReport::new("many", Vec::new(), runs).unwrap();
    let svg = crate::charts::render_svg(ChartKind::LatencyCdfRead, &report.runs).unwrap();
    assert!(
        svg.contains("more"),
        "legend should summarise runs that do not fit"
    );
    assert!(svg.contains("run-00-with-a-rather-"));
    assert!(!svg.contains("run-00-with-a-rather-long-label"));
    assert!(svg.contains("…"));

    if let Some(dir) = std::env::var_os("DMSIM_REPORTS_DEMO_DIR") {
        report.write(&Path::new(&dir).join("many")).unwrap();
    }
}

/// The demo's runs measured against a slower baseline: the baseline's latencies doubled.
fn report_with_baseline() -> CompareReport {
    let mut runs = demo_compare_report().runs;
    runs.truncate(2);
    let mut baseline = runs[0].clone();
    baseline.label = "none".to_string();
    baseline.config = serde_json::json!({"target": "linear"});
    baseline.stats.clear();
    baseline.latency.all.mean_ns *= 2.0;
    baseline.throughput.requests_per_s /= 4.0;
    for run in &mut runs {
        run.config[crate::speedup::BASELINE_KEY] = "none".into();
    }
    runs.insert(0, baseline);
    CompareReport::new("t", Vec::new(), runs).unwrap()
}

#[test]
fn a_baseline_gives_each_run_its_speedup_in_json_table_and_page() {
    let report = report_with_baseline();
    let first = &report.speedups[0];
    assert_eq!(report.speedups.len(), 2, "{:?}", report.speedups);
    assert_eq!(
        (first.label.as_str(), first.baseline.as_str()),
        ("wb/fifo", "none")
    );
    let latency = first.mean_latency_speedup.unwrap();
    assert!((latency - 2.0).abs() < 1e-9, "{latency}");
    let throughput = first.throughput_speedup.unwrap();
    assert!((throughput - 4.0).abs() < 1e-9, "{throughput}");

    let table = report.to_markdown();
    let row = |label: &str| {
        table
            .lines()
            .find(|line| line.starts_with(&format!("| {label} ")))
            .unwrap_or_else(|| panic!("no row {label} in\n{table}"))
            .to_string()
    };
    assert!(table.contains(crate::compare::SPEEDUP_HEADER), "{table}");
    assert!(row("none").contains("| baseline "), "{table}");
    assert!(row("wb/fifo").contains("| 2.00× "), "{table}");

    let page = crate::html::index_html(&report);
    assert!(page.contains("<td>2.00×</td>"), "speed-up cell missing");
    assert!(
        page.contains("no-cache baseline"),
        "baseline setup row missing"
    );

    // compare.json carries them, and reading it back gives the same report.
    let json = report.to_json();
    assert!(json.contains("\"mean_latency_speedup\": 2.0"), "{json}");
    let back = CompareReport::from_json(&json, Path::new("compare.json")).unwrap();
    assert_eq!(back.speedups, report.speedups);

    // A speed-up naming a run that is not there is refused.
    let at = json.find("\"speedups\"").expect("speedups in compare.json");
    let broken = format!(
        "{}{}",
        &json[..at],
        json[at..].replacen("\"baseline\": \"none\"", "\"baseline\": \"gone\"", 1)
    );
    let Err(error) = CompareReport::from_json(&broken, Path::new("c.json")) else {
        panic!("a speed-up against a missing run was accepted");
    };
    let error = error.to_string();
    assert!(
        error.contains("speedups[0].baseline") && error.contains("gone"),
        "{error}"
    );
}

#[test]
fn without_a_baseline_there_is_no_speedup_column() {
    let report = demo_compare_report();
    assert!(report.speedups.is_empty());
    assert!(!report.to_markdown().contains("speed-up"));
    assert!(!report.to_json().contains("speedups"));
}
