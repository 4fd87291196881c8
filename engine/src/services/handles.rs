//! The names the services hand out and route by: [`Caller`] cookies, [`DmIoHandle`]s and
//! the internal [`Route`] of a dm_io notification.
//!
//! Owns only these small value types. They live below the block layer, dm_io and kcopyd so
//! that each of those can name a notification's destination without importing the others
//! (the services' module graph stays acyclic: handles → block layer → dm_io → kcopyd →
//! the [`super::Services`] facade).

use crate::slab::SlabKey;
use serde::{Deserialize, Serialize};

/// An opaque cookie naming who gets a notification; the caller chooses its meaning (a target
/// job's slab key, a test's label, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Caller(pub u64);

/// Names one dm_io request while it exists; goes stale when the request is returned upward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DmIoHandle(pub(crate) SlabKey);

impl DmIoHandle {
    /// A number for logs and cookies.
    pub fn to_u64(self) -> u64 {
        self.0.to_u64()
    }
}

/// Where a dm_io notification goes: out to a caller, or to a kcopyd job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    External(Caller),
    Kcopyd(SlabKey),
}
