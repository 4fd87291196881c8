//! The per-cache sysctls (spec 1.19): flashcache's defaults, clamps, and which of them a
//! writethrough/writearound cache registers.
//!
//! Owns: values and their limits. Does not own the side effects of writing a sysctl (the
//! target recomputes thresholds, rebalances LRU lists) nor the actions `do_sync`,
//! `stop_sync`, `zero_stats` (methods of the target).

use super::config::ReclaimPolicy;
use serde::{Deserialize, Serialize};

/// Dirty threshold clamps and default, percent of a set (`DIRTY_THRESH_*`).
pub const DIRTY_THRESH_MIN_PCT: u32 = 10;
pub const DIRTY_THRESH_MAX_PCT: u32 = 95;
pub const DIRTY_THRESH_DEFAULT_PCT: u32 = 20;
/// Default idle time before a dirty block counts as fallow, seconds (`FALLOW_DELAY`).
pub const FALLOW_DELAY_DEFAULT_SECS: u32 = 900;
/// Fallow clean speed clamps and default (`FALLOW_SPEED_*`, `FALLOW_CLEAN_SPEED`).
pub const FALLOW_SPEED_MIN: u32 = 1;
pub const FALLOW_SPEED_MAX: u32 = 100;
pub const FALLOW_SPEED_DEFAULT: u32 = 2;
/// LRU hot share the code initialises with (`FLASHCACHE_LRU_HOT_PCT_DEFAULT`), while the
/// sysctl shows 75 (quirk, Decision 5).
pub const LRU_HOT_PCT_INTERNAL_DEFAULT: u32 = 50;
pub const LRU_HOT_PCT_SYSCTL_DEFAULT: u32 = 75;

/// The per-cache sysctls of `/proc/sys/dev/flashcache/<ssd>+<disk>/` (spec 1.19) with
/// flashcache's defaults. Actions (`do_sync`, `stop_sync`, `zero_stats`) are methods of the
/// target, not values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tunables {
    /// Per-set dirty threshold in percent; clamped to 10..=95.
    pub dirty_thresh_pct: u32,
    /// Concurrent cleanings per set.
    pub max_clean_ios_set: u32,
    /// Concurrent cleanings per cache.
    pub max_clean_ios_total: u32,
    /// Seconds before an idle dirty block counts as fallow; 0 disables. None: flashcache's
    /// default for this cache (900 s, or 0 for a write-only cache).
    pub fallow_delay_secs: Option<u32>,
    /// Fallow batches per second per set; clamped to 1..=100.
    pub fallow_clean_speed: u32,
    /// On remove, skip cleaning: dirty blocks stay on the SSD.
    pub fast_remove: bool,
    /// Force-clean this many LRU-tail blocks on a read miss (LRU policies only).
    pub clean_on_read_miss: u32,
    /// Force-clean this many LRU-tail blocks on a write miss (LRU policies only).
    pub clean_on_write_miss: u32,
    /// Present in flashcache and unused.
    pub new_style_write_merge: u32,
    pub reclaim_policy: ReclaimPolicy,
    /// The LRU hot share the sysctl shows; writing it at run time rebalances the lists.
    pub lru_hot_pct: u32,
    /// Accesses after which a warm block is promoted to the hot list.
    pub lru_promote_thresh: u32,
    /// Skip sequential IO longer than this (KiB); 0 caches everything.
    pub skip_seq_thresh_kb: u32,
    /// 1: cache everything except blacklisted pids; 0: cache only whitelisted pids.
    pub cache_all: bool,
    pub do_pid_expiry: bool,
    pub max_pids: u32,
    pub pid_expiry_secs: u32,
    /// Record the bio latency histogram (250 µs buckets to 10 ms).
    pub io_latency_hist: bool,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            dirty_thresh_pct: DIRTY_THRESH_DEFAULT_PCT,
            max_clean_ios_set: 2,
            max_clean_ios_total: 4,
            fallow_delay_secs: None,
            fallow_clean_speed: FALLOW_SPEED_DEFAULT,
            fast_remove: false,
            clean_on_read_miss: 0,
            clean_on_write_miss: 0,
            new_style_write_merge: 0,
            reclaim_policy: ReclaimPolicy::Fifo,
            lru_hot_pct: LRU_HOT_PCT_SYSCTL_DEFAULT,
            lru_promote_thresh: 2,
            skip_seq_thresh_kb: 0,
            cache_all: true,
            do_pid_expiry: false,
            max_pids: 100,
            pid_expiry_secs: 60,
            io_latency_hist: false,
        }
    }
}

impl Tunables {
    /// The fallow delay in effect for a cache that is (or is not) write-only.
    pub fn effective_fallow_delay_secs(&self, write_only: bool) -> u32 {
        match self.fallow_delay_secs {
            Some(secs) => secs,
            None if write_only => 0,
            None => FALLOW_DELAY_DEFAULT_SECS,
        }
    }

