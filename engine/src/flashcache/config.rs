//! Configuration of one flashcache target: the table line, the tunables (sysctls), the
//! project's named deviations (Decisions of specs/flashcache.md), and their validation.
//!
//! Owns: parsing `dmsetup` table lines, flashcache's defaults and clamps, and refusing invalid
//! configurations with flashcache's own reasons, in the order its constructor checks them.
//! Does not own: cache sizing (see [`super::geometry`]) or anything that needs device IO
//! (existing-cache detection and superblock loading live in `Setup`, module `persist`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use super::table::{CacheDeviceSizes, TableLine};
pub use super::tunables::{
    Tunable, Tunables, DIRTY_THRESH_DEFAULT_PCT, DIRTY_THRESH_MAX_PCT, DIRTY_THRESH_MIN_PCT,
    FALLOW_DELAY_DEFAULT_SECS, FALLOW_SPEED_DEFAULT, FALLOW_SPEED_MAX, FALLOW_SPEED_MIN,
    LRU_HOT_PCT_INTERNAL_DEFAULT, LRU_HOT_PCT_SYSCTL_DEFAULT,
};

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
    pub(crate) fn from_number(number: u32) -> Option<CacheMode> {
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
