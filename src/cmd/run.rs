//! `dmsim run`: drive a target with a generated workload, every read verified, on simulated
//! devices (default) or, with `--real`, on a real block device.

use super::CliResult;
use crate::cache_args::{parse_sets, CacheArgs, ModeArg, PolicyArg};
use crate::cache_run::run_cache;
use crate::cmd::replay::{run_config, ExistingCacheArg, RealCacheArgs, PERTURB_TIES_IS_SIM_ONLY};
use crate::outcome::{
    check_out_dir, check_real_refusals, check_sim_violations, deadlock, emit, warn_all,
};
use crate::progress::Progress;
use crate::units::{parse_duration_ns, parse_io_size};
use crate::verifier::{real_run_write_id_base, Verifier};
use clap::{Args, ValueEnum};
use dmsim_engine::{
    drive, DeviceId, DriveError, DriveOptions, DriveOutcome, DriveReport, Engine, EngineConfig,
    Platform, TargetSpec,
};
use dmsim_models::presets;
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::device::SimDevice;
use dmsim_sim::platform::{SimOptions, SimPlatform};
use dmsim_sim::streams::stream;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// The device-mapper target to run.
    #[arg(long, value_enum, default_value_t = TargetArg::Linear)]
    target: TargetArg,
    /// Cache and device flags: linear uses --hdd (its one simulated device, default
    /// hdd-7200); flashcache uses all of them.
    #[command(flatten)]
    cache: CacheArgs,
    /// flashcache's mode [default: writeback].
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// flashcache's replacement policy [default: fifo].
    #[arg(long, value_enum)]
    policy: Option<PolicyArg>,
    /// Run on real block devices or files instead of simulated ones (linear: --dev;
    /// flashcache: --ssd-dev and --hdd-dev).
    #[arg(long)]
    real: bool,
    /// The linear target's one device: a simulated preset (`dmsim devices list`; the same as
    /// --hdd), or with --real the path of a real device or file.
    #[arg(long, value_name = "PRESET|PATH")]
    dev: Option<PathBuf>,
    /// The real cache device of the flashcache target (with --real).
    #[arg(long, value_name = "PATH", requires = "real")]
    ssd_dev: Option<PathBuf>,
    /// The real disk of the flashcache target (with --real).
    #[arg(long, value_name = "PATH", requires = "real")]
    hdd_dev: Option<PathBuf>,
    /// flashcache with --real, when the SSD already holds a cache: load it or overwrite it
    /// (default: refuse, as flashcache_create does).
    #[arg(long, value_enum, requires = "real")]
    existing_cache: Option<ExistingCacheArg>,
    /// Allow writes to the real device(s). linear writes only within --span; flashcache writes
    /// its metadata and cache anywhere on the SSD and cleans to anywhere on the disk the
    /// workload touched: treat both devices' contents as destroyed.
    #[arg(long, requires = "real")]
    allow_write: bool,
    /// Generated workload.
    #[arg(long, value_enum, default_value_t = WorkloadArg::Randrw)]
    workload: WorkloadArg,
    /// Request size (bytes, or with k/m suffix).
    #[arg(long, default_value = "4k", value_parser = parse_io_size)]
    bs: u32,
    /// Requests kept in flight (closed loop) [default: 32, as for replay and compare: a
    /// cache is measured under an SSD's usual depth; --qd 1 for single-request latency].
    #[arg(long, default_value_t = crate::cmd::replay::DEFAULT_QUEUE_DEPTH, value_parser = clap::value_parser!(u32).range(1..=4096))]
    qd: u32,
    /// Stop after this many requests.
    #[arg(long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Stop issuing after this much (virtual, or real with --real) time, e.g. 10s, 500ms.
    #[arg(long, value_parser = parse_duration_ns)]
    duration: Option<u64>,
    /// Bytes of the device the workload addresses, from its start (default: all of it).
    #[arg(long, value_parser = crate::units::parse_size)]
    span: Option<u64>,
    /// Override a device parameter, KEY=VALUE with a dotted key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Seed of the run's random streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write DIR/summary.json.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Show no progress on stderr: neither the bar on a terminal nor, when stderr is not a
    /// terminal, the status line written every few seconds once a run has taken ten.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TargetArg {
    /// dm-linear: the volume is the device.
    Linear,
    /// flashcache: an SSD cache over a disk (specs/flashcache.md).
    Flashcache,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum WorkloadArg {
    Randread,
    Randwrite,
    Randrw,
    Seqread,
    Seqwrite,
}

