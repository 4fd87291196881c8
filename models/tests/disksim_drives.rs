//! Every drive of DiskSim's `valid/` folder we hold imports, with the layout, mechanics,
//! cache options and unmodelled-parameter report its files describe, and the regressions
//! found while importing them.

use dmsim_models::disksim::{import, DiskSimImport};
use dmsim_models::hdd::{HddModel, ReadAheadStop, SeekParams, Sparing, SurfaceOrder};
use dmsim_models::TimingModel;
use rand_chacha::rand_core::SeedableRng;
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/disksim");

fn drive(name: &str) -> DiskSimImport {
    import(&Path::new(DATA).join(name), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn capacity(i: &DiskSimImport) -> u64 {
    HddModel::new(
        i.params.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
    .capacity_sectors()
}

/// A drive's expected layout: name, sparing, zones, surface order, capacity, points of
/// its extracted seek curve (None: HPL or not checked).
type Expected = (
    &'static str,
    Sparing,
    usize,
    SurfaceOrder,
    u64,
    Option<usize>,
);

/// Capacity as DiskSim computes it from the zones (the files' "Block count" is only a
/// hint DiskSim overrides; it agrees except where noted).
#[test]
fn every_drive_imports_with_its_layout() {
    let table: [Expected; 7] = [
        (
            "hp_c2247a",
            Sparing::TracksPerZone,
            8,
            SurfaceOrder::Ascending,
            2_054_864,
            None,
        ),
        // Its comment says the drive reports 1,743,672 blocks; the zones hold more.
        (
            "hp_c3323a",
            Sparing::TracksPerZone,
            8,
            SurfaceOrder::Ascending,
            2_056_008,
            Some(67),
        ),
        (
            "hp_c2490a",
            Sparing::TracksPerZone,
            11,
            SurfaceOrder::Ascending,
            4_165_272,
            Some(64),
        ),
        (
            "dec_rz26",
            Sparing::SectorsPerTrack,
            1,
            SurfaceOrder::Ascending,
            2_050_860,
            Some(64),
        ),
        (
            "cheetah4LP",
            Sparing::SectorsPerRange {
                range_cylinders: 12,
            },
            7,
            SurfaceOrder::Ascending,
            8_887_940,
            Some(103),
        ),
        (
            "atlas10k",
            Sparing::SectorsPerZone,
            24,
            SurfaceOrder::SerpentineInZone,
            17_966_953,
            None,
        ),
        (
            "st41601n",
            Sparing::SectorsPerCylinder,
            14,
            SurfaceOrder::Ascending,
            2_676_846,
            Some(58),
        ),
    ];
    for (name, sparing, zones, order, cap, seek_points) in table {
        let i = drive(name);
        let g = &i.params.geometry;
        assert_eq!(g.sparing, sparing, "{name}");
        assert_eq!(g.zones.len(), zones, "{name}");
        assert_eq!(g.surface_order, order, "{name}");
        assert_eq!(capacity(&i), cap, "{name}");
        if let Some(n) = seek_points {
            match &i.params.mechanics.seek {
                SeekParams::Table { points } => assert_eq!(points.len(), n, "{name}"),
                other => panic!("{name}: expected an extracted curve, got {other:?}"),
            }
        }
    }
}

#[test]
fn cache_and_controller_options_of_each_drive() {
    let atlas = drive("atlas10k").params;
    assert_eq!(atlas.cache.read_ahead_stop, ReadAheadStop::TrackAhead);
    assert!(atlas.cache.zero_latency_reads && atlas.cache.zero_latency_writes);
    assert!(atlas.cache.read_any_free_blocks);
    assert!(atlas.cache.write_back && atlas.cache.combine_sequential_writes);
    assert_eq!(atlas.cache.write_back_segments, Some(1));
    assert!(atlas.cache.read_ahead_stops_at_sector_end);
    assert_eq!(
        atlas.bus.read_ns_per_sector, 99_000,
        "the disk's own bulk time"
    );

    let cheetah = drive("cheetah4LP").params;
    assert!(cheetah.cache.write_back, "fast write level 1 is write-back");
    assert_eq!(cheetah.cache.read_ahead_max_sectors, 282);
    assert_eq!(cheetah.cache.read_ahead_stop, ReadAheadStop::Budget);

    let dec = drive("dec_rz26").params;
    assert_eq!(dec.cache.read_ahead_stop, ReadAheadStop::TrackEnd);
    assert!(dec.cache.zero_latency_reads && !dec.cache.zero_latency_writes);
    assert_eq!(dec.mechanics.write_settle_ns, -483_000);
    assert_eq!(dec.geometry.zones[0].reserved_front_sectors, 23_142);
    assert_eq!(dec.bus.read_ns_per_sector, 70_690, "from the .parv's bus");

    let c2490a = drive("hp_c2490a").params;
    assert!(c2490a.cache.enabled, "'Enable caching in buffer = 2' is on");
    assert_eq!(c2490a.cache.read_watermark, 0.0);
    assert_eq!(c2490a.mechanics.write_settle_ns, -642_000);

    let st = drive("st41601n").params;
    assert!(
        st.cache.read_drops_request_data,
        "'Read-ahead over requested = -1'"
    );
    assert_eq!(st.geometry.zones[5].slips.len(), 10);
}

#[test]
fn unmodelled_parameters_are_reported_per_drive() {
    for (name, expected) in [
        (
            "hp_c2247a",
            &["Hold bus entire write xfer", "Low (write) water mark"][..],
        ),
        ("hp_c3323a", &[]),
        ("hp_c2490a", &[]),
        ("dec_rz26", &[]),
        ("cheetah4LP", &[]),
        ("atlas10k", &[]),
        ("st41601n", &[]),
    ] {
        let i = drive(name);
        let names: Vec<&str> = i.unmodelled.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, expected, "{name}: {:?}", i.unmodelled);
    }
}

// Regression: the importer read the first disk of NAME.diskspecs (HP_C3323A, 5400 rpm,
// hp_c3323a.seek) instead of the disk the .parv instantiates; now it follows the topology.
#[test]
fn regression_hp_c3323a_uses_the_disk_its_parv_instantiates() {
    let p = drive("hp_c3323a").params;
    assert_eq!(p.mechanics.rpm, 5396.0);
    assert_eq!(p.bus.read_ns_per_sector, 145_500);
}

// Regression: the HP C2490A's last zone ends at cylinder 2629 of "2629 cylinders", which
// the importer refused; DiskSim takes the zone table as authoritative, and so do we.
#[test]
fn regression_zones_may_end_past_the_declared_cylinder_count() {
    let i = drive("hp_c2490a");
    assert_eq!(i.params.geometry.zones.last().unwrap().last_cylinder, 2629);
}

// Regression: a read watermark of 0 (four of the drives) was refused as outside (0, 1];
// DiskSim reconnects after the first sector then, as the model now does.
#[test]
fn regression_a_zero_read_watermark_is_valid() {
    let p = drive("cheetah4LP").params;
    assert_eq!(p.cache.read_watermark, 0.0);
    assert!(p.validate().is_ok());
}
