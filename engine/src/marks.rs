//! Coverage marks: named points at the interleavings that matter (a cleaning pass racing a
//! write hit, an SSD write timing out, a zombie IO completing, ...). The race explorer
//! reports how often each was reached and a test asserts a fixed seed batch reaches all.
//!
//! Owns: the list of marks ([`Mark`]) and a per-thread counter registry. Compiled in always:
//! a hit is one array increment, so the real platform pays nothing worth measuring. Counters
//! are per thread so parallel explorer jobs do not mix; they hold no time and no order, so
//! they cannot reach a simulation result (they are only read by whoever asks).

use std::cell::RefCell;

/// Declares [`Mark`], its names and [`Mark::ALL`] from one list.
macro_rules! marks {
    ($($variant:ident => $name:literal,)*) => {
        /// A coverage mark (see the module documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Mark {
            $($variant,)*
        }

        impl Mark {
            /// Every mark, in declaration order.
            pub const ALL: &'static [Mark] = &[$(Mark::$variant,)*];

            /// The mark's stable name (snake case), as reports print it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Mark::$variant => $name,)*
                }
            }
        }
    };
}

marks! {
    ReadHitQueuedBehindBusyBlock => "read_hit_queued_behind_busy_block",
    WriteHitQueuedBehindBusyBlock => "write_hit_queued_behind_busy_block",
    WriteHitOnDirtyBlock => "write_hit_on_dirty_block",
    ReadMissReclaimsValidBlock => "read_miss_reclaims_valid_block",
    WriteMissReclaimsValidBlock => "write_miss_reclaims_valid_block",
    SetHasNoRoom => "set_has_no_room",
    BioQueuedOnInvalidation => "bio_queued_on_invalidation",
    UncachedIoRequeuedAfterRace => "uncached_io_requeued_after_race",
    CacheJobErrorSwitchesToBypass => "cache_job_error_switches_to_bypass",
    CleanToDirtyMetadataWrite => "clean_to_dirty_metadata_write",
    PendingJobsReplayed => "pending_jobs_replayed",
    CleaningRacesWriteHit => "cleaning_races_write_hit",
    CleanSetAboveDirtyThreshold => "clean_set_above_dirty_threshold",
    CleanSetForced => "clean_set_forced",
    CleaningWritebackFailed => "cleaning_writeback_failed",
    CleaningRetryDelayed => "cleaning_retry_delayed",
    CleaningBlockedByBusyBlock => "cleaning_blocked_by_busy_block",
    MetadataWriteBatched => "metadata_write_batched",
    MetadataWriteFailed => "metadata_write_failed",
    TimedWriteTimedOut => "timed_write_timed_out",
    TimedReadTimedOut => "timed_read_timed_out",
    DeviceCancelIssued => "device_cancel_issued",
    DeviceCancelOfWaitingRequest => "device_cancel_of_waiting_request",
    ZombieCompletes => "zombie_completes",
    ZombieHoldsSlot => "zombie_holds_slot",
    ZombieEndsWhileSlotHeld => "zombie_ends_while_slot_held",
    ZombieHoldsMetadataBlock => "zombie_holds_metadata_block",
    MetadataWriteHeldBehindZombie => "metadata_write_held_behind_zombie",
    MetadataBlockRewrittenAfterZombie => "metadata_block_rewritten_after_zombie",
    DmIoRegionFailed => "dm_io_region_failed",
    KcopydPoolExhausted => "kcopyd_pool_exhausted",
    KcopydReservePagesUsed => "kcopyd_reserve_pages_used",
    ReadMissJobAllocFailed => "read_miss_job_alloc_failed",
    WriteMissJobAllocFailed => "write_miss_job_alloc_failed",
    ReadHitJobAllocFailed => "read_hit_job_alloc_failed",
    WriteHitJobAllocFailed => "write_hit_job_alloc_failed",
    CleaningJobAllocFailed => "cleaning_job_alloc_failed",
    CleaningListAllocFailed => "cleaning_list_alloc_failed",
    KcopydThrottleSleep => "kcopyd_throttle_sleep",
    KcopydCopyFailed => "kcopyd_copy_failed",
    CacheCreated => "cache_created",
    CacheReloadedDirtyBlocks => "cache_reloaded_dirty_blocks",
    PidEntryExpired => "pid_entry_expired",
    BioSplitAtBoundary => "bio_split_at_boundary",
    FlushBio => "flush_bio",
    BioFailedToCaller => "bio_failed_to_caller",
    BuggifyFired => "buggify_fired",
    BuggifyCleanedSetNow => "buggify_cleaned_set_now",
    SpareRebuilt => "spare_rebuilt",
    AlignedReadAcrossRebuildFront => "aligned_read_across_rebuild_front",
}

