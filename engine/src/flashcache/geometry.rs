//! Cache geometry: sizing, set mapping and where things live on the SSD (spec 1.3, 1.4).
//!
//! Owns: the iterative writeback sizing (metadata carved out of the SSD), the two set
//! mappings (`hash_block`: legacy round-robin of assoc-sized chunks, or lookup3 placement of
//! disk_assoc extents), the per-set hash bucket choice, and the address arithmetic between
//! block indices, data sectors and metadata blocks. Does not own the byte layout of metadata
//! (see [`super::layout`]) nor any per-block state.

use super::config::{
    Associativity, CacheDeviceSizes, CacheMode, ConfigError, TableLine, MD_SLOT_BYTES,
};
use super::jhash::jhash_1word;
use serde::{Deserialize, Serialize};

/// Per-set hash buckets of flashcache (`NUM_BLOCK_HASH_BUCKETS`).
pub const HASH_BUCKETS_PER_SET: u32 = 512;
/// Seed of the disk_assoc placement hash.
pub const SET_HASH_SEED: u32 = 0xbeef;
/// Seed of the per-set bucket hash.
pub const BUCKET_HASH_SEED: u32 = 0xfeed;
/// First on-SSD version with disk_assoc placement and hash-based invalidation.
pub const FIRST_HASHED_VERSION: u32 = 3;

/// The independent inputs of a [`Geometry`] (the rest is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeometryParts {
    pub block_size_sectors: u32,
    pub assoc: u32,
    pub size_blocks: u32,
    pub disk_assoc_sectors: u32,
    pub on_ssd_version: u32,
    pub md_block_size_sectors: u32,
    pub md_blocks: u32,
    pub fully_associative: bool,
}

/// The fixed shape of one cache. Every field is decided at create/load and never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    pub block_size_sectors: u32,
    pub block_shift: u32,
    /// Blocks per set (for a fully associative cache: all of them).
    pub assoc: u32,
    pub num_sets: u32,
    /// Cache size in blocks: `assoc * num_sets`.
    pub size_blocks: u32,
    /// Disk associativity in sectors; 0 = legacy mapping.
    pub disk_assoc_sectors: u32,
    /// The on-SSD format version the mapping follows (0 for writethrough/writearound).
    pub on_ssd_version: u32,
    pub md_block_size_sectors: u32,
    /// Metadata blocks including the superblock and the spare (0 without persistence).
    pub md_blocks: u32,
    /// Hash buckets per set: 512 as flashcache, more for a fully associative cache so that
    /// lookups stay O(1).
    pub hash_buckets_per_set: u32,
}

impl Geometry {
    /// Assemble a geometry from its independent parts, checking their consistency.
    pub fn new(parts: GeometryParts) -> Geometry {
        let GeometryParts {
            block_size_sectors,
            assoc,
            size_blocks,
            disk_assoc_sectors,
            on_ssd_version,
            md_block_size_sectors,
            md_blocks,
            fully_associative,
        } = parts;
        assert!(
            block_size_sectors.is_power_of_two(),
            "block size must be a power of two"
        );
        assert!(assoc > 0 && size_blocks > 0, "empty cache");
        assert_eq!(
            size_blocks % assoc,
            0,
            "size must be a whole number of sets"
        );
        assert!(
            disk_assoc_sectors == 0 || disk_assoc_sectors.is_power_of_two(),
            "disk_assoc must be a power of two"
        );
        assert!(
            md_block_size_sectors.is_power_of_two(),
            "md block size must be a power of two"
        );
        let hash_buckets_per_set = if fully_associative {
            HASH_BUCKETS_PER_SET.max(assoc.next_power_of_two())
        } else {
            HASH_BUCKETS_PER_SET
        };
        // `bucket_of` masks instead of dividing (it runs on every lookup).
        assert!(hash_buckets_per_set.is_power_of_two());
        Geometry {
            block_size_sectors,
            block_shift: block_size_sectors.trailing_zeros(),
            assoc,
            num_sets: size_blocks / assoc,
            size_blocks,
            disk_assoc_sectors,
            on_ssd_version,
            md_block_size_sectors,
            md_blocks,
            hash_buckets_per_set,
        }
    }

