//! Zombie IO (option `ssd_timeout`, Decision 12): a timed SSD IO that was cancelled while
//! running fails at once, but the device may still carry it out later. Until the executor
//! reports its end ([`Flashcache::zombie_ended`]), whatever it may still write stays out of
//! use: the cache slot of a data IO (kept busy, off the free list and out of replacement)
//! and the metadata block of a metadata write (its next write waits). Otherwise the slot's
//! next write, or the block's next metadata write, would be in flight on the same SSD
//! sectors as the zombie, and the zombie landing last would put stale bytes under a new
//! identity (regression 004). A metadata zombie that landed leaves the SSD naming its
//! batch's slots as the failed write had them, so after its end the block is rewritten from
//! memory, and the batch's slots stay claimed until then (see [`super::md`]).
//!
//! Owns: the record of what each zombie holds and the resumption when it ends. Does not own
//! the error handling that decides to hold (see [`super::pending`] and [`super::md`]).

use super::instance::{CacheInputError, Flashcache};
use super::io::{CacheIoTag, JobId};
use super::state::Transition;

/// What waits for the end of one request's zombie IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZombieHold {
    /// Nothing yet: the request's failure is still on its way through the error path.
    Nothing,
    /// The job's cache slot is busy and off every list; its error path ends when the
    /// zombie does.
    Slot,
    /// Writethrough/writearound data write (disk and SSD), or a writethrough fill whose bio
    /// is re-issued to the disk: the whole error path waits, so the bio and those queued
    /// behind it go to the disk only after the zombie, which may be writing the same disk
    /// sectors or still reading the bio's pages, has ended.
    SlotAndBio,
    /// This metadata block's next write waits (its head stays in progress); when the zombie
    /// ends, the block is rewritten from memory before anything else (see
    /// [`super::md`]), and the failed write's jobs wait for that.
    MdBlock(u32),
}

