//! The DiskSim cache and mechanism options the validated drives use, each shown on the
//! HP C2247A with the option switched on and off: zero-latency reads and writes, reading
//! free blocks ahead of a request, read-ahead one track ahead, a read dropping its own
//! data, read-ahead that fills the segment, and write-back writes combined into one
//! destage.

use dmsim_models::hdd::{hdd_hp_c2247a, HddModel, HddParams, ReadAheadStop};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_chacha::rand_core::SeedableRng;

/// One revolution of the C2247A (5400 rpm), in ns.
const REV_NS: u64 = 11_111_111;

/// The C2247A with a fast bus (so media timing shows through), no write quirks and no
/// read-ahead restarted by hits (so each test's read-ahead is its first read's).
fn base() -> HddParams {
    let mut p = hdd_hp_c2247a();
    p.cache.read_ahead_on_hit = false;
    p.bus.read_ns_per_sector = 1_000;
    p.bus.write_ns_per_sector = 1_000;
    p.controller.extra_write_disconnect = None;
    p.controller.minimum_write_positioning_ns = 0;
    p
}

fn model(p: &HddParams) -> HddModel {
    HddModel::new(
        p.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
}

fn req(tag: u64, op: ModelOp, sector: u64, sectors: u32) -> ModelRequest {
    ModelRequest {
        tag,
        op,
        sector,
        sectors,
        fua: false,
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

/// First LBN and length of a whole track in zone 1 (92 sectors per track).
fn a_track(p: &HddParams) -> (u64, u32) {
    let m = model(p);
    let (first, end) = m.layout().track_lbns(700_000);
    (first, (end - first) as u32)
}

/// Service times of `op` of a whole track issued at 13 phases of the rotation, each on a
/// fresh drive; returns (min, max).
fn spread_over_phases(p: &HddParams, op: ModelOp) -> (u64, u64) {
    let (first, len) = a_track(p);
    let times: Vec<u64> = (0..13)
        .map(|k| {
            let mut m = model(p);
            serve(&mut m, k * REV_NS / 13, req(1, op, first, len))
        })
        .collect();
    (*times.iter().min().unwrap(), *times.iter().max().unwrap())
}

#[test]
fn zero_latency_reads_take_a_whole_track_in_one_revolution_wherever_the_head_lands() {
    let mut p = base();
    p.cache.read_ahead_max_sectors = 0;
    let (lo, hi) = spread_over_phases(&p, ModelOp::Read);
    assert!(
        hi - lo > REV_NS / 2,
        "rotational latency varies: {lo}..{hi}"
    );
    p.cache.zero_latency_reads = true;
    let (zlo, zhi) = spread_over_phases(&p, ModelOp::Read);
    assert!(zhi - zlo < REV_NS / 10, "zero latency: {zlo}..{zhi}");
    assert!(zhi < hi, "never slower: {zhi} vs {hi}");
}

#[test]
fn zero_latency_writes_take_a_whole_track_in_one_revolution_wherever_the_head_lands() {
    let mut p = base();
    let (lo, hi) = spread_over_phases(&p, ModelOp::Write);
    assert!(
        hi - lo > REV_NS / 2,
        "rotational latency varies: {lo}..{hi}"
    );
    p.cache.zero_latency_writes = true;
    let (zlo, zhi) = spread_over_phases(&p, ModelOp::Write);
    assert!(zhi - zlo < REV_NS / 10, "zero latency: {zlo}..{zhi}");
}

/// Reading 8 sectors in the middle of a track, then 8 sectors before them: with free
/// blocks the second read is a hit whenever the head landed ahead of the first.
#[test]
fn read_any_free_blocks_buffers_the_sectors_passing_before_a_read() {
    let count_hits = |p: &HddParams| {
        let (first, _) = a_track(p);
        (0..13)
            .filter(|k| {
                let mut m = model(p);
                serve(
                    &mut m,
                    k * REV_NS / 13,
                    req(1, ModelOp::Read, first + 48, 8),
                );
                let t = serve(&mut m, 100_000_000, req(2, ModelOp::Read, first + 8, 8));
                t < 2_000_000
            })
            .count()
    };
    let mut p = base();
    assert_eq!(count_hits(&p), 0, "read-ahead never reads backwards");
    p.cache.read_any_free_blocks = true;
    let hits = count_hits(&p);
    assert!((1..13).contains(&hits), "{hits} of 13 landings were ahead");
}

#[test]
fn track_ahead_read_ahead_stops_at_the_track_end_or_one_track_later_for_a_stream() {
    let mut p = base();
    p.cache.read_ahead_stop = ReadAheadStop::TrackAhead;
    let (first, spt) = a_track(&p);
    let spt = u64::from(spt);
    let hit = |m: &mut HddModel, at: u64, lbn: u64, tag: u64| {
        serve(m, at, req(tag, ModelOp::Read, lbn, 4)) < 2_000_000
    };
    // A read inside the track: read-ahead to the end of that track only.
    let mut m = model(&p);
    serve(&mut m, 0, req(1, ModelOp::Read, first + 10, 8));
    assert!(hit(&mut m, 100_000_000, first + spt - 4, 2));
    assert!(!hit(&mut m, 200_000_000, first + spt, 3));
    // A read crossing into the track from the one before: one track more.
    let mut m = model(&p);
    serve(&mut m, 0, req(1, ModelOp::Read, first - 4, 8));
    assert!(hit(&mut m, 100_000_000, first + 2 * spt - 4, 2));
    assert!(!hit(&mut m, 200_000_000, first + 2 * spt, 3));
}

#[test]
fn a_read_that_drops_its_own_data_leaves_only_read_ahead_for_hits() {
    let reread = |drop: bool| {
        let mut p = base();
        p.cache.read_drops_request_data = drop;
        let mut m = model(&p);
        serve(&mut m, 0, req(1, ModelOp::Read, 500_000, 8));
        let again = serve(&mut m, 100_000_000, req(2, ModelOp::Read, 500_000, 8));
        let ahead = serve(&mut m, 200_000_000, req(3, ModelOp::Read, 500_008, 8));
        (again, ahead)
    };
    let (again, ahead) = reread(false);
    assert!(again < 2_000_000 && ahead < 2_000_000, "{again} {ahead}");
    let (again, ahead) = reread(true);
    assert!(again > 2_000_000, "the request's data is gone: {again}");
    assert!(ahead < 2_000_000, "the read-ahead stays: {ahead}");
}

#[test]
fn read_ahead_that_fills_the_segment_counts_the_request_in() {
    let last_hit = |fills: bool| {
        let mut p = base();
        p.cache.read_ahead_max_sectors = p.cache.segment_sectors; // 256
        p.cache.read_ahead_fills_segment = fills;
        let mut m = model(&p);
        serve(&mut m, 0, req(1, ModelOp::Read, 500_000, 100));
        let at = |m: &mut HddModel, lbn: u64, tag: u64| {
            serve(m, tag * 100_000_000, req(tag, ModelOp::Read, lbn, 4)) < 2_000_000
        };
        (at(&mut m, 500_250, 2), at(&mut m, 500_300, 3))
    };
    // 256 sectors of read-ahead after the request's 100.
    assert_eq!(last_hit(false), (true, true));
    // The segment holds 256 in all: 156 of read-ahead.
    assert_eq!(last_hit(true), (true, false));
}

/// With 3 segments holding reads A and C, two sequential write-back writes arriving while
/// the mechanism reads C need a segment each, evicting A, unless combined into one.
#[test]
fn combined_write_back_writes_share_one_segment_and_one_destage() {
    let a_survives = |combine: bool| {
        let mut p = base();
        p.cache.segments = 3;
        p.cache.dedicated_write_segment = false;
        p.cache.write_back = true;
        p.cache.combine_sequential_writes = combine;
        p.queue.depth = 4;
        let mut m = model(&p);
        serve(&mut m, 0, req(1, ModelOp::Read, 100_000, 8));
        let mut out = Vec::new();
        m.submit(50_000_000, req(2, ModelOp::Read, 1_900_000, 8));
        m.advance(50_100_000, &mut out);
        m.submit(50_100_000, req(3, ModelOp::Write, 900_000, 8));
        m.advance(50_200_000, &mut out);
        m.submit(50_200_000, req(4, ModelOp::Write, 900_008, 8));
        m.advance(150_000_000, &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        serve(&mut m, 200_000_000, req(5, ModelOp::Read, 100_000, 8)) < 2_000_000
    };
    assert!(!a_survives(false), "the second write took A's segment");
    assert!(a_survives(true), "the second write joined the first");
}
