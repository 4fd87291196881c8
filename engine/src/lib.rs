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
//! - `flashcache`: the flashcache target (specs/flashcache.md).
#![forbid(unsafe_code)]

pub mod block;
pub mod content;
pub mod flashcache;
