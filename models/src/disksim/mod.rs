//! DiskSim 4.0 parameter import and validation.
//!
//! [`import`] reads a drive's files as DiskSim's `valid/` folder holds them —
//! `NAME.diskspecs` (a `disksim_disk` block whose `Model = source FILE` names the
//! `dm_disk` geometry/mechanics file), an optional `.seek` table for `extracted` seek
//! curves, and, when present, `NAME.parv` for the transfer time of the bus the disk hangs
//! on — and turns them into [`HddParams`]. [`validate`] replays `NAME.trace` (DiskSim's
//! "validate" trace format) through the model and compares service-time distributions.
//!
//! The parser ([`syntax`]) is a real tokenizer and recursive-descent parser; every error
//! names the file, the line and, where one is involved, the parameter. Parameters that do
//! not affect timing are accepted and ignored; those the model relies on are checked for
//! presence, type and range.

mod access;
mod import;
mod lexer;
mod seek_table;
pub mod syntax;
mod validate;

pub use access::value_f64;
pub use import::{import, import_from, InMemoryFiles, SourceFiles};
pub use seek_table::parse_seek_table;
pub use validate::{rms_demerit_ms, validate, validate_with, ValidationReport, ValidationTrace};

#[cfg(doc)]
use crate::hdd::HddParams;

/// An error reading DiskSim files: where it happened and what went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct DiskSimError {
    /// The file (as named in the directory or by a `source` statement).
    pub file: String,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    pub kind: DiskSimErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiskSimErrorKind {
    #[error("cannot read file: {reason}")]
    Io { reason: String },
    #[error("syntax error: {message}")]
    Syntax { message: String },
    #[error("block '{block}' lacks parameter '{key}'")]
    MissingKey { block: String, key: String },
    #[error("parameter '{key}' should be a {expected}, found a {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("parameter '{key}': {reason}")]
    InvalidValue { key: String, reason: String },
    #[error("parameter '{key}': not supported by this model: {reason}")]
    Unsupported { key: String, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("trace: {message}")]
    Trace { message: String },
}

impl DiskSimError {
    pub fn new(file: &str, line: usize, kind: DiskSimErrorKind) -> DiskSimError {
        DiskSimError {
            file: file.to_string(),
            line,
            kind,
        }
    }
}
