//! libCacheSim's trace formats (issue 12 item 4): vscsi (v1, v2), oracleGeneral, its CSV and
//! plain text. Each is written from one seeded request stream, detected without `--format`
//! (the binary ones from their bytes, also through gzip), read back exactly as the module
//! documentation of `dmsim_scenarios::traces::libcachesim` promises, and read by libCacheSim
//! itself (its Python package, `tests/requirements.txt`) as an external oracle: the same
//! object ids, sizes and clock times, request for request.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use dmsim_scenarios::traces::{open_trace, Format, TraceError, TraceOp, TraceOptions, TraceRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/libcachesim_read.py"
);

/// One request of the test stream, in the units the formats store.
#[derive(Debug, Clone, Copy)]
struct Request {
    time_us: u64,
    /// Sector (vscsi, CSV) or 4 KiB object id (oracleGeneral, plain text).
    address: u64,
    size_bytes: u32,
    write: bool,
}

fn stream(count: usize) -> Vec<Request> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut time_us = 0;
    (0..count)
        .map(|_| {
            time_us += rng.random_range(0..3_000_000u64);
            Request {
                time_us,
                address: rng.random_range(0..1u64 << 30),
                size_bytes: 4096 * rng.random_range(1..=16u32),
                write: rng.random_bool(0.4),
            }
        })
        .collect()
}

fn opcode(request: &Request) -> u16 {
    if request.write {
        0x2a
    } else {
        0x28
    }
}

fn vscsi1(requests: &[Request]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (sn, r) in requests.iter().enumerate() {
        bytes.extend((sn as u32).to_le_bytes());
        bytes.extend(r.size_bytes.to_le_bytes());
        bytes.extend(1u32.to_le_bytes()); // nSG
        bytes.extend(opcode(r).to_le_bytes());
        bytes.extend(0x0100u16.to_le_bytes()); // ver: version 1
        bytes.extend(r.address.to_le_bytes());
        bytes.extend(r.time_us.to_le_bytes());
    }
    bytes
}

fn vscsi2(requests: &[Request]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (sn, r) in requests.iter().enumerate() {
        bytes.extend(opcode(r).to_le_bytes());
        bytes.extend(0x0200u16.to_le_bytes()); // ver: version 2
        bytes.extend((sn as u32).to_le_bytes());
        bytes.extend(r.size_bytes.to_le_bytes());
        bytes.extend(1u32.to_le_bytes()); // nSG
        bytes.extend(r.address.to_le_bytes());
        bytes.extend(r.time_us.to_le_bytes());
        bytes.extend(250u64.to_le_bytes()); // rt
    }
    bytes
}

/// oracleGeneral with true next-access indexes (what libCacheSim's converter writes).
fn oracle_general(requests: &[Request]) -> Vec<u8> {
    let mut next = vec![-1i64; requests.len()];
    let mut seen = std::collections::BTreeMap::new();
    for (index, r) in requests.iter().enumerate().rev() {
        if let Some(&later) = seen.get(&r.address) {
            next[index] = later as i64;
        }
        seen.insert(r.address, index);
    }
    let mut bytes = Vec::new();
    for (r, next) in requests.iter().zip(next) {
        bytes.extend(((r.time_us / 1_000_000) as u32).to_le_bytes());
        bytes.extend(r.address.to_le_bytes());
        bytes.extend(r.size_bytes.to_le_bytes());
        bytes.extend(next.to_le_bytes());
    }
    bytes
}

fn csv(requests: &[Request]) -> Vec<u8> {
    let mut text = String::from("version,time,op,size,lbn\n");
    for r in requests {
        text.push_str(&format!(
            "2,{},{},{},{}\n",
            r.time_us,
            opcode(r),
            r.size_bytes,
            r.address
        ));
    }
    text.into_bytes()
}

fn plain_text(requests: &[Request]) -> Vec<u8> {
    requests
        .iter()
        .map(|r| format!("{}\n", r.address))
        .collect::<String>()
        .into_bytes()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read(path: &Path) -> (Format, Vec<TraceRecord>) {
    let reader = open_trace(path, TraceOptions::default()).unwrap();
    let format = reader.format();
    let records = reader.collect::<Result<Vec<_>, _>>().unwrap();
    (format, records)
}

/// libCacheSim's reading of `path`: (obj_id, obj_size, clock_time) per request.
fn libcachesim(kind: &str, path: &Path) -> Vec<(u64, u64, u64)> {
    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg(kind)
        .arg(path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error})"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!("libCacheSim is missing: `pip install -r tests/requirements.txt`"),
        _ => panic!("{SCRIPT} failed ({}): {stderr}", output.status),
    }
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .map(|f| f.parse().unwrap_or_else(|_| panic!("line `{line}`")))
                .collect();
            assert_eq!(fields.len(), 3, "line `{line}`");
            (fields[0], fields[1], fields[2])
        })
        .collect()
}

fn op(request: &Request) -> TraceOp {
    if request.write {
        TraceOp::Write
    } else {
        TraceOp::Read
    }
}

