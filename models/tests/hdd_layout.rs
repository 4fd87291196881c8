//! LBN mapping of the HP C2247A (DiskSim's validated layout): zone boundaries, reserved
//! space, slipped tracks, spare tracks, skews, and LBN → PBN → LBN round trips.

use dmsim_models::hdd::layout::{Layout, Pbn};
use dmsim_models::hdd::{hdd_hp_c2247a, HddModel};
use dmsim_models::TimingModel;
use rand_chacha::rand_core::SeedableRng;

fn hp() -> HddModel {
    HddModel::new(
        hdd_hp_c2247a(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
}

fn pbn(cylinder: u32, head: u32, sector: u32) -> Pbn {
    Pbn {
        cylinder,
        head,
        sector,
    }
}

#[test]
fn capacity_and_zone_boundaries_follow_the_track_sparing_scheme() {
    let m = hp();
    let l = m.layout();
    // DiskSim's own block count for this drive.
    assert_eq!(m.capacity_sectors(), 2_054_864);
    assert_eq!(l.cylinders(), 2051);
    // Zone 0: 559 cylinders x 13 tracks, minus 325 spare tracks, x 96, minus 1632 reserved.
    assert_eq!(l.zone_lbns(0), Some((0, 664_800)));
    assert_eq!(l.zone_lbns(1).map(|z| z.0), Some(664_800));
    // First LBN after the 17 reserved tracks (1632 / 96): track 17 = cylinder 1, head 4.
    assert_eq!(l.pbn(0), pbn(1, 4, 0));
    assert_eq!(l.lbn(pbn(1, 3, 95)), None, "reserved management area");
    // Last LBN of zone 0: logical track 6941 pushed past the 10 slips below it ->
    // physical 6951 (slips 6952 and 7095 fall in the spare area).
    assert_eq!(l.pbn(664_799), pbn(534, 9, 95));
    assert_eq!(
        l.lbn(pbn(558, 12, 0)),
        None,
        "spare track at the end of zone 0"
    );
    // Zone 1 starts on its first cylinder.
    assert_eq!(l.pbn(664_800), pbn(559, 0, 0));
    // Last LBN of the drive: zone 7, logical track 3275 pushed by 2 slips -> 3277.
    assert_eq!(l.pbn(2_054_863), pbn(2046, 1, 55));
}

#[test]
fn slipped_tracks_are_skipped() {
    let l = hp();
    let l = l.layout();
    // Zone 0 slips physical track 468: logical track 467 is physical 467 (cyl 35 head 12),
    // logical 468 lands on physical 469 (cyl 36 head 1).
    let last_before = 467 * 96 + 95 - 1632;
    assert_eq!(l.pbn(last_before), pbn(35, 12, 95));
    assert_eq!(l.pbn(last_before + 1), pbn(36, 1, 0));
    for s in [0, 50, 95] {
        assert_eq!(l.lbn(pbn(36, 0, s)), None, "slipped track holds no LBN");
    }
}

#[test]
fn skews_advance_the_angle_at_track_and_cylinder_switches() {
    let m = hp();
    let l = m.layout();
    // Zone 1: offset 14, track skew 13, cylinder skew 30, 92 sectors per track.
    assert_eq!(l.angle_sectors(pbn(559, 0, 0)), 14);
    assert_eq!(l.angle_sectors(pbn(559, 1, 0)), 27);
    assert_eq!(l.angle_sectors(pbn(559, 0, 5)), 19);
    // Next cylinder: 12 track switches and one cylinder switch: 14 + 12*13 + 30 = 200.
    assert_eq!(l.angle_sectors(pbn(560, 0, 0)), 200 % 92);
    // The run starting at an LBN reports the same angle.
    assert_eq!(l.run(664_800).angle_sectors, 14);
    assert_eq!(l.run(664_800).len, 92);
    assert_eq!(l.run(664_810).len, 82);
}

#[test]
fn lbn_pbn_round_trip_over_the_drive() {
    let m = hp();
    let l = m.layout();
    let cap = m.capacity_sectors();
    let mut lbn = 0;
    while lbn < cap {
        let p = l.pbn(lbn);
        assert_eq!(l.lbn(p), Some(lbn), "lbn {lbn} -> {p:?}");
        lbn += 997;
    }
    for lbn in [cap - 1, 664_799, 664_800] {
        assert_eq!(l.lbn(l.pbn(lbn)), Some(lbn));
    }
}

#[test]
fn every_physical_sector_of_a_zone_maps_to_a_distinct_lbn_or_nothing() {
    let m = hp();
    let l: &Layout = m.layout();
    // Zone 7: cylinders 1794..=2050, 56 sectors per track.
    let (first, count) = l.zone_lbns(7).unwrap();
    let mut seen = vec![false; count as usize];
    for cyl in 1794..=2050 {
        for head in 0..13 {
            for sector in 0..56 {
                let p = pbn(cyl, head, sector);
                if let Some(lbn) = l.lbn(p) {
                    assert!(lbn >= first && lbn < first + count);
                    assert!(!seen[(lbn - first) as usize], "lbn {lbn} twice");
                    seen[(lbn - first) as usize] = true;
                    assert_eq!(l.pbn(lbn), p);
                }
            }
        }
    }
    assert!(
        seen.iter().all(|s| *s),
        "every LBN of the zone has a sector"
    );
}

/// A drive imported from its DiskSim files (see `data/disksim/`).
fn imported(name: &str) -> HddModel {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/disksim")
        .join(name);
    let params = dmsim_models::disksim::import(&dir, name).unwrap().params;
    HddModel::new(params, Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1))).unwrap()
}

