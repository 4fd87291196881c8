//! Zoned layout: where each LBN lives (cylinder, head, physical sector) and at which angle
//! each physical sector passes under the head.
//!
//! Owns zones, reserved space, surface order and skews; spare space, slips and defect
//! remapping per zone are `spares`' arithmetic. It does not know about time (see
//! `rotation`) or about moving the head (see `seek`, `media`).
//!
//! Mapping, per zone: the zone's LBNs fill its data positions (see `spares`) after
//! `reserved_front_sectors` of them. Angles: physical sector `s` of the zone's `i`-th track
//! (in track order, `c` cylinders into the zone) starts at `first_block_offset +
//! (i - c)·track_skew + c·cylinder_skew + s` sectors, plus one sector per slip before the
//! cylinder (or track) in the schemes where DiskSim lets slips push the skew, modulo the
//! sectors per track.

mod spares;

use super::params::{GeometryParams, Sparing, SurfaceOrder};
use crate::ModelError;
use spares::SpareMap;

/// A physical sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pbn {
    /// Cylinder (0 = outermost).
    pub cylinder: u32,
    /// Surface.
    pub head: u32,
    /// Physical sector on the track (0-based).
    pub sector: u32,
}

/// A run of consecutive LBNs stored in consecutive physical sectors of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackRun {
    /// Cylinder of the run.
    pub cylinder: u32,
    /// Surface of the run.
    pub head: u32,
    /// Physical sector of the run's first LBN.
    pub sector: u32,
    /// Sectors on this track (the zone's).
    pub sectors_per_track: u32,
    /// Angular position of the run's first sector, in sectors of this track (0..spt).
    pub angle_sectors: u32,
    /// LBNs in the run (at least 1): up to the end of the track, the next slipped, spare or
    /// remapped sector, or the end of the zone.
    pub len: u32,
}

#[derive(Debug, Clone)]
struct Zone {
    first_cylinder: u32,
    last_cylinder: u32,
    spt: u32,
    offset: u32,
    track_skew: u32,
    cylinder_skew: u32,
    reserved_front: u64,
    first_lbn: u64,
    lbns: u64,
    map: SpareMap,
}

/// The LBN ↔ PBN mapping of a drive.
#[derive(Debug, Clone)]
pub struct Layout {
    surfaces: u32,
    order: SurfaceOrder,
    sparing: Sparing,
    zones: Vec<Zone>,
    /// LBNs the drive exposes.
    capacity_sectors: u64,
    cylinders: u32,
}

fn invalid(key: String, reason: String) -> ModelError {
    ModelError::InvalidParameter { key, reason }
}

