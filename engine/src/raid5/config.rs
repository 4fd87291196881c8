//! The raid5 array's configuration (what `mdadm --create` and the md sysfs tunables set) and
//! the errors of an impossible one.
//!
//! Owns: [`Raid5Config`], [`Layout`], [`Raid5ConfigError`]. Does not own the mapping of
//! sectors (see [`super::geometry`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Fewest members a raid5 array may have.
pub const MEMBERS_MIN: usize = 3;
/// Most members this engine supports.
pub const MEMBERS_MAX: usize = 16;
/// The smallest chunk: one stripe unit (4 KiB).
pub const CHUNK_SECTORS_MIN: u64 = 8;
/// md's default `stripe_cache_size`.
pub const STRIPE_CACHE_SIZE_DEFAULT: u32 = 256;
/// md's largest `stripe_cache_size`.
pub const STRIPE_CACHE_SIZE_MAX: u32 = 32768;
/// The block layer's unplug delay (`q->unplug_delay`, 3 ms).
pub const UNPLUG_DELAY_NS_DEFAULT: u64 = 3_000_000;
/// md's `max_corrected_read_errors` default.
pub const MAX_CORRECTED_READ_ERRORS_DEFAULT: u32 = 20;
/// md's default `preread_bypass_threshold`.
pub const PREREAD_BYPASS_THRESHOLD_DEFAULT: u32 = 1;
/// md's default `speed_limit_min` (KiB/s per device).
pub const SPEED_LIMIT_MIN_KIB_S_DEFAULT: u64 = 1_000;
/// md's default `speed_limit_max` (KiB/s per device).
pub const SPEED_LIMIT_MAX_KIB_S_DEFAULT: u64 = 200_000;
/// md's default `safe_mode_delay` (200 ms).
pub const SAFE_MODE_DELAY_NS_DEFAULT: u64 = 200_000_000;
/// The most write-intent bitmap chunks one array may have (one 4 KiB bitmap page).
pub const BITMAP_CHUNKS_MAX: u64 = 4096 * 8;

/// Where parity sits in each row and in which order data chunks fill the others (md's
/// `--layout`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Parity moves from the last member leftwards; data fills members in order.
    LeftAsymmetric,
    /// Parity moves from the first member rightwards; data fills members in order.
    RightAsymmetric,
    /// Parity moves leftwards; data starts right after parity and wraps (md's default).
    #[default]
    LeftSymmetric,
    /// Parity moves rightwards; data starts right after parity and wraps.
    RightSymmetric,
}

impl Layout {
    /// All layouts, in md's numbering order (ALGORITHM_LEFT_ASYMMETRIC = 0 ...).
    pub const ALL: [Layout; 4] = [
        Layout::LeftAsymmetric,
        Layout::RightAsymmetric,
        Layout::LeftSymmetric,
        Layout::RightSymmetric,
    ];

    /// The name mdadm prints and accepts.
    pub fn name(self) -> &'static str {
        match self {
            Layout::LeftAsymmetric => "left-asymmetric",
            Layout::RightAsymmetric => "right-asymmetric",
            Layout::LeftSymmetric => "left-symmetric",
            Layout::RightSymmetric => "right-symmetric",
        }
    }

    /// Parses mdadm's name (also the short `la`, `ra`, `ls`, `rs`).
    pub fn parse(text: &str) -> Option<Layout> {
        match text {
            "left-asymmetric" | "la" => Some(Layout::LeftAsymmetric),
            "right-asymmetric" | "ra" => Some(Layout::RightAsymmetric),
            "left-symmetric" | "ls" => Some(Layout::LeftSymmetric),
            "right-symmetric" | "rs" => Some(Layout::RightSymmetric),
            _ => None,
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A raid5 array's shape and tunables; the members are the target's devices, in role order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raid5Config {
    /// Chunk size in sectors: a power of two, at least 8 (4 KiB).
    pub chunk_sectors: u64,
    #[serde(default)]
    pub layout: Layout,
    /// Stripe heads in the stripe cache (`stripe_cache_size`).
    #[serde(default = "default_stripe_cache_size")]
    pub stripe_cache_size: u32,
    /// Full-stripe handlings that may bypass waiting pre-read stripes before those are
    /// forced (`preread_bypass_threshold`).
    #[serde(default = "default_preread_bypass_threshold")]
    pub preread_bypass_threshold: u32,
    /// How long a partial write waits on the plugged queue for more writes to fill its
    /// stripe before pre-reading (the block layer's unplug delay); a REQ_SYNC bio unplugs
    /// at once.
    #[serde(default = "default_unplug_delay_ns")]
    pub unplug_delay_ns: u64,
    /// Read errors a member may have repaired before it is failed
    /// (`max_corrected_read_errors`).
    #[serde(default = "default_max_corrected_read_errors")]
    pub max_corrected_read_errors: u32,
    /// A sync pass (check, repair, recovery, resync) runs at least this fast, in KiB/s of
    /// one member, even while the array is busy (md's `speed_limit_min`).
    #[serde(default = "default_speed_limit_min_kib_s")]
    pub speed_limit_min_kib_s: u64,
    /// ... and never faster than this, even when the array is idle (md's `speed_limit_max`).
    #[serde(default = "default_speed_limit_max_kib_s")]
    pub speed_limit_max_kib_s: u64,
    /// A persistent superblock (and, with `bitmap_chunk_sectors`, a write-intent bitmap) at
    /// the end of every member, see `metadata`: the array is marked dirty before its
    /// first write and clean after `safe_mode_delay_ns` without writes, is assembled from the
    /// members' superblocks when it starts, and resyncs if it was dirty. Off: no superblock
    /// (md's `--build`), the members' whole size holds data and a restart assumes clean.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub superblock: bool,
    /// The write-intent bitmap's chunk in member sectors (md's `--bitmap-chunk`): a power of
    /// two of at least one stripe unit; its bit is on the members before any write in the
    /// chunk, and a resync covers only chunks whose bit is set. Needs `superblock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitmap_chunk_sectors: Option<u64>,
    /// Quiet time after the last write before the array is marked clean (md's
    /// `safe_mode_delay`).
    #[serde(
        default = "default_safe_mode_delay_ns",
        skip_serializing_if = "is_default_safe_mode_delay"
    )]
    pub safe_mode_delay_ns: u64,
}

