//! `dmsim replay TRACE`: replay a block trace through a simulated flashcache (SSD over HDD),
//! every read verified; prints a summary and writes DIR/summary.json with --out.

use super::CliResult;
use crate::cache_args::{CacheArgs, VolumeTargetArg};
use crate::outcome::{check_out_dir, emit, warn_all};
use crate::progress::Progress;
use crate::trace_cache_args::TraceCacheArgs;
use clap::Args;
use dmsim_engine::flashcache::Persistence;
use dmsim_engine::raid5::superblock::METADATA_SECTORS;
use dmsim_engine::raid5::Geometry;
use dmsim_engine::DeviceInfo;
use dmsim_real::{OpenOptions, RealDevice};
use dmsim_scenarios::fit::FitMode;
use dmsim_scenarios::source::Pacing;
use dmsim_testbed::cache_run::CacheDevices;
use dmsim_testbed::real_raid5::{check_spare_devices, open_array, same_file};
use dmsim_testbed::report_config::{Platform, RunDescription};
use dmsim_testbed::setup::{CacheSetup, VolumeTarget};
use dmsim_testbed::spec::{RecordsSpec, TraceRef};
use dmsim_testbed::trace_records::TraceSource;
use dmsim_testbed::{PacingSpec, RunSpec, Testbed};
use std::path::PathBuf;

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub trace_cache: TraceCacheArgs,
    /// What sits on the disk: flashcache (the SSD caches the disk), or linear, the no-cache
    /// baseline (dm-linear straight onto the disk; the same trace, pacing and verification,
    /// so a cache's speed-up over the bare disk is one pair of runs).
    #[arg(long, value_enum, default_value_t = VolumeTargetArg::Flashcache)]
    pub target: VolumeTargetArg,
    /// With --target linear: replay onto this one simulated device alone, any HDD or SSD
    /// preset (`dmsim devices list`); it is named `dev` in the summary. A preset name, never
    /// a path: replay has no bare real device (that is `dmsim run --real --target linear
    /// --dev PATH`). Without it, linear replays onto --hdd with the SSD idle beside it.
    #[arg(long, value_name = "PRESET", conflicts_with_all = ["hdd", "hdd_raid5"])]
    pub dev: Option<String>,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub real: RealCacheArgs,
    /// Seed of the run's random streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write DIR/summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Show no progress on stderr: neither the bar on a terminal nor, when stderr is not a
    /// terminal, the status line written every few seconds once a run has taken ten.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Real devices for a cache run (`--real`): flashcache writes its metadata and cache fills to
/// the SSD and cleans to the disk, so both are written and `--allow-write` is required.
#[derive(Args, Clone, Debug, Default)]
pub struct RealCacheArgs {
    /// Run on real block devices (or files) instead of simulated ones: --ssd-dev, and
    /// --hdd-dev or --raid-dev.
    #[arg(long, requires = "ssd_dev")]
    pub real: bool,
    /// The cache device (with --real).
    #[arg(long, value_name = "PATH", requires = "real")]
    pub ssd_dev: Option<PathBuf>,
    /// The disk (with --real); the volume has its size.
    #[arg(long, value_name = "PATH", requires = "real")]
    pub hdd_dev: Option<PathBuf>,
    /// The disk as an md raid5 array of real devices or files (with --real), in role order,
    /// comma-separated: `--raid-dev /dev/loop1,/dev/loop2,/dev/loop3,/dev/loop4` (3 to 16 of
    /// one size; --chunk, --raid5-fail and `--set raid5.…` apply as with --hdd-raid5). The
    /// array is resynced before the run (as mdadm --create does) unless --assume-clean.
    #[arg(
        long,
        value_name = "A,B,C,...",
        value_delimiter = ',',
        requires = "real",
        conflicts_with = "hdd_dev"
    )]
    pub raid_dev: Vec<PathBuf>,
    /// With --raid-dev: spare devices or files of the members' size, comma-separated; each
    /// --raid5-spare WHEN adds the next (mdadm --add): it replaces a failed member and is
    /// rebuilt while IO runs.
    #[arg(
        long,
        value_name = "E,...",
        value_delimiter = ',',
        requires = "raid_dev"
    )]
    pub raid_spare_dev: Vec<PathBuf>,
    /// With --raid-dev: trust the members' parity and skip the initial resync (mdadm
    /// --assume-clean), e.g. for members known to be all zeros.
    #[arg(long, requires = "raid_dev")]
    pub assume_clean: bool,
    /// Allow dmsim to overwrite both devices (required with --real).
    #[arg(long, requires = "real")]
    pub allow_write: bool,
    /// What to do when the SSD already holds a flashcache cache (with --real): refuse (the
    /// default, as flashcache_create does), load it (flashcache_load), or overwrite it
    /// (flashcache_create -f).
    #[arg(long, value_enum, requires = "real")]
    pub existing_cache: Option<ExistingCacheArg>,
}

