//! dmsim-explore: the race explorer (VOPR-style swarm testing of the engine).
//!
//! Map:
//! - [`spec`]: a [`spec::SeedSpec`] — a whole run (target, devices, workload, queue depth,
//!   tie perturbation, a swarm of faults, power losses, BUGGIFY) drawn from one seed's own
//!   ChaCha stream under a [`spec::Profile`]; it serialises as a seed file.
//! - [`cache_geometry`]: flashcache geometry beyond the defaults (block and metadata block
//!   sizes, write-only caches, `disk_assoc`, a cache smaller than its SSD).
//! - [`device`]: the simulated RAM device, with 512-byte or 4 KiB logical blocks.
//! - [`drive_tally`]: each drive's own report against the inputs and outputs the checker saw.
//! - [`event_log`]: the event-log hash of the determinism check, and the last events.
//! - [`fallow`]: the fallow timer's liveness: an idle fault-free writeback cache drains.
//! - [`rig`]: the simulated devices, engines (rebuilt after power loss) and the checker
//!   (data oracle, bio statuses, event-log hash) one run uses.
//! - [`counters`]: counter oracles: a target's and the services' (block layer, dm_io, dm
//!   core) counters against each other, its status and the IO the checker saw, per device,
//!   op, outcome and (flashcache's SSD) region, whenever the engine is idle.
//! - [`counter_reach`]: which counters a batch ever saw above zero (a counter no seed
//!   moves is a path never driven or a count that stopped counting).
//! - [`sync_status`]: a raid5 sync pass's status line, probed while the pass runs.
//! - [`rebuild_front`]: reads that follow a raid5 rebuild's front (recovery_offset).
//! - [`resync`]: a raid5 resync walks no stripe outside the bitmap chunks writes touched.
//! - [`hits_check`]: the hit-counting mode (`dmsim hits`) against the timed engine, on the
//!   seeds where they must agree.
//! - [`policy_model`]: flashcache's lookup and replacement read again from the spec, held
//!   against the hit-counting mode slot by slot (writethrough and writearound).
//! - [`superblock_probe`]: the seed's cache created as writeback on a metadata image, then
//!   loaded as written and with one superblock field at a time made wrong.
//! - [`trace_window`]: windows of the repository's real block traces as workloads.
//! - [`pids`]: pid-list control messages a segment sends, and the model they must leave.
//! - [`table_probe`]: flashcache's table line as text: the seed's line reads back, and
//!   variants are taken or refused as spec 1.2's rules (written again here) say.
//! - [`message_probe`]: mistyped or respelt flashcache messages as each segment starts:
//!   refused naming the word, or taken with exactly their effect.
//! - [`write_flags`]: bios marked FUA, preflush or sync at drawn rates (every other draw
//!   issues plain bios).
//! - [`run`]: runs one spec with every oracle: the data oracle on every read,
//!   `check_invariants` after every input, strict device checks, a liveness phase with
//!   faults off, the determinism check (the run twice, equal event-log hashes; the repeat
//!   checks invariants only at the end of each drive) and, for
//!   fault-free runs, the same bio results as a pass-through (linear) volume.
//! - [`scrub`]: raid5's `check` or `repair` pass at the end of the liveness phase.
//! - [`stop`]: a segment's clean end: flashcache removed (metadata stored), then reloaded.
//! - [`shrink`](mod@shrink): a failing spec made smaller while it still fails the same way.
//! - [`batch`]: many seeds over worker threads, with coverage-mark counts.
//! - [`real`]: fault-free seeds on real block devices (`dmsim explore --real`), with the
//!   oracles that hold there.
//!
//! Deliberately not here: argument parsing and printing (the `dmsim explore` command).

pub mod batch;
pub mod cache_geometry;
pub mod counter_reach;
pub mod counters;
pub mod device;
pub mod drive_tally;
pub mod event_dump;
pub mod event_log;
pub mod fallow;
pub mod hits_check;
pub mod message_probe;
pub mod pids;
pub mod policy_model;
pub mod real;
pub mod rebuild_front;
pub mod resync;
pub mod rig;
pub mod run;
pub mod scrub;
pub mod shrink;
pub mod spec;
pub mod stop;
pub mod superblock_probe;
pub mod sync_status;
pub mod table_probe;
pub mod tag_table;
pub mod trace_window;
pub mod write_flags;

pub use batch::{explore, explore_with, BatchReport, SeedResult};
pub use real::{run_real_spec, RealDevices};
pub use run::{run_spec, write_event_log, Failure, FailureKind, RunReport};
pub use shrink::shrink;
pub use spec::{Profile, SeedSpec};
