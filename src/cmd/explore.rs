//! `dmsim explore`: the race explorer over many seeds (or one seed file), with a one-line
//! repro and a shrunk seed file for every failure. The logic is in `dmsim-explore`; this
//! module parses, times the budget and prints.

use super::CliResult;
use dmsim_engine::marks::Mark;
use dmsim_explore::{
    explore, explore_with, run_real_spec, run_spec, shrink, write_event_log, BatchReport, Profile,
    RealDevices, SeedSpec,
};
use std::path::{Path, PathBuf};

/// Reruns shrinking may spend on one failure.
const SHRINK_RUNS_MAX: u32 = 300;

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// Seeds to run (from --first); default 100, or unlimited with --budget.
    #[arg(long)]
    seeds: Option<u64>,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Run only this seed.
    #[arg(long, conflicts_with_all = ["seeds", "first", "budget", "replay"])]
    seed: Option<u64>,
    /// Wall-clock budget (e.g. 10m, 30s): stop starting seeds after it.
    #[arg(long, value_parser = crate::units::parse_duration_ns)]
    budget: Option<u64>,
    /// What each seed draws: swarm (linear or flashcache, any fault), fault-free, flashcache
    /// (flashcache only), timeouts (ssd_timeout and cancels) or raid5 (arrays alone and under
    /// flashcache: member faults, crashes, the write hole) [default: swarm; fault-free with
    /// --real].
    #[arg(long, value_parser = Profile::parse)]
    profile: Option<Profile>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write shrunk seed files of failures here (default: the current directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run one seed file (a spec written by explore, or a regression file with a `spec`).
    #[arg(long, conflicts_with_all = ["seeds", "first", "budget"])]
    replay: Option<PathBuf>,
    /// Do not shrink failures.
    #[arg(long)]
    no_shrink: bool,
    /// Also write one run's whole event log to this file: every input the engine took and
    /// every output it gave, with its virtual time, and a note at each power loss and clean
    /// restart (the failure message shows only the last few events). With --seed or
    /// --replay; the log is the first run's, deterministic, and written even when the run
    /// fails. Expect tens of MB for a seed of 10,000 device IOs.
    #[arg(long, conflicts_with_all = ["real", "print_spec"])]
    events: Option<PathBuf>,
    /// Print the seed file of --seed (its drawn run) and exit without running it.
    #[arg(long, requires = "seed")]
    print_spec: bool,
    /// Run fault-free seeds on real block devices (loop devices, spare disks) instead of
    /// simulated ones: the same engine and oracles (every read verified, invariants after
    /// every input, every bio ends well, writeback drains), without faults, power loss or the
    /// determinism check. Each seed writes only the first sectors its drawn devices have
    /// (up to 93 MiB of --ssd-dev, 5 MiB but for one flashcache seed in eight, and 64 MiB of
    /// --hdd-dev). Needs --allow-write.
    #[arg(long, requires_all = ["ssd_dev", "hdd_dev"], conflicts_with = "print_spec")]
    real: bool,
    /// The cache device of --real runs (its old contents are overwritten).
    #[arg(long, requires = "real")]
    ssd_dev: Option<PathBuf>,
    /// The disk of --real runs (its old contents are overwritten).
    #[arg(long, requires = "real")]
    hdd_dev: Option<PathBuf>,
    /// Allow --real to write to --ssd-dev and --hdd-dev.
    #[arg(long, requires = "real")]
    allow_write: bool,
}

/// The real devices of `args`, or why they cannot be used.
fn real_devices(args: &ExploreArgs) -> Result<Option<RealDevices>, String> {
    let (true, Some(ssd), Some(disk)) = (args.real, &args.ssd_dev, &args.hdd_dev) else {
        return Ok(None);
    };
    if !args.allow_write {
        return Err(format!(
            "--real overwrites {} and {}: add --allow-write if that is what you want",
            ssd.display(),
            disk.display()
        ));
    }
    if ssd == disk {
        return Err("--ssd-dev and --hdd-dev name the same device".to_string());
    }
    if args.jobs != 1 {
        return Err("--jobs: --real runs one seed at a time (the devices are shared)".into());
    }
    if args.profile.is_some_and(|p| p != Profile::FaultFree) {
        return Err(
            "--profile: --real runs only fault-free seeds (faults, power loss and BUGGIFY are \
             simulated); drop --profile or say --profile fault-free"
                .into(),
        );
    }
    Ok(Some(RealDevices {
        ssd: ssd.clone(),
        disk: disk.clone(),
        write_id_nonce: dmsim_testbed::verifier::real_run_write_id_base(),
    }))
}

