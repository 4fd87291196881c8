//! `dmsim run`: drive a target with a generated workload, every read verified, on simulated
//! devices (default) or, with `--real`, on a real block device.

use super::CliResult;
use crate::cache_args::{parse_sets, CacheArgs, ModeArg, PolicyArg};
use crate::cmd::replay::{ExistingCacheArg, RealCacheArgs, PERTURB_TIES_IS_SIM_ONLY};
use crate::outcome::{check_out_dir, emit, warn_all};
use crate::progress::Progress;
use crate::units::{parse_duration_ns, parse_io_size};
use clap::{Args, ValueEnum};
use dmsim_models::presets;
use dmsim_testbed::cache_run::CacheDevices;
use dmsim_testbed::linear_run::{run_linear, LinearDevice, LinearRunOutput};
use dmsim_testbed::report_config::{Platform, RunDescription};
use dmsim_testbed::setup::VolumeTarget;
use dmsim_testbed::spec::{RecordsSpec, SpecFile, TraceRef};
use dmsim_testbed::workload::{check_span, GeneratedWorkload, WorkloadKind};
use dmsim_testbed::{PacingSpec, RunSpec, Testbed};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// Rerun a resolved run spec: a JSON file, or the summary.json of a run (its `spec`
    /// field). Only --out, --json and --quiet go with it: the spec says everything else.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "target", "mode", "policy", "real", "dev", "ssd_dev", "hdd_dev", "existing_cache",
        "allow_write", "raid_dev", "raid_spare_dev", "assume_clean", "workload", "bs", "qd", "requests", "duration", "span", "sets", "seed",
        "ssd", "hdd", "hdd_raid5", "chunk", "raid5_fail", "raid5_spare", "block_size",
        "cache_size", "cache_blocks", "assoc", "perturb_ties",
    ])]
    spec: Option<PathBuf>,
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
    /// With --real: the disk (flashcache) or the device (linear) is an md raid5 array of
    /// these real devices or files, in role order, comma-separated: `--raid-dev
    /// /dev/loop1,/dev/loop2,/dev/loop3,/dev/loop4` (3 to 16 of one size; --chunk,
    /// --raid5-fail and `--set raid5.…` apply as with --hdd-raid5). With --span, each member
    /// is used only within the rows of chunks the span needs. The array is resynced before
    /// the workload (as mdadm --create does) unless --assume-clean.
    #[arg(long, value_name = "A,B,C,...", value_delimiter = ',', requires = "real", conflicts_with_all = ["hdd_dev", "dev"])]
    raid_dev: Vec<PathBuf>,
    /// With --raid-dev: spare devices or files of the members' size, comma-separated; each
    /// --raid5-spare WHEN adds the next (mdadm --add): it replaces a failed member and is
    /// rebuilt while IO runs.
    #[arg(
        long,
        value_name = "E,...",
        value_delimiter = ',',
        requires = "raid_dev"
    )]
    raid_spare_dev: Vec<PathBuf>,
    /// With --raid-dev: trust the members' parity and skip the initial resync (mdadm
    /// --assume-clean), e.g. for members known to be all zeros.
    #[arg(long, requires = "raid_dev")]
    assume_clean: bool,
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

impl From<WorkloadArg> for WorkloadKind {
    fn from(workload: WorkloadArg) -> WorkloadKind {
        match workload {
            WorkloadArg::Randread => WorkloadKind::Randread,
            WorkloadArg::Randwrite => WorkloadKind::Randwrite,
            WorkloadArg::Randrw => WorkloadKind::Randrw,
            WorkloadArg::Seqread => WorkloadKind::Seqread,
            WorkloadArg::Seqwrite => WorkloadKind::Seqwrite,
        }
    }
}

impl RunArgs {
    /// The generated workload these flags describe.
    fn workload(&self) -> GeneratedWorkload {
        GeneratedWorkload {
            kind: self.workload.into(),
            bs: self.bs,
            qd: self.qd,
            requests: self.requests,
            duration_ns: self.duration,
            span_bytes: self.span,
            seed: self.seed,
        }
    }
}

