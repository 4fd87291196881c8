//! DiskSim 4.0 parameter import (placeholder until the importer lands).

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DiskSimError {
    pub file: String,
    pub line: usize,
    pub message: String,
}
