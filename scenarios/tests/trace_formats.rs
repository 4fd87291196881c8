//! Every trace format on a small hand-made sample (tests/data/): detection, the values each
//! record carries, and the malformed line each sample contains (strict mode errors with its
//! line and field; skip mode counts it).

use std::path::PathBuf;

use dmsim_scenarios::traces::{
    open_trace, DeviceKey, Format, TraceError, TraceOp, TraceOptions, TraceReader, TraceRecord,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

struct Case {
    file: &'static str,
    format: Format,
    records_before_bad_line: usize,
    bad_line: u64,
    bad_field: &'static str,
    good_records: usize,
}

const CASES: [Case; 10] = [
    Case {
        file: "msr_small.csv",
        format: Format::Msr,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "Type",
        good_records: 4,
    },
    Case {
        file: "systor_small.csv",
        format: Format::Systor,
        records_before_bad_line: 3,
        bad_line: 5,
        bad_field: "IOType",
        good_records: 4,
    },
    Case {
        file: "tencent_small.csv",
        format: Format::Tencent,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "Offset",
        good_records: 4,
    },
    Case {
        file: "alibaba_small.csv",
        format: Format::Alibaba,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "opcode",
        good_records: 4,
    },
    Case {
        file: "spc_small.spc",
        format: Format::Spc,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "Timestamp",
        good_records: 4,
    },
    Case {
        file: "disksim_small.trace",
        format: Format::Disksim,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "blkno",
        good_records: 4,
    },
    Case {
        file: "mqsim_small.trace",
        format: Format::Mqsim,
        records_before_bad_line: 3,
        bad_line: 4,
        bad_field: "size",
        good_records: 4,
    },
    Case {
        file: "blkparse_small.txt",
        format: Format::Blkparse,
        records_before_bad_line: 4,
        bad_line: 9,
        bad_field: "count",
        good_records: 5,
    },
    Case {
        file: "fio_v2_small.log",
        format: Format::FioV2,
        records_before_bad_line: 5,
        bad_line: 10,
        bad_field: "action",
        good_records: 5,
    },
    Case {
        file: "fio_v3_small.log",
        format: Format::FioV3,
        records_before_bad_line: 2,
        bad_line: 6,
        bad_field: "timestamp",
        good_records: 3,
    },
];

fn skip_mode(format: Option<Format>) -> TraceOptions {
    TraceOptions {
        format,
        skip_bad_lines: true,
        ..TraceOptions::default()
    }
}

/// Reads a sample in skip mode and returns the reader (for its counters) and the records.
fn read_skipping(file: &str) -> (TraceReader, Vec<TraceRecord>) {
    let mut reader = open_trace(data(file), skip_mode(None)).expect("sample opens");
    let records = reader
        .by_ref()
        .collect::<Result<Vec<_>, _>>()
        .expect("skip mode yields no error");
    (reader, records)
}

#[test]
fn every_sample_is_detected_and_fails_at_its_bad_line_in_strict_mode() {
    for case in &CASES {
        let mut reader = open_trace(data(case.file), TraceOptions::default()).unwrap();
        assert_eq!(reader.format(), case.format, "{}", case.file);
        let mut good = 0;
        let error = loop {
            match reader.next() {
                Some(Ok(_)) => good += 1,
                Some(Err(error)) => break error,
                None => panic!("{}: expected a malformed-line error", case.file),
            }
        };
        assert_eq!(good, case.records_before_bad_line, "{}", case.file);
        assert!(
            matches!(error, TraceError::Malformed { .. }),
            "{}: {error}",
            case.file
        );
        assert_eq!(error.line(), Some(case.bad_line), "{}: {error}", case.file);
        assert_eq!(
            error.field(),
            Some(case.bad_field),
            "{}: {error}",
            case.file
        );
        let message = error.to_string();
        assert!(
            message.contains(case.file) && message.contains(&format!(":{}:", case.bad_line)),
            "message names file and line: {message}"
        );
        assert!(
            reader.next().is_none(),
            "{}: iteration ends after an error",
            case.file
        );
    }
}

#[test]
fn skip_mode_counts_the_bad_line_and_keeps_the_rest() {
    for case in &CASES {
        let (reader, records) = read_skipping(case.file);
        assert_eq!(records.len(), case.good_records, "{}", case.file);
        assert_eq!(reader.bad_lines_skipped(), 1, "{}", case.file);
        assert_eq!(
            reader.first_bad_line().and_then(TraceError::line),
            Some(case.bad_line),
            "{}",
            case.file
        );
        assert_eq!(reader.records_parsed(), case.good_records as u64);
    }
}

#[test]
fn a_named_format_reads_the_same_records_as_detection() {
    for case in &CASES {
        let (_, detected) = read_skipping(case.file);
        let named: Vec<_> = open_trace(data(case.file), skip_mode(Some(case.format)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(named, detected, "{}", case.file);
    }
}

#[test]
fn msr_converts_filetime_bytes_and_response_time() {
    let (reader, records) = read_skipping("msr_small.csv");
    let first = records[0];
    assert_eq!(first.time_ns, 128_166_385_295_514_663 * 100);
    assert_eq!(first.op, TraceOp::Write);
    assert_eq!(
        (first.sector, first.sectors),
        (9_056_014_336 / 512, 2048 / 512)
    );
    assert_eq!(first.measured_latency_ns, Some(2833 * 100));
    assert_eq!(reader.device_label(first.device), "hm_0");
    assert_eq!(records[1].op, TraceOp::Read);
    // Offset 5548077100 is 44 bytes past a sector boundary: the range widens to 9 sectors.
    let unaligned = records[2];
    assert_eq!(reader.device_label(unaligned.device), "hm_1");
    assert_eq!(unaligned.sector, 5_548_077_100 / 512);
    assert_eq!(unaligned.sectors, 9);
    assert_eq!(reader.unaligned_records(), 1);
}

#[test]
fn systor_converts_decimal_seconds_and_reports_disorder() {
    let (reader, records) = read_skipping("systor_small.csv");
    assert_eq!(records[0].time_ns, 1_456_095_145_133_076_000);
    assert_eq!(records[0].measured_latency_ns, Some(806_000));
    assert_eq!(records[0].device, DeviceKey::Number(0));
    assert_eq!(
        (records[0].sector, records[0].sectors),
        (899_056_122_368 / 512, 256)
    );
    assert_eq!(records[1].op, TraceOp::Write);
    assert_eq!(records[1].device, DeviceKey::Number(1));
    assert_eq!(records[2].measured_latency_ns, None, "empty Response field");
    assert_eq!((records[3].sector, records[3].sectors), (1, 2));
    // Records 2 and 3 are earlier than record 1.
    assert_eq!(reader.out_of_order_records(), 2);
    assert_eq!(reader.first_time_ns(), Some(1_456_095_145_133_076_000));
}

#[test]
fn tencent_uses_sectors_and_whole_seconds() {
    let (_, records) = read_skipping("tencent_small.csv");
    let first = records[0];
    assert_eq!(first.time_ns, 1_538_323_200 * 1_000_000_000);
    assert_eq!((first.sector, first.sectors), (12_920_864, 8));
    assert_eq!(first.op, TraceOp::Write);
    assert_eq!(first.device, DeviceKey::Number(1063));
    assert_eq!(records[1].op, TraceOp::Read);
}

#[test]
fn alibaba_uses_bytes_and_microseconds() {
    let (reader, records) = read_skipping("alibaba_small.csv");
    assert_eq!(records[0].time_ns, 1_577_808_144_360_767 * 1000);
    assert_eq!(
        (records[0].sector, records[0].sectors),
        (126_703_644_672 / 512, 8)
    );
    assert_eq!(records[1].op, TraceOp::Write);
    // Bytes 1000..1100 lie in sectors 1 and 2.
    assert_eq!((records[2].sector, records[2].sectors), (1, 2));
    assert_eq!(records[2].device, DeviceKey::Number(3));
    assert_eq!(reader.unaligned_records(), 1);
}

#[test]
fn spc_uses_blocks_bytes_and_relative_seconds() {
    let (reader, records) = read_skipping("spc_small.spc");
    assert_eq!(records[0].time_ns, 551_706_000);
    assert_eq!(records[0].op, TraceOp::Write);
    assert_eq!((records[0].sector, records[0].sectors), (20_941_264, 16));
    assert_eq!(records[1].op, TraceOp::Write, "lower-case opcode");
    let read = records[2];
    assert_eq!(read.op, TraceOp::Read);
    assert_eq!(read.device, DeviceKey::Number(1));
    assert_eq!((read.sector, read.sectors), (3_436_288, 31));
    assert_eq!(records[3].time_ns, 1_000_000_001);
    assert_eq!(records[3].sectors, 2, "1000 bytes round up to 2 sectors");
    assert_eq!(reader.unaligned_records(), 1);
}

#[test]
fn disksim_uses_milliseconds_and_the_read_flag_bit() {
    let (reader, records) = read_skipping("disksim_small.trace");
    assert_eq!(
        (records[0].time_ns, records[0].op, records[0].sectors),
        (0, TraceOp::Read, 8)
    );
    assert_eq!(
        (records[1].time_ns, records[1].op),
        (1_500_000, TraceOp::Write)
    );
    assert_eq!(records[2].time_ns, 2_250_125);
    assert_eq!(records[2].op, TraceOp::Read, "flags 0x3 has bit 0 set");
    assert_eq!(records[2].device, DeviceKey::Number(1));
    // 4.0000015 ms = 4000001.5 ns: truncated to 4000001 and counted.
    assert_eq!(records[3].time_ns, 4_000_001);
    assert_eq!(reader.time_truncated_records(), 1);
}

#[test]
fn mqsim_uses_nanoseconds_and_zero_for_write() {
    let (_, records) = read_skipping("mqsim_small.trace");
    assert_eq!(records[0].time_ns, 938_513_000);
    assert_eq!(records[0].op, TraceOp::Write);
    assert_eq!(records[0].device, DeviceKey::Number(4));
    assert_eq!((records[0].sector, records[0].sectors), (264_719_034, 16));
    assert_eq!(records[1].op, TraceOp::Read);
}

#[test]
fn blkparse_keeps_queue_events_only() {
    let (reader, records) = read_skipping("blkparse_small.txt");
    let summary: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.time_ns,
                r.op,
                r.sector,
                r.sectors,
                reader.device_label(r.device),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, TraceOp::Write, 3_417_048, 8, "8,0".to_string()),
            (1_000_000, TraceOp::Read, 1000, 16, "8,0".to_string()),
            (2_000_000, TraceOp::Flush, 0, 0, "8,0".to_string()),
            (3_000_000, TraceOp::Discard, 5000, 2048, "8,16".to_string()),
            (5_000_000, TraceOp::Read, 4000, 8, "8,0".to_string()),
        ]
    );
}

