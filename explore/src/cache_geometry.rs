//! flashcache's geometry beyond the defaults (issue 9: swarm over the target's
//! configuration). The other draws give every cache 4 KiB blocks over the whole SSD, 4 KiB
//! metadata blocks, the legacy set mapping and a read cache: whole engine paths (hashed
//! placement by `disk_assoc`, write-only caches, metadata blocks of one sector to 8 KiB,
//! blocks larger than a page, a cache smaller than its SSD) ran in unit tests only.
//!
//! One seed in three of those with flashcache changes some of the table line's geometry
//! arguments, each within flashcache's rules (spec 1.2), so the constructor accepts the line;
//! the SSD grows to hold the cache it then asks for. Its own stream: the seeds' other
//! dimensions stay as they were.

use crate::spec::{SeedSpec, SSD_SLACK_SECTORS};
use dmsim_engine::flashcache::config::{DEFAULT_BLOCK_SIZE_SECTORS, MD_SLOT_BYTES};
use dmsim_engine::flashcache::{Associativity, CacheMode};
use dmsim_engine::services::kcopyd::KcopydPages;
use dmsim_sim::streams::stream;
use rand::Rng;

/// The block size every other draw leaves (flashcache's default, 4 KiB).
const DEFAULT_BLOCK_SECTORS: u64 = DEFAULT_BLOCK_SIZE_SECTORS as u64;

/// Draws `spec`'s geometry; a no-op without flashcache. Call after every other draw that
/// sizes the SSD or reads the table line.
pub(crate) fn draw(spec: &mut SeedSpec) {
    let mut rng = stream(spec.seed, "explore.spec.cache_geometry");
    if spec.target.flashcache().is_none() || !rng.random_ratio(1, 3) {
        return;
    }
    // A kcopyd pool or an arena sized for 4 KiB blocks might not clean a larger one.
    let block_sectors_max = match spec.kcopyd.config().pages {
        _ if spec.arena_pages.is_some() => DEFAULT_BLOCK_SECTORS,
        KcopydPages::Pool { pages } => u64::from(pages) * 8,
        KcopydPages::Reserve { .. } => u64::MAX,
    };
    let ssd_logical_sectors = u64::from(spec.devices[0].logical_block_size / 512);
    let ssd_sectors = spec.devices[0].ram.capacity_sectors;
    let cache_blocks = (ssd_sectors - SSD_SLACK_SECTORS) / DEFAULT_BLOCK_SECTORS;
    let config = spec.target.flashcache_mut().expect("checked above");
    let table = &mut config.table;
    assert_eq!(
        (
            table.block_size_sectors,
            table.cache_size_sectors,
            table.disk_assoc_sectors
        ),
        (0, 0, 0),
        "the other draws keep flashcache's default geometry"
    );
    let assoc = match table.assoc {
        Associativity::Ways(0) => 512,
        Associativity::Ways(ways) => u64::from(ways),
        Associativity::Full => return,
    };
    let block_sectors = match [8u64, 8, 16, 32][rng.random_range(0..4)] {
        sectors if sectors <= block_sectors_max => sectors,
        _ => DEFAULT_BLOCK_SECTORS,
    };
    if block_sectors != DEFAULT_BLOCK_SECTORS || rng.random_bool(0.5) {
        table.block_size_sectors = block_sectors as u32;
    }
    let write_back = table.mode == CacheMode::WriteBack;
    if write_back {
        // Powers of two whose slots fit one set and that cover an SSD sector.
        let choices: Vec<u64> = [1u64, 2, 4, 8, 16]
            .into_iter()
            .filter(|&sectors| sectors * 512 / u64::from(MD_SLOT_BYTES) <= assoc)
            .filter(|&sectors| sectors >= ssd_logical_sectors)
            .collect();
        if !choices.is_empty() && rng.random_bool(0.5) {
            table.md_block_size_sectors = choices[rng.random_range(0..choices.len())] as u32;
        }
        table.write_only = rng.random_ratio(1, 4);
    }
    if rng.random_ratio(1, 3) {
        // Intended rule (Decision 4): disk_assoc <= assoc << block_shift, 256..=2048.
        let limit = assoc << block_sectors.trailing_zeros();
        let choices: Vec<u64> = [256u64, 512, 1024, 2048]
            .into_iter()
            .filter(|&sectors| sectors <= limit)
            .collect();
        table.disk_assoc_sectors = choices[rng.random_range(0..choices.len())] as u32;
    }
    // The SSD holds as many blocks as before, of the new size, and the metadata with room.
    let md_sectors = (cache_blocks * u64::from(MD_SLOT_BYTES)).div_ceil(512) * 2;
    let needed_sectors = (cache_blocks * block_sectors + SSD_SLACK_SECTORS + md_sectors)
        .next_multiple_of(ssd_logical_sectors);
    if rng.random_ratio(1, 4) {
        // A cache smaller than its SSD: flashcache uses the first `cache_size` sectors.
        table.cache_size_sectors = needed_sectors;
        let spare = rng.random_range(1..=2 * assoc * block_sectors) * ssd_logical_sectors;
        spec.devices[0].ram.capacity_sectors = needed_sectors + spare;
    } else {
        spec.devices[0].ram.capacity_sectors = needed_sectors;
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{Profile, SeedSpec};
    use dmsim_engine::flashcache::{CacheDeviceSizes, CacheMode};
    use std::collections::BTreeSet;

    /// Every geometry drawn is one flashcache's constructor takes, and each argument takes
    /// each value it may within a few hundred seeds.
    #[test]
    fn drawn_geometries_are_valid_and_reach_every_argument() {
        let mut seen = BTreeSet::new();
        for seed in 0..400 {
            let spec = SeedSpec::draw(seed, Profile::Flashcache);
            let config = spec.target.flashcache().expect("flashcache profile");
            let table = &config.table;
            let devices = CacheDeviceSizes {
                ssd_sectors: spec.devices[0].ram.capacity_sectors,
                disk_sectors: spec.devices[1].ram.capacity_sectors,
                ssd_logical_block_bytes: spec.devices[0].logical_block_size,
            };
            table
                .validate(&devices, &config.options)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}: {table:?}"));
            spec.validate()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(!table.write_only || table.mode == CacheMode::WriteBack);
            seen.insert(format!("block {}", table.block_size_sectors));
            seen.insert(format!("md {}", table.md_block_size_sectors));
            seen.insert(format!("disk_assoc {}", table.disk_assoc_sectors));
            seen.insert(format!("write_only {}", table.write_only));
            seen.insert(format!("sized {}", table.cache_size_sectors > 0));
        }
        for expected in [
            "block 8",
            "block 16",
            "block 32",
            "md 1",
            "md 2",
            "md 4",
            "md 8",
            "md 16",
            "disk_assoc 256",
            "disk_assoc 512",
            "disk_assoc 1024",
            "disk_assoc 2048",
            "write_only true",
            "sized true",
        ] {
            assert!(seen.contains(expected), "{expected} never drawn: {seen:?}");
        }
    }
}
