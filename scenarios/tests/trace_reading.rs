//! Reader behaviour across formats: compressed input, filters, detection edge cases and the
//! bounded time sorter.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dmsim_scenarios::traces::{
    open_trace, Compression, DeviceKey, Format, TimeOrigin, TimeSorter, TimeWindow, TraceError,
    TraceFilter, TraceOp, TraceOptions, TraceRecord,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn msr_trace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bundled/traces/msr-cambridge1-sample.csv")
}

fn read(path: &Path, options: TraceOptions) -> Vec<TraceRecord> {
    open_trace(path, options)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn compress(plain: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => plain.to_vec(),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(plain).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut encoder =
                bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            encoder.write_all(plain).unwrap();
            encoder.finish().unwrap()
        }
        Compression::Xz => {
            let mut output = Vec::new();
            lzma_rs::xz_compress(&mut &plain[..], &mut output).unwrap();
            output
        }
        Compression::Zstd => zstd::encode_all(plain, 3).unwrap(),
    }
}

#[test]
fn compressed_traces_read_like_the_plain_file() {
    let plain = fs::read(msr_trace()).unwrap();
    let expected = read(&msr_trace(), TraceOptions::default());
    let directory = tempfile::tempdir().unwrap();
    for (compression, extension) in [
        (Compression::Gzip, "gz"),
        (Compression::Bzip2, "bz2"),
        (Compression::Xz, "xz"),
        (Compression::Zstd, "zst"),
    ] {
        let path = directory.path().join(format!("msr.csv.{extension}"));
        let packed = compress(&plain, compression);
        assert_ne!(packed, plain);
        fs::write(&path, packed).unwrap();
        let reader = open_trace(&path, TraceOptions::default()).unwrap();
        assert_eq!(reader.compression(), compression);
        assert_eq!(reader.format(), Format::Msr, "detected through {extension}");
        let records = reader.collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(records, expected, "{extension}");
    }
}