fn default_safe_mode_delay_ns() -> u64 {
    SAFE_MODE_DELAY_NS_DEFAULT
}

fn is_default_safe_mode_delay(delay_ns: &u64) -> bool {
    *delay_ns == SAFE_MODE_DELAY_NS_DEFAULT
}

fn default_speed_limit_min_kib_s() -> u64 {
    SPEED_LIMIT_MIN_KIB_S_DEFAULT
}

fn default_speed_limit_max_kib_s() -> u64 {
    SPEED_LIMIT_MAX_KIB_S_DEFAULT
}

fn default_unplug_delay_ns() -> u64 {
    UNPLUG_DELAY_NS_DEFAULT
}

fn default_max_corrected_read_errors() -> u32 {
    MAX_CORRECTED_READ_ERRORS_DEFAULT
}

fn default_stripe_cache_size() -> u32 {
    STRIPE_CACHE_SIZE_DEFAULT
}

fn default_preread_bypass_threshold() -> u32 {
    PREREAD_BYPASS_THRESHOLD_DEFAULT
}

impl Raid5Config {
    /// An array with `chunk_sectors` chunks and md's defaults for everything else: the
    /// same functions serde fills an omitted field from, so a config built here and one
    /// read from a file without the field cannot disagree.
    pub fn new(chunk_sectors: u64) -> Raid5Config {
        Raid5Config {
            chunk_sectors,
            layout: Layout::default(),
            stripe_cache_size: default_stripe_cache_size(),
            preread_bypass_threshold: default_preread_bypass_threshold(),
            unplug_delay_ns: default_unplug_delay_ns(),
            max_corrected_read_errors: default_max_corrected_read_errors(),
            speed_limit_min_kib_s: default_speed_limit_min_kib_s(),
            speed_limit_max_kib_s: default_speed_limit_max_kib_s(),
            superblock: false,
            bitmap_chunk_sectors: None,
            safe_mode_delay_ns: default_safe_mode_delay_ns(),
        }
    }
}

/// Why an array cannot be assembled; each names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Raid5ConfigError {
    #[error("members: a raid5 array needs {MEMBERS_MIN}..={MEMBERS_MAX} members, got {members}")]
    MemberCount { members: usize },
    #[error("chunk: {chunk_sectors} sectors is not a power of two of at least {CHUNK_SECTORS_MIN} sectors (4 KiB)")]
    Chunk { chunk_sectors: u64 },
    #[error("members: member {member} has {sectors} sectors but member 0 has {first_sectors}; raid5 members must be the same size")]
    UnequalMembers {
        member: usize,
        sectors: u64,
        first_sectors: u64,
    },
    #[error("members: {member_sectors} sectors per member hold no whole chunk of {chunk_sectors} sectors")]
    MembersTooSmall {
        member_sectors: u64,
        chunk_sectors: u64,
    },
    #[error("members: member {member} has a logical block of {block_bytes} bytes; raid5 needs at most 4096")]
    MemberBlock { member: usize, block_bytes: u32 },
    #[error("stripe_cache_size: {size} is outside 17..={STRIPE_CACHE_SIZE_MAX}, the stripe heads md allows")]
    StripeCacheSize { size: u32 },
    #[error("speed_limit_min_kib_s: {min} is above speed_limit_max_kib_s {max} (or max is 0)")]
    SpeedLimits { min: u64, max: u64 },
    #[error("bitmap_chunk_sectors: {chunk_sectors} is not a power of two of at least 8 sectors, or needs more than {BITMAP_CHUNKS_MAX} chunks for {member_sectors} sectors per member, or the array has no superblock")]
    BitmapChunk {
        chunk_sectors: u64,
        member_sectors: u64,
    },
    #[error("stripe_cache_size: the stripe cache needs {pages} pages but the arena has {free} free (raise arena_pages)")]
    StripeCacheMemory { pages: usize, free: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_that_omits_the_tunables_reads_as_new() {
        let read: Raid5Config =
            serde_json::from_str(r#"{"chunk_sectors": 64}"#).expect("a minimal config");
        assert_eq!(read, Raid5Config::new(64));
        assert_eq!(read.speed_limit_max_kib_s, SPEED_LIMIT_MAX_KIB_S_DEFAULT);
        assert_eq!(read.safe_mode_delay_ns, SAFE_MODE_DELAY_NS_DEFAULT);
    }
}
