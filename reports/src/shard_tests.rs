//! Sharding a comparison and merging it back: the merged files equal the unsharded run's byte
//! for byte, and every way the shards can fail to fit together is an error that says what to do.

use std::fs;
use std::path::{Path, PathBuf};

use crate::compare::CompareReport;
use crate::demo::demo_compare_report;
use crate::shard::{merge_shards, CompareShard, GridHasher, MergeError, ShardCell, ShardId};

const GRID_HASH: &str = "00112233aabbccdd";

/// Splits `report` into `count` shards written under `root/shard-I`, as `compare --shard`
/// would; returns the shard directories in shard order.
fn write_shards(report: &CompareReport, count: u32, root: &Path, grid_hash: &str) -> Vec<PathBuf> {
    let labels: Vec<String> = report.runs.iter().map(|r| r.label.clone()).collect();
    (1..=count)
        .map(|index| {
            let shard = ShardId { index, count };
            let cells = report
                .runs
                .iter()
                .enumerate()
                .filter(|(k, _)| shard.owns(*k))
                .map(|(index, run)| ShardCell {
                    index,
                    run: run.clone(),
                })
                .collect();
            let dir = root.join(format!("shard-{index}"));
            CompareShard::new(
                grid_hash.to_string(),
                shard,
                report.title.clone(),
                report.axes.clone(),
                labels.clone(),
                cells,
            )
            .unwrap()
            .write(&dir)
            .unwrap();
            dir
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn merged_shards_write_byte_identical_files_for_1_3_and_4_shards() {
    let report = demo_compare_report();
    assert!(
        report.runs.len() >= 4,
        "the demo grid must have cells for 4 shards"
    );
    let whole = tempfile::tempdir().unwrap();
    report.write(whole.path()).unwrap();
    let expected = files(whole.path());

    for count in [1, 3, 4] {
        let root = tempfile::tempdir().unwrap();
        let mut dirs = write_shards(&report, count, root.path(), GRID_HASH);
        // Merge order must not matter.
        dirs.reverse();
        let merged = merge_shards(&dirs).unwrap();
        assert_eq!(
            merged, report,
            "{count} shards: the report survives the round trip"
        );
        let out = root.path().join("merged");
        merged.write(&out).unwrap();
        let actual = files(&out);
        assert_eq!(
            actual.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            expected.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        for ((name, bytes), (_, want)) in actual.iter().zip(&expected) {
            assert!(
                bytes == want,
                "{count} shards: {name} differs from the unsharded run"
            );
        }
    }
}

#[test]
fn assignment_is_round_robin_from_one() {
    let shard = ShardId { index: 2, count: 3 };
    let owned: Vec<usize> = (0..8).filter(|&k| shard.owns(k)).collect();
    assert_eq!(owned, vec![1, 4, 7]);
    assert_eq!(ShardId { index: 1, count: 3 }.shard_of(6), 1);
    assert_eq!(ShardId::WHOLE.shard_of(12345), 1);
    // Every cell has exactly one owner.
    for count in 1..=5u32 {
        for k in 0..20 {
            let owners = (1..=count)
                .filter(|&index| ShardId { index, count }.owns(k))
                .count();
            assert_eq!(owners, 1, "cell {k} of {count} shards");
        }
    }
}

#[test]
fn shard_ids_parse_and_refuse_with_reasons() {
    assert_eq!(
        ShardId::parse("2/4").unwrap(),
        ShardId { index: 2, count: 4 }
    );
    assert_eq!(ShardId::parse("1/1").unwrap(), ShardId::WHOLE);
    assert_eq!(ShardId::parse("3/4").unwrap().to_string(), "3/4");
    for (text, says) in [
        ("2", "expected I/N"),
        ("0/4", "numbered from 1"),
        ("5/4", "1..=4"),
        ("1/0", "shard count"),
        ("a/4", "not a whole number"),
        ("1/-2", "not a whole number"),
        ("1/100001", "shard count"),
    ] {
        let error = ShardId::parse(text).unwrap_err();
        assert!(error.contains(says), "{text}: {error}");
    }
}

#[test]
fn a_missing_shard_names_its_cells_and_the_shard_to_rerun() {
    let report = demo_compare_report();
    let root = tempfile::tempdir().unwrap();
    let mut dirs = write_shards(&report, 3, root.path(), GRID_HASH);
    dirs.remove(1);
    let error = merge_shards(&dirs).unwrap_err();
    let MergeError::Missing {
        count,
        ref missing,
        ref shards_to_rerun,
        ..
    } = error
    else {
        panic!("expected Missing, got {error}");
    };
    assert_eq!(count, 3);
    assert_eq!(shards_to_rerun, &vec![2]);
    let expected: Vec<(String, u32)> = report
        .runs
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 3 == 1)
        .map(|(_, r)| (r.label.clone(), 2))
        .collect();
    assert_eq!(missing, &expected);
    let text = error.to_string();
    assert!(text.contains("--shard I/3"), "{text}");
    assert!(text.contains(&expected[0].0), "{text}");

    // Re-running only the missing shard is enough.
    let rerun = tempfile::tempdir().unwrap();
    let again = write_shards(&report, 3, rerun.path(), GRID_HASH);
    dirs.push(again[1].clone());
    assert_eq!(merge_shards(&dirs).unwrap(), report);
}

#[test]
fn shards_of_another_grid_or_given_twice_are_refused() {
    let report = demo_compare_report();
    let root = tempfile::tempdir().unwrap();
    let dirs = write_shards(&report, 2, &root.path().join("a"), GRID_HASH);
    let other = write_shards(&report, 2, &root.path().join("b"), "ffffffffffffffff");
    let error = merge_shards(&[dirs[0].clone(), other[1].clone()]).unwrap_err();
    assert!(
        matches!(
            error,
            MergeError::Mismatch {
                what: "grid hash",
                ..
            }
        ),
        "{error}"
    );
    let three = write_shards(&report, 3, &root.path().join("c"), GRID_HASH);
    let error = merge_shards(&[dirs[0].clone(), three[1].clone()]).unwrap_err();
    assert!(
        matches!(
            error,
            MergeError::Mismatch {
                what: "shard count",
                ..
            }
        ),
        "{error}"
    );
    let error = merge_shards(&[dirs[0].clone(), dirs[1].clone(), dirs[0].clone()]).unwrap_err();
    assert!(matches!(error, MergeError::Duplicate { .. }), "{error}");
    assert!(matches!(
        merge_shards(&[]).unwrap_err(),
        MergeError::NoShards
    ));
    let error = merge_shards(&[root.path().join("nowhere")]).unwrap_err();
    assert!(error.to_string().contains("nowhere"), "{error}");
}

#[test]
fn a_shard_holding_cells_it_does_not_own_is_invalid() {
    let report = demo_compare_report();
    let labels: Vec<String> = report.runs.iter().map(|r| r.label.clone()).collect();
    let cells = vec![ShardCell {
        index: 0,
        run: report.runs[0].clone(),
    }];
    let error = CompareShard::new(
        GRID_HASH.to_string(),
        ShardId { index: 2, count: 2 },
        report.title.clone(),
        report.axes.clone(),
        labels.clone(),
        cells,
    )
    .unwrap_err();
    assert!(error.to_string().contains("must hold cells [1"), "{error}");

    let mut wrong_label = report.runs[0].clone();
    wrong_label.label = "somebody else".to_string();
    let error = CompareShard::new(
        GRID_HASH.to_string(),
        ShardId {
            index: 1,
            count: report.runs.len() as u32,
        },
        report.title.clone(),
        report.axes.clone(),
        labels,
        vec![ShardCell {
            index: 0,
            run: wrong_label,
        }],
    )
    .unwrap_err();
    assert!(error.to_string().contains("cells[0].run.label"), "{error}");
}

#[test]
fn a_corrupt_shard_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("shard.json"), "{\"format\": 3}").unwrap();
    let error = CompareShard::read(dir.path()).unwrap_err();
    assert!(error.to_string().contains("shard.json"), "{error}");
}

#[test]
fn grid_hash_separates_parts_and_is_pinned() {
    let hex = |parts: &[&[u8]]| {
        let mut h = GridHasher::default();
        for p in parts {
            h.part(p);
        }
        h.finish_hex()
    };
    assert_ne!(hex(&[b"ab", b"c"]), hex(&[b"a", b"bc"]));
    assert_eq!(hex(&[b"ab", b"c"]), hex(&[b"ab", b"c"]));
    // FNV-1a 64 of the empty input is its offset basis; pinned so shard files stay comparable
    // across versions of dmsim that write the same format.
    assert_eq!(GridHasher::default().finish_hex(), "cbf29ce484222325");
    let mut h = GridHasher::default();
    h.bytes(b"a");
    assert_eq!(h.finish_hex(), "af63dc4c8601ec8c");
}