/// Counts the bytes taken from the inner reader, shared with the test after the reader has
/// been handed to the decoder.
struct CountingReader<R> {
    inner: R,
    taken_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken_bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Issue 13.7: `.xz` is decoded while reading (lzma-rust2), not into a temporary file or into
/// memory whole. The decoder gets a plain reader (no file to copy), and the first record comes
/// out after a small part of the compressed stream has been taken.
#[test]
fn xz_is_decoded_as_a_stream_taking_input_only_as_records_are_read() {
    use rand::{Rng, SeedableRng};
    use std::io::BufRead;
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let mut plain = String::from("Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n");
    for i in 0..150_000u64 {
        let offset = rng.random_range(0..1u64 << 30) * 4096;
        plain.push_str(&format!(
            "{},hm,0,Read,{offset},4096,{}\n",
            128_166_385_295_514_663 + i * 10_000,
            rng.random_range(1..100_000u32)
        ));
    }
    let packed = compress(plain.as_bytes(), Compression::Xz);
    assert!(packed.len() > 2 << 20, "{} compressed bytes", packed.len());
    let taken_bytes = std::sync::Arc::new(AtomicU64::new(0));
    let input = CountingReader {
        inner: std::io::Cursor::new(packed.clone()),
        taken_bytes: taken_bytes.clone(),
    };
    let mut decoded =
        dmsim_scenarios::traces::decompress(Box::new(input), Compression::Xz).unwrap();
    let mut first = String::new();
    decoded.read_line(&mut first).unwrap();
    decoded.read_line(&mut first).unwrap();
    assert_eq!(
        first,
        plain
            .lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let taken_first = taken_bytes.load(Ordering::Relaxed);
    assert!(
        taken_first * 8 < packed.len() as u64,
        "{taken_first} of {} compressed bytes taken for the first record",
        packed.len()
    );
    println!(
        "xz: {taken_first} of {} compressed bytes taken for the first record",
        packed.len()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut decoded, &mut rest).unwrap();
    assert_eq!(first.len() + rest.len(), plain.len());
    assert_eq!(taken_bytes.load(Ordering::Relaxed), packed.len() as u64);
}

#[test]
fn a_corrupt_compressed_file_is_an_error_not_a_panic() {
    let directory = tempfile::tempdir().unwrap();
    for extension in ["gz", "bz2", "xz", "zst"] {
        let path = directory.path().join(format!("broken.csv.{extension}"));
        fs::write(&path, b"this is not compressed data at all").unwrap();
        let outcome = open_trace(&path, TraceOptions::default())
            .and_then(|reader| reader.collect::<Result<Vec<_>, _>>());
        assert!(outcome.is_err(), "{extension}");
    }
}

#[test]
fn missing_file_is_an_open_error_naming_it() {
    let error = open_trace("/nonexistent/trace.csv", TraceOptions::default()).unwrap_err();
    assert!(matches!(error, TraceError::Open { .. }));
    assert!(error.to_string().contains("/nonexistent/trace.csv"));
}

fn skip_with(filter: TraceFilter) -> TraceOptions {
    TraceOptions {
        format: None,
        filter,
        skip_bad_lines: true,
    }
}

#[test]
fn device_op_and_time_filters() {
    let msr = data("msr_small.csv");
    let by_device = read(
        &msr,
        skip_with(TraceFilter {
            devices: vec!["hm_1".into()],
            ..TraceFilter::default()
        }),
    );
    assert_eq!(by_device.len(), 1);
    assert_eq!(by_device[0].sector, 5_548_077_100 / 512);

    let reads = read(
        &msr,
        skip_with(TraceFilter {
            ops: vec![TraceOp::Read],
            ..TraceFilter::default()
        }),
    );
    assert_eq!(reads.len(), 1);
    assert!(reads.iter().all(|r| r.op == TraceOp::Read));

    // Records 2 and 3 are 21.5 µs and 51.2 µs after the first.
    let first_30_us = read(
        &msr,
        skip_with(TraceFilter {
            time_window: Some(TimeWindow {
                start_ns: 0,
                end_ns: 30_000,
                origin: TimeOrigin::FirstRecord,
            }),
            ..TraceFilter::default()
        }),
    );
    assert_eq!(first_30_us.len(), 2);

    let start = 128_166_385_295_514_878 * 100;
    let recorded_window = read(
        &msr,
        skip_with(TraceFilter {
            time_window: Some(TimeWindow {
                start_ns: start,
                end_ns: start + 1,
                origin: TimeOrigin::Recorded,
            }),
            ..TraceFilter::default()
        }),
    );
    assert_eq!(recorded_window.len(), 1);
    assert_eq!(recorded_window[0].time_ns, start);
}

#[test]
fn filtered_records_are_counted_and_other_formats_filter_by_their_labels() {
    let mut reader = open_trace(
        data("blkparse_small.txt"),
        skip_with(TraceFilter {
            devices: vec!["8,16".into()],
            ..TraceFilter::default()
        }),
    )
    .unwrap();
    let records = reader.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].device,
        DeviceKey::MajorMinor {
            major: 8,
            minor: 16
        }
    );
    assert_eq!(reader.records_filtered_out(), 4);

    let fio = read(
        &data("fio_v2_small.log"),
        skip_with(TraceFilter {
            devices: vec!["/dev/sdb".into()],
            ops: vec![TraceOp::Discard, TraceOp::Flush],
            ..TraceFilter::default()
        }),
    );
    assert_eq!(fio.len(), 2);
}

#[test]
fn an_inverted_time_window_is_rejected() {
    let error = open_trace(
        data("msr_small.csv"),
        skip_with(TraceFilter {
            time_window: Some(TimeWindow {
                start_ns: 10,
                end_ns: 5,
                origin: TimeOrigin::Recorded,
            }),
            ..TraceFilter::default()
        }),
    )
    .unwrap_err();
    assert!(matches!(error, TraceError::InvalidFilter(_)));
}

