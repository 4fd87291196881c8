//! End-to-end tests of md raid5 through the CLI binary (issue 10, stacking): `--hdd-raid5
//! NxPRESET --chunk SIZE` puts an md raid5 array of simulated members under flashcache
//! (`run`, `replay`, `compare`, or the scenario fields `devices.hdd_raid5`/`devices.chunk`)
//! or under linear (`run --target linear`), every read verified by the data oracle through
//! the whole stack, md's counters in summary.json; bad shapes are refused naming the flag.
//! Degraded mode: `--raid5-fail MEMBER@WHEN` (or the setting `raid5.fail`) fails a member at
//! a virtual time or right after a request count, and the run goes on verified.
//! `--raid5-spare WHEN` adds a spare that is rebuilt within md's speed limits.

mod cli_support;

use cli_support::{dmsim, stat, summary};

/// Linear on a small array: 3 RAM members with 16 KiB chunks, 3,000 random 8 KiB requests
/// over 8 MiB at queue depth 8.
const SMALL_LINEAR_ARRAY: &[&str] = &[
    "run",
    "--target",
    "linear",
    "--hdd-raid5",
    "3xram",
    "--chunk",
    "16k",
    "--workload",
    "randrw",
    "--bs",
    "8k",
    "--qd",
    "8",
    "--requests",
    "3000",
    "--span",
    "8m",
];

#[test]
fn flashcache_on_an_hdd_raid5_verifies_every_read_and_reports_md_counters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "flashcache",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "64k",
        "--cache-size",
        "4m",
        "--workload",
        "randrw",
        "--qd",
        "8",
        "--requests",
        "3000",
        "--span",
        "32m",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[4/4] [UUUU]"), "mdstat line: {stdout}");
    assert!(stdout.contains("64k chunk"), "{stdout}");
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1000);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    let stat = |name: &str| {
        s["stats"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("stats.{name}"))
    };
    // The cache misses to and cleans onto the array, which turns them into member IO.
    assert!(stat("raid5.reads") > 0 && stat("raid5.writes") > 0);
    assert!(stat("raid5.member_writes") >= 2 * stat("raid5.writes"));
    assert!(stat("raid5.rmw") + stat("raid5.rcw") > 0);
    assert_eq!(stat("raid5.degraded"), 0);
    assert_eq!(stat("raid5.stripe_cache_size"), 256);
    assert_eq!(s["config"]["raid5"]["members"], 4);
    assert_eq!(s["config"]["raid5"]["config"]["chunk_sectors"], 128);
    assert_eq!(s["config"]["raid5"]["config"]["layout"], "left-symmetric");
    // The SSD and four members are the devices; the array is not one.
    assert_eq!(
        s["devices"].as_array().map(Vec::len),
        Some(5),
        "{}",
        s["devices"]
    );
}

#[test]
fn linear_on_raid5_is_verified_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = dmsim(
            &[
                SMALL_LINEAR_ARRAY,
                &["--seed", seed, "--out", out.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out.join("summary.json")).unwrap()
    };
    let first = run("a", "4");
    assert_eq!(first, run("b", "4"), "same seed, byte-identical summary");
    assert_ne!(first, run("c", "5"));
    let s = summary(&dir.path().join("a"));
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1000);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    assert_eq!(s["data_errors"], 0);
    assert!(s["stats"]["raid5.member_reads"].as_u64().unwrap() > 0);
}