/// How many marks there are.
pub const MARK_COUNT: usize = Mark::ALL.len();

thread_local! {
    static COUNTS: RefCell<[u64; MARK_COUNT]> = const { RefCell::new([0; MARK_COUNT]) };
}

/// Counts one hit of `mark` on this thread (use the [`crate::mark!`] macro).
#[inline]
pub fn hit(mark: Mark) {
    COUNTS.with(|counts| counts.borrow_mut()[mark as usize] += 1);
}

/// This thread's counts since the last [`take`], indexed like [`Mark::ALL`]; resets them.
pub fn take() -> MarkCounts {
    COUNTS.with(|counts| {
        MarkCounts(std::mem::replace(
            &mut *counts.borrow_mut(),
            [0; MARK_COUNT],
        ))
    })
}

/// Hits per mark, indexed like [`Mark::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkCounts(pub [u64; MARK_COUNT]);

impl Default for MarkCounts {
    fn default() -> Self {
        MarkCounts([0; MARK_COUNT])
    }
}

impl MarkCounts {
    /// Hits of `mark`.
    pub fn get(&self, mark: Mark) -> u64 {
        self.0[mark as usize]
    }

    /// Adds `other`'s hits to these.
    pub fn add(&mut self, other: &MarkCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0.iter()) {
            *mine += theirs;
        }
    }

    /// Marks never hit.
    pub fn missing(&self) -> Vec<Mark> {
        Mark::ALL
            .iter()
            .copied()
            .filter(|mark| self.get(*mark) == 0)
            .collect()
    }
}

/// Counts a hit of the named [`Mark`] variant: `mark!(ZombieCompletes)`.
#[macro_export]
macro_rules! mark {
    ($mark:ident) => {
        $crate::marks::hit($crate::marks::Mark::$mark)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_are_counted_per_mark_and_taken_once() {
        let _ = take();
        mark!(ZombieCompletes);
        mark!(ZombieCompletes);
        mark!(FlushBio);
        let counts = take();
        assert_eq!(counts.get(Mark::ZombieCompletes), 2);
        assert_eq!(counts.get(Mark::FlushBio), 1);
        assert_eq!(counts.get(Mark::CacheCreated), 0);
        assert_eq!(take(), MarkCounts::default());
        assert!(counts.missing().contains(&Mark::CacheCreated));
        assert!(!counts.missing().contains(&Mark::FlushBio));
    }

    #[test]
    fn counts_add_per_mark() {
        let mut total = MarkCounts::default();
        let mut one = MarkCounts::default();
        one.0[Mark::FlushBio as usize] = 3;
        one.0[Mark::CacheCreated as usize] = 2;
        total.add(&one);
        total.add(&one);
        assert_eq!(total.get(Mark::FlushBio), 6);
        assert_eq!(total.get(Mark::CacheCreated), 4);
        assert_eq!(total.get(Mark::ZombieCompletes), 0);
    }

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names: Vec<&str> = Mark::ALL.iter().map(|m| m.name()).collect();
        assert!(names.len() >= 30, "{} marks", names.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MARK_COUNT);
    }
}