#[test]
fn trace_filter_is_a_serde_struct() {
    let filter: TraceFilter = serde_json::from_str(
        r#"{"devices":["hm_0"],"ops":["read"],"time_window":{"start_ns":0,"end_ns":5}}"#,
    )
    .unwrap();
    assert_eq!(filter.ops, vec![TraceOp::Read]);
    assert_eq!(
        filter.time_window.map(|w| w.origin),
        Some(TimeOrigin::FirstRecord)
    );
    assert!(serde_json::from_str::<TraceFilter>(r#"{"device":["x"]}"#).is_err());
}

fn write_temp(directory: &Path, name: &str, content: &str) -> PathBuf {
    let path = directory.join(name);
    fs::write(&path, content).unwrap();
    path
}

#[test]
fn detection_edge_cases() {
    let directory = tempfile::tempdir().unwrap();
    // DiskSim with integer times cannot be told from MQSim: documented as MQSim.
    let integer_times = write_temp(directory.path(), "a.trace", "0 0 100 8 1\n10 0 200 8 0\n");
    let reader = open_trace(&integer_times, TraceOptions::default()).unwrap();
    assert_eq!(reader.format(), Format::Mqsim);
    // A header-only SYSTOR file has no record to detect from…
    let header_only = write_temp(
        directory.path(),
        "b.csv",
        "Timestamp,Response,IOType,LUN,Offset,Size\n",
    );
    let error = open_trace(&header_only, TraceOptions::default()).unwrap_err();
    assert!(matches!(error, TraceError::UnknownFormat { .. }), "{error}");
    // …but reads as an empty trace when the format is named.
    let named = open_trace(
        &header_only,
        TraceOptions {
            format: Some(Format::Systor),
            ..TraceOptions::default()
        },
    )
    .unwrap();
    assert_eq!(named.count(), 0);
    // Unknown content and empty files name the problem.
    let prose = write_temp(
        directory.path(),
        "c.txt",
        "hello world\nthis is not a trace\n",
    );
    let error = open_trace(&prose, TraceOptions::default()).unwrap_err();
    assert!(error.to_string().contains("hello world"), "{error}");
    let empty = write_temp(directory.path(), "d.txt", "");
    assert!(open_trace(&empty, TraceOptions::default()).is_err());
    // Blank lines and CRLF line ends are tolerated; line numbers count them.
    let crlf = write_temp(
        directory.path(),
        "e.trace",
        "\r\n938513000 4 264719034 16 0\r\n\r\n938828000 3 197570570 sixteen 1\r\n",
    );
    let mut reader = open_trace(&crlf, TraceOptions::default()).unwrap();
    assert_eq!(reader.format(), Format::Mqsim);
    assert!(reader.next().unwrap().is_ok());
    let error = reader.next().unwrap().unwrap_err();
    assert_eq!((error.line(), error.field()), (Some(4), Some("size")));
}

fn record_at(time_ns: u64, sector: u64) -> TraceRecord {
    TraceRecord {
        time_ns,
        op: TraceOp::Read,
        sector,
        sectors: 8,
        device: DeviceKey::Number(0),
        measured_latency_ns: None,
    }
}

#[test]
fn time_sorter_orders_within_its_window_and_counts_late_records() {
    let input = [5, 3, 4, 1, 9, 8, 0]
        .iter()
        .enumerate()
        .map(|(i, &t)| Ok(record_at(t, i as u64)));
    let mut sorter = TimeSorter::new(input, 4);
    let times: Vec<u64> = sorter.by_ref().map(|r| r.unwrap().time_ns).collect();
    // Window 4: 1, 3 and 4 leave in order; 0 arrives after them and is late.
    assert_eq!(times, vec![1, 3, 4, 0, 5, 8, 9]);
    assert_eq!(sorter.late_records(), 1);

    // Equal times keep file order.
    let ties = [2, 2, 1, 2]
        .iter()
        .enumerate()
        .map(|(i, &t)| Ok(record_at(t, i as u64)));
    let sectors: Vec<u64> = TimeSorter::new(ties, 8)
        .map(|r| r.unwrap().sector)
        .collect();
    assert_eq!(sectors, vec![2, 0, 1, 3]);
}

#[test]
fn readers_and_generators_can_move_to_worker_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<dmsim_scenarios::traces::TraceReader>();
    assert_send::<dmsim_scenarios::workload::WorkloadGenerator<rand_chacha::ChaCha8Rng>>();
}
