//! Spare space, slips and defect remapping within one zone: which physical location holds
//! the zone's `i`-th logical position, and back.
//!
//! Every DiskSim sparing scheme reduces to one shape. The zone's physical space is cut into
//! *units* (whole tracks under track sparing, sectors otherwise) and the units into equal
//! *groups* (a track, a cylinder, a range of cylinders or the whole zone) that each keep
//! `spare` units at their front or end; a trailing partial group keeps none. Slips are
//! physical units holding no data: *local* schemes skip them inside their group, using up
//! the group's spares; *slip-to-end* schemes skip them in the zone's sequence of data
//! units, pushing every later position on. Defect remaps then move single units to spares.
//!
//! Owns that arithmetic only; cylinders, heads and angles are the layout's (`super`).

use crate::hdd::params::{DefectRemap, Sparing};

/// Result of a failed consistency check: which field, and why.
pub(super) type Invalid = (&'static str, String);

/// A relocated stretch of the zone's LBNs (relative to the zone's first LBN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Remap {
    /// First relocated zone-relative LBN.
    pub lbn: u64,
    /// LBNs relocated together (a whole track under track sparing, else 1).
    pub len: u64,
    /// Physical sector (in the zone) where `lbn` now lives.
    pub target_sector: u64,
}

/// Physical layout of a zone's data positions.
#[derive(Debug, Clone)]
pub(super) struct SpareMap {
    /// Sectors per unit.
    unit: u64,
    /// Units per group.
    group: u64,
    /// Spare units per complete group.
    spare: u64,
    /// Spares sit at the front of each group (else at its end).
    front: bool,
    /// Slips push later data to the zone's end instead of using their group's spares.
    slip_to_end: bool,
    /// Complete groups in the zone.
    full_groups: u64,
    /// Units in the trailing partial group (no spares).
    tail: u64,
    /// Slipped physical units, ascending.
    slips: Vec<u64>,
    /// Slip-to-end only: the slips as indices into the sequence of data units, ascending.
    slip_data: Vec<u64>,
    /// Relocated LBN stretches, ascending and disjoint.
    remaps: Vec<Remap>,
}

/// Smallest `k` with `k == #{s in sorted: s <= base + k}`: how many entries of `sorted`
/// lie at or before position `base` once those entries are skipped.
fn skipped_before(sorted: &[u64], base: u64) -> u64 {
    let mut k = 0u64;
    loop {
        let n = sorted.partition_point(|&s| s <= base + k) as u64;
        if n == k {
            return k;
        }
        k = n;
    }
}

impl SpareMap {
    /// The map of a zone of `tracks` tracks (`surfaces` per cylinder) of `spt` sectors.
    pub fn new(
        sparing: Sparing,
        tracks: u64,
        surfaces: u64,
        spt: u64,
        spares: u64,
        slips: &[u64],
        defects: &[DefectRemap],
    ) -> Result<SpareMap, Invalid> {
        let cylinder = surfaces * spt;
        let zone_sectors = tracks * spt;
        // (unit, group, spare, front, slip_to_end)
        let (unit, group, spare, front, slip_to_end) = match sparing {
            Sparing::None => (1, zone_sectors, 0, false, false),
            Sparing::TracksPerZone => (spt, tracks, spares, false, false),
            Sparing::SectorsPerCylinder => (1, cylinder, spares, false, false),
            Sparing::SectorsPerTrack => (1, spt, spares, false, false),
            Sparing::SectorsPerCylinderSlipToEnd => (1, cylinder, spares, false, true),
            Sparing::SectorsPerCylinderAtFront => (1, cylinder, spares, true, false),
            Sparing::SectorsPerCylinderAtFrontSlipToEnd => (1, cylinder, spares, true, true),
            Sparing::SectorsAtZoneEnd => (1, zone_sectors, 0, false, true),
            Sparing::SectorsPerRange { range_cylinders } => (
                1,
                u64::from(range_cylinders) * cylinder,
                spares,
                false,
                false,
            ),
            Sparing::SectorsPerZone => (1, zone_sectors, spares, false, false),
            Sparing::SectorsPerZoneSlipToEnd => (1, zone_sectors, spares, false, true),
        };
        if sparing == Sparing::None && (spares != 0 || !slips.is_empty()) {
            return Err((
                "slips",
                "sparing 'none' allows no spares and no slips".into(),
            ));
        }
        let units = zone_sectors / unit;
        if spare >= group {
            return Err((
                "spares",
                format!("{spare} spares leave no data in a group of {group}"),
            ));
        }
        let (full_groups, tail) = (units / group, units % group);
        if slips.windows(2).any(|w| w[0] >= w[1]) {
            return Err(("slips", "must be strictly ascending".into()));
        }
        if let Some(&s) = slips.iter().find(|&&s| s >= units) {
            return Err(("slips", format!("slip {s} lies beyond the zone's {units}")));
        }
        let mut map = SpareMap {
            unit,
            group,
            spare,
            front,
            slip_to_end,
            full_groups,
            tail,
            slips: slips.to_vec(),
            slip_data: Vec::new(),
            remaps: Vec::new(),
        };
        if slip_to_end {
            for &s in slips {
                let d = map.raw_data_index(s).ok_or_else(|| {
                    (
                        "slips",
                        format!("slip {s} lies in spare space (slip-to-end schemes)"),
                    )
                })?;
                map.slip_data.push(d);
            }
        } else {
            map.check_local_slips_fit()?;
        }
        map.remaps = map.remaps_of(defects)?;
        Ok(map)
    }

