//! dmsim-engine: the sans-IO engine of dmsim.
//!
//! The engine is a state machine. Everything that happens to it arrives as an input value;
//! everything it wants done leaves as an output value. It performs no IO, reads no clock,
//! spawns no thread and draws no ambient randomness (DESIGN.md, invariant 1). The same
//! compiled engine runs under the simulated platform (`dmsim-sim`) and the real one
//! (`dmsim-real`).
//!
//! Map of this crate, lowest layer first (no module imports a higher one; the test
//! `tests/module_graph.rs` checks that the module graph has no cycle):
//! - [`block`]: sectors, devices, operations — the vocabulary of block IO; [`content`]: what
//!   a 512-byte sector holds (stamps) and its byte encoding; [`arena`]: the aligned page
//!   memory all IO uses, with in-flight checks; [`io`]: the values crossing the boundary
//!   ([`Input`], [`Output`], [`Bio`], [`DeviceIo`]); errors ([`EngineError`], [`InputError`],
//!   [`Anomaly`], ...); the configuration ([`EngineConfig`]); `bounded` (the limit every
//!   fixed-point loop runs under).
//! - [`services`]: the layers targets build on — `handles` (cookies and routes), the block
//!   layer, [`services::dm_io`] (classic and timed), [`services::kcopyd`] — behind the
//!   [`Services`] facade, usable directly by tests.
//! - [`flashcache`]: the sans-IO flashcache state machine (specs/flashcache.md); it knows
//!   only the block vocabulary.
//! - [`raid5`]: the sans-IO md raid5 machine (specs/md-raid5.md).
//! - `target`: the [`TargetSpec`] and the engine's `Target` enum over `target::linear`
//!   (dm-linear), `target::flashcache` (the adapter between the services and the
//!   flashcache state machine) and `target::raid5` (the same for the raid5 machine), with the target-neutral [`TargetStatus`] and the typed
//!   [`TargetView`].
//! - `dm_core`: bio admission, splitting at the target's boundaries, completion.
//! - `engine`: [`Engine`], the state machine a platform drives.
//! - [`platform`]: the [`Platform`] and [`BioSource`] traits and the [`drive`] loop.
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

// First: the `mark!` macro is used by every module below.
#[macro_use]
pub mod marks;
pub mod arena;
pub mod block;
mod bounded;
mod buggify;
mod changed_ids;
mod config;
pub mod content;
mod dm_core;
mod engine;
mod error;
pub mod flashcache;
pub mod id_table;
pub mod io;
pub mod platform;
pub mod raid5;
pub mod services;
mod slab;
mod target;

pub use arena::{Arena, Buffer, MemoryLoan, PageBytes, PageId, PageList, PageMode};
pub use block::{DeviceId, DeviceInfo, Extent, IoStatus, Op};
pub use buggify::{BuggifyConfig, BuggifySite};
pub use config::{AnomalyPolicy, EngineConfig, PlugConfig, VictimIndexCheck};
pub use dm_core::DmCoreStats;
pub use engine::{Engine, EngineStats};
pub use error::{Anomaly, BioRejection, EngineError, InputError, InvariantViolation, WaitingJob};
pub use io::{
    Bio, BioDone, BioFlags, BioId, Completion, Control, DeviceIo, Input, IoTag, Output, SectorData,
};
pub use platform::{
    drive, drive_with_buffers, BioSource, DriveBuffers, DriveError, DriveObserver, DriveOptions,
    DriveOutcome, DriveReport, NoBios, Platform,
};
pub use services::{BlockLayerStats, Caller, ServiceEvent, ServiceStats, Services};
pub use slab::SlabKey;
pub use target::{FlashcacheState, KcopydGeneration, BIO_PID};
pub use target::{TargetSpec, TargetStatus, TargetView};
