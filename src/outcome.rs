//! What every run command does with its result: the checks that turn a finished drive into an
//! error (the simulated devices refused an IO, a real device refused one, the run
//! deadlocked), and how a run's report is written and shown.

use dmsim_engine::WaitingJob;
use dmsim_real::RealPlatform;
use dmsim_reports::{RunReport, SUMMARY_FILE_NAME};
use dmsim_sim::platform::SimPlatform;
use std::path::Path;

/// An error if the engine issued an IO a simulated device refused (an engine bug).
pub fn check_sim_violations(platform: &SimPlatform) -> Result<(), String> {
    match platform.violations().first() {
        Some(first) => Err(format!(
            "the engine issued {} IO(s) the simulated devices refuse; first: {first}",
            platform.violations().len()
        )),
        None => Ok(()),
    }
}

/// An error if a real device refused IOs (outside the window, read-only, misaligned).
pub fn check_real_refusals(platform: &mut RealPlatform) -> Result<(), String> {
    let errors = platform.take_errors();
    match errors.first() {
        Some(first) => Err(format!(
            "{} device IO(s) were refused; first: {first}",
            errors.len()
        )),
        None => Ok(()),
    }
}

/// The message of a run that stalled at `end_ns` with `waiting` jobs.
pub fn deadlock(end_ns: u64, waiting: &[WaitingJob]) -> String {
    let list: Vec<String> = waiting.iter().map(|w| format!("{w:?}")).collect();
    format!(
        "the run deadlocked at {end_ns} ns; waiting:\n  {}",
        list.join("\n  ")
    )
}

/// Print each warning on stderr, once.
pub fn warn_all(warnings: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for warning in warnings {
        if seen.insert(warning) {
            eprintln!("dmsim: warning: {warning}");
        }
    }
}

/// Refuse an output folder that cannot be written, before a run spends its time: the folder
/// (or, if it does not exist yet, the nearest existing folder above it, where it would be
/// created) must be a writable directory. Nothing is created: a run that fails later leaves
/// no output behind.
pub fn check_out_dir(dir: &Path) -> Result<(), String> {
    let refuse = |why: String| format!("--out {}: {why}", dir.display());
    let mut existing = dir;
    // Bounded by the path's depth.
    while !existing.as_os_str().is_empty() && !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    if !existing.is_dir() {
        return Err(refuse(format!("{} is not a directory", existing.display())));
    }
    // Probe with a file of our own: permission bits alone miss read-only mounts and root.
    match tempfile::Builder::new()
        .prefix(".dmsim-write-check")
        .tempfile_in(existing)
    {
        Ok(probe) => probe
            .close()
            .map_err(|e| refuse(format!("cannot remove the write probe: {e}"))),
        Err(e) => Err(refuse(format!(
            "cannot write in {}: {e}",
            existing.display()
        ))),
    }
}

/// Write `DIR/summary.json` when `out` is given, then print the report: as JSON, or as the
/// human summary followed by the oracle's figures and `notes` (one line each).
pub fn emit(
    report: &RunReport,
    notes: &[String],
    out: Option<&Path>,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = out {
        report.write_summary(dir)?;
    }
    if json {
        outln!("{}", report.to_json());
        return Ok(());
    }
    out!("{}", report.summary_text());
    outln!(
        "verified reads {}, data errors {}",
        report.verified_reads,
        report.data_errors
    );
    for note in notes {
        outln!("{}", note.trim_end());
    }
    if let Some(dir) = out {
        outln!("summary: {}", dir.join(SUMMARY_FILE_NAME).display());
    }
    Ok(())
}