    /// Data units the zone offers (before reserved space at its front).
    pub fn data_units(&self) -> u64 {
        let d = self.full_groups * (self.group - self.spare) + self.tail;
        if self.slip_to_end {
            d - self.slips.len() as u64
        } else {
            d
        }
    }

    /// Data sectors the zone offers.
    pub fn data_sectors(&self) -> u64 {
        self.data_units() * self.unit
    }

    /// Slip-to-end schemes: position of physical unit `p` among the zone's data units,
    /// counting slipped ones; None in spare space.
    fn raw_data_index(&self, p: u64) -> Option<u64> {
        let d = self.group - self.spare;
        let g = p / self.group;
        if g >= self.full_groups {
            return Some(self.full_groups * d + (p - self.full_groups * self.group));
        }
        let o = p % self.group;
        let o = if self.front {
            o.checked_sub(self.spare)?
        } else {
            o
        };
        (o < d).then_some(g * d + o)
    }

    /// Inverse of `raw_data_index`.
    fn raw_data_unit(&self, i: u64) -> u64 {
        let d = self.group - self.spare;
        let g = i / d;
        if g >= self.full_groups {
            return self.full_groups * self.group + (i - self.full_groups * d);
        }
        g * self.group + if self.front { self.spare } else { 0 } + i % d
    }

    /// Local schemes: the group holding data position `i`, its end, its first data unit
    /// and the position within the group.
    fn local_group(&self, i: u64) -> (u64, u64, u64, u64) {
        let d = self.group - self.spare;
        let g = i / d;
        if g >= self.full_groups {
            let start = self.full_groups * self.group;
            (start, start + self.tail, start, i - self.full_groups * d)
        } else {
            let start = g * self.group;
            (start, start + self.group, self.local_base(start), i % d)
        }
    }

    /// First data unit of the complete group starting at `start`: right at the start
    /// when spares sit at the end; with spares at the front, the data fills the group's
    /// last `group - spare` unslipped units (a slip uses up one front spare).
    fn local_base(&self, start: u64) -> u64 {
        if !self.front {
            return start;
        }
        let end = start + self.group;
        let d = self.group - self.spare;
        let mut base = end - d;
        loop {
            let k = self.slips_in(base, end).len() as u64;
            let next = (end - d).saturating_sub(k).max(start);
            if next == base {
                return base;
            }
            base = next;
        }
    }

    /// Slips in `[lo, hi)`.
    fn slips_in(&self, lo: u64, hi: u64) -> &[u64] {
        let a = self.slips.partition_point(|&s| s < lo);
        let b = self.slips.partition_point(|&s| s < hi);
        &self.slips[a..b]
    }

    fn check_local_slips_fit(&self) -> Result<(), Invalid> {
        let d = self.group - self.spare;
        let mut i = 0;
        while i < self.slips.len() {
            let g = self.slips[i] / self.group;
            let groups_data = if g >= self.full_groups { self.tail } else { d };
            // The group's last data position must still land inside the group.
            let last = g.min(self.full_groups) * d + groups_data;
            if groups_data > 0 {
                let (_, end, _, _) = self.local_group(last - 1);
                if self.data_unit(last - 1) >= end {
                    return Err((
                        "slips",
                        format!(
                            "the slips of group {g} outnumber its {} spares",
                            if g >= self.full_groups { 0 } else { self.spare }
                        ),
                    ));
                }
            }
            i += self.slips[i..].partition_point(|&s| s / self.group == g);
        }
        Ok(())
    }

    /// Physical unit of data position `i` (ignoring defect remaps).
    pub fn data_unit(&self, i: u64) -> u64 {
        if self.slip_to_end {
            return self.raw_data_unit(i + skipped_before(&self.slip_data, i));
        }
        let (_, end, base, r) = self.local_group(i);
        base + r + skipped_before(self.slips_in(base, end), base + r)
    }

