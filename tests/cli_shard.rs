//! End-to-end test of a comparison split into shards (`compare --shard I/N`) and joined again
//! (`merge`): the merged report's files equal the unsharded run's byte for byte for N = 1, 3
//! and 4, and a missing, foreign or duplicate shard is refused with a message that says what
//! to re-run, leaving no report behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TPCC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/traces/tpcc-small.trace"
);

fn dmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "dmsim failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The baseline and 3 modes × 2 policies = 7 cells, small enough for a debug build.
fn compare(out: &Path, extra: &[&str]) -> Output {
    #[rustfmt::skip]
    let mut args = vec![
        "compare", TPCC, "--limit", "300", "--qd", "4",
        "--modes", "writeback,writethrough,writearound", "--policies", "fifo,lru",
        "--cache-size", "2m", "--assoc", "256", "--jobs", "2", "--out", out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    dmsim(&args)
}

fn run_shards(root: &Path, count: u32) -> Vec<PathBuf> {
    (1..=count)
        .map(|index| {
            let dir = root.join(format!("n{count}-shard-{index}"));
            let shard = format!("{index}/{count}");
            let out = ok(compare(&dir, &["--shard", &shard]));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!("shard {shard}:")), "{text}");
            // A shard writes its partial result and nothing else.
            let names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, vec!["shard.json".to_string()]);
            dir
        })
        .collect()
}

fn merge(dirs: &[PathBuf], out: &Path) -> Output {
    let mut args = vec!["merge".to_string()];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap().to_string()));
    args.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    dmsim(&args)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn merged_shards_equal_the_unsharded_report_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    let whole_out = ok(compare(&whole, &[]));
    let expected = files(&whole);
    assert!(expected.len() >= 10, "{} files", expected.len());

    for count in [1, 3, 4] {
        let dirs = run_shards(root.path(), count);
        let merged = root.path().join(format!("merged-{count}"));
        let merge_out = ok(merge(&dirs, &merged));
        let actual = files(&merged);
        assert_eq!(
            actual.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            expected.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            "{count} shards: same file names"
        );
        for ((name, bytes), (_, want)) in actual.iter().zip(&expected) {
            assert!(bytes == want, "{count} shards: {name} differs");
        }
        // The same table on the terminal, too.
        let table = |o: &Output| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.starts_with('|'))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(table(&merge_out), table(&whole_out), "{count} shards");
        assert!(!table(&whole_out).is_empty());
    }
}

#[test]
fn merge_refuses_missing_foreign_and_duplicate_shards_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dirs = run_shards(root.path(), 4);
    let out = root.path().join("report");

    // 7 cells: the no-cache baseline `none` (cell 0), then 3 modes x 2 policies. Shard 3 of
    // 4 owns cells 2 (writeback/lru) and 6 (writearound/lru).
    let some: Vec<PathBuf> = [0, 1, 3].iter().map(|&i| dirs[i].clone()).collect();
    let o = merge(&some, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("2 of 7 cells missing"), "{stderr}");
    assert!(stderr.contains("writeback/lru (shard 3/4)"), "{stderr}");
    assert!(stderr.contains("writearound/lru (shard 3/4)"), "{stderr}");
    assert!(stderr.contains("--shard I/4"), "{stderr}");
    assert!(!out.exists(), "a refused merge leaves no report");

    // A shard of another grid (another seed) has another grid hash.
    let foreign = root.path().join("foreign");
    ok(compare(&foreign, &["--shard", "3/4", "--seed", "7"]));
    let mut mixed = some.clone();
    mixed.push(foreign);
    let o = merge(&mixed, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("another comparison") && stderr.contains("grid hash"),
        "{stderr}"
    );
    assert!(!out.exists());

    let mut twice = dirs.clone();
    twice.push(dirs[1].clone());
    let o = merge(&twice, &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("given twice"), "{stderr}");
    assert!(!out.exists());

    // Re-running only the missing shard completes the grid.
    let mut completed = some;
    completed.push(dirs[2].clone());
    ok(merge(&completed, &out));
    assert!(out.join("compare.json").exists());
}

#[test]
fn bad_shard_flags_are_refused_before_running() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("s");
    for (flag, says) in [("5/4", "1..=4"), ("0/2", "numbered from 1"), ("x", "I/N")] {
        let o = compare(&out, &["--shard", flag]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "--shard {flag} accepted");
        assert!(
            stderr.contains("--shard") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!out.exists());
    }
    let o = dmsim(&["merge", root.path().join("nowhere").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("nowhere") && stderr.contains("shard.json"),
        "{stderr}"
    );
}
