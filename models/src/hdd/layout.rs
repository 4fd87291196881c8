//! Zoned layout: where each LBN lives (cylinder, head, physical sector) and at which angle
//! each physical sector passes under the head.
//!
//! Owns zones, reserved space, spares and slips, surface order and skews. It does not know
//! about time (see `rotation`) or about moving the head (see `seek`, `media`).
//!
//! Mapping, per zone: LBNs fill the zone's physical space in track order (cylinder by
//! cylinder, surface by surface) after `reserved_front_sectors`, skipping slipped tracks
//! or sectors; spares sit at the end of the zone. Angles: physical sector `s` of the
//! zone's `i`-th track (in track order, `c` cylinders into the zone) starts at
//! `first_block_offset + (i - c)·track_skew + c·cylinder_skew + s` sectors, modulo the
//! sectors per track.

use super::params::{GeometryParams, Sparing, SurfaceOrder};
use crate::ModelError;

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
    /// LBNs in the run (at least 1): up to the end of the track or the next slipped sector.
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
    /// Slipped tracks (track sparing) or sectors (sector sparing), ascending.
    slips: Vec<u64>,
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

/// Smallest `k` with `k == slips.filter(<= base + k).count()`: the number of slips at or
/// before the physical position of logical position `base`.
fn slips_before(slips: &[u64], base: u64) -> u64 {
    let mut k = 0u64;
    loop {
        let n = slips.partition_point(|&s| s <= base + k) as u64;
        if n == k {
            return k;
        }
        k = n;
    }
}