/// `--existing-cache`: flashcache's persistence argument as its tools offer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExistingCacheArg {
    /// Load the cache the SSD holds (its geometry and dirty blocks come from the SSD).
    Load,
    /// Create a new cache over the old one; its dirty blocks are lost.
    ForceCreate,
}

/// The refusal of `--perturb-ties` with `--real`.
pub const PERTURB_TIES_IS_SIM_ONLY: &str = "--perturb-ties orders completions that simulated \
    devices deliver at the same virtual nanosecond; real devices have no such ties: drop \
    --perturb-ties or --real";

impl RealCacheArgs {
    /// The cache flags to resolve the setup from: with --raid-dev, an array of that many
    /// members (its shape from --chunk and `--set raid5.…`; the members' simulated preset is
    /// unused, as --ssd's is with --real).
    pub fn cache_args(&self, cache: &CacheArgs) -> Result<CacheArgs, String> {
        if self.raid_dev.is_empty() {
            return Ok(cache.clone());
        }
        if let Some(raid) = &cache.hdd_raid5 {
            return Err(format!(
                "--hdd-raid5 {raid} names simulated members; with --real the members are \
                 --raid-dev: give one of them"
            ));
        }
        let members = self.raid_dev.len();
        if !(3..=16).contains(&members) {
            return Err(format!(
                "--raid-dev: a raid5 array has 3 to 16 members, got {members} (comma-separated \
                 paths)"
            ));
        }
        Ok(CacheArgs {
            hdd_raid5: Some(format!("{members}xhdd-7200")),
            ..cache.clone()
        })
    }

    /// The devices of a cache run, opened; adjusts `setup` to their sizes (the volume is the
    /// disk; without --cache-size/--cache-blocks the cache is the whole SSD). With
    /// --raid-dev, each member is used only within the rows of chunks `span_bytes` needs.
    pub fn devices(
        &self,
        setup: &mut CacheSetup,
        cache_size_given: bool,
        span_bytes: Option<u64>,
    ) -> Result<CacheDevices, Box<dyn std::error::Error>> {
        if !self.real {
            return Ok(CacheDevices::Sim);
        }
        if setup.perturb_ties_seed.is_some() {
            return Err(PERTURB_TIES_IS_SIM_ONLY.into());
        }
        let Some(ssd_path) = &self.ssd_dev else {
            return Err(
                "--real needs --ssd-dev PATH, and --hdd-dev PATH or --raid-dev A,B,C".into(),
            );
        };
        if !self.raid_dev.is_empty() {
            return self.raid_devices(ssd_path, setup, cache_size_given, span_bytes);
        }
        let Some(hdd_path) = &self.hdd_dev else {
            return Err(
                "--real needs --ssd-dev PATH, and --hdd-dev PATH or --raid-dev A,B,C".into(),
            );
        };
        if !self.allow_write {
            return Err(format!(
                "flashcache writes to both {} and {}; pass --allow-write to let dmsim overwrite them",
                ssd_path.display(),
                hdd_path.display()
            )
            .into());
        }
        if same_file(ssd_path, hdd_path) {
            return Err(format!(
                "--ssd-dev and --hdd-dev name the same device or file ({}); give two different ones",
                ssd_path.display()
            )
            .into());
        }
        let options = OpenOptions {
            allow_write: true,
            range: None,
        };
        let ssd = RealDevice::open(ssd_path, options)?;
        let hdd = RealDevice::open(hdd_path, options)?;
        setup.cache.table.target_sectors = hdd.info().capacity_sectors;
        if !cache_size_given {
            setup.cache.table.cache_size_sectors = ssd.info().capacity_sectors;
        }
        setup.cache.table.persistence = match self.existing_cache {
            None => Persistence::Create,
            Some(ExistingCacheArg::Load) => Persistence::Reload,
            Some(ExistingCacheArg::ForceCreate) => Persistence::ForceCreate,
        };
        dmsim_testbed::memory::check_cache_fits(
            &format!("--ssd-dev {}", ssd_path.display()),
            setup.cache.table.cache_size_sectors,
            u64::from(setup.cache.table.block_size_sectors.max(1)),
            false,
            dmsim_testbed::memory::available_memory_bytes(),
        )?;
        setup.ssd_name = ssd_path.display().to_string();
        setup.hdd_name = hdd_path.display().to_string();
        Ok(CacheDevices::Real { ssd, hdd })
    }

