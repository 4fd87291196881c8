//! The flashcache target instance: its state, its public inputs and outputs, and the
//! helpers every step function shares (job creation, bio completion, worker scheduling).
//!
//! Owns: the `Flashcache` struct and the entry points callers use. The IO path, metadata,
//! cleaning and persistence steps live in sibling modules as further `impl Flashcache`
//! blocks. Does not own any clock or device: time and completions are inputs.

use super::config::{
    CacheMode, DeviceInfo, FlashcacheConfig, ReclaimPolicy, Tunable, Tunables,
    LRU_HOT_PCT_INTERNAL_DEFAULT,
};
use super::geometry::Geometry;
use super::inject::ErrorInjection;
use super::io::{
    Bio, BioId, Buffer, DmIoOutcome, DmIoRequest, IoOp, IoTag, JobId, KcopydRequest, MetaBufferId,
    Region, RegionList, Request,
};
use super::job::{Action, Job, JobSlab, MetaBuffers, PendingQueue, NO_INDEX};
use super::persist::StoreProgress;
use super::seq::{PidCounters, PidList, PidLists, SeqTracker};
use super::set::Blocks;
use super::state::BlockState;
use super::stats::{FlashcacheErrors, FlashcacheStats, Gauges, Histograms, StatusReport};
use crate::block::IoStatus;
use std::collections::VecDeque;
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
pub enum InputError {
    #[error(
        "bio {bio:?}: {sectors} sectors at sector {sector} exceed or straddle a \
         {block_size_sectors}-sector cache block (dm core must split bios at block boundaries)"
    )]
    BioShape {
        bio: BioId,
        sector: u64,
        sectors: u32,
        block_size_sectors: u32,
    },
    #[error(
        "bio {bio:?}: sectors {sector}..{end} lie beyond the target's {target_sectors} sectors"
    )]
    BeyondTarget {
        bio: BioId,
        sector: u64,
        end: u64,
        target_sectors: u64,
    },
    #[error("the target is not accepting bios in phase {phase:?}")]
    NotRunning { phase: Phase },
    #[error("the target halted: {reason}")]
    Halted { reason: String },
    #[error("no outstanding request has tag {tag:?}")]
    UnknownTag { tag: IoTag },
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
}

/// One flashcache target: a sans-IO state machine.
#[derive(Debug, Clone)]
pub struct Flashcache {
    pub(crate) config: FlashcacheConfig,
    pub(crate) devices: DeviceInfo,
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
    pub(crate) out: VecDeque<Request>,
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
    pub(crate) delayed_clean_at_ns: Option<u64>,
    pub(crate) fallow_timer_at_ns: Option<u64>,
    pub(crate) remove_settle_until_ns: Option<u64>,
    pub(crate) store: Option<StoreProgress>,
    pub(crate) phase: Phase,
    pub(crate) now_ns: u64,
    /// Scratch list of (dbn, index) for cleaning passes, reused to stay allocation-free.
    pub(crate) scratch_writes: Vec<(u64, u32)>,
}

