//! Block-IO vocabulary: sectors, devices and operations.
//!
//! A sector is 512 bytes, as in Linux; a page is 4 KiB. Every address the engine handles is
//! in sectors, every length in sectors, and the names say so (`sector`, `sectors`).

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Bytes in a sector: the unit of every address and length in dmsim.
pub const SECTOR_SIZE: usize = 512;
/// Bytes in a page: the unit of the engine's buffer arena and of simulated device content.
pub const PAGE_SIZE: usize = 4096;
/// Sectors in a page.
pub const SECTORS_PER_PAGE: u64 = (PAGE_SIZE / SECTOR_SIZE) as u64;

/// A device the engine addresses, numbered by the platform in the order it was given them
/// (for flashcache: 0 = SSD, 1 = HDD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceId(pub u16);

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dev{}", self.0)
    }
}

/// What a block IO does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Read,
    Write,
    /// Make every completed write durable (REQ_PREFLUSH with no data).
    Flush,
    /// The range's content is no longer needed.
    Discard,
}

impl Op {
    /// True for operations that carry data from memory to the device.
    pub fn is_write(self) -> bool {
        matches!(self, Op::Write)
    }
}

/// A contiguous run of sectors on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Extent {
    pub sector: u64,
    pub sectors: u64,
}

impl Extent {
    pub fn new(sector: u64, sectors: u64) -> Self {
        Extent { sector, sectors }
    }
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.sector + self.sectors
    }
    pub fn overlaps(&self, other: &Extent) -> bool {
        self.sector < other.end() && other.sector < self.end()
    }
    pub fn contains(&self, sector: u64) -> bool {
        sector >= self.sector && sector < self.end()
    }
}

/// How an IO ended, as the kernel's `blk_status_t` reports it (the subset dmsim models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoStatus {
    Ok,
    /// -EIO: the device failed the IO.
    IoError,
    /// -EOPNOTSUPP: the device or target does not support the operation.
    NotSupported,
    /// The IO was cancelled before the device carried it out.
    Cancelled,
    /// A timed IO whose deadline passed (timed dm_io only).
    TimedOut,
}

impl IoStatus {
    pub fn is_ok(self) -> bool {
        self == IoStatus::Ok
    }
    /// Severity used when several pieces of one bio end differently: the worst wins.
    pub fn severity(self) -> u8 {
        match self {
            IoStatus::Ok => 0,
            IoStatus::Cancelled => 1,
            IoStatus::TimedOut => 2,
            IoStatus::NotSupported => 3,
            IoStatus::IoError => 4,
        }
    }
    /// The worse of two statuses.
    pub fn worst(self, other: IoStatus) -> IoStatus {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// What the engine knows of a device it addresses: its size and queue limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub capacity_sectors: u64,
    /// Bytes; a power of two from 512 to 4096. Device IO is aligned to it.
    pub logical_block_size: u32,
    /// Largest device IO in sectors (the queue's `max_sectors`); a multiple of the logical
    /// block size.
    pub max_sectors: u32,
    /// Largest discard in sectors; 0 = the device does not support discard.
    pub max_discard_sectors: u32,
    /// The device has a volatile write cache (the kernel's queue flag `write_cache`): a
    /// write is durable only once flushed, or written with FUA. Where it has none, the
    /// block layer drops a bio's PREFLUSH and FUA (Linux's blk-flush).
    #[serde(default)]
    pub volatile_write_cache: bool,
}

impl DeviceInfo {
    /// Default `max_sectors`: 512 KiB, the `max_sectors_kb` of the kernels flashcache targeted.
    pub const DEFAULT_MAX_SECTORS: u32 = 1024;

    /// A device of `capacity_sectors` with default limits, no discard support and no
    /// volatile write cache.
    pub fn new(capacity_sectors: u64, logical_block_size: u32) -> DeviceInfo {
        DeviceInfo {
            capacity_sectors,
            logical_block_size,
            max_sectors: Self::DEFAULT_MAX_SECTORS,
            max_discard_sectors: 0,
            volatile_write_cache: false,
        }
    }

    /// Sectors per logical block.
    pub fn block_sectors(&self) -> u64 {
        u64::from(self.logical_block_size / SECTOR_SIZE as u32).max(1)
    }

    /// Why this description is unusable, if it is.
    pub fn validate(&self) -> Result<(), String> {
        let lbs = self.logical_block_size;
        if !(512..=4096).contains(&lbs) || !lbs.is_power_of_two() {
            return Err(format!(
                "logical_block_size {lbs} is not a power of two in 512..=4096"
            ));
        }
        if self.capacity_sectors == 0 || !self.capacity_sectors.is_multiple_of(self.block_sectors())
        {
            return Err(format!(
                "capacity_sectors {} is zero or not a multiple of the logical block",
                self.capacity_sectors
            ));
        }
        if self.max_sectors == 0
            || !u64::from(self.max_sectors).is_multiple_of(self.block_sectors())
        {
            return Err(format!(
                "max_sectors {} is zero or not a multiple of the logical block",
                self.max_sectors
            ));
        }
        if !u64::from(self.max_discard_sectors).is_multiple_of(self.block_sectors()) {
            return Err(format!(
                "max_discard_sectors {} is not a multiple of the logical block",
                self.max_discard_sectors
            ));
        }
        Ok(())
    }

