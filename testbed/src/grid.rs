//! A comparison grid (`dmsim compare`): cache choices × setting axes over one input, with a
//! no-cache baseline per disk, expanded into one `RunSpec` per cell in grid order.
//!
//! The front end parses its flags and scenario into the cache choices, the axes and a
//! resolved setup per cell; everything else a cell is (its label, its baseline, its report
//! configuration, its record source) is decided here, so a cell's spec is the same whoever
//! builds the grid, and a shard of the grid is identified by what decides its results.

use crate::report_config::RunDescription;
use crate::run_error::RunError;
use crate::setup::CacheSetup;
use crate::spec::{PacingSpec, RecordsSpec, RunSpec, TraceRef};
use crate::trace_records::{TraceInput, TraceSource};
use dmsim_reports::{GridAxis, GridHasher};
use dmsim_scenarios::fit::CompactMap;
use dmsim_scenarios::source::Pacing;
use dmsim_scenarios::workload::WorkloadSpec;

/// Label of the baseline rows (`none`, then `/KEY=VALUE` per disk axis).
pub const BASELINE_LABEL: &str = "none";

/// A cache choice of the grid: a mode and a policy, as users name them.
pub trait CacheChoice: Copy {
    fn mode_name(self) -> &'static str;
    fn policy_name(self) -> &'static str;
}

/// What every cell of the grid consumes.
pub enum GridInput {
    Trace {
        source: TraceSource,
        input: TraceInput,
        /// The trace's touched chunks, when its fit needs them (read once for the grid).
        compact: Option<CompactMap>,
    },
    Workload(WorkloadSpec),
}

impl GridInput {
    /// The compact map each cell's run takes (a copy: runs own theirs).
    pub fn compact(&self) -> Option<CompactMap> {
        match self {
            GridInput::Trace { compact, .. } => compact.clone(),
            GridInput::Workload(_) => None,
        }
    }
}

/// One cell of the grid: a cache choice, or `None` for the no-cache baseline
/// (`--target linear`), and the axis values it takes.
pub struct GridCell<C> {
    pub cache: Option<C>,
    pub sets: Vec<(String, String)>,
}

/// A grid axis that changes the disk, so the baseline too: one baseline per value.
pub fn is_disk_key(key: &str) -> bool {
    key.starts_with("hdd.") || key.starts_with("raid5.")
}

