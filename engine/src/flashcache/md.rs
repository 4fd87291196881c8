//! Metadata updates (spec 1.14, writeback only): the two transitions that write a metadata
//! block — clean→dirty after a data write, dirty→clean after a cleaning copy — serialised
//! per metadata block, with updates arriving meanwhile batched into the next write.
//!
//! Owns: `md_write`, the worker's kick-off (snapshot of the whole md block from memory plus
//! the overrides of every batched job) and `md_write_done`. A timed-out metadata write that
//! may still land (a zombie, option `ssd_timeout`) keeps its block in progress until it
//! ends (see [`super::zombie`]). Does not own the byte layout
//! (see [`super::layout`]).

use super::config::MdWriteFailure;
use super::inject::ErrorInjection;
use super::instance::Flashcache;
use super::io::{CacheBuffer, CacheIoTag, Device, IoOp, JobId, MetaBufferId, Region, RegionList};
use super::job::Action;
use super::layout::{encode_slot, MdSlot, SLOT_BYTES};
use super::state::{BlockState, Transition};
use crate::block::IoStatus;

/// Rewrites of a metadata block from memory that may fail in a row (each failing at once,
/// without a zombie) before the failed write's error paths run anyway.
const MD_REWRITE_ATTEMPTS_MAX: u32 = 4;

impl Flashcache {
    /// `flashcache_md_write`: queue behind a write in flight on the same md block, or hand
    /// the job to the worker to start one.
    pub(crate) fn md_write(&mut self, id: JobId) {
        let job = self.jobs.job(id);
        assert!(matches!(
            job.action,
            Action::WriteCache | Action::WriteDisk | Action::WriteDiskSync
        ));
        let md_block = self.blocks.geometry.md_block_of(job.index) as usize;
        let head = &mut self.md_heads[md_block];
        if head.in_prog {
            head.queued_updates.push_back(id);
        } else {
            head.in_prog = true;
            self.lists.md_io.push_back(id);
            self.schedule_work();
        }
    }

    /// `flashcache_md_write_kickoff` (worker): snapshot the md block, apply this job's and
    /// every batched job's new state, write it.
    pub(crate) fn md_write_kickoff(&mut self, id: JobId) {
        let geometry = self.blocks.geometry;
        if self.injected(ErrorInjection::MD_ALLOC_SECTOR_ERROR) {
            // Page allocation failed: treated as a metadata write error.
            self.errors.memory_alloc_errors += 1;
            self.jobs.job_mut(id).error = true;
            self.lists.md_complete.push_back(id);
            self.schedule_work();
            return;
        }
        let index = self.jobs.job(id).index;
        let md_block = geometry.md_block_of(index);
        let head = &mut self.md_heads[md_block as usize];
        debug_assert!(head.md_io_inprog.is_empty());
        head.md_io_inprog.extend(head.queued_updates.drain(..));
        let buffer_id = self.md_block_snapshot(md_block);
        self.jobs.job_mut(id).md_buffer = Some(buffer_id);
        let first = md_block * geometry.slots_per_md_block();
        let target_slot = |action: Action| -> u32 {
            let state = if action == Action::WriteCache {
                BlockState::VALID.union(BlockState::DIRTY)
            } else {
                BlockState::VALID
            };
            u32::from(state.bits())
        };
        let batched = self.md_heads[md_block as usize].md_io_inprog.len();
        for position in 0..=batched {
            let job_id = match position {
                0 => id,
                _ => self.md_heads[md_block as usize].md_io_inprog[position - 1],
            };
            let job = self.jobs.job(job_id);
            let slot = MdSlot {
                dbn: self.blocks.block(job.index).dbn,
                state: target_slot(job.action),
            };
            let buffer = self.meta.get_mut(buffer_id).expect("just allocated");
            encode_slot(buffer, (job.index - first) as usize, slot);
            if position > 0 {
                mark!(MetadataWriteBatched);
                self.stats.md_write_batch += 1;
            }
        }
        self.submit_md_block_write(id, md_block, buffer_id);
    }

    /// A metadata buffer holding `md_block` as memory has it now.
    fn md_block_snapshot(&mut self, md_block: u32) -> MetaBufferId {
        let geometry = self.blocks.geometry;
        let md_bytes = geometry.md_block_size_sectors as usize * 512;
        let buffer_id = self.meta.alloc_to_overwrite(md_bytes);
        let first = md_block * geometry.slots_per_md_block();
        let last = (first + geometry.slots_per_md_block()).min(geometry.size_blocks);
        let buffer = self.meta.get_mut(buffer_id).expect("just allocated");
        for (bytes, block_index) in buffer.chunks_exact_mut(SLOT_BYTES).zip(first..last) {
            let block = self.blocks.block(block_index);
            let bytes: &mut [u8; SLOT_BYTES] = bytes.try_into().expect("an exact chunk");
            *bytes = MdSlot::of_block(block.dbn, block.state).to_bytes();
        }
        // The last md block's slots past the cache's end, and any bytes after the last
        // whole slot, are zero, as a zero-filled buffer had them.
        let written = (last - first) as usize * SLOT_BYTES;
        buffer[written..].fill(0);
        buffer_id
    }

