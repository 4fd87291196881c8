//! The three public traces in the repository (`bundled/traces/`, `testdata/traces/`; see their
//! READMEs): record counts, read counts,
//! spans and detection, read through the public API.

use std::path::PathBuf;

use dmsim_scenarios::traces::{
    open_trace, Format, TimeSorter, TraceOp, TraceOptions, TraceReader, TraceRecord,
};

fn public_trace(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The MSR sample ships with the bundled scenarios; the others are test data.
    let dir = if name.starts_with("msr-") {
        root.join("bundled/traces")
    } else {
        root.join("../testdata/traces")
    };
    dir.join(name)
}

fn read_all(name: &str) -> (TraceReader, Vec<TraceRecord>) {
    let mut reader = open_trace(public_trace(name), TraceOptions::default()).unwrap();
    let records = reader.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    (reader, records)
}

fn span_ns(records: &[TraceRecord]) -> u64 {
    let first = records.iter().map(|r| r.time_ns).min().unwrap();
    let last = records.iter().map(|r| r.time_ns).max().unwrap();
    last - first
}

fn reads(records: &[TraceRecord]) -> usize {
    records.iter().filter(|r| r.op == TraceOp::Read).count()
}

#[test]
fn msr_cambridge_sample() {
    let (reader, records) = read_all("msr-cambridge1-sample.csv");
    assert_eq!(reader.format(), Format::Msr);
    assert_eq!(records.len(), 1000);
    assert_eq!(reads(&records), 508);
    assert_eq!(reader.lines_read(), 1000);
    // README: spans 127.2 s.
    let span = span_ns(&records);
    assert!(
        (127_150_000_000..127_250_000_000).contains(&span),
        "span {span} ns"
    );
    // README: mean measured response 989 µs.
    let total_latency_ns: u64 = records.iter().map(|r| r.measured_latency_ns.unwrap()).sum();
    let mean_us = total_latency_ns / 1000 / 1000;
    assert_eq!(mean_us, 989);
    assert_eq!(reader.device_label(records[0].device), "hm_0");
    assert_eq!(reader.out_of_order_records(), 0);
    // "not always 4 KiB aligned": but always 512-byte aligned, so no sector rounding.
    assert!(records
        .iter()
        .any(|r| r.sector % 8 != 0 || r.sectors % 8 != 0));
    assert_eq!(reader.unaligned_records(), 0);
}

#[test]
fn systor17_sample_gz() {
    let (reader, records) = read_all("systor17-traces-sample.csv.gz");
    assert_eq!(reader.format(), Format::Systor);
    assert_eq!(records.len(), 999);
    assert_eq!(reads(&records), 826);
    assert!(
        reader.out_of_order_records() > 0,
        "the sample is not time-sorted"
    );
    assert!(records.iter().all(|r| r.measured_latency_ns.is_some()));
}

#[test]
fn systor17_sample_sorts_within_a_bounded_window() {
    let reader = open_trace(
        public_trace("systor17-traces-sample.csv.gz"),
        TraceOptions::default(),
    )
    .unwrap();
    let mut sorter = TimeSorter::new(reader, 256);
    let sorted = sorter.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(sorted.len(), 999);
    assert_eq!(sorter.late_records(), 0);
    assert!(sorted.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    assert_eq!(reads(&sorted), 826);
}

#[test]
fn mqsim_tpcc_sample() {
    let (reader, records) = read_all("tpcc-small.trace");
    assert_eq!(reader.format(), Format::Mqsim);
    assert_eq!(records.len(), 6999);
    assert_eq!(reads(&records), 4381);
    // README: spans 136.5 ms.
    assert_eq!(span_ns(&records), 136_489_000);
    assert_eq!(reader.out_of_order_records(), 0);
    assert_eq!(reader.unaligned_records(), 0);
}