/// Every combination of the axes' values, in grid order (the last axis varies fastest).
fn combinations(axes: &[&(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// The grid's cells in grid order: the baselines first (one per combination of the disk
/// axes; none with `baseline` false), then every cache choice with every combination of
/// the axes.
pub fn cells<C: Copy>(
    caches: &[C],
    axes: &[(String, Vec<String>)],
    baseline: bool,
) -> Vec<GridCell<C>> {
    let mut cells = Vec::new();
    if baseline {
        let disk_axes: Vec<_> = axes.iter().filter(|(key, _)| is_disk_key(key)).collect();
        for sets in combinations(&disk_axes) {
            cells.push(GridCell { cache: None, sets });
        }
    }
    let all_axes: Vec<_> = axes.iter().collect();
    for &cache in caches {
        for sets in combinations(&all_axes) {
            cells.push(GridCell {
                cache: Some(cache),
                sets,
            });
        }
    }
    cells
}

impl<C: CacheChoice> GridCell<C> {
    /// The cell's label: `MODE/POLICY` or `none`, then `/KEY=VALUE` per axis.
    pub fn label(&self) -> String {
        let mut label = match self.cache {
            Some(cache) => format!("{}/{}", cache.mode_name(), cache.policy_name()),
            None => BASELINE_LABEL.to_string(),
        };
        for (k, v) in &self.sets {
            label.push_str(&format!("/{k}={v}"));
        }
        label
    }

    /// The label of the baseline a cache cell is measured against: the one on the same disk.
    pub fn baseline_label(&self) -> String {
        let mut label = BASELINE_LABEL.to_string();
        for (k, v) in self.sets.iter().filter(|(k, _)| is_disk_key(k)) {
            label.push_str(&format!("/{k}={v}"));
        }
        label
    }
}

/// How every cell of a grid runs, besides its cell.
pub struct GridRuns<'a> {
    pub input: &'a GridInput,
    /// The input's name in reports (a trace's file name, `workload:NAME`).
    pub input_name: &'a str,
    pub pacing: Pacing,
    pub seed: u64,
    /// Cache cells name their baseline (`config.baseline`).
    pub baseline: bool,
}

/// The grid's cells as specs, in grid order; `setups[k]` is cell k's resolved setup. Fails
/// before anything runs if a cell cannot run (a workload span beyond its volume). The
/// second value holds the notes of cells whose trace is placed by an automatic fit.
pub fn specs<C: CacheChoice>(
    cells: &[GridCell<C>],
    setups: &[CacheSetup],
    runs: &GridRuns,
) -> Result<(Vec<RunSpec>, Vec<String>), RunError> {
    assert_eq!(cells.len(), setups.len(), "one setup per cell");
    let mut specs = Vec::with_capacity(cells.len());
    let mut fit_notes = Vec::new();
    for (cell, setup) in cells.iter().zip(setups) {
        let label = cell.label();
        let mut description = match cell.cache {
            Some(cache) => {
                RunDescription::cache(runs.input_name, cache.mode_name(), cache.policy_name())
            }
            None => RunDescription::linear(runs.input_name),
        };
        description.grid = cell
            .sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if cell.cache.is_some() && runs.baseline {
            description.baseline = Some(cell.baseline_label());
        }
        let volume = setup.cache.table.target_sectors;
        let records = match runs.input {
            GridInput::Trace {
                source,
                input,
                compact,
            } => {
                // The run derives the same fit again for its report.
                if let Some(fit) = input.auto_fit(volume, compact.as_ref()) {
                    fit_notes.push(fit.note());
                }
                RecordsSpec::Trace {
                    source: TraceRef::from_source(source),
                    input: input.clone(),
                    record_skipped_lines: false,
                }
            }
            GridInput::Workload(workload) => {
                let workload = fit_span(workload, volume)
                    .map_err(|e| RunError::Input(format!("run {label}: {e}")))?;
                RecordsSpec::Generator { workload }
            }
        };
        specs.push(RunSpec {
            setup: setup.clone(),
            records,
            pacing: PacingSpec::from_pacing(runs.pacing),
            stop_at_ns: None,
            seed: runs.seed,
            label,
            config: description.into(),
        });
    }
    Ok((specs, fit_notes))
}

/// A workload's span on a volume of `volume_sectors`: span 0 means the rest of the volume
/// from the span's start; a span beyond the volume is refused.
fn fit_span(workload: &WorkloadSpec, volume_sectors: u64) -> Result<WorkloadSpec, String> {
    let mut workload = workload.clone();
    let volume_bytes = volume_sectors * 512;
    if workload.span_bytes == 0 {
        workload.span_bytes = volume_bytes
            .checked_sub(workload.span_start_bytes)
            .ok_or_else(|| {
                format!(
                    "input.workload.span_start_bytes {} lies beyond the volume ({volume_bytes} bytes)",
                    workload.span_start_bytes
                )
            })?;
    }
    if workload
        .span_start_bytes
        .saturating_add(workload.span_bytes)
        > volume_bytes
    {
        return Err(format!(
            "input.workload: span {}+{} bytes ends beyond the volume ({volume_bytes} bytes)",
            workload.span_start_bytes, workload.span_bytes
        ));
    }
    Ok(workload)
}

/// The identity of a comparison grid, equal in every shard of one `compare` invocation run
/// with the same input and options: dmsim's version, the title and axes, how the input is
/// read and its bytes, and every cell's spec in grid order.
pub fn grid_hash(
    title: &str,
    axes: &[GridAxis],
    input: &GridInput,
    specs: &[RunSpec],
) -> Result<String, RunError> {
    let mut hasher = GridHasher::default();
    hasher
        .part(env!("CARGO_PKG_VERSION").as_bytes())
        .part(title.as_bytes())
        .part(&serde_json::to_vec(axes).expect("axes serialise"));
    match input {
        GridInput::Workload(spec) => {
            hasher.part(&serde_json::to_vec(spec).expect("a workload spec serialises"));
        }
        GridInput::Trace { source, input, .. } => {
            hasher.part(&serde_json::to_vec(input).expect("trace input options serialise"));
            match source {
                TraceSource::Bundled { name, bytes } => {
                    hasher.part(name.as_bytes()).part(bytes);
                }
                TraceSource::File(path) => hash_file(&mut hasher, path).map_err(RunError::Input)?,
            }
        }
    }
    for spec in specs {
        hasher.part(&serde_json::to_vec(spec).expect("a run spec serialises"));
    }
    Ok(hasher.finish_hex())
}

/// Adds a trace file's length and bytes, streamed (traces can be many gigabytes).
fn hash_file(hasher: &mut GridHasher, path: &std::path::Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        format!(
            "{}: cannot open the trace to fingerprint it: {e}",
            path.display()
        )
    })?;
    let length = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    hasher.bytes(&length.to_le_bytes());
    std::io::copy(&mut file, hasher)
        .map_err(|e| format!("{}: read error while fingerprinting: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct Choice(&'static str, &'static str);
    impl CacheChoice for Choice {
        fn mode_name(self) -> &'static str {
            self.0
        }
        fn policy_name(self) -> &'static str {
            self.1
        }
    }

    fn axis(key: &str, values: &[&str]) -> (String, Vec<String>) {
        (
            key.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        )
    }

    #[test]
    fn baselines_come_first_one_per_disk_value_and_the_last_axis_varies_fastest() {
        let caches = [Choice("writeback", "fifo"), Choice("writethrough", "lru")];
        let axes = [
            axis("hdd.rpm", &["5400", "7200"]),
            axis("dirty_thresh_pct", &["10", "20"]),
        ];
        let labels: Vec<String> = cells(&caches, &axes, true)
            .iter()
            .map(GridCell::label)
            .collect();
        assert_eq!(
            labels,
            [
                "none/hdd.rpm=5400",
                "none/hdd.rpm=7200",
                "writeback/fifo/hdd.rpm=5400/dirty_thresh_pct=10",
                "writeback/fifo/hdd.rpm=5400/dirty_thresh_pct=20",
                "writeback/fifo/hdd.rpm=7200/dirty_thresh_pct=10",
                "writeback/fifo/hdd.rpm=7200/dirty_thresh_pct=20",
                "writethrough/lru/hdd.rpm=5400/dirty_thresh_pct=10",
                "writethrough/lru/hdd.rpm=5400/dirty_thresh_pct=20",
                "writethrough/lru/hdd.rpm=7200/dirty_thresh_pct=10",
                "writethrough/lru/hdd.rpm=7200/dirty_thresh_pct=20",
            ]
        );
        let grid = cells(&caches, &axes, true);
        assert_eq!(grid[3].baseline_label(), "none/hdd.rpm=5400");
        assert_eq!(grid[9].baseline_label(), "none/hdd.rpm=7200");
        assert_eq!(cells(&caches, &axes, false).len(), 8);
    }

    #[test]
    fn a_workload_span_is_fitted_to_the_volume_or_refused() {
        let mut workload: WorkloadSpec = serde_json::from_value(serde_json::json!({
            "span_start_bytes": 4096, "span_bytes": 0, "pattern": {"kind": "uniform"},
            "read_percent": 50.0, "request_size": {"kind": "fixed", "bytes": 4096},
        }))
        .expect("a workload spec");
        assert_eq!(fit_span(&workload, 16).unwrap().span_bytes, 8192 - 4096);
        workload.span_bytes = 8192;
        let refused = fit_span(&workload, 16).unwrap_err();
        assert!(
            refused.contains("ends beyond the volume (8192 bytes)"),
            "{refused}"
        );
        workload.span_start_bytes = 9000;
        workload.span_bytes = 0;
        let refused = fit_span(&workload, 16).unwrap_err();
        assert!(refused.contains("span_start_bytes 9000"), "{refused}");
    }
}
