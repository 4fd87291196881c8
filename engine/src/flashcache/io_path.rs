//! The IO path (spec 1.7–1.10, 1.13, 1.17): `flashcache_map`, lookup, the read and write
//! paths, uncached IO, and the completion callback of cache jobs.
//!
//! Owns: the decisions a bio triggers and what each data IO's completion continues with.
//! Does not own: invalidation and the pending queue (see [`super::pending`]), metadata
//! writes (see [`super::md`]) or cleaning (see [`super::clean`]).

use super::config::{CacheMode, ReclaimPolicy};
use super::inject::ErrorInjection;
use super::instance::{CacheInputError, Flashcache};
use super::io::{CacheBio, CacheBuffer, CacheIoTag, IoOp, JobId, RegionList};
use super::job::{Action, PendingAction, NO_INDEX};
use super::pending::InvalOutcome;
use super::set::CacheBlock;
use super::state::Transition;
use crate::block::{IoStatus, Op};

/// What `flashcache_lookup` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A VALID block holding the dbn.
    Hit(u32),
    /// A slot to use: popped from the free list (INVALID) or chosen for reclaim (VALID).
    Slot(u32),
    /// Nothing reclaimable in the set (`noroom`).
    NoRoom,
}

impl Flashcache {
    pub(crate) fn map_bio(&mut self, bio: CacheBio) -> Result<(), CacheInputError> {
        if bio.sectors <= 32 {
            self.histograms.size_hist[bio.sectors as usize] += 1;
        }
        match bio.op {
            Op::Flush => {
                self.map_flush(bio);
                return Ok(());
            }
            Op::Discard if !self.config.options.discard => {
                // Faithful: the target does not support discards.
                self.endio(bio.id, IoStatus::NotSupported, None);
                return Ok(());
            }
            _ => {}
        }
        self.check_bio_shape(&bio)?;
        if bio.op == Op::Discard {
            self.map_discard(bio);
            return Ok(());
        }
        if bio.is_write() {
            self.stats.writes += 1;
        } else {
            self.stats.reads += 1;
        }
        if self.tunables.do_pid_expiry && !self.pids.is_empty() {
            let mut counters = super::seq::PidCounters::default();
            self.pids
                .expire(self.now_ns, self.tunables.pid_expiry_secs, &mut counters);
            self.stats.expiry += counters.expiry;
        }
        let block_size = self.blocks.geometry.block_size_sectors;
        let uncacheable = self.bypass_cache
            || bio.sectors != block_size
            || (bio.is_write() && (self.mode == CacheMode::WriteAround || self.uncacheable(&bio)));
        if uncacheable {
            match self.inval_blocks(&bio) {
                InvalOutcome::NotQueued => self.start_uncached_io(bio),
                InvalOutcome::Queued => {}
                InvalOutcome::Failed => self.endio(bio.id, IoStatus::IoError, None),
            }
        } else if bio.is_write() {
            self.write(bio);
        } else {
            self.read(bio);
        }
        Ok(())
    }

    /// `flashcache_do_block_checks` (a VERIFY in flashcache; an input error here).
    fn check_bio_shape(&self, bio: &CacheBio) -> Result<(), CacheInputError> {
        let geometry = &self.blocks.geometry;
        let block_size = geometry.block_size_sectors;
        let end = bio.sector + u64::from(bio.sectors);
        if bio.sectors == 0
            || bio.sectors > block_size
            || geometry.block_start(bio.sector) != geometry.block_start(end - 1)
        {
            return Err(CacheInputError::BioShape {
                bio: bio.id,
                sector: bio.sector,
                sectors: bio.sectors,
                block_size_sectors: block_size,
            });
        }
        if end > self.config.table.target_sectors {
            return Err(CacheInputError::BeyondTarget {
                bio: bio.id,
                sector: bio.sector,
                end,
                target_sectors: self.config.table.target_sectors,
            });
        }
        Ok(())
    }