impl WorkloadArg {
    fn name(self) -> &'static str {
        match self {
            WorkloadArg::Randread => "randread",
            WorkloadArg::Randwrite => "randwrite",
            WorkloadArg::Randrw => "randrw",
            WorkloadArg::Seqread => "seqread",
            WorkloadArg::Seqwrite => "seqwrite",
        }
    }

    /// The generator spec for this workload over `span_bytes` with `bs`-byte requests.
    pub fn spec(self, span_bytes: u64, bs: u32, requests: Option<u64>) -> WorkloadSpec {
        let (pattern, read_percent) = match self {
            WorkloadArg::Randread => (AccessPattern::Uniform, 100.0),
            WorkloadArg::Randwrite => (AccessPattern::Uniform, 0.0),
            WorkloadArg::Randrw => (AccessPattern::Uniform, 50.0),
            WorkloadArg::Seqread => (AccessPattern::Sequential { streams: 1 }, 100.0),
            WorkloadArg::Seqwrite => (AccessPattern::Sequential { streams: 1 }, 0.0),
        };
        WorkloadSpec {
            span_start_bytes: 0,
            span_bytes,
            alignment_bytes: u64::from(bs),
            pattern,
            read_percent,
            request_size: SizeDistribution::Fixed {
                bytes: u64::from(bs),
            },
            arrival: Default::default(),
            requests,
            device: 0,
        }
    }
}

/// Arena pages for `qd` requests of `bs` bytes in flight, with room for the engine's own.
pub fn arena_pages_for(qd: u32, bs: u32) -> Result<u32, String> {
    let per_request = u64::from(bs.div_ceil(4096)) + 1;
    let pages = (u64::from(qd) * per_request * 2).max(4096);
    // 4 Mi pages = 16 GiB of buffers: beyond that the request is a mistake, not a workload.
    u32::try_from(pages)
        .ok()
        .filter(|&p| p <= 4 << 20)
        .ok_or_else(|| {
            format!("--qd {qd} × --bs {bs} needs {pages} buffer pages; use a smaller depth or size")
        })
}

impl WorkloadArg {
    fn writes(self) -> bool {
        matches!(
            self,
            WorkloadArg::Randwrite | WorkloadArg::Randrw | WorkloadArg::Seqwrite
        )
    }
}