    /// [`RealCacheArgs::devices`] with --raid-dev: the SSD and the array's members.
    fn raid_devices(
        &self,
        ssd_path: &std::path::Path,
        setup: &mut CacheSetup,
        cache_size_given: bool,
        span_bytes: Option<u64>,
    ) -> Result<CacheDevices, Box<dyn std::error::Error>> {
        let raid_names: Vec<String> = self
            .raid_dev
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        if !self.allow_write {
            return Err(format!(
                "flashcache writes to {} and the array writes parity to its members {}; pass \
                 --allow-write to let dmsim overwrite them",
                ssd_path.display(),
                raid_names.join(", ")
            )
            .into());
        }
        let Some(raid) = setup.raid5.as_mut() else {
            return Err("--raid-dev without a raid5 setup (an internal error)".into());
        };
        check_spare_devices(raid.spares, self.raid_spare_dev.len())?;
        let array = open_array(
            &self.raid_dev,
            &self.raid_spare_dev,
            &[("--ssd-dev", ssd_path)],
            raid.config.chunk_sectors,
            span_bytes,
            true,
        )?;
        let infos: Vec<DeviceInfo> = array.members.iter().map(RealDevice::info).collect();
        let reserved = if raid.config.superblock {
            METADATA_SECTORS
        } else {
            0
        };
        let geometry = Geometry::reserving(
            &infos,
            raid.config.chunk_sectors,
            raid.config.layout,
            reserved,
        )
        .map_err(|e| format!("--raid-dev {}: {e}", raid_names.join(",")))?;
        raid.array_sectors = geometry.array_sectors();
        let ssd = RealDevice::open(
            ssd_path,
            OpenOptions {
                allow_write: true,
                range: None,
            },
        )?;
        setup.cache.table.target_sectors = geometry.array_sectors();
        if !cache_size_given {
            setup.cache.table.cache_size_sectors = ssd.info().capacity_sectors;
        }
        setup.cache.table.persistence = match self.existing_cache {
            None => Persistence::Create,
            Some(ExistingCacheArg::Load) => Persistence::Reload,
            Some(ExistingCacheArg::ForceCreate) => Persistence::ForceCreate,
        };
        dmsim_testbed::memory::check_cache_fits(
            &format!("--ssd-dev {}", ssd_path.display()),
            setup.cache.table.cache_size_sectors,
            u64::from(setup.cache.table.block_size_sectors.max(1)),
            false,
            dmsim_testbed::memory::available_memory_bytes(),
        )?;
        setup.ssd_name = ssd_path.display().to_string();
        setup.hdd_name = format!("raid5 {}", raid_names.join(","));
        Ok(CacheDevices::RealRaid5 {
            ssd,
            members: array.members,
            spares: array.spares,
            assume_clean: self.assume_clean,
        })
    }
}