#[test]
fn a_scenario_names_the_array_and_compare_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("raid.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "raid5-hm0",
  "input": { "trace": { "path": "bundled:msr-cambridge1-sample.csv", "format": "msr" } },
  "devices": { "ssd": "ssd-nvme", "hdd_raid5": "4xhdd-7200", "chunk": "64k" },
  "cache": { "cache_size": "8m", "assoc": "256" },
  "grid": { "modes": ["writeback", "writethrough"], "policies": ["fifo"] }
}"#,
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let o = dmsim(&[
        "compare",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("compare.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = report["runs"].as_array().expect("runs");
    // The no-cache baseline on the same array, then the two cache modes.
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["label"], "none");
    assert_eq!(runs[0]["config"]["target"], "linear");
    for run in runs {
        assert_eq!(run["config"]["raid5"]["members"], 4, "{}", run["config"]);
        assert_eq!(run["data_errors"], 0);
        assert!(run["verified_reads"].as_u64().unwrap() > 0);
        assert!(run["stats"]["raid5.writes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn impossible_arrays_are_refused_naming_the_flag() {
    let cases: [(&[&str], &[&str]); 14] = [
        (
            &["--hdd-raid5", "2xram"],
            &["--hdd-raid5", "3 to 16 members"],
        ),
        (
            &["--hdd-raid5", "17xram"],
            &["--hdd-raid5", "3 to 16 members"],
        ),
        (&["--hdd-raid5", "fourxram"], &["--hdd-raid5", "NxPRESET"]),
        (&["--hdd-raid5", "4xnope"], &["--hdd-raid5", "nope"]),
        (
            &["--hdd-raid5", "4xram", "--chunk", "6k"],
            &["--chunk", "power of two"],
        ),
        (&["--chunk", "64k"], &["--chunk", "--hdd-raid5"]),
        (
            &["--hdd-raid5", "4xram", "--set", "raid5.stripe_cache_size=5"],
            &["stripe_cache_size"],
        ),
        (
            &["--hdd-raid5", "4xram", "--raid5-fail", "4@1s"],
            &["--raid5-fail", "4@1s", "0..=3"],
        ),
        (
            &["--hdd-raid5", "4xram", "--raid5-fail", "1@2q"],
            &["--raid5-fail", "1@2q", "MEMBER@WHEN"],
        ),
        (
            &["--hdd-raid5", "4xram", "--set", "raid5.fail=x@1s"],
            &["raid5.fail", "MEMBER@WHEN"],
        ),
        (&["--raid5-fail", "1@1s"], &["--raid5-fail", "--hdd-raid5"]),
        (
            &["--hdd-raid5", "4xram", "--raid5-spare", "1@3s"],
            &["--raid5-spare", "1@3s", "WHEN"],
        ),
        (&["--raid5-spare", "3s"], &["--raid5-spare", "--hdd-raid5"]),
        (
            &[
                "--hdd-raid5",
                "4xram",
                "--set",
                "raid5.speed_limit_min_kib_s=5000",
                "--set",
                "raid5.speed_limit_max_kib_s=10",
            ],
            &["speed_limit_min_kib_s", "5000"],
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run", "--target", "flashcache", "--requests", "10"];
        args.extend_from_slice(flags);
        let o = dmsim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?} accepted");
        assert!(!err.contains("panicked"), "{flags:?}: {err}");
        for word in expected {
            assert!(err.contains(word), "{flags:?}: {err}");
        }
    }
}

#[test]
fn a_member_failed_mid_run_is_served_degraded_and_every_read_verified_through_flashcache() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "flashcache",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "16k",
        "--cache-size",
        "4m",
        "--workload",
        "randrw",
        "--bs",
        "8k",
        "--qd",
        "32",
        "--requests",
        "4000",
        "--span",
        "16m",
        "--raid5-fail",
        "2@1000io",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("dev3[2](F)"), "mdstat line: {stdout}");
    assert!(stdout.contains("[4/3] [UU_U]"), "mdstat line: {stdout}");
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1500);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    let raid = &s["config"]["raid5"];
    assert_eq!(raid["state"], "degraded", "{raid}");
    assert_eq!(raid["mdstat"], "[4/3] [UU_U]", "{raid}");
    let fail = &raid["fail"][0];
    assert_eq!(fail["member"], 2, "{raid}");
    assert_eq!(fail["when"], "2@1000io", "{raid}");
    // Right after the 1000th request was issued: IO was in flight when the member went.
    assert_eq!(fail["after_requests"], 1000, "{raid}");
    assert!(fail["at_ns"].as_u64().unwrap() > 0);
    assert_eq!(stat(&s, "raid5.degraded"), 1);
    // Reads of the lost member's data were computed from the others; nothing failed.
    assert!(stat(&s, "raid5.reconstructions") > 100, "{}", s["stats"]);
    assert_eq!(stat(&s, "raid5.bios_failed"), 0);
}

#[test]
fn a_grid_compares_a_healthy_array_with_one_failed_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("raid.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "raid5-degraded",
  "input": { "trace": { "path": "bundled:msr-cambridge1-sample.csv", "format": "msr" } },
  "devices": { "ssd": "ssd-nvme", "hdd_raid5": "4xhdd-7200", "chunk": "64k" },
  "cache": { "cache_size": "8m", "assoc": "256" },
  "grid": { "modes": ["writeback"], "policies": ["fifo"],
            "set": { "raid5.fail": ["", "3@20ms"] } }
}"#,
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let o = dmsim(&[
        "compare",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("compare.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = report["runs"].as_array().expect("runs");
    // A member failure changes the disk: a no-cache baseline for each array, then the cache.
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["label"], "none/raid5.fail=");
    assert_eq!(runs[1]["label"], "none/raid5.fail=3@20ms");
    assert_eq!(runs[0]["config"]["raid5"]["mdstat"], "[4/4] [UUUU]");
    assert_eq!(runs[1]["config"]["raid5"]["mdstat"], "[4/3] [UUU_]");
    assert_eq!(runs[3]["config"]["baseline"], "none/raid5.fail=3@20ms");
    let (healthy, degraded) = (&runs[2], &runs[3]);
    for run in runs {
        assert_eq!(run["data_errors"], 0);
        assert_eq!(run["verified_reads"], healthy["verified_reads"]);
    }
    assert_eq!(healthy["config"]["raid5"]["mdstat"], "[4/4] [UUUU]");
    assert!(healthy["config"]["raid5"]["fail"].is_null());
    assert_eq!(stat(healthy, "raid5.reconstructions"), 0);
    let raid = &degraded["config"]["raid5"];
    assert_eq!(raid["mdstat"], "[4/3] [UUU_]", "{raid}");
    assert_eq!(raid["fail"][0]["at_ns"], 20_000_000, "{raid}");
    assert!(stat(degraded, "raid5.reconstructions") > 0);
    // The failed member gets no IO after 20 ms.
    let member_ios = |run: &serde_json::Value, member: usize| {
        let device = &run["devices"][member + 1];
        device["reads"].as_u64().unwrap() + device["writes"].as_u64().unwrap()
    };
    assert!(member_ios(degraded, 3) * 10 < member_ios(healthy, 3));
    // No sync pass ran: the arrays' sync columns are all idle, and the chart says so.
    for run in runs {
        let total = run["time_series"]["sync_total_sectors"].as_array().unwrap();
        assert!(!total.is_empty() && total.iter().all(|t| t == 0));
    }
    let svg = std::fs::read_to_string(out.join("raid5_sync_progress.svg")).unwrap();
    assert!(svg.contains("no md raid5 array ran a resync"), "{svg}");
}

/// Issue 10 item 6: a comparison of an array rebuilt after a failure with one only failed
/// charts the rebuild's progress; the failed-only run and the runs without an array have
/// no line.
#[test]
fn a_compare_charts_a_rebuild_s_progress() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("raid.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "raid5-rebuild",
  "input": { "workload": { "span_bytes": 0, "alignment_bytes": 4096,
      "pattern": { "kind": "uniform" }, "read_percent": 50,
      "request_size": { "kind": "fixed", "bytes": 4096 }, "requests": 3000 } },
  "pacing": { "qd": 2 },
  "devices": { "ssd": "ssd-nvme", "hdd_raid5": "4xram", "chunk": "16k" },
  "cache": { "cache_size": "4m", "assoc": "256" },
  "set": { "hdd.capacity_sectors": "8192", "hdd.latency_ns": "1000000",
           "raid5.fail": "2@50ms", "raid5.speed_limit_max_kib_s": "2000" },
  "grid": { "modes": ["writeback"], "policies": ["fifo"],
            "set": { "raid5.spare": ["", "100ms"] } }
}"#,
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let o = dmsim(&[
        "compare",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("compare.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = report["runs"].as_array().expect("runs");
    let peak = |run: &serde_json::Value| -> u64 {
        let series = &run["time_series"];
        let done = series["sync_done_sectors"].as_array().unwrap();
        done.iter().map(|d| d.as_u64().unwrap()).max().unwrap()
    };
    let mut rebuilt = 0;
    for run in runs {
        assert_eq!(run["data_errors"], 0);
        let spare = run["config"]["raid5"]["spare"].is_array();
        if spare {
            rebuilt += 1;
            // The pass is sampled as complete when it ends: the line reaches 100 %.
            assert_eq!(peak(run), 8192, "{}", run["label"]);
            assert_eq!(stat(run, "raid5.recoveries"), 1, "{}", run["label"]);
        } else {
            assert_eq!(peak(run), 0, "{}", run["label"]);
        }
    }
    assert_eq!(
        rebuilt, 2,
        "the baseline and the cache over the rebuilt array"
    );
    // The rmw/rcw split over time adds up to the run's counters; the stripe cache's use
    // stays within its size.
    for run in runs {
        let column = |name: &str| -> Vec<u64> {
            let values = run["time_series"][name].as_array().unwrap();
            values.iter().map(|v| v.as_u64().unwrap()).collect()
        };
        let label = &run["label"];
        for name in ["rmw", "rcw"] {
            let total: u64 = column(name).iter().sum();
            assert_eq!(
                total,
                stat(run, &format!("raid5.{name}")),
                "{name} of {label}"
            );
        }
        let active = column("stripe_cache_active");
        assert!(active.iter().all(|&a| a <= 256), "{label}: {active:?}");
    }
    for stem in ["raid5_rmw_share", "raid5_stripe_cache_active"] {
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<polyline"), "{stem}: {svg}");
    }
    let svg = std::fs::read_to_string(out.join("raid5_sync_progress.svg")).unwrap();
    assert!(!svg.contains("no md raid5 array ran"), "{svg}");
    assert!(svg.contains("<polyline"), "a progress line: {svg}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("raid5_sync_progress.svg"));
}

#[test]
fn a_second_failure_fails_io_with_errors_never_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let failures = ["--raid5-fail", "1@1000io", "--raid5-fail", "0@2000io"];
    let o = dmsim(
        &[
            SMALL_LINEAR_ARRAY,
            &failures,
            &["--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    // IO errors are the outcome of the failures asked for, as with flashcache over a
    // failed array: the run succeeds and says so (it exited 1 before, while flashcache
    // exited 0 on the same array).
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("requests failed with IO errors (EIO returned, never wrong data)")
            && !err.contains("panicked"),
        "{err}"
    );
    let s = summary(&out);
    assert_eq!(
        stat(&s, "failed_requests"),
        stat(&s, "raid5.bios_failed"),
        "{}",
        s["stats"]
    );
    assert_eq!(s["data_errors"], 0);
    assert!(s["verified_reads"].as_u64().unwrap() > 500);
    let raid = &s["config"]["raid5"];
    assert_eq!(raid["state"], "failed", "{raid}");
    assert_eq!(raid["mdstat"], "[3/1] [__U]", "{raid}");
    assert_eq!(raid["fail"].as_array().map(Vec::len), Some(2), "{raid}");
    // Every request after the second failure failed (about 1000).
    assert!(
        (990..=1010).contains(&stat(&s, "raid5.bios_failed")),
        "{}",
        s["stats"]
    );
}

#[test]
fn a_failure_the_run_ends_before_is_reported_not_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "linear",
        "--hdd-raid5",
        "3xram",
        "--requests",
        "100",
        "--raid5-fail",
        "1@100s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("raid5 fail 1@100s never happened"),
        "{stdout}"
    );
    let raid = &summary(&out)["config"]["raid5"];
    assert_eq!(raid["fail_missed"][0], "1@100s", "{raid}");
    assert_eq!(raid["mdstat"], "[3/3] [UUU]", "{raid}");
}

#[test]
fn a_spare_is_rebuilt_within_speed_limit_max_and_then_serves_a_second_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Four 4 MiB members of 1 ms per IO under light mixed IO (md counts it as idle: the
    // rebuild runs up to speed_limit_max, here 1000 KiB/s).
    let o = dmsim(&[
        "run",
        "--target",
        "linear",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "16k",
        "--set",
        "capacity_sectors=8192",
        "--set",
        "latency_ns=1000000",
        "--set",
        "raid5.speed_limit_max_kib_s=1000",
        "--workload",
        "randrw",
        "--qd",
        "2",
        "--duration",
        "6s",
        "--raid5-fail",
        "2@100ms",
        "--raid5-spare",
        "200ms",
        "--raid5-fail",
        "0@5s",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The spare (dev4) holds role 2; member 0 failed after the rebuild.
    assert!(
        stdout.contains("dev4[2]") && stdout.contains("dev0[0](F)"),
        "mdstat line: {stdout}"
    );
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(
        s["devices"].as_array().map(Vec::len),
        Some(5),
        "{}",
        s["devices"]
    );
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(reads > 1000);
    assert_eq!(s["verified_reads"].as_u64().unwrap(), reads);
    let raid = &s["config"]["raid5"];
    assert_eq!(raid["mdstat"], "[4/3] [_UUU]", "{raid}");
    assert_eq!(raid["spare"][0]["at_ns"], 200_000_000u64, "{raid}");
    assert_eq!(raid["fail"].as_array().map(Vec::len), Some(2), "{raid}");
    assert_eq!(stat(&s, "raid5.recoveries"), 1);
    assert_eq!(stat(&s, "raid5.recovery_stripes"), 8192 / 8);
    assert_eq!(stat(&s, "raid5.bios_failed"), 0);
    // 4096 KiB at 1000 KiB/s by md's measure: about 3 s (the first 128 KiB and the first
    // second's allowance go at once).
    let rebuild_ns = stat(&s, "raid5.recovery_duration_ns");
    assert!(
        (2_500_000_000..4_500_000_000).contains(&rebuild_ns),
        "rebuild took {rebuild_ns} ns"
    );
    assert!(stat(&s, "raid5.sync_throttles") > 0);
    // The rebuild's progress over time (issue 10 item 6): sampled every bucket while it ran,
    // never going back, over about as many buckets as it took, idle before, complete after
    // (once a pass ends, idle buckets show it done: it used to drop to 0 of 0, and a bucket
    // whose last sample was idle hid the completion).
    let series = &s["time_series"];
    let column = |name: &str| -> Vec<u64> {
        series[name]
            .as_array()
            .unwrap_or_else(|| panic!("time_series.{name}"))
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    let (done, total) = (column("sync_done_sectors"), column("sync_total_sectors"));
    let bucket_ns = series["bucket_ns"].as_u64().unwrap();
    assert!(total.iter().all(|&t| t == 0 || t == 8192), "{total:?}");
    let first = total.iter().position(|&t| t > 0).expect("a pass ran");
    let complete = (first..done.len())
        .find(|&i| done[i] == 8192)
        .expect("the pass completes");
    assert!(total[..first].iter().all(|&t| t == 0), "idle before");
    assert!(
        first as u64 * bucket_ns <= 200_000_000 && 200_000_000 < (first as u64 + 1) * bucket_ns
    );
    let pass_ns = (complete - first + 1) as u64 * bucket_ns;
    assert!(
        pass_ns.abs_diff(rebuild_ns) <= 2 * bucket_ns,
        "{} buckets of {bucket_ns} ns for a rebuild of {rebuild_ns} ns",
        complete - first + 1
    );
    let progress = &done[first..=complete];
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        (complete..done.len()).all(|i| (done[i], total[i]) == (8192, 8192)),
        "complete after the pass: {:?}",
        &done[complete..]
    );
    // Reads of the failed members' data were computed from the others (after 5 s, with the
    // rebuilt spare).
    assert!(stat(&s, "raid5.reconstructions") > 100, "{}", s["stats"]);
}

/// Regression (found 2026-12-05 in review of issue 10.2): writeback flashcache over an array
/// with two failed members, bounded by --duration, spun forever: the failed array fails
/// every request at once, so the closed loop reissued at one virtual instant and never
/// reached its duration. The run now stops with an error that says so.
#[test]
fn a_failed_array_under_a_time_bounded_workload_stops_with_a_clear_error() {
    for target in [&["--target", "linear"][..], &["--mode", "writeback"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut args = vec!["run"];
        if target[0] == "--mode" {
            args.extend(["--target", "flashcache", "--cache-size", "8m"]);
        }
        args.extend(target);
        args.extend([
            "--hdd-raid5",
            "4xram",
            "--chunk",
            "64k",
            "--workload",
            "randrw",
            "--duration",
            "2s",
            "--raid5-fail",
            "1@100ms",
            "--raid5-fail",
            "2@200ms",
            "--out",
            out.to_str().unwrap(),
        ]);
        let o = dmsim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{target:?}: {err}");
        assert!(
            err.contains("fails every request at once")
                && err.contains("bound it with --requests")
                && !err.contains("panicked"),
            "{target:?}: {err}"
        );
    }
}

/// Writearound over a failed array, bounded by --requests: the run ends, every failed
/// request is an IO error (never wrong data), and the run says how many failed (stderr,
/// text summary, summary.json's stats.failed_requests) while exiting 0: the errors are the
/// outcome of the faults injected, not a verification failure.
#[test]
fn writearound_over_a_failed_array_reports_its_failed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = dmsim(&[
        "run",
        "--target",
        "flashcache",
        "--mode",
        "writearound",
        "--cache-size",
        "8m",
        "--hdd-raid5",
        "4xram",
        "--chunk",
        "64k",
        "--workload",
        "randrw",
        "--requests",
        "20000",
        "--raid5-fail",
        "1@2000io",
        "--raid5-fail",
        "2@4000io",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{err}");
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    let failed = stat(&s, "failed_requests");
    // Writes and cache misses after the second failure fail; reads of cached blocks do not.
    assert!((1..20_000).contains(&failed), "{failed}");
    let note = format!("{failed} of 20000 requests failed with IO errors");
    assert!(
        err.contains(&note) && stdout.contains(&note),
        "{err}\n{stdout}"
    );
    assert_eq!(s["config"]["raid5"]["state"], "failed");
    let reads = s["latency"]["read"]["count"].as_u64().unwrap();
    assert!(s["verified_reads"].as_u64().unwrap() < reads);
}
