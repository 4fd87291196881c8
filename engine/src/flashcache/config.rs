//! Configuration of one flashcache target: the table line, the tunables (sysctls), the
//! project's named deviations (Decisions of specs/flashcache.md), and their validation.
//!
//! Owns: parsing `dmsetup` table lines, flashcache's defaults and clamps, and refusing invalid
//! configurations with flashcache's own reasons, in the order its constructor checks them.
//! Does not own: cache sizing (see [`super::geometry`]) or anything that needs device IO
//! (existing-cache detection and superblock loading live in `Setup`, module `persist`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Default cache block size: 8 sectors (4 KiB), `DEFAULT_BLOCK_SIZE`.
pub const DEFAULT_BLOCK_SIZE_SECTORS: u32 = 8;
/// Default associativity, `DEFAULT_CACHE_ASSOC`.
pub const DEFAULT_ASSOC: u32 = 512;
/// Smallest associativity flashcache accepts, `FLASHCACHE_MIN_ASSOC`.
pub const MIN_ASSOC: u32 = 256;
/// Largest associativity flashcache accepts (16-bit set-relative links), `FLASHCACHE_MAX_ASSOC`.
pub const MAX_ASSOC: u32 = 8192;
/// Smallest non-zero disk associativity in sectors (128 KiB).
pub const MIN_DISK_ASSOC_SECTORS: u32 = 256;
/// Largest disk associativity in sectors (1 MiB).
pub const MAX_DISK_ASSOC_SECTORS: u32 = 2048;
/// Default metadata block size: 8 sectors (4 KiB), `DEFAULT_MD_BLOCK_SIZE`.
pub const DEFAULT_MD_BLOCK_SIZE_SECTORS: u32 = 8;
/// Largest metadata block size: 128 sectors (64 KiB), `FLASHCACHE_MAX_MD_BLOCK_SIZE`.
pub const MAX_MD_BLOCK_SIZE_SECTORS: u32 = 128;
/// Bytes of one on-SSD metadata slot (`struct flash_cacheblock`, checksums off).
pub const MD_SLOT_BYTES: u32 = 16;

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

/// Cache mode (`flashcache.h`: WRITE_BACK=1, WRITE_THROUGH=2, WRITE_AROUND=3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    WriteBack,
    WriteThrough,
    WriteAround,
}

impl CacheMode {
    /// The number flashcache's table line uses for this mode.
    pub fn number(self) -> u32 {
        match self {
            CacheMode::WriteBack => 1,
            CacheMode::WriteThrough => 2,
            CacheMode::WriteAround => 3,
        }
    }
    fn from_number(number: u32) -> Option<CacheMode> {
        match number {
            1 => Some(CacheMode::WriteBack),
            2 => Some(CacheMode::WriteThrough),
            3 => Some(CacheMode::WriteAround),
            _ => None,
        }
    }
}

/// What the constructor does with the SSD's existing content (writeback only; writethrough
/// and writearound always start cold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// 1: load the cache described by the superblock; geometry arguments are ignored.
    Reload,
    /// 2: create a new cache, refusing if the SSD already holds one.
    Create,
    /// 3: create a new cache even over an existing one.
    ForceCreate,
}

impl Persistence {
    /// The number flashcache's table line uses.
    pub fn number(self) -> u32 {
        match self {
            Persistence::Reload => 1,
            Persistence::Create => 2,
            Persistence::ForceCreate => 3,
        }
    }
}

/// Blocks per set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Associativity {
    /// A power of two in 256..=8192 (0 in a table line means the default, 512).
    Ways(u32),
    /// One set holding the whole cache: an explicit option beyond flashcache's 8192 limit.
    Full,
}

/// Replacement policy (`reclaim_policy` sysctl; the first two keep flashcache's meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReclaimPolicy {
    /// 0: flashcache's FIFO hand (default).
    Fifo,
    /// 1: flashcache's two-list hot/warm LRU, with the code's quirks.
    Lru,
    /// Extra (Decision 11): one plain LRU list per set, for comparison.
    LruStrict,
}

