//! The flashcache target (specs/flashcache.md): a set-associative SSD cache over a disk,
//! faithful to Facebook's flashcache 3.1.1 by default, each deliberate deviation a named
//! option ([`Options`], the spec's "Decisions").
//!
//! The target is a sans-IO state machine shaped like the kernel module: jobs are records in
//! slabs advanced by step functions (a job's continuation is an enum of flashcache's
//! actions, never a closure; completions name their job by [`CacheIoTag`]), IO completions run the callbacks flashcache runs in interrupt context, and
//! everything flashcache defers to its single work item waits on worker lists drained in
//! flashcache's fixed order by [`Flashcache::run_worker`].
//!
//! # Calling obligations
//!
//! Construction: [`Setup::new`] validates a [`FlashcacheConfig`] against the devices; for a
//! writeback cache it then emits synchronous bulk [`CacheRequest::DmIo`]s (create: probe the
//! superblock, write every slot, write the superblock; load: read the superblock, the
//! slots, rewrite the superblock). Perform each, copy read data into
//! [`Setup::meta_buffer_mut`] / write data from [`Setup::meta_buffer`], report it with
//! [`Setup::complete_dm_io`], until [`Setup::status`] is `Ready`; then [`Setup::finish`].
//! Writethrough and writearound caches are ready at once.
//!
//! Running, the caller feeds inputs, each stamped with the virtual time `now_ns`
//! (non-decreasing):
//! - [`Flashcache::map`] for every bio, already split by dm core so that no bio straddles a
//!   cache block (`ti->max_io_len = block_size`).
//! - [`Flashcache::complete_dm_io`] exactly once per [`CacheRequest::DmIo`] and
//!   [`Flashcache::complete_kcopyd`] exactly once per [`CacheRequest::KcopydCopy`], echoing the
//!   request's tag, in whatever order the devices finish. Data of [`CacheBuffer::Bio`] is the
//!   bio's pages: a read fills them, a write (including a cache fill after a disk read)
//!   writes what they hold. [`CacheBuffer::Meta`] is target-owned bytes (see
//!   [`Flashcache::meta_buffer`]) that stay valid until the completion is reported.
//! - [`Flashcache::run_worker`] after a [`CacheRequest::WakeWorker`] (at once, or after a
//!   modelled scheduling delay; another `WakeWorker` comes only after the worker ran).
//! - [`Flashcache::tick`] at or after [`Flashcache::poll_deadline`].
//! - [`Flashcache::zombie_ended`] once for every completion whose outcome said
//!   `zombie_io` (option `ssd_timeout`: an SSD IO cancelled while running), when the last
//!   device IO of that request has really ended.
//!
//! After every input drain [`Flashcache::poll_request`] and carry the requests out in
//! order. [`CacheRequest::CompleteBio`] ends a bio (exactly once per mapped bio). Requests may
//! be in flight concurrently; the target itself orders what must be ordered (a data write
//! completes before the metadata write marking it dirty is issued; a cleaning copy
//! completes before the metadata write marking it clean; one metadata write per md block at
//! a time). No FLUSH/FUA is ever issued unless option `honor_flush` is on.
//!
//! [`Flashcache::remove`] starts `dmsetup remove`: the caller keeps feeding completions,
//! worker runs and ticks until [`Flashcache::phase`] is [`Phase::Stopped`].
//!
//! Module map: [`config`] (options, top-level config, errors), [`table`] (table line),
//! [`tunables`] (sysctls), [`geometry`] (sizing, set mapping), [`jhash`] (lookup3),
//! [`layout`] (on-SSD bytes), [`state`] (block states and the checked transition
//! function), `set` and `replacement` (per-set lists, FIFO/LRU), [`seq`] (sequential
//! detector, pid lists), [`stats`], [`inject`] (error injection), [`io`] (the request
//! vocabulary), [`hits`] (the instant, dataless executor that counts hits); the state machine: `job`, `instance` (the `Flashcache` struct and its entry points), `io_path`, `pending`, `md`, `clean`,
//! `persist`, `control`, `zombie`, `invariants`.

pub mod config;
pub mod geometry;
pub mod hits;
pub mod inject;
pub mod io;
pub mod jhash;
pub mod layout;
pub mod seq;
pub mod state;
pub mod stats;
pub mod table;
pub mod tunables;

mod clean;
pub mod command;
mod control;
mod instance;
mod invariants;
mod io_path;
mod job;
mod link_check;
mod md;
mod pending;
mod persist;
pub(crate) mod replacement;
pub(crate) mod set;
mod touched;
mod victim_index;
mod zombie;

#[cfg(test)]
mod tests;

pub use command::Command;
pub use config::{
    Associativity, CacheDeviceSizes, CacheMode, ConfigError, DiskAssocRule, FlashcacheConfig,
    MdWriteFailure, Options, Persistence, ReclaimPolicy, TableLine, Tunable, Tunables, MAX_ASSOC,
    MIN_ASSOC,
};
pub use hits::{BioCounts, HitCounter, HitsError};
pub use inject::ErrorInjection;
pub use instance::{CacheInputError, Flashcache, Phase, StoreOutcome};
pub use invariants::FULL_CHECK_EVERY_CALLS;
pub use io::{
    CacheBio, CacheBioId, CacheBuffer, CacheDmIo, CacheIoTag, CacheRequest, Device, DmIoOutcome,
    IoOp, JobId, KcopydRequest, MetaBufferId, Region, RegionList,
};
pub use persist::{Setup, SetupError, SetupStatus};
pub use seq::PidList;
pub use state::BlockState;
pub use stats::{FlashcacheErrors, FlashcacheStats, Gauges, Histograms, StatusReport};
