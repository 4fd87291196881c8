//! Latent sector errors of one device: sectors whose reads fail with EIO until a write
//! covers them (a real drive remaps a bad sector when it is rewritten).
//!
//! Kept as a set of sectors: faults mark a logical block or a small range at a time, so the
//! set stays small, and a range query is one ordered-set lookup.

use dmsim_engine::block::Extent;
use std::collections::BTreeSet;

/// See the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatentSectors {
    bad: BTreeSet<u64>,
}

impl LatentSectors {
    /// Sectors of `extent` become unreadable.
    pub fn mark(&mut self, extent: Extent) {
        self.bad.extend(extent.sector..extent.end());
    }

    /// True if a read of `extent` hits an unreadable sector.
    pub fn overlaps(&self, extent: Extent) -> bool {
        self.bad.range(extent.sector..extent.end()).next().is_some()
    }

    /// A write covered `extent`: its sectors are readable again. Returns how many were bad.
    pub fn repair(&mut self, extent: Extent) -> u64 {
        if self.bad.is_empty() {
            return 0;
        }
        let repaired: Vec<u64> = self
            .bad
            .range(extent.sector..extent.end())
            .copied()
            .collect();
        for sector in &repaired {
            self.bad.remove(sector);
        }
        repaired.len() as u64
    }

    /// Unreadable sectors.
    pub fn len(&self) -> u64 {
        self.bad.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bad.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_sectors_fail_overlapping_reads_until_rewritten() {
        let mut latent = LatentSectors::default();
        latent.mark(Extent::new(16, 8));
        assert!(latent.overlaps(Extent::new(0, 17)));
        assert!(!latent.overlaps(Extent::new(0, 16)));
        assert!(!latent.overlaps(Extent::new(24, 8)));
        assert_eq!(latent.repair(Extent::new(20, 100)), 4, "a partial rewrite");
        assert!(latent.overlaps(Extent::new(16, 4)));
        assert!(!latent.overlaps(Extent::new(20, 4)));
        assert_eq!(latent.repair(Extent::new(0, 20)), 4);
        assert!(latent.is_empty());
    }
}
