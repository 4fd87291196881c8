//! The flashcache target instance: its state, its public inputs and outputs, and the
//! helpers every step function shares (job creation, bio completion, worker scheduling).
//!
//! Owns: the `Flashcache` struct and the entry points callers use. The IO path, metadata,
//! cleaning and persistence steps live in sibling modules as further `impl Flashcache`
//! blocks. Does not own any clock or device: time and completions are inputs.

use super::config::{
    CacheDeviceSizes, CacheMode, FlashcacheConfig, ReclaimPolicy, Tunables,
    LRU_HOT_PCT_INTERNAL_DEFAULT,
};
use super::geometry::Geometry;
use super::inject::ErrorInjection;
use super::invariants::IncrementalCheck;
use super::io::{
    CacheBio, CacheBioId, CacheBuffer, CacheDmIo, CacheIoTag, CacheRequest, DmIoOutcome, IoOp,
    JobId, KcopydRequest, MetaBufferId, Region, RegionList,
};
use super::job::{Action, Job, JobSlab, MetaBuffers, PendingQueue, NO_INDEX};
use super::persist::StoreProgress;
use super::seq::{PidLists, SeqTracker};
use super::set::{Blocks, VictimIndexMode};
use super::state::BlockState;
use super::stats::{FlashcacheErrors, FlashcacheStats, Histograms};
use super::zombie::ZombieHold;
use crate::block::IoStatus;
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use std::collections::{BTreeMap, VecDeque};
use thiserror::Error;

pub(crate) const NS_PER_SEC: u64 = 1_000_000_000;
/// Delay of the delayed cleaning pass (1 s).
pub(crate) const DELAYED_CLEAN_NS: u64 = NS_PER_SEC;
/// Settle delay of a remove round (`FLASHCACHE_SYNC_REMOVE_DELAY`, 5 s).
pub(crate) const REMOVE_SETTLE_NS: u64 = 5 * NS_PER_SEC;

/// `remove_in_prog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoveState {
    None,
    Slow,
    Fast,
}

/// Where the target is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Serving bios.
    Running,
    /// `dmsetup remove`: cleaning (unless fast) and waiting for jobs to drain.
    Removing,
    /// Writing metadata and superblock at the end of a remove.
    Storing,
    /// Removed; for writeback the outcome of the metadata store.
    Stopped(Option<StoreOutcome>),
    /// A flashcache VERIFY failed (option `md_write_failure = panic`): the kernel would
    /// have panicked. Every further input is refused.
    Halted(String),
}

/// What the final metadata store wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreOutcome {
    pub superblock_state: super::layout::SuperblockState,
    pub write_errors: u32,
    pub dirty_blocks: u64,
    pub valid_blocks: u64,
}

/// Why an input was refused. These are caller errors or a halted target; the target's own
/// bugs assert instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CacheInputError {
    #[error(
        "bio {bio:?}: {sectors} sectors at sector {sector} exceed or straddle a \
         {block_size_sectors}-sector cache block (dm core must split bios at block boundaries)"
    )]
    BioShape {
        bio: CacheBioId,
        sector: u64,
        sectors: u32,
        block_size_sectors: u32,
    },
    #[error(
        "bio {bio:?}: sectors {sector}..{end} lie beyond the target's {target_sectors} sectors"
    )]
    BeyondTarget {
        bio: CacheBioId,
        sector: u64,
        end: u64,
        target_sectors: u64,
    },
    #[error("the target is not accepting bios in phase {phase:?}")]
    NotRunning { phase: Phase },
    #[error("the target halted: {reason}")]
    Halted { reason: String },
    #[error("no outstanding request has tag {tag:?}")]
    UnknownTag { tag: CacheIoTag },
    #[error("request {tag:?} cannot leave a zombie IO (untimed, or it did not fail)")]
    UnexpectedZombie { tag: CacheIoTag },
    #[error("sysctl {name} is not registered for {mode:?} caches")]
    TunableNotRegistered { name: &'static str, mode: CacheMode },
}

/// Worker lists of `do_work`, drained in this fixed order (spec 1.18).
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerLists {
    pub md_complete: VecDeque<JobId>,
    pub pending: VecDeque<JobId>,
    pub md_io: VecDeque<JobId>,
    pub io: VecDeque<JobId>,
    pub uncached_complete: VecDeque<JobId>,
    pub scheduled: bool,
}