/// How `disk_assoc` is checked against `assoc` (Decision 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskAssocRule {
    /// flashcache's formula: reject if `assoc * block_shift < disk_assoc`.
    Faithful,
    /// The evident intent: reject if `disk_assoc > assoc << block_shift`.
    Intended,
}

/// What a failed metadata write that was dirtying a block does (Decision 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MdWriteFailure {
    /// flashcache: a VERIFY that assumes writethrough fires — the target halts
    /// ("kernel panic"); every later input is refused.
    Panic,
    /// Fail the write with EIO and invalidate the block, whose disk copy is still the last
    /// acknowledged data.
    FailAndInvalidate,
}

/// The project's deliberate deviations from flashcache 3.1.1, each a named option
/// (specs/flashcache.md, "Decisions"). Every report records them via [`Options::deviations`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// Decision 1: a flush is passed to both devices before it completes. Off: flush bios
    /// complete at once without reaching either device.
    pub honor_flush: bool,
    /// Decision 2: a discard drops overlapping cached blocks and goes to the disk. Off:
    /// discards are refused as unsupported.
    pub discard: bool,
    /// Decision 4 (default: the intended rule, as the Decision states).
    pub disk_assoc_rule: DiskAssocRule,
    /// Decision 5: rebalance the LRU lists to this hot share at start, as writing the
    /// `lru_hot_pct` sysctl does. None: the code's 50% split while the sysctl shows 75.
    pub lru_hot_pct: Option<u32>,
    /// Decision 7: a periodic pass every `fallow_delay` examines all sets, so idle dirty
    /// sets get cleaned without new IO.
    pub fallow_timer: bool,
    /// Decision 8 (default: fail and invalidate, as the Decision states).
    pub md_write_failure: MdWriteFailure,
    /// Decision 12: SSD IOs carry this timeout; a timed-out cache IO is a cache error.
    pub ssd_timeout_ns: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            honor_flush: false,
            discard: false,
            disk_assoc_rule: DiskAssocRule::Intended,
            lru_hot_pct: None,
            fallow_timer: false,
            md_write_failure: MdWriteFailure::FailAndInvalidate,
            ssd_timeout_ns: None,
        }
    }
}

impl Options {
    /// Names of the options that differ from flashcache's own behaviour, for reports.
    pub fn deviations(&self) -> Vec<String> {
        let mut on = Vec::new();
        if self.honor_flush {
            on.push("honor_flush".to_string());
        }
        if self.discard {
            on.push("discard".to_string());
        }
        if self.disk_assoc_rule == DiskAssocRule::Intended {
            on.push("disk_assoc_rule=intended".to_string());
        }
        if let Some(pct) = self.lru_hot_pct {
            on.push(format!("lru_hot_pct={pct}"));
        }
        if self.fallow_timer {
            on.push("fallow_timer".to_string());
        }
        if self.md_write_failure == MdWriteFailure::FailAndInvalidate {
            on.push("md_write_failure=fail_and_invalidate".to_string());
        }
        if let Some(ns) = self.ssd_timeout_ns {
            on.push(format!("ssd_timeout_ns={ns}"));
        }
        on
    }
}

/// flashcache's table line: `0 <disk_sectors> flashcache <disk_dev> <ssd_dev> <vdev_name>
/// <mode> <persistence> [block_size] [cache_size] [assoc] [disk_assoc] [write_only]
/// [md_block_size]`. Zero in a numeric field means "flashcache's default".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLine {
    /// Length of the target in sectors (the disk's size).
    pub target_sectors: u64,
    pub disk_dev: String,
    pub ssd_dev: String,
    /// The DM device name, stored in the superblock's `cache_devname` since v2.
    pub vdev_name: String,
    pub mode: CacheMode,
    pub persistence: Persistence,
    /// Cache block size in sectors; 0 = 8.
    pub block_size_sectors: u32,
    /// Cache size in sectors; 0 = the whole SSD.
    pub cache_size_sectors: u64,
    /// Associativity; `Ways(0)` = 512.
    pub assoc: Associativity,
    /// Disk associativity in sectors; 0 = off (legacy mapping).
    pub disk_assoc_sectors: u32,
    /// Write-only cache (writeback only): writes are cached, read misses never fill.
    pub write_only: bool,
    /// Metadata block size in sectors (writeback only); 0 = 8.
    pub md_block_size_sectors: u32,
}

