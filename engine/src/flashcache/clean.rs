//! Cleaning (spec 1.15, writeback only): per-set cleaning with thresholds and limits,
//! fallow (idle) cleaning, merging of contiguous dirty neighbours, the kcopyd copies and
//! their callbacks, sync (`do_sync`) and the remove sequence.
//!
//! Owns: choosing which dirty blocks to write back and when. Does not own the metadata
//! write that marks them clean (see [`super::md`]).

use super::config::{CacheMode, ReclaimPolicy};
use super::inject::ErrorInjection;
use super::instance::{
    Flashcache, Phase, RemoveState, DELAYED_CLEAN_NS, NS_PER_SEC, REMOVE_SETTLE_NS,
};
use super::io::JobId;
use super::job::Action;
use super::set::LruList;
use super::state::{BlockState, Transition};
use crate::block::IoStatus;

impl Flashcache {
    /// `flashcache_can_clean`: under both the per-set and the cache-wide limit?
    fn can_clean(&self, set: u32, picked: usize) -> bool {
        let picked = picked as u64;
        u64::from(self.blocks.set(set).clean_inprog) + picked < u64::from(self.max_clean_ios_set)
            && u64::from(self.clean_inprog) + picked < u64::from(self.max_clean_ios_total)
    }

    /// `flashcache_detect_fallow`.
    fn detect_fallow(&mut self, index: u32) {
        let state = self.blocks.state(index);
        if !state.is_dirty_idle() || state.contains(BlockState::FALLOW) {
            return;
        }
        let becomes_f2 = state.contains(BlockState::DIRTY_FALLOW_1);
        self.blocks.apply(index, Transition::FallowSweep);
        if becomes_f2 {
            let set = self.blocks.geometry.set_of_index(index);
            self.blocks.set_mut(set).dirty_fallow += 1;
        }
    }

