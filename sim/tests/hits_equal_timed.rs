//! The hit-counting mode ([`HitCounter`]: the flashcache state machine with instant devices
//! and no data) against the timed replay at queue depth 1 on simulated devices (the
//! `replay --qd 1` defaults: an `ssd-nvme` SSD, preconditioned over the cache area, over an
//! `hdd-7200` disk): every flashcache counter and the gauges the summary reports must be
//! equal, for every mode and policy, on the bundled MSR sample and on a generated mix of
//! multi-block, partial and unaligned requests.
//!
//! Writeback is equal only while the timed run cleans nothing (the module documentation of
//! `dmsim_engine::flashcache::hits` says why); its cases check that condition in the timed
//! run before comparing, and one case shows the counters cleaning touches part when it does
//! clean.

mod support;

use dmsim_engine::block::DeviceId;
use dmsim_engine::flashcache::{
    Associativity, CacheDeviceSizes, CacheMode, FlashcacheConfig, FlashcacheErrors,
    FlashcacheStats, HitCounter, Persistence, ReclaimPolicy, TableLine,
};
use dmsim_engine::{drive, DriveOptions, DriveOutcome, Engine, EngineConfig, TargetSpec};
use dmsim_models::presets;
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::traces::{open_trace, TraceOp, TraceOptions, TraceRecord};
use dmsim_sim::device::SimDevice;
use dmsim_sim::platform::SimPlatform;
use dmsim_sim::streams::stream;

const MSR_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/bundled/traces/msr-cambridge1-sample.csv"
);

/// What one run's summary reports of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counters {
    stats: FlashcacheStats,
    errors: FlashcacheErrors,
    cached_blocks: u64,
    nr_dirty: u64,
    size_blocks: u64,
}

/// A cache of `blocks` 4 KiB blocks in 512-way sets over the whole disk.
fn config(
    mode: CacheMode,
    policy: ReclaimPolicy,
    blocks: u64,
    disk_sectors: u64,
) -> FlashcacheConfig {
    let mut table = TableLine::new(mode, Persistence::Create, disk_sectors);
    table.assoc = Associativity::Ways(512);
    table.cache_size_sectors = blocks * 8;
    let mut config = FlashcacheConfig::new(table);
    config.tunables.reclaim_policy = policy;
    config
}

fn devices(seed: u64) -> (SimDevice, SimDevice) {
    let ssd = presets::find("ssd-nvme")
        .expect("preset")
        .build(Box::new(stream(seed, "device.ssd")))
        .expect("builds");
    let hdd = presets::find("hdd-7200")
        .expect("preset")
        .build(Box::new(stream(seed, "device.hdd")))
        .expect("builds");
    (SimDevice::new("ssd", ssd), SimDevice::new("hdd", hdd))
}

fn disk_sectors() -> u64 {
    devices(0).1.capacity_sectors()
}

/// The timed replay at queue depth 1, as `dmsim replay --qd 1` builds it.
fn timed_qd1(config: &FlashcacheConfig, records: &[TraceRecord], seed: u64) -> Counters {
    let (mut ssd, hdd) = devices(seed);
    ssd.precondition(config.table.cache_size_sectors.min(ssd.capacity_sectors()));
    let mut platform = SimPlatform::new(vec![ssd, hdd]);
    let mut engine = Engine::new(
        EngineConfig {
            arena_pages: 1 << 14,
            ..EngineConfig::default()
        },
        platform.device_infos(),
        TargetSpec::flashcache(DeviceId(0), DeviceId(1), config.clone()),
    )
    .expect("a valid cache");
    let mut source = RecordSource::new(
        records.iter().cloned(),
        Pacing::ClosedLoop { queue_depth: 1 },
    );
    let report = drive(
        &mut engine,
        &mut platform,
        &mut source,
        &mut (),
        &DriveOptions::default(),
    )
    .expect("the run succeeds");
    assert_eq!(report.outcome, DriveOutcome::Finished, "{report:?}");
    assert_eq!(report.bios_done, records.len() as u64);
    let fc = engine.target().flashcache().expect("running");
    let gauges = fc.gauges();
    Counters {
        stats: fc.stats().clone(),
        errors: fc.errors().clone(),
        cached_blocks: gauges.cached_blocks,
        nr_dirty: gauges.nr_dirty,
        size_blocks: gauges.size_blocks,
    }
}

/// The hit-counting mode over the same records.
fn instant(config: &FlashcacheConfig, records: &[TraceRecord]) -> Counters {
    let (ssd, hdd) = devices(0);
    let sizes = CacheDeviceSizes {
        ssd_sectors: ssd.capacity_sectors(),
        disk_sectors: hdd.capacity_sectors(),
        ssd_logical_block_bytes: ssd.logical_block_size(),
    };
    let mut hits = HitCounter::new(config.clone(), sizes).expect("a valid cache");
    for record in records {
        let op = record.op.to_block_op().expect("usable records only");
        hits.request(op, record.sector, record.sectors)
            .expect("the cache takes every request");
    }
    assert_eq!(hits.requests(), records.len() as u64);
    assert_eq!(hits.bios().failed, 0);
    let gauges = hits.gauges();
    Counters {
        stats: hits.stats().clone(),
        errors: hits.errors().clone(),
        cached_blocks: gauges.cached_blocks,
        nr_dirty: gauges.nr_dirty,
        size_blocks: gauges.size_blocks,
    }
}