impl TableLine {
    /// A writeback table line with every geometry argument at flashcache's default.
    pub fn new(mode: CacheMode, persistence: Persistence, target_sectors: u64) -> TableLine {
        TableLine {
            target_sectors,
            disk_dev: "/dev/disk".to_string(),
            ssd_dev: "/dev/ssd".to_string(),
            vdev_name: "cachedev".to_string(),
            mode,
            persistence,
            block_size_sectors: 0,
            cache_size_sectors: 0,
            assoc: Associativity::Ways(0),
            disk_assoc_sectors: 0,
            write_only: false,
            md_block_size_sectors: 0,
        }
    }

    /// Parse a `dmsetup table` line for the flashcache target. Numeric fields that do not
    /// parse are refused with the reason flashcache gives for that argument.
    pub fn parse(line: &str) -> Result<TableLine, ConfigError> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(ConfigError::NotATableLine {
                line: line.to_string(),
            });
        }
        if fields[0] != "0" || fields[2] != "flashcache" {
            return Err(ConfigError::NotATableLine {
                line: line.to_string(),
            });
        }
        let target_sectors: u64 = fields[1].parse().map_err(|_| ConfigError::NotATableLine {
            line: line.to_string(),
        })?;
        let args = &fields[3..];
        if args.len() < 4 {
            // flashcache checks for 3 and then reads argv[3] regardless; 4 are needed.
            return Err(ConfigError::NeedArguments);
        }
        let mode_number: u32 = args[3].parse().map_err(|_| ConfigError::ModeUnparsable {
            value: args[3].to_string(),
        })?;
        let mode = CacheMode::from_number(mode_number)
            .ok_or(ConfigError::InvalidCacheMode { mode: mode_number })?;
        let persistence = if mode == CacheMode::WriteBack {
            match args.get(4) {
                None => Persistence::Reload,
                Some(text) => {
                    let number: u32 =
                        text.parse()
                            .map_err(|_| ConfigError::PersistenceUnparsable {
                                value: text.to_string(),
                            })?;
                    match number {
                        1 => Persistence::Reload,
                        2 => Persistence::Create,
                        3 => Persistence::ForceCreate,
                        _ => {
                            return Err(ConfigError::InvalidPersistence {
                                persistence: number,
                            })
                        }
                    }
                }
            }
        } else {
            // Persistence is ignored for writethrough and writearound: always "create".
            Persistence::Create
        };
        let number = |index: usize, error: ConfigError| -> Result<u64, ConfigError> {
            match args.get(index) {
                None => Ok(0),
                Some(text) => text.parse::<u64>().map_err(|_| error),
            }
        };
        let block_size = number(5, ConfigError::InvalidBlockSize { block_size: 0 })?;
        let cache_size = number(6, ConfigError::InvalidCacheSize)?;
        let assoc = number(7, ConfigError::InvalidAssociativity { assoc: 0 })?;
        let disk_assoc = number(8, ConfigError::InvalidDiskAssociativity { disk_assoc: 0 })?;
        let write_only = number(9, ConfigError::WriteCacheUnparsable)?;
        let md_block_size = number(
            10,
            ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
        )?;
        let to_u32 = |value: u64, error: ConfigError| u32::try_from(value).map_err(|_| error);
        let write_only = match write_only {
            0 => false,
            1 => true,
            other => return Err(ConfigError::InvalidWriteCacheSetting { value: other }),
        };
        Ok(TableLine {
            target_sectors,
            disk_dev: args[0].to_string(),
            ssd_dev: args[1].to_string(),
            vdev_name: args[2].to_string(),
            mode,
            persistence,
            block_size_sectors: to_u32(
                block_size,
                ConfigError::InvalidBlockSize { block_size: 0 },
            )?,
            cache_size_sectors: cache_size,
            assoc: Associativity::Ways(to_u32(
                assoc,
                ConfigError::InvalidAssociativity { assoc: 0 },
            )?),
            disk_assoc_sectors: to_u32(
                disk_assoc,
                ConfigError::InvalidDiskAssociativity { disk_assoc: 0 },
            )?,
            write_only,
            md_block_size_sectors: to_u32(
                md_block_size,
                ConfigError::InvalidMetadataBlockSize { md_block_size: 0 },
            )?,
        })
    }

    /// Render as the 11-argument line `flashcache_create` emits.
    pub fn render(&self) -> String {
        let assoc = match self.assoc {
            Associativity::Ways(ways) => ways.to_string(),
            Associativity::Full => "full".to_string(),
        };
        format!(
            "0 {} flashcache {} {} {} {} {} {} {} {} {} {} {}",
            self.target_sectors,
            self.disk_dev,
            self.ssd_dev,
            self.vdev_name,
            self.mode.number(),
            self.persistence.number(),
            self.block_size_sectors,
            self.cache_size_sectors,
            assoc,
            self.disk_assoc_sectors,
            u32::from(self.write_only),
            self.md_block_size_sectors
        )
    }

    /// The block size in effect (default applied).
    pub fn effective_block_size_sectors(&self) -> u32 {
        if self.block_size_sectors == 0 {
            DEFAULT_BLOCK_SIZE_SECTORS
        } else {
            self.block_size_sectors
        }
    }

    /// The metadata block size in effect (default applied; writethrough/writearound keep none
    /// on the SSD but the value is still reported).
    pub fn effective_md_block_size_sectors(&self) -> u32 {
        if self.md_block_size_sectors == 0 {
            DEFAULT_MD_BLOCK_SIZE_SECTORS
        } else {
            self.md_block_size_sectors
        }
    }

    /// Check the arguments in the order `flashcache_ctr` does and with its reasons.
    /// Arguments a RELOAD ignores (all geometry) are not checked for RELOAD.
    pub fn validate(&self, devices: &DeviceInfo, options: &Options) -> Result<(), ConfigError> {
        if self.mode == CacheMode::WriteBack && self.persistence == Persistence::Reload {
            return Ok(());
        }
        let block_size = self.effective_block_size_sectors();
        if !block_size.is_power_of_two() {
            return Err(ConfigError::InvalidBlockSize {
                block_size: self.block_size_sectors,
            });
        }
        let block_shift = block_size.trailing_zeros();
        // flashcache compares assoc with the size while it is still in sectors.
        let size_sectors = if self.cache_size_sectors == 0 {
            devices.ssd_sectors
        } else {
            self.cache_size_sectors
        };
        let assoc = match self.assoc {
            Associativity::Ways(0) => DEFAULT_ASSOC,
            Associativity::Ways(ways) => {
                if !ways.is_power_of_two()
                    || !(MIN_ASSOC..=MAX_ASSOC).contains(&ways)
                    || size_sectors < u64::from(ways)
                {
                    return Err(ConfigError::InvalidAssociativity { assoc: ways });
                }
                ways
            }
            // One set of the whole cache: no upper limit; the size check is done by sizing.
            Associativity::Full => u32::MAX,
        };
        let disk_assoc = self.disk_assoc_sectors;
        if disk_assoc > 0 {
            let assoc_limit_violated = match options.disk_assoc_rule {
                DiskAssocRule::Faithful => {
                    u64::from(assoc) * u64::from(block_shift) < u64::from(disk_assoc)
                }
                DiskAssocRule::Intended => {
                    u64::from(disk_assoc) > (u64::from(assoc) << block_shift)
                }
            };
            if !disk_assoc.is_power_of_two()
                || !(MIN_DISK_ASSOC_SECTORS..=MAX_DISK_ASSOC_SECTORS).contains(&disk_assoc)
                || size_sectors < u64::from(disk_assoc)
                || assoc_limit_violated
            {
                return Err(ConfigError::InvalidDiskAssociativity { disk_assoc });
            }
        }
        if self.write_only && self.mode != CacheMode::WriteBack {
            return Err(ConfigError::WriteCacheNeedsWriteBack);
        }
        if self.mode == CacheMode::WriteBack {
            let md_block_size = self.effective_md_block_size_sectors();
            if !md_block_size.is_power_of_two() || md_block_size > MAX_MD_BLOCK_SIZE_SECTORS {
                return Err(ConfigError::InvalidMetadataBlockSize {
                    md_block_size: self.md_block_size_sectors,
                });
            }
            // An md block may never span two sets.
            let slots_per_md_block = md_block_size * 512 / MD_SLOT_BYTES;
            if u64::from(assoc) < u64::from(slots_per_md_block) {
                return Err(ConfigError::MetadataBlockLargerThanSet {
                    md_block_size,
                    assoc,
                });
            }
            if md_block_size * 512 < devices.ssd_logical_block_bytes {
                return Err(ConfigError::MetadataBlockSmallerThanSsdSector {
                    md_block_bytes: md_block_size * 512,
                    ssd_logical_block_bytes: devices.ssd_logical_block_bytes,
                });
            }
        }
        Ok(())
    }
}