#[test]
fn vscsi_traces_are_detected_and_read_as_libcachesim_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let requests = stream(300);
    for (name, bytes, format) in [
        ("trace.vscsi1", vscsi1(&requests), Format::Vscsi1),
        ("trace.vscsi2", vscsi2(&requests), Format::Vscsi2),
    ] {
        let path = write(dir.path(), name, &bytes);
        let (detected, records) = read(&path);
        assert_eq!(detected, format);
        assert_eq!(records.len(), requests.len());
        for (record, request) in records.iter().zip(&requests) {
            assert_eq!(record.sector, request.address);
            assert_eq!(record.sectors, u64::from(request.size_bytes) / 512);
            assert_eq!(record.time_ns, request.time_us * 1000);
            assert_eq!(record.op, op(request));
        }
        let theirs = libcachesim("vscsi", &path);
        let ours: Vec<(u64, u64, u64)> = records
            .iter()
            .map(|r| (r.sector, r.sectors * 512, r.time_ns / 1_000_000_000))
            .collect();
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn oracle_general_is_detected_through_gzip_and_read_as_libcachesim_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let requests = stream(300);
    let bytes = oracle_general(&requests);
    let path = write(dir.path(), "trace.oracleGeneral.bin", &bytes);
    let (detected, records) = read(&path);
    assert_eq!(detected, Format::OracleGeneral);
    for (record, request) in records.iter().zip(&requests) {
        assert_eq!(record.sector, request.address * 8);
        assert_eq!(record.sectors, u64::from(request.size_bytes) / 512);
        assert_eq!(record.time_ns, request.time_us / 1_000_000 * 1_000_000_000);
        assert_eq!(record.op, TraceOp::Read);
    }
    let theirs = libcachesim("oracle-general", &path);
    let ours: Vec<(u64, u64, u64)> = records
        .iter()
        .map(|r| (r.sector / 8, r.sectors * 512, r.time_ns / 1_000_000_000))
        .collect();
    assert_eq!(ours, theirs);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    let gz_path = write(
        dir.path(),
        "trace.oracleGeneral.bin.gz",
        &gz.finish().unwrap(),
    );
    let (detected, from_gz) = read(&gz_path);
    assert_eq!(detected, Format::OracleGeneral);
    assert_eq!(from_gz, records);
}

#[test]
fn the_csv_and_plain_text_are_detected_and_read_as_libcachesim_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let requests = stream(300);
    let path = write(dir.path(), "cloudPhysicsIO.csv", &csv(&requests));
    let (detected, records) = read(&path);
    assert_eq!(detected, Format::LibCacheSimCsv);
    for (record, request) in records.iter().zip(&requests) {
        assert_eq!(record.sector, request.address);
        assert_eq!(record.op, op(request));
    }
    let theirs = libcachesim("csv", &path);
    let ours: Vec<(u64, u64, u64)> = records
        .iter()
        .map(|r| (r.sector, r.sectors * 512, r.time_ns / 1000))
        .collect();
    assert_eq!(ours, theirs);

    let path = write(dir.path(), "ids.txt", &plain_text(&requests));
    let (detected, records) = read(&path);
    assert_eq!(detected, Format::PlainText);
    let theirs = libcachesim("plain-text", &path);
    assert_eq!(theirs.len(), records.len());
    for ((record, request), (id, _, _)) in records.iter().zip(&requests).zip(theirs) {
        assert_eq!(record.sector, request.address * 8);
        assert_eq!(record.sectors, 8);
        assert_eq!(record.sector / 8, id);
    }
}

#[test]
fn a_truncated_binary_trace_names_the_record_and_its_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vscsi2(&stream(4));
    bytes.truncate(bytes.len() - 7);
    let path = write(dir.path(), "cut.vscsi", &bytes);
    let reader = open_trace(&path, TraceOptions::default()).unwrap();
    assert_eq!(reader.format(), Format::Vscsi2);
    let results: Vec<Result<TraceRecord, TraceError>> = reader.collect();
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    let error = results[3].as_ref().unwrap_err().to_string();
    assert!(
        error.contains("record 4 (byte 120)") && error.contains("33 bytes into a 40-byte"),
        "{error}"
    );

    // A record of another version inside a vscsi1 trace is no vscsi1 trace (detection
    // looks at every record it samples); named, the format reads up to it and names the field.
    let mut bytes = vscsi1(&stream(3));
    bytes[32 + 15] = 0x07;
    let path = write(dir.path(), "mixed.vscsi", &bytes);
    assert!(open_trace(&path, TraceOptions::default()).is_err());
    let options = TraceOptions {
        format: Some(Format::Vscsi1),
        ..TraceOptions::default()
    };
    let results: Vec<_> = open_trace(&path, options).unwrap().collect();
    let error = results[1].as_ref().unwrap_err();
    assert_eq!(error.field(), Some("ver"));
    assert_eq!(error.line(), Some(2));
}

#[test]
fn random_bytes_are_no_binary_trace() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let bytes: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
    let path = write(dir.path(), "noise.bin", &bytes);
    let error = open_trace(&path, TraceOptions::default()).unwrap_err();
    assert!(error.to_string().contains("looks binary"), "{error}");
}
