//! The on-board buffer: read hits served without mechanics, read-ahead turning sequential
//! reads into hits, write-back acknowledgement with FLUSH/FUA making data durable.

use dmsim_models::hdd::{hdd_15k, hdd_7200, HddModel, HddParams};
use dmsim_models::probe::{run, Pattern, ProbeSpec};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_chacha::rand_core::SeedableRng;

fn model(p: &HddParams) -> HddModel {
    HddModel::new(
        p.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
}

fn req(tag: u64, op: ModelOp, sector: u64, sectors: u32, fua: bool) -> ModelRequest {
    ModelRequest {
        tag,
        op,
        sector,
        sectors,
        fua,
    }
}

/// Submit `r` at `at_ns` and run until it completes; returns its service time.
fn serve(m: &mut HddModel, at_ns: u64, r: ModelRequest) -> u64 {
    let mut out: Vec<ModelCompletion> = Vec::new();
    m.advance(at_ns, &mut out);
    m.submit(at_ns, r);
    loop {
        let t = m.next_event_ns().expect("pending request");
        out.clear();
        m.advance(t, &mut out);
        if let Some(c) = out.iter().find(|c| c.tag == r.tag) {
            return c.done_ns - at_ns;
        }
    }
}

fn probe(p: &HddParams, pattern: Pattern, block_bytes: u32) -> dmsim_models::probe::ProbeResult {
    let mut m = model(p);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    run(
        &mut m,
        &ProbeSpec {
            pattern,
            block_bytes,
            queue_depth: 1,
            warmup_requests: 100,
            measured_requests: 2000,
            span_sectors: None,
        },
        &mut rng,
        0,
    )
}

#[test]
fn a_read_of_read_ahead_data_is_a_hit_without_mechanics() {
    let p = hdd_7200();
    let mut m = model(&p);
    let miss = serve(&mut m, 0, req(1, ModelOp::Read, 1_000_000, 8, false));
    assert!(miss > 1_000_000, "a miss pays seek and rotation: {miss}");
    // 2 ms later the read-ahead has buffered what follows.
    let hit = serve(
        &mut m,
        20_000_000,
        req(2, ModelOp::Read, 1_000_008, 8, false),
    );
    let c = &p.controller;
    let expected = c.after_read.read_hit_ns
        + c.data_prep_ns
        + 8 * p.bus.read_ns_per_sector
        + c.read_completion_ns;
    assert_eq!(hit, expected, "hit = command + prep + bus + completion");
    // Data before the request (still in the segment) hits too.
    let again = serve(
        &mut m,
        21_000_000,
        req(3, ModelOp::Read, 1_000_000, 8, false),
    );
    assert_eq!(again, expected);
}

#[test]
fn sequential_reads_mostly_hit() {
    let p = hdd_7200();
    let r = probe(&p, Pattern::SeqRead, 4096);
    // Hits take ~60 us; a miss would take milliseconds.
    assert!(r.lat_p50_us < 100.0, "median {} us", r.lat_p50_us);
    assert!(r.lat_p99_us < 100.0, "p99 {} us", r.lat_p99_us);
    let mut no_cache = p.clone();
    no_cache.cache.enabled = false;
    let slow = probe(&no_cache, Pattern::SeqRead, 4096);
    assert!(
        r.iops > 20.0 * slow.iops,
        "read-ahead {} IOPS vs no cache {} IOPS",
        r.iops,
        slow.iops
    );
    // Without read-ahead each 4 KiB read waits most of a turn for its sectors.
    assert!(slow.lat_p50_us > 1000.0, "{}", slow.lat_p50_us);
}

#[test]
fn large_sequential_reads_stream_at_the_media_rate() {
    let r = probe(&hdd_7200(), Pattern::SeqRead, 1 << 20);
    // Outer zone: 4000 sectors per 8.33 ms turn = 246 MB/s, minus track switches.
    assert!(r.mbps > 180.0 && r.mbps < 250.0, "{} MB/s", r.mbps);
}

#[test]
fn write_back_acknowledges_from_the_buffer_and_flush_waits_for_the_media() {
    let p = hdd_7200();
    let mut m = model(&p);
    assert!(m.volatile_write_cache());
    let w = serve(&mut m, 0, req(1, ModelOp::Write, 5_000_000, 8, false));
    assert!(w < 200_000, "acknowledged from the buffer: {w} ns");
    let w2 = serve(&mut m, w, req(2, ModelOp::Write, 90_000_000, 8, false));
    assert!(w2 < 200_000);
    // FLUSH completes once both writes reached the media: seeks and rotation.
    let f = serve(&mut m, w + w2, req(3, ModelOp::Flush, 0, 0, false));
    assert!(f > 2_000_000, "flush {f} ns");
    // Nothing dirty: the next flush is immediate.
    let f2 = serve(&mut m, 100_000_000, req(4, ModelOp::Flush, 0, 0, false));
    assert!(f2 < 100_000, "{f2}");
    // FUA goes to the media.
    let fua = serve(
        &mut m,
        200_000_000,
        req(5, ModelOp::Write, 300_000_000, 8, true),
    );
    assert!(fua > 1_000_000, "FUA write {fua} ns");
}

#[test]
fn a_full_write_back_buffer_throttles_writes_to_the_destage_rate() {
    let mut p = hdd_7200();
    p.cache.segments = 2;
    p.cache.segment_sectors = 256;
    let r = probe(&p, Pattern::RandWrite, 4096);
    // 64 writes fit; after that each write waits for a destage (a random access).
    assert!(r.iops < 400.0, "{} IOPS", r.iops);
    assert!(r.iops > 80.0, "{} IOPS", r.iops);
}

#[test]
fn write_through_drives_report_no_volatile_cache_and_flush_at_once() {
    let p = hdd_15k();
    let mut m = model(&p);
    assert!(!m.volatile_write_cache());
    let w = serve(&mut m, 0, req(1, ModelOp::Write, 5_000_000, 8, false));
    assert!(w > 1_000_000, "write-through pays the media: {w}");
    let f = serve(&mut m, w, req(2, ModelOp::Flush, 0, 0, false));
    assert!(f < 100_000, "{f}");
}
