//! One-shot error injection (spec 1.17): flashcache's `error_inject` sysctl flags.
//!
//! Owns: the flag values and their names. A flag armed with `Flashcache::inject_errors`
//! fires once, at the point flashcache tests it, and is then cleared. Does not own device
//! faults: those are the executor's (any dm_io may report error bits).

use serde::{Deserialize, Serialize};

/// A set of error injection flags (bit values are flashcache's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct ErrorInjection(pub u32);

impl ErrorInjection {
    pub const READDISK_ERROR: ErrorInjection = ErrorInjection(0x1);
    pub const READCACHE_ERROR: ErrorInjection = ErrorInjection(0x2);
    pub const READFILL_ERROR: ErrorInjection = ErrorInjection(0x4);
    pub const WRITECACHE_ERROR: ErrorInjection = ErrorInjection(0x8);
    pub const WRITECACHE_MD_ERROR: ErrorInjection = ErrorInjection(0x10);
    pub const WRITEDISK_MD_ERROR: ErrorInjection = ErrorInjection(0x20);
    pub const KCOPYD_CALLBACK_ERROR: ErrorInjection = ErrorInjection(0x40);
    pub const DIRTY_WRITEBACK_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x80);
    pub const READ_MISS_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x100);
    pub const READ_HIT_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x200);
    pub const READ_HIT_PENDING_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x400);
    pub const INVAL_PENDING_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x800);
    pub const WRITE_HIT_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x1000);
    pub const WRITE_HIT_PENDING_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x2000);
    pub const WRITE_MISS_JOB_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x4000);
    /// Fails the scratch-list allocation of a cleaning or sync pass.
    pub const WRITES_LIST_ALLOC_FAIL: ErrorInjection = ErrorInjection(0x8000);
    pub const MD_ALLOC_SECTOR_ERROR: ErrorInjection = ErrorInjection(0x10000);

    /// Every flag with its flashcache name.
    pub const ALL: [(ErrorInjection, &'static str); 17] = [
        (Self::READDISK_ERROR, "READDISK_ERROR"),
        (Self::READCACHE_ERROR, "READCACHE_ERROR"),
        (Self::READFILL_ERROR, "READFILL_ERROR"),
        (Self::WRITECACHE_ERROR, "WRITECACHE_ERROR"),
        (Self::WRITECACHE_MD_ERROR, "WRITECACHE_MD_ERROR"),
        (Self::WRITEDISK_MD_ERROR, "WRITEDISK_MD_ERROR"),
        (Self::KCOPYD_CALLBACK_ERROR, "KCOPYD_CALLBACK_ERROR"),
        (
            Self::DIRTY_WRITEBACK_JOB_ALLOC_FAIL,
            "DIRTY_WRITEBACK_JOB_ALLOC_FAIL",
        ),
        (Self::READ_MISS_JOB_ALLOC_FAIL, "READ_MISS_JOB_ALLOC_FAIL"),
        (Self::READ_HIT_JOB_ALLOC_FAIL, "READ_HIT_JOB_ALLOC_FAIL"),
        (
            Self::READ_HIT_PENDING_JOB_ALLOC_FAIL,
            "READ_HIT_PENDING_JOB_ALLOC_FAIL",
        ),
        (
            Self::INVAL_PENDING_JOB_ALLOC_FAIL,
            "INVAL_PENDING_JOB_ALLOC_FAIL",
        ),
        (Self::WRITE_HIT_JOB_ALLOC_FAIL, "WRITE_HIT_JOB_ALLOC_FAIL"),
        (
            Self::WRITE_HIT_PENDING_JOB_ALLOC_FAIL,
            "WRITE_HIT_PENDING_JOB_ALLOC_FAIL",
        ),
        (Self::WRITE_MISS_JOB_ALLOC_FAIL, "WRITE_MISS_JOB_ALLOC_FAIL"),
        (Self::WRITES_LIST_ALLOC_FAIL, "WRITES_LIST_ALLOC_FAIL"),
        (Self::MD_ALLOC_SECTOR_ERROR, "MD_ALLOC_SECTOR_ERROR"),
    ];

    /// Both sets of flags.
    pub const fn union(self, other: ErrorInjection) -> ErrorInjection {
        ErrorInjection(self.0 | other.0)
    }
    /// True if every flag of `other` is armed.
    pub const fn contains(self, other: ErrorInjection) -> bool {
        self.0 & other.0 == other.0
    }
    /// True if nothing is armed.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The flashcache name of a single flag.
    pub fn name(self) -> Option<&'static str> {
        Self::ALL
            .iter()
            .find(|(flag, _)| *flag == self)
            .map(|(_, name)| *name)
    }

    /// If `flag` is armed, disarm it and return true (the one-shot test flashcache does).
    pub(crate) fn take(&mut self, flag: ErrorInjection) -> bool {
        if self.0 & flag.0 != 0 {
            self.0 &= !flag.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_fire_once_and_have_flashcaches_values() {
        let mut armed = ErrorInjection::READFILL_ERROR.union(ErrorInjection::MD_ALLOC_SECTOR_ERROR);
        assert_eq!(armed.0, 0x10004);
        assert!(armed.take(ErrorInjection::READFILL_ERROR));
        assert!(!armed.take(ErrorInjection::READFILL_ERROR));
        assert!(armed.contains(ErrorInjection::MD_ALLOC_SECTOR_ERROR));
        assert_eq!(
            ErrorInjection::WRITES_LIST_ALLOC_FAIL.name(),
            Some("WRITES_LIST_ALLOC_FAIL")
        );
        let all = ErrorInjection::ALL
            .iter()
            .fold(0u32, |bits, (flag, _)| bits | flag.0);
        assert_eq!(all, 0x1ffff);
    }
}
