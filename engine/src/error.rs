//! Errors of the engine's public API: building an engine, feeding it inputs, and the
//! invariant checks.
//!
//! Deliberately not here: errors of dm_io and kcopyd calls (their modules own them).

use crate::block::{DeviceId, Op};
use crate::io::{BioId, IoTag};

/// Why an engine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("device {device}: {reason}")]
    BadDevice { device: DeviceId, reason: String },
    #[error("target names {device}, but only {devices} device(s) were given")]
    UnknownDevice { device: DeviceId, devices: usize },
    #[error("target: {0}")]
    BadTarget(String),
    #[error("config field `{field}`: {reason}")]
    BadConfig { field: &'static str, reason: String },
}

/// A broken calling obligation between two of the engine's components, seen at run time:
/// always an engine bug. Recorded under [`crate::AnomalyPolicy::Record`]; a panic otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{component}: {description}")]
pub struct Anomaly {
    /// The component that saw it (`"flashcache adapter"`).
    pub component: &'static str,
    /// What was broken, with the names and values involved.
    pub description: String,
}

/// Why a bio was refused (the caller's bug: nothing was started).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BioRejection {
    #[error("sectors {sector}+{sectors} exceed the volume's {volume_sectors}")]
    OutOfRange {
        sector: u64,
        sectors: u32,
        volume_sectors: u64,
    },
    #[error(
        "sectors {sector}+{sectors} are not aligned to the {block_sectors}-sector logical block"
    )]
    Misaligned {
        sector: u64,
        sectors: u32,
        block_sectors: u64,
    },
    #[error("{op:?} bio carries {data} data sectors, expected {expected}")]
    DataLength {
        op: Op,
        data: usize,
        expected: usize,
    },
    #[error("{op:?} bio of length 0 (only a flush may be empty)")]
    Empty { op: Op },
    #[error("bio needs {pages} pages but the arena holds only {arena_pages}")]
    LargerThanArena { pages: usize, arena_pages: usize },
    #[error("a bio with this id is still in the engine")]
    DuplicateId,
    #[error("the target does not support {op:?}")]
    Unsupported { op: Op },
}

/// An input the engine could not accept. The engine's state is unchanged by it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("completion for {tag}: no device IO in flight has this tag (stale or duplicate)")]
    UnknownCompletion { tag: IoTag },
    #[error("input at {now_ns} ns, but the engine already saw {last_ns} ns: time went backwards")]
    TimeWentBackwards { now_ns: u64, last_ns: u64 },
    #[error("bio {id:?} refused: {reason}")]
    BadBio { id: BioId, reason: BioRejection },
    #[error("control refused: {0}")]
    BadControl(String),
}

/// A broken invariant: always a bug of the engine (or of a platform feeding it nonsense).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated in {component}: {detail}")]
pub struct InvariantViolation {
    pub component: &'static str,
    pub detail: String,
}

impl InvariantViolation {
    pub fn new(component: &'static str, detail: impl Into<String>) -> InvariantViolation {
        InvariantViolation {
            component,
            detail: detail.into(),
        }
    }
}

/// Something that waits inside the engine, for the deadlock report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitingJob {
    /// Which component holds it: "bio", "dm_io", "kcopyd", a target name.
    pub component: &'static str,
    /// What it is and what it waits for, in words.
    pub description: String,
}

impl std::fmt::Display for WaitingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.component, self.description)
    }
}