    /// Size a new cache from a (validated) table line, as `flashcache_writeback_create` or
    /// `flashcache_writethrough_create` do.
    pub fn for_new_cache(
        table: &TableLine,
        devices: &CacheDeviceSizes,
    ) -> Result<Geometry, ConfigError> {
        let block_size = u64::from(table.effective_block_size_sectors());
        let md_block_size = u64::from(table.effective_md_block_size_sectors());
        let slots = md_block_size * 512 / u64::from(MD_SLOT_BYTES);
        let requested_sectors = if table.cache_size_sectors == 0 {
            devices.ssd_sectors
        } else {
            table.cache_size_sectors
        };
        let round_to_sets = |blocks: u64| -> u64 {
            match table.assoc {
                Associativity::Full => blocks,
                Associativity::Ways(0) => blocks / 512 * 512,
                Associativity::Ways(ways) => blocks / u64::from(ways) * u64::from(ways),
            }
        };
        let writeback = table.mode == CacheMode::WriteBack;
        let (size_blocks, md_blocks, needed_sectors) = if writeback {
            // First estimate from the raw size, carve the metadata out, round down to whole
            // sets, then recompute the metadata for the final size.
            let first_md_blocks = requested_sectors / block_size / slots + 2;
            let available = requested_sectors.checked_sub(first_md_blocks * md_block_size);
            let Some(available) = available else {
                return Err(ConfigError::CacheSizeExceedsDevice {
                    needed_sectors: first_md_blocks * md_block_size,
                    ssd_sectors: devices.ssd_sectors,
                });
            };
            let size_blocks = round_to_sets(available / block_size);
            let md_blocks = size_blocks / slots + 2;
            (
                size_blocks,
                md_blocks,
                md_blocks * md_block_size + size_blocks * block_size,
            )
        } else {
            let size_blocks = round_to_sets(requested_sectors / block_size);
            (size_blocks, 0, size_blocks * block_size)
        };
        if needed_sectors > devices.ssd_sectors {
            return Err(ConfigError::CacheSizeExceedsDevice {
                needed_sectors,
                ssd_sectors: devices.ssd_sectors,
            });
        }
        let assoc = match table.assoc {
            Associativity::Full => size_blocks,
            Associativity::Ways(0) => 512,
            Associativity::Ways(ways) => u64::from(ways),
        };
        if size_blocks == 0 || size_blocks < assoc {
            return Err(ConfigError::CacheTooSmall { size_blocks, assoc });
        }
        // Block indices are u32 with u32::MAX reserved as "none".
        if size_blocks >= u64::from(u32::MAX) || md_blocks >= u64::from(u32::MAX) {
            return Err(ConfigError::CacheTooLarge { size_blocks });
        }
        let on_ssd_version = if writeback {
            super::layout::FLASHCACHE_VERSION
        } else {
            0
        };
        Ok(Geometry::new(GeometryParts {
            block_size_sectors: block_size as u32,
            assoc: assoc as u32,
            size_blocks: size_blocks as u32,
            disk_assoc_sectors: table.disk_assoc_sectors,
            on_ssd_version,
            md_block_size_sectors: md_block_size as u32,
            md_blocks: md_blocks as u32,
            fully_associative: table.assoc == Associativity::Full,
        }))
    }

    /// True when sets are chosen by the legacy round-robin mapping (and invalidation scans).
    #[inline]
    pub fn uses_legacy_mapping(&self) -> bool {
        self.on_ssd_version < FIRST_HASHED_VERSION || self.disk_assoc_sectors == 0
    }

    /// True when invalidation scans sets instead of using the per-set hash (version < 3).
    #[inline]
    pub fn uses_legacy_invalidation(&self) -> bool {
        self.on_ssd_version < FIRST_HASHED_VERSION
    }

