//! dmsim-engine: the sans-IO engine of dmsim.
//!
//! The engine is a state machine. Everything that happens to it arrives as an input value;
//! everything it wants done leaves as an output value. It performs no IO, reads no clock,
//! spawns no thread and draws no ambient randomness (DESIGN.md, invariant 1). The same
//! compiled engine runs under the simulated platform (`dmsim-sim`) and the real one
//! (`dmsim-real`).
//!
//! Map of this crate:
//! - [`block`]: sectors, devices, operations — the vocabulary of block IO.
//! - [`content`]: what a 512-byte sector holds, as the data oracle sees it (stamps), and the
//!   byte encoding the real platform writes to disk.
//! - [`io`]: the values crossing the boundary ([`Input`], [`Output`], [`Bio`], [`DeviceIo`]).
//! - [`arena`]: the aligned page memory all IO uses, with in-flight checks.
//! - [`engine`]: [`Engine`], the state machine a platform drives.
//! - [`platform`]: the [`Platform`] and [`BioSource`] traits and the [`drive`] loop.
//! - [`services`]: raw device IO, [`dm_io`] (classic and timed) and [`kcopyd`], usable by
//!   targets and directly by tests.
//! - `dm_core` (bio splitting and completion), `linear` (the dm-linear target),
//!   [`flashcache`] (the flashcache state machine, specs/flashcache.md) and
//!   `flashcache_target` (its adapter into the engine: setup, pieces, dm_io/kcopyd,
//!   worker, messages).
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod arena;
pub mod block;
mod bounded;
pub mod config;
pub mod content;
pub mod dm_core;
pub mod engine;
pub mod error;
pub mod flashcache;
pub mod io;
pub mod platform;
pub mod services;
mod slab;
pub mod target;

pub use arena::{Arena, Buffer, PageBytes, PageId, PageMode};
pub use block::{DeviceId, DeviceInfo, Extent, IoStatus, Op};
pub use config::{AnomalyPolicy, EngineConfig, PlugConfig};
pub use engine::{Engine, EngineStats};
pub use error::{Anomaly, BioRejection, EngineError, InputError, InvariantViolation, WaitingJob};
pub use io::{Bio, BioDone, BioFlags, BioId, Completion, Control, DeviceIo, Input, IoTag, Output};
pub use platform::{
    drive, BioSource, DriveError, DriveObserver, DriveOptions, DriveOutcome, DriveReport, Platform,
};
pub use services::{BlockLayerStats, Caller, ServiceEvent, Services};
pub use slab::SlabKey;
pub use target::{FlashcacheState, KcopydGeneration, BIO_PID};
pub use target::{TargetSpec, TargetStatus, TargetView};