    /// Flush bios. Faithful: completed at once, reaching neither device (Decision 1).
    /// Option `honor_flush`: one flush dm_io to both devices, then completion.
    fn map_flush(&mut self, bio: CacheBio) {
        if !self.config.options.honor_flush {
            self.endio(bio.id, IoStatus::Ok, None);
            return;
        }
        let id = self.new_job(Action::Flush, Some(bio), NO_INDEX);
        let regions = RegionList::two(
            super::io::Region::new(super::io::Device::Ssd, 0, 0),
            super::io::Region::new(super::io::Device::Disk, 0, 0),
        );
        self.submit_dm_io(CacheIoTag::Job(id), IoOp::Flush, regions, CacheBuffer::None);
    }

    /// Option `discard` (Decision 2): an idle clean block entirely covered by the discard
    /// is dropped at once; anything else goes through invalidation, which cleans a dirty
    /// block first. Dropping a dirty block would need its slot's metadata written first: on
    /// the SSD it still says DIRTY, and a crash would bring the stale data back over what
    /// the disk got since (regression 023). The discard then goes to the disk.
    fn map_discard(&mut self, bio: CacheBio) {
        let geometry = self.blocks.geometry;
        let whole_block = bio.sectors == geometry.block_size_sectors
            && geometry.block_start(bio.sector) == bio.sector;
        if whole_block {
            let set = geometry.set_of(bio.sector);
            if let Some(index) = self.blocks.hash_lookup(set, bio.sector) {
                let block = *self.blocks.block(index);
                // Fallow bits sit on dirty blocks only (check_block): nothing to clear here.
                assert_queued_only_while_busy(&block, index);
                if !block.state.is_busy() && !block.state.is_dirty() {
                    self.cached_blocks -= 1;
                    self.blocks.hash_remove(index);
                    self.blocks.apply(index, Transition::Discard);
                    self.blocks.block_mut(index).clean_failed = false;
                    self.blocks.invalid_insert(index);
                    self.stats.trim_blocks += 1;
                }
            }
        }
        match self.inval_blocks(&bio) {
            InvalOutcome::NotQueued => self.start_uncached_io(bio),
            InvalOutcome::Queued => {}
            InvalOutcome::Failed => self.endio(bio.id, IoStatus::IoError, None),
        }
    }

    /// `flashcache_uncacheable` with its sequential statistics.
    pub(crate) fn uncacheable(&mut self, bio: &CacheBio) -> bool {
        if self.bypass_cache {
            return true;
        }
        let block_size = self.blocks.geometry.block_size_sectors;
        let thresh = self.tunables.skip_seq_thresh_kb;
        let cache_all = self.tunables.cache_all;
        let mut skipped_sequential = false;
        let seq = &mut self.seq;
        let verdict = self.pids.uncacheable(cache_all, bio.pid, bio.tgid, || {
            skipped_sequential = seq.skip(bio.sector, block_size, thresh);
            skipped_sequential
        });
        if skipped_sequential {
            if bio.is_write() {
                self.stats.uncached_sequential_writes += 1;
            } else {
                self.stats.uncached_sequential_reads += 1;
            }
        }
        verdict
    }

    /// `flashcache_lookup`, side effects included (LRU reordering, FIFO hand, fallow bits,
    /// a popped free slot the caller must push back if unused).
    pub(crate) fn lookup(&mut self, dbn: u64) -> Lookup {
        let set = self.blocks.geometry.set_of(dbn);
        let policy = self.tunables.reclaim_policy;
        if let Some(index) = self.blocks.hash_lookup(set, dbn) {
            if !self.blocks.state(index).is_busy() {
                self.lru_touch(index, policy);
            }
            self.clear_fallow(index);
            return Lookup::Hit(index);
        }
        if let Some(index) = self.blocks.invalid_get(set) {
            self.lru_touch(index, policy);
            return Lookup::Slot(index);
        }
        let victim = match policy {
            ReclaimPolicy::Fifo => self.blocks.fifo_get_old_block(set),
            ReclaimPolicy::Lru => {
                let (victim, effect) = self.blocks.lru_get_old_block(set);
                if effect.demoted {
                    self.stats.lru_demotions += 1;
                }
                victim
            }
            ReclaimPolicy::LruStrict => self.blocks.lru_strict_get_old_block(set),
        };
        match victim {
            Some(index) => Lookup::Slot(index),
            None => {
                mark!(SetHasNoRoom);
                self.stats.noroom += 1;
                Lookup::NoRoom
            }
        }
    }