    /// Write `buffer_id` over `md_block` on the SSD, on job `id`'s behalf.
    fn submit_md_block_write(&mut self, id: JobId, md_block: u32, buffer_id: MetaBufferId) {
        let geometry = self.blocks.geometry;
        self.stats.ssd_writes += 1;
        self.stats.md_ssd_writes += 1;
        let region = Region::new(
            Device::Ssd,
            geometry.md_block_sector(md_block),
            u64::from(geometry.md_block_size_sectors),
        );
        self.submit_dm_io(
            CacheIoTag::MdWrite(id),
            IoOp::Write,
            RegionList::one(region),
            CacheBuffer::Meta(buffer_id),
        );
    }

    /// `flashcache_md_write_done` (worker): finish the lead job and every batched one, then
    /// start the next queued update of this md block (which absorbs the rest).
    ///
    /// A failed write that may still land (a zombie) leaves the SSD naming the batch's
    /// slots as the write had them, not as memory will: a failed dirtying names the
    /// invalidated block DIRTY, a failed cleaning names the still dirty block clean. So the
    /// batch's error paths wait, their slots busy and their dbns hashed (no new write to
    /// them is acknowledged, no slot is reused), until the block has been rewritten from
    /// memory after the zombie's end (regression: the zombie tests' reused slot).
    pub(crate) fn md_write_done(&mut self, id: JobId) {
        if let Some(buffer) = self.jobs.job_mut(id).md_buffer.take() {
            self.meta.free(buffer);
        }
        if self.jobs.job(id).action == Action::MdRewrite {
            self.md_rewrite_done(id);
            return;
        }
        let lead = self.jobs.job(id);
        let error = lead.error;
        let may_land = lead.md_write_may_land;
        assert!(!may_land || error, "a metadata write that may land failed");
        let md_block = self.blocks.geometry.md_block_of(lead.index) as usize;
        if error {
            mark!(MetadataWriteFailed);
        }
        let batched = std::mem::take(&mut self.md_heads[md_block].md_io_inprog);
        for job_id in std::iter::once(id).chain(batched.iter().copied()) {
            self.jobs.job_mut(job_id).error = error;
            let job = self.jobs.job(job_id);
            if job.action == Action::WriteCache {
                self.md_dirty_done(job_id, may_land);
                if self.is_halted() {
                    return;
                }
            } else {
                self.md_clean_done(job_id, may_land);
            }
        }
        // Give the emptied batch vector back to the head to reuse its capacity.
        let mut batched = batched;
        batched.clear();
        self.md_heads[md_block].md_io_inprog = batched;
        if may_land {
            if self.hold_md_block_for_zombie(id, md_block as u32) {
                // The block's next write waits for the zombie's end (see super::zombie).
                mark!(ZombieHoldsMetadataBlock);
            } else {
                // The zombie ended before its failure reached the worker.
                self.md_rewrite_kickoff(md_block as u32);
            }
            return;
        }
        self.md_block_write_next(md_block as u32);
    }

    /// The block's write ended: start its next queued update, or leave it idle.
    fn md_block_write_next(&mut self, md_block: u32) {
        let head = &mut self.md_heads[md_block as usize];
        if let Some(next) = head.queued_updates.pop_front() {
            self.md_write_kickoff(next);
        } else {
            head.in_prog = false;
        }
    }

    /// Rewrite `md_block` from memory (the head stays in progress; updates queue).
    pub(crate) fn md_rewrite_kickoff(&mut self, md_block: u32) {
        let head = &self.md_heads[md_block as usize];
        assert!(
            head.in_prog && head.md_io_inprog.is_empty(),
            "metadata block {md_block}: rewritten while not parked"
        );
        assert!(
            !head.rewrite_waiters.is_empty(),
            "metadata block {md_block}: rewritten with no failed write behind it"
        );
        mark!(MetadataBlockRewrittenAfterZombie);
        let first = md_block * self.blocks.geometry.slots_per_md_block();
        let id = self.new_job(Action::MdRewrite, None, first);
        let buffer_id = self.md_block_snapshot(md_block);
        self.jobs.job_mut(id).md_buffer = Some(buffer_id);
        self.submit_md_block_write(id, md_block, buffer_id);
    }