/// Reads a seed file: a spec, or an object holding one under `spec` (a regression file).
pub fn read_seed_file(path: &Path) -> Result<SeedSpec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: line {}, column {}: not JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let spec_value = value.get("spec").cloned().unwrap_or(value);
    let spec: SeedSpec = serde_json::from_value(spec_value)
        .map_err(|e| format!("{}: not a seed spec: {e}", path.display()))?;
    spec.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(spec)
}

fn repro(seed: u64, profile: Profile, real: Option<&RealDevices>) -> String {
    let devices = real.map_or(String::new(), |d| {
        format!(
            " --real --ssd-dev {} --hdd-dev {} --allow-write",
            d.ssd.display(),
            d.disk.display()
        )
    });
    format!(
        "dmsim explore --seed {seed} --profile {}{devices} # dmsim {}",
        profile.name(),
        env!("CARGO_PKG_VERSION")
    )
}

fn marks_json(report: &BatchReport) -> serde_json::Value {
    Mark::ALL
        .iter()
        .map(|mark| (mark.name().to_string(), report.marks.get(*mark).into()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

pub fn run(args: ExploreArgs) -> CliResult {
    if args.jobs == 0 {
        return Err("--jobs: must be at least 1".into());
    }
    let real = real_devices(&args)?;
    let profile = args.profile.unwrap_or(if real.is_some() {
        Profile::FaultFree
    } else {
        Profile::Swarm
    });
    if let Some(events) = &args.events {
        let spec = match (&args.replay, args.seed) {
            (Some(path), _) => read_seed_file(path)?,
            (None, Some(seed)) => SeedSpec::draw(seed, profile),
            (None, None) => {
                return Err(format!(
                    "--events {}: one run's log needs --seed or --replay",
                    events.display()
                )
                .into())
            }
        };
        let (failure, lines) =
            write_event_log(&spec, events).map_err(|e| format!("--events {e}"))?;
        eprintln!(
            "dmsim: {} lines of seed {}'s event log in {} ({})",
            lines,
            spec.seed,
            events.display(),
            if failure.is_some() {
                "the run failed"
            } else {
                "the run passed"
            }
        );
    }
    if let Some(path) = &args.replay {
        let spec = read_seed_file(path)?;
        let report = match &real {
            Some(devices) => run_real_spec(&spec, devices),
            None => run_spec(&spec),
        };
        let failure = report.failure.clone();
        if args.json {
            outln!(
                "{}",
                serde_json::json!({
                    "file": path.display().to_string(),
                    "seed": spec.seed,
                    "failure": failure,
                    "event_hash": format!("{:#018x}", report.event_hash),
                    "bios_done": report.bios_done,
                    "reads_verified": report.reads_verified,
                    "phases": report.phases,
                })
            );
        } else {
            outln!(
                "{}: seed {} ({}): {} bios, {} reads verified, event hash {:#018x}",
                path.display(),
                spec.seed,
                spec.profile.name(),
                report.bios_done,
                report.reads_verified,
                report.event_hash
            );
            for phase in &report.phases {
                outln!("  {phase}");
            }
        }
        return match failure {
            None => Ok(()),
            Some(failure) => Err(format!("{}: {failure}", path.display()).into()),
        };
    }
    if let (true, Some(seed)) = (args.print_spec, args.seed) {
        let spec = SeedSpec::draw(seed, profile);
        outln!(
            "{}",
            serde_json::to_string_pretty(&spec).expect("a spec serialises")
        );
        return Ok(());
    }
    let (first, count) = match args.seed {
        Some(seed) => (seed, 1),
        None => (
            args.first,
            args.seeds
                .unwrap_or(if args.budget.is_some() { u64::MAX } else { 100 }),
        ),
    };
    #[allow(clippy::disallowed_methods)] // wall clock: the user's budget, not a result
    let started = std::time::Instant::now();
    let budget = args.budget.map(std::time::Duration::from_nanos);
    let more = move || budget.is_none_or(|b| started.elapsed() < b);
    // Engine panics are caught and reported as failures: keep the default hook's noise out.
    std::panic::set_hook(Box::new(|_| {}));
    let report = match &real {
        Some(devices) => explore_with(first, count, profile, 1, &more, &|spec| {
            run_real_spec(spec, devices)
        }),
        None => explore(first, count, profile, args.jobs, &more),
    };
    let elapsed_s = started.elapsed().as_secs_f64();
    let mut shrunk = Vec::new();
    if let Some(first_failure) = report.failures.first() {
        // Shrinking reruns the spec many times: simulated only. A real failure keeps its
        // whole spec, to replay on the devices (`--real --replay`) or in simulation.
        if real.is_some() {
            let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
            let path = dir.join(format!("explore-real-seed-{}.json", first_failure.seed));
            let text =
                serde_json::to_string_pretty(&first_failure.spec).expect("a spec serialises");
            std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
            shrunk.push((path, first_failure.failure.clone(), 0));
        } else if !args.no_shrink {
            let (spec, failure, runs) =
                shrink(&first_failure.spec, &first_failure.failure, SHRINK_RUNS_MAX);
            let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
            let path = dir.join(format!("explore-seed-{}.json", first_failure.seed));
            let text = serde_json::to_string_pretty(&spec).expect("a spec serialises");
            std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
            shrunk.push((path, failure, runs));
        }
    }
    let _ = std::panic::take_hook();
    let seeds_per_s = report.seeds_run as f64 / elapsed_s.max(1e-9);
    if args.json {
        let failures: Vec<serde_json::Value> = report
            .failures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "seed": f.seed,
                    "failure": f.failure,
                    "repro": repro(f.seed, profile, real.as_ref()),
                })
            })
            .collect();
        let shrunk: Vec<serde_json::Value> = shrunk
            .iter()
            .map(|(path, failure, runs)| {
                serde_json::json!({"file": path.display().to_string(), "failure": failure, "runs": runs})
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "profile": profile.name(),
                "seeds_run": report.seeds_run,
                "seconds": elapsed_s,
                "seeds_per_second": seeds_per_s,
                "bios_done": report.bios_done,
                "reads_verified": report.reads_verified,
                "device_ios": report.device_ios,
                "seeds_hits_checked": report.seeds_hits_checked,
                "seeds_policy_checked": report.seeds_policy_checked,
                "failures": failures,
                "shrunk": shrunk,
                "marks": marks_json(&report),
                "marks_missed": report.marks.missing().iter().map(|m| m.name()).collect::<Vec<_>>(),
                "counters_never_reached": report.counter_reach.never_reached(),
            })
        );
    } else {
        outln!(
            "explore: profile {}, {} seeds in {elapsed_s:.1} s ({seeds_per_s:.2} seeds/s), {} bios, {} device IOs, {} reads verified, {} failed",
            profile.name(),
            report.seeds_run,
            report.bios_done,
            report.device_ios,
            report.reads_verified,
            report.failures.len()
        );
        outln!("coverage marks:");
        for mark in Mark::ALL {
            outln!("  {:>10}  {}", report.marks.get(*mark), mark.name());
        }
        let never = report.counter_reach.never_reached();
        if !never.is_empty() {
            outln!("counters no seed moved: {}", never.join(", "));
        }
        for failure in &report.failures {
            outln!("FAIL seed {}: {}", failure.seed, failure.failure);
            outln!("  repro: {}", repro(failure.seed, profile, real.as_ref()));
        }
        for (path, failure, runs) in &shrunk {
            outln!(
                "shrunk ({runs} reruns) to {}: {failure}\n  replay: dmsim explore --replay {}",
                path.display(),
                path.display()
            );
        }
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} seeds failed",
            report.failures.len(),
            report.seeds_run
        )
        .into())
    }
}