    /// flashcache's `hash_block`: the set a disk sector's block belongs to.
    #[inline]
    pub fn set_of(&self, dbn: u64) -> u32 {
        if self.num_sets == 1 {
            // Fully associative: the modulo below is 0, without its 64-bit division.
            return 0;
        }
        let value = if self.uses_legacy_mapping() {
            // Consecutive assoc-block chunks go to consecutive sets.
            (dbn >> self.block_shift) / u64::from(self.assoc)
        } else {
            let extent = (dbn >> self.disk_assoc_sectors.trailing_zeros()) as u32;
            u64::from(jhash_1word(extent, SET_HASH_SEED))
        };
        (value % u64::from(self.num_sets)) as u32
    }

    /// The per-set hash bucket of a disk block number (low 32 bits hashed, as flashcache).
    #[inline]
    pub fn bucket_of(&self, dbn: u64) -> u32 {
        // A power of two (asserted in `new`): the mask is flashcache's modulo.
        jhash_1word(dbn as u32, BUCKET_HASH_SEED) & (self.hash_buckets_per_set - 1)
    }

    /// Index of the first block of `set`.
    #[inline]
    pub fn set_start(&self, set: u32) -> u32 {
        set * self.assoc
    }

    /// The set holding block `index`.
    #[inline]
    pub fn set_of_index(&self, index: u32) -> u32 {
        debug_assert!(
            index < self.size_blocks,
            "block {index} of {}",
            self.size_blocks
        );
        if self.num_sets == 1 {
            // Fully associative: every index is below assoc; no division.
            return 0;
        }
        index / self.assoc
    }

    /// First SSD sector of cache data (after the metadata).
    #[inline]
    pub fn data_start_sector(&self) -> u64 {
        u64::from(self.md_blocks) * u64::from(self.md_block_size_sectors)
    }

    /// SSD sector of cache block `index` (`INDEX_TO_CACHE_ADDR`).
    #[inline]
    pub fn data_sector(&self, index: u32) -> u64 {
        (u64::from(index) << self.block_shift) + self.data_start_sector()
    }

    /// Disk sector of the start of the block containing `sector`.
    #[inline]
    pub fn block_start(&self, sector: u64) -> u64 {
        sector & !(u64::from(self.block_size_sectors) - 1)
    }

    /// Metadata slots per metadata block.
    #[inline]
    pub fn slots_per_md_block(&self) -> u32 {
        self.md_block_size_sectors * 512 / MD_SLOT_BYTES
    }

    /// Which slot-holding metadata block (0-based, superblock excluded) covers `index`.
    #[inline]
    pub fn md_block_of(&self, index: u32) -> u32 {
        index / self.slots_per_md_block()
    }

    /// SSD sector of slot-holding metadata block `md_block`.
    #[inline]
    pub fn md_block_sector(&self, md_block: u32) -> u64 {
        (1 + u64::from(md_block)) * u64::from(self.md_block_size_sectors)
    }

    /// Metadata blocks that actually hold slots (`ceil(size / slots)`), which is what
    /// create/load/store read and write.
    #[inline]
    pub fn slot_md_blocks(&self) -> u32 {
        self.size_blocks.div_ceil(self.slots_per_md_block())
    }

