//! `dmsim devices …`: list presets, probe one with a closed-loop microbenchmark.

use super::CliResult;
use crate::units::{parse_depths, parse_io_size};
use clap::{Subcommand, ValueEnum};
use dmsim_models::presets;
use dmsim_models::probe::{Pattern, ProbeResult, ProbeSpec};
use dmsim_sim::device::SimDevice;
use dmsim_sim::streams::stream;

#[derive(Subcommand)]
pub enum DevicesCommand {
    /// List the device presets with their sources.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Closed-loop microbenchmark of a simulated device: keeps QD requests in flight and
    /// reports IOPS, MB/s and latency percentiles per queue depth. Same seed, same output.
    Probe {
        /// Preset name (see `dmsim devices list`).
        preset: String,
        /// Access pattern.
        #[arg(long, value_enum, default_value_t = PatternArg::Randread)]
        pattern: PatternArg,
        /// Request size (bytes, or with k/m suffix).
        #[arg(long, default_value = "4k", value_parser = parse_io_size)]
        bs: u32,
        /// Queue depths to measure, comma-separated.
        #[arg(long, default_value = "1,4,32", value_parser = parse_depths)]
        qd: std::vec::Vec<u32>,
        /// Requests measured per queue depth (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 20_000)]
        requests: u64,
        /// Bytes of the device the probe addresses from its start (default: the whole
        /// device, at most 16 GiB).
        #[arg(long, value_parser = crate::units::parse_size)]
        span: Option<u64>,
        /// Probe a fresh device instead of one whose span was written first. By default the
        /// span is preconditioned (as MQSim does), so SSD reads find mapped data.
        #[arg(long)]
        no_precondition: bool,
        /// Override a model parameter, KEY=VALUE with a dotted key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Seed of the run's random streams.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print a JSON array (one object per queue depth) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Import a drive's DiskSim 4.0 parameters (DIR/NAME.diskspecs and the model it sources),
    /// replay its measured trace DIR/NAME.trace open loop, and compare simulated with measured
    /// service times: means and the RMS demerit of the two CDFs (ms).
    ValidateDisksim {
        /// Folder holding NAME.diskspecs, the .model it sources, and NAME.trace.
        dir: std::path::PathBuf,
        /// The drive's file name stem, e.g. hp_c2247a.
        name: String,
        /// Print JSON: {"drive","requests","mean_measured_ms","mean_sim_ms","rms_demerit_ms"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PatternArg {
    Randread,
    Randwrite,
    Seqread,
    Seqwrite,
}

impl PatternArg {
    fn pattern(self) -> Pattern {
        match self {
            PatternArg::Randread => Pattern::RandRead,
            PatternArg::Randwrite => Pattern::RandWrite,
            PatternArg::Seqread => Pattern::SeqRead,
            PatternArg::Seqwrite => Pattern::SeqWrite,
        }
    }
    fn name(self) -> &'static str {
        match self {
            PatternArg::Randread => "randread",
            PatternArg::Randwrite => "randwrite",
            PatternArg::Seqread => "seqread",
            PatternArg::Seqwrite => "seqwrite",
        }
    }
}

pub fn run(command: DevicesCommand) -> CliResult {
    match command {
        DevicesCommand::List { json } => list(json),
        DevicesCommand::Probe {
            preset,
            pattern,
            bs,
            qd,
            requests,
            span,
            no_precondition,
            sets,
            seed,
            json,
        } => probe(
            &preset,
            &ProbeOptions {
                pattern,
                bs,
                requests,
                span,
                precondition: !no_precondition,
                seed,
            },
            &qd,
            &sets,
            json,
        ),
        DevicesCommand::ValidateDisksim { dir, name, json } => validate_disksim(&dir, &name, json),
    }
}

fn validate_disksim(dir: &std::path::Path, name: &str, json: bool) -> CliResult {
    let report = dmsim_models::disksim::validate(dir, name)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let error_pct =
        (report.mean_sim_ms - report.mean_measured_ms) / report.mean_measured_ms * 100.0;
    outln!(
        "drive {}: {} requests replayed one at a time",
        report.drive,
        report.requests
    );
    outln!(
        "  mean service time  measured {:.3} ms  simulated {:.3} ms  ({:+.2} %)",
        report.mean_measured_ms,
        report.mean_sim_ms,
        error_pct
    );
    outln!(
        "  RMS demerit of the service-time CDFs: {:.3} ms",
        report.rms_demerit_ms
    );
    if report.unmodelled.is_empty() {
        outln!("  every parameter of the drive is modelled");
    } else {
        outln!("  parameters not modelled ({}):", report.unmodelled.len());
        for p in &report.unmodelled {
            outln!(
                "    {} = {} ({}, {}): {}",
                p.name,
                p.value,
                p.block,
                p.location,
                p.reason
            );
        }
    }
    Ok(())
}

fn list(json: bool) -> CliResult {
    let all = presets::all();
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|(info, params)| {
                serde_json::json!({
                    "name": info.name, "kind": params.kind(),
                    "summary": info.summary, "source": info.source,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let width = all.iter().map(|(i, _)| i.name.len()).max().unwrap_or(0);
    for (info, params) in &all {
        outln!(
            "{:width$}  {:3}  {}",
            info.name,
            params.kind(),
            info.summary
        );
        outln!("{:width$}       source: {}", "", info.source);
    }
    Ok(())
}

/// Parse `KEY=VALUE` overrides and apply them to a preset's parameters.
pub fn apply_sets(params: &mut presets::DeviceParams, sets: &[String]) -> CliResult {
    for set in sets {
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| format!("--set '{set}': expected KEY=VALUE"))?;
        params
            .set(key.trim(), value.trim())
            .map_err(|e| format!("--set '{set}': {e}"))?;
    }
    Ok(())
}

/// What one `devices probe` measures at every queue depth.
struct ProbeOptions {
    pattern: PatternArg,
    bs: u32,
    requests: u64,
    span: Option<u64>,
    precondition: bool,
    seed: u64,
}

/// A size with its binary unit, e.g. `16.0 GiB`.
fn binary_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    match UNITS.iter().find(|(_, size)| bytes >= *size) {
        Some((unit, size)) => format!("{:.1} {unit}", bytes as f64 / *size as f64),
        None => format!("{bytes} B"),
    }
}

/// Default probe span: the whole device, at most 16 GiB (keeps preconditioning cheap).
const PROBE_SPAN_BYTES_MAX: u64 = 16 << 30;

fn probe(
    preset: &str,
    options: &ProbeOptions,
    depths: &[u32],
    sets: &[String],
    json: bool,
) -> CliResult {
    let ProbeOptions {
        pattern,
        bs,
        requests,
        span,
        precondition,
        seed,
    } = *options;
    if requests == 0 {
        return Err("--requests must be at least 1".into());
    }
    let mut params = presets::find(preset)?;
    apply_sets(&mut params, sets)?;
    let mut results: Vec<ProbeResult> = Vec::new();
    let mut span_used_bytes = 0;
    let mut capacity_bytes = 0;
    for &qd in depths {
        // A fresh device per depth: each figure is independent of the order of depths.
        let model = params.build(Box::new(stream(seed, "device")))?;
        let mut device = SimDevice::new(preset, model);
        capacity_bytes = device.capacity_sectors() * 512;
        let span_bytes = span.unwrap_or(capacity_bytes.min(PROBE_SPAN_BYTES_MAX));
        span_used_bytes = span_bytes;
        if span_bytes > capacity_bytes || span_bytes < u64::from(bs) {
            return Err(format!(
                "--span {span_bytes} must lie between the request size and the device size ({capacity_bytes} bytes)"
            )
            .into());
        }
        if precondition {
            device.precondition(span_bytes / 512);
        }
        let spec = ProbeSpec {
            pattern: pattern.pattern(),
            block_bytes: bs,
            queue_depth: qd,
            warmup_requests: (requests / 10).max(u64::from(qd)),
            measured_requests: requests,
            span_sectors: Some(span_bytes / 512),
        };
        let mut rng = stream(seed, "probe.addresses");
        results.push(dmsim_sim::probe::run(&mut device, &spec, &mut rng, 0));
    }
    if json {
        // Each row says the span it measured: the default depends on the device's size.
        let mut rows = serde_json::to_value(&results)?;
        for row in rows.as_array_mut().into_iter().flatten() {
            row["span_bytes"] = span_used_bytes.into();
        }
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let span_text = if span.is_some() {
        format!(
            "span {span_used_bytes} B ({})",
            binary_size(span_used_bytes)
        )
    } else if span_used_bytes < capacity_bytes {
        format!(
            "span {span_used_bytes} B ({}; default: the first {} of the {} device, --span to change)",
            binary_size(span_used_bytes),
            binary_size(PROBE_SPAN_BYTES_MAX),
            binary_size(capacity_bytes)
        )
    } else {
        format!(
            "span {span_used_bytes} B ({}; default: the whole device)",
            binary_size(span_used_bytes)
        )
    };
    outln!(
        "{preset}: {} {} B, {span_text}, {requests} requests per depth, seed {seed}{}",
        pattern.name(),
        bs,
        if precondition {
            ", span preconditioned"
        } else {
            ""
        }
    );
    outln!(
        "{:>5} {:>12} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "qd",
        "IOPS",
        "MB/s",
        "mean µs",
        "p50 µs",
        "p99 µs",
        "p99.9 µs"
    );
    for r in &results {
        outln!(
            "{:>5} {:>12.1} {:>10.2} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            r.qd,
            r.iops,
            r.mbps,
            r.lat_mean_us,
            r.lat_p50_us,
            r.lat_p99_us,
            r.lat_p999_us
        );
    }
    Ok(())
}
