//! `dmsim hits TRACE`: exact hit counts of a flashcache configuration over a trace, fast: the
//! same flashcache state machine as `replay`, with instant devices and no data
//! (`dmsim_engine::flashcache::HitCounter`). With `--cache-sizes`, `--modes` or `--policies`
//! it counts a grid of configurations over one reading of the trace, in parallel, and reports
//! miss-ratio curves (`dmsim_reports::MrcReport`).

use super::CliResult;
use crate::cache_args::{ModeArg, PolicyArg};
use crate::cache_sizes::{parse_cache_sizes, CacheSizes};
use crate::outcome::{check_out_dir, warn_all};
use crate::progress::Progress;
use crate::trace_cache_args::TraceCacheArgs;
use clap::{Args, ValueEnum};
use dmsim_engine::flashcache::geometry::Geometry;
use dmsim_engine::flashcache::{CacheDeviceSizes, FlashcacheConfig};
use dmsim_reports::{format::binary_size, MrcCell, MrcReport, INDEX_FILE_NAME};
use dmsim_testbed::hit_counts::{
    count_requests, count_trace, counters, device_sizes, read_requests, HitRequest, TraceHits,
};
use dmsim_testbed::trace_records::TraceSource;
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
    verification: use `replay` for those.\n\n\
    Miss-ratio curves: `--cache-sizes 16m,64m,256m,1g` (or a range, `16m..1g` doubling, \
    `16m..1g:8` for 8 log-spaced sizes), with `--modes` and `--policies` lists, counts every \
    combination over one reading of the trace, in parallel (`--jobs`), and prints a table of \
    hit ratios; `--out DIR` writes DIR/mrc.json, the chart DIR/mrc.svg and DIR/mrc.png (hit \
    ratio against cache size, one line per mode and policy) and DIR/index.html. Each cell's \
    counters equal a single `dmsim hits` run with that --cache-size, --mode and --policy, and \
    the output does not depend on --jobs. The trace's requests are held in memory for the \
    cells to share: 16 bytes each.";

#[derive(Args)]
pub struct HitsArgs {
    #[command(flatten)]
    pub trace_cache: TraceCacheArgs,
    /// Cache sizes of a miss-ratio curve, comma-separated sizes and ranges: `16m,64m,1g`;
    /// `16m..1g` doubles from the start (16m, 32m, …, 1g; the end is kept when a doubling
    /// steps over it); `16m..1g:8` is 8 sizes spaced evenly on a log scale, both ends
    /// included, the inner ones rounded to 1/16 of the start (rounded down to a power of
    /// two). At most 64 sizes, each positive and at most the SSD's size.
    #[arg(long, value_name = "SIZES", value_parser = parse_cache_sizes,
          conflicts_with_all = ["cache_size", "cache_blocks"])]
    pub cache_sizes: Option<CacheSizes>,
    /// Cache modes of the curves, comma-separated (writeback, writethrough, writearound,
    /// write-only) or `all` [default: --mode's].
    #[arg(long, value_name = "MODES", value_parser = parse_modes, conflicts_with = "mode")]
    pub modes: Option<ModeList>,
    /// Replacement policies of the curves, comma-separated (fifo, lru, lru-strict) or `all`
    /// [default: --policy's].
    #[arg(long, value_name = "POLICIES", value_parser = parse_policies, conflicts_with = "policy")]
    pub policies: Option<PolicyList>,
    /// Configurations counted in parallel, with --cache-sizes, --modes or --policies
    /// [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// With --cache-sizes, --modes or --policies: write DIR/mrc.json, the chart
    /// (DIR/mrc.svg, DIR/mrc.png) and DIR/index.html (created; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the result as JSON (with a grid: mrc.json's content).
    #[arg(long)]
    pub json: bool,
    /// Show no progress on stderr (a grid's cells counted so far).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--modes`: the modes of a grid.
#[derive(Clone, Debug)]
pub struct ModeList(Vec<ModeArg>);

/// `--policies`: the policies of a grid.
#[derive(Clone, Debug)]
pub struct PolicyList(Vec<PolicyArg>);