    /// Data position held by physical unit `p`, or None for spare or slipped space.
    pub fn unit_data(&self, p: u64) -> Option<u64> {
        if self.slips.binary_search(&p).is_ok() {
            return None;
        }
        if self.slip_to_end {
            let raw = self.raw_data_index(p)?;
            return Some(raw - self.slip_data.partition_point(|&s| s < raw) as u64);
        }
        let d = self.group - self.spare;
        let g = p / self.group;
        let (end, base, first) = if g >= self.full_groups {
            let start = self.full_groups * self.group;
            (start + self.tail, start, self.full_groups * d)
        } else {
            let start = g * self.group;
            (start + self.group, self.local_base(start), g * d)
        };
        let r = p.checked_sub(base)? - self.slips_in(base, end).partition_point(|&s| s < p) as u64;
        let capacity = if g >= self.full_groups { self.tail } else { d };
        (r < capacity).then_some(first + r)
    }

    /// Sectors from physical sector `sector` (holding data position `i`'s unit) up to the
    /// next sector that holds no consecutive data: a slip, the group's spares or the
    /// zone's end. Whole-track units never break inside a track.
    pub fn contiguous_sectors(&self, i: u64, sector: u64) -> u64 {
        if self.unit > 1 {
            return self.unit - sector % self.unit;
        }
        let p = sector;
        let next_slip = self
            .slips
            .get(self.slips.partition_point(|&s| s <= p))
            .copied()
            .unwrap_or(u64::MAX);
        let data_end = if self.slip_to_end {
            let d = self.group - self.spare;
            let g = p / self.group;
            if g >= self.full_groups {
                self.full_groups * self.group + self.tail
            } else {
                g * self.group + if self.front { self.spare } else { 0 } + d
            }
        } else {
            // One past the unit of the group's last data position.
            let d = self.group - self.spare;
            let g = i / d;
            let last = if g >= self.full_groups {
                self.full_groups * d + self.tail - 1
            } else {
                g * d + d - 1
            };
            self.data_unit(last) + 1
        };
        next_slip.min(data_end) - p
    }

    fn remaps_of(&self, defects: &[DefectRemap]) -> Result<Vec<Remap>, Invalid> {
        let units = self.full_groups * self.group + self.tail;
        let mut out = Vec::new();
        for r in defects.iter().filter(|r| r.defect != r.spare) {
            if r.spare >= units || r.defect >= units {
                return Err((
                    "defects",
                    format!("pair ({}, {}) lies beyond the zone", r.defect, r.spare),
                ));
            }
            if self.unit_data(r.spare).is_some() {
                return Err((
                    "defects",
                    format!("spare {} of defect {} holds data", r.spare, r.defect),
                ));
            }
            // A defect in spare or slipped space relocates nothing.
            if let Some(i) = self.unit_data(r.defect) {
                out.push(Remap {
                    lbn: i * self.unit,
                    len: self.unit,
                    target_sector: r.spare * self.unit,
                });
            }
        }
        out.sort_by_key(|r| r.lbn);
        if out.windows(2).any(|w| w[0].lbn == w[1].lbn) {
            return Err(("defects", "a location is remapped twice".into()));
        }
        Ok(out)
    }

    /// The remap covering zone-relative LBN position `i` (sectors, counting reserved
    /// space), if any, and else the start of the next remap.
    pub fn remap_at(&self, i: u64) -> (Option<Remap>, u64) {
        let k = self.remaps.partition_point(|r| r.lbn + r.len <= i);
        match self.remaps.get(k) {
            Some(r) if r.lbn <= i => (Some(*r), r.lbn + r.len),
            Some(r) => (None, r.lbn),
            None => (None, u64::MAX),
        }
    }

    /// Zone-relative position (sectors, counting reserved space) of the data relocated to
    /// physical sector `sector`, if it is a remap target.
    pub fn remapped_from(&self, sector: u64) -> Option<u64> {
        self.remaps
            .iter()
            .find(|r| (r.target_sector..r.target_sector + r.len).contains(&sector))
            .map(|r| r.lbn + (sector - r.target_sector))
    }

    /// Sectors per unit.
    pub fn unit_sectors(&self) -> u64 {
        self.unit
    }

