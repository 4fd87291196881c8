//! Job records (spec 1.5, 1.18; DESIGN invariant 2): `kcached_job`s in a slab, the per-block
//! pending queue of bios (32 hash buckets, head insertion, oldest-first dequeue), and the
//! pool of metadata byte buffers.
//!
//! Owns: storage and handles. A job's continuation is its [`Action`] (an enum), advanced by
//! the target's step functions. Does not own the meaning of actions.

use super::io::{CacheBio, JobId, MetaBufferId, Region};

/// Index meaning "no cache block" (an uncached or flush job; flashcache's -1).
pub(crate) const NO_INDEX: u32 = u32::MAX;

/// `kcached_job.action`: what the job is doing, i.e. what its completion continues with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// SSD read serving a hit.
    ReadCache,
    /// SSD write of bio data (WB), or disk+SSD write (WT).
    WriteCache,
    /// Disk read of a miss.
    ReadDisk,
    /// SSD write filling a read miss (same bio pages).
    ReadFill,
    /// Cleaning copy SSD→disk, then metadata write.
    WriteDisk,
    /// Same, driven by sync.
    WriteDiskSync,
    /// Disk IO straight from/to the bio.
    Uncached,
    /// Option `honor_flush`: flush of both devices.
    Flush,
    /// Rewrite of a whole metadata block from memory after a failed write of it that may
    /// still land (a zombie); `index` is the block's first slot (see [`super::zombie`]).
    MdRewrite,
}

/// `struct kcached_job`. `repr(C)`, the bio first: in the layout rustc chose, the bio sat at
/// an offset that made `new_job` copy it with loads straddling the stores that had just
/// written it, a store-forwarding stall that cost `dmsim hits` a tenth of its CPU.
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct Job {
    pub bio: Option<CacheBio>,
    pub disk: Region,
    pub cache: Region,
    /// Virtual time the job was created, when latency is recorded.
    pub start_ns: Option<u64>,
    pub md_buffer: Option<MetaBufferId>,
    pub index: u32,
    pub action: Action,
    pub error: bool,
    /// A request of this job is with the executor (catches double or early completions).
    pub in_flight: bool,
    /// This job's metadata write failed and its completion said it may still land (a
    /// zombie): the SSD may hold what it wrote, not what memory says.
    pub md_write_may_land: bool,
}

#[derive(Debug, Clone)]
struct JobSlot {
    generation: u32,
    job: Option<Job>,
}

/// Slab of jobs with generation-checked handles.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobSlab {
    slots: Vec<JobSlot>,
    free: Vec<u32>,
    live: u64,
}

impl JobSlab {
    #[inline]
    pub fn insert(&mut self, job: Job) -> JobId {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            debug_assert!(slot.job.is_none());
            slot.job = Some(job);
            JobId {
                index,
                generation: slot.generation,
            }
        } else {
            let index = self.slots.len() as u32;
            self.slots.push(JobSlot {
                generation: 0,
                job: Some(job),
            });
            JobId {
                index,
                generation: 0,
            }
        }
    }

    /// The live job behind `id`, if the handle is current.
    #[inline]
    pub fn get(&self, id: JobId) -> Option<&Job> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.job.as_ref()
    }

    /// The live job behind a handle the target itself holds.
    #[inline]
    #[track_caller]
    pub fn job(&self, id: JobId) -> &Job {
        self.get(id).expect("stale job handle")
    }

    #[inline]
    #[track_caller]
    pub fn job_mut(&mut self, id: JobId) -> &mut Job {
        let slot = &mut self.slots[id.index as usize];
        assert_eq!(slot.generation, id.generation, "stale job handle");
        slot.job.as_mut().expect("freed job")
    }

    #[inline]
    #[track_caller]
    pub fn remove(&mut self, id: JobId) -> Job {
        let slot = &mut self.slots[id.index as usize];
        assert_eq!(slot.generation, id.generation, "stale job handle");
        let job = slot.job.take().expect("double free of a job");
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        self.live -= 1;
        job
    }

    /// Jobs currently allocated.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Every allocated job (slot order), for the invariant check.
    pub fn iter(&self) -> impl Iterator<Item = &Job> {
        self.slots.iter().filter_map(|slot| slot.job.as_ref())
    }
}