    /// True if `extent` lies within the device and is aligned to its logical block.
    pub fn admits(&self, extent: Extent) -> bool {
        let block = self.block_sectors();
        extent.sector.is_multiple_of(block)
            && extent.sectors.is_multiple_of(block)
            && extent
                .sector
                .checked_add(extent.sectors)
                .is_some_and(|end| end <= self.capacity_sectors)
    }
}

/// Extents that never overlap each other (writes in flight on one device, or at one volume),
/// each with a key, answering "does this range overlap one of them?" in O(log n): since they
/// are disjoint, only the last one starting before a range's end can overlap it.
#[derive(Debug, Clone)]
pub struct DisjointExtents<K> {
    /// start → (end, key)
    by_start: std::collections::BTreeMap<u64, (u64, K)>,
}

impl<K> Default for DisjointExtents<K> {
    fn default() -> Self {
        DisjointExtents {
            by_start: std::collections::BTreeMap::new(),
        }
    }
}

impl<K: Copy> DisjointExtents<K> {
    /// The key of an extent overlapping `extent`, if any.
    pub fn overlapping(&self, extent: Extent) -> Option<K> {
        let (_, &(end, key)) = self.by_start.range(..extent.end()).next_back()?;
        (end > extent.sector).then_some(key)
    }

    /// Add `extent` (non-empty, overlapping none already held).
    pub fn insert(&mut self, extent: Extent, key: K) {
        assert!(extent.sectors > 0, "an empty extent overlaps nothing");
        assert!(
            self.overlapping(extent).is_none(),
            "{extent:?} overlaps an extent already held"
        );
        self.by_start.insert(extent.sector, (extent.end(), key));
    }

    /// Remove the extent starting at `sector`; its key.
    pub fn remove(&mut self, sector: u64) -> Option<K> {
        self.by_start.remove(&sector).map(|(_, key)| key)
    }

    pub fn len(&self) -> usize {
        self.by_start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    pub fn clear(&mut self) {
        self.by_start.clear();
    }
}

#[cfg(test)]
mod disjoint_extents_tests {
    use super::*;

    #[test]
    fn overlap_queries_see_only_real_overlaps() {
        let mut set = DisjointExtents::default();
        set.insert(Extent::new(8, 8), 'a');
        set.insert(Extent::new(32, 8), 'b');
        assert_eq!(set.overlapping(Extent::new(0, 8)), None, "adjacent below");
        assert_eq!(
            set.overlapping(Extent::new(16, 16)),
            None,
            "the gap between"
        );
        assert_eq!(set.overlapping(Extent::new(15, 1)), Some('a'));
        assert_eq!(set.overlapping(Extent::new(0, 100)), Some('b'));
        assert_eq!(set.remove(8), Some('a'));
        assert_eq!(set.overlapping(Extent::new(15, 1)), None);
        assert_eq!(set.len(), 1);
    }
}

/// The pieces of one split: `(offset into the bio, length)` in sectors. Inline for the common
/// few, so splitting a bio costs no allocation (issue 11).
pub type BoundaryPieces = SmallVec<[(u64, u64); 4]>;

/// Cuts `sectors` sectors at `sector` into pieces that never cross a multiple of `boundary`
/// (dm's `max_io_len` splitting); returns `(offset into the bio, length)` per piece.
pub fn split_at_boundaries(sector: u64, sectors: u64, boundary: Option<u64>) -> BoundaryPieces {
    let mut pieces = BoundaryPieces::new();
    let mut done = 0;
    while done < sectors {
        let mut len = sectors - done;
        if let Some(boundary) = boundary {
            assert!(boundary > 0, "a zero max_io_len");
            len = len.min(boundary - (sector + done) % boundary);
        }
        pieces.push((done, len));
        done += len;
    }
    pieces
}

#[cfg(test)]
mod split_tests {
    use super::split_at_boundaries;

    #[test]
    fn pieces_stop_at_every_boundary() {
        // 8-sector blocks (flashcache's split_io): a 20-sector bio at sector 5.
        assert_eq!(
            split_at_boundaries(5, 20, Some(8)).as_slice(),
            [(0, 3), (3, 8), (11, 8), (19, 1)]
        );
        assert_eq!(split_at_boundaries(16, 8, Some(8)).as_slice(), [(0, 8)]);
        assert_eq!(split_at_boundaries(5, 20, None).as_slice(), [(0, 20)]);
        assert!(split_at_boundaries(5, 0, Some(8)).is_empty());
    }
}