pub fn run(args: RunArgs) -> CliResult {
    if let Some(dir) = &args.out {
        check_out_dir(dir)?;
    }
    if let Some(file) = &args.spec {
        return run_spec_file(file, &args);
    }
    if args.requests.is_none() && args.duration.is_none() {
        return Err(
            "say how long to run: --requests N or --duration D (e.g. --requests 10000)".into(),
        );
    }
    refuse_unused_flags(&args)?;
    if (!args.cache.raid5_fail.is_empty() || !args.cache.raid5_spare.is_empty())
        && args.cache.hdd_raid5.is_none()
        && args.raid_dev.is_empty()
    {
        return Err(
            "--raid5-fail and --raid5-spare change an --hdd-raid5 array (or, with --real, a \
             --raid-dev one); give --hdd-raid5 NxPRESET too"
                .into(),
        );
    }
    if let TargetArg::Flashcache = args.target {
        return run_flashcache(&args);
    }
    dmsim_testbed::workload::arena_pages_for(args.qd, args.bs)?;
    let workload = args.workload();
    let mut progress = Progress::new(
        format!("run linear/{}", workload.kind.name()),
        args.requests,
        "requests",
        args.quiet,
    );
    if args.real && args.cache.perturb_ties.is_some() {
        return Err(PERTURB_TIES_IS_SIM_ONLY.into());
    }
    if args.real && args.cache.hdd_raid5.is_some() {
        return Err(
            "--hdd-raid5 names simulated members; with --real the members are --raid-dev \
             A,B,C,D"
                .into(),
        );
    }
    let device = if args.real && !args.raid_dev.is_empty() {
        let (config, device_sets) = raid5_config(&args)?;
        crate::unused_flags::refuse_given(
            &[("--set", !device_sets.is_empty())],
            "with --raid-dev only raid5.… settings apply (the members are real devices, no \
             simulated model)",
        )?;
        let fails = dmsim_testbed::raid5_fail::parse_flags(
            &args.cache.raid5_fail,
            &args.cache.raid5_spare,
            args.raid_dev.len(),
        )?;
        LinearDevice::RealRaid5 {
            paths: args.raid_dev.clone(),
            spare_paths: args.raid_spare_dev.clone(),
            config,
            fails,
            allow_write: args.allow_write,
            assume_clean: args.assume_clean,
        }
    } else if let Some(raid_text) = &args.cache.hdd_raid5 {
        let (members, preset) = crate::cache_args::parse_hdd_raid5(raid_text)?;
        let fails = dmsim_testbed::raid5_fail::parse_flags(
            &args.cache.raid5_fail,
            &args.cache.raid5_spare,
            members,
        )?;
        let mut params = presets::find(&preset).map_err(|e| format!("--hdd-raid5: {e}"))?;
        let (config, device_sets) = raid5_config(&args)?;
        super::devices::apply_sets(&mut params, &device_sets)?;
        LinearDevice::Raid5 {
            text: raid_text.clone(),
            preset,
            members,
            params,
            config,
            fails,
        }
    } else if args.real {
        let path = args.dev.clone().ok_or(
            "--real --target linear needs --dev PATH (or --raid-dev A,B,C,D for an md raid5 array)",
        )?;
        LinearDevice::Real {
            path,
            allow_write: args.allow_write,
        }
    } else {
        let preset = args
            .dev
            .as_ref()
            .map(|dev| dev.display().to_string())
            .or_else(|| args.cache.hdd.clone())
            .unwrap_or_else(|| "hdd-7200".to_string());
        let mut params = presets::find(&preset)?;
        super::devices::apply_sets(&mut params, &args.sets)?;
        LinearDevice::Sim {
            name: preset,
            params,
        }
    };
    let output = run_linear(device, &workload, args.cache.perturb_ties, &mut |n| {
        progress.update_run(n)
    })?;
    progress.finish();
    finish_linear(output, &args)
}

/// Prints a linear run's summary and fails the command for what fails the run: a read of
/// wrong data, or an IO error no injected fault explains.
fn finish_linear(output: LinearRunOutput, args: &RunArgs) -> CliResult {
    emit(
        &output.report,
        &output.notes,
        args.out.as_deref(),
        args.json,
    )?;
    if let Some(e) = output.first_data_error {
        return Err(format!(
            "data verification failed: {} bad read(s); first: {e}",
            output.report.data_errors
        )
        .into());
    }
    if output.failed_bios > 0 && !output.faults_injected {
        return Err(format!("{} bio(s) failed", output.failed_bios).into());
    }
    if output.failed_bios > 0 {
        // The same words as a flashcache run over a failed array.
        crate::outcome::warn_all(&[format!(
            "{} of {} requests failed with IO errors (EIO returned, never wrong data); the \
             latency figures include them",
            output.failed_bios, output.report.requests
        )]);
    }
    Ok(())
}

/// The array's shape of `--hdd-raid5` or `--raid-dev`: --chunk and the `raid5.…` settings
/// (md tunables); the other settings are returned for the members' model.
fn raid5_config(args: &RunArgs) -> Result<(dmsim_engine::raid5::Raid5Config, Vec<String>), String> {
    let (raid_sets, device_sets): (Vec<String>, Vec<String>) = args
        .sets
        .iter()
        .cloned()
        .partition(|set| set.trim_start().starts_with("raid5."));
    let chunk_bytes = args.cache.chunk.unwrap_or(512 << 10);
    if !chunk_bytes.is_power_of_two() || chunk_bytes < 4096 {
        return Err(format!(
            "--chunk {chunk_bytes}: a raid5 chunk is a power of two of at least 4k"
        ));
    }
    let mut config = dmsim_engine::raid5::Raid5Config::new(chunk_bytes / 512);
    for set in &raid_sets {
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| format!("--set '{set}': expected KEY=VALUE"))?;
        let key = key.trim().trim_start_matches("raid5.");
        crate::cache_args::patch(&mut config, key, value.trim())
            .map_err(|e| format!("--set '{set}': {e}"))?;
    }
    Ok((config, device_sets))
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