    /// `flashcache_clean_set(set, force)`.
    pub(crate) fn clean_set(&mut self, set: u32, force_clean_blocks: u32) {
        if self.mode != CacheMode::WriteBack {
            return;
        }
        let policy = self.tunables.reclaim_policy;
        // Forced cleaning on a miss is an LRU feature.
        let mut force = if policy == ReclaimPolicy::Fifo {
            0
        } else {
            force_clean_blocks
        };
        if self.remove_in_prog != RemoveState::None {
            return;
        }
        if self.injected(ErrorInjection::WRITES_LIST_ALLOC_FAIL) {
            mark!(CleaningListAllocFailed);
            self.errors.memory_alloc_errors += 1;
            return;
        }
        let geometry = self.blocks.geometry;
        let start = geometry.set_start(set);
        let end = start + geometry.assoc;
        let now = self.now_ns;
        let fallow_delay = self.fallow_delay_ns();
        let mut writes = std::mem::take(&mut self.scratch_writes);
        writes.clear();
        let mut delayed = false;
        'pick: {
            if fallow_delay > 0 && now > self.blocks.set(set).fallow_tstamp_ns {
                for index in start..end {
                    self.detect_fallow(index);
                }
                self.blocks.set_mut(set).fallow_tstamp_ns = now + fallow_delay;
            }
            let mut index = start;
            while fallow_delay > 0
                && self.blocks.set(set).dirty_fallow > 0
                && now > self.blocks.set(set).fallow_next_cleaning_ns
                && index < end
            {
                if self
                    .blocks
                    .state(index)
                    .contains(BlockState::DIRTY_FALLOW_2)
                {
                    if !self.can_clean(set, writes.len()) {
                        // Fallow blocks wait; a delayed pass is scheduled only if nothing
                        // at all is issued below (as flashcache).
                        delayed = true;
                        break 'pick;
                    }
                    assert!(self.blocks.state(index).is_dirty_idle());
                    self.mark_for_cleaning(index);
                    writes.push((self.blocks.block(index).dbn, index));
                    self.stats.fallow_cleanings += 1;
                }
                index += 1;
            }
            if !writes.is_empty() {
                let speed = u64::from(self.tunables.fallow_clean_speed.max(1));
                self.blocks.set_mut(set).fallow_next_cleaning_ns = now + NS_PER_SEC / speed;
            }
            let nr_dirty = self.blocks.set(set).nr_dirty;
            let thresh = self.dirty_thresh_set;
            let mut threshold_clean = 0usize;
            if force == 0 {
                if nr_dirty < thresh || !self.can_clean(set, writes.len()) {
                    break 'pick;
                }
                mark!(CleanSetAboveDirtyThreshold);
                threshold_clean = (nr_dirty - thresh) as usize;
            } else if nr_dirty > 0 {
                if nr_dirty > thresh {
                    threshold_clean = (nr_dirty - thresh) as usize;
                    force = 0;
                } else if writes.is_empty() {
                    mark!(CleanSetForced);
                    self.stats.force_clean_block += 1;
                    threshold_clean = force as usize;
                }
            }
            if policy == ReclaimPolicy::Fifo {
                let mut index = self.blocks.set(set).clean_next;
                let mut scanned = 0;
                while scanned < geometry.assoc
                    && self.can_clean(set, writes.len())
                    && writes.len() < threshold_clean
                {
                    if self.blocks.state(index).is_dirty_idle() {
                        self.mark_for_cleaning(index);
                        writes.push((self.blocks.block(index).dbn, index));
                    }
                    scanned += 1;
                    index += 1;
                    if index == end {
                        index = start;
                    }
                }
                self.blocks.set_mut(set).clean_next = index;
            } else {
                let mut scanned = 0u32;
                for list in [LruList::Warm, LruList::Hot] {
                    let mut cursor = self.blocks.lru_head(set, list);
                    while let Some(index) = cursor {
                        if !(self.can_clean(set, writes.len()) && writes.len() < threshold_clean) {
                            break;
                        }
                        let state = self.blocks.state(index);
                        if state.is_dirty_idle() {
                            self.mark_for_cleaning(index);
                            writes.push((self.blocks.block(index).dbn, index));
                        } else if state.is_dirty() {
                            mark!(CleaningBlockedByBusyBlock);
                        }
                        scanned += 1;
                        // Forced cleaning only looks at the LRU tail end.
                        if force > 0 && scanned == force {
                            break 'pick;
                        }
                        cursor = self.blocks.lru_next_of(index);
                    }
                }
            }
        }
        if !writes.is_empty() {
            self.merge_writes(&mut writes, set);
            self.stats.clean_set_ios += writes.len() as u64;
            self.histograms.record_cluster(writes.len());
            for &(_, index) in writes.iter() {
                self.dirty_writeback(index, false);
            }
        } else {
            if self.blocks.set(set).nr_dirty > self.dirty_thresh_set {
                delayed = true;
            }
            if delayed && self.delayed_clean_at_ns.is_none() {
                self.delayed_clean_at_ns = Some(now + DELAYED_CLEAN_NS);
            }
        }
        writes.clear();
        self.scratch_writes = writes;
    }

    /// `flashcache_merge_writes`: add every idle dirty block contiguous (backwards and
    /// forwards through the set hash) to a picked one, ignoring the limits; sort by dbn.
    fn merge_writes(&mut self, writes: &mut Vec<(u64, u32)>, set: u32) {
        let block_size = u64::from(self.blocks.geometry.block_size_sectors);
        let picked = writes.len();
        for position in 0..picked {
            let dbn = writes[position].0;
            for backwards in [true, false] {
                let step = |dbn: u64| {
                    if backwards {
                        dbn.wrapping_sub(block_size)
                    } else {
                        dbn.wrapping_add(block_size)
                    }
                };
                let mut probe = step(dbn);
                while let Some(neighbour) = self.blocks.hash_lookup(set, probe) {
                    if !self.blocks.state(neighbour).is_dirty_idle() {
                        break;
                    }
                    self.mark_for_cleaning(neighbour);
                    writes.push((probe, neighbour));
                    if backwards {
                        self.stats.back_merge += 1;
                    } else {
                        self.stats.front_merge += 1;
                    }
                    probe = step(probe);
                }
            }
        }
        writes.sort_unstable_by_key(|&(dbn, _)| dbn);
    }

    /// `flashcache_dirty_writeback` / `_sync`: copy a block marked DISKWRITEINPROG to the
    /// disk with kcopyd.
    pub(crate) fn dirty_writeback(&mut self, index: u32, sync: bool) {
        let state = self.blocks.state(index);
        assert_eq!(
            state.bits() & BlockState::BUSY.bits(),
            BlockState::DISK_WRITE_IN_PROGRESS.bits(),
            "writeback of block {index} in state {state:?}"
        );
        assert!(state.is_dirty());
        let set = self.blocks.geometry.set_of_index(index);
        self.blocks.set_mut(set).clean_inprog += 1;
        self.clean_inprog += 1;
        let alloc_failed = !sync && self.injected(ErrorInjection::DIRTY_WRITEBACK_JOB_ALLOC_FAIL);
        let removing = if sync {
            self.remove_in_prog == RemoveState::Fast
        } else {
            self.remove_in_prog != RemoveState::None
        };
        if alloc_failed || removing {
            if alloc_failed {
                mark!(CleaningJobAllocFailed);
                self.errors.memory_alloc_errors += 1;
            }
            self.blocks.set_mut(set).clean_inprog -= 1;
            self.clean_inprog -= 1;
            self.free_pending_jobs(index, IoStatus::IoError);
            self.blocks.apply(index, Transition::IoFinished);
            return;
        }
        let action = if sync {
            Action::WriteDiskSync
        } else {
            Action::WriteDisk
        };
        let id = self.new_job(action, None, index);
        self.stats.ssd_reads += 1;
        self.stats.disk_writes += 1;
        let job = self.jobs.job(id);
        let (from, to) = (job.cache, job.disk);
        self.submit_kcopyd(id, from, to);
    }

    /// `flashcache_kcopyd_callback` / `_sync`.
    pub(crate) fn kcopyd_callback(&mut self, id: JobId, read_error: bool, write_error: bool) {
        let job = self.jobs.job(id);
        let sync = job.action == Action::WriteDiskSync;
        let index = job.index;
        assert!(job.bio.is_none());
        let mut read_error = read_error;
        if !sync && self.injected(ErrorInjection::KCOPYD_CALLBACK_ERROR) {
            read_error = true;
        }
        if !read_error && !write_error {
            self.md_write(id);
            return;
        }
        let set = self.blocks.geometry.set_of_index(index);
        let cache_set = self.blocks.set_mut(set);
        assert!(cache_set.clean_inprog > 0 && self.clean_inprog > 0);
        cache_set.clean_inprog -= 1;
        self.clean_inprog -= 1;
        mark!(CleaningWritebackFailed);
        if read_error {
            self.errors.ssd_read_errors += 1;
        } else {
            self.errors.disk_write_errors += 1;
        }
        self.jobs.job_mut(id).error = true;
        // Decision 9: the block stays dirty and a later pass retries it (counted then).
        self.blocks.block_mut(index).clean_failed = true;
        self.do_pending(id);
        if sync {
            self.sync_blocks();
        } else if self.delayed_clean_at_ns.is_none() {
            // A *later* pass: cleaning the set again here would pick the same block at
            // once, and with a device that fails instantly (pulled) failure and retry
            // would chase each other forever at one instant (regression 003).
            mark!(CleaningRetryDelayed);
            self.delayed_clean_at_ns = Some(self.now_ns + DELAYED_CLEAN_NS);
        }
        self.stats.cleanings += 1;
    }

    /// `flashcache_sync_blocks`: walk all blocks from `sync_index`, cleaning within the
    /// cache-wide limit only, issuing each set's batch at the set boundary.
    pub(crate) fn sync_blocks(&mut self) {
        if self.remove_in_prog == RemoveState::Fast || self.stop_sync {
            return;
        }
        let geometry = self.blocks.geometry;
        if self.nr_dirty == 0 || self.sync_index >= geometry.size_blocks {
            return;
        }
        if self.injected(ErrorInjection::WRITES_LIST_ALLOC_FAIL) {
            self.errors.memory_alloc_errors += 1;
            return;
        }
        let mut writes = std::mem::take(&mut self.scratch_writes);
        writes.clear();
        let mut index = self.sync_index;
        let mut set = geometry.set_of_index(index);
        while index < geometry.size_blocks
            && writes.len() as u64 + u64::from(self.clean_inprog)
                < u64::from(self.max_clean_ios_total)
        {
            if index.is_multiple_of(geometry.assoc) {
                if !writes.is_empty() {
                    self.issue_sync_batch(&mut writes, set);
                }
                set = geometry.set_of_index(index);
            }
            if self.blocks.state(index).is_dirty_idle() {
                self.mark_for_cleaning(index);
                writes.push((self.blocks.block(index).dbn, index));
            }
            index += 1;
        }
        self.sync_index = index;
        if !writes.is_empty() {
            self.issue_sync_batch(&mut writes, set);
        }
        self.scratch_writes = writes;
    }

    fn issue_sync_batch(&mut self, writes: &mut Vec<(u64, u32)>, set: u32) {
        self.merge_writes(writes, set);
        for &(_, index) in writes.iter() {
            self.dirty_writeback(index, true);
        }
        writes.clear();
    }

    /// `flashcache_sync_all`.
    pub(crate) fn sync_all(&mut self) {
        if self.mode != CacheMode::WriteBack {
            return;
        }
        self.stop_sync = false;
        self.sync_index = 0;
        self.sync_blocks();
    }

    /// `dmsetup remove`: stop new cleanings, clean everything (unless `fast_remove`), wait
    /// for the jobs, then store the metadata (writeback). Progress is driven by further
    /// inputs; [`Flashcache::phase`] says when it is done.
    pub fn remove(&mut self, now_ns: u64) -> Result<(), super::instance::CacheInputError> {
        if let Phase::Halted(reason) = &self.phase {
            return Err(super::instance::CacheInputError::Halted {
                reason: reason.clone(),
            });
        }
        if self.phase != Phase::Running {
            return Err(super::instance::CacheInputError::NotRunning {
                phase: self.phase.clone(),
            });
        }
        self.now_ns = self.now_ns.max(now_ns);
        self.phase = Phase::Removing;
        self.fallow_timer_at_ns = None;
        if self.mode == CacheMode::WriteBack {
            self.start_remove_round();
        }
        self.check_remove_progress();
        Ok(())
    }

    /// One round of `flashcache_sync_for_remove`'s loop body, up to its 5 s sleep.
    fn start_remove_round(&mut self) {
        self.remove_in_prog = RemoveState::Slow;
        if !self.tunables.fast_remove {
            self.max_clean_ios_total = 20;
            self.max_clean_ios_set = 10;
            self.sync_all();
        } else {
            self.remove_in_prog = RemoveState::Fast;
        }
        self.remove_settle_until_ns = Some(self.now_ns + REMOVE_SETTLE_NS);
    }

    /// After the settle delay and once no job is left: loop again while dirty blocks remain
    /// (slow remove), else store the metadata.
    pub(crate) fn check_remove_progress(&mut self) {
        if self.phase != Phase::Removing
            || self.remove_settle_until_ns.is_some()
            || self.jobs.live() > 0
            || !self.zombies.is_empty()
        {
            return;
        }
        self.delayed_clean_at_ns = None;
        if self.mode != CacheMode::WriteBack {
            self.phase = Phase::Stopped(None);
            return;
        }
        if !self.tunables.fast_remove && self.nr_dirty > 0 {
            self.start_remove_round();
            return;
        }
        self.start_store();
    }
}