pub fn run(args: RunArgs) -> CliResult {
    if let Some(dir) = &args.out {
        check_out_dir(dir)?;
    }
    if args.requests.is_none() && args.duration.is_none() {
        return Err(
            "say how long to run: --requests N or --duration D (e.g. --requests 10000)".into(),
        );
    }
    refuse_unused_flags(&args)?;
    if (!args.cache.raid5_fail.is_empty() || !args.cache.raid5_spare.is_empty())
        && args.cache.hdd_raid5.is_none()
    {
        return Err(
            "--raid5-fail and --raid5-spare change an --hdd-raid5 array; give --hdd-raid5 \
                    NxPRESET too"
                .into(),
        );
    }
    if let TargetArg::Flashcache = args.target {
        return run_flashcache(&args);
    }
    let engine_config = EngineConfig {
        arena_pages: arena_pages_for(args.qd, args.bs)?,
        ..EngineConfig::default()
    };
    let linear = TargetSpec::Linear {
        device: DeviceId(0),
        offset_sectors: 0,
    };
    let mut progress = Progress::new(
        format!("run linear/{}", args.workload.name()),
        args.requests,
        "requests",
        args.quiet,
    );
    let mut stats = BTreeMap::new();
    // The array's failures and end state (`--hdd-raid5`), for `config.raid5`.
    let mut raid5_config: Option<serde_json::Value> = None;
    let mut notes = Vec::new();
    if args.real && args.cache.perturb_ties.is_some() {
        return Err(PERTURB_TIES_IS_SIM_ONLY.into());
    }
    if args.real && args.cache.hdd_raid5.is_some() {
        return Err("--hdd-raid5 runs on simulated members only (no --real yet)".into());
    }
    let (device_name, platform_name, drive_report, verifier, workload) = if let Some(raid_text) =
        &args.cache.hdd_raid5
    {
        let (members, preset) = crate::cache_args::parse_hdd_raid5(raid_text)?;
        let fails = crate::raid5_fail::parse_flags(
            &args.cache.raid5_fail,
            &args.cache.raid5_spare,
            members,
        )?;
        let spares = crate::raid5_fail::spare_count(&fails);
        let mut params = presets::find(&preset).map_err(|e| format!("--hdd-raid5: {e}"))?;
        // `raid5.…` settings are md tunables of the array; the others the members' model.
        let (raid_sets, device_sets): (Vec<String>, Vec<String>) = args
            .sets
            .iter()
            .cloned()
            .partition(|set| set.trim_start().starts_with("raid5."));
        super::devices::apply_sets(&mut params, &device_sets)?;
        let chunk_bytes = args.cache.chunk.unwrap_or(512 << 10);
        let mut config = dmsim_engine::raid5::Raid5Config::new(chunk_bytes / 512);
        for set in &raid_sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| format!("--set '{set}': expected KEY=VALUE"))?;
            let key = key.trim().trim_start_matches("raid5.");
            crate::cache_args::patch(&mut config, key, value.trim())
                .map_err(|e| format!("--set '{set}': {e}"))?;
        }
        if !chunk_bytes.is_power_of_two() || chunk_bytes < 4096 {
            return Err(format!(
                "--chunk {chunk_bytes}: a raid5 chunk is a power of two of at least 4k"
            )
            .into());
        }
        let mut devices = Vec::with_capacity(members);
        let mut names = Vec::with_capacity(members);
        for member in 0..members {
            let model = params.build(Box::new(stream(args.seed, &format!("device.{member}"))))?;
            names.push(format!("{preset}.{member}"));
            devices.push(SimDevice::new(format!("{preset}.{member}"), model));
        }
        // Spares are the devices after the members, of the same preset.
        for spare in 0..spares {
            let name = format!("{preset}.spare{spare}");
            let model = params.build(Box::new(stream(args.seed, &format!("device.{name}"))))?;
            devices.push(SimDevice::new(name.clone(), model));
            names.push(name);
        }
        let options = SimOptions {
            perturb_ties_seed: args.cache.perturb_ties,
        };
        let mut platform = SimPlatform::with_options(devices, options);
        // Linear over the array, which is the device after the members and spares.
        let array = DeviceId((members + spares) as u16);
        let spec = TargetSpec::Stack {
            lower: vec![TargetSpec::Raid5 {
                members: (0..members).map(|m| DeviceId(m as u16)).collect(),
                config: config.clone(),
                spares: (members..members + spares)
                    .map(|d| DeviceId(d as u16))
                    .collect(),
            }],
            upper: Box::new(TargetSpec::Linear {
                device: array,
                offset_sectors: 0,
            }),
        };
        let engine_config = EngineConfig {
            arena_pages: engine_config
                .arena_pages
                .saturating_add(config.stripe_cache_size * members as u32),
            ..engine_config
        };
        let mut engine = Engine::new(engine_config, platform.device_infos(), spec)
            .map_err(|e| format!("--hdd-raid5 {raid_text}: {e}"))?;
        let capacity_bytes = engine.volume_sectors() * 512;
        let span_bytes = args.span.unwrap_or(capacity_bytes);
        check_span(span_bytes, capacity_bytes, args.bs)?;
        let (mut source, workload) = workload_source(&args, span_bytes)?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut verifier = Verifier::new(&names, true);
        let mut fails = crate::raid5_fail::FailSchedule::new(array, &fails)
            .with_spin_guard(args.requests.is_none());
        let start_ns = platform.now_ns();
        let report = drive_in_slices(start_ns, &mut progress, |options| {
            let report = fails.drive(
                &mut engine,
                &mut platform,
                &mut source,
                &mut verifier,
                options.time_limit_ns,
            )?;
            Ok::<_, String>((report, verifier.bios_done()))
        })?;
        check_sim_violations(&platform)?;
        for note in fails.missed_notes(report.end_ns) {
            notes.push(note);
        }
        for (device, status) in engine.stacked_status() {
            raid5_config = Some(fails.end_status(&status));
            stats.extend(
                status
                    .counters
                    .iter()
                    .chain(&status.gauges)
                    .map(|(name, value)| (format!("{}.{name}", status.kind), *value)),
            );
            notes.push(format!("{device}: {}", status.text));
        }
        (
            format!("raid5 {raid_text}"),
            "sim",
            report,
            verifier,
            workload,
        )
    } else if args.real {
        let path = args
            .dev
            .clone()
            .ok_or("--real --target linear needs --dev PATH")?;
        if args.workload.writes() && !args.allow_write {
            return Err(format!(
                "the {} workload writes to {}; pass --allow-write to let dmsim overwrite it (within --span)",
                args.workload.name(),
                path.display()
            )
            .into());
        }
        let range = args.span.map(|bytes| (0, bytes / 512));
        let device = RealDevice::open(
            &path,
            OpenOptions {
                allow_write: args.allow_write,
                range,
            },
        )?;
        let span_bytes = device.info().capacity_sectors * 512;
        check_span(span_bytes, span_bytes, args.bs)?;
        let mut rig = RealRig::build(
            engine_config,
            linear,
            vec![device],
            PlatformOptions::default(),
        )?;
        let (source, workload) = workload_source(&args, span_bytes)?;
        let mut source = source.with_write_id_base(real_run_write_id_base());
        // A real device held data before the run: never-written sectors may hold anything.
        let name = path.display().to_string();
        let mut verifier =
            Verifier::new(&[name.as_str()], false).with_volume_device(DeviceId(0), 0);
        let start_ns = rig.platform_mut().now_ns();
        let report = drive_in_slices(start_ns, &mut progress, |options| {
            let report = rig.drive(&mut source, &mut verifier, options)?;
            Ok::<_, DriveError>((report, verifier.bios_done()))
        })?;
        check_real_refusals(rig.platform_mut())?;
        (name, "real", report, verifier, workload)
    } else {
        let preset = args
            .dev
            .as_ref()
            .map(|dev| dev.display().to_string())
            .or_else(|| args.cache.hdd.clone())
            .unwrap_or_else(|| "hdd-7200".to_string());
        let mut params = presets::find(&preset)?;
        super::devices::apply_sets(&mut params, &args.sets)?;
        let model = params.build(Box::new(stream(args.seed, "device.0")))?;
        let device = SimDevice::new(preset.clone(), model);
        let capacity_bytes = device.capacity_sectors() * 512;
        let span_bytes = args.span.unwrap_or(capacity_bytes);
        check_span(span_bytes, capacity_bytes, args.bs)?;
        let options = SimOptions {
            perturb_ties_seed: args.cache.perturb_ties,
        };
        let mut platform = SimPlatform::with_options(vec![device], options);
        let mut engine = Engine::new(engine_config, platform.device_infos(), linear)?;
        let (mut source, workload) = workload_source(&args, span_bytes)?;
        let mut verifier =
            Verifier::new(&[preset.as_str()], true).with_volume_device(DeviceId(0), 0);
        let start_ns = platform.now_ns();
        let report = drive_in_slices(start_ns, &mut progress, |options| {
            let report = drive(
                &mut engine,
                &mut platform,
                &mut source,
                &mut verifier,
                options,
            )?;
            Ok::<_, DriveError>((report, verifier.bios_done()))
        })?;
        check_sim_violations(&platform)?;
        (preset, "sim", report, verifier, workload)
    };
    progress.finish();
    if let DriveOutcome::Stalled { waiting } = &drive_report.outcome {
        return Err(deadlock(drive_report.end_ns, waiting).into());
    }
    let first_error = verifier.first_data_error();
    let failed_bios = verifier.failed_bios();
    let mut config = serde_json::json!({
        "target": "linear", "device": device_name, "trace": format!("workload:{}", args.workload.name()),
        "workload": workload.to_string(),
        "bs": args.bs, "qd": args.qd, "seed": args.seed, "platform": platform_name,
        "dmsim_version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(seed) = args.cache.perturb_ties {
        config["perturb_ties_seed"] = seed.into();
    }
    if let Some(raid5) = raid5_config {
        config["raid5"] = raid5;
    }
    let summary = verifier.finish(
        &format!("linear/{}", args.workload.name()),
        config,
        stats,
        drive_report.end_ns,
    );
    notes.insert(0, format!("failed bios {failed_bios}"));
    emit(&summary, &notes, args.out.as_deref(), args.json)?;
    if let Some(e) = first_error {
        return Err(format!(
            "data verification failed: {} bad read(s); first: {e}",
            summary.data_errors
        )
        .into());
    }
    if failed_bios > 0 {
        return Err(format!("{failed_bios} bio(s) failed").into());
    }
    Ok(())
}