/// `pending_job.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingAction {
    ReadCache,
    WriteCache,
    Invalidate,
}

#[derive(Debug, Clone, Copy)]
struct PendingJob {
    bio: CacheBio,
    action: PendingAction,
    index: u32,
    prev: u32,
    next: u32,
}

/// Buckets of the pending queue (`PENDING_JOB_HASH_SIZE`).
pub(crate) const PENDING_BUCKETS: usize = 32;
const NONE: u32 = u32::MAX;

/// The pending queue: bios waiting for a busy block, hashed by `index % 32`.
#[derive(Debug, Clone)]
pub(crate) struct PendingQueue {
    buckets: [u32; PENDING_BUCKETS],
    jobs: Vec<PendingJob>,
    free: Vec<u32>,
    count: u64,
}

/// A dequeued run of pending jobs, oldest first; drain it with [`PendingQueue::pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingChain {
    head: u32,
    pub len: u32,
}

impl Default for PendingQueue {
    fn default() -> Self {
        PendingQueue {
            buckets: [NONE; PENDING_BUCKETS],
            jobs: Vec::new(),
            free: Vec::new(),
            count: 0,
        }
    }
}

impl PendingQueue {
    /// `flashcache_enq_pending`: insert at the head of the block's bucket.
    pub fn enqueue(&mut self, bio: CacheBio, index: u32, action: PendingAction) {
        let bucket = index as usize % PENDING_BUCKETS;
        let head = self.buckets[bucket];
        let job = PendingJob {
            bio,
            action,
            index,
            prev: NONE,
            next: head,
        };
        let slot = if let Some(slot) = self.free.pop() {
            self.jobs[slot as usize] = job;
            slot
        } else {
            self.jobs.push(job);
            (self.jobs.len() - 1) as u32
        };
        if head != NONE {
            self.jobs[head as usize].prev = slot;
        }
        self.buckets[bucket] = slot;
        self.count += 1;
    }

    /// `flashcache_deq_pending`: unlink every job queued on `index`; the chain yields them
    /// oldest first (the bucket is newest first; each match is pushed on the chain's head).
    pub fn dequeue(&mut self, index: u32) -> PendingChain {
        let bucket = index as usize % PENDING_BUCKETS;
        let mut chain = PendingChain { head: NONE, len: 0 };
        let mut cursor = self.buckets[bucket];
        while cursor != NONE {
            let job = self.jobs[cursor as usize];
            let next = job.next;
            if job.index == index {
                if job.prev == NONE {
                    self.buckets[bucket] = job.next;
                } else {
                    self.jobs[job.prev as usize].next = job.next;
                }
                if job.next != NONE {
                    self.jobs[job.next as usize].prev = job.prev;
                }
                let moved = &mut self.jobs[cursor as usize];
                moved.prev = NONE;
                moved.next = chain.head;
                chain.head = cursor;
                chain.len += 1;
            }
            cursor = next;
        }
        self.count -= u64::from(chain.len);
        chain
    }

    /// Take the next job of a chain (and free its slot).
    pub fn pop(&mut self, chain: &mut PendingChain) -> Option<(CacheBio, PendingAction)> {
        if chain.head == NONE {
            return None;
        }
        let slot = chain.head;
        let job = self.jobs[slot as usize];
        chain.head = job.next;
        chain.len -= 1;
        self.free.push(slot);
        Some((job.bio, job.action))
    }

    /// Jobs queued (`pending_jobs_count`).
    pub fn len(&self) -> u64 {
        self.count
    }
}

/// Engine-owned metadata buffers, reused without reallocation once warm.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetaBuffers {
    buffers: Vec<Vec<u8>>,
    in_use: Vec<bool>,
    free: Vec<u32>,
}

impl MetaBuffers {
    /// A zero-filled buffer of `bytes`.
    pub fn alloc(&mut self, bytes: usize) -> MetaBufferId {
        let id = self.alloc_to_overwrite(bytes);
        self.buffers[id.0 as usize].fill(0);
        id
    }