fn parse_modes(text: &str) -> Result<ModeList, String> {
    parse_list(text, "mode").map(ModeList)
}

fn parse_policies(text: &str) -> Result<PolicyList, String> {
    parse_list(text, "policy").map(PolicyList)
}

/// A comma-separated list of `T`'s names, or `all`; no name twice.
fn parse_list<T: ValueEnum + Clone + PartialEq>(text: &str, what: &str) -> Result<Vec<T>, String> {
    let names = || {
        T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if text.trim() == "all" {
        return Ok(T::value_variants().to_vec());
    }
    let mut list: Vec<T> = Vec::new();
    for name in text.split(',') {
        let name = name.trim();
        let value = T::from_str(name, true)
            .map_err(|_| format!("unknown {what} '{name}' (known: {}, or all)", names()))?;
        if list.contains(&value) {
            return Err(format!("'{name}' is given twice"));
        }
        list.push(value);
    }
    Ok(list)
}

const NOTHING_COUNTED: &str =
    "no request was counted: no record matched the filters, or the input is empty";

pub fn run(args: HitsArgs) -> CliResult {
    if args.trace_cache.cache.hdd_raid5.is_some() {
        return Err(
            "--hdd-raid5: hits counts a cache over one disk; the array's layout \
                    does not change which blocks hit (use replay for the array)"
                .into(),
        );
    }
    if args.cache_sizes.is_some() || args.modes.is_some() || args.policies.is_some() {
        return run_grid(args);
    }
    crate::unused_flags::refuse_given(
        &[
            ("--out", args.out.is_some()),
            ("--jobs", args.jobs.is_some()),
        ],
        "it belongs to a grid of configurations (--cache-sizes, --modes or --policies), and \
         this run counts one",
    )?;
    run_single(args)
}

fn run_single(args: HitsArgs) -> CliResult {
    let trace_cache = &args.trace_cache;
    let sets = crate::cache_args::parse_sets(&trace_cache.sets)?;
    let (mode, policy) = (trace_cache.mode(), trace_cache.policy());
    let setup = trace_cache.cache.resolve(mode, policy, &sets)?;
    warn_all(&setup.warnings);
    let devices = device_sizes(&setup)?;
    setup.check_simulated_fit(devices.ssd_sectors)?;
    let trace = TraceSource::File(trace_cache.trace.clone());
    let TraceHits {
        hits,
        skipped,
        auto_fit,
    } = count_trace(&setup, devices, &trace, &trace_cache.input.input())?;
    if hits.requests() == 0 {
        return Err(NOTHING_COUNTED.into());
    }
    let counters = counters(&hits)?;
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

/// Counts one cell over every request: its counters, or an error naming the cell.
fn count_cell(
    cell: &GridCell,
    devices: CacheDeviceSizes,
    requests: &[HitRequest],
) -> Result<MrcCell, String> {
    let (counted, counters) = count_requests(&cell.config, devices, requests)
        .map_err(|e| format!("{}: {e}", cell.name()))?;
    Ok(MrcCell::new(
        cell.mode.name(),
        cell.policy.name(),
        cell.size_bytes,
        counted,
        counters,
    ))
}

/// One configuration of a grid.
struct GridCell {
    mode: ModeArg,
    policy: PolicyArg,
    size_bytes: u64,
    config: FlashcacheConfig,
}

impl GridCell {
    fn name(&self) -> String {
        format!(
            "{}/{} at {}",
            self.mode.name(),
            self.policy.name(),
            binary_size(self.size_bytes)
        )
    }
}

fn run_grid(args: HitsArgs) -> CliResult {
    if let Some(dir) = &args.out {
        check_out_dir(dir)?;
    }
    let trace_cache = &args.trace_cache;
    let sets = crate::cache_args::parse_sets(&trace_cache.sets)?;
    let modes = args
        .modes
        .as_ref()
        .map_or_else(|| vec![trace_cache.mode()], |list| list.0.clone());
    let policies = args
        .policies
        .as_ref()
        .map_or_else(|| vec![trace_cache.policy()], |list| list.0.clone());
    // The devices, the volume and the default size are the same in every cell.
    let base = trace_cache.cache.resolve(modes[0], policies[0], &sets)?;
    let devices = device_sizes(&base)?;
    let ssd_bytes = devices.ssd_sectors.saturating_mul(512);
    let sizes = match &args.cache_sizes {
        Some(CacheSizes(sizes)) => sizes.clone(),
        None => match base.cache.table.cache_size_sectors {
            0 => vec![ssd_bytes],
            sectors => vec![sectors * 512],
        },
    };
    // Resolve and check every cell before reading the trace: a bad size fails fast, with
    // no output.
    let mut cells = Vec::new();
    let mut warnings = base.warnings.clone();
    for &mode in &modes {
        for &policy in &policies {
            for &size_bytes in &sizes {
                let flag = |why: String| {
                    if args.cache_sizes.is_some() {
                        format!("--cache-sizes: {}: {why}", binary_size(size_bytes))
                    } else {
                        why
                    }
                };
                if size_bytes > ssd_bytes {
                    return Err(flag(format!(
                        "larger than the SSD {} ({}); give sizes of at most its size",
                        base.ssd_name,
                        binary_size(ssd_bytes)
                    ))
                    .into());
                }
                let mut cache = trace_cache.cache.clone();
                cache.cache_size = Some(size_bytes);
                cache.cache_blocks = None;
                let setup = cache.resolve(mode, policy, &sets)?;
                setup
                    .check_simulated_fit(devices.ssd_sectors)
                    .map_err(flag)?;
                Geometry::for_new_cache(&setup.cache.table, &devices)
                    .map_err(|e| flag(format!("cannot build the cache: {e}")))?;
                warnings.extend(setup.warnings);
                cells.push(GridCell {
                    mode,
                    policy,
                    size_bytes,
                    config: setup.cache,
                });
            }
        }
    }
    warn_all(&warnings);

    let trace = TraceSource::File(trace_cache.trace.clone());
    let read = read_requests(
        &trace,
        &trace_cache.input.input(),
        base.cache.table.target_sectors,
    )?;
    if read.requests.is_empty() {
        return Err(NOTHING_COUNTED.into());
    }
    let jobs = args
        .jobs
        .map_or_else(crate::parallel::default_jobs, |jobs| jobs as usize);
    let progress = Progress::new(
        format!("hits {}", trace.report_name()),
        Some(cells.len() as u64),
        "cells",
        args.quiet,
    );
    let results = crate::parallel::run_in_order(&cells, jobs, progress, |cell| {
        count_cell(cell, devices, &read.requests)
    });
    let cells = results.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut notes = Vec::new();
    if let Some(fit) = read.auto_fit {
        notes.push(fit.note());
    }
    if !trace_cache.sets.is_empty() {
        notes.push(format!("--set {}", trace_cache.sets.join(" --set ")));
    }
    let table = &base.cache.table;
    let report = MrcReport {
        trace: trace.report_name(),
        records: read.records,
        skipped_records: read.skipped,
        sizes_bytes: sizes,
        modes: modes.iter().map(|m| m.name().to_string()).collect(),
        policies: policies.iter().map(|p| p.name().to_string()).collect(),
        assoc: trace_cache
            .cache
            .assoc
            .clone()
            .unwrap_or_else(|| "512".to_string()),
        block_size_bytes: u64::from(table.block_size_sectors) * 512,
        ssd: base.ssd_name.clone(),
        hdd: base.hdd_name.clone(),
        notes,
        cells,
        dmsim_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    report.validate("miss-ratio report")?;
    if let Some(dir) = &args.out {
        report.write(dir)?;
    }
    if args.json {
        out!("{}", report.to_json());
        return Ok(());
    }
    outln!("{}", report.description());
    out!("{}", report.to_markdown());
    for note in &report.notes {
        outln!("{note}");
    }
    if let Some(dir) = &args.out {
        outln!("report: {}", dir.join(INDEX_FILE_NAME).display());
    }
    Ok(())
}