    fn lru_touch(&mut self, index: u32, policy: ReclaimPolicy) {
        match policy {
            ReclaimPolicy::Fifo => {}
            ReclaimPolicy::Lru => {
                let effect = self
                    .blocks
                    .lru_accessed(index, self.tunables.lru_promote_thresh);
                if effect.promoted {
                    self.stats.lru_promotions += 1;
                }
            }
            ReclaimPolicy::LruStrict => self.blocks.lru_strict_accessed(index),
        }
    }

    /// A slot popped from the free list but not used goes back on it.
    fn push_back_unused(&mut self, lookup: Lookup) {
        if let Lookup::Slot(index) = lookup {
            if self.blocks.state(index) == super::state::BlockState::INVALID {
                self.blocks.invalid_insert(index);
            }
        }
    }

    /// Give slot `index` the identity `dbn` (replacement or fresh use).
    fn claim(&mut self, index: u32, dbn: u64, transition: Transition) {
        if self.blocks.state(index).is_valid() {
            if transition == Transition::ClaimForRead {
                mark!(ReadMissReclaimsValidBlock);
                self.stats.replace += 1;
            } else {
                mark!(WriteMissReclaimsValidBlock);
                self.stats.wr_replace += 1;
            }
            self.blocks.hash_remove(index);
        } else {
            self.cached_blocks += 1;
        }
        self.blocks.apply(index, transition);
        self.blocks.block_mut(index).dbn = dbn;
        self.blocks.hash_insert(index);
    }

    /// Undo a claim whose job could not be allocated: the slot returns to the free list.
    fn unclaim_after_alloc_failure(&mut self, index: u32) {
        self.cached_blocks -= 1;
        self.blocks.hash_remove(index);
        self.blocks.apply(index, Transition::InvalidateWhileBusy);
        self.free_pending_jobs(index, IoStatus::IoError);
        self.blocks.apply(index, Transition::IoFinished);
        self.blocks.invalid_insert(index);
    }

    fn cache_region(&self, id: JobId) -> RegionList {
        let job = self.jobs.job(id);
        debug_assert_ne!(job.index, NO_INDEX, "a cached job");
        let region = self.block_cache_region(job.index);
        debug_assert_eq!(region, job.cache);
        RegionList::one(region)
    }

    /// `flashcache_read`.
    fn read(&mut self, bio: CacheBio) {
        let lookup = self.lookup(bio.sector);
        if let Lookup::Hit(index) = lookup {
            self.read_hit(bio, index);
            return;
        }
        match self.inval_blocks(&bio) {
            InvalOutcome::NotQueued => {}
            outcome => {
                if outcome == InvalOutcome::Failed {
                    self.endio(bio.id, IoStatus::IoError, None);
                }
                self.push_back_unused(lookup);
                return;
            }
        }
        let slot = match lookup {
            Lookup::Slot(index) if !self.write_only && !self.uncacheable(&bio) => Some(index),
            _ => None,
        };
        let Some(index) = slot else {
            self.push_back_unused(lookup);
            if lookup == Lookup::NoRoom {
                let set = self.blocks.geometry.set_of(bio.sector);
                self.clean_set(set, 0);
            }
            self.start_uncached_io(bio);
            return;
        };
        self.claim(index, bio.sector, Transition::ClaimForRead);
        self.read_miss(bio, index);
    }

