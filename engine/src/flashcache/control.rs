//! Control and observation of a running target: sysctl writes with their side effects,
//! the sync and stats actions, pid list management, error injection, and the status,
//! gauges and block views callers read.
//!
//! Owns: the management interface (what `/proc/sys/dev/flashcache`, the ioctls and
//! `dmsetup status` offer). Does not own the IO path.

use super::config::{CacheMode, FlashcacheConfig, Tunable, Tunables};
use super::geometry::Geometry;
use super::inject::ErrorInjection;
use super::instance::{CacheInputError, Flashcache, Phase};
use super::seq::{PidCounters, PidList};
use super::state::BlockState;
use super::stats::{FlashcacheErrors, FlashcacheStats, Gauges, StatusReport};

impl Flashcache {
    /// Arm one-shot error injection flags (flashcache's `error_inject` sysctl).
    pub fn inject_errors(&mut self, flags: ErrorInjection) {
        self.error_inject = self.error_inject.union(flags);
    }

    /// Flags still armed.
    pub fn armed_errors(&self) -> ErrorInjection {
        self.error_inject
    }

    /// How often the single flag `flag` fired since the target was built.
    pub fn injections_fired(&self, flag: ErrorInjection) -> u64 {
        assert_eq!(flag.0.count_ones(), 1, "one flag at a time: {:#x}", flag.0);
        self.injections_fired[flag.0.trailing_zeros() as usize]
    }

    /// Write a sysctl, with flashcache's clamps and side effects.
    pub fn set_tunable(&mut self, tunable: Tunable) -> Result<(), CacheInputError> {
        if self.mode != CacheMode::WriteBack && !tunable.registered_for_non_writeback() {
            return Err(CacheInputError::TunableNotRegistered {
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
                self.dirty_thresh_set = super::instance::dirty_thresh_set(
                    self.blocks.geometry.assoc,
                    t.dirty_thresh_pct,
                );
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
    pub fn do_sync(&mut self, now_ns: u64) -> Result<(), CacheInputError> {
        self.enter(now_ns)?;
        if self.mode != CacheMode::WriteBack {
            return Err(CacheInputError::TunableNotRegistered {
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

    /// Whether `pid` is on a pid list (expired entries stay until the next expiry pass).
    pub fn pid_listed(&self, list: PidList, pid: i32) -> bool {
        self.pids.contains(list, pid)
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

    /// The mode the cache runs in (the table's, or the superblock's on a load).
    pub fn mode(&self) -> CacheMode {
        self.mode
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
            && self.zombies.is_empty()
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
}