impl Layout {
    /// Build the mapping; checks that every zone's spares hold its slips and that its
    /// LBNs fit in its data space.
    pub fn new(g: &GeometryParams) -> Result<Layout, ModelError> {
        let surfaces = u64::from(g.surfaces);
        let mut zones = Vec::with_capacity(g.zones.len());
        let mut next_lbn = 0u64;
        for (i, z) in g.zones.iter().enumerate() {
            let spt = u64::from(z.sectors_per_track);
            let cylinders = u64::from(z.last_cylinder - z.first_cylinder + 1);
            let map = SpareMap::new(
                g.sparing,
                cylinders * surfaces,
                surfaces,
                spt,
                z.spares,
                &z.slips,
                &z.defects,
            )
            .map_err(|(field, reason)| invalid(format!("geometry.zones[{i}].{field}"), reason))?;
            let lbns = map
                .data_sectors()
                .checked_sub(z.reserved_front_sectors)
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid(
                        format!("geometry.zones[{i}]"),
                        "reserved and spare space exceed the zone".into(),
                    )
                })?;
            zones.push(Zone {
                first_cylinder: z.first_cylinder,
                last_cylinder: z.last_cylinder,
                spt: z.sectors_per_track,
                offset: z.first_block_offset_sectors % z.sectors_per_track,
                track_skew: z.track_skew_sectors % z.sectors_per_track,
                cylinder_skew: z.cylinder_skew_sectors % z.sectors_per_track,
                reserved_front: z.reserved_front_sectors,
                first_lbn: next_lbn,
                lbns,
                map,
            });
            next_lbn += lbns;
        }
        let capacity_sectors = match g.exported_sectors {
            None => next_lbn,
            Some(n) if n >= 1 && n <= next_lbn => n,
            Some(n) => {
                return Err(invalid(
                    "geometry.exported_sectors".into(),
                    format!("{n} is not in 1..={next_lbn} (the zoned capacity)"),
                ))
            }
        };
        let cylinders = zones.last().map(|z| z.last_cylinder + 1).unwrap_or(0);
        Ok(Layout {
            surfaces: g.surfaces,
            order: g.surface_order,
            sparing: g.sparing,
            zones,
            capacity_sectors,
            cylinders,
        })
    }

    /// LBNs exposed by the drive.
    pub fn capacity_sectors(&self) -> u64 {
        self.capacity_sectors
    }

    /// Total LBNs of the zoned layout (may exceed the exported capacity).
    pub fn zoned_sectors(&self) -> u64 {
        self.zones.last().map(|z| z.first_lbn + z.lbns).unwrap_or(0)
    }

    /// Physical cylinders of the drive.
    pub fn cylinders(&self) -> u32 {
        self.cylinders
    }

    /// Data surfaces (heads).
    pub fn surfaces(&self) -> u32 {
        self.surfaces
    }

    /// Sectors per track of each zone, outermost first.
    pub fn zone_sectors_per_track(&self) -> impl Iterator<Item = u32> + '_ {
        self.zones.iter().map(|z| z.spt)
    }

    /// First LBN and LBN count of zone `i`.
    pub fn zone_lbns(&self, i: usize) -> Option<(u64, u64)> {
        self.zones.get(i).map(|z| (z.first_lbn, z.lbns))
    }

    fn zone_of_lbn(&self, lbn: u64) -> &Zone {
        let i = self.zones.partition_point(|z| z.first_lbn <= lbn);
        assert!(
            i > 0 && lbn < self.zoned_sectors(),
            "LBN {lbn} outside the layout"
        );
        &self.zones[i - 1]
    }

    fn head_of(&self, zone: &Zone, cylinder: u32, order_index: u32) -> u32 {
        let reverse = match self.order {
            SurfaceOrder::Ascending => false,
            SurfaceOrder::SerpentineInZone => (cylinder - zone.first_cylinder) % 2 == 1,
            SurfaceOrder::Serpentine => cylinder % 2 == 1,
        };
        if reverse {
            self.surfaces - 1 - order_index
        } else {
            order_index
        }
    }

    fn angle_of(&self, zone: &Zone, cylinder: u32, order_index: u32, sector: u32) -> u32 {
        let spt = u64::from(zone.spt);
        let c = u64::from(cylinder - zone.first_cylinder);
        let switches = u64::from(order_index) + u64::from(self.surfaces - 1) * c;
        let slip_push = if self.sparing.slips_push_skew() {
            let tracks = c * u64::from(self.surfaces)
                + if self.sparing == Sparing::SectorsPerTrack {
                    u64::from(order_index)
                } else {
                    0
                };
            zone.map.slipped_sectors_before(tracks * spt)
        } else {
            0
        };
        let a = u64::from(zone.offset)
            + (switches % spt) * u64::from(zone.track_skew)
            + (c % spt) * u64::from(zone.cylinder_skew)
            + slip_push
            + u64::from(sector);
        (a % spt) as u32
    }

    /// Physical location of `lbn`.
    pub fn pbn(&self, lbn: u64) -> Pbn {
        let run = self.run(lbn);
        Pbn {
            cylinder: run.cylinder,
            head: run.head,
            sector: run.sector,
        }
    }

    /// Cylinder of `lbn` (what the seek schedulers sort by).
    pub fn cylinder_of(&self, lbn: u64) -> u32 {
        self.run(lbn).cylinder
    }

    /// The run of LBNs starting at `lbn` that sit in consecutive sectors of one track.
    pub fn run(&self, lbn: u64) -> TrackRun {
        let zone = self.zone_of_lbn(lbn);
        let spt = u64::from(zone.spt);
        let surfaces = u64::from(self.surfaces);
        let position = lbn - zone.first_lbn + zone.reserved_front;
        let zone_left = zone.first_lbn + zone.lbns - lbn;
        let (remap, next_remap) = zone.map.remap_at(position);
        let (sector_in_zone, len) = match remap {
            Some(r) => {
                let s = r.target_sector + (position - r.lbn);
                (s, r.lbn + r.len - position)
            }
            None => {
                let unit = zone.map.unit_sectors();
                let data_unit = position / unit;
                let s = zone.map.data_unit(data_unit) * unit + position % unit;
                let len = zone
                    .map
                    .contiguous_sectors(data_unit, s)
                    .min(next_remap - position);
                (s, len)
            }
        };
        let sector = sector_in_zone % spt;
        let len = len.min(spt - sector).min(zone_left);
        let track = sector_in_zone / spt;
        let cylinder = zone.first_cylinder + (track / surfaces) as u32;
        let order_index = (track % surfaces) as u32;
        debug_assert!(cylinder <= zone.last_cylinder && len >= 1);
        TrackRun {
            cylinder,
            head: self.head_of(zone, cylinder, order_index),
            sector: sector as u32,
            sectors_per_track: zone.spt,
            angle_sectors: self.angle_of(zone, cylinder, order_index, sector as u32),
            len: len as u32,
        }
    }

    /// Zone index and track index within the zone of `lbn` (where its data lives).
    fn track_of(&self, lbn: u64) -> (usize, u64) {
        let zi = self.zones.partition_point(|z| z.first_lbn <= lbn) - 1;
        let run = self.run(lbn);
        let zone = &self.zones[zi];
        let order_index = self.head_of(zone, run.cylinder, run.head);
        let track = u64::from(run.cylinder - zone.first_cylinder) * u64::from(self.surfaces)
            + u64::from(order_index);
        (zi, track)
    }

    /// The LBNs stored on the track holding `lbn`: `[first, end)`. (LBNs follow the
    /// physical order within a zone, so a track's LBNs are consecutive; a remapped LBN
    /// counts on its original track.)
    pub fn track_lbns(&self, lbn: u64) -> (u64, u64) {
        let (zi, track) = self.track_of(lbn);
        let zone = &self.zones[zi];
        let spt = u64::from(zone.spt);
        let on_or_after = |l: u64| self.track_of(l) >= (zi, track);
        let after = |l: u64| self.track_of(l) > (zi, track);
        // First LBN of the track: in (lbn - spt, lbn].
        let (mut lo, mut hi) = (lbn.saturating_sub(spt).max(zone.first_lbn), lbn);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if on_or_after(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let first = lo;
        // End of the track: in (lbn, lbn + spt].
        let zone_end = zone.first_lbn + zone.lbns;
        let (mut lo, mut hi) = (lbn + 1, (lbn + spt).min(zone_end));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if after(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        (first, lo)
    }

    /// The LBN stored in `pbn`, or None for reserved, spare, slipped or defective space.
    pub fn lbn(&self, pbn: Pbn) -> Option<u64> {
        let zi = self
            .zones
            .partition_point(|z| z.last_cylinder < pbn.cylinder);
        let zone = self.zones.get(zi)?;
        if pbn.cylinder < zone.first_cylinder || pbn.head >= self.surfaces || pbn.sector >= zone.spt
        {
            return None;
        }
        let spt = u64::from(zone.spt);
        // Surface order is an involution: mapping the head gives the order index back.
        let order_index = self.head_of(zone, pbn.cylinder, pbn.head);
        let track = u64::from(pbn.cylinder - zone.first_cylinder) * u64::from(self.surfaces)
            + u64::from(order_index);
        let sector_in_zone = track * spt + u64::from(pbn.sector);
        let position = match zone.map.remapped_from(sector_in_zone) {
            Some(p) => p,
            None => {
                let unit = zone.map.unit_sectors();
                let p = zone.map.unit_data(sector_in_zone / unit)? * unit + sector_in_zone % unit;
                if zone.map.remap_at(p).0.is_some() {
                    return None;
                }
                p
            }
        };
        let rel = position.checked_sub(zone.reserved_front)?;
        (rel < zone.lbns).then(|| zone.first_lbn + rel)
    }

    /// Angular position (sectors of its track) of a physical sector.
    pub fn angle_sectors(&self, pbn: Pbn) -> u32 {
        let zi = self
            .zones
            .partition_point(|z| z.last_cylinder < pbn.cylinder);
        let zone = &self.zones[zi];
        let order_index = self.head_of(zone, pbn.cylinder, pbn.head);
        self.angle_of(zone, pbn.cylinder, order_index, pbn.sector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdd::params::{DefectRemap, ZoneParams};

    fn zone(first: u32, last: u32, spt: u32) -> ZoneParams {
        ZoneParams {
            first_cylinder: first,
            last_cylinder: last,
            sectors_per_track: spt,
            first_block_offset_sectors: 0,
            reserved_front_sectors: 0,
            track_skew_sectors: 0,
            cylinder_skew_sectors: 0,
            spares: 0,
            slips: vec![],
            defects: vec![],
        }
    }

    fn geometry(sparing: Sparing, zones: Vec<ZoneParams>) -> GeometryParams {
        GeometryParams {
            surfaces: 2,
            surface_order: SurfaceOrder::Ascending,
            sparing,
            zones,
            exported_sectors: None,
        }
    }

    fn pbn(cylinder: u32, head: u32, sector: u32) -> Pbn {
        Pbn {
            cylinder,
            head,
            sector,
        }
    }

    #[test]
    fn serpentine_order_reverses_odd_cylinders() {
        let mut g = geometry(Sparing::None, vec![zone(0, 3, 4)]);
        g.surface_order = SurfaceOrder::Serpentine;
        let l = Layout::new(&g).unwrap();
        // Cylinder 1 (odd): order index 0 is head 1.
        assert_eq!(l.pbn(8), pbn(1, 1, 0));
        assert_eq!(l.pbn(12), pbn(1, 0, 0));
        for lbn in 0..l.capacity_sectors() {
            assert_eq!(l.lbn(l.pbn(lbn)), Some(lbn));
        }
    }

    #[test]
    fn sector_slips_split_runs_and_are_skipped() {
        let mut z = zone(0, 1, 4);
        z.spares = 2;
        z.slips = vec![2, 9];
        let l = Layout::new(&geometry(Sparing::SectorsPerZone, vec![z])).unwrap();
        assert_eq!(l.capacity_sectors(), 14);
        let r = l.run(0);
        assert_eq!((r.sector, r.len), (0, 2));
        assert_eq!(l.pbn(2), pbn(0, 0, 3));
        assert_eq!(l.run(2).len, 1);
        assert_eq!(l.lbn(pbn(0, 0, 2)), None);
        for lbn in 0..l.capacity_sectors() {
            assert_eq!(l.lbn(l.pbn(lbn)), Some(lbn), "lbn {lbn}");
        }
    }

    #[test]
    fn cylinders_between_zones_hold_no_data() {
        let l = Layout::new(&geometry(Sparing::None, vec![zone(0, 1, 4), zone(3, 4, 4)])).unwrap();
        assert_eq!(l.cylinders(), 5);
        assert_eq!(l.capacity_sectors(), 32);
        assert_eq!(l.pbn(15), pbn(1, 1, 3));
        assert_eq!(l.pbn(16), pbn(3, 0, 0));
        assert_eq!(l.lbn(pbn(2, 0, 0)), None);
        assert_eq!(l.lbn(pbn(3, 0, 0)), Some(16));
    }

    #[test]
    fn track_lbns_bound_the_track_of_an_lbn() {
        let mut z = zone(0, 1, 4);
        z.spares = 2;
        z.slips = vec![2, 9];
        z.reserved_front_sectors = 1;
        let l = Layout::new(&geometry(Sparing::SectorsPerZone, vec![z])).unwrap();
        // Track 0 holds data positions 0, 1, 3 -> LBNs 0, 1 (position 0 is reserved).
        assert_eq!(l.track_lbns(0), (0, 2));
        assert_eq!(l.track_lbns(1), (0, 2));
        // Track 1: positions 4..8 -> LBNs 2..6; track 2: position 8, 10, 11 (9 slipped).
        assert_eq!(l.track_lbns(4), (2, 6));
        assert_eq!(l.track_lbns(6), (6, 9));
    }

    #[test]
    fn too_many_slips_are_refused() {
        let mut z = zone(0, 1, 4);
        z.spares = 1;
        z.slips = vec![0, 1];
        let err = Layout::new(&geometry(Sparing::TracksPerZone, vec![z])).unwrap_err();
        assert!(err.to_string().contains("slips"), "{err}");
    }

    #[test]
    fn per_track_spares_and_slips_push_the_skew() {
        // 1 spare per track; a slip on track 0 shifts the angle of every later track.
        let mut z = zone(0, 1, 5);
        z.spares = 1;
        z.slips = vec![1];
        let l = Layout::new(&geometry(Sparing::SectorsPerTrack, vec![z])).unwrap();
        assert_eq!(l.capacity_sectors(), 16);
        assert_eq!(l.pbn(1), pbn(0, 0, 2));
        assert_eq!(l.pbn(4), pbn(0, 1, 0), "track 1 starts unshifted");
        assert_eq!(l.run(4).angle_sectors, 1, "but one sector further round");
        assert_eq!(l.run(0).angle_sectors, 0);
    }

    #[test]
    fn a_remapped_defect_reads_from_its_spare() {
        let mut z = zone(0, 1, 4);
        z.spares = 2;
        z.defects = vec![DefectRemap {
            defect: 5,
            spare: 15,
        }];
        let l = Layout::new(&geometry(Sparing::SectorsPerZone, vec![z])).unwrap();
        assert_eq!(l.capacity_sectors(), 14);
        assert_eq!(l.run(4).len, 1, "the run stops before the remapped LBN");
        assert_eq!(l.pbn(5), pbn(1, 1, 3));
        assert_eq!(l.run(5).len, 1);
        assert_eq!(l.pbn(6), pbn(0, 1, 2));
        assert_eq!(
            l.lbn(pbn(0, 1, 1)),
            None,
            "the defective sector holds nothing"
        );
        for lbn in 0..l.capacity_sectors() {
            assert_eq!(l.lbn(l.pbn(lbn)), Some(lbn), "lbn {lbn}");
        }
    }
}
