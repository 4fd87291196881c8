//! A trace out of time order is sorted within the replay's window and said so, never replayed
//! silently: the summary counts the records that came earlier than one before them
//! (`config.out_of_order_records`) and those too late for the window (`config.late_records`,
//! issued when read), and the run prints a note. A sorted trace's configuration is unchanged.

use std::process::Command;

/// An MSR trace of `count` 4 KiB reads 1 ms apart, with record `moved` (0-based) set
/// `back_s` seconds before the first record.
fn msr_trace(count: usize, moved: usize, back_s: u64) -> String {
    let start_ticks: u64 = 128_166_372_000_000_000;
    (0..count)
        .map(|i| {
            let mut ticks = start_ticks + i as u64 * 10_000;
            if i == moved {
                ticks = start_ticks - back_s * 10_000_000;
            }
            format!("{ticks},hm,0,Read,{},4096,100\n", (i as u64 % 512) * 4096)
        })
        .collect()
}

/// The JSON summary of a replay of `trace`, and the text the same replay prints without
/// `--json` (where the notes are).
fn replay(trace: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.csv");
    std::fs::write(&path, trace).unwrap();
    let run = |json: bool| {
        let mut args = vec!["replay", path.to_str().unwrap(), "--cache-size", "4m"];
        args.extend_from_slice(extra);
        if json {
            args.push("--json");
        }
        let output = Command::new(env!("CARGO_BIN_EXE_dmsim"))
            .args(&args)
            .output()
            .expect("dmsim runs");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    (serde_json::from_str(&run(true)).unwrap(), run(false))
}

#[test]
fn a_record_back_in_time_within_the_window_is_sorted_and_counted() {
    let (summary, text) = replay(&msr_trace(300, 150, 1), &["--open-loop"]);
    assert_eq!(summary["requests"], 300);
    assert_eq!(summary["config"]["out_of_order_records"], 1);
    assert_eq!(summary["config"]["late_records"], 0);
    assert!(
        text.contains("not in time order: 1 record(s)") && text.contains("all were put in order"),
        "{text}"
    );
    // Sorted, the moved record opens the trace: the replay spans its 1 s step back too.
    let duration_ns = summary["throughput"]["duration_ns"].as_u64().unwrap();
    assert!(duration_ns > 1_000_000_000, "{duration_ns}");
}

#[test]
fn a_record_beyond_the_window_is_issued_when_read_and_counted_late() {
    // The sort window holds 4096 records: record 5000 comes too late to be put in order.
    let (summary, text) = replay(&msr_trace(5_100, 5_000, 10), &["--open-loop"]);
    assert_eq!(summary["requests"], 5_100);
    assert_eq!(summary["config"]["out_of_order_records"], 1);
    assert_eq!(summary["config"]["late_records"], 1);
    assert!(text.contains("1 arrived after later records"), "{text}");
    // Issued when read: the run ends at the last in-order record's time (5.1 s), not later.
    let duration_ns = summary["throughput"]["duration_ns"].as_u64().unwrap();
    assert!(duration_ns < 6_000_000_000, "{duration_ns}");
}

#[test]
fn a_sorted_trace_says_nothing_about_order() {
    let (summary, text) = replay(&msr_trace(300, usize::MAX, 0), &[]);
    assert!(summary["config"].get("out_of_order_records").is_none());
    assert!(!text.contains("time order"), "{text}");
}
