//! Errors of the trace readers. Every error names the file; errors about content also name
//! the 1-based line and the field.

use std::path::PathBuf;

/// Why a trace could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{}: cannot open trace: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: read error after line {line}: {source}", path.display())]
    Read {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot detect the trace format: {reason}; name it explicitly (msr, systor, tencent, alibaba, spc, disksim, mqsim, blkparse, fio-v2, fio-v3)", path.display())]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{}:{line}: field `{field}`: {problem}", path.display())]
    Malformed {
        path: PathBuf,
        /// 1-based line number in the (decompressed) file.
        line: u64,
        field: &'static str,
        problem: String,
    },
    #[error("invalid trace filter: {0}")]
    InvalidFilter(String),
}

impl TraceError {
    /// The 1-based line a content error refers to.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Read { line, .. } | TraceError::Malformed { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The field a malformed-record error refers to.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TraceError::Malformed { field, .. } => Some(field),
            _ => None,
        }
    }
}
