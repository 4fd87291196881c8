//! Overlap handling and busy blocks (spec 1.11, 1.12): invalidation of cached blocks an
//! uncacheable or partial IO touches, the pending queue, and what happens when a busy
//! block's IO ends with bios queued behind it (`flashcache_do_pending*`).
//!
//! Owns: `inval_blocks` (hash-based for on-SSD version ≥ 3, set scans before), queueing
//! bios on blocks, and draining them. Does not own the IO the drained bios become
//! (uncached IO is in [`super::io_path`], cleaning in [`super::clean`]).

use super::config::CacheMode;
use super::inject::ErrorInjection;
use super::instance::Flashcache;
use super::io::{CacheBio, JobId};
use super::job::{Action, PendingAction};
use super::state::{BlockState, Transition};
use super::zombie::ZombieHold;
use crate::block::IoStatus;

/// What `flashcache_inval_blocks` did with a bio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalOutcome {
    /// No busy or dirty block overlaps: the caller proceeds.
    NotQueued,
    /// The bio waits on a block's pending queue and will be replayed.
    Queued,
    /// The pending job could not be allocated (-ENOMEM): the caller fails the bio.
    Failed,
}

impl Flashcache {
    /// `flashcache_inval_blocks`.
    pub(crate) fn inval_blocks(&mut self, bio: &CacheBio) -> InvalOutcome {
        if self.injected(ErrorInjection::INVAL_PENDING_JOB_ALLOC_FAIL) {
            self.errors.memory_alloc_errors += 1;
            return InvalOutcome::Failed;
        }
        let geometry = self.blocks.geometry;
        // The legacy set scan finds the VALID blocks whose range holds the IO's first or
        // last sector. A cache never stored on the SSD (writethrough, writearound: version
        // 0) got every dbn from a claim of a whole, aligned block, and a bio never straddles
        // a block, so the one block the scan can find is the hashed VALID block at the IO's
        // block start: the hash finds it in O(1) instead of O(assoc), with the same result.
        // A cache loaded from an old on-SSD version keeps the scan (its dbns are whatever
        // the SSD held).
        let scan = geometry.uses_legacy_invalidation()
            && (geometry.on_ssd_version != 0 || self.invalidation_always_scans);
        if scan {
            let io_end = bio.sector + u64::from(bio.sectors) - 1;
            let start_set = geometry.set_of(bio.sector);
            let end_set = geometry.set_of(io_end);
            if self.inval_block_set_scan(start_set, bio) {
                return InvalOutcome::Queued;
            }
            if start_set != end_set && self.inval_block_set_scan(end_set, bio) {
                return InvalOutcome::Queued;
            }
            InvalOutcome::NotQueued
        } else {
            let io_start = geometry.block_start(bio.sector);
            let set = geometry.set_of(io_start);
            let Some(index) = self.blocks.hash_lookup(set, io_start) else {
                return InvalOutcome::NotQueued;
            };
            if self.inval_one_block(index, bio) {
                InvalOutcome::Queued
            } else {
                InvalOutcome::NotQueued
            }
        }
    }

    /// `flashcache_inval_block_set`: scan a whole set for any non-INVALID block whose range
    /// holds the IO's first or last sector. Returns true if the bio was queued.
    fn inval_block_set_scan(&mut self, set: u32, bio: &CacheBio) -> bool {
        let geometry = self.blocks.geometry;
        let io_start = bio.sector;
        let io_end = bio.sector + u64::from(bio.sectors) - 1;
        let block_size = u64::from(geometry.block_size_sectors);
        let start = geometry.set_start(set);
        for index in start..start + geometry.assoc {
            let block = self.blocks.block(index);
            if block.state.is_invalid() {
                continue;
            }
            let range = block.dbn..block.dbn + block_size;
            if (range.contains(&io_start) || range.contains(&io_end))
                && self.inval_one_block(index, bio)
            {
                return true;
            }
        }
        false
    }