/// Per metadata block: at most one metadata write in flight (`cache_md_block_head`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MdBlockHead {
    pub in_prog: bool,
    pub queued_updates: VecDeque<JobId>,
    pub md_io_inprog: Vec<JobId>,
    /// The jobs of a failed write of this block that may still land (a zombie): each one's
    /// error path waits until the block has been rewritten from memory.
    pub rewrite_waiters: Vec<JobId>,
    /// Rewrites from memory that failed in a row without a zombie.
    pub rewrite_failures: u32,
}

/// One flashcache target: a sans-IO state machine.
#[derive(Debug, Clone)]
pub struct Flashcache {
    pub(crate) config: FlashcacheConfig,
    pub(crate) devices: CacheDeviceSizes,
    pub(crate) mode: CacheMode,
    pub(crate) write_only: bool,
    pub(crate) tunables: Tunables,
    /// The code's internal LRU hot share (`hot_list_pct`), 50 at start.
    pub(crate) hot_list_pct: u32,
    pub(crate) dirty_thresh_set: u32,
    pub(crate) max_clean_ios_set: u32,
    pub(crate) max_clean_ios_total: u32,
    pub(crate) blocks: Blocks,
    pub(crate) pending: PendingQueue,
    pub(crate) jobs: JobSlab,
    pub(crate) md_heads: Vec<MdBlockHead>,
    pub(crate) meta: MetaBuffers,
    pub(crate) lists: WorkerLists,
    pub(crate) out: VecDeque<CacheRequest>,
    pub(crate) stats: FlashcacheStats,
    pub(crate) errors: FlashcacheErrors,
    pub(crate) histograms: Histograms,
    pub(crate) cached_blocks: u64,
    pub(crate) nr_dirty: u64,
    pub(crate) clean_inprog: u32,
    pub(crate) sync_index: u32,
    pub(crate) stop_sync: bool,
    pub(crate) remove_in_prog: RemoveState,
    pub(crate) bypass_cache: bool,
    pub(crate) seq: SeqTracker,
    pub(crate) pids: PidLists,
    pub(crate) error_inject: ErrorInjection,
    /// How often each injection flag fired, by bit: the flags are one-shot and re-armed at
    /// will, so only this tells a caller how many injected failures its counters hold.
    pub(crate) injections_fired: [u64; 32],
    pub(crate) delayed_clean_at_ns: Option<u64>,
    pub(crate) fallow_timer_at_ns: Option<u64>,
    pub(crate) remove_settle_until_ns: Option<u64>,
    pub(crate) store: Option<StoreProgress>,
    pub(crate) phase: Phase,
    pub(crate) now_ns: u64,
    /// Scratch list of (dbn, index) for cleaning passes, reused to stay allocation-free.
    pub(crate) scratch_writes: Vec<(u64, u32)>,
    /// Requests whose zombie IO has not ended yet, and what each holds (see `zombie`).
    pub(crate) zombies: BTreeMap<CacheIoTag, ZombieHold>,
    /// Tests only: invalidate with flashcache's linear set scan even where the hash gives
    /// the same answer (see `inval_blocks`), to compare the two.
    pub(crate) invalidation_always_scans: bool,
    /// What the per-input invariant check remembers between calls (see `invariants`).
    pub(crate) incremental_check: IncrementalCheck,
}