/// Cache flags with the linear target, the other target's device flags, and simulated-device
/// presets with --real do nothing: refuse them, saying why.
fn refuse_unused_flags(args: &RunArgs) -> Result<(), String> {
    let cache = &args.cache;
    match args.target {
        TargetArg::Linear => {
            crate::unused_flags::refuse_given(
                &[
                    ("--ssd", cache.ssd.is_some()),
                    ("--block-size", cache.block_size.is_some()),
                    ("--cache-size", cache.cache_size.is_some()),
                    ("--cache-blocks", cache.cache_blocks.is_some()),
                    ("--assoc", cache.assoc.is_some()),
                    ("--mode", args.mode.is_some()),
                    ("--policy", args.policy.is_some()),
                    ("--existing-cache", args.existing_cache.is_some()),
                    ("--ssd-dev", args.ssd_dev.is_some()),
                    ("--hdd-dev", args.hdd_dev.is_some()),
                ],
                "the linear target has no cache (use --target flashcache; linear's one \
                 device is --hdd, or --dev with --real)",
            )?;
            if args.real {
                crate::unused_flags::refuse_given(
                    &[("--hdd", cache.hdd.is_some())],
                    "it names a simulated device preset, and with --real the device is --dev",
                )?;
            }
            check_linear_dev(args)?;
        }
        TargetArg::Flashcache => {
            crate::unused_flags::refuse_given(
                &[("--dev", args.dev.is_some())],
                "it is the linear target's device; flashcache's real devices are --ssd-dev \
                 and --hdd-dev",
            )?;
            if args.real {
                crate::unused_flags::refuse_given(
                    &[
                        ("--ssd", cache.ssd.is_some()),
                        ("--hdd", cache.hdd.is_some()),
                    ],
                    "it names a simulated device preset, and with --real the devices are \
                     --ssd-dev and --hdd-dev",
                )?;
            }
        }
    }
    Ok(())
}

