//! `dmsim bench replay`: speed and memory of the full timed simulation. Each case runs in its
//! own child process (`dmsim bench case …`, hidden) so its peak memory is its own. Reported
//! with a baseline measured in the same run: the linear target over the `ram` device, i.e.
//! the engine and simulator with no cache and near-free devices. Wall-clock time is measured
//! here only; it never reaches a simulation result.

use super::CliResult;
use crate::cache_args::{CacheArgs, ModeArg, PolicyArg};
use clap::{Args, Subcommand};
use dmsim_engine::{drive, DeviceId, DriveOptions, Engine, EngineConfig, TargetSpec};
use dmsim_models::presets;
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::device::SimDevice;
use dmsim_sim::platform::SimPlatform;
use dmsim_sim::streams::stream;
use dmsim_testbed::cache_run::{run_cache, CacheDevices};
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Replay speed (requests per wall-clock second) and peak memory of each cache mode on a
    /// hit-heavy synthetic workload, against a baseline in the same run.
    Replay(ReplayBenchArgs),
    /// One case, run by `bench replay` in a child process.
    #[command(hide = true)]
    Case(CaseArgs),
}

#[derive(Args)]
pub struct ReplayBenchArgs {
    /// Requests per case.
    #[arg(long, default_value_t = 1_000_000)]
    requests: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CaseArgs {
    /// `baseline` or a cache mode.
    case: String,
    #[arg(long)]
    requests: u64,
}

/// The hit-heavy workload: Zipf 0.99 over 256 MiB (inside a 512 MiB cache), 70 % reads,
/// 4 KiB, 32 in flight.
fn workload(requests: u64) -> WorkloadSpec {
    WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: 256 << 20,
        alignment_bytes: 4096,
        pattern: AccessPattern::Zipf {
            theta: 0.99,
            scatter: true,
        },
        read_percent: 70.0,
        request_size: SizeDistribution::Fixed { bytes: 4096 },
        arrival: Default::default(),
        requests: Some(requests),
        device: 0,
    }
}

pub fn run(command: BenchCommand) -> CliResult {
    match command {
        BenchCommand::Case(args) => case(&args),
        BenchCommand::Replay(args) => replay(&args),
    }
}

#[allow(clippy::disallowed_methods)] // wall clock: the quantity being measured
fn case(args: &CaseArgs) -> CliResult {
    let started = Instant::now();
    let allocations_at_start = crate::alloc_count::allocations();
    // (bios done, allocations) once half the requests are done: the steady state's start.
    let mut halfway: Option<(u64, u64)> = None;
    let spec = workload(args.requests);
    let generator = WorkloadGenerator::new(&spec, stream(1, "workload"))?;
    let (requests, read_hit_percent) = if args.case == "baseline" {
        let ram = presets::find("ram")?.build(Box::new(stream(1, "device.0")))?;
        let mut platform = SimPlatform::new(vec![SimDevice::new("ram", ram)]);
        let mut engine = Engine::new(
            EngineConfig::default(),
            platform.device_infos(),
            TargetSpec::Linear {
                device: DeviceId(0),
                offset_sectors: 0,
            },
        )?;
        let mut source = RecordSource::new(generator, Pacing::ClosedLoop { queue_depth: 32 });
        let report = drive(
            &mut engine,
            &mut platform,
            &mut source,
            &mut (),
            &DriveOptions::default(),
        )?;
        (report.bios_done, None)
    } else {
        let mode = <ModeArg as clap::ValueEnum>::from_str(&args.case, true)
            .map_err(|_| format!("unknown case '{}'", args.case))?;
        let cache = CacheArgs {
            cache_size: Some(512 << 20),
            ..CacheArgs::default()
        };
        let setup = cache.resolve(mode, PolicyArg::Lru, &[])?;
        let output = run_cache(
            &setup,
            CacheDevices::Sim,
            generator.map(Ok),
            Pacing::ClosedLoop { queue_depth: 32 },
            None,
            1,
            mode.name(),
            serde_json::Value::Null,
            &mut |progress| {
                if halfway.is_none() && progress.bios_done >= args.requests / 2 {
                    halfway = Some((progress.bios_done, crate::alloc_count::allocations()));
                }
            },
        )?;
        (output.report.requests, output.report.read_hit_percent())
    };
    let wall_s = started.elapsed().as_secs_f64();
    let allocations_at_end = crate::alloc_count::allocations();
    let per_request = |allocations: u64, requests: u64| allocations as f64 / requests.max(1) as f64;
    // The second half of a cache case: its cache is warm and its tables have grown.
    let steady = halfway.map(|(bios_done, allocations)| {
        per_request(
            allocations_at_end - allocations,
            requests.saturating_sub(bios_done),
        )
    });
    outln!(
        "{}",
        serde_json::json!({
            "case": args.case, "requests": requests, "wall_s": wall_s,
            "requests_per_s": requests as f64 / wall_s, "peak_rss_mib": peak_rss_mib(),
            "read_hit_percent": read_hit_percent,
            "allocations_per_request": per_request(allocations_at_end - allocations_at_start, requests),
            "steady_allocations_per_request": steady,
        })
    );
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MiB; 0 where /proc is not available.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn replay(args: &ReplayBenchArgs) -> CliResult {
    let exe = std::env::current_exe()?;
    let cases = [
        "baseline",
        "writeback",
        "writethrough",
        "writearound",
        "write-only",
    ];
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for case in cases {
        let out = std::process::Command::new(&exe)
            .args([
                "bench",
                "case",
                case,
                "--requests",
                &args.requests.to_string(),
            ])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "bench case {case} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        rows.push(serde_json::from_slice(&out.stdout)?);
    }
    let baseline = rows[0]["requests_per_s"].as_f64().unwrap_or(1.0);
    for row in &mut rows {
        let ratio = row["requests_per_s"].as_f64().unwrap_or(0.0) / baseline;
        row["ratio_to_baseline"] = ratio.into();
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    outln!(
        "replay speed, {} requests per case (Zipf 0.99 over 256 MiB, 70 % reads, 4 KiB, QD 32;",
        args.requests
    );
    outln!(
        "cache 512 MiB LRU on ssd-nvme over hdd-7200; baseline: linear target on the ram device;"
    );
    outln!("allocs/request: allocator calls per request, a cache case's second half)");
    outln!(
        "{:<14} {:>12} {:>10} {:>14} {:>10} {:>12} {:>14}",
        "case",
        "requests",
        "wall s",
        "requests/s",
        "vs base",
        "peak MiB",
        "allocs/request"
    );
    for r in &rows {
        // A cache case's steady state (its second half); the baseline's whole run.
        let allocations = r["steady_allocations_per_request"]
            .as_f64()
            .or(r["allocations_per_request"].as_f64())
            .unwrap_or(0.0);
        outln!(
            "{:<14} {:>12} {:>10.2} {:>14.0} {:>10.2} {:>12.1} {:>14.2}",
            r["case"].as_str().unwrap_or("?"),
            r["requests"].as_u64().unwrap_or(0),
            r["wall_s"].as_f64().unwrap_or(0.0),
            r["requests_per_s"].as_f64().unwrap_or(0.0),
            r["ratio_to_baseline"].as_f64().unwrap_or(0.0),
            r["peak_rss_mib"].as_f64().unwrap_or(0.0),
            allocations
        );
    }
    Ok(())
}
