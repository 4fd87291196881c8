//! `dmsim compare`: run a grid of cache modes × policies (× settings) over one trace, workload
//! or scenario, in parallel across cores, and write a comparison report: compare.json, charts
//! (SVG and PNG) and index.html. Results are identical to a serial run: every run is an
//! independent deterministic simulation, collected in grid order. Unless `--no-baseline`, the
//! grid starts with the no-cache baseline (`none`: the input on the bare disk, dm-linear; one
//! per value of a disk axis), and every cache run names its baseline in `config.baseline` so
//! the report can give its speed-up.
//!
//! With `--shard I/N` it runs only the cells shard I owns (cell k, 0-based in grid order,
//! belongs to shard k mod N + 1) and writes `DIR/shard.json`; `dmsim merge` (see `merge.rs`)
//! joins the shards into the report the unsharded run writes, byte for byte.

use super::CliResult;
use crate::cache_args::{parse_sets, CacheArgs, ModeArg, PolicyArg};
use crate::progress::Progress;
use crate::trace_input::TraceArgs;
use clap::Args;
use dmsim_reports::{
    CompareReport, CompareShard, GridAxis, RunReport, ShardCell, ShardId, INDEX_FILE_NAME,
};
use dmsim_scenarios::scenario::{self, Input, Scenario, TraceLocation};
use dmsim_scenarios::source::Pacing;
use dmsim_testbed::grid::{self, CacheChoice, GridInput, GridRuns};
use dmsim_testbed::trace_records::TraceSource;
use dmsim_testbed::Testbed;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompareArgs {
    /// A trace file, or a scenario file (.json). Without it: the bundled `default` scenario.
    pub input: Option<PathBuf>,
    /// Run a bundled scenario by name (default, msr-hm0).
    #[arg(long, conflicts_with = "input")]
    pub scenario: Option<String>,
    /// Cache modes to compare, comma-separated (writeback, writethrough, writearound,
    /// write-only) [default: the scenario's, or the first three].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub modes: Vec<ModeArg>,
    /// Replacement policies to compare, comma-separated (fifo, lru, lru-strict)
    /// [default: the scenario's, or all three].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub policies: Vec<PolicyArg>,
    /// KEY=VALUE applies to every run; KEY=V1,V2,… adds a grid axis (repeatable). Keys as
    /// for `replay --set`.
    #[arg(long = "set", value_name = "KEY=VALUE[,VALUE…]")]
    pub sets: Vec<String>,
    #[command(flatten)]
    pub trace: TraceArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Closed loop: requests in flight [default: the scenario's, or 32, as for run and
    /// replay].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096), conflicts_with = "open_loop")]
    pub qd: Option<u32>,
    /// Open loop: issue requests at their trace times.
    #[arg(long)]
    pub open_loop: bool,
    /// With --open-loop: replay this many times faster than recorded [default: 1].
    #[arg(long)]
    pub speed: Option<f64>,
    /// Seed of every run's random streams [default: the scenario's, or 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder for the report (created; files in it are replaced).
    #[arg(long, default_value = "dmsim-report")]
    pub out: PathBuf,
    /// Run only shard I of N (1-based, e.g. 2/4; a Slurm array task passes
    /// $SLURM_ARRAY_TASK_ID/N, see examples/slurm). Cell k of the grid (0-based, grid
    /// order) belongs to shard k mod N + 1. Writes only OUT/shard.json; join the shards with
    /// `dmsim merge DIR… --out REPORT`, which writes exactly what the unsharded run writes.
    #[arg(long, value_name = "I/N", value_parser = ShardId::parse)]
    pub shard: Option<ShardId>,
    /// Runs in parallel [default: the number of cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Leave out the `none` rows: the no-cache baseline (the same workload on the bare disk,
    /// dm-linear) that every comparison otherwise runs first, and each mode's speed-up over
    /// it. One baseline is run per value of a disk axis (`--set hdd.…=A,B`, `raid5.…`).
    #[arg(long)]
    pub no_baseline: bool,
    /// Show no progress on stderr: neither the bar on a terminal nor, when stderr is not a
    /// terminal, the status line written every few seconds once a run has taken ten.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: CompareArgs) -> CliResult {
    crate::outcome::check_out_dir(&args.out)?;
    let scenario: Option<(Scenario, Option<PathBuf>)> = match (&args.input, &args.scenario) {
        (Some(path), _) if path.extension().is_some_and(|e| e == "json") => {
            let dir = path.parent().map(|p| p.to_path_buf());
            Some((Scenario::load(path)?, dir))
        }
        (Some(_), _) => None,
        (None, name) => {
            let name = name.as_deref().unwrap_or("default");
            let (_, text) = scenario::bundled()
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = scenario::bundled().iter().map(|(n, _)| *n).collect();
                    format!(
                        "no bundled scenario '{name}'; bundled: {}",
                        known.join(", ")
                    )
                })?;
            Some((Scenario::parse(text, &format!("bundled:{name}"))?, None))
        }
    };

    // Cache flags: the command line wins over the scenario.
    let cache = match &scenario {
        Some((s, _)) => args.cache.or_scenario(s)?,
        None => args.cache.clone(),
    };
    let mut base_sets: Vec<(String, String)> = scenario
        .as_ref()
        .map(|(s, _)| s.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut axes: Vec<(String, Vec<String>)> = scenario
        .as_ref()
        .map(|(s, _)| {
            s.grid
                .set
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (key, values) in parse_sets(&args.sets)? {
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.len() == 1 {
            base_sets.push((key, values[0].clone()));
        } else {
            axes.retain(|(k, _)| *k != key);
            axes.push((key, values));
        }
    }
    let modes = if !args.modes.is_empty() {
        args.modes.clone()
    } else if let Some((s, _)) = &scenario {
        s.grid
            .modes
            .iter()
            .map(|m| parse_mode(m))
            .collect::<Result<_, _>>()?
    } else {
        vec![
            ModeArg::Writeback,
            ModeArg::Writethrough,
            ModeArg::Writearound,
        ]
    };
    let policies = if !args.policies.is_empty() {
        args.policies.clone()
    } else if let Some((s, _)) = &scenario {
        s.grid
            .policies
            .iter()
            .map(|p| parse_policy(p))
            .collect::<Result<_, _>>()?
    } else {
        vec![PolicyArg::Fifo, PolicyArg::Lru, PolicyArg::LruStrict]
    };
    let seed = args
        .seed
        .or(scenario.as_ref().map(|(s, _)| s.seed))
        .unwrap_or(1);
    let pacing = pacing(&args, scenario.as_ref().map(|(s, _)| s))?;

    let (input, input_name) = match &scenario {
        None => {
            let path = args
                .input
                .clone()
                .expect("a trace path when there is no scenario");
            let source = TraceSource::File(path);
            let compact = args.trace.input().compact_map(&source)?;
            let name = source.report_name();
            (
                GridInput::Trace {
                    source,
                    input: args.trace.input(),
                    compact,
                },
                name,
            )
        }
        Some((s, dir)) => match &s.input {
            Input::Workload(spec) => (
                GridInput::Workload(spec.clone()),
                format!("workload:{}", s.name),
            ),
            Input::Trace(t) => {
                let source = match s.trace_location(dir.as_deref()).expect("a trace input") {
                    TraceLocation::Bundled(name) => {
                        let bytes = scenario::bundled_trace(&name).ok_or_else(|| {
                            format!("scenario {}: no bundled trace '{name}'", s.name)
                        })?;
                        TraceSource::Bundled { name, bytes }
                    }
                    TraceLocation::File(path) => TraceSource::File(path),
                };
                let mut trace_args = args.trace.clone();
                trace_args.format = trace_args.format.or(t.format);
                trace_args.limit = trace_args.limit.or(t.limit);
                trace_args.skip_bad_lines |= t.skip_bad_lines;
                if args.trace.fit == Default::default() {
                    trace_args.fit = t.fit;
                }
                let compact = trace_args.input().compact_map(&source)?;
                let name = source.report_name();
                (
                    GridInput::Trace {
                        source,
                        input: trace_args.input(),
                        compact,
                    },
                    name,
                )
            }
        },
    };

    // The baselines first (the row every speed-up divides), then the cache cells.
    let caches: Vec<GridCache> = modes
        .iter()
        .flat_map(|&mode| {
            policies
                .iter()
                .map(move |&policy| GridCache { mode, policy })
        })
        .collect();
    let cells = grid::cells(&caches, &axes, !args.no_baseline);
    // Resolve every cell before running anything: a bad setting fails fast, with no output.
    let setups = cells
        .iter()
        .map(|cell| {
            let sets: Vec<(String, String)> = base_sets.iter().chain(&cell.sets).cloned().collect();
            match cell.cache {
                Some(GridCache { mode, policy }) => cache.resolve(mode, policy, &sets),
                None => cache.resolve_linear(&sets),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let warnings: Vec<String> = setups.iter().flat_map(|s| s.warnings.clone()).collect();
    crate::outcome::warn_all(&warnings);
    let (specs, fit_notes) = grid::specs(
        &cells,
        &setups,
        &GridRuns {
            input: &input,
            input_name: &input_name,
            pacing,
            seed,
            baseline: !args.no_baseline,
        },
    )?;
    // Said once before the runs (every cell with the same volume fits the same way).
    crate::outcome::warn_all(&fit_notes);

    let shard = args.shard.unwrap_or(ShardId::WHOLE);
    // The grid's cells this process runs, in grid order.
    let mine: Vec<usize> = (0..cells.len()).filter(|&k| shard.owns(k)).collect();
    let jobs = args.jobs.unwrap_or_else(crate::parallel::default_jobs);
    let title = scenario.as_ref().map_or_else(
        || format!("dmsim compare: {input_name}"),
        |(s, _)| s.name.clone(),
    );
    // The title says "dmsim compare: TRACE" for a trace; the status line says "compare" itself.
    let subject = scenario
        .as_ref()
        .map_or_else(|| input_name.to_string(), |(s, _)| s.name.clone());
    let progress_label = match args.shard {
        Some(shard) => format!("compare {subject} (shard {shard})"),
        None => format!("compare {subject}"),
    };
    let progress = Progress::new(progress_label, Some(mine.len() as u64), "runs", args.quiet);
    let results = crate::parallel::run_in_order(&mine, jobs, progress, |&i| {
        let outcome = Testbed::sim_with_compact(&specs[i], input.compact(), &mut |_| {})?;
        crate::outcome::warn_all(&outcome.warnings);
        Ok::<RunReport, String>(outcome.report)
    });
    let mut runs = Vec::with_capacity(mine.len());
    for (&i, result) in mine.iter().zip(results) {
        match result {
            Ok(report) => runs.push(report),
            Err(e) => return Err(format!("run {}: {e}", specs[i].label).into()),
        }
    }

    // Every cell reads the same trace: said once for the grid.
    if let Some(config) = runs
        .iter()
        .map(|run| &run.config)
        .find(|config| config.get("out_of_order_records").is_some())
    {
        crate::outcome::warn_all(&[dmsim_testbed::trace_records::time_order_note(
            config["out_of_order_records"].as_u64().unwrap_or(0),
            config["late_records"].as_u64().unwrap_or(0),
        )]);
    }
    let mut grid_axes = vec![
        GridAxis {
            name: "mode".to_string(),
            values: modes.iter().map(|m| m.name().to_string()).collect(),
        },
        GridAxis {
            name: "policy".to_string(),
            values: policies.iter().map(|p| p.name().to_string()).collect(),
        },
    ];
    grid_axes.extend(axes.iter().map(|(k, v)| GridAxis {
        name: k.clone(),
        values: v.clone(),
    }));
    if let Some(shard) = args.shard {
        let grid_hash = grid::grid_hash(&title, &grid_axes, &input, &specs)?;
        let cell_labels = specs.iter().map(|spec| spec.label.clone()).collect();
        let cells = mine
            .iter()
            .zip(runs)
            .map(|(&index, run)| ShardCell { index, run })
            .collect();
        let shard_result =
            CompareShard::new(grid_hash, shard, title, grid_axes, cell_labels, cells)?;
        let path = shard_result.write(&args.out)?;
        outln!(
            "shard {shard}: {} of {} cells -> {}",
            mine.len(),
            shard_result.cell_labels.len(),
            path.display()
        );
        outln!("when every shard is done: dmsim merge DIR1 DIR2 … --out REPORT");
        return Ok(());
    }
    let report = CompareReport::new(title, grid_axes, runs)?;
    report.write(&args.out)?;
    out!("{}", report.to_markdown());
    outln!("report: {}", args.out.join(INDEX_FILE_NAME).display());
    Ok(())
}

/// A cache choice of the grid: a mode and a policy.
#[derive(Clone, Copy)]
struct GridCache {
    mode: ModeArg,
    policy: PolicyArg,
}

impl CacheChoice for GridCache {
    fn mode_name(self) -> &'static str {
        self.mode.name()
    }
    fn policy_name(self) -> &'static str {
        self.policy.name()
    }
}

fn parse_mode(text: &str) -> Result<ModeArg, String> {
    <ModeArg as clap::ValueEnum>::from_str(text, true).map_err(|_| format!("scenario grid: unknown mode '{text}' (writeback, writethrough, writearound, write-only)"))
}

fn parse_policy(text: &str) -> Result<PolicyArg, String> {
    <PolicyArg as clap::ValueEnum>::from_str(text, true)
        .map_err(|_| format!("scenario grid: unknown policy '{text}' (fifo, lru, lru-strict)"))
}

fn pacing(args: &CompareArgs, scenario: Option<&Scenario>) -> Result<Pacing, String> {
    let open_loop =
        args.open_loop || (args.qd.is_none() && scenario.is_some_and(|s| s.pacing.open_loop));
    if open_loop {
        let speed = args
            .speed
            .or(scenario.map(|s| s.pacing.speed))
            .unwrap_or(crate::cmd::replay::DEFAULT_SPEED);
        crate::cmd::replay::check_speed(speed)?;
        Ok(Pacing::OpenLoop { speed })
    } else {
        crate::unused_flags::refuse_given(
            &[("--speed", args.speed.is_some())],
            "it sets the open-loop replay rate, and this comparison is closed loop (--qd \
             requests in flight); add --open-loop",
        )?;
        let qd = args
            .qd
            .or(scenario.map(|s| s.pacing.qd))
            .unwrap_or(crate::cmd::replay::DEFAULT_QUEUE_DEPTH);
        Ok(Pacing::ClosedLoop { queue_depth: qd })
    }
}
