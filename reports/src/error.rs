//! Errors of the reports crate.
//!
//! Every error that involves a file names its path; errors about a report's content name the
//! run and field at fault. This module owns no recovery policy: callers decide what to print.

use std::path::PathBuf;

/// Everything that can go wrong while building, reading or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A filesystem operation on `path` failed.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// What was being done, e.g. "create directory", "write", "rename into place".
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed as the expected report type.
    #[error("{path}: not a valid {what}: {source}")]
    Json {
        /// The file that was read.
        path: PathBuf,
        /// The report type that was expected ("summary.json", "compare.json").
        what: &'static str,
        /// serde_json's error, which names the line and column.
        source: serde_json::Error,
    },
    /// Drawing a chart failed (the backend reported an error).
    #[error("{path}: drawing chart '{chart}' failed: {message}")]
    Chart {
        /// The output file being drawn.
        path: PathBuf,
        /// The chart's file stem, e.g. "hit_ratio".
        chart: &'static str,
        /// The backend's error, rendered as text (its types are backend-generic).
        message: String,
    },
    /// The bundled font could not be registered with plotters.
    #[error("bundled font assets/DejaVuSans.ttf could not be registered with plotters")]
    Font,
    /// A report's content breaks one of its documented invariants.
    #[error("{context}: field '{field}': {problem}")]
    Invalid {
        /// Where: a file path, a run label, or "compare report".
        context: String,
        /// The field at fault, e.g. `runs[3].label`, `time_series.cleanings`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl ReportError {
    /// Shorthand for [`ReportError::Invalid`].
    pub(crate) fn invalid(
        context: impl Into<String>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ReportError::Invalid {
            context: context.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`ReportError::Io`].
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        ReportError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