    /// Handle one overlapping block: invalidate it if idle and clean, else queue the bio on
    /// it (starting a cleaning if it is dirty and idle). Returns true if the bio was queued.
    fn inval_one_block(&mut self, index: u32, bio: &CacheBio) -> bool {
        let block = *self.blocks.block(index);
        assert!(
            block.state.is_valid(),
            "overlapping block {index} is not VALID"
        );
        if bio.is_write() {
            self.stats.wr_invalidates += 1;
        } else {
            self.stats.rd_invalidates += 1;
        }
        if !block
            .state
            .intersects(BlockState::BUSY.union(BlockState::DIRTY))
            && block.nr_queued == 0
        {
            self.cached_blocks -= 1;
            self.blocks.hash_remove(index);
            self.blocks.apply(index, Transition::Invalidate);
            self.blocks.invalid_insert(index);
            return false;
        }
        mark!(BioQueuedOnInvalidation);
        self.enqueue_pending(*bio, index, PendingAction::Invalidate);
        if block.state.is_dirty_idle() {
            self.mark_for_cleaning(index);
            self.dirty_writeback(index, false);
        }
        true
    }

    /// `flashcache_enq_pending`.
    pub(crate) fn enqueue_pending(&mut self, bio: CacheBio, index: u32, action: PendingAction) {
        self.pending.enqueue(bio, index, action);
        self.blocks.block_mut(index).nr_queued += 1;
        self.stats.enqueues += 1;
    }

    /// `flashcache_free_pending_jobs`: end every bio queued on `index` with `status`.
    pub(crate) fn free_pending_jobs(&mut self, index: u32, status: IoStatus) {
        let mut chain = self.pending.dequeue(index);
        while let Some((bio, _)) = self.pending.pop(&mut chain) {
            let block = self.blocks.block_mut(index);
            assert!(block.nr_queued > 0, "pending queue and nr_queued disagree");
            block.nr_queued -= 1;
            self.endio(bio.id, status, None);
        }
        assert_eq!(self.blocks.block(index).nr_queued, 0);
    }

    /// `flashcache_clear_fallow` (writeback only).
    pub(crate) fn clear_fallow(&mut self, index: u32) {
        if self.mode != CacheMode::WriteBack {
            return;
        }
        let state = self.blocks.state(index);
        if state.intersects(BlockState::FALLOW) {
            if state.contains(BlockState::DIRTY_FALLOW_2) {
                let set = self.blocks.geometry.set_of_index(index);
                assert!(self.blocks.set(set).dirty_fallow > 0);
                self.blocks.set_mut(set).dirty_fallow -= 1;
            }
            self.blocks.apply(index, Transition::ClearFallow);
        }
    }

    /// Pick an idle dirty block for cleaning: DISKWRITEINPROG on, fallow bits off.
    pub(crate) fn mark_for_cleaning(&mut self, index: u32) {
        self.clear_fallow(index);
        self.blocks.apply(index, Transition::StartCleaning);
        if self.blocks.block(index).clean_failed {
            self.stats.clean_retries += 1;
        }
    }

    /// `flashcache_do_pending`: a busy block's job ended with an error or with bios queued.
    pub(crate) fn do_pending(&mut self, id: JobId) {
        if self.blocks.block(self.jobs.job(id).index).nr_queued > 0 {
            mark!(PendingJobsReplayed);
        }
        if self.jobs.job(id).error {
            self.do_pending_error(id);
        } else {
            self.do_pending_noerror(id);
        }
    }