/// `run --target flashcache`: the generated workload through the flashcache target, on
/// simulated devices or (with --real) two real ones.
fn run_flashcache(args: &RunArgs) -> CliResult {
    let sets = parse_sets(&args.sets)?;
    let mode = args.mode.unwrap_or(ModeArg::Writeback);
    let policy = args.policy.unwrap_or(PolicyArg::Fifo);
    let real = RealCacheArgs {
        real: args.real,
        ssd_dev: args.ssd_dev.clone(),
        hdd_dev: args.hdd_dev.clone(),
        raid_dev: args.raid_dev.clone(),
        raid_spare_dev: args.raid_spare_dev.clone(),
        assume_clean: args.assume_clean,
        allow_write: args.allow_write,
        existing_cache: args.existing_cache,
    };
    let mut setup = real.cache_args(&args.cache)?.resolve(mode, policy, &sets)?;
    if let Some(raid) = setup.raid5.as_mut() {
        // An endless workload over a failed array would spin at one instant.
        raid.spin_guard = args.requests.is_none();
    }
    warn_all(&setup.warnings);
    let cache_size_given = args.cache.cache_size.is_some() || args.cache.cache_blocks.is_some();
    let devices = real.devices(&mut setup, cache_size_given, args.span)?;
    let volume_bytes = setup.cache.table.target_sectors * 512;
    let span_bytes = args.span.unwrap_or(volume_bytes);
    check_span(span_bytes, volume_bytes, args.bs)?;
    let workload = args.workload();
    let spec = workload.kind.spec(span_bytes, args.bs, args.requests);
    let label = format!("{}/{}/{}", mode.name(), policy.name(), workload.kind.name());
    let config = RunDescription {
        target: Some(VolumeTarget::Flashcache),
        platform: Some(Platform::of(args.real)),
        bs: Some(args.bs),
        ..RunDescription::cache(
            &format!("workload:{}", workload.kind.name()),
            mode.name(),
            policy.name(),
        )
    };
    let mut progress = Progress::new(
        format!("run {label}"),
        args.requests,
        "requests",
        args.quiet,
    );
    let spec = RunSpec {
        setup,
        records: RecordsSpec::Generator { workload: spec },
        pacing: PacingSpec::from_pacing(workload.pacing()),
        stop_at_ns: args.duration,
        seed: args.seed,
        label,
        config: config.into(),
    };
    let outcome = match devices {
        CacheDevices::Sim => Testbed::sim_with_progress(&spec, &mut |p| progress.update_run(p)),
        real => Testbed::real(&spec, real, &mut |p| progress.update_run(p)),
    };
    if let Ok(outcome) = &outcome {
        warn_all(&outcome.warnings);
    }
    progress.finish();
    let outcome = outcome?;
    emit(
        &outcome.report,
        &outcome.notes,
        args.out.as_deref(),
        args.json,
    )?;
    Ok(())
}

fn run_spec_file(file: &std::path::Path, args: &RunArgs) -> CliResult {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("--spec {name}: {e}"))?;
    let spec = match SpecFile::from_json(&text, &name)? {
        SpecFile::Cache(spec) => spec,
        SpecFile::Linear(spec) => {
            let label = format!("run linear/{}", spec.workload.kind.name());
            let mut progress = Progress::new(label, spec.workload.requests, "requests", args.quiet);
            let output = run_linear(
                spec.device,
                &spec.workload,
                spec.perturb_ties_seed,
                &mut |p| progress.update_run(p),
            );
            progress.finish();
            return finish_linear(output?, args);
        }
    };
    if let RecordsSpec::Trace {
        source: TraceRef::File(trace),
        ..
    } = &spec.records
    {
        if trace.is_relative() && !trace.exists() {
            let here = std::env::current_dir()
                .map_or_else(|_| "here".to_string(), |dir| dir.display().to_string());
            return Err(format!(
                "--spec {name}: its trace {} is a path relative to the folder the spec's run \
                 started in, and there is no such file from {here}; run from that folder, or \
                 edit `records.trace.source.file` in the spec",
                trace.display()
            )
            .into());
        }
    }
    let total = match &spec.records {
        RecordsSpec::Trace { input, .. } => input.limit,
        RecordsSpec::Generator { workload } => workload.requests,
    };
    let mut progress = Progress::new(format!("run {}", spec.label), total, "requests", args.quiet);
    let outcome = Testbed::sim_with_progress(&spec, &mut |p| progress.update_run(p));
    if let Ok(outcome) = &outcome {
        warn_all(&outcome.warnings);
    }
    progress.finish();
    let outcome = outcome?;
    emit(
        &outcome.report,
        &outcome.notes,
        args.out.as_deref(),
        args.json,
    )?;
    Ok(())
}
