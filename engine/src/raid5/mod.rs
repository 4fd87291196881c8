//! md raid5 (specs/md-raid5.md): a sans-IO stripe-cache raid5 over N member devices.
//!
//! # Calling obligations
//!
//! [`Raid5::new`] validates the shape against the members and takes the stripe cache's
//! pages from the arena. Then feed inputs stamped with non-decreasing virtual time:
//! - [`Raid5::make_request`] for every array bio (reads and writes of any sector range in
//!   the array, flushes; discards are refused with `NotSupported`);
//! - [`Raid5::complete_member_io`] exactly once per [`Raid5Request::MemberIo`], echoing its
//!   tag, in any order; a read fills the request's buffer first;
//! - [`Raid5::tick`] at or after [`Raid5::poll_deadline`] (the plug's end);
//! - [`Raid5::fail_member`] to fail a member, [`Raid5::add_spare`] to rebuild one;
//!
//! After each, drain [`Raid5::poll_request`] in order. A [`Raid5Request::BioDone`] ends a
//! bio (exactly once). The buffers of member IOs are the stripe cache's pages (or, for an
//! aligned read, the bio's) and must not be touched until their completion.
//!
//! Module map: [`config`] (shape, tunables and their errors), [`geometry`] (md's
//! `raid5_compute_sector` and its inverse for the four layouts), [`buffer`] (a member page's
//! states and the one checked transition function), `stripe` (stripe heads, bio lists,
//! OVERWRITE and overlap), `cache` (the pool, hash and lists), `parity` (XOR over real
//! bytes), [`io`] (requests and tags), [`stats`]; the machine: `instance` (entry points,
//! make_request's walk and waits, raid5d) and `handle` (handle_stripe) `sync` (the check, repair and recovery passes), `sync_speed` (md's speed limits),
//! `recovery` (spares and rebuild), [`superblock`] (the persistent state's format) and
//! `metadata` (assembly, dirty/clean marking, the write-intent bitmap, resync's scope).

pub mod buffer;
pub mod config;
pub mod geometry;
pub mod io;
pub mod stats;
pub mod superblock;

mod cache;
mod handle;
mod instance;
mod metadata;
mod parity;
mod recovery;
mod stripe;
mod sync;
mod sync_speed;

#[cfg(test)]
mod tests;

pub use buffer::{BufferPhase, BufferTransition, MemberBuffer};
pub use cache::FULL_CHECK_EVERY_CALLS;
pub use config::{Layout, Raid5Config, Raid5ConfigError};
pub use geometry::{Geometry, Location, STRIPE_SECTORS};
pub use instance::{MemberHealth, Raid5};
pub use io::{Raid5IoTag, Raid5Request};
pub use stats::Raid5Stats;
pub use sync::SyncAction;
pub use sync_speed::SYNC_MARK_STEP_NS;
