//! dmsim-sim: the deterministic simulation kernel and simulated devices.
//!
//! Map:
//! - [`platform`]: [`platform::SimPlatform`], the engine's platform in virtual time: the
//!   devices' own timing is the event queue (the earliest device event is the next
//!   instant), and completions of one instant come out in device order or, with
//!   [`platform::SimOptions::perturb_ties_seed`], in a seeded random order.
//! - [`streams`]: one seeded ChaCha stream per component, derived from (seed, name).
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
pub mod id_deque;
pub mod oracle;
pub mod oracle_observer;
pub mod platform;
pub mod poison;
pub mod probe;
pub mod streams;