    /// A rewrite from memory ended. Done: the failed batch's error paths run, then the
    /// block's queued updates. Failed: rewrite again (after its own zombie ends, if it left
    /// one), at most `MD_REWRITE_ATTEMPTS_MAX` times in a row; past that the SSD keeps
    /// failing writes and the error paths run anyway (the cache cannot do better).
    fn md_rewrite_done(&mut self, id: JobId) {
        let job = self.jobs.job(id);
        let (error, may_land) = (job.error, job.md_write_may_land);
        let md_block = self.blocks.geometry.md_block_of(job.index);
        self.free_job(id);
        if error {
            self.errors.ssd_write_errors += 1;
            if may_land {
                if !self.hold_md_block_for_zombie(id, md_block) {
                    self.md_rewrite_kickoff(md_block);
                }
                return;
            }
            let head = &mut self.md_heads[md_block as usize];
            head.rewrite_failures += 1;
            if head.rewrite_failures < MD_REWRITE_ATTEMPTS_MAX {
                self.md_rewrite_kickoff(md_block);
                return;
            }
        }
        let head = &mut self.md_heads[md_block as usize];
        head.rewrite_failures = 0;
        let waiters = std::mem::take(&mut head.rewrite_waiters);
        for waiter in waiters {
            self.do_pending(waiter);
        }
        if self.md_heads[md_block as usize].queued_updates.is_empty() {
            self.md_heads[md_block as usize].in_prog = false;
        } else {
            mark!(MetadataWriteHeldBehindZombie);
            self.md_block_write_next(md_block);
        }
    }

    /// Job `id` of a failed write that may still land: its error path waits for the
    /// rewrite of its metadata block (see `md_write_done`).
    fn wait_for_md_rewrite(&mut self, id: JobId) {
        let md_block = self.blocks.geometry.md_block_of(self.jobs.job(id).index);
        assert!(self.jobs.job(id).error, "only an errored job waits");
        self.md_heads[md_block as usize].rewrite_waiters.push(id);
    }

    /// The WRITECACHE half of `md_write_done`.
    fn md_dirty_done(&mut self, id: JobId, may_land: bool) {
        if self.injected(ErrorInjection::WRITECACHE_MD_ERROR) {
            self.jobs.job_mut(id).error = true;
        }
        let job = self.jobs.job(id);
        let (index, error, start_ns) = (job.index, job.error, job.start_ns);
        let bio = job.bio.expect("dirtying job carries its bio");
        let set = self.blocks.geometry.set_of_index(index);
        if !error {
            if !self.blocks.state(index).is_dirty() {
                self.blocks.set_mut(set).nr_dirty += 1;
                self.nr_dirty += 1;
            }
            self.stats.md_write_dirty += 1;
            self.blocks.apply(index, Transition::MarkDirty);
        } else {
            self.errors.ssd_write_errors += 1;
        }
        let status = if error {
            IoStatus::IoError
        } else {
            IoStatus::Ok
        };
        self.endio(bio.id, status, start_ns);
        if error {
            match self.config.options.md_write_failure {
                MdWriteFailure::Panic => {
                    // flashcache's error handler still sees job->bio and VERIFYs that the
                    // cache is not writeback.
                    self.halt(
                        "VERIFY(dmc->cache_mode != FLASHCACHE_WRITE_BACK) failed in \
                         flashcache_do_pending_error after a dirtying metadata write error",
                    );
                }
                MdWriteFailure::FailAndInvalidate => {
                    // Decision 8: the block was clean, so invalidating it serves the last
                    // acknowledged data from the disk.
                    self.jobs.job_mut(id).bio = None;
                    if may_land {
                        self.wait_for_md_rewrite(id);
                    } else {
                        self.do_pending(id);
                    }
                }
            }
        } else if self.blocks.block(index).nr_queued > 0 {
            self.do_pending(id);
        } else {
            self.blocks.apply(index, Transition::IoFinished);
            self.free_job(id);
        }
    }

    /// The WRITEDISK / WRITEDISK_SYNC half of `md_write_done`.
    fn md_clean_done(&mut self, id: JobId, may_land: bool) {
        let action = self.jobs.job(id).action;
        if self.injected(ErrorInjection::WRITEDISK_MD_ERROR) {
            self.jobs.job_mut(id).error = true;
        }
        let job = self.jobs.job(id);
        let (index, error) = (job.index, job.error);
        let set = self.blocks.geometry.set_of_index(index);
        if !error {
            self.stats.md_write_clean += 1;
            self.blocks.apply(index, Transition::MarkClean);
            self.blocks.block_mut(index).clean_failed = false;
            let cache_set = self.blocks.set_mut(set);
            assert!(cache_set.nr_dirty > 0 && self.nr_dirty > 0);
            cache_set.nr_dirty -= 1;
            self.nr_dirty -= 1;
        } else {
            // No choice but to keep the dirty block; bios queued meanwhile fail.
            self.errors.ssd_write_errors += 1;
            self.blocks.block_mut(index).clean_failed = true;
        }
        let cache_set = self.blocks.set_mut(set);
        assert!(cache_set.clean_inprog > 0 && self.clean_inprog > 0);
        cache_set.clean_inprog -= 1;
        self.clean_inprog -= 1;
        if error && may_land {
            self.wait_for_md_rewrite(id);
        } else if error || self.blocks.block(index).nr_queued > 0 {
            self.do_pending(id);
        } else {
            self.blocks.apply(index, Transition::IoFinished);
            self.free_job(id);
        }
        if action == Action::WriteDisk {
            self.clean_set(set, 0);
        } else {
            self.sync_blocks();
        }
        self.stats.cleanings += 1;
    }
}