/// Requests in flight when a closed-loop run or replay does not say, the same for `run`,
/// `replay` and `compare`: 32 is what a storage engineer measures a cache with (fio's usual
/// iodepth for SSDs, an NVMe queue's worth of commands), deep enough that the SSD's channels
/// and the disk's command queue both matter. `--qd 1` measures one request's latency alone.
pub const DEFAULT_QUEUE_DEPTH: u32 = 32;

/// Replay speed with --open-loop when --speed is not given: as recorded.
pub const DEFAULT_SPEED: f64 = 1.0;

/// How a replay is paced.
#[derive(Args, Clone, Debug)]
pub struct PacingArgs {
    /// Closed loop: keep this many requests in flight [default: 32, as for run and compare:
    /// a cache is measured under an SSD's usual depth; --qd 1 for single-request latency].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096), conflicts_with = "open_loop")]
    pub qd: Option<u32>,
    /// Open loop: issue each request at its trace time.
    #[arg(long)]
    pub open_loop: bool,
    /// With --open-loop: replay this many times faster than recorded [default: 1].
    #[arg(long)]
    pub speed: Option<f64>,
}

impl PacingArgs {
    pub fn pacing(&self) -> Result<Pacing, String> {
        if self.open_loop {
            let speed = self.speed.unwrap_or(DEFAULT_SPEED);
            check_speed(speed)?;
            Ok(Pacing::OpenLoop { speed })
        } else {
            crate::unused_flags::refuse_given(
                &[("--speed", self.speed.is_some())],
                "it sets the open-loop replay rate, and without --open-loop the replay is \
                 closed loop (--qd requests in flight)",
            )?;
            Ok(Pacing::ClosedLoop {
                queue_depth: self.qd.unwrap_or(DEFAULT_QUEUE_DEPTH),
            })
        }
    }
}

/// Slowest replay accepted: a million times slower than recorded.
const SPEED_MIN: f64 = 1e-6;

/// Refuse a replay speed that is not a number, not positive, or so slow that trace times
/// would overflow virtual time.
pub fn check_speed(speed: f64) -> Result<(), String> {
    if speed.is_finite() && speed >= SPEED_MIN {
        Ok(())
    } else {
        Err(format!(
            "--speed {speed:e} must be a number of at least {SPEED_MIN:e}"
        ))
    }
}

/// With `--target linear` nothing is cached: the cache's flags, and `--set` keys that are
/// not the disk's (`hdd.*`, `raid5.*`), would do nothing.
fn refuse_cache_flags_with_linear(
    args: &ReplayArgs,
    sets: &[(String, String)],
) -> Result<(), String> {
    let cache = &args.trace_cache.cache;
    crate::unused_flags::refuse_given(
        &[
            ("--mode", args.trace_cache.mode.is_some()),
            ("--policy", args.trace_cache.policy.is_some()),
            ("--ssd", cache.ssd.is_some()),
            ("--block-size", cache.block_size.is_some()),
            ("--cache-size", cache.cache_size.is_some()),
            ("--cache-blocks", cache.cache_blocks.is_some()),
            ("--assoc", cache.assoc.is_some()),
        ],
        "--target linear replays onto the bare disk, with no cache",
    )?;
    if args.real.real {
        return Err(
            "replay --target linear runs on simulated devices; on a real device use \
                    `dmsim run --real --target linear --dev PATH`"
                .to_string(),
        );
    }
    match sets
        .iter()
        .find(|(key, _)| !(key.starts_with("hdd.") || key.starts_with("raid5.")))
    {
        Some((key, value)) => Err(format!(
            "--set {key}={value} does nothing here: --target linear has no cache and no SSD \
             (only hdd.* and raid5.* keys apply); drop it"
        )),
        None => Ok(()),
    }
}

