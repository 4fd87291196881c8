//! DiskSim 4.0 parameter import and validation.
//!
//! [`import`] reads a drive's files as DiskSim's `valid/` folder holds them — `NAME.parv`
//! (whose topology places the disk and the bus it hangs on) and the files it sources,
//! or else `NAME.diskspecs`; the `disksim_disk` block, whose `Model = source FILE` names
//! the `dm_disk` geometry/mechanics file; an optional `.seek` table for `extracted` seek
//! curves — and turns them into [`HddParams`], listing every parameter whose effect the
//! model does not reproduce as an [`UnmodelledParameter`]. [`validate`] replays
//! `NAME.trace` (DiskSim's "validate" trace format) through the model and compares
//! service-time distributions.
//!
//! The parser ([`syntax`]) is a real tokenizer and recursive-descent parser; every error
//! names the file, the line and, where one is involved, the parameter. Parameters the
//! model relies on are checked for presence, type and range.

#![deny(missing_docs)]

mod access;
mod audit;
mod import;
mod lexer;
mod seek_table;
pub mod syntax;
mod validate;

pub use access::value_f64;
pub use audit::UnmodelledParameter;
pub use import::{import, import_from, DiskSimImport, InMemoryFiles, SourceFiles};
pub use seek_table::parse_seek_table;
pub use validate::{rms_demerit_ms, validate, validate_with, ValidationReport, ValidationTrace};

#[cfg(doc)]
use crate::hdd::HddParams;

/// An error reading DiskSim files: where it happened and what went wrong (`FILE:LINE: ...`,
/// or `FILE: ...` for the file as a whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {kind}", line_suffix(*line))]
pub struct DiskSimError {
    /// The file (as named in the directory or by a `source` statement).
    pub file: String,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// What went wrong.
    pub kind: DiskSimErrorKind,
}

/// `:LINE`, or nothing for line 0 (the file as a whole).
fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiskSimErrorKind {
    /// A file could not be read.
    #[error("cannot read file: {reason}")]
    Io {
        /// The operating system's or importer's reason.
        reason: String,
    },
    /// The text does not follow the parameter-file grammar.
    #[error("syntax error: {message}")]
    Syntax {
        /// What was expected and what was found.
        message: String,
    },
    /// A parameter the model relies on is absent.
    #[error("block '{block}' lacks parameter '{key}'")]
    MissingKey {
        /// The block's type (and name).
        block: String,
        /// The parameter's name.
        key: String,
    },
    /// A parameter has a value of the wrong type.
    #[error("parameter '{key}' should be a {expected}, found a {found}")]
    WrongType {
        /// The parameter's name.
        key: String,
        /// The type the model needs.
        expected: &'static str,
        /// The type in the file.
        found: &'static str,
    },
    /// A parameter's value is out of range or inconsistent.
    #[error("parameter '{key}': {reason}")]
    InvalidValue {
        /// The parameter's name.
        key: String,
        /// Why the value is refused.
        reason: String,
    },
    /// Valid DiskSim, but a feature this model does not reproduce.
    #[error("parameter '{key}': not supported by this model: {reason}")]
    Unsupported {
        /// The parameter's name.
        key: String,
        /// Which value or feature.
        reason: String,
    },
    /// A block or file the importer needs is not there.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A validate-trace line is malformed.
    #[error("trace: {message}")]
    Trace {
        /// What is wrong with the line.
        message: String,
    },
}

impl DiskSimError {
    /// An error at `file:line`.
    pub fn new(file: &str, line: usize, kind: DiskSimErrorKind) -> DiskSimError {
        DiskSimError {
            file: file.to_string(),
            line,
            kind,
        }
    }
}
