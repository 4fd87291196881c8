//! Progress with stderr not a terminal (issue 13.5): status lines on stderr, in a fixed
//! format, suppressed by --quiet, and never in a result. `DMSIM_STATUS_EVERY_MS` shortens the
//! ten seconds before the first line (and the spacing) so a short run shows them.

use std::path::Path;
use std::process::{Command, Output};

const MSR_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
);

fn dmsim(args: &[&str], status_every_ms: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dmsim"));
    command.args(args).env_remove("DMSIM_STATUS_EVERY_MS");
    if let Some(ms) = status_every_ms {
        command.env("DMSIM_STATUS_EVERY_MS", ms);
    }
    let output = command.output().expect("dmsim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    output
}

fn status_lines<'a>(stderr: &'a str, label: &str) -> Vec<&'a str> {
    let prefix = format!("dmsim: {label}: ");
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .filter(|rest| !rest.starts_with("finished in "))
        .collect()
}

fn is_count(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').enumerate().all(|(i, group)| {
            group.chars().all(|c| c.is_ascii_digit())
                && if i == 0 {
                    (1..=3).contains(&group.len())
                } else {
                    group.len() == 3
                }
        })
}

fn is_duration(text: &str) -> bool {
    let units: Vec<&str> = text.split(' ').collect();
    !units.is_empty()
        && units.len() <= 2
        && units.iter().all(|u| {
            u.len() >= 2
                && ["s", "m", "h"].iter().any(|suffix| u.ends_with(suffix))
                && u[..u.len() - 1].chars().all(|c| c.is_ascii_digit())
        })
}

/// `D/T requests (P%), R requests/s[, eta D], D elapsed`; returns the count done.
fn check_status(rest: &str, total: &str) -> u64 {
    let parts: Vec<&str> = rest.split(", ").collect();
    let (done, percent) = parts[0]
        .strip_suffix("%)")
        .and_then(|p| p.split_once(&format!("/{total} requests (")))
        .unwrap_or_else(|| panic!("no done/total in {rest:?}"));
    assert!(is_count(done), "{rest:?}");
    let percent: u64 = percent.parse().unwrap_or_else(|_| panic!("{rest:?}"));
    assert!(percent <= 100, "{rest:?}");
    let rate = parts[1]
        .strip_suffix(" requests/s")
        .unwrap_or_else(|| panic!("no rate in {rest:?}"));
    assert!(
        is_count(rate) || rate.parse::<f64>().is_ok(),
        "{rate:?} in {rest:?}"
    );
    let elapsed = parts[parts.len() - 1]
        .strip_suffix(" elapsed")
        .unwrap_or_else(|| panic!("no elapsed in {rest:?}"));
    assert!(is_duration(elapsed), "{rest:?}");
    if parts.len() == 4 {
        let eta = parts[2].strip_prefix("eta ").unwrap();
        assert!(is_duration(eta), "{rest:?}");
    } else {
        assert_eq!(parts.len(), 3, "{rest:?}");
    }
    done.replace(',', "").parse().unwrap()
}

fn summary(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("summary.json")).expect("summary.json")
}

#[test]
fn a_redirected_run_prints_status_lines_that_quiet_suppresses() {
    let tmp = tempfile::tempdir().unwrap();
    let (loud_dir, quiet_dir) = (tmp.path().join("loud"), tmp.path().join("quiet"));
    let args = |dir: &Path| {
        vec![
            "run".to_string(),
            "--target".into(),
            "flashcache".into(),
            "--requests".into(),
            "20000".into(),
            "--out".into(),
            dir.display().to_string(),
        ]
    };
    let loud_args = args(&loud_dir);
    let loud_args: Vec<&str> = loud_args.iter().map(String::as_str).collect();
    let loud = dmsim(&loud_args, Some("1"));
    let stderr = String::from_utf8_lossy(&loud.stderr);
    let lines = status_lines(&stderr, "run writeback/fifo/randrw");
    assert!(!lines.is_empty(), "no status line in: {stderr}");
    let mut last = 0;
    for line in &lines {
        let done = check_status(line, "20,000");
        assert!(done >= last && done <= 20_000, "{line:?}");
        last = done;
    }
    assert!(
        stderr.contains("dmsim: run writeback/fifo/randrw: finished in "),
        "{stderr}"
    );

    let mut quiet_args = args(&quiet_dir);
    quiet_args.push("--quiet".into());
    let quiet_args: Vec<&str> = quiet_args.iter().map(String::as_str).collect();
    let quiet = dmsim(&quiet_args, Some("1"));
    let quiet_err = String::from_utf8_lossy(&quiet.stderr);
    assert!(!quiet_err.contains("dmsim: run"), "{quiet_err}");

    // The wall clock reaches stderr only: results are the same bytes.
    let text = |o: &Output, dir: &Path| {
        String::from_utf8_lossy(&o.stdout).replace(&dir.display().to_string(), "OUT")
    };
    assert_eq!(text(&loud, &loud_dir), text(&quiet, &quiet_dir));
    assert_eq!(summary(&loud_dir), summary(&quiet_dir));
}