/// `--dev PRESET`: only with `--target linear`, and a preset name, not a device path.
fn check_dev(args: &ReplayArgs) -> Result<(), String> {
    let Some(dev) = &args.dev else {
        return Ok(());
    };
    if args.target != VolumeTargetArg::Linear {
        return Err(format!(
            "--dev {dev} names the one device of --target linear; a cache's devices are \
             --ssd and --hdd (simulated) or --ssd-dev and --hdd-dev (--real)"
        ));
    }
    if let Err(e) = dmsim_models::presets::find(dev) {
        if dev.contains('/') {
            return Err(format!(
                "--dev {dev}: replay takes a simulated device preset here, not a path; to \
                 drive a real device bare, use `dmsim run --real --target linear --dev {dev}`"
            ));
        }
        return Err(format!("--dev: {e}"));
    }
    Ok(())
}

pub fn run(args: ReplayArgs) -> CliResult {
    if let Some(dir) = &args.out {
        check_out_dir(dir)?;
    }
    check_dev(&args)?;
    if args.real.real {
        crate::unused_flags::refuse_given(
            &[
                ("--ssd", args.trace_cache.cache.ssd.is_some()),
                ("--hdd", args.trace_cache.cache.hdd.is_some()),
            ],
            "it names a simulated device preset, and with --real the devices are --ssd-dev \
             and --hdd-dev",
        )?;
    }
    let sets = crate::cache_args::parse_sets(&args.trace_cache.sets)?;
    if args.target == VolumeTargetArg::Linear {
        refuse_cache_flags_with_linear(&args, &sets)?;
    }
    let mode = args.trace_cache.mode();
    let policy = args.trace_cache.policy();
    let mut setup = match VolumeTarget::from(args.target) {
        VolumeTarget::Flashcache => args
            .real
            .cache_args(&args.trace_cache.cache)?
            .resolve(mode, policy, &sets)?,
        VolumeTarget::Linear => {
            let mut cache = args.trace_cache.cache.clone();
            if let Some(dev) = &args.dev {
                cache.hdd = Some(dev.clone());
            }
            cache.resolve_linear(&sets)?
        }
    };
    setup.bare_device = args.dev.is_some();
    warn_all(&setup.warnings);
    let cache_size_given = args.trace_cache.cache_size_given();
    let devices = args.real.devices(&mut setup, cache_size_given, None)?;
    let pacing = args.pacing.pacing()?;
    let trace = TraceSource::File(args.trace_cache.trace.clone());
    let mut input = args.trace_cache.input.input();
    if args.real.real && input.fit == FitMode::Auto {
        // A real disk's addresses are the user's: never move a record without being asked.
        input.fit = FitMode::Refuse;
    }
    let (label, mut config) = match VolumeTarget::from(args.target) {
        VolumeTarget::Flashcache => (
            format!("{}/{}", mode.name(), policy.name()),
            RunDescription::cache(&trace.report_name(), mode.name(), policy.name()),
        ),
        VolumeTarget::Linear => (
            "linear".to_string(),
            RunDescription::linear(&trace.report_name()),
        ),
    };
    config.platform = Some(Platform::of(args.real.real));
    let mut progress = Progress::new(
        format!("replay {label}"),
        args.trace_cache.input.limit,
        "requests",
        args.quiet,
    );
    let spec = RunSpec {
        setup,
        records: RecordsSpec::Trace {
            source: TraceRef::File(args.trace_cache.trace.clone()),
            record_skipped_lines: input.skip_bad_lines,
            input,
        },
        pacing: PacingSpec::from_pacing(pacing),
        stop_at_ns: None,
        seed: args.seed,
        label,
        config: config.into(),
    };
    let outcome = match devices {
        CacheDevices::Sim => Testbed::compact_map(&spec).and_then(|compact| {
            // --fit auto and compact read the trace first: that pass counts the records,
            // so a long replay shows its percentage and an ETA.
            if let Some(map) = &compact {
                progress.set_total(map.records());
            }
            Testbed::sim_with_compact(&spec, compact, &mut |p| progress.update_run(p))
        }),
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
