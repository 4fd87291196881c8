//! The extent of a raid5 resync against its write-intent bitmap: md sets a bitmap chunk's
//! bit before any write to the stripe rows the chunk covers, and a resync after a dirty
//! assembly walks only chunks whose bit is set. So the stripes a resync did are at most
//! those of the bitmap chunks the run's writes touched. Bits outlive power losses (they are
//! on the members), so every write bio since the run began counts, refused or not: a
//! superset of what the array set.
//!
//! Deliberately not here: which of those chunks a resync must do (its lower bound is the
//! data oracle's business: stale parity shows as wrong data after a member fails).

use crate::spec::{raid5_geometry, SeedSpec, TargetChoice};
use dmsim_engine::raid5::{Geometry, Raid5Stats, STRIPE_SECTORS};
use std::collections::BTreeSet;

/// The bitmap chunks a raid5 volume's writes touched (md raid5 alone, with a bitmap).
#[derive(Debug, Clone)]
pub struct ResyncBound {
    geometry: Geometry,
    bitmap_chunk_sectors: u64,
    touched_chunks: BTreeSet<u64>,
    /// Stripes the explorer's own check or repair passes compared or skipped (see
    /// [`crate::scrub`]): not a resync's.
    scrubbed_stripes: u64,
}

impl ResyncBound {
    /// The bound for `spec`'s volume, if it is a raid5 array with a bitmap.
    pub fn new(spec: &SeedSpec) -> Option<ResyncBound> {
        let TargetChoice::Raid5(config) = &spec.target else {
            return None;
        };
        Some(ResyncBound {
            geometry: raid5_geometry(config, spec.member_devices())?,
            bitmap_chunk_sectors: config.bitmap_chunk_sectors?,
            touched_chunks: BTreeSet::new(),
            scrubbed_stripes: 0,
        })
    }

    /// A write bio of `sectors` at array sector `sector`: every member sector of the stripe
    /// rows it touches may get its chunk's bit.
    pub fn on_write(&mut self, sector: u64, sectors: u64) {
        if sectors == 0 || sector + sectors > self.geometry.array_sectors() {
            return; // refused by the array: no bit
        }
        let chunk = self.geometry.chunk_sectors();
        let row_sectors = chunk * self.geometry.data_members() as u64;
        for row in sector / row_sectors..=(sector + sectors - 1) / row_sectors {
            let first = row * chunk / self.bitmap_chunk_sectors;
            let last = ((row + 1) * chunk - 1) / self.bitmap_chunk_sectors;
            self.touched_chunks.extend(first..=last);
        }
    }

    /// Stripes in the touched chunks.
    pub fn stripes_max(&self) -> u64 {
        let member_sectors = self.geometry.member_sectors();
        self.touched_chunks
            .iter()
            .map(|&chunk| {
                let start = chunk * self.bitmap_chunk_sectors;
                let end = (start + self.bitmap_chunk_sectors).min(member_sectors);
                end.saturating_sub(start).div_ceil(STRIPE_SECTORS)
            })
            .sum()
    }

    /// A check or repair pass the explorer started walked `stripes` stripes.
    pub fn on_scrub(&mut self, stripes: u64) {
        self.scrubbed_stripes += stripes;
    }

    /// Every stripe a sync pass compared or skipped, but for the explorer's own check and
    /// repair passes, was a resync's.
    pub fn check(&self, stats: &Raid5Stats) -> Result<(), String> {
        let resynced = stats.sync_stripes + stats.sync_stripes_skipped - self.scrubbed_stripes;
        let bound = self.stripes_max();
        if resynced > bound {
            return Err(format!(
                "raid5 resync did {resynced} stripes, but the writes touched only {} bitmap \
                 chunks of {} sectors ({bound} stripes)",
                self.touched_chunks.len(),
                self.bitmap_chunk_sectors
            ));
        }
        Ok(())
    }
}