#[test]
fn a_short_run_prints_no_status_line() {
    // Without the test knob the first line waits ten seconds; this run takes well under.
    let out = dmsim(&["run", "--requests", "200"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("dmsim: run"), "{stderr}");
}

#[test]
fn linear_runs_and_replays_report_progress_too() {
    let linear = dmsim(&["run", "--requests", "3000"], Some("1"));
    let stderr = String::from_utf8_lossy(&linear.stderr);
    let lines = status_lines(&stderr, "run linear/randrw");
    assert!(!lines.is_empty(), "no status line in: {stderr}");
    for line in lines {
        check_status(line, "3,000");
    }

    let replay = dmsim(&["replay", MSR_SAMPLE, "--limit", "1000"], Some("1"));
    let stderr = String::from_utf8_lossy(&replay.stderr);
    let lines = status_lines(&stderr, "replay writeback/fifo");
    assert!(!lines.is_empty(), "no status line in: {stderr}");
    for line in lines {
        check_status(line, "1,000");
    }
}

#[test]
fn a_comparison_whose_runs_are_long_still_prints_status_lines_while_they_run() {
    // One cell over the sample repeated 200 times (times shifted past the previous copy):
    // over a second of work, so the status must come from the waiting thread's heartbeat
    // (as often as the 100 ms status lines), before the only run finishes ("0/1 runs").
    // At 60 copies a quiet machine finished the run in half a second, before the heartbeat
    // of 500 ms it then had.
    let sample = std::fs::read_to_string(MSR_SAMPLE).unwrap();
    let span = 2_000_000_000u64; // 200 s in 100 ns ticks, longer than the sample
    let mut text = String::new();
    for copy in 0..200u64 {
        for line in sample.lines() {
            let (time, rest) = line.split_once(',').unwrap();
            let time: u64 = time.parse().unwrap();
            text.push_str(&format!("{},{rest}\n", time + copy * span));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("long.csv");
    std::fs::write(&trace, text).unwrap();
    let out = tmp.path().join("out");
    #[rustfmt::skip]
    let compare = dmsim(&[
        "compare", trace.to_str().unwrap(), "--modes", "writeback", "--policies", "fifo",
        "--no-baseline", "--jobs", "1", "--out", out.to_str().unwrap(),
    ], Some("100"));
    let stderr = String::from_utf8_lossy(&compare.stderr);
    let lines = status_lines(&stderr, "compare long.csv");
    assert!(
        lines.iter().any(|l| l.starts_with("0/1 runs (0%)")),
        "no status line while the run was going: {stderr}"
    );
}

#[test]
fn a_replay_shows_its_record_count_from_the_first_pass() {
    // --fit auto (the default) reads the trace once to learn its footprint: that pass counts
    // the records, so a replay without --limit shows a total, a percentage and an ETA.
    let records = std::fs::read_to_string(MSR_SAMPLE).unwrap().lines().count();
    let total = format!("{},{:03}", records / 1000, records % 1000);
    let replay = dmsim(&["replay", MSR_SAMPLE], Some("1"));
    let stderr = String::from_utf8_lossy(&replay.stderr);
    let lines = status_lines(&stderr, "replay writeback/fifo");
    assert!(!lines.is_empty(), "no status line in: {stderr}");
    for line in lines {
        let done = check_status(line, &total);
        assert!(done <= records as u64, "{line:?}");
    }
    // --fit refuse reads it once: no count, so no total.
    let refuse = dmsim(&["replay", MSR_SAMPLE, "--fit", "refuse"], Some("1"));
    let stderr = String::from_utf8_lossy(&refuse.stderr);
    let lines = status_lines(&stderr, "replay writeback/fifo");
    assert!(!lines.is_empty(), "no status line in: {stderr}");
    assert!(lines.iter().all(|l| !l.contains('%')), "{stderr}");
}

/// A run ends only when its md raid5 array is idle, so a rebuild can outlast the workload
/// (by hours of simulated time with real-size members: found with 3xhdd-7200 and a spare,
/// the line sat at 600/600 requests with nothing else said). The status line names the sync
/// pass, and once the workload is done says that the run waits for it.
#[test]
fn a_rebuild_outlasting_the_workload_is_named_on_the_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Four 4 MiB members; the workload ends at 300 requests, the rebuild (at most 200 KiB/s)
    // of 4 MiB per member takes about 20 s of simulated time after the spare comes.
    let output = dmsim(
        &[
            "run",
            "--hdd-raid5",
            "4xram",
            "--chunk",
            "16k",
            "--set",
            "capacity_sectors=8192",
            "--set",
            "latency_ns=1000000",
            "--set",
            "raid5.speed_limit_min_kib_s=100",
            "--set",
            "raid5.speed_limit_max_kib_s=200",
            "--workload",
            "randrw",
            "--qd",
            "2",
            "--requests",
            "300",
            "--raid5-fail",
            "1@100io",
            "--raid5-spare",
            "150io",
            "--out",
            out.to_str().unwrap(),
        ],
        Some("1"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = status_lines(&stderr, "run linear/randrw");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("; md sync pass ") && l.contains(" of 0.0 GiB per member")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("300/300 requests (100%)")
                && l.ends_with(", the run ends when it does")),
        "{stderr}"
    );
    // The pass did end: the summary's array is whole again.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["raid5"]["mdstat"], "[4/4] [UUUU]");
}