/// LBN → PBN → LBN over a sample of every imported drive, and runs that really are
/// consecutive sectors of one track.
#[test]
fn every_imported_layout_round_trips() {
    for name in [
        "dec_rz26",
        "cheetah4LP",
        "atlas10k",
        "st41601n",
        "hp_c2490a",
    ] {
        let m = imported(name);
        let l = m.layout();
        let cap = m.capacity_sectors();
        let mut lbn = 0;
        while lbn < cap {
            let run = l.run(lbn);
            let p = l.pbn(lbn);
            assert_eq!(l.lbn(p), Some(lbn), "{name}: lbn {lbn} -> {p:?}");
            if run.len > 1 {
                let q = l.pbn(lbn + 1);
                assert_eq!(
                    (q.cylinder, q.head, q.sector),
                    (p.cylinder, p.head, p.sector + 1),
                    "{name}: run at {lbn}"
                );
            }
            lbn += 7919;
        }
        assert_eq!(l.lbn(l.pbn(cap - 1)), Some(cap - 1), "{name}");
    }
}

#[test]
fn sectors_per_track_spares_and_reserved_space_of_the_dec_rz26() {
    let m = imported("dec_rz26");
    let l = m.layout();
    // 23,142 reserved positions = 406 tracks of 57 (58 sectors, one spare each).
    assert_eq!(l.pbn(0), pbn(29, 0, 0));
    assert_eq!(l.pbn(56), pbn(29, 0, 56));
    assert_eq!(l.lbn(pbn(29, 0, 57)), None, "the track's spare sector");
    assert_eq!(l.pbn(57), pbn(29, 1, 0));
    assert_eq!(l.run(0).len, 57);
}

#[test]
fn sectors_per_cylinder_slips_of_the_st41601n() {
    let m = imported("st41601n");
    let l = m.layout();
    // Zone 0 slips sector 351,027 = cylinder 242 (1,445 sectors, 6 spares), head 15,
    // sector 62; the cylinder's LBNs flow round it into its spares.
    let first_of_242 = 242 * (1445 - 6);
    assert_eq!(l.lbn(pbn(242, 15, 62)), None);
    assert_eq!(l.pbn(first_of_242 + 1336), pbn(242, 15, 61));
    assert_eq!(l.pbn(first_of_242 + 1337), pbn(242, 15, 63));
    assert_eq!(l.run(first_of_242 + 1336).len, 1);
    // The next cylinder starts unshifted, but the slip pushes its angle one sector on:
    // 3,888 track switches x 2 + 243 cylinder switches x 16 + 1, modulo 85.
    assert_eq!(l.pbn(243 * 1439), pbn(243, 0, 0));
    assert_eq!(
        l.angle_sectors(pbn(243, 0, 0)),
        (3888 * 2 + 243 * 16 + 1) % 85
    );
}

#[test]
fn range_sparing_of_the_cheetah_and_serpentine_zones_of_the_atlas() {
    let cheetah = imported("cheetah4LP");
    // Zone 0 slips sector 1,448,762: range 77 (12 cylinders of 1,560), cylinder 928,
    // head 5, sector 107.
    assert_eq!(cheetah.layout().lbn(pbn(928, 5, 107)), None);
    let atlas = imported("atlas10k");
    let l = atlas.layout();
    // Zone 1 starts at cylinder 433 after zone 0's 433 x 6 x 334 sectors less 89 spares;
    // its second cylinder runs from the last surface down.
    let zone1 = 433 * 6 * 334 - 89;
    assert_eq!(l.zone_lbns(1).map(|z| z.0), Some(zone1));
    assert_eq!(l.pbn(zone1), pbn(433, 0, 0));
    assert_eq!(l.pbn(zone1 + 6 * 334), pbn(434, 5, 0));
}