    /// Apply flashcache's clamps to values given in a configuration.
    pub fn clamped(mut self) -> Tunables {
        self.dirty_thresh_pct = self
            .dirty_thresh_pct
            .clamp(DIRTY_THRESH_MIN_PCT, DIRTY_THRESH_MAX_PCT);
        self.fallow_clean_speed = self
            .fallow_clean_speed
            .clamp(FALLOW_SPEED_MIN, FALLOW_SPEED_MAX);
        self
    }
}

/// One sysctl write, as the target accepts it at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tunable {
    DirtyThreshPct(u32),
    MaxCleanIosSet(u32),
    MaxCleanIosTotal(u32),
    FallowDelaySecs(u32),
    FallowCleanSpeed(u32),
    FastRemove(bool),
    CleanOnReadMiss(u32),
    CleanOnWriteMiss(u32),
    NewStyleWriteMerge(u32),
    ReclaimPolicy(ReclaimPolicy),
    LruHotPct(u32),
    LruPromoteThresh(u32),
    SkipSeqThreshKb(u32),
    CacheAll(bool),
    DoPidExpiry(bool),
    MaxPids(u32),
    PidExpirySecs(u32),
    IoLatencyHist(bool),
}

impl Tunable {
    /// The sysctl's name under `/proc/sys/dev/flashcache/<dev>/`.
    pub fn name(&self) -> &'static str {
        match self {
            Tunable::DirtyThreshPct(_) => "dirty_thresh_pct",
            Tunable::MaxCleanIosSet(_) => "max_clean_ios_set",
            Tunable::MaxCleanIosTotal(_) => "max_clean_ios_total",
            Tunable::FallowDelaySecs(_) => "fallow_delay",
            Tunable::FallowCleanSpeed(_) => "fallow_clean_speed",
            Tunable::FastRemove(_) => "fast_remove",
            Tunable::CleanOnReadMiss(_) => "clean_on_read_miss",
            Tunable::CleanOnWriteMiss(_) => "clean_on_write_miss",
            Tunable::NewStyleWriteMerge(_) => "new_style_write_merge",
            Tunable::ReclaimPolicy(_) => "reclaim_policy",
            Tunable::LruHotPct(_) => "lru_hot_pct",
            Tunable::LruPromoteThresh(_) => "lru_promote_thresh",
            Tunable::SkipSeqThreshKb(_) => "skip_seq_thresh_kb",
            Tunable::CacheAll(_) => "cache_all",
            Tunable::DoPidExpiry(_) => "do_pid_expiry",
            Tunable::MaxPids(_) => "max_pids",
            Tunable::PidExpirySecs(_) => "pid_expiry_secs",
            Tunable::IoLatencyHist(_) => "io_latency_hist",
        }
    }

    /// Whether writethrough/writearound caches register this sysctl (spec 1.19).
    pub fn registered_for_non_writeback(&self) -> bool {
        matches!(
            self,
            Tunable::IoLatencyHist(_)
                | Tunable::DoPidExpiry(_)
                | Tunable::MaxPids(_)
                | Tunable::PidExpirySecs(_)
                | Tunable::ReclaimPolicy(_)
                | Tunable::CacheAll(_)
                | Tunable::SkipSeqThreshKb(_)
                | Tunable::LruPromoteThresh(_)
                | Tunable::LruHotPct(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunable_defaults_and_clamps() {
        let tunables = Tunables::default();
        assert_eq!(tunables.dirty_thresh_pct, 20);
        assert_eq!(tunables.max_clean_ios_set, 2);
        assert_eq!(tunables.max_clean_ios_total, 4);
        assert_eq!(tunables.effective_fallow_delay_secs(false), 900);
        assert_eq!(tunables.effective_fallow_delay_secs(true), 0);
        assert_eq!(tunables.fallow_clean_speed, 2);
        assert_eq!(tunables.reclaim_policy, ReclaimPolicy::Fifo);
        assert_eq!(tunables.lru_hot_pct, 75);
        assert_eq!(tunables.lru_promote_thresh, 2);
        assert_eq!(tunables.skip_seq_thresh_kb, 0);
        assert!(tunables.cache_all);
        assert_eq!((tunables.max_pids, tunables.pid_expiry_secs), (100, 60));
        let clamped = Tunables {
            dirty_thresh_pct: 99,
            fallow_clean_speed: 0,
            ..Tunables::default()
        }
        .clamped();
        assert_eq!(clamped.dirty_thresh_pct, 95);
        assert_eq!(clamped.fallow_clean_speed, 1);
        let low = Tunables {
            dirty_thresh_pct: 3,
            fallow_clean_speed: 500,
            ..Tunables::default()
        }
        .clamped();
        assert_eq!((low.dirty_thresh_pct, low.fallow_clean_speed), (10, 100));
    }
}