/// What the constructor needs to know about the two devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// SSD capacity in sectors.
    pub ssd_sectors: u64,
    /// Disk capacity in sectors.
    pub disk_sectors: u64,
    /// The SSD's logical block size in bytes (512 or 4096).
    pub ssd_logical_block_bytes: u32,
}

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

/// A target configuration: table line, tunables and the project's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashcacheConfig {
    pub table: TableLine,
    #[serde(default)]
    pub tunables: Tunables,
    #[serde(default)]
    pub options: Options,
}

impl FlashcacheConfig {
    /// A configuration with flashcache's default tunables and the default options.
    pub fn new(table: TableLine) -> FlashcacheConfig {
        FlashcacheConfig {
            table,
            tunables: Tunables::default(),
            options: Options::default(),
        }
    }
}

/// Why a configuration is refused. Messages are flashcache's `ti->error` strings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("not a flashcache table line: {line:?}")]
    NotATableLine { line: String },
    #[error("flashcache: Need at least 3 arguments")]
    NeedArguments,
    #[error("flashcache: sscanf failed, invalid cache mode ({value:?})")]
    ModeUnparsable { value: String },
    #[error("flashcache: Invalid cache mode ({mode})")]
    InvalidCacheMode { mode: u32 },
    #[error("flashcache: sscanf failed, invalid cache persistence ({value:?})")]
    PersistenceUnparsable { value: String },
    #[error("flashcache: Invalid cache persistence ({persistence})")]
    InvalidPersistence { persistence: u32 },
    #[error("flashcache: Invalid block size ({block_size})")]
    InvalidBlockSize { block_size: u32 },
    #[error("flashcache: Invalid cache size")]
    InvalidCacheSize,
    #[error("flashcache: Invalid cache associativity ({assoc})")]
    InvalidAssociativity { assoc: u32 },
    #[error("flashcache: Invalid disk associativity ({disk_assoc})")]
    InvalidDiskAssociativity { disk_assoc: u32 },
    #[error("flashcache: Invalid Write Cache setting")]
    WriteCacheUnparsable,
    #[error("flashcache: Invalid Write Cache Setting (only valid with WRITE_BACK)")]
    WriteCacheNeedsWriteBack,
    #[error("flashcache: Invalid Write Cache Setting ({value})")]
    InvalidWriteCacheSetting { value: u64 },
    #[error("flashcache: Invalid metadata block size ({md_block_size})")]
    InvalidMetadataBlockSize { md_block_size: u32 },
    #[error(
        "flashcache: Please choose a smaller metadata block size or larger assoc \
         (md block {md_block_size} sectors, assoc {assoc})"
    )]
    MetadataBlockLargerThanSet { md_block_size: u32, assoc: u32 },
    #[error(
        "flashcache: Metadata block size must be >= cache device sector size \
         ({md_block_bytes} < {ssd_logical_block_bytes})"
    )]
    MetadataBlockSmallerThanSsdSector {
        md_block_bytes: u32,
        ssd_logical_block_bytes: u32,
    },
    #[error(
        "Requested cache size exceeds the cache device's capacity \
         ({needed_sectors}>{ssd_sectors})"
    )]
    CacheSizeExceedsDevice {
        needed_sectors: u64,
        ssd_sectors: u64,
    },
    #[error("cache too small: {size_blocks} blocks leave no complete set of {assoc}")]
    CacheTooSmall { size_blocks: u64, assoc: u64 },
    #[error("cache too large: {size_blocks} blocks exceed the 2^32-1 block index space")]
    CacheTooLarge { size_blocks: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICES: DeviceInfo = DeviceInfo {
        ssd_sectors: 2_097_152,
        disk_sectors: 20_971_520,
        ssd_logical_block_bytes: 512,
    };

    fn check(line: &str) -> Result<TableLine, ConfigError> {
        let table = TableLine::parse(line)?;
        table.validate(&DEVICES, &Options::default())?;
        Ok(table)
    }

    #[test]
    fn parses_the_eleven_argument_line_of_flashcache_create() {
        let table = check("0 20971520 flashcache /dev/sdb /dev/sdc cachedev 1 2 8 0 512 0 0 8")
            .expect("valid line");
        assert_eq!(table.mode, CacheMode::WriteBack);
        assert_eq!(table.persistence, Persistence::Create);
        assert_eq!(table.block_size_sectors, 8);
        assert_eq!(table.assoc, Associativity::Ways(512));
        assert_eq!(table.md_block_size_sectors, 8);
        assert_eq!(table.vdev_name, "cachedev");
        assert_eq!(
            table.render(),
            "0 20971520 flashcache /dev/sdb /dev/sdc cachedev 1 2 8 0 512 0 0 8"
        );
    }

    #[test]
    fn writethrough_ignores_persistence_and_defaults_apply() {
        let table = check("0 100 flashcache d s v 2 7").expect("persistence ignored");
        assert_eq!(table.persistence, Persistence::Create);
        assert_eq!(table.effective_block_size_sectors(), 8);
    }

    #[test]
    fn reload_ignores_geometry_arguments() {
        // Garbage geometry is not looked at when the superblock supplies it.
        assert!(check("0 100 flashcache d s v 1 1 3 0 7").is_ok());
    }

    #[test]
    fn refuses_with_flashcaches_reasons() {
        let cases: &[(&str, ConfigError)] = &[
            ("0 100 flashcache d s", ConfigError::NeedArguments),
            (
                "0 100 flashcache d s v x",
                ConfigError::ModeUnparsable { value: "x".into() },
            ),
            (
                "0 100 flashcache d s v 4",
                ConfigError::InvalidCacheMode { mode: 4 },
            ),
            (
                "0 100 flashcache d s v 0",
                ConfigError::InvalidCacheMode { mode: 0 },
            ),
            (
                "0 100 flashcache d s v 1 4",
                ConfigError::InvalidPersistence { persistence: 4 },
            ),
            (
                "0 100 flashcache d s v 1 z",
                ConfigError::PersistenceUnparsable { value: "z".into() },
            ),
            (
                "0 100 flashcache d s v 1 2 6",
                ConfigError::InvalidBlockSize { block_size: 6 },
            ),
            (
                "0 100 flashcache d s v 1 2 q",
                ConfigError::InvalidBlockSize { block_size: 0 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 q",
                ConfigError::InvalidCacheSize,
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 384",
                ConfigError::InvalidAssociativity { assoc: 384 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 128",
                ConfigError::InvalidAssociativity { assoc: 128 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 16384",
                ConfigError::InvalidAssociativity { assoc: 16384 },
            ),
            // assoc must not exceed the size (still in sectors at that point).
            (
                "0 100 flashcache d s v 1 2 8 300 512",
                ConfigError::InvalidAssociativity { assoc: 512 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 384",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 384 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 128",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 128 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 4096",
                ConfigError::InvalidDiskAssociativity { disk_assoc: 4096 },
            ),
            (
                "0 100 flashcache d s v 2 2 8 0 512 0 1",
                ConfigError::WriteCacheNeedsWriteBack,
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 2",
                ConfigError::InvalidWriteCacheSetting { value: 2 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 0 12",
                ConfigError::InvalidMetadataBlockSize { md_block_size: 12 },
            ),
            (
                "0 100 flashcache d s v 1 2 8 0 512 0 0 256",
                ConfigError::InvalidMetadataBlockSize { md_block_size: 256 },
            ),
            (
                // 64 KiB md blocks hold 4096 slots: more than a 512-way set.
                "0 100 flashcache d s v 1 2 8 0 512 0 0 128",
                ConfigError::MetadataBlockLargerThanSet {
                    md_block_size: 128,
                    assoc: 512,
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(check(line).as_ref().err(), Some(expected), "line {line:?}");
        }
    }

    #[test]
    fn md_block_must_cover_an_ssd_logical_block() {
        let table = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 0 0 1").expect("parses");
        let devices = DeviceInfo {
            ssd_logical_block_bytes: 4096,
            ..DEVICES
        };
        assert_eq!(
            table.validate(&devices, &Options::default()),
            Err(ConfigError::MetadataBlockSmallerThanSsdSector {
                md_block_bytes: 512,
                ssd_logical_block_bytes: 4096
            })
        );
    }

    #[test]
    fn disk_assoc_rule_faithful_versus_intended() {
        // 2048 sectors: assoc*block_shift = 512*3 = 1536 < 2048 refuses under the faithful
        // formula; 512 << 3 = 4096 accepts under the intended one.
        let table = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 2048").expect("parses");
        let faithful = Options {
            disk_assoc_rule: DiskAssocRule::Faithful,
            ..Options::default()
        };
        assert_eq!(
            table.validate(&DEVICES, &faithful),
            Err(ConfigError::InvalidDiskAssociativity { disk_assoc: 2048 })
        );
        assert_eq!(table.validate(&DEVICES, &Options::default()), Ok(()));
        let ok = TableLine::parse("0 100 flashcache d s v 1 2 8 0 512 1024").expect("parses");
        assert_eq!(ok.validate(&DEVICES, &faithful), Ok(()));
    }

    #[test]
    fn full_associativity_skips_the_8192_limit() {
        let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1000);
        table.assoc = Associativity::Full;
        assert_eq!(table.validate(&DEVICES, &Options::default()), Ok(()));
        assert!(table.render().contains(" full "));
    }

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

    #[test]
    fn config_round_trips_through_json() {
        let mut config = FlashcacheConfig::new(TableLine::new(
            CacheMode::WriteThrough,
            Persistence::Create,
            4096,
        ));
        config.options.ssd_timeout_ns = Some(5_000_000);
        config.tunables.reclaim_policy = ReclaimPolicy::LruStrict;
        let json = serde_json::to_string(&config).expect("serialises");
        let back: FlashcacheConfig = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, config);
    }

    #[test]
    fn deviations_name_every_non_faithful_option() {
        let faithful = Options {
            disk_assoc_rule: DiskAssocRule::Faithful,
            md_write_failure: MdWriteFailure::Panic,
            ..Options::default()
        };
        assert!(faithful.deviations().is_empty());
        let all = Options {
            honor_flush: true,
            discard: true,
            lru_hot_pct: Some(75),
            fallow_timer: true,
            ssd_timeout_ns: Some(1),
            ..Options::default()
        };
        assert_eq!(all.deviations().len(), 7);
    }
}