#[test]
fn fio_v2_times_follow_wait_lines() {
    let (reader, records) = read_skipping("fio_v2_small.log");
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.time_ns, r.op, r.sector, r.sectors))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, TraceOp::Write, 0, 8),
            (0, TraceOp::Read, 16, 8),
            (5_000_000, TraceOp::Read, 0, 2),
            (5_000_000, TraceOp::Discard, 2048, 2048),
            (5_000_000, TraceOp::Flush, 0, 0),
        ]
    );
    assert_eq!(reader.device_label(records[0].device), "/dev/sdb");
    assert_eq!(reader.unaligned_records(), 1);
}

#[test]
fn fio_v3_timestamps_are_microseconds() {
    let (reader, records) = read_skipping("fio_v3_small.log");
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.time_ns, r.op, r.sector, r.sectors))
        .collect();
    assert_eq!(
        summary,
        vec![
            (878_000, TraceOp::Write, 0, 32),
            (888_000, TraceOp::Read, 32, 8),
            (1_500_000, TraceOp::Flush, 0, 0),
        ]
    );
    assert_eq!(reader.device_label(records[0].device), "/dev/nvme0n1");
}

#[test]
fn format_names_round_trip_and_unknown_names_fail() {
    for format in Format::ALL {
        assert_eq!(format.name().parse::<Format>(), Ok(format));
        assert_eq!(format.to_string(), format.name());
        let json = serde_json::to_string(&format).unwrap();
        assert_eq!(json, format!("\"{}\"", format.name()));
    }
    assert_eq!("FIO-V3".parse::<Format>(), Ok(Format::FioV3));
    let error = "csv".parse::<Format>().unwrap_err();
    assert!(error.to_string().contains("`csv`"));
}