    /// Metadata block heads in memory (`md_blocks - 1`, as flashcache allocates).
    #[inline]
    pub fn md_block_heads(&self) -> u32 {
        self.md_blocks.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashcache::config::{Associativity, Persistence};

    fn one_gib_ssd() -> CacheDeviceSizes {
        CacheDeviceSizes {
            ssd_sectors: 2_097_152,
            disk_sectors: 1 << 30,
            ssd_logical_block_bytes: 512,
        }
    }

    /// Spec 1.4's example: 1 GiB SSD with defaults.
    #[test]
    fn sizing_example_of_the_spec() {
        let table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        assert_eq!(geometry.size_blocks, 260_608);
        assert_eq!(geometry.num_sets, 509);
        assert_eq!(geometry.md_blocks, 1020);
        assert_eq!(geometry.data_start_sector(), 8160);
        assert_eq!(geometry.data_sector(0), 8160);
        assert_eq!(geometry.data_sector(1), 8168);
        assert_eq!(geometry.slots_per_md_block(), 256);
        assert_eq!(geometry.slot_md_blocks(), 1018);
        assert_eq!(geometry.md_block_heads(), 1019);
        assert_eq!(geometry.on_ssd_version, 4);
        // Block 257's slot lives in md block 1, i.e. SSD sector (1 + 1) * 8.
        assert_eq!(geometry.md_block_of(257), 1);
        assert_eq!(geometry.md_block_sector(1), 16);
        // Everything fits on the SSD.
        assert!(geometry.data_sector(geometry.size_blocks - 1) + 8 <= 2_097_152);
    }

    #[test]
    fn writethrough_has_no_metadata_and_starts_at_sector_zero() {
        let table = TableLine::new(CacheMode::WriteThrough, Persistence::Create, 1 << 30);
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        assert_eq!(geometry.size_blocks, 262_144);
        assert_eq!(geometry.md_blocks, 0);
        assert_eq!(geometry.data_sector(0), 0);
        assert_eq!(geometry.on_ssd_version, 0);
        assert!(geometry.uses_legacy_mapping());
    }

    #[test]
    fn oversized_request_is_refused() {
        let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        table.cache_size_sectors = 4_000_000;
        assert!(matches!(
            Geometry::for_new_cache(&table, &one_gib_ssd()),
            Err(ConfigError::CacheSizeExceedsDevice { .. })
        ));
        table.cache_size_sectors = 100;
        assert!(matches!(
            Geometry::for_new_cache(&table, &one_gib_ssd()),
            Err(ConfigError::CacheTooSmall { .. })
        ));
    }

    #[test]
    fn legacy_mapping_is_round_robin_over_assoc_chunks() {
        let table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        // 512 blocks of 8 sectors = 4096 sectors (2 MiB) per set.
        assert_eq!(geometry.set_of(0), 0);
        assert_eq!(geometry.set_of(4095), 0);
        assert_eq!(geometry.set_of(4096), 1);
        assert_eq!(geometry.set_of(4096 * 508), 508);
        assert_eq!(geometry.set_of(4096 * 509), 0);
    }

    #[test]
    fn disk_assoc_mapping_places_extents_by_lookup3() {
        let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        table.disk_assoc_sectors = 512;
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        assert!(!geometry.uses_legacy_mapping());
        // Every sector of one 256 KiB extent goes to the same set ...
        let set = geometry.set_of(512 * 7);
        for sector in (512 * 7..512 * 8).step_by(8) {
            assert_eq!(geometry.set_of(sector), set);
        }
        // ... namely jhash_1word(extent, 0xbeef) mod num_sets (pinned by jhash's vectors).
        assert_eq!(geometry.set_of(0), 0x7794_1597 % 509);
        assert_eq!(geometry.set_of(512), 0x4231_a816 % 509);
    }

    #[test]
    fn buckets_hash_the_low_word_of_the_dbn() {
        let table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        assert_eq!(geometry.bucket_of(0), 0xe87e_dea7 % 512);
        assert_eq!(geometry.bucket_of(8), 0x30d4_d30f % 512);
        assert_eq!(geometry.bucket_of(8 + (1 << 32)), geometry.bucket_of(8));
    }

    #[test]
    fn full_associativity_is_one_set_with_more_buckets() {
        let mut table = TableLine::new(CacheMode::WriteBack, Persistence::Create, 1 << 30);
        table.assoc = Associativity::Full;
        let geometry = Geometry::for_new_cache(&table, &one_gib_ssd()).expect("fits");
        assert_eq!(geometry.num_sets, 1);
        assert_eq!(geometry.assoc, geometry.size_blocks);
        assert!(geometry.size_blocks > 8192);
        assert!(geometry.hash_buckets_per_set >= geometry.size_blocks);
        assert_eq!(geometry.set_of(123_456_789), 0);
    }
}