/// `--dev`: a preset name in simulation, a path with --real; a value that reads as the other
/// kind is refused, saying which flag is missing or extra.
fn check_linear_dev(args: &RunArgs) -> Result<(), String> {
    let Some(dev) = &args.dev else {
        return Ok(());
    };
    let text = dev.display().to_string();
    let is_preset = presets::find(&text).is_ok();
    if args.real {
        if is_preset && !dev.exists() {
            return Err(format!(
                "--dev {text} is a simulated device preset; with --real, --dev is the path of a \
                 real device or file (or drop --real to simulate {text})"
            ));
        }
        return Ok(());
    }
    if args.cache.hdd.is_some() || args.cache.hdd_raid5.is_some() {
        return Err(
            "--dev and --hdd/--hdd-raid5 both name the linear target's device; give one"
                .to_string(),
        );
    }
    if !is_preset && (text.contains('/') || dev.exists()) {
        return Err(format!(
            "--dev {text} is a path: add --real to run on it (and --allow-write to let dmsim \
             write to it); in simulation --dev takes a device preset (dmsim devices list)"
        ));
    }
    presets::find(&text)
        .map(|_| ())
        .map_err(|e| format!("--dev: {e}"))
}

/// Virtual time between two progress updates of a linear run.
const PROGRESS_SLICE_NS: u64 = 10_000_000;

