//! The one entry point of a spec'd run: [`Testbed::sim`] builds and runs a [`RunSpec`] on
//! simulated devices, [`Testbed::real`] on real devices the caller opened; both return a
//! [`RunOutcome`].

use crate::cache_run::{run_cache, CacheDevices};
use crate::spec::RunSpec;
use dmsim_reports::RunReport;
use dmsim_scenarios::fit::CompactMap;

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
    pub fn sim(spec: &RunSpec) -> Result<RunOutcome, String> {
        Testbed::sim_with_progress(spec, &mut |_| {})
    }

    /// [`Testbed::sim`], calling `progress(bios_done)` every sampling interval.
    pub fn sim_with_progress(
        spec: &RunSpec,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunOutcome, String> {
        let compact = compact_map(spec)?;
        Testbed::sim_with_compact(spec, compact, progress)
    }

    /// [`Testbed::sim_with_progress`] with the trace's compaction map already learned (a
    /// grid learns it once for all its cells; it must be `spec.input`'s map of the trace).
    pub fn sim_with_compact(
        spec: &RunSpec,
        compact: Option<CompactMap>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunOutcome, String> {
        let mut outcome = run_trace(spec, compact, CacheDevices::Sim, progress)?;
        outcome.report.spec =
            Some(serde_json::to_value(spec).map_err(|e| format!("the run spec: {e}"))?);
        Ok(outcome)
    }

    /// Runs `spec` on real `devices` (opened by the caller, writes allowed); real runs are
    /// not reproducible, so the report embeds no spec.
    pub fn real(
        spec: &RunSpec,
        devices: CacheDevices,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RunOutcome, String> {
        let compact = compact_map(spec)?;
        run_trace(spec, compact, devices, progress)
    }
}

/// The compaction map of the spec's trace, when its fit needs one (a first pass).
fn compact_map(spec: &RunSpec) -> Result<Option<CompactMap>, String> {
    spec.input.compact_map(&spec.trace.source()?)
}

/// A trace replay through the spec's cache setup.
fn run_trace(
    spec: &RunSpec,
    compact: Option<CompactMap>,
    devices: CacheDevices,
    progress: &mut dyn FnMut(u64),
) -> Result<RunOutcome, String> {
    let trace = spec.trace.source()?;
    let input = &spec.input;
    let volume_sectors = spec.setup.cache.table.target_sectors;
    let auto_fit = input.auto_fit(volume_sectors, compact.as_ref());
    let mut records = input.records(&trace, volume_sectors, compact)?;
    let mut config = spec.config.clone();
    if let Some(fit) = auto_fit {
        config["fit"] = fit.to_json();
    }
    let mut output = run_cache(
        &spec.setup,
        devices,
        &mut records,
        spec.pacing.pacing(),
        None,
        spec.seed,
        &spec.label,
        config,
        progress,
    )?;
    let tally = records.tally();
    let mut notes: Vec<String> = auto_fit.iter().map(|fit| fit.note()).collect();
    notes.extend(tally.record_order(&mut output.report.config));
    if spec.record_skipped_lines {
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
