//! External oracle (issue 4 item 10): flashcache's hit counts against libCacheSim's on the
//! same 4 KiB block reference stream.
//!
//! The stream comes from `scenarios/bundled/traces/msr-cambridge1-sample.csv` (MSR Cambridge `hm_0`,
//! byte offsets and sizes, not always 4 KiB aligned). Rounding rule: a record of `size`
//! bytes at byte `offset` references every 4 KiB block from `offset / 4096` to
//! `(offset + size - 1) / 4096` (integer division), in ascending order, each as one
//! reference with the record's operation. Each reference is replayed as one whole, aligned
//! 4 KiB bio at queue depth 1 — so flashcache never sees a partial or concurrent IO.
//!
//! Cache: writethrough, `assoc = full` (one set), policy `lru-strict` (one plain LRU list),
//! N blocks of 4 KiB. libCacheSim: `LRU` with `cache_size = N * 4096` and every object 4096
//! bytes (script `tests/data/libcachesim_hits.py`).
//!
//! Which counter matches: libCacheSim's `get` counts a hit when the object is cached and
//! inserts it otherwise, for reads and writes alike. A writethrough cache does the same: a
//! read miss fills the block, a write miss writes disk and SSD and caches the block (spec
//! 1.10), and a hit of either kind refreshes the block's LRU position (1.8). So libCacheSim's
//! hits equal flashcache's `read_hits + write_hits`. (Writearound would not match: its write
//! misses do not insert, and its writes drop cached copies.)
//!
//! The faithful `fifo` is not textbook FIFO: on a cold set the first wrap evicts the newest
//! block first (free slots are handed out from the top, the FIFO hand starts at the bottom).
//! The flashcache core pins this in `engine/src/flashcache/replacement.rs`
//! (`faithful_fifo_differs_from_textbook_fifo_on_a_cold_set`) and
//! `engine/src/flashcache/tests/writeback.rs` (`faithful_fifo_evicts_the_newest_block_on_the_
//! first_wrap`); the last test here shows the same difference end to end against
//! libCacheSim's FIFO.

mod flashcache_support;

use dmsim_engine::flashcache::{Associativity, CacheMode, ReclaimPolicy};
use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use flashcache_support::{closed_loop, config, oracle_observer, run, DeviceSpec, Machine};
use std::io::Write;
use std::path::Path;
use std::process::Command;

const BLOCK_BYTES: u64 = 4096;
const MSR_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
);
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/libcachesim_hits.py"
);
/// The RAM disk's default 64 GiB covers every offset of the sample (under 12 GB).
const DISK_SECTORS: u64 = 64 << 21;

/// One block reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reference {
    block: u64,
    op: TraceOp,
}

/// The MSR sample as block references (see the module documentation for the rule).
fn msr_block_references() -> Vec<Reference> {
    let text = std::fs::read_to_string(MSR_SAMPLE)
        .unwrap_or_else(|error| panic!("cannot read {MSR_SAMPLE}: {error}"));
    let mut references = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 7, "line {}: {line:?}", number + 1);
        let op = match fields[3] {
            "Read" => TraceOp::Read,
            "Write" => TraceOp::Write,
            other => panic!("line {}: operation {other:?}", number + 1),
        };
        let offset: u64 = fields[4].parse().expect("offset in bytes");
        let size: u64 = fields[5].parse().expect("size in bytes");
        assert!(size > 0, "line {}: empty request", number + 1);
        for block in offset / BLOCK_BYTES..=(offset + size - 1) / BLOCK_BYTES {
            references.push(Reference { block, op });
        }
    }
    references
}

/// Runs the script; panics with installation advice when Python or libcachesim is missing.
fn libcachesim(policy: &str, blocks: &[u64], args: &[String]) -> String {
    let mut refs = tempfile::NamedTempFile::new().expect("a temporary file");
    for block in blocks {
        writeln!(refs, "{block}").expect("write the reference stream");
    }
    refs.flush().expect("flush the reference stream");
    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg(policy)
        .arg(refs.path())
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run python3 ({error}): this test needs Python 3 with libCacheSim's \
                 bindings (`pip install libcachesim`)"
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!("libCacheSim is missing: `pip install libcachesim` ({stderr})"),
        _ => panic!("{SCRIPT} failed ({}): {stderr}", output.status),
    }
    String::from_utf8(output.stdout).expect("the script prints text")
}

/// `<size> <values...>` lines into (size, values).
fn parse_lines(text: &str) -> Vec<(u64, Vec<u64>)> {
    text.lines()
        .map(|line| {
            let mut words = line
                .split_whitespace()
                .map(|w| w.parse::<u64>().expect("a number"));
            let size = words.next().expect("a cache size");
            (size, words.collect())
        })
        .collect()
}