    /// `flashcache_read_hit`.
    fn read_hit(&mut self, bio: CacheBio, index: u32) {
        let block = *self.blocks.block(index);
        assert_queued_only_while_busy(&block, index);
        if block.state.is_busy() {
            if self.injected(ErrorInjection::READ_HIT_PENDING_JOB_ALLOC_FAIL) {
                self.errors.memory_alloc_errors += 1;
                self.endio(bio.id, IoStatus::IoError, None);
            } else {
                mark!(ReadHitQueuedBehindBusyBlock);
                self.enqueue_pending(bio, index, PendingAction::ReadCache);
            }
            return;
        }
        self.blocks.apply(index, Transition::ReadHit);
        self.stats.read_hits += 1;
        if self.injected(ErrorInjection::READ_HIT_JOB_ALLOC_FAIL) {
            mark!(ReadHitJobAllocFailed);
            self.errors.memory_alloc_errors += 1;
            self.endio(bio.id, IoStatus::IoError, None);
            self.free_pending_jobs(index, IoStatus::IoError);
            self.blocks.apply(index, Transition::IoFinished);
            return;
        }
        let id = self.new_job(Action::ReadCache, Some(bio), index);
        self.stats.ssd_reads += 1;
        let regions = self.cache_region(id);
        self.submit_dm_io(
            CacheIoTag::Job(id),
            IoOp::Read,
            regions,
            CacheBuffer::Bio(bio.id),
        );
    }

    /// `flashcache_read_miss`: the slot is claimed; read the disk into the bio.
    fn read_miss(&mut self, bio: CacheBio, index: u32) {
        if self.injected(ErrorInjection::READ_MISS_JOB_ALLOC_FAIL) {
            mark!(ReadMissJobAllocFailed);
            self.errors.memory_alloc_errors += 1;
            self.endio(bio.id, IoStatus::IoError, None);
            self.unclaim_after_alloc_failure(index);
            return;
        }
        let id = self.new_job(Action::ReadDisk, Some(bio), index);
        self.stats.disk_reads += 1;
        let disk = self.block_disk_region(index);
        debug_assert_eq!(disk, self.jobs.job(id).disk);
        let disk = RegionList::one(disk);
        self.submit_dm_io(
            CacheIoTag::Job(id),
            IoOp::Read,
            disk,
            CacheBuffer::Bio(bio.id),
        );
        let set = self.blocks.geometry.set_of_index(index);
        self.clean_set(set, self.tunables.clean_on_read_miss);
    }

    /// `flashcache_write` (only cacheable full-block writes get here).
    fn write(&mut self, bio: CacheBio) {
        match self.lookup(bio.sector) {
            Lookup::Hit(index) => self.write_hit(bio, index),
            Lookup::Slot(index) => self.write_miss(bio, index),
            Lookup::NoRoom => match self.inval_blocks(&bio) {
                InvalOutcome::NotQueued => {
                    self.start_uncached_io(bio);
                    let set = self.blocks.geometry.set_of(bio.sector);
                    self.clean_set(set, 0);
                }
                InvalOutcome::Queued => {}
                InvalOutcome::Failed => self.endio(bio.id, IoStatus::IoError, None),
            },
        }
    }

    /// Issue the data write of a WRITECACHE job: SSD only (writeback) or disk and SSD in
    /// one dm_io (writethrough).
    fn issue_write_cache(&mut self, id: JobId, bio: CacheBio) {
        let job = self.jobs.job(id);
        let regions = if self.mode == CacheMode::WriteBack {
            RegionList::one(job.cache)
        } else {
            RegionList::two(job.disk, job.cache)
        };
        self.submit_dm_io(
            CacheIoTag::Job(id),
            IoOp::Write,
            regions,
            CacheBuffer::Bio(bio.id),
        );
    }

    /// `flashcache_write_hit`.
    fn write_hit(&mut self, bio: CacheBio, index: u32) {
        let block = *self.blocks.block(index);
        assert_queued_only_while_busy(&block, index);
        if block.state.is_busy() {
            if self.injected(ErrorInjection::WRITE_HIT_PENDING_JOB_ALLOC_FAIL) {
                self.errors.memory_alloc_errors += 1;
                self.endio(bio.id, IoStatus::IoError, None);
            } else {
                mark!(WriteHitQueuedBehindBusyBlock);
                if block
                    .state
                    .contains(super::state::BlockState::DISK_WRITE_IN_PROGRESS)
                {
                    mark!(CleaningRacesWriteHit);
                }
                self.enqueue_pending(bio, index, PendingAction::WriteCache);
            }
            return;
        }
        if block.state.is_dirty() {
            mark!(WriteHitOnDirtyBlock);
            self.stats.dirty_write_hits += 1;
        }
        self.stats.write_hits += 1;
        self.blocks.apply(index, Transition::WriteHit);
        if self.injected(ErrorInjection::WRITE_HIT_JOB_ALLOC_FAIL) {
            mark!(WriteHitJobAllocFailed);
            self.errors.memory_alloc_errors += 1;
            self.endio(bio.id, IoStatus::IoError, None);
            self.free_pending_jobs(index, IoStatus::IoError);
            self.blocks.apply(index, Transition::IoFinished);
            return;
        }
        let id = self.new_job(Action::WriteCache, Some(bio), index);
        self.stats.ssd_writes += 1;
        if self.mode == CacheMode::WriteBack {
            self.issue_write_cache(id, bio);
            let set = self.blocks.geometry.set_of_index(index);
            self.clean_set(set, 0);
        } else {
            self.stats.disk_writes += 1;
            self.issue_write_cache(id, bio);
        }
    }

