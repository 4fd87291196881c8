//! Exact hit counts of a flashcache configuration over a trace (`dmsim hits`): the same
//! state machine as a replay, through `HitCounter` (instant devices, no data, one request
//! at a time). One configuration streams the trace; a grid of configurations reads it once
//! into 16-byte requests that every cell replays.

use crate::run_error::RunError;
use crate::setup::CacheSetup;
use crate::trace_records::{AutoFit, TraceInput, TraceSource};
use dmsim_engine::block::Op;
use dmsim_engine::flashcache::{CacheDeviceSizes, FlashcacheConfig, HitCounter};
use dmsim_scenarios::source::MAX_BIO_SECTORS;
use dmsim_scenarios::traces::TraceRecord;
use dmsim_sim::streams::stream;
use std::collections::BTreeMap;

/// One request of the trace as every cell replays it.
#[derive(Clone, Copy, Debug)]
pub struct HitRequest {
    sector: u64,
    sectors: u32,
    op: Op,
}

// `dmsim hits --help` promises 16 bytes of memory per request held for a grid.
const _: () = assert!(std::mem::size_of::<HitRequest>() == 16);

/// The request a trace record becomes, or `None` for a record with no bio equivalent (zero
/// or too many sectors, an operation flashcache never sees), which replay skips too.
fn request_of(record: &TraceRecord) -> Option<HitRequest> {
    let op = record.op.to_block_op().filter(|&op| {
        op == Op::Flush || (record.sectors > 0 && record.sectors <= MAX_BIO_SECTORS)
    })?;
    Some(HitRequest {
        sector: record.sector,
        sectors: u32::try_from(record.sectors).expect("at most MAX_BIO_SECTORS"),
        op,
    })
}

/// Feeds one request to `hits`; an error names the request's number.
fn count(hits: &mut HitCounter, request: &HitRequest) -> Result<(), RunError> {
    hits.request(request.op, request.sector, u64::from(request.sectors))
        .map_err(|e| RunError::Input(format!("request {}: {e}", hits.requests() + 1)))
}

/// The cache's devices as replay's simulated devices size them.
pub fn device_sizes(setup: &CacheSetup) -> Result<CacheDeviceSizes, RunError> {
    let ssd = setup
        .ssd
        .build(Box::new(stream(0, "device.ssd")))
        .map_err(|e| RunError::Input(format!("--ssd {}: {e}", setup.ssd_name)))?;
    let hdd = setup
        .hdd
        .build(Box::new(stream(0, "device.hdd")))
        .map_err(|e| RunError::Input(format!("--hdd {}: {e}", setup.hdd_name)))?;
    Ok(CacheDeviceSizes {
        ssd_sectors: ssd.capacity_sectors(),
        disk_sectors: hdd.capacity_sectors(),
        ssd_logical_block_bytes: ssd.logical_block_size(),
    })
}

/// Every counter and gauge of the cache, under flashcache's names.
pub fn counters(hits: &HitCounter) -> Result<BTreeMap<String, u64>, RunError> {
    let mut counters: BTreeMap<String, u64> = BTreeMap::new();
    for part in [
        serde_json::to_value(hits.stats()),
        serde_json::to_value(hits.errors()),
    ] {
        let part = part.map_err(|e| RunError::Engine(e.to_string()))?;
        if let Some(object) = part.as_object() {
            for (key, value) in object {
                if let Some(n) = value.as_u64() {
                    counters.insert(key.clone(), n);
                }
            }
        }
    }
    let gauges = hits.gauges();
    counters.insert("cached_blocks".to_string(), gauges.cached_blocks);
    counters.insert("nr_dirty".to_string(), gauges.nr_dirty);
    counters.insert("size_blocks".to_string(), gauges.size_blocks);
    Ok(counters)
}

/// A trace counted through one configuration.
pub struct TraceHits {
    pub hits: HitCounter,
    /// Records with no bio equivalent.
    pub skipped: u64,
    pub auto_fit: Option<AutoFit>,
}

/// Counts `setup`'s cache over the trace, streaming it.
pub fn count_trace(
    setup: &CacheSetup,
    devices: CacheDeviceSizes,
    trace: &TraceSource,
    input: &TraceInput,
) -> Result<TraceHits, RunError> {
    let mut hits = HitCounter::new(setup.cache.clone(), devices)
        .map_err(|e| RunError::Input(format!("cannot build the cache: {e}")))?;
    let compact = input.compact_map(trace).map_err(RunError::Input)?;
    let volume_sectors = setup.cache.table.target_sectors;
    let auto_fit = input.auto_fit(volume_sectors, compact.as_ref());
    let mut skipped = 0u64;
    for record in input
        .records(trace, volume_sectors, compact)
        .map_err(RunError::Input)?
    {
        match request_of(&record.map_err(RunError::Input)?) {
            Some(request) => count(&mut hits, &request)?,
            None => skipped += 1,
        }
    }
    Ok(TraceHits {
        hits,
        skipped,
        auto_fit,
    })
}

/// The requests of the trace, read once for a grid, and what reading it said.
pub struct TraceRequests {
    pub requests: Vec<HitRequest>,
    pub records: u64,
    pub skipped: u64,
    pub auto_fit: Option<AutoFit>,
}

/// Reads the trace's requests onto a volume of `volume_sectors`.
pub fn read_requests(
    trace: &TraceSource,
    input: &TraceInput,
    volume_sectors: u64,
) -> Result<TraceRequests, RunError> {
    let compact = input.compact_map(trace).map_err(RunError::Input)?;
    let auto_fit = input.auto_fit(volume_sectors, compact.as_ref());
    let mut requests = Vec::new();
    let mut records = 0u64;
    for record in input
        .records(trace, volume_sectors, compact)
        .map_err(RunError::Input)?
    {
        records += 1;
        if let Some(request) = request_of(&record.map_err(RunError::Input)?) {
            requests.push(request);
        }
    }
    let skipped = records - requests.len() as u64;
    Ok(TraceRequests {
        requests,
        records,
        skipped,
        auto_fit,
    })
}

/// Counts one configuration over every request: the requests counted and the counters.
pub fn count_requests(
    config: &FlashcacheConfig,
    devices: CacheDeviceSizes,
    requests: &[HitRequest],
) -> Result<(u64, BTreeMap<String, u64>), RunError> {
    let mut hits = HitCounter::new(config.clone(), devices)
        .map_err(|e| RunError::Input(format!("cannot build the cache: {e}")))?;
    for request in requests {
        count(&mut hits, request)?;
    }
    Ok((hits.requests(), counters(&hits)?))
}