impl Layout {
    /// Build the mapping; checks that every zone's LBNs fit in its physical space.
    pub fn new(g: &GeometryParams) -> Result<Layout, ModelError> {
        let surfaces = u64::from(g.surfaces);
        let mut zones = Vec::with_capacity(g.zones.len());
        let mut next_lbn = 0u64;
        for (i, z) in g.zones.iter().enumerate() {
            let spt = u64::from(z.sectors_per_track);
            let cylinders = u64::from(z.last_cylinder - z.first_cylinder + 1);
            let tracks = cylinders * surfaces;
            let physical = tracks * spt;
            let slips = z.slips.len() as u64;
            let unusable = match g.sparing {
                Sparing::None => 0,
                Sparing::TracksPerZone => z.spares * spt,
                Sparing::SectorsPerZone => z.spares,
                Sparing::SectorsPerZoneSlipToEnd => z.spares + slips,
            };
            let lbns = physical
                .checked_sub(z.reserved_front_sectors + unusable)
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid(
                        format!("geometry.zones[{i}]"),
                        "reserved and spare space exceed the zone".into(),
                    )
                })?;
            // The last LBN, pushed by every slip, must still land inside the zone.
            let last_logical = z.reserved_front_sectors + lbns - 1;
            let last_physical = match g.sparing {
                Sparing::None => last_logical,
                Sparing::TracksPerZone => {
                    let t = last_logical / spt;
                    (t + slips_before(&z.slips, t)) * spt + last_logical % spt
                }
                Sparing::SectorsPerZone | Sparing::SectorsPerZoneSlipToEnd => {
                    last_logical + slips_before(&z.slips, last_logical)
                }
            };
            if last_physical >= physical {
                return Err(invalid(
                    format!("geometry.zones[{i}].slips"),
                    format!("{slips} slips do not fit in {} spares", z.spares),
                ));
            }
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
                slips: z.slips.clone(),
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
        let a = u64::from(zone.offset)
            + (switches % spt) * u64::from(zone.track_skew)
            + (c % spt) * u64::from(zone.cylinder_skew)
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
        let logical = lbn - zone.first_lbn + zone.reserved_front;
        let zone_lbn_end = zone.first_lbn + zone.lbns;
        let (track, sector, len) = match self.sparing {
            Sparing::None | Sparing::TracksPerZone => {
                let t = logical / spt;
                let track = t + slips_before(&zone.slips, t);
                let sector = logical % spt;
                (track, sector, spt - sector)
            }
            Sparing::SectorsPerZone | Sparing::SectorsPerZoneSlipToEnd => {
                let q = logical + slips_before(&zone.slips, logical);
                let sector = q % spt;
                let track_end = q - sector + spt;
                // The run stops before the next slipped sector on this track.
                let next_slip = zone
                    .slips
                    .get(zone.slips.partition_point(|&s| s <= q))
                    .copied()
                    .unwrap_or(u64::MAX);
                (q / spt, sector, track_end.min(next_slip) - q)
            }
        };
        let len = len.min(zone_lbn_end - lbn);
        let cylinder = zone.first_cylinder + (track / surfaces) as u32;
        let order_index = (track % surfaces) as u32;
        TrackRun {
            cylinder,
            head: self.head_of(zone, cylinder, order_index),
            sector: sector as u32,
            sectors_per_track: zone.spt,
            angle_sectors: self.angle_of(zone, cylinder, order_index, sector as u32),
            len: len as u32,
        }
    }

    /// The LBN stored in `pbn`, or None for reserved, spare or slipped space.
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
        let logical = match self.sparing {
            Sparing::None | Sparing::TracksPerZone => {
                if zone.slips.binary_search(&track).is_ok() {
                    return None;
                }
                let t = track - zone.slips.partition_point(|&s| s < track) as u64;
                t * spt + u64::from(pbn.sector)
            }
            Sparing::SectorsPerZone | Sparing::SectorsPerZoneSlipToEnd => {
                let q = track * spt + u64::from(pbn.sector);
                if zone.slips.binary_search(&q).is_ok() {
                    return None;
                }
                q - zone.slips.partition_point(|&s| s < q) as u64
            }
        };
        let rel = logical.checked_sub(zone.reserved_front)?;
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
    use crate::hdd::params::ZoneParams;

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

    #[test]
    fn slips_before_is_a_fixed_point() {
        assert_eq!(slips_before(&[], 5), 0);
        assert_eq!(slips_before(&[5], 4), 0);
        assert_eq!(slips_before(&[5], 5), 1);
        assert_eq!(slips_before(&[5, 6], 5), 2);
        assert_eq!(slips_before(&[5, 7], 6), 2);
        assert_eq!(slips_before(&[0, 1, 2], 0), 3);
    }

    #[test]
    fn serpentine_order_reverses_odd_cylinders() {
        let mut g = geometry(Sparing::None, vec![zone(0, 3, 4)]);
        g.surface_order = SurfaceOrder::Serpentine;
        let l = Layout::new(&g).unwrap();
        // Cylinder 1 (odd): order index 0 is head 1.
        assert_eq!(
            l.pbn(8),
            Pbn {
                cylinder: 1,
                head: 1,
                sector: 0
            }
        );
        assert_eq!(
            l.pbn(12),
            Pbn {
                cylinder: 1,
                head: 0,
                sector: 0
            }
        );
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
        assert_eq!(
            l.pbn(2),
            Pbn {
                cylinder: 0,
                head: 0,
                sector: 3
            }
        );
        assert_eq!(l.run(2).len, 1);
        assert_eq!(
            l.lbn(Pbn {
                cylinder: 0,
                head: 0,
                sector: 2
            }),
            None
        );
        for lbn in 0..l.capacity_sectors() {
            assert_eq!(l.lbn(l.pbn(lbn)), Some(lbn), "lbn {lbn}");
        }
    }

    #[test]
    fn cylinders_between_zones_hold_no_data() {
        let l = Layout::new(&geometry(Sparing::None, vec![zone(0, 1, 4), zone(3, 4, 4)])).unwrap();
        assert_eq!(l.cylinders(), 5);
        assert_eq!(l.capacity_sectors(), 32);
        assert_eq!(
            l.pbn(15),
            Pbn {
                cylinder: 1,
                head: 1,
                sector: 3
            }
        );
        assert_eq!(
            l.pbn(16),
            Pbn {
                cylinder: 3,
                head: 0,
                sector: 0
            }
        );
        assert_eq!(
            l.lbn(Pbn {
                cylinder: 2,
                head: 0,
                sector: 0
            }),
            None
        );
        assert_eq!(
            l.lbn(Pbn {
                cylinder: 3,
                head: 0,
                sector: 0
            }),
            Some(16)
        );
    }

    #[test]
    fn too_many_slips_are_refused() {
        let mut z = zone(0, 1, 4);
        z.spares = 1;
        z.slips = vec![0, 1];
        let err = Layout::new(&geometry(Sparing::TracksPerZone, vec![z])).unwrap_err();
        assert!(err.to_string().contains("slips"), "{err}");
    }
}