fn msr_records() -> Vec<TraceRecord> {
    let records: Vec<TraceRecord> = open_trace(MSR_SAMPLE, TraceOptions::default())
        .expect("the bundled trace opens")
        .map(|record| record.expect("a well-formed record"))
        .collect();
    assert_eq!(records.len(), 1_000, "the sample's records");
    records
}

/// Multi-block (2 and 4 blocks), partial and unaligned requests over 32 MiB, 60% reads.
fn mixed_records(seed: u64) -> Vec<TraceRecord> {
    let records: Vec<TraceRecord> = support::mixed(32 << 20, 3_000, 60.0, seed, None).collect();
    assert!(records.iter().any(|r| r.sectors == 32), "4-block requests");
    assert!(
        records.iter().any(|r| r.sector % 8 != 0),
        "unaligned requests"
    );
    records
}

/// The same mix reshaped so that a writeback cache of 1024 blocks with
/// `dirty_thresh_pct = 90` never cleans: whole-block writes are folded into the first
/// 1 MiB (too few dirty blocks per set to reach the threshold or fill a set), partial or
/// unaligned writes become reads (their whole-block parts would dirty blocks elsewhere), and
/// every partial or unaligned request in the first 1 MiB moves 1 MiB up (a partial IO over
/// a dirty block would clean it).
fn mixed_records_never_cleaned(seed: u64) -> Vec<TraceRecord> {
    const DIRTY_SECTORS: u64 = 2048;
    let mut records = mixed_records(seed);
    for record in records.iter_mut() {
        let whole_blocks = record.sector % 8 == 0 && record.sectors % 8 == 0;
        if !whole_blocks && record.op == TraceOp::Write {
            record.op = TraceOp::Read;
        }
        if whole_blocks && record.op == TraceOp::Write {
            // A write is at most 32 sectors: it ends inside the first 1 MiB too.
            record.sector %= DIRTY_SECTORS - 32;
        } else if !whole_blocks && record.sector < DIRTY_SECTORS {
            record.sector += DIRTY_SECTORS;
        }
    }
    records
}

const POLICIES: [ReclaimPolicy; 2] = [ReclaimPolicy::Fifo, ReclaimPolicy::Lru];

/// Compares the timed and the instant run of `records` in `mode` under both policies, with
/// a cache of `blocks`; returns the timed counters per policy.
fn assert_equal(
    records: &[TraceRecord],
    mode: CacheMode,
    blocks: u64,
    tune: impl Fn(&mut FlashcacheConfig),
) -> Vec<Counters> {
    let disk_sectors = disk_sectors();
    let mut all = Vec::new();
    for policy in POLICIES {
        let mut config = config(mode, policy, blocks, disk_sectors);
        tune(&mut config);
        let timed = timed_qd1(&config, records, 3);
        let instant = instant(&config, records);
        let case = format!("{mode:?} {policy:?}");
        assert!(
            timed.stats.read_hits + timed.stats.write_hits > 0,
            "{case}: the stream has hits"
        );
        assert!(
            timed.stats.replace + timed.stats.wr_replace > 0,
            "{case}: the cache replaces blocks"
        );
        assert_eq!(instant, timed, "{case}");
        all.push(timed);
    }
    all
}

#[test]
fn msr_sample_counts_equal_the_timed_qd1_replay_in_every_mode_and_policy() {
    let records = msr_records();
    for mode in [CacheMode::WriteThrough, CacheMode::WriteAround] {
        assert_equal(&records, mode, 1_024, |_| {});
    }
    // Writeback with its default 20% threshold cleans hundreds of times here, in the
    // background of the timed run: not equal. At 90% it cleans a few blocks under partial
    // writes, each before anything else touches its metadata block: equal.
    let timed = assert_equal(&records, CacheMode::WriteBack, 1_024, |config| {
        config.tunables.dirty_thresh_pct = 90;
    });
    assert!(timed.iter().all(|counters| counters.stats.cleanings < 10));
}

#[test]
fn mixed_multi_block_counts_equal_the_timed_qd1_replay_in_writethrough_and_writearound() {
    let records = mixed_records(5);
    for mode in [CacheMode::WriteThrough, CacheMode::WriteAround] {
        assert_equal(&records, mode, 1_024, |_| {});
    }
}

#[test]
fn mixed_multi_block_writeback_counts_equal_the_timed_qd1_replay_while_nothing_is_cleaned() {
    let records = mixed_records_never_cleaned(5);
    let timed = assert_equal(&records, CacheMode::WriteBack, 1_024, |config| {
        config.tunables.dirty_thresh_pct = 90;
    });
    for counters in timed {
        assert_eq!(counters.stats.cleanings, 0, "the condition holds");
        assert!(counters.nr_dirty > 100, "writeback dirtied blocks");
        assert!(
            counters.stats.md_write_batch > 0,
            "multi-block writes batch"
        );
    }
}