/// Drives a run in slices of virtual time, showing progress between them; `slice` drives
/// until the time it is given and returns its report with the bios done so far. Stopping at a
/// time limit and going on is exact (the engine's state is all in its inputs), so the slices
/// change no result.
fn drive_in_slices<E>(
    start_ns: u64,
    progress: &mut Progress,
    mut slice: impl FnMut(&DriveOptions) -> Result<(DriveReport, u64), E>,
) -> Result<DriveReport, E> {
    let mut limit_ns = start_ns + PROGRESS_SLICE_NS;
    loop {
        let options = DriveOptions {
            time_limit_ns: Some(limit_ns),
            ..DriveOptions::default()
        };
        let (report, bios_done) = slice(&options)?;
        progress.update(bios_done);
        match report.outcome {
            DriveOutcome::TimeLimit => {
                limit_ns = report.end_ns.max(limit_ns) + PROGRESS_SLICE_NS;
            }
            _ => return Ok(report),
        }
    }
}

/// `run --target flashcache`: the generated workload through the flashcache target, on
/// simulated devices or (with --real) two real ones.
fn run_flashcache(args: &RunArgs) -> CliResult {
    let sets = parse_sets(&args.sets)?;
    let mode = args.mode.unwrap_or(ModeArg::Writeback);
    let policy = args.policy.unwrap_or(PolicyArg::Fifo);
    let mut setup = args.cache.resolve(mode, policy, &sets)?;
    if let Some(raid) = setup.raid5.as_mut() {
        // An endless workload over a failed array would spin at one instant.
        raid.spin_guard = args.requests.is_none();
    }
    warn_all(&setup.warnings);
    let real = RealCacheArgs {
        real: args.real,
        ssd_dev: args.ssd_dev.clone(),
        hdd_dev: args.hdd_dev.clone(),
        allow_write: args.allow_write,
        existing_cache: args.existing_cache,
    };
    let cache_size_given = args.cache.cache_size.is_some() || args.cache.cache_blocks.is_some();
    let devices = real.devices(&mut setup, cache_size_given)?;
    let volume_bytes = setup.cache.table.target_sectors * 512;
    let span_bytes = args.span.unwrap_or(volume_bytes);
    check_span(span_bytes, volume_bytes, args.bs)?;
    let spec = args.workload.spec(span_bytes, args.bs, args.requests);
    let generator = WorkloadGenerator::new(&spec, stream(args.seed, "workload"))?;
    let label = format!("{}/{}/{}", mode.name(), policy.name(), args.workload.name());
    let mut config = run_config(
        &format!("workload:{}", args.workload.name()),
        mode,
        policy,
        &setup,
        serde_json::json!({"qd": args.qd}),
        args.seed,
    );
    config["target"] = "flashcache".into();
    config["workload"] = spec.to_string().into();
    config["platform"] = if args.real { "real" } else { "sim" }.into();
    config["bs"] = args.bs.into();
    let mut progress = Progress::new(
        format!("run {label}"),
        args.requests,
        "requests",
        args.quiet,
    );
    let output = run_cache(
        &setup,
        devices,
        generator,
        Pacing::ClosedLoop {
            queue_depth: args.qd,
        },
        args.duration,
        args.seed,
        &label,
        config,
        &mut |n| progress.update(n),
    );
    progress.finish();
    let output = output?;
    emit(
        &output.report,
        &[output.status_text],
        args.out.as_deref(),
        args.json,
    )?;
    Ok(())
}

fn check_span(span_bytes: u64, capacity_bytes: u64, bs: u32) -> CliResult {
    if span_bytes > capacity_bytes || span_bytes < u64::from(bs) {
        return Err(format!(
            "--span {span_bytes} must lie between the request size and the device size ({capacity_bytes} bytes)"
        )
        .into());
    }
    Ok(())
}

/// A generated workload's records, as the drive loop takes them.
type WorkloadRecords = RecordSource<WorkloadGenerator<rand_chacha::ChaCha8Rng>>;

/// The generated records of `args`'s workload over `span_bytes`, and the spec they follow.
fn workload_source(
    args: &RunArgs,
    span_bytes: u64,
) -> Result<(WorkloadRecords, WorkloadSpec), Box<dyn std::error::Error>> {
    let spec = args.workload.spec(span_bytes, args.bs, args.requests);
    let generator = WorkloadGenerator::new(&spec, stream(args.seed, "workload"))?;
    let mut source = RecordSource::new(
        generator,
        Pacing::ClosedLoop {
            queue_depth: args.qd,
        },
    );
    if let Some(duration) = args.duration {
        source = source.stop_at(duration);
    }
    Ok((source, spec))
}