    /// `flashcache_write_miss`.
    fn write_miss(&mut self, bio: CacheBio, index: u32) {
        match self.inval_blocks(&bio) {
            InvalOutcome::NotQueued => {}
            outcome => {
                self.push_back_unused(Lookup::Slot(index));
                if outcome == InvalOutcome::Failed {
                    self.endio(bio.id, IoStatus::IoError, None);
                }
                return;
            }
        }
        self.claim(index, bio.sector, Transition::ClaimForWrite);
        if self.injected(ErrorInjection::WRITE_MISS_JOB_ALLOC_FAIL) {
            mark!(WriteMissJobAllocFailed);
            self.errors.memory_alloc_errors += 1;
            self.endio(bio.id, IoStatus::IoError, None);
            self.unclaim_after_alloc_failure(index);
            return;
        }
        let id = self.new_job(Action::WriteCache, Some(bio), index);
        // Only ssd_writes is counted, also for the writethrough two-region write.
        self.stats.ssd_writes += 1;
        self.issue_write_cache(id, bio);
        let set = self.blocks.geometry.set_of_index(index);
        self.clean_set(set, self.tunables.clean_on_write_miss);
    }

    /// `flashcache_start_uncached_io`: the bio goes straight to the disk.
    pub(crate) fn start_uncached_io(&mut self, bio: CacheBio) {
        if bio.is_write() {
            self.stats.uncached_writes += 1;
            self.stats.disk_writes += 1;
        } else {
            self.stats.uncached_reads += 1;
            self.stats.disk_reads += 1;
        }
        let id = self.new_job(Action::Uncached, Some(bio), NO_INDEX);
        let op = match bio.op {
            Op::Read => IoOp::Read,
            Op::Write => IoOp::Write,
            Op::Discard => IoOp::Discard,
            Op::Flush => IoOp::Flush,
        };
        let disk = RegionList::one(self.jobs.job(id).disk);
        self.submit_dm_io(CacheIoTag::Job(id), op, disk, CacheBuffer::Bio(bio.id));
    }

    /// `flashcache_uncached_io_complete` (worker): count errors, then invalidate again in
    /// case a cacheable IO raced with this one; if that queues the bio it runs again later.
    pub(crate) fn uncached_io_complete(&mut self, id: JobId) {
        let job = self.jobs.remove(id);
        let bio = job.bio.expect("uncached job has a bio");
        if job.error {
            if bio.is_write() {
                self.errors.disk_write_errors += 1;
            } else {
                self.errors.disk_read_errors += 1;
            }
        }
        match self.inval_blocks(&bio) {
            InvalOutcome::NotQueued => {
                let status = if job.error {
                    IoStatus::IoError
                } else {
                    IoStatus::Ok
                };
                self.endio(bio.id, status, job.start_ns);
            }
            InvalOutcome::Queued => {
                mark!(UncachedIoRequeuedAfterRace);
                self.stats.uncached_io_requeue += 1;
            }
            InvalOutcome::Failed => {
                self.endio(bio.id, IoStatus::IoError, None);
                self.stats.uncached_io_requeue += 1;
            }
        }
    }