impl Flashcache {
    /// Assemble a running target from a geometry and the blocks' states at rest (all
    /// INVALID for a new cache; as loaded for a reload), as the constructor's `init:` part
    /// does. `on_ssd_version` is inside `geometry`.
    pub(crate) fn assemble(
        config: FlashcacheConfig,
        devices: CacheDeviceSizes,
        geometry: Geometry,
        write_only: bool,
        loaded: Option<&[(u64, BlockState)]>,
        now_ns: u64,
    ) -> Flashcache {
        let mode = config.table.mode;
        let tunables = config.tunables.clone().clamped();
        let mut blocks = Blocks::new(geometry, now_ns);
        if let Some(loaded) = loaded {
            assert_eq!(loaded.len(), geometry.size_blocks as usize);
            for (index, &(dbn, state)) in loaded.iter().enumerate() {
                let block = blocks.block_mut(index as u32);
                block.dbn = dbn;
                block.state = state;
            }
        }
        let initial_hot_pct = if tunables.reclaim_policy == ReclaimPolicy::LruStrict {
            0
        } else {
            LRU_HOT_PCT_INTERNAL_DEFAULT
        };
        blocks.lru_init_lists(initial_hot_pct);
        blocks.link_by_state();
        let mut cached_blocks = 0;
        let mut nr_dirty = 0;
        for index in 0..geometry.size_blocks {
            let state = blocks.state(index);
            if state.is_valid() {
                cached_blocks += 1;
            }
            if state.is_dirty() {
                nr_dirty += 1;
                blocks.set_mut(geometry.set_of_index(index)).nr_dirty += 1;
            }
        }
        let md_heads = if mode == CacheMode::WriteBack {
            vec![MdBlockHead::default(); geometry.md_block_heads() as usize]
        } else {
            Vec::new()
        };
        let dirty_thresh_set = dirty_thresh_set(geometry.assoc, tunables.dirty_thresh_pct);
        let mut target = Flashcache {
            max_clean_ios_set: tunables.max_clean_ios_set,
            max_clean_ios_total: tunables.max_clean_ios_total,
            devices,
            mode,
            write_only,
            hot_list_pct: initial_hot_pct,
            dirty_thresh_set,
            blocks,
            pending: PendingQueue::default(),
            jobs: JobSlab::default(),
            md_heads,
            meta: MetaBuffers::default(),
            lists: WorkerLists::default(),
            out: VecDeque::new(),
            stats: FlashcacheStats::default(),
            errors: FlashcacheErrors::default(),
            histograms: Histograms::default(),
            cached_blocks,
            nr_dirty,
            clean_inprog: 0,
            sync_index: 0,
            stop_sync: false,
            remove_in_prog: RemoveState::None,
            bypass_cache: false,
            seq: SeqTracker::new(),
            pids: PidLists::default(),
            error_inject: ErrorInjection::default(),
            injections_fired: [0; 32],
            delayed_clean_at_ns: None,
            fallow_timer_at_ns: None,
            remove_settle_until_ns: None,
            store: None,
            phase: Phase::Running,
            now_ns,
            scratch_writes: Vec::with_capacity(geometry.assoc.min(1 << 16) as usize),
            zombies: BTreeMap::new(),
            invalidation_always_scans: false,
            incremental_check: IncrementalCheck::default(),
            tunables,
            config,
        };
        if let Some(pct) = target.config.options.lru_hot_pct {
            target.rebalance_lru(pct);
        }
        target.arm_fallow_timer();
        target
    }

    // ---------------------------------------------------------------- public inputs

