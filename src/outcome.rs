//! What every run command does with its result: how a run's report is written and shown,
//! and its warnings printed. (The checks that turn a finished drive into an error are the
//! testbed's: `dmsim_testbed::check`.)

use dmsim_reports::{RunReport, SUMMARY_FILE_NAME};
use std::path::Path;

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