fn records(references: &[Reference]) -> Vec<TraceRecord> {
    references
        .iter()
        .map(|r| TraceRecord {
            time_ns: 0,
            op: r.op,
            sector: r.block * 8,
            sectors: 8,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        })
        .collect()
}

/// A writethrough, fully associative cache of `blocks` blocks with `policy`.
fn machine_and_engine(blocks: u64, policy: ReclaimPolicy) -> (Machine, dmsim_engine::Engine) {
    let machine = Machine::new(
        DeviceSpec::ram(blocks * 8),
        DeviceSpec::ram(DISK_SECTORS),
        blocks * 8,
        7,
    );
    let mut config = config(CacheMode::WriteThrough, false, policy, DISK_SECTORS);
    config.table.assoc = Associativity::Full;
    let engine = machine.engine(config);
    (machine, engine)
}

/// flashcache's `read_hits + write_hits` for the whole stream at queue depth 1, every read
/// checked by the data oracle.
fn flashcache_hits(references: &[Reference], blocks: u64, policy: ReclaimPolicy) -> u64 {
    let (mut machine, mut engine) = machine_and_engine(blocks, policy);
    let mut observer = oracle_observer();
    let mut source = closed_loop(records(references).into_iter(), 1);
    run(&mut engine, &mut machine, &mut source, &mut observer, None);
    observer.assert_clean("libCacheSim stream");
    let fc = engine.target().flashcache().expect("running");
    assert_eq!(fc.geometry().size_blocks as u64, blocks);
    let stats = fc.stats();
    assert_eq!(stats.reads + stats.writes, references.len() as u64);
    assert_eq!(
        stats.uncached_reads + stats.uncached_writes,
        0,
        "every IO is cacheable"
    );
    stats.read_hits + stats.write_hits
}

#[test]
fn writethrough_lru_strict_hits_equal_libcachesim_lru() {
    let references = msr_block_references();
    assert_eq!(references.len(), 2473, "the sample's block references");
    let blocks: Vec<u64> = references.iter().map(|r| r.block).collect();
    let sizes = [16u64, 64, 256, 512];
    let args: Vec<String> = sizes.iter().map(u64::to_string).collect();
    let expected = parse_lines(&libcachesim("lru", &blocks, &args));
    assert_eq!(expected.len(), sizes.len());
    let mut previous = 0;
    for (size, hits) in expected {
        let lru_hits = hits[0];
        assert!(lru_hits >= previous, "LRU hits grow with the cache");
        previous = lru_hits;
        let ours = flashcache_hits(&references, size, ReclaimPolicy::LruStrict);
        assert_eq!(
            ours, lru_hits,
            "{size} blocks: flashcache read+write hits vs libCacheSim LRU hits"
        );
    }
    assert!(
        previous > 400,
        "the stream has reuse to measure: {previous}"
    );
}

/// Per-reference hits of flashcache: one bio at a time, the hit counters read after each.
fn flashcache_hit_sequence(blocks_in_cache: u64, stream: &[u64]) -> Vec<u64> {
    let (mut machine, mut engine) = machine_and_engine(blocks_in_cache, ReclaimPolicy::Fifo);
    let mut observer = oracle_observer();
    let mut outcomes = Vec::new();
    let mut hits_before = 0;
    for &block in stream {
        let reference = [Reference {
            block,
            op: TraceOp::Read,
        }];
        let mut source = closed_loop(records(&reference).into_iter(), 1);
        run(&mut engine, &mut machine, &mut source, &mut observer, None);
        let stats = engine.target().flashcache().expect("running").stats();
        let hits = stats.read_hits + stats.write_hits;
        outcomes.push(hits - hits_before);
        hits_before = hits;
    }
    outcomes
}

#[test]
fn faithful_fifo_differs_from_libcachesim_fifo_on_the_first_wrap() {
    // A cold 4-block cache; A B C D fill it, E evicts, then A and D come back.
    let (a, b, c, d, e) = (100u64, 200, 300, 400, 500);
    let stream = [a, b, c, d, e, a, d];
    let textbook = parse_lines(&libcachesim(
        "fifo",
        &stream,
        &["--per-request".to_string(), "4".to_string()],
    ));
    // Textbook FIFO: E evicts A (oldest), A misses and evicts B, D hits.
    assert_eq!(textbook, vec![(4, vec![0, 0, 0, 0, 0, 0, 1])]);
    // flashcache: the free list hands out slots 3, 2, 1, 0 to A, B, C, D; the hand starts at
    // slot 0, so E evicts D (the newest): A hits, D misses.
    assert_eq!(
        flashcache_hit_sequence(4, &stream),
        vec![0, 0, 0, 0, 0, 1, 0]
    );
    assert!(Path::new(SCRIPT).exists());
}