impl Flashcache {
    /// Assemble a running target from a geometry and the blocks' states at rest (all
    /// INVALID for a new cache; as loaded for a reload), as the constructor's `init:` part
    /// does. `on_ssd_version` is inside `geometry`.
    pub(crate) fn assemble(
        config: FlashcacheConfig,
        devices: DeviceInfo,
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
                let block = &mut blocks.blocks[index];
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
                blocks.sets[geometry.set_of_index(index) as usize].nr_dirty += 1;
            }
        }
        let md_heads = if mode == CacheMode::WriteBack {
            vec![MdBlockHead::default(); geometry.md_block_heads() as usize]
        } else {
            Vec::new()
        };
        let dirty_thresh_set = geometry.assoc * tunables.dirty_thresh_pct / 100;
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
            delayed_clean_at_ns: None,
            fallow_timer_at_ns: None,
            remove_settle_until_ns: None,
            store: None,
            phase: Phase::Running,
            now_ns,
            scratch_writes: Vec::with_capacity(geometry.assoc.min(1 << 16) as usize),
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
    /// [`Request::CompleteBio`], now or later.
    pub fn map(&mut self, bio: Bio, now_ns: u64) -> Result<(), InputError> {
        self.enter(now_ns)?;
        if self.phase != Phase::Running {
            return Err(InputError::NotRunning {
                phase: self.phase.clone(),
            });
        }
        self.map_bio(bio)
    }

    /// A dm_io request finished. Call once per [`Request::DmIo`], in any order.
    pub fn complete_dm_io(
        &mut self,
        tag: IoTag,
        outcome: DmIoOutcome,
        now_ns: u64,
    ) -> Result<(), InputError> {
        self.enter(now_ns)?;
        match tag {
            IoTag::Job(id) => {
                let Some(job) = self.jobs.get(id).filter(|job| job.in_flight) else {
                    return Err(InputError::UnknownTag { tag });
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
                        return Err(InputError::UnknownTag { tag });
                    }
                    _ => self.io_callback(id, outcome.failed()),
                }
            }
            IoTag::MdWrite(id) => {
                if !self.jobs.get(id).is_some_and(|job| job.in_flight) {
                    return Err(InputError::UnknownTag { tag });
                }
                self.jobs.job_mut(id).in_flight = false;
                // flashcache_md_write_callback: defer to the worker.
                self.jobs.job_mut(id).error = outcome.failed();
                self.lists.md_complete.push_back(id);
                self.schedule_work();
            }
            IoTag::Bulk(sequence) => self.bulk_complete(sequence, outcome, tag)?,
        }
        self.after_input();
        Ok(())
    }

    /// A kcopyd copy finished: `read_error` for the SSD read, `write_error_bits` for the
    /// destination. Call once per [`Request::KcopydCopy`].
    pub fn complete_kcopyd(
        &mut self,
        tag: IoTag,
        read_error: bool,
        write_error_bits: u64,
        now_ns: u64,
    ) -> Result<(), InputError> {
        self.enter(now_ns)?;
        let IoTag::Job(id) = tag else {
            return Err(InputError::UnknownTag { tag });
        };
        match self.jobs.get(id).map(|job| (job.action, job.in_flight)) {
            Some((Action::WriteDisk | Action::WriteDiskSync, true)) => {}
            _ => return Err(InputError::UnknownTag { tag }),
        }
        self.jobs.job_mut(id).in_flight = false;
        self.kcopyd_callback(id, read_error, write_error_bits != 0);
        self.after_input();
        Ok(())
    }

    /// Run the worker once (`do_work`): drain, in order, completed metadata writes, pending
    /// jobs, metadata write kick-offs, cache fills and uncached completions.
    pub fn run_worker(&mut self, now_ns: u64) -> Result<(), InputError> {
        self.enter(now_ns)?;
        self.lists.scheduled = false;
        while let Some(id) = self.lists.md_complete.pop_front() {
            self.md_write_done(id);
            if self.is_halted() {
                return Ok(());
            }
        }
        while let Some(id) = self.lists.pending.pop_front() {
            self.do_pending(id);
        }
        while let Some(id) = self.lists.md_io.pop_front() {
            self.md_write_kickoff(id);
        }
        while let Some(id) = self.lists.io.pop_front() {
            self.do_io(id);
        }
        while let Some(id) = self.lists.uncached_complete.pop_front() {
            self.uncached_io_complete(id);
        }
        self.after_input();
        Ok(())
    }

    /// When the target next needs [`Flashcache::tick`] (delayed cleaning, the fallow timer
    /// option, or a remove's settle delay).
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
    pub fn tick(&mut self, now_ns: u64) -> Result<(), InputError> {
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
    pub fn poll_request(&mut self) -> Option<Request> {
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

    /// Arm one-shot error injection flags (flashcache's `error_inject` sysctl).
    pub fn inject_errors(&mut self, flags: ErrorInjection) {
        self.error_inject = self.error_inject.union(flags);
    }

    /// Flags still armed.
    pub fn armed_errors(&self) -> ErrorInjection {
        self.error_inject
    }

    /// Write a sysctl, with flashcache's clamps and side effects.
    pub fn set_tunable(&mut self, tunable: Tunable) -> Result<(), InputError> {
        if self.mode != CacheMode::WriteBack && !tunable.registered_for_non_writeback() {
            return Err(InputError::TunableNotRegistered {
                name: tunable.name(),
                mode: self.mode,
            });
        }
        let t = &mut self.tunables;
        match tunable {
            Tunable::DirtyThreshPct(pct) => {
                t.dirty_thresh_pct = pct.clamp(
                    super::config::DIRTY_THRESH_MIN_PCT,
                    super::config::DIRTY_THRESH_MAX_PCT,
                );
                self.dirty_thresh_set = self.blocks.geometry.assoc * t.dirty_thresh_pct / 100;
            }
            Tunable::MaxCleanIosSet(n) => {
                t.max_clean_ios_set = n;
                self.max_clean_ios_set = n;
            }
            Tunable::MaxCleanIosTotal(n) => {
                t.max_clean_ios_total = n;
                self.max_clean_ios_total = n;
            }
            Tunable::FallowDelaySecs(secs) => {
                t.fallow_delay_secs = Some(secs);
                self.fallow_timer_at_ns = None;
                self.arm_fallow_timer();
            }
            Tunable::FallowCleanSpeed(speed) => {
                t.fallow_clean_speed = speed.clamp(
                    super::config::FALLOW_SPEED_MIN,
                    super::config::FALLOW_SPEED_MAX,
                );
            }
            Tunable::FastRemove(on) => t.fast_remove = on,
            Tunable::CleanOnReadMiss(n) => t.clean_on_read_miss = n,
            Tunable::CleanOnWriteMiss(n) => t.clean_on_write_miss = n,
            Tunable::NewStyleWriteMerge(n) => t.new_style_write_merge = n,
            Tunable::ReclaimPolicy(policy) => t.reclaim_policy = policy,
            Tunable::LruHotPct(pct) => {
                t.lru_hot_pct = pct;
                self.rebalance_lru(pct);
            }
            Tunable::LruPromoteThresh(n) => t.lru_promote_thresh = n,
            Tunable::SkipSeqThreshKb(kb) => t.skip_seq_thresh_kb = kb,
            Tunable::CacheAll(on) => t.cache_all = on,
            Tunable::DoPidExpiry(on) => t.do_pid_expiry = on,
            Tunable::MaxPids(n) => t.max_pids = n,
            Tunable::PidExpirySecs(secs) => t.pid_expiry_secs = secs,
            Tunable::IoLatencyHist(on) => {
                t.io_latency_hist = on;
                if on {
                    self.histograms.latency_hist.fill(0);
                    self.histograms.latency_hist_10ms = 0;
                }
            }
        }
        Ok(())
    }

    /// `do_sync` sysctl: clean every dirty block (writeback).
    pub fn do_sync(&mut self, now_ns: u64) -> Result<(), InputError> {
        self.enter(now_ns)?;
        if self.mode != CacheMode::WriteBack {
            return Err(InputError::TunableNotRegistered {
                name: "do_sync",
                mode: self.mode,
            });
        }
        self.stop_sync = false;
        self.delayed_clean_at_ns = None;
        self.sync_all();
        self.after_input();
        Ok(())
    }

    /// `stop_sync` sysctl: stop a running sync after the cleanings in flight.
    pub fn stop_sync(&mut self) {
        self.stop_sync = true;
    }

    /// `zero_stats` sysctl.
    pub fn zero_stats(&mut self) {
        self.stats = FlashcacheStats::default();
        self.histograms.latency_hist.fill(0);
        self.histograms.latency_hist_10ms = 0;
    }

    /// Add a pid to a list (ioctl `FLASHCACHEADD{WHITE,BLACK}LIST`).
    pub fn add_pid(&mut self, list: PidList, pid: i32, now_ns: u64) {
        let mut counters = PidCounters::default();
        self.pids.add(
            list,
            pid,
            now_ns,
            self.tunables.max_pids,
            self.tunables.pid_expiry_secs,
            &mut counters,
        );
        self.add_pid_counters(counters);
    }

    /// Remove a pid from a list (ioctl `FLASHCACHEDEL{WHITE,BLACK}LIST`).
    pub fn delete_pid(&mut self, list: PidList, pid: i32) {
        let mut counters = PidCounters::default();
        self.pids.delete(list, pid, &mut counters);
        self.add_pid_counters(counters);
    }

    /// Empty a list (ioctl `FLASHCACHEDELALL{WHITE,BLACK}LIST`).
    pub fn delete_all_pids(&mut self, list: PidList) {
        let mut counters = PidCounters::default();
        self.pids.delete_all(list, &mut counters);
        self.add_pid_counters(counters);
    }

    /// Entries on a pid list.
    pub fn pid_list_len(&self, list: PidList) -> usize {
        self.pids.len(list)
    }

    fn add_pid_counters(&mut self, counters: PidCounters) {
        self.stats.pid_adds += counters.pid_adds;
        self.stats.pid_dels += counters.pid_dels;
        self.stats.pid_drops += counters.pid_drops;
        self.stats.expiry += counters.expiry;
    }

    // ---------------------------------------------------------------- observation

    /// The cache's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.blocks.geometry
    }

    /// The configuration the target was built from.
    pub fn config(&self) -> &FlashcacheConfig {
        &self.config
    }

    /// The tunables in effect.
    pub fn tunables(&self) -> &Tunables {
        &self.tunables
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn stats(&self) -> &FlashcacheStats {
        &self.stats
    }

    pub fn errors(&self) -> &FlashcacheErrors {
        &self.errors
    }

    /// Whether writethrough/writearound switched to bypass after a cache error.
    pub fn bypassing(&self) -> bool {
        self.bypass_cache
    }

    /// State and disk block of cache block `index`.
    pub fn block(&self, index: u32) -> (BlockState, u64) {
        let block = self.blocks.block(index);
        (block.state, block.dbn)
    }

    /// The cache block holding disk block `dbn`, if cached (no side effects).
    pub fn find_block(&self, dbn: u64) -> Option<u32> {
        let geometry = &self.blocks.geometry;
        self.blocks.hash_lookup(geometry.set_of(dbn), dbn)
    }

    /// Outstanding jobs (`nr_jobs`); zero when the target is idle.
    pub fn jobs_in_flight(&self) -> u64 {
        self.jobs.live()
    }

    /// True when nothing is in flight, queued, or waiting for the worker.
    pub fn is_idle(&self) -> bool {
        self.jobs.live() == 0
            && self.pending.len() == 0
            && !self.lists.scheduled
            && self.out.is_empty()
            && self.meta.in_use() == 0
    }

    /// Occupancy gauges.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            size_blocks: u64::from(self.blocks.geometry.size_blocks),
            cached_blocks: self.cached_blocks,
            nr_dirty: self.nr_dirty,
            nr_queued: self.pending.len(),
            lru_hot_blocks: self.blocks.lru_hot_blocks,
            lru_warm_blocks: self.blocks.lru_warm_blocks,
            nr_jobs: self.jobs.live(),
            clean_inprog: u64::from(self.clean_inprog),
            bypass_cache: self.bypass_cache,
        }
    }

    /// Everything `dmsetup status`/`table` would show, serialisable.
    pub fn status(&self) -> StatusReport {
        let geometry = &self.blocks.geometry;
        StatusReport {
            mode: self.mode,
            write_only: self.write_only,
            ssd_dev: self.config.table.ssd_dev.clone(),
            disk_dev: self.config.table.disk_dev.clone(),
            block_size_sectors: geometry.block_size_sectors,
            md_block_size_sectors: geometry.md_block_size_sectors,
            assoc: geometry.assoc,
            disk_assoc_sectors: geometry.disk_assoc_sectors,
            skip_seq_thresh_kb: self.tunables.skip_seq_thresh_kb,
            io_latency_hist: self.tunables.io_latency_hist,
            stats: self.stats.clone(),
            errors: self.errors.clone(),
            gauges: self.gauges(),
            histograms: self.histograms.clone(),
            deviations: self.config.options.deviations(),
        }
    }

    // ---------------------------------------------------------------- shared helpers

    fn enter(&mut self, now_ns: u64) -> Result<(), InputError> {
        if let Phase::Halted(reason) = &self.phase {
            return Err(InputError::Halted {
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
    fn after_input(&mut self) {
        if !self.is_halted() {
            self.check_remove_progress();
        }
    }

    /// `schedule_work(&_kcached_wq)`.
    pub(crate) fn schedule_work(&mut self) {
        if !self.lists.scheduled {
            self.lists.scheduled = true;
            self.out.push_back(Request::WakeWorker);
        }
    }

    /// `flashcache_bio_endio`.
    pub(crate) fn endio(&mut self, bio: BioId, status: IoStatus, start_ns: Option<u64>) {
        if self.tunables.io_latency_hist {
            if let Some(start) = start_ns {
                self.histograms.record_latency(self.now_ns - start);
            }
        }
        self.out.push_back(Request::CompleteBio { bio, status });
    }

    /// `new_kcached_job`: regions derived from the block (or from the bio when uncached).
    pub(crate) fn new_job(&mut self, action: Action, bio: Option<Bio>, index: u32) -> JobId {
        let geometry = self.blocks.geometry;
        let block_sectors = u64::from(geometry.block_size_sectors);
        let (disk, cache) = if index != NO_INDEX {
            (
                Region::new(
                    super::io::Device::Disk,
                    self.blocks.block(index).dbn,
                    block_sectors,
                ),
                Region::new(
                    super::io::Device::Ssd,
                    geometry.data_sector(index),
                    block_sectors,
                ),
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
        })
    }

    /// Free a job (`flashcache_free_cache_job` + `nr_jobs--`).
    pub(crate) fn free_job(&mut self, id: JobId) {
        let job = self.jobs.remove(id);
        debug_assert!(job.md_buffer.is_none(), "job freed with a metadata buffer");
    }

    /// Emit a dm_io on the job's behalf.
    pub(crate) fn submit_dm_io(
        &mut self,
        tag: IoTag,
        op: IoOp,
        regions: RegionList,
        buffer: Buffer,
    ) {
        let touches_ssd = regions
            .as_slice()
            .iter()
            .any(|region| region.device == super::io::Device::Ssd);
        if let IoTag::Job(id) | IoTag::MdWrite(id) = tag {
            self.jobs.job_mut(id).in_flight = true;
        }
        let timeout_ns = if touches_ssd {
            self.config.options.ssd_timeout_ns
        } else {
            None
        };
        self.out.push_back(Request::DmIo(DmIoRequest {
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
        self.out.push_back(Request::KcopydCopy(KcopydRequest {
            tag: IoTag::Job(id),
            from,
            to,
        }));
    }

    /// One-shot injection test.
    pub(crate) fn injected(&mut self, flag: ErrorInjection) -> bool {
        self.error_inject.take(flag)
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
    fn arm_fallow_timer(&mut self) {
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
    fn rebalance_lru(&mut self, pct: u32) {
        if self.blocks.lru_rebalance(self.hot_list_pct, pct) {
            self.hot_list_pct = pct;
        }
    }

    /// Check every invariant that holds between inputs (O(size); for tests and the
    /// simulator's per-event checks). Panics with a description on violation.
    pub fn check_invariants(&self) {
        self.blocks.check_links();
        let geometry = &self.blocks.geometry;
        let mut cached = 0u64;
        let mut dirty = 0u64;
        let mut queued = 0u64;
        let mut set_dirty = vec![0u32; geometry.num_sets as usize];
        let mut set_fallow = vec![0u32; geometry.num_sets as usize];
        for index in 0..geometry.size_blocks {
            let block = self.blocks.block(index);
            let state = block.state;
            let set = geometry.set_of_index(index) as usize;
            assert!(
                state.is_valid() != state.is_invalid(),
                "block {index}: exactly one of VALID/INVALID, got {state:?}"
            );
            if state.is_valid() {
                cached += 1;
            }
            if state.is_dirty() {
                assert!(state.is_valid(), "block {index}: DIRTY without VALID");
                dirty += 1;
                set_dirty[set] += 1;
            }
            if state.intersects(BlockState::FALLOW) {
                assert!(
                    state.is_dirty_idle(),
                    "block {index}: fallow bits on {state:?}"
                );
            }
            if state.contains(BlockState::DIRTY_FALLOW_2) {
                set_fallow[set] += 1;
            }
            if block.nr_queued > 0 {
                assert!(
                    state.is_busy(),
                    "block {index}: {} bios queued on idle {state:?}",
                    block.nr_queued
                );
            }
            queued += u64::from(block.nr_queued);
            if state.is_invalid() {
                assert!(
                    !state.is_busy(),
                    "block {index}: INVALID and busy between inputs"
                );
            }
        }
        assert_eq!(cached, self.cached_blocks, "cached_blocks");
        assert_eq!(dirty, self.nr_dirty, "nr_dirty");
        assert_eq!(queued, self.pending.len(), "pending_jobs_count");
        let mut clean_inprog = 0;
        for (set, cache_set) in self.blocks.sets.iter().enumerate() {
            assert_eq!(cache_set.nr_dirty, set_dirty[set], "set {set} nr_dirty");
            assert_eq!(
                cache_set.dirty_fallow, set_fallow[set],
                "set {set} dirty_fallow"
            );
            clean_inprog += cache_set.clean_inprog;
        }
        assert_eq!(clean_inprog, self.clean_inprog, "clean_inprog");
    }
}
