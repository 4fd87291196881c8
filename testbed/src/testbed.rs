//! The one entry point of a spec'd run: [`Testbed::sim`] builds and runs a [`RunSpec`] on
//! simulated devices, [`Testbed::real`] on real devices the caller opened; both return a
//! [`RunOutcome`].

use crate::cache_run::{run_cache, CacheDevices};
use crate::report_config::report_config;
use crate::run_error::RunError;
use crate::run_progress::RunProgress;
use crate::spec::{RecordsSpec, RunSpec};
use crate::trace_records::{TraceInput, TraceSource};
use dmsim_reports::RunReport;
use dmsim_scenarios::fit::CompactMap;
use dmsim_scenarios::workload::{WorkloadGenerator, WorkloadSpec};
use dmsim_sim::streams::stream;

/// What a finished run produced.
pub struct RunOutcome {
    /// The summary (with its time series, the oracle's verdict: verified reads and data
    /// errors, and the counters).
    pub report: RunReport,
    /// Lines printed after the summary (fit, trace order, skipped lines, the target's
    /// status).
    pub notes: Vec<String>,
    /// What the user should be warned of (requests that failed with IO errors).
    pub warnings: Vec<String>,
}

/// See the module documentation.
pub struct Testbed;

impl Testbed {
    /// Runs `spec` on simulated devices; the report embeds the spec.
    pub fn sim(spec: &RunSpec) -> Result<RunOutcome, RunError> {
        Testbed::sim_with_progress(spec, &mut |_| {})
    }

    /// [`Testbed::sim`], calling `progress(bios_done)` every sampling interval.
    pub fn sim_with_progress(
        spec: &RunSpec,
        progress: &mut dyn FnMut(&RunProgress),
    ) -> Result<RunOutcome, RunError> {
        let compact = compact_map(spec)?;
        Testbed::sim_with_compact(spec, compact, progress)
    }

    /// [`Testbed::sim_with_progress`] with the trace's compaction map already learned (a
    /// grid learns it once for all its cells; it must be the spec's trace input's map).
    pub fn sim_with_compact(
        spec: &RunSpec,
        compact: Option<CompactMap>,
        progress: &mut dyn FnMut(&RunProgress),
    ) -> Result<RunOutcome, RunError> {
        let mut outcome = run_records(spec, compact, CacheDevices::Sim, progress)?;
        outcome.report.spec = Some(
            serde_json::to_value(spec)
                .map_err(|e| RunError::Engine(format!("the run spec: {e}")))?,
        );
        Ok(outcome)
    }

    /// The compaction map of the spec's trace when its fit needs one (a first pass over the
    /// trace), for [`Testbed::sim_with_compact`]; it also counts the records the run will
    /// replay (a progress display's total).
    pub fn compact_map(spec: &RunSpec) -> Result<Option<CompactMap>, RunError> {
        compact_map(spec)
    }

    /// Runs `spec` on real `devices` (opened by the caller, writes allowed); real runs are
    /// not reproducible, so the report embeds no spec.
    pub fn real(
        spec: &RunSpec,
        devices: CacheDevices,
        progress: &mut dyn FnMut(&RunProgress),
    ) -> Result<RunOutcome, RunError> {
        let compact = compact_map(spec)?;
        run_records(spec, compact, devices, progress)
    }
}

/// The compaction map of the spec's trace, when its fit needs one (a first pass).
fn compact_map(spec: &RunSpec) -> Result<Option<CompactMap>, RunError> {
    match &spec.records {
        RecordsSpec::Trace { source, input, .. } => source
            .source()
            .and_then(|trace| input.compact_map(&trace))
            .map_err(RunError::Input),
        RecordsSpec::Generator { .. } => Ok(None),
    }
}

fn run_records(
    spec: &RunSpec,
    compact: Option<CompactMap>,
    devices: CacheDevices,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<RunOutcome, RunError> {
    match &spec.records {
        RecordsSpec::Trace {
            source,
            input,
            record_skipped_lines,
        } => {
            let trace = source.source().map_err(RunError::Input)?;
            run_trace(
                spec,
                &trace,
                input,
                *record_skipped_lines,
                compact,
                devices,
                progress,
            )
        }
        RecordsSpec::Generator { workload } => run_generator(spec, workload, devices, progress),
    }
}

/// A generated workload through the spec's cache setup.
fn run_generator(
    spec: &RunSpec,
    workload: &WorkloadSpec,
    devices: CacheDevices,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<RunOutcome, RunError> {
    let generator = WorkloadGenerator::new(workload, stream(spec.seed, "workload"))
        .map_err(|e| RunError::Input(e.to_string()))?;
    let output = run_cache(
        &spec.setup,
        devices,
        generator.map(Ok),
        spec.pacing.pacing(),
        spec.stop_at_ns,
        spec.seed,
        &spec.label,
        report_config(spec),
        progress,
    )?;
    Ok(RunOutcome {
        report: output.report,
        notes: vec![output.status_text],
        warnings: output.warnings,
    })
}

/// A trace replay through the spec's cache setup.
fn run_trace(
    spec: &RunSpec,
    trace: &TraceSource,
    input: &TraceInput,
    record_skipped_lines: bool,
    compact: Option<CompactMap>,
    devices: CacheDevices,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<RunOutcome, RunError> {
    let volume_sectors = spec.setup.cache.table.target_sectors;
    let auto_fit = input.auto_fit(volume_sectors, compact.as_ref());
    let mut records = input
        .records(trace, volume_sectors, compact)
        .map_err(RunError::Input)?;
    let mut config = report_config(spec);
    if let Some(fit) = auto_fit {
        config["fit"] = fit.to_json();
    }
    let mut output = run_cache(
        &spec.setup,
        devices,
        &mut records,
        spec.pacing.pacing(),
        spec.stop_at_ns,
        spec.seed,
        &spec.label,
        config,
        progress,
    )?;
    let tally = records.tally();
    let mut notes: Vec<String> = auto_fit.iter().map(|fit| fit.note()).collect();
    notes.extend(tally.record_order(&mut output.report.config));
    if record_skipped_lines {
        output.report.config["bad_lines_skipped"] = tally.bad_lines_skipped.into();
        if let Some(first) = &tally.first_bad_line {
            output.report.config["first_bad_line"] = first.clone().into();
            notes.push(format!(
                "skipped {} malformed line(s); first: {first}",
                tally.bad_lines_skipped
            ));
        } else {
            notes.push("skipped 0 malformed lines".to_string());
        }
    }
    if output.overlap_waits > 0 {
        notes.push(format!(
            "{} write(s) waited for an overlapping write in flight",
            output.overlap_waits
        ));
    }
    if output.skipped_records > 0 {
        notes.push(format!(
            "skipped {} record(s) with no bio equivalent",
            output.skipped_records
        ));
    }
    notes.push(output.status_text);
    Ok(RunOutcome {
        report: output.report,
        notes,
        warnings: output.warnings,
    })
}
