//! A throughput probe of the hit path, driven without the harness's per-step invariant
//! checks. The iteration count comes from `FLASHCACHE_PROBE_ITERATIONS` (default small, so
//! the debug suite stays fast); time it from outside, e.g.
//! `FLASHCACHE_PROBE_ITERATIONS=5000000 cargo test --release -p dmsim-engine --lib
//! hit_path_probe`. Nothing here reads a clock.

use super::harness::{run_setup, small_config, Store};
use crate::block::{IoStatus, Op};
use crate::flashcache::config::CacheMode;
use crate::flashcache::instance::Flashcache;
use crate::flashcache::io::{CacheBio, CacheBioId, CacheRequest, DmIoOutcome};

/// Drain the target's requests, completing every IO at once; returns bios completed OK.
fn drain(fc: &mut Flashcache) -> u64 {
    let mut ok = 0;
    while let Some(request) = fc.poll_request() {
        match request {
            CacheRequest::DmIo(io) => fc
                .complete_dm_io(io.tag, DmIoOutcome::OK, 0)
                .expect("accepted"),
            CacheRequest::KcopydCopy(copy) => {
                fc.complete_kcopyd(copy.tag, false, 0, 0).expect("accepted")
            }
            CacheRequest::WakeWorker => fc.run_worker(0).expect("runs"),
            CacheRequest::CompleteBio { status, .. } => ok += u64::from(status == IoStatus::Ok),
        }
    }
    ok
}

#[test]
fn hit_path_probe() {
    let iterations: u64 = std::env::var("FLASHCACHE_PROBE_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let mut ssd = Store::default();
    let mut fc = run_setup(small_config(CacheMode::WriteBack), &mut ssd, 0).expect("created");
    let bio = |id: u64, op: Op, block: u64| CacheBio {
        id: CacheBioId(id),
        op,
        sector: 8 * block,
        sectors: 8,
        pid: 1,
        tgid: 1,
    };
    // Warm 200 blocks of each set (below the dirty threshold's reach: reads only).
    let blocks: Vec<u64> = (0..200).chain(256..456).collect();
    let mut completed = 0;
    for (id, &block) in blocks.iter().enumerate() {
        fc.map(bio(id as u64, Op::Read, block), 0).expect("mapped");
        completed += drain(&mut fc);
    }
    let before = fc.stats().read_hits;
    for i in 0..iterations {
        let block = blocks[(i as usize * 7919) % blocks.len()];
        fc.map(bio(1_000 + i, Op::Read, block), 0).expect("mapped");
        completed += drain(&mut fc);
    }
    assert_eq!(
        fc.stats().read_hits - before,
        iterations,
        "every probe read hits"
    );
    assert_eq!(completed, blocks.len() as u64 + iterations);
    assert!(fc.is_idle());
}
