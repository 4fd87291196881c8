//! The bad inputs of issue 13, one test each: refused with a message that says what is wrong
//! and what to do, or accepted with a warning where flashcache itself accepts them.
// The wall clock only times how fast dmsim answers; it never reaches a result.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Longest any of these refusals may take (debug build on a loaded 2-core machine).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

fn dmsim(args: &[&str]) -> Output {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs");
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "dmsim {args:?} took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "dmsim {args:?} panicked: {stderr}"
    );
    output
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Refused with exit code 1 and a message containing every one of `needles`.
fn refused(args: &[&str], needles: &[&str]) -> String {
    let o = dmsim(args);
    let text = stderr(&o);
    assert!(!o.status.success(), "dmsim {args:?} was accepted: {text}");
    for needle in needles {
        assert!(
            text.contains(needle),
            "dmsim {args:?}: `{needle}` not in: {text}"
        );
    }
    text
}

/// The first `lines` lines of the bundled MSR sample, written to `dir/name`.
fn msr_trace(dir: &Path, name: &str, lines: usize) -> PathBuf {
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
    ))
    .unwrap();
    let text: String = sample
        .lines()
        .take(lines)
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_cache_the_machine_cannot_hold_or_larger_than_the_ssd_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    let t = trace.to_str().unwrap();
    // 0 means the whole 1.92 TB NVMe SSD: tens of GiB of simulation state.
    refused(
        &["replay", t, "--cache-size", "0"],
        &["--cache-size 0", "whole", "of memory", "available"],
    );
    refused(
        &["replay", t, "--cache-size", "100t"],
        &["--cache-size 100.0 TiB", "larger than the SSD ssd-nvme"],
    );
}

#[test]
fn a_timestamp_out_of_place_in_an_open_loop_replay_is_refused_not_replayed_for_years() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    let mut text = std::fs::read_to_string(&trace).unwrap();
    // One record stamped at the start of the Windows epoch, 400 years before the others.
    text.push_str("0,hm,0,Read,4096,4096,100\n");
    std::fs::write(&trace, text).unwrap();
    let t = trace.to_str().unwrap();
    refused(
        &["replay", t, "--open-loop"],
        &["open-loop", "years", "--qd"],
    );
    // Closed loop does not look at the times.
    assert!(dmsim(&["replay", t, "--cache-size", "64m"])
        .status
        .success());
}

#[test]
fn a_second_real_run_on_the_same_ssd_says_a_cache_exists_and_offers_load_or_force() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 100);
    let ssd = dir.path().join("ssd.img");
    let hdd = dir.path().join("hdd.img");
    std::fs::File::create(&ssd)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    std::fs::File::create(&hdd)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    #[rustfmt::skip]
    let run = |extra: &[&str]| {
        let mut args = vec![
            "replay", trace.to_str().unwrap(), "--real", "--ssd-dev", ssd.to_str().unwrap(),
            "--hdd-dev", hdd.to_str().unwrap(), "--allow-write", "--assoc", "256", "--fit", "wrap",
        ];
        args.extend_from_slice(extra);
        dmsim(&args)
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = run(&[]);
    let text = stderr(&second);
    assert!(!second.status.success());
    assert!(
        text.contains("already holds a flashcache cache")
            && text.contains("--existing-cache load")
            && text.contains("--existing-cache force-create"),
        "{text}"
    );
    let loaded = run(&["--existing-cache", "load"]);
    assert!(loaded.status.success(), "{}", stderr(&loaded));
    let forced = run(&["--existing-cache", "force-create"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    // Without --real the flag has no device to act on.
    refused(
        &[
            "replay",
            trace.to_str().unwrap(),
            "--existing-cache",
            "load",
        ],
        &["--real"],
    );
}

#[test]
fn an_unwritable_out_is_refused_before_the_run_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("report");
    for command in [
        vec!["replay", trace.to_str().unwrap()],
        vec!["compare", trace.to_str().unwrap()],
        vec!["run", "--requests", "10"],
    ] {
        let mut args = command.clone();
        args.extend(["--out", out.to_str().unwrap()]);
        refused(&args, &["--out", "not a directory"]);
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 2, "only the trace and the file remain");
}

#[test]
fn a_format_that_reads_none_of_the_first_lines_is_a_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    refused(
        &["replay", trace.to_str().unwrap(), "--format", "blkparse"],
        &["--format blkparse", "read as msr", "drop --format"],
    );
}