    /// `flashcache_map`: a bio arrives at virtual time `now_ns`. Its completion is a
    /// [`CacheRequest::CompleteBio`], now or later.
    pub fn map(&mut self, bio: CacheBio, now_ns: u64) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        // `matches!`, not `!=`: the derived comparison is a call, on every bio.
        if !matches!(self.phase, Phase::Running) {
            return Err(CacheInputError::NotRunning {
                phase: self.phase.clone(),
            });
        }
        self.map_bio(bio)
    }

    /// A dm_io request finished. Call once per [`CacheRequest::DmIo`], in any order.
    pub fn complete_dm_io(
        &mut self,
        tag: CacheIoTag,
        outcome: DmIoOutcome,
        now_ns: u64,
    ) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        if outcome.zombie_io {
            // Recorded only for a completion accepted below (a refused one is the caller's
            // bug and must leave nothing behind). Bulk metadata IO is never timed, and a
            // cancelled region always fails.
            let accepted = match tag {
                CacheIoTag::Job(id) => self.jobs.get(id).is_some_and(|job| {
                    job.in_flight
                        && !matches!(job.action, Action::WriteDisk | Action::WriteDiskSync)
                }),
                CacheIoTag::MdWrite(id) => self.jobs.get(id).is_some_and(|job| job.in_flight),
                CacheIoTag::Bulk(_) => return Err(CacheInputError::UnexpectedZombie { tag }),
            };
            if accepted {
                if !outcome.failed() {
                    return Err(CacheInputError::UnexpectedZombie { tag });
                }
                self.note_zombie(tag);
            }
        }
        match tag {
            CacheIoTag::Job(id) => {
                let Some(job) = self.jobs.get(id).filter(|job| job.in_flight) else {
                    return Err(CacheInputError::UnknownTag { tag });
                };
                let action = job.action;
                self.jobs.job_mut(id).in_flight = false;
                match action {
                    Action::Uncached => {
                        self.jobs.job_mut(id).error = outcome.failed();
                        self.lists.uncached_complete.push_back(id);
                        self.schedule_work();
                    }
                    Action::Flush => {
                        let job = self.jobs.remove(id);
                        if let Some(bio) = job.bio {
                            self.endio(bio.id, outcome.status(), job.start_ns);
                        }
                    }
                    Action::WriteDisk | Action::WriteDiskSync => {
                        self.jobs.job_mut(id).in_flight = true;
                        return Err(CacheInputError::UnknownTag { tag });
                    }
                    _ => self.io_callback(id, outcome.failed()),
                }
            }
            CacheIoTag::MdWrite(id) => {
                if !self.jobs.get(id).is_some_and(|job| job.in_flight) {
                    return Err(CacheInputError::UnknownTag { tag });
                }
                let job = self.jobs.job_mut(id);
                job.in_flight = false;
                // flashcache_md_write_callback: defer to the worker.
                job.error = outcome.failed();
                job.md_write_may_land = outcome.zombie_io;
                self.lists.md_complete.push_back(id);
                self.schedule_work();
            }
            CacheIoTag::Bulk(sequence) => self.bulk_complete(sequence, outcome, tag)?,
        }
        self.after_input();
        Ok(())
    }

    /// A kcopyd copy finished: `read_error` for the SSD read, `write_error_bits` for the
    /// destination. Call once per [`CacheRequest::KcopydCopy`].
    pub fn complete_kcopyd(
        &mut self,
        tag: CacheIoTag,
        read_error: bool,
        write_error_bits: u64,
        now_ns: u64,
    ) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        let CacheIoTag::Job(id) = tag else {
            return Err(CacheInputError::UnknownTag { tag });
        };
        match self.jobs.get(id).map(|job| (job.action, job.in_flight)) {
            Some((Action::WriteDisk | Action::WriteDiskSync, true)) => {}
            _ => return Err(CacheInputError::UnknownTag { tag }),
        }
        self.jobs.job_mut(id).in_flight = false;
        self.kcopyd_callback(id, read_error, write_error_bits != 0);
        self.after_input();
        Ok(())
    }

    /// Run the worker once (`do_work`): drain, in order, completed metadata writes, pending
    /// jobs, metadata write kick-offs, cache fills and uncached completions.
    pub fn run_worker(&mut self, now_ns: u64) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        self.lists.scheduled = false;
        let mut bound = LoopBound::new("Flashcache::run_worker", ITEMS_PER_CALL_MAX);
        while let Some(id) = self.lists.md_complete.pop_front() {
            bound.round();
            self.md_write_done(id);
            if self.is_halted() {
                return Ok(());
            }
        }
        while let Some(id) = self.lists.pending.pop_front() {
            bound.round();
            self.do_pending(id);
        }
        while let Some(id) = self.lists.md_io.pop_front() {
            bound.round();
            self.md_write_kickoff(id);
        }
        while let Some(id) = self.lists.io.pop_front() {
            bound.round();
            self.do_io(id);
        }
        while let Some(id) = self.lists.uncached_complete.pop_front() {
            bound.round();
            self.uncached_io_complete(id);
        }
        self.after_input();
        Ok(())
    }

    /// When the target next needs [`Flashcache::tick`] (delayed cleaning, the fallow timer
    /// option, or a remove's settle delay).
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        [
            self.delayed_clean_at_ns,
            self.fallow_timer_at_ns,
            self.remove_settle_until_ns,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Time passed: run whatever timers are due at `now_ns`.
    pub fn tick(&mut self, now_ns: u64) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        if self.delayed_clean_at_ns.is_some_and(|at| at <= now_ns) {
            self.delayed_clean_at_ns = None;
            self.clean_all_sets();
        }
        if self.fallow_timer_at_ns.is_some_and(|at| at <= now_ns) {
            self.fallow_timer_at_ns = None;
            self.clean_all_sets();
            self.arm_fallow_timer();
        }
        if self.remove_settle_until_ns.is_some_and(|at| at <= now_ns) {
            self.remove_settle_until_ns = None;
        }
        self.after_input();
        Ok(())
    }

    /// The next request, if any. Drain after every input.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<CacheRequest> {
        self.out.pop_front()
    }

    /// Bytes of a metadata buffer named by a request (to write them to the device).
    pub fn meta_buffer(&self, id: MetaBufferId) -> Option<&[u8]> {
        self.meta.get(id)
    }

    /// Bytes of a metadata buffer to fill with what a read returned.
    pub fn meta_buffer_mut(&mut self, id: MetaBufferId) -> Option<&mut [u8]> {
        self.meta.get_mut(id)
    }

    // ---------------------------------------------------------------- shared helpers

    pub(crate) fn enter(&mut self, now_ns: u64) -> Result<(), CacheInputError> {
        if let Phase::Halted(reason) = &self.phase {
            return Err(CacheInputError::Halted {
                reason: reason.clone(),
            });
        }
        debug_assert!(now_ns >= self.now_ns, "time went backwards");
        self.now_ns = self.now_ns.max(now_ns);
        Ok(())
    }

    pub(crate) fn is_halted(&self) -> bool {
        matches!(self.phase, Phase::Halted(_))
    }

    /// Record a flashcache VERIFY failure: the target stops.
    pub(crate) fn halt(&mut self, reason: &str) {
        self.phase = Phase::Halted(reason.to_string());
    }

    /// After every input: progress a remove that may be waiting for the jobs to drain.
    pub(crate) fn after_input(&mut self) {
        if !self.is_halted() {
            self.check_remove_progress();
        }
    }

    /// `schedule_work(&_kcached_wq)`.
    pub(crate) fn schedule_work(&mut self) {
        if !self.lists.scheduled {
            self.lists.scheduled = true;
            self.out.push_back(CacheRequest::WakeWorker);
        }
    }

    /// `flashcache_bio_endio`.
    pub(crate) fn endio(&mut self, bio: CacheBioId, status: IoStatus, start_ns: Option<u64>) {
        if self.tunables.io_latency_hist {
            if let Some(start) = start_ns {
                self.histograms.record_latency(self.now_ns - start);
            }
        }
        self.out
            .push_back(CacheRequest::CompleteBio { bio, status });
    }

    /// `new_kcached_job`: regions derived from the block (or from the bio when uncached).
    pub(crate) fn new_job(&mut self, action: Action, bio: Option<CacheBio>, index: u32) -> JobId {
        let (disk, cache) = if index != NO_INDEX {
            (
                self.block_disk_region(index),
                self.block_cache_region(index),
            )
        } else {
            let bio = bio.expect("an uncached job has a bio");
            let disk = Region::new(super::io::Device::Disk, bio.sector, u64::from(bio.sectors));
            (disk, Region::new(super::io::Device::Ssd, 0, 0))
        };
        let start_ns = self.tunables.io_latency_hist.then_some(self.now_ns);
        self.jobs.insert(Job {
            action,
            index,
            bio,
            error: false,
            disk,
            cache,
            start_ns,
            md_buffer: None,
            in_flight: false,
            md_write_may_land: false,
        })
    }

    /// The disk region of cache block `index` as it is now: a new job's `disk`. The IO path
    /// issues this rather than reading back the job it just wrote (see
    /// [`Flashcache::block_cache_region`]).
    pub(crate) fn block_disk_region(&self, index: u32) -> Region {
        let block_sectors = u64::from(self.blocks.geometry.block_size_sectors);
        Region::new(
            super::io::Device::Disk,
            self.blocks.block(index).dbn,
            block_sectors,
        )
    }

    /// The SSD region of cache block `index`: a cached job's `cache`, fixed for the slot.
    /// The IO path issues this rather than reading the region back from the job it just
    /// wrote: that read straddled the stores of the write, a store-forwarding stall that
    /// cost `dmsim hits` about a tenth of its CPU.
    pub(crate) fn block_cache_region(&self, index: u32) -> Region {
        let geometry = self.blocks.geometry;
        Region::new(
            super::io::Device::Ssd,
            geometry.data_sector(index),
            u64::from(geometry.block_size_sectors),
        )
    }

    /// Free a job (`flashcache_free_cache_job` + `nr_jobs--`).
    pub(crate) fn free_job(&mut self, id: JobId) {
        let job = self.jobs.remove(id);
        debug_assert!(job.md_buffer.is_none(), "job freed with a metadata buffer");
    }

    /// Emit a dm_io on the job's behalf. Always inlined: the caller's regions then go
    /// straight into the request; passed by reference they were read back in wider pieces
    /// than they were written, a store-forwarding stall that was an eighth of `dmsim hits`'
    /// time (`#[inline]` alone left it a call).
    #[inline(always)]
    pub(crate) fn submit_dm_io(
        &mut self,
        tag: CacheIoTag,
        op: IoOp,
        regions: RegionList,
        buffer: CacheBuffer,
    ) {
        let touches_ssd = regions
            .as_slice()
            .iter()
            .any(|region| region.device == super::io::Device::Ssd);
        if let CacheIoTag::Job(id) | CacheIoTag::MdWrite(id) = tag {
            self.jobs.job_mut(id).in_flight = true;
        }
        let timeout_ns = if touches_ssd {
            self.config.options.ssd_timeout_ns
        } else {
            None
        };
        self.out.push_back(CacheRequest::DmIo(CacheDmIo {
            tag,
            op,
            regions,
            buffer,
            sync: false,
            timeout_ns,
        }));
    }

    /// Emit a kcopyd copy.
    pub(crate) fn submit_kcopyd(&mut self, id: JobId, from: Region, to: Region) {
        self.jobs.job_mut(id).in_flight = true;
        self.out.push_back(CacheRequest::KcopydCopy(KcopydRequest {
            tag: CacheIoTag::Job(id),
            from,
            to,
        }));
    }

    /// One-shot injection test.
    pub(crate) fn injected(&mut self, flag: ErrorInjection) -> bool {
        debug_assert_eq!(flag.0.count_ones(), 1, "one flag at a time");
        let fired = self.error_inject.take(flag);
        if fired {
            self.injections_fired[flag.0.trailing_zeros() as usize] += 1;
        }
        fired
    }

    /// BUGGIFY: clean the set of `sector` now, forcing (an LRU feature) the whole set.
    /// Victims through the index in every set, each checked against the linear walk (see
    /// `EngineConfig::victim_index_check`); the index from now on if `from_start`, else from
    /// the first long walk.
    pub(crate) fn check_victims_against_walk(&mut self, from_start: bool) {
        let mode = if from_start {
            VictimIndexMode::Always
        } else {
            VictimIndexMode::OnLongWalk
        };
        self.blocks.set_victim_index_mode(mode);
        self.blocks.victim_walk_check = true;
    }

    pub(crate) fn buggify_clean_now(&mut self, sector: u64) {
        mark!(BuggifyCleanedSetNow);
        let set = self.blocks.geometry.set_of(sector);
        self.clean_set(set, self.blocks.geometry.assoc);
    }

    /// `flashcache_clean_all_sets` (the delayed work).
    fn clean_all_sets(&mut self) {
        for set in 0..self.blocks.geometry.num_sets {
            self.clean_set(set, 0);
        }
    }

    /// The fallow delay in effect, in ns (0 = off).
    pub(crate) fn fallow_delay_ns(&self) -> u64 {
        u64::from(self.tunables.effective_fallow_delay_secs(self.write_only)) * NS_PER_SEC
    }

    /// Option `fallow_timer`: schedule the next periodic pass. The timer fires one
    /// nanosecond after the fallow period so that flashcache's strict `time_after` test
    /// sees the period as elapsed.
    pub(crate) fn arm_fallow_timer(&mut self) {
        let delay = self.fallow_delay_ns();
        if self.config.options.fallow_timer
            && self.mode == CacheMode::WriteBack
            && delay > 0
            && self.fallow_timer_at_ns.is_none()
        {
            self.fallow_timer_at_ns = Some(self.now_ns + delay + 1);
        }
    }

    /// `flashcache_reclaim_rebalance_lru` as the `lru_hot_pct` sysctl triggers it.
    pub(crate) fn rebalance_lru(&mut self, pct: u32) {
        if self.blocks.lru_rebalance(self.hot_list_pct, pct) {
            self.hot_list_pct = pct;
        }
    }
}

/// Dirty blocks a set may hold before `clean_set` cleans it: `dirty_thresh_pct` of its ways,
/// rounded down (flashcache's `dirty_thresh_set`).
pub(crate) fn dirty_thresh_set(assoc: u32, dirty_thresh_pct: u32) -> u32 {
    assert!(
        dirty_thresh_pct <= 100,
        "dirty_thresh_pct {dirty_thresh_pct} above 100"
    );
    let thresh = assoc * dirty_thresh_pct / 100;
    assert!(thresh <= assoc);
    thresh
}