impl Flashcache {
    /// The executor reports the end of the zombie IO of a request whose completion said
    /// `zombie_io`: whatever the target held for it is released.
    pub fn zombie_ended(&mut self, tag: CacheIoTag, now_ns: u64) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        let Some(hold) = self.zombies.remove(&tag) else {
            return Err(CacheInputError::UnknownTag { tag });
        };
        match (hold, tag) {
            (ZombieHold::Nothing, _) => {}
            (ZombieHold::Slot, CacheIoTag::Job(id)) => {
                mark!(ZombieEndsWhileSlotHeld);
                self.release_errored_slot(id);
            }
            (ZombieHold::SlotAndBio, CacheIoTag::Job(id)) => {
                mark!(ZombieEndsWhileSlotHeld);
                self.do_pending(id);
            }
            (ZombieHold::MdBlock(md_block), CacheIoTag::MdWrite(_)) => {
                // Whatever the zombie wrote, memory is right: write that first.
                self.md_rewrite_kickoff(md_block);
            }
            (hold, tag) => unreachable!("zombie hold {hold:?} recorded for {tag:?}"),
        }
        self.after_input();
        Ok(())
    }

    /// A request's completion said a zombie may still run: record it (nothing held yet).
    pub(crate) fn note_zombie(&mut self, tag: CacheIoTag) {
        let previous = self.zombies.insert(tag, ZombieHold::Nothing);
        assert!(previous.is_none(), "{tag:?} left a zombie twice");
    }

    /// If job `id`'s data IO left a zombie still running, hold its slot (`hold` says how
    /// much of the error path waits) and return true.
    pub(crate) fn hold_slot_for_zombie(&mut self, id: JobId, hold: ZombieHold) -> bool {
        match self.zombies.get_mut(&CacheIoTag::Job(id)) {
            Some(entry) => {
                assert_eq!(*entry, ZombieHold::Nothing, "job {id:?} held twice");
                *entry = hold;
                true
            }
            None => false,
        }
    }

    /// If metadata write `id` left a zombie still running, hold `md_block` (its head stays
    /// in progress; updates queue) and return true.
    pub(crate) fn hold_md_block_for_zombie(&mut self, id: JobId, md_block: u32) -> bool {
        match self.zombies.get_mut(&CacheIoTag::MdWrite(id)) {
            Some(entry) => {
                assert_eq!(*entry, ZombieHold::Nothing, "md write {id:?} held twice");
                *entry = ZombieHold::MdBlock(md_block);
                true
            }
            None => false,
        }
    }

    /// The end of an errored job's error path, once no IO of it runs: the slot's busy bits
    /// come off and an invalidated slot returns to the free list. A dirty block that had
    /// bios queue behind it while held is cleaned first, as after any busy period.
    pub(crate) fn release_errored_slot(&mut self, id: JobId) {
        let index = self.jobs.job(id).index;
        let block = *self.blocks.block(index);
        if block.state.is_dirty() && block.nr_queued > 0 {
            self.jobs.job_mut(id).error = false;
            self.do_pending(id);
            return;
        }
        self.blocks.apply(index, Transition::IoFinished);
        if block.state.is_invalid() {
            self.blocks.invalid_insert(index);
        }
        self.free_job(id);
    }

    /// Cache slots held by a zombie (busy although INVALID, which is otherwise never seen
    /// between inputs).
    pub(crate) fn zombie_held_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.zombies
            .iter()
            .filter_map(|(tag, hold)| match (tag, hold) {
                (CacheIoTag::Job(id), ZombieHold::Slot | ZombieHold::SlotAndBio) => {
                    Some(self.jobs.job(*id).index)
                }
                _ => None,
            })
    }

    /// What the zombie holds have to say between inputs: a held slot is busy (its job lives
    /// until the hold ends), a held metadata block stays in progress with no write in
    /// flight (its next write waits), and no slot or block is held twice.
    pub(crate) fn check_zombie_holds(&self) {
        let mut slots = std::collections::BTreeSet::new();
        let mut md_blocks = std::collections::BTreeSet::new();
        for (tag, hold) in &self.zombies {
            match (tag, hold) {
                (_, ZombieHold::Nothing) => {}
                (CacheIoTag::Job(id), ZombieHold::Slot | ZombieHold::SlotAndBio) => {
                    let job = self
                        .jobs
                        .get(*id)
                        .unwrap_or_else(|| panic!("{tag:?} holds a slot but its job is gone"));
                    assert!(!job.in_flight, "{tag:?} holds a slot with IO in flight");
                    assert!(
                        self.blocks.state(job.index).is_busy(),
                        "block {}: held by a zombie but idle",
                        job.index
                    );
                    assert!(
                        slots.insert(job.index),
                        "block {}: held by two zombies",
                        job.index
                    );
                }
                (CacheIoTag::MdWrite(_), ZombieHold::MdBlock(md_block)) => {
                    let head = &self.md_heads[*md_block as usize];
                    assert!(
                        head.in_prog && head.md_io_inprog.is_empty(),
                        "metadata block {md_block}: held by a zombie but not parked"
                    );
                    assert!(
                        md_blocks.insert(*md_block),
                        "metadata block {md_block}: held by two zombies"
                    );
                    assert!(
                        !head.rewrite_waiters.is_empty(),
                        "metadata block {md_block}: held by a zombie with no failed job waiting"
                    );
                }
                (tag, hold) => panic!("zombie hold {hold:?} recorded for {tag:?}"),
            }
        }
    }

    /// The jobs waiting for their metadata block's rewrite: errored, alive, their block
    /// busy and still in its set's hash or dirty (its dbn stays claimed), each waiting once.
    pub(crate) fn check_md_rewrite_waiters(&self) {
        let mut waiting = std::collections::BTreeSet::new();
        for (md_block, head) in self.md_heads.iter().enumerate() {
            if head.rewrite_waiters.is_empty() {
                continue;
            }
            assert!(
                head.in_prog,
                "metadata block {md_block}: waiters on an idle block"
            );
            for id in &head.rewrite_waiters {
                let job = self.jobs.get(*id).unwrap_or_else(|| {
                    panic!("metadata block {md_block}: waiting job {id:?} is gone")
                });
                assert!(job.error && !job.in_flight, "waiting job {id:?}: {job:?}");
                assert_eq!(
                    self.blocks.geometry.md_block_of(job.index) as usize,
                    md_block,
                    "waiting job {id:?} of another metadata block"
                );
                let state = self.blocks.state(job.index);
                assert!(
                    state.is_busy() && state.is_valid(),
                    "block {}: waits for a metadata rewrite but is {state:?}",
                    job.index
                );
                assert!(
                    waiting.insert(job.index),
                    "block {}: waits twice",
                    job.index
                );
            }
        }
    }

    /// Zombies whose end the target still waits for (the engine's own tests read it).
    #[cfg(test)]
    pub fn zombies_outstanding(&self) -> usize {
        self.zombies.len()
    }

    /// The requests whose zombie's end the target waits for, in tag order.
    pub fn zombie_tags(&self) -> impl Iterator<Item = CacheIoTag> + '_ {
        self.zombies.keys().copied()
    }
}