    /// `flashcache_do_pending_error`: invalidate the block unless dirty; writethrough and
    /// writearound re-issue the job's bio and the queued ones to the disk, writeback fails
    /// the queued bios. If the job's IO left a zombie (option `ssd_timeout`), the slot stays
    /// busy and off the free list until it ends (see [`super::zombie`]); a writethrough data
    /// write's zombie may also be writing the disk, and a writethrough fill's zombie still
    /// reads the pages of the bio re-issued here, so their whole error path waits.
    fn do_pending_error(&mut self, id: JobId) {
        let job = self.jobs.job(id);
        let index = job.index;
        let bio = job.bio;
        // A writethrough data write's zombie may also be writing the disk; a fill's zombie
        // still reads the pages of the bio this path re-issues (regression 006).
        let wrote_disk = self.mode != CacheMode::WriteBack && job.action == Action::WriteCache;
        let fills_from_bio = bio.is_some() && job.action == Action::ReadFill;
        if (wrote_disk || fills_from_bio) && self.hold_slot_for_zombie(id, ZombieHold::SlotAndBio) {
            mark!(ZombieHoldsSlot);
            return;
        }
        let state = self.blocks.state(index);
        assert!(
            state.is_valid(),
            "errored block {index} not VALID: {state:?}"
        );
        if !state.is_dirty() {
            self.cached_blocks -= 1;
            self.stats.pending_inval += 1;
            self.blocks.hash_remove(index);
            self.blocks.apply(index, Transition::InvalidateWhileBusy);
        } else {
            assert_eq!(
                self.mode,
                CacheMode::WriteBack,
                "dirty block outside writeback"
            );
        }
        if let Some(bio) = bio {
            assert_ne!(
                self.mode,
                CacheMode::WriteBack,
                "VERIFY(dmc->cache_mode != FLASHCACHE_WRITE_BACK)"
            );
            let mut chain = self.pending.dequeue(index);
            let block = self.blocks.block_mut(index);
            assert_eq!(
                block.nr_queued, chain.len,
                "pending queue and nr_queued disagree"
            );
            block.nr_queued = 0;
            self.jobs.job_mut(id).bio = None;
            self.start_uncached_io(bio);
            while let Some((queued, _)) = self.pending.pop(&mut chain) {
                self.start_uncached_io(queued);
            }
        } else {
            self.free_pending_jobs(index, IoStatus::IoError);
        }
        if self.hold_slot_for_zombie(id, ZombieHold::Slot) {
            mark!(ZombieHoldsSlot);
            return;
        }
        self.release_errored_slot(id);
    }

    /// `flashcache_do_pending_noerror`: a dirty block is cleaned first (the queue waits for
    /// that cleaning); a clean one is dropped and its queued bios are replayed uncached,
    /// oldest first (INVALIDATE entries re-run invalidation and may queue elsewhere).
    fn do_pending_noerror(&mut self, id: JobId) {
        let index = self.jobs.job(id).index;
        let state = self.blocks.state(index);
        if state.is_dirty() {
            assert_eq!(self.mode, CacheMode::WriteBack);
            self.clear_fallow(index);
            self.blocks.apply(index, Transition::CleanAfterPending);
            if self.blocks.block(index).clean_failed {
                self.stats.clean_retries += 1;
            }
            self.dirty_writeback(index, false);
            self.free_job(id);
            return;
        }
        assert!(
            state.is_valid(),
            "pending block {index} not VALID: {state:?}"
        );
        self.cached_blocks -= 1;
        self.stats.pending_inval += 1;
        self.blocks.hash_remove(index);
        self.blocks.apply(index, Transition::InvalidateWhileBusy);
        let mut chain = self.pending.dequeue(index);
        while let Some((bio, action)) = self.pending.pop(&mut chain) {
            let block = self.blocks.block_mut(index);
            assert!(block.nr_queued > 0, "pending queue and nr_queued disagree");
            block.nr_queued -= 1;
            if action == PendingAction::Invalidate {
                match self.inval_blocks(&bio) {
                    super::pending::InvalOutcome::NotQueued => {}
                    super::pending::InvalOutcome::Queued => continue,
                    super::pending::InvalOutcome::Failed => {
                        self.endio(bio.id, IoStatus::IoError, None);
                        continue;
                    }
                }
            }
            self.start_uncached_io(bio);
        }
        assert_eq!(self.blocks.block(index).nr_queued, 0);
        self.blocks.apply(index, Transition::IoFinished);
        self.blocks.invalid_insert(index);
        self.free_job(id);
    }
}
