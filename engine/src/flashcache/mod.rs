//! The flashcache target (specs/flashcache.md): a set-associative SSD cache over a disk.

pub mod config;
pub mod geometry;
pub mod jhash;
pub mod layout;
pub(crate) mod replacement;
pub mod seq;
pub(crate) mod set;
pub mod state;
pub mod stats;
