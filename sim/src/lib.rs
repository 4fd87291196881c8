//! dmsim-sim: the deterministic simulation kernel and simulated devices.
//!
//! Map:
//! - [`event_queue`]: pending events ordered by (virtual ns, tie-break, sequence).
//! - [`streams`]: one seeded ChaCha stream per component, derived from (seed, name).
//! - [`runner`]: the run loop and its deadlock report.
//! - [`device`]: simulated block devices — content, volatile cache, strict checks, faults,
//!   crash — timed by a `dmsim-models` model.
//!
//! Nothing here reads a wall clock: virtual time is the only time.

pub mod block_table;
pub mod crash;
pub mod device;
pub mod event_queue;
pub mod oracle;
pub mod oracle_observer;
pub mod platform;
pub mod probe;
pub mod runner;
pub mod streams;