    /// Slipped sectors (as physical sector positions, first sector of each unit) before
    /// physical sector `cutoff`.
    pub fn slipped_sectors_before(&self, cutoff: u64) -> u64 {
        self.slips.partition_point(|&s| s * self.unit < cutoff) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_before_is_a_fixed_point() {
        assert_eq!(skipped_before(&[], 5), 0);
        assert_eq!(skipped_before(&[5], 4), 0);
        assert_eq!(skipped_before(&[5], 5), 1);
        assert_eq!(skipped_before(&[5, 6], 5), 2);
        assert_eq!(skipped_before(&[5, 7], 6), 2);
        assert_eq!(skipped_before(&[0, 1, 2], 0), 3);
    }

    /// Every data position maps to a distinct data unit and back, for every scheme.
    #[test]
    fn every_scheme_round_trips() {
        let schemes = [
            Sparing::TracksPerZone,
            Sparing::SectorsPerCylinder,
            Sparing::SectorsPerTrack,
            Sparing::SectorsPerCylinderSlipToEnd,
            Sparing::SectorsPerCylinderAtFront,
            Sparing::SectorsPerCylinderAtFrontSlipToEnd,
            Sparing::SectorsAtZoneEnd,
            Sparing::SectorsPerRange { range_cylinders: 2 },
            Sparing::SectorsPerZone,
            Sparing::SectorsPerZoneSlipToEnd,
        ];
        // 5 cylinders x 2 surfaces x 6 sectors.
        for s in schemes {
            let slips: &[u64] = if s == Sparing::TracksPerZone {
                &[3]
            } else {
                &[2, 14]
            };
            let spares = match s {
                Sparing::SectorsAtZoneEnd => 0,
                Sparing::SectorsPerTrack => 1,
                _ => 2,
            };
            let m = SpareMap::new(s, 10, 2, 6, spares, slips, &[]).unwrap();
            let units = if s == Sparing::TracksPerZone { 10 } else { 60 };
            let mut seen = std::collections::BTreeSet::new();
            for i in 0..m.data_units() {
                let p = m.data_unit(i);
                assert!(p < units, "{s:?}: {i} -> {p}");
                assert!(seen.insert(p), "{s:?}: {p} used twice");
                assert_eq!(m.unit_data(p), Some(i), "{s:?}: {p}");
            }
            for p in 0..units {
                assert_eq!(m.unit_data(p).is_some(), seen.contains(&p), "{s:?}: {p}");
            }
        }
    }

    #[test]
    fn local_slips_use_their_groups_spares_and_slip_to_end_shifts_the_zone() {
        // Sectors per track, 1 spare: a slip on track 0 leaves track 1 alone.
        let m = SpareMap::new(Sparing::SectorsPerTrack, 4, 2, 6, 1, &[2], &[]).unwrap();
        assert_eq!(m.data_units(), 20);
        assert_eq!(m.data_unit(2), 3);
        assert_eq!(
            m.data_unit(4),
            5,
            "the spare took the slipped sector's place"
        );
        assert_eq!(m.data_unit(5), 6, "track 1 starts unshifted");
        // Sectors per cylinder, slip to end: the slip costs capacity and shifts the rest.
        let m = SpareMap::new(Sparing::SectorsPerCylinderSlipToEnd, 4, 2, 6, 2, &[2], &[]).unwrap();
        assert_eq!(m.data_units(), 2 * 10 - 1);
        assert_eq!(m.data_unit(8), 9, "last data slot of cylinder 0");
        assert_eq!(
            m.data_unit(9),
            12,
            "data wraps into cylinder 1 after its spares"
        );
        // Range sparing: 3 cylinders, ranges of 2 -> one complete range plus a tail.
        let m = SpareMap::new(
            Sparing::SectorsPerRange { range_cylinders: 2 },
            6,
            2,
            6,
            4,
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(m.data_units(), 24 - 4 + 12);
        assert_eq!(
            m.data_unit(20),
            24,
            "the tail range starts after the spares"
        );
    }

    #[test]
    fn too_many_local_slips_and_bad_defects_are_refused() {
        let err = SpareMap::new(Sparing::TracksPerZone, 4, 2, 6, 1, &[0, 1], &[]).unwrap_err();
        assert_eq!(err.0, "slips");
        let err = SpareMap::new(
            Sparing::SectorsPerZone,
            4,
            2,
            6,
            2,
            &[],
            &[DefectRemap {
                defect: 3,
                spare: 5,
            }],
        )
        .unwrap_err();
        assert_eq!(err.0, "defects", "the spare holds data: {}", err.1);
    }

    #[test]
    fn defects_move_their_data_to_the_spare() {
        let m = SpareMap::new(
            Sparing::SectorsPerZone,
            4,
            2,
            6,
            2,
            &[],
            &[DefectRemap {
                defect: 3,
                spare: 22,
            }],
        )
        .unwrap();
        assert_eq!(
            m.remap_at(3).0,
            Some(Remap {
                lbn: 3,
                len: 1,
                target_sector: 22
            })
        );
        assert_eq!(m.remap_at(1), (None, 3));
        assert_eq!(m.remapped_from(22), Some(3));
    }
}