    /// `flashcache_do_io` (worker): the disk read of a miss succeeded; fill the SSD from the
    /// same bio pages.
    pub(crate) fn do_io(&mut self, id: JobId) {
        let job = self.jobs.job(id);
        assert_eq!(job.action, Action::ReadFill);
        let bio = job.bio.expect("fill job has a bio");
        self.stats.ssd_writes += 1;
        let regions = self.cache_region(id);
        self.submit_dm_io(
            CacheIoTag::Job(id),
            IoOp::Write,
            regions,
            CacheBuffer::Bio(bio.id),
        );
    }

    /// `flashcache_io_callback`: a cache job's data IO completed (interrupt context in
    /// flashcache; runs directly here).
    pub(crate) fn io_callback(&mut self, id: JobId, failed: bool) {
        let mut error = failed;
        if error && !self.bypass_cache && self.mode != CacheMode::WriteBack {
            // Writethrough/writearound: any cache job error switches to bypass for good.
            mark!(CacheJobErrorSwitchesToBypass);
            self.bypass_cache = true;
        }
        let job = self.jobs.job(id);
        let action = job.action;
        let index = job.index;
        let bio = job.bio.expect("cache job has a bio");
        let state = self.blocks.state(index);
        let mut disk_error = false;
        match action {
            Action::ReadDisk => {
                if self.injected(ErrorInjection::READDISK_ERROR) {
                    error = true;
                }
                assert!(state.contains(super::state::BlockState::DISK_READ_IN_PROGRESS));
                if !error {
                    self.jobs.job_mut(id).action = Action::ReadFill;
                    self.lists.io.push_back(id);
                    self.schedule_work();
                    return;
                }
                disk_error = true;
                self.errors.disk_read_errors += 1;
            }
            Action::ReadCache => {
                if self.injected(ErrorInjection::READCACHE_ERROR) {
                    error = true;
                }
                assert!(state.contains(super::state::BlockState::CACHE_READ_IN_PROGRESS));
                if error {
                    self.errors.ssd_read_errors += 1;
                }
            }
            Action::ReadFill => {
                if self.injected(ErrorInjection::READFILL_ERROR) {
                    error = true;
                }
                if error {
                    self.errors.ssd_write_errors += 1;
                }
                assert!(state.contains(super::state::BlockState::DISK_READ_IN_PROGRESS));
            }
            Action::WriteCache => {
                if self.injected(ErrorInjection::WRITECACHE_ERROR) {
                    error = true;
                }
                assert!(state.contains(super::state::BlockState::CACHE_WRITE_IN_PROGRESS));
                if !error {
                    if self.mode == CacheMode::WriteBack && !state.is_dirty() {
                        // clean → dirty: the bio completes after the metadata write.
                        mark!(CleanToDirtyMetadataWrite);
                        self.jobs.job_mut(id).error = false;
                        self.md_write(id);
                        return;
                    }
                } else {
                    self.errors.ssd_write_errors += 1;
                    if self.mode == CacheMode::WriteThrough {
                        // Which region failed is not looked at: count both, fail the bio.
                        disk_error = true;
                        self.errors.disk_write_errors += 1;
                    }
                }
            }
            other => panic!("io_callback for a {other:?} job"),
        }
        self.jobs.job_mut(id).error = error;
        if !error || self.mode == CacheMode::WriteBack || disk_error {
            let status = if error {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            };
            let start = self.jobs.job(id).start_ns;
            self.endio(bio.id, status, start);
            self.jobs.job_mut(id).bio = None;
        }
        if error || self.blocks.block(index).nr_queued > 0 {
            self.lists.pending.push_back(id);
            self.schedule_work();
        } else {
            self.blocks.apply(index, Transition::IoFinished);
            self.free_job(id);
        }
    }
}

/// flashcache tests `nr_queued` beside the busy bits before it touches a block; a block with
/// bios queued is always busy (`check_block` after every input), so the busy bits alone
/// decide here, and this says so where it is relied on.
#[inline]
fn assert_queued_only_while_busy(block: &CacheBlock, index: u32) {
    assert!(
        block.nr_queued == 0 || block.state.is_busy(),
        "cache block {index}: {} bios queued on a block that is not busy ({:?})",
        block.nr_queued,
        block.state
    );
}
