//! `dmsim hits TRACE`: exact hit counts of a flashcache configuration over a trace, fast: the
//! same flashcache state machine as `replay`, with instant devices and no data
//! (`dmsim_engine::flashcache::HitCounter`).

use super::CliResult;
use crate::cache_args::{CacheArgs, ModeArg, PolicyArg};
use crate::outcome::warn_all;
use crate::trace_input::TraceArgs;
use clap::Args;
use dmsim_engine::flashcache::{CacheDeviceSizes, HitCounter};
use dmsim_scenarios::source::MAX_BIO_SECTORS;
use dmsim_sim::streams::stream;
use dmsim_testbed::trace_records::TraceSource;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `dmsim hits --help`.
pub const LONG_ABOUT: &str = "Count a flashcache configuration's hits over a block trace, \
    exactly and fast: the state machine `replay` runs, with devices that complete every IO at \
    once and carry no data, one request at a time.\n\n\
    The counters (every flashcache statistic `replay` reports) equal those of `replay --qd 1` \
    in writethrough and writearound. In writeback they equal them while the replay cleans \
    nothing (cleanings 0): cleaning runs in the background of a timed replay, overlapping \
    later requests, and on timers (the 1 s delayed pass, fallow cleaning); here it ends \
    before the next request, and no time passes, so no timer fires. No latency, no data \
    verification: use `replay` for those.";

#[derive(Args)]
pub struct HitsArgs {
    /// The trace file (.gz, .bz2, .xz, .zst are decompressed by extension).
    pub trace: PathBuf,
    #[command(flatten)]
    pub input: TraceArgs,
    /// Cache mode [default: writeback].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Replacement policy [default: fifo].
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Override a parameter, KEY=VALUE (repeatable), as for `replay`: `table.KEY` table-line
    /// fields, otherwise a flashcache tunable or option (`ssd.`/`hdd.` keys size the devices).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: HitsArgs) -> CliResult {
    if args.cache.hdd_raid5.is_some() {
        return Err(
            "--hdd-raid5: hits counts a cache over one disk; the array's layout \
                    does not change which blocks hit (use replay for the array)"
                .into(),
        );
    }
    let sets = crate::cache_args::parse_sets(&args.sets)?;
    let mode = args.mode.unwrap_or(ModeArg::Writeback);
    let policy = args.policy.unwrap_or(PolicyArg::Fifo);
    let setup = args.cache.resolve(mode, policy, &sets)?;
    warn_all(&setup.warnings);
    // The devices' sizes, as replay's simulated devices have them.
    let ssd = setup
        .ssd
        .build(Box::new(stream(0, "device.ssd")))
        .map_err(|e| format!("--ssd {}: {e}", setup.ssd_name))?;
    let hdd = setup
        .hdd
        .build(Box::new(stream(0, "device.hdd")))
        .map_err(|e| format!("--hdd {}: {e}", setup.hdd_name))?;
    setup.check_simulated_fit(ssd.capacity_sectors())?;
    let devices = CacheDeviceSizes {
        ssd_sectors: ssd.capacity_sectors(),
        disk_sectors: hdd.capacity_sectors(),
        ssd_logical_block_bytes: ssd.logical_block_size(),
    };
    let mut hits = HitCounter::new(setup.cache.clone(), devices)
        .map_err(|e| format!("cannot build the cache: {e}"))?;
    let trace = TraceSource::File(args.trace.clone());
    let input = args.input.input();
    let compact = input.compact_map(&trace)?;
    let volume_sectors = setup.cache.table.target_sectors;
    let auto_fit = input.auto_fit(volume_sectors, compact.as_ref());
    let records = input.records(&trace, volume_sectors, compact)?;
    let mut skipped = 0u64;
    for record in records {
        let record = record?;
        // Records with no bio equivalent are skipped, as replay skips them.
        let usable = record.op.to_block_op().filter(|&op| {
            op == dmsim_engine::block::Op::Flush
                || (record.sectors > 0 && record.sectors <= MAX_BIO_SECTORS)
        });
        let Some(op) = usable else {
            skipped += 1;
            continue;
        };
        hits.request(op, record.sector, record.sectors)
            .map_err(|e| format!("request {}: {e}", hits.requests() + 1))?;
    }
    if hits.requests() == 0 {
        return Err(
            "no request was counted: no record matched the filters, or the input is \
                    empty"
                .into(),
        );
    }
    let mut counters: BTreeMap<String, u64> = BTreeMap::new();
    for part in [
        serde_json::to_value(hits.stats())?,
        serde_json::to_value(hits.errors())?,
    ] {
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
    let stats = hits.stats();
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            100.0 * part as f64 / whole as f64
        }
    };
    if args.json {
        let mut result = serde_json::json!({
            "trace": trace.report_name(),
            "mode": mode.name(),
            "policy": policy.name(),
            "flashcache": setup.cache,
            "requests": hits.requests(),
            "bios": hits.bios().ok + hits.bios().failed,
            "skipped_records": skipped,
            "stats": counters,
        });
        if let Some(fit) = auto_fit {
            result["fit"] = fit.to_json();
        }
        outln!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    outln!(
        "{} {}/{}: {} requests, {} bios (block parts)",
        trace.report_name(),
        mode.name(),
        policy.name(),
        hits.requests(),
        hits.bios().ok + hits.bios().failed
    );
    outln!(
        "reads {}, read hits {} ({:.2}%); writes {}, write hits {} ({:.2}%)",
        stats.reads,
        stats.read_hits,
        percent(stats.read_hits, stats.reads),
        stats.writes,
        stats.write_hits,
        percent(stats.write_hits, stats.writes)
    );
    if let Some(fit) = auto_fit {
        outln!("{}", fit.note());
    }
    if skipped > 0 {
        outln!("skipped {skipped} record(s) with no bio equivalent");
    }
    for (key, value) in &counters {
        outln!("  {key} {value}");
    }
    Ok(())
}