#[test]
fn skipped_bad_lines_are_counted_on_screen_and_in_summary_json() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    let mut text = std::fs::read_to_string(&trace).unwrap();
    text.push_str("128166385301453920,hm,0,Write,oops,4096,1037\nnot,a,record\n");
    std::fs::write(&trace, text).unwrap();
    let out = dir.path().join("out");
    #[rustfmt::skip]
    let o = dmsim(&[
        "replay", trace.to_str().unwrap(), "--skip-bad-lines", "--cache-size", "64m",
        "--out", out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("skipped 2 malformed line(s); first:") && stdout.contains(":51:"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["config"]["bad_lines_skipped"], 2);
    assert!(summary["config"]["first_bad_line"]
        .as_str()
        .unwrap()
        .contains("field `Offset`"));
}

#[test]
fn a_dirty_threshold_beyond_flashcaches_range_is_clamped_as_flashcache_does_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 50);
    #[rustfmt::skip]
    let o = dmsim(&[
        "replay", trace.to_str().unwrap(), "--cache-size", "64m", "--set", "dirty_thresh_pct=500",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(
        text.contains("warning: --set dirty_thresh_pct=500") && text.contains("clamped to 95"),
        "{text}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        summary["config"]["flashcache"]["tunables"]["dirty_thresh_pct"],
        95
    );
    let o = dmsim(&[
        "replay",
        trace.to_str().unwrap(),
        "--cache-size",
        "64m",
        "--set",
        "dirty_thresh_pct=50",
    ]);
    assert!(o.status.success() && !stderr(&o).contains("warning"));
}

#[test]
fn a_binary_file_is_shown_as_a_short_escaped_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.dump");
    let mut bytes: Vec<u8> = (0..2500u32).map(|i| (i * 7 % 256) as u8).collect();
    bytes[..4].copy_from_slice(b"\x7fELF");
    std::fs::write(&path, &bytes).unwrap();
    let text = refused(
        &["replay", path.to_str().unwrap()],
        &["looks binary", "\\x7fELF"],
    );
    assert!(text.len() < 600, "{} bytes: {text}", text.len());
    assert!(!text.contains('\u{fffd}'), "raw bytes echoed: {text}");
}

#[test]
fn device_paths_without_real_are_refused() {
    refused(
        &["run", "--dev", "/dev/null", "--requests", "10"],
        &["--real"],
    );
    #[rustfmt::skip]
    refused(
        &["run", "--target", "flashcache", "--ssd-dev", "/dev/null", "--requests", "10"],
        &["--real"],
    );
    refused(&["run", "--allow-write", "--requests", "10"], &["--real"]);
}

#[test]
fn swapped_ssd_and_hdd_presets_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 30);
    #[rustfmt::skip]
    let o = dmsim(&[
        "replay", trace.to_str().unwrap(), "--ssd", "hdd-7200", "--hdd", "ssd-nvme",
        "--cache-size", "64m", "--fit", "wrap",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--hdd ssd-nvme is an SSD: are the presets swapped?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_associativity_names_the_flag_and_the_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    let trace = msr_trace(dir.path(), "t.csv", 30);
    for bad in ["3", "128", "16384", "300", "many"] {
        let text = refused(
            &["replay", trace.to_str().unwrap(), "--assoc", bad],
            &[&format!("--assoc {bad}"), "256 to 8192", "'full'"],
        );
        assert!(!text.contains("flashcache: flashcache:"), "{text}");
    }
}

#[test]
fn corrupt_compressed_traces_are_called_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(msr_trace(dir.path(), "t.csv", 200)).unwrap();
    let gzip = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&plain).unwrap();
        e.finish().unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cut.csv.gz", gzip[..gzip.len() / 2].to_vec(), "gzip"),
        (
            "noise.csv.bz2",
            b"BZh91AY&SYnot really bzip2 at all".to_vec(),
            "bzip2",
        ),
        ("noise.csv.zst", vec![0x5a; 64], "zstd"),
        (
            "noise.csv.xz",
            b"\xfd7zXZ\x00garbage garbage".to_vec(),
            "xz",
        ),
    ];
    for (name, bytes, compression) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        refused(
            &["replay", path.to_str().unwrap()],
            &[name, &format!("corrupt or truncated {compression} data")],
        );
    }
}

#[test]
fn a_wrong_typed_scenario_field_is_named_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        "{\"name\": \"x\",\n \"input\": {\"trace\": {\"path\": \"t.csv\"}},\n \"cache\": {\"cache_size\": 4096}}\n",
    )
    .unwrap();
    refused(
        &["compare", path.to_str().unwrap()],
        &["s.json:3:", "field `cache.cache_size`", "expected a string"],
    );
}
