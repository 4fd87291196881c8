//! dmsim-sim: the deterministic simulation kernel and simulated devices.
//!
//! Map:
//! - [`event_queue`]: pending events ordered by (virtual ns, tie-break, sequence).
//! - [`streams`]: one seeded ChaCha stream per component, derived from (seed, name).
//! - [`runner`]: the run loop and its deadlock report.
//! - [`device`]: simulated block devices — content, volatile cache, strict checks, faults,
//!   crash — timed by a `dmsim-models` model.
//! - [`crash`]: power loss of every device of a platform at once.
//! - [`poison`]: the content faults leave where no engine wrote.
//! - [`oracle`], [`oracle_observer`]: the data oracle and its drive observer.
//!
//! Nothing here reads a wall clock: virtual time is the only time.

pub mod block_table;
pub mod crash;
pub mod device;
pub mod event_queue;
pub mod oracle;
pub mod oracle_observer;
pub mod platform;
pub mod poison;
pub mod probe;
pub mod runner;
pub mod streams;
