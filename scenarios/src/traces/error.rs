//! Errors of the trace readers. Every error names the file; errors about content also name
//! the 1-based line and the field.

use super::format::Format;
use super::source::Compression;
use std::path::{Path, PathBuf};

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
    #[error("{}: cannot detect the trace format: {reason}; name it explicitly (msr, systor, tencent, alibaba, spc, disksim, mqsim, blkparse, fio-v2, fio-v3, vscsi1, vscsi2, oracle-general, libcachesim-csv, plain-text)", path.display())]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{}: record {record} (byte {offset_bytes}): field `{field}`: {problem}", path.display())]
    MalformedRecord {
        path: PathBuf,
        /// 1-based record number in a binary trace.
        record: u64,
        /// Where the record starts in the (decompressed) file.
        offset_bytes: u64,
        field: &'static str,
        problem: String,
    },
    #[error("{}:{line}: field `{field}`: {problem}", path.display())]
    Malformed {
        path: PathBuf,
        /// 1-based line number in the (decompressed) file.
        line: u64,
        field: &'static str,
        problem: String,
    },
    #[error("{}: corrupt or truncated {compression} data after line {line}: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        /// The compression format's name (`gzip`, `bzip2`, `xz`, `zstd`).
        compression: &'static str,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: --format {given}: none of the first {lines} lines is a {given} record, and they read as {detected}; drop --format to detect it, or name the format the file is in", path.display())]
    FormatMismatch {
        path: PathBuf,
        given: Format,
        detected: Format,
        lines: usize,
    },
    #[error("invalid trace filter: {0}")]
    InvalidFilter(String),
}

impl TraceError {
    /// A read error after `line`: for a compressed file, anything but an operating-system
    /// error means the compressed data is corrupt or cut short.
    pub(crate) fn read(
        path: &Path,
        compression: Compression,
        line: u64,
        source: std::io::Error,
    ) -> TraceError {
        match compression.name() {
            Some(name) if source.raw_os_error().is_none() => TraceError::Corrupt {
                path: path.to_path_buf(),
                compression: name,
                line,
                source,
            },
            _ => TraceError::Read {
                path: path.to_path_buf(),
                line,
                source,
            },
        }
    }

    /// The 1-based line (or, in a binary trace, record) a content error refers to.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Read { line, .. }
            | TraceError::Corrupt { line, .. }
            | TraceError::Malformed { line, .. } => Some(*line),
            TraceError::MalformedRecord { record, .. } => Some(*record),
            _ => None,
        }
    }

    /// The field a malformed-record error refers to.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TraceError::Malformed { field, .. } | TraceError::MalformedRecord { field, .. } => {
                Some(field)
            }
            _ => None,
        }
    }
}