    /// A buffer of `bytes` that still holds what its last user left: for a caller that
    /// writes every byte (a metadata write of a whole md block; zeroing first cost a
    /// 4 KiB memset per write, issue 11).
    pub fn alloc_to_overwrite(&mut self, bytes: usize) -> MetaBufferId {
        let id = if let Some(id) = self.free.pop() {
            id
        } else {
            self.buffers.push(Vec::new());
            self.in_use.push(false);
            (self.buffers.len() - 1) as u32
        };
        self.buffers[id as usize].resize(bytes, 0);
        self.in_use[id as usize] = true;
        MetaBufferId(id)
    }

    pub fn get(&self, id: MetaBufferId) -> Option<&[u8]> {
        let index = id.0 as usize;
        (self.in_use.get(index) == Some(&true)).then(|| self.buffers[index].as_slice())
    }

    pub fn get_mut(&mut self, id: MetaBufferId) -> Option<&mut [u8]> {
        let index = id.0 as usize;
        if self.in_use.get(index) == Some(&true) {
            Some(self.buffers[index].as_mut_slice())
        } else {
            None
        }
    }

    #[track_caller]
    pub fn free(&mut self, id: MetaBufferId) {
        assert!(
            self.in_use[id.0 as usize],
            "double free of a metadata buffer"
        );
        self.in_use[id.0 as usize] = false;
        self.free.push(id.0);
    }

    /// Buffers currently handed out.
    pub fn in_use(&self) -> usize {
        self.in_use.iter().filter(|&&used| used).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Op;
    use crate::flashcache::io::CacheBioId;

    fn bio(id: u64) -> CacheBio {
        CacheBio {
            id: CacheBioId(id),
            op: Op::Read,
            sector: id * 8,
            sectors: 8,
            pid: 1,
            tgid: 1,
        }
    }

    #[test]
    fn pending_dequeue_returns_oldest_first_and_leaves_other_blocks() {
        let mut queue = PendingQueue::default();
        // Blocks 3 and 35 share bucket 3.
        queue.enqueue(bio(1), 3, PendingAction::ReadCache);
        queue.enqueue(bio(2), 35, PendingAction::WriteCache);
        queue.enqueue(bio(3), 3, PendingAction::Invalidate);
        queue.enqueue(bio(4), 3, PendingAction::WriteCache);
        assert_eq!(queue.len(), 4);
        let mut chain = queue.dequeue(3);
        assert_eq!(chain.len, 3);
        let order: Vec<u64> = std::iter::from_fn(|| queue.pop(&mut chain))
            .map(|(bio, _)| bio.id.0)
            .collect();
        assert_eq!(order, vec![1, 3, 4]);
        assert_eq!(queue.len(), 1);
        let mut rest = queue.dequeue(35);
        assert_eq!(
            queue.pop(&mut rest).map(|(b, a)| (b.id.0, a)),
            Some((2, PendingAction::WriteCache))
        );
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.dequeue(3).len, 0);
    }

    #[test]
    fn job_handles_go_stale_after_free() {
        let mut slab = JobSlab::default();
        let region = Region::new(super::super::io::Device::Ssd, 0, 8);
        let job = Job {
            action: Action::ReadCache,
            index: 0,
            bio: None,
            error: false,
            disk: region,
            cache: region,
            start_ns: None,
            md_buffer: None,
            in_flight: false,
            md_write_may_land: false,
        };
        let first = slab.insert(job.clone());
        slab.remove(first);
        let second = slab.insert(job);
        assert_eq!(first.index, second.index);
        assert!(slab.get(first).is_none());
        assert!(slab.get(second).is_some());
        assert_eq!(slab.live(), 1);
    }

    #[test]
    fn meta_buffers_are_zeroed_and_reused() {
        let mut buffers = MetaBuffers::default();
        let id = buffers.alloc(16);
        buffers.get_mut(id).expect("live")[0] = 7;
        buffers.free(id);
        assert!(buffers.get(id).is_none());
        let again = buffers.alloc(32);
        assert_eq!(again, id);
        assert_eq!(buffers.get(again).expect("live"), &[0u8; 32][..]);
        assert_eq!(buffers.in_use(), 1);
    }
}
