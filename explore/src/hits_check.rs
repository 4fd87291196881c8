//! The hit-counting mode against the timed engine: on the seeds where the two must agree,
//! `dmsim hits`' state machine run over the same control messages and requests ends with
//! every flashcache counter and gauge the timed run's first segment ended with.
//!
//! Where they must agree is `dmsim_engine::flashcache::hits`' claim: writethrough and
//! writearound at queue depth 1, whatever the devices' timing; writeback too when the timed
//! run cleaned nothing (and the SSD completed one request's data writes before the metadata
//! write: the explorer's RAM devices did in every seed tried, 15 of 15 in 2,000). The
//! explorer holds it to that over random geometries, tunables, pid lists, policies,
//! workloads and devices (the unit test `sim/tests/hits_equal_timed.rs` covers two
//! workloads). So the seeds: fault-free flashcache at queue depth 1, without `ssd_timeout`
//! (a slow SSD may time out, which the instant devices never do) and without cancels by
//! device, with pid expiry off (time never passes in the hits mode); the first segment only
//! (a clean stop's reload starts a counter the hits mode does not have).

use crate::rig::workload;
use crate::spec::{SeedSpec, TargetChoice};
use dmsim_engine::block::Op;
use dmsim_engine::flashcache::{
    CacheDeviceSizes, CacheMode, Flashcache, FlashcacheErrors, FlashcacheStats, HitCounter,
    HitsError,
};
use dmsim_engine::Engine;

/// Whether `spec`'s first segment is held against the hit-counting mode.
pub fn applies(spec: &SeedSpec) -> bool {
    let TargetChoice::Flashcache(config) = &spec.target else {
        return false;
    };
    let Some(first) = spec.segments.first() else {
        return false;
    };
    spec.is_fault_free()
        && spec.queue_depth == 1
        && config.options.ssd_timeout_ns.is_none()
        && first.ssd_cancels_at_ns.is_empty()
        && first.cut_after_inputs.is_none()
        // The hit-counting mode takes no discards.
        && spec.workload.discard_one_in == 0
        // Time does not pass in the hit-counting mode: no entry expires there.
        && !first.messages.iter().any(|m| m == "set do_pid_expiry 1")
}

/// What both must agree on.
#[derive(Debug, PartialEq, Eq)]
struct Counters {
    stats: FlashcacheStats,
    errors: FlashcacheErrors,
    cached_blocks: u64,
    nr_dirty: u64,
}

impl Counters {
    fn of(stats: &FlashcacheStats, errors: &FlashcacheErrors, fc_gauges: (u64, u64)) -> Self {
        Counters {
            stats: stats.clone(),
            errors: errors.clone(),
            cached_blocks: fc_gauges.0,
            nr_dirty: fc_gauges.1,
        }
    }

    fn of_timed(fc: &Flashcache) -> Self {
        let gauges = fc.gauges();
        Counters::of(
            fc.stats(),
            fc.errors(),
            (gauges.cached_blocks, gauges.nr_dirty),
        )
    }
}

/// Runs the first segment's messages and requests through a [`HitCounter`] over devices of
/// `devices`' sizes and compares its counters with those of `engine`, idle at the segment's
/// end. Only for a spec that [`applies`]; `Ok(false)`: not compared (a writeback run that
/// cleaned).
pub fn check(spec: &SeedSpec, devices: CacheDeviceSizes, engine: &Engine) -> Result<bool, String> {
    assert!(
        applies(spec),
        "hits_check::check on a spec it does not cover"
    );
    assert!(
        engine.is_idle(),
        "hits_check::check before the engine is idle"
    );
    let TargetChoice::Flashcache(config) = &spec.target else {
        unreachable!("applies() holds");
    };
    let timed = engine
        .target()
        .flashcache()
        .ok_or("the flashcache target is not running at the segment's end")?;
    if config.table.mode == CacheMode::WriteBack && timed.stats().cleanings > 0 {
        return Ok(false);
    }
    let block_sectors = u64::from(timed.status().block_size_sectors);
    let mut hits = HitCounter::new((**config).clone(), devices)
        .map_err(|e| format!("the hit-counting mode refused the spec: {e}"))?;
    let first = &spec.segments[0];
    for text in &first.messages {
        hits.message(text)
            .map_err(|e| format!("the hit-counting mode refused a message: {e}"))?;
    }
    let mut requests = 0u64;
    for record in workload(&spec.workload, first.requests, 0) {
        let op = record
            .op
            .to_block_op()
            .ok_or_else(|| format!("the workload made a {} record", record.op.name()))?;
        hits.request(op, record.sector, record.sectors)
            .map_err(|e| format!("the hit-counting mode refused request {requests}: {e}"))?;
        requests += 1;
    }
    assert_eq!(hits.requests(), requests);
    let gauges = hits.gauges();
    let instant = Counters::of(
        hits.stats(),
        hits.errors(),
        (gauges.cached_blocks, gauges.nr_dirty),
    );
    let timed = Counters::of_timed(timed);
    if instant != timed {
        return Err(format!(
            "after {requests} requests the hit-counting mode differs from the timed run:\n\
             timed {timed:?}\nhits  {instant:?}"
        ));
    }
    check_volume_end(&mut hits, config.table.target_sectors, block_sectors)?;
    Ok(true)
}

/// The volume's last block is addressable and the sector after it is not (after the
/// comparison: these requests are the probe's own).
fn check_volume_end(
    hits: &mut HitCounter,
    volume_sectors: u64,
    block_sectors: u64,
) -> Result<(), String> {
    let last_block = volume_sectors - block_sectors;
    hits.request(Op::Read, last_block, block_sectors)
        .map_err(|e| format!("the hit-counting mode refused the volume's last block: {e}"))?;
    let requests = hits.requests();
    match hits.request(Op::Read, last_block + 1, block_sectors) {
        Err(HitsError::BeyondVolume { .. }) if hits.requests() == requests => Ok(()),
        other => Err(format!(
            "a read of {block_sectors} sectors at {} on a volume of {volume_sectors} \
             sectors: {other:?}, expected a refusal as beyond the volume, not counted",
            last_block + 1
        )),
    }
}
