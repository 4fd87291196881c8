//! DiskSim 4.0 import: the calibration drive's real files, and small hand-written good and
//! bad files: every sparing scheme, the unmodelled-parameter report, finding the disk
//! through the .parv topology, and errors that name file, line and key.

use dmsim_models::disksim::{import, import_from, DiskSimErrorKind, DiskSimImport, InMemoryFiles};
use dmsim_models::hdd::{ReadAheadStop, SchedulerKind, SeekParams, Sparing, SurfaceOrder};
use std::path::Path;

const CALIBRATION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/disksim/hp_c2247a");

#[test]
fn hp_c2247a_imports_with_its_documented_values() {
    let imported = import(Path::new(CALIBRATION), "hp_c2247a").unwrap();
    let p = &imported.params;
    let g = &p.geometry;
    assert_eq!(g.surfaces, 13);
    assert_eq!(g.sparing, Sparing::TracksPerZone);
    assert_eq!(g.surface_order, SurfaceOrder::Ascending);
    assert_eq!(g.zones.len(), 8);
    let z0 = &g.zones[0];
    assert_eq!((z0.first_cylinder, z0.last_cylinder), (0, 558));
    assert_eq!(z0.sectors_per_track, 96);
    assert_eq!(z0.reserved_front_sectors, 1632);
    assert_eq!((z0.track_skew_sectors, z0.cylinder_skew_sectors), (14, 32));
    assert_eq!(z0.spares, 325);
    assert_eq!(z0.slips.len(), 12);
    assert_eq!(z0.slips[0], 468);
    let z7 = &g.zones[7];
    assert_eq!((z7.first_cylinder, z7.last_cylinder), (1794, 2050));
    assert_eq!(z7.sectors_per_track, 56);
    assert_eq!(z7.first_block_offset_sectors, 30);

    let m = &p.mechanics;
    assert_eq!(m.rpm, 5400.0);
    assert_eq!(m.head_switch_ns, 890_000);
    assert_eq!(m.write_settle_ns, 650_000);
    match &m.seek {
        SeekParams::Hpl {
            boundary_cylinders,
            short_base_ns,
            short_sqrt_ns,
            long_base_ns,
            long_per_cylinder_ns,
            single_cylinder_ns,
            first_ten_ns,
        } => {
            assert_eq!(*boundary_cylinders, 300);
            assert!((short_base_ns - 3_810_000.0).abs() < 1e-6);
            assert!((short_sqrt_ns - 330_000.0).abs() < 1e-6);
            assert!((long_base_ns - 7_750_000.0).abs() < 1e-6);
            assert!((long_per_cylinder_ns - 5_900.0).abs() < 1e-6);
            assert_eq!(*single_cylinder_ns, None);
            let ten = first_ten_ns.as_ref().unwrap();
            assert_eq!(ten.len(), 10);
            assert_eq!(ten[0], 2_890_000);
            assert_eq!(ten[9], 4_990_000);
        }
        other => panic!("expected an HPL curve, got {other:?}"),
    }

    let c = &p.controller;
    assert_eq!(c.after_read.read_hit_ns, 953_430);
    assert_eq!(c.after_read.read_miss_ns, 558_210);
    assert_eq!(c.after_write.write_miss_ns, 823_910);
    assert_eq!(c.read_completion_ns, 56_650);
    assert_eq!(c.write_completion_ns, 50_450);
    assert_eq!(c.data_prep_ns, 25_190);
    assert_eq!(c.reselect_first_ns, 162_490);
    assert_eq!(c.minimum_write_positioning_ns, 600_000);
    let extra = c.extra_write_disconnect.as_ref().unwrap();
    assert_eq!(extra.command_ns, 642_440);
    assert_eq!(extra.inter_disconnect_ns, 428_850);
    // From the .parv: the bus between the controller and the disk.
    assert_eq!(p.bus.read_ns_per_sector, 170_100);
    assert_eq!(p.bus.write_ns_per_sector, 186_860);

    assert_eq!(p.cache.segments, 2);
    assert_eq!(p.cache.segment_sectors, 256);
    assert_eq!(p.cache.read_ahead_max_sectors, 128);
    assert_eq!(p.cache.read_ahead_stop, ReadAheadStop::Budget);
    assert!(p.cache.read_ahead_on_hit);
    assert!(!p.cache.write_back);
    assert_eq!(p.queue.depth, 1);
    assert_eq!(p.queue.scheduler, SchedulerKind::Fcfs);
}

/// A small but complete drive, with an `extracted` seek curve. `{SEEK}` and the other
/// markers are replaced by the tests that break it.
const SPECS: &str = "\
disksim_disk TINY {
   Model = source tiny.model,
   Per-request overhead time = 0.0,
   Time scale for overheads = 1.0,
   Bulk sector transfer time = 0.01,
   Max queue length = 4,
   Scheduler = disksim_ioqueue {
      Scheduling policy = 4,
      Cylinder mapping strategy = 0
   },
   Number of buffer segments = 4,
   Segment size (in blks) = 64,
   Use separate write segment = 0,
   High (read) water mark = 0.5,
   Set watermark by reqsize = 1,
   Enable caching in buffer = 1,
   Buffer continuous read = 3,
   Minimum read-ahead (blks) = 0,
   Maximum read-ahead (blks) = 0,
   Read-ahead on idle hit = 1,
   Allow read hits on write data = 1,
   Fast write level = 1,
   Read hit over. after read = 0.1,
   Read hit over. after write = 0.1,
   Read miss over. after read = 0.2,
   Read miss over. after write = 0.2,
   Write hit over. after read = 0.3,
   Write hit over. after write = 0.3,
   Write miss over. after read = 0.3,
   Write miss over. after write = 0.3,
   Read completion overhead = 0.01,
   Write completion overhead = 0.01,
   Data preparation overhead = 0.0,
   First reselect overhead = 0.0,
   Other reselect overhead = 0.0,
   Read disconnect afterread = 0.0,
   Read disconnect afterwrite = 0.0,
   Write disconnect overhead = 0.0,
   Extra write disconnect = 0,
   Minimum seek delay = 0.0,
   Never disconnect = 0,
   Read-ahead over requested = 1,
   Read any free blocks = 0,
   Immediate buffer read = 0,
   Immediate buffer write = 0,
   Combine seq writes = 0,
   Immed transfer partial hit = 0,
   Stop prefetch in sector = 1,
   Maximum number of write segments = 2
}
";

const MODEL: &str = "\
dm_disk TINY_model {
   Number of data surfaces = 2,
   Number of cylinders = 100,
   Block count = 1000,
   Layout Model = dm_layout_g1 {
      LBN-to-PBN mapping scheme = 0,
      Sparing scheme used = {SPARING},
      Rangesize for sparing = 1,
      Zones = [
         dm_layout_g1_zone {
            First cylinder number = 0,
            Last cylinder number = 49,
            Blocks per track = {BPT},
            Offset of first block = 3,
            Empty space at zone front = 0,
            Skew for track switch = 2,
            Skew for cylinder switch = 5,
            Number of spares = 2,
            slips = [ 4 ],
            defects = {DEFECTS}
         },
         dm_layout_g1_zone {
            First cylinder number = 50,
            Last cylinder number = 99,
            Blocks per track = 8,
            Offset of first block = 0,
            Empty space at zone front = 0,
            Skew for track switch = 1,
            Skew for cylinder switch = 2,
            Number of spares = 0,
            slips = [],
            defects = []
         }
      ]
   },
   Mechanical Model = dm_mech_g1 {
      Access time type = trackSwitchPlusRotation,
      Seek type = {SEEK},
      Full seek curve = tiny.seek,
      Add. write settling delay = 0.1,
      Head switch time = 0.2,
      Rotation speed (in rpms) = 7200,
      Percent error in rpms = 0.0
   }
}
";

const SEEK: &str = "Seek distances measured: 3\n1, 0.5, 0.01\n10, 1.5\n99, 6.0\n";

fn model_text(sparing: &str, bpt: &str, defects: &str, seek: &str) -> String {
    MODEL
        .replace("{SPARING}", sparing)
        .replace("{BPT}", bpt)
        .replace("{DEFECTS}", defects)
        .replace("{SEEK}", seek)
}

fn import_tiny(
    specs: &str,
    model: &str,
    seek: &str,
) -> Result<dmsim_models::hdd::HddParams, dmsim_models::disksim::DiskSimError> {
    import_tiny_report(specs, model, seek).map(|i| i.params)
}

fn import_tiny_report(
    specs: &str,
    model: &str,
    seek: &str,
) -> Result<DiskSimImport, dmsim_models::disksim::DiskSimError> {
    let files: [(&str, &str); 3] = [
        ("tiny.diskspecs", specs),
        ("tiny.model", model),
        ("tiny.seek", seek),
    ];
    import_from(&InMemoryFiles(&files), "tiny")
}

#[test]
fn extracted_seek_curve_and_small_drive_import() {
    let model = model_text("9", "10", "[]", "extracted");
    let p = import_tiny(SPECS, &model, SEEK).unwrap();
    match &p.mechanics.seek {
        SeekParams::Table { points } => {
            assert_eq!(points.len(), 3);
            assert_eq!(points[0].distance_cylinders, 1);
            assert_eq!(points[0].seek_ns, 500_000);
            assert_eq!(points[2].distance_cylinders, 99);
            assert_eq!(points[2].seek_ns, 6_000_000);
        }
        other => panic!("expected a table, got {other:?}"),
    }
    assert_eq!(p.geometry.sparing, Sparing::SectorsPerZone);
    assert_eq!(p.geometry.zones[0].first_block_offset_sectors, 3);
    assert_eq!(p.queue.scheduler, SchedulerKind::Sstf);
    assert_eq!(p.queue.depth, 4);
    // No .parv: the bus runs at the disk's bulk sector transfer time.
    assert_eq!(p.bus.read_ns_per_sector, 10_000);
    // Maximum read-ahead 0 with continuous read means "a whole segment".
    assert_eq!(p.cache.read_ahead_max_sectors, 64);
    assert!(
        p.cache.write_back,
        "fast write level 1 is write-back caching"
    );
    assert!(p.controller.extra_write_disconnect.is_none());
}

#[test]
fn missing_key_is_reported_with_file_line_and_key() {
    let model =
        model_text("9", "10", "[]", "extracted").replace("      Head switch time = 0.2,\n", "");
    let err = import_tiny(SPECS, &model, SEEK).unwrap_err();
    assert_eq!(err.file, "tiny.model");
    assert_eq!(err.line, 36, "the line of the dm_mech_g1 block: {err}");
    match &err.kind {
        DiskSimErrorKind::MissingKey { key, block } => {
            assert_eq!(key, "Head switch time");
            assert_eq!(block, "dm_mech_g1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_type_is_reported_with_file_line_and_key() {
    let model = model_text("9", "ten", "[]", "extracted");
    let err = import_tiny(SPECS, &model, SEEK).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.model", 13));
    assert!(
        matches!(&err.kind, DiskSimErrorKind::WrongType { key, expected: "integer", found: "string" } if key == "Blocks per track"),
        "{err}"
    );
    let specs = SPECS.replace(
        "Number of buffer segments = 4",
        "Number of buffer segments = 4.5",
    );
    let model = model_text("9", "10", "[]", "extracted");
    let err = import_tiny(&specs, &model, SEEK).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.diskspecs", 11));
}

#[test]
fn malformed_file_is_a_syntax_error_at_its_line() {
    let specs = SPECS.replace("Max queue length = 4,", "Max queue length = 4");
    let model = model_text("9", "10", "[]", "extracted");
    let err = import_tiny(&specs, &model, SEEK).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.diskspecs", 7));
    assert!(matches!(err.kind, DiskSimErrorKind::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("Max queue length"), "{err}");
}

#[test]
fn unsupported_and_invalid_values_are_refused() {
    let model = model_text("11", "10", "[]", "extracted");
    let err = import_tiny(SPECS, &model, SEEK).unwrap_err();
    assert!(
        matches!(&err.kind, DiskSimErrorKind::InvalidValue { key, .. } if key == "Sparing scheme used"),
        "{err}"
    );
    assert_eq!(err.line, 7);

    // A defect may only move to a spare: sector 9 holds data.
    let model = model_text("9", "10", "[ 5, 9 ]", "extracted");
    let err = import_tiny(SPECS, &model, SEEK).unwrap_err();
    assert!(err.to_string().contains("defects"), "{err}");

    let model = model_text("9", "10", "[]", "spline");
    let err = import_tiny(SPECS, &model, SEEK).unwrap_err();
    assert!(err.to_string().contains("Seek type"), "{err}");

    let specs = SPECS.replace("Scheduling policy = 4", "Scheduling policy = 99");
    let model = model_text("9", "10", "[]", "extracted");
    let err = import_tiny(&specs, &model, SEEK).unwrap_err();
    assert_eq!(err.line, 8);
    assert!(err.to_string().contains("Scheduling policy"), "{err}");
}

#[test]
fn bad_seek_tables_and_missing_files_name_the_file() {
    let model = model_text("9", "10", "[]", "extracted");
    let err = import_tiny(SPECS, &model, "1, 0.5\n1, 0.7\n").unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.seek", 2));
    let err = import_tiny(SPECS, &model, "Seek distances measured: 3\n1, 0.5\n2, x\n").unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.seek", 3));
    let err = import_tiny(
        SPECS,
        &model,
        "Seek distances measured: 3\n1, 0.5\n2, 0.7\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("declares 3"), "{err}");

    // A missing Model file: a_missing_model_file_is_named_where_the_disk_references_it.
    let err = import(Path::new(CALIBRATION), "no_such_drive").unwrap_err();
    assert_eq!(err.file, "no_such_drive.diskspecs");
}

fn tiny_capacity(p: &dmsim_models::hdd::HddParams) -> u64 {
    use dmsim_models::TimingModel;
    use rand_chacha::rand_core::SeedableRng;
    dmsim_models::hdd::HddModel::new(
        p.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
    .capacity_sectors()
}

/// Every DiskSim sparing scheme maps to its layout, with DiskSim's capacity for it. Zone
/// 0 is 50 cylinders x 2 surfaces x 10 sectors with 2 spares and a slip at sector (or
/// track) 4; zone 1 (800 sectors) has neither.
#[test]
fn sparing_schemes_0_to_10_import_with_their_capacity() {
    let cases = [
        ("0", Sparing::None, 1000),
        ("1", Sparing::TracksPerZone, 1000 - 2 * 10),
        ("2", Sparing::SectorsPerCylinder, 1000 - 2 * 50),
        ("3", Sparing::SectorsPerTrack, 1000 - 2 * 100),
        ("4", Sparing::SectorsPerCylinderSlipToEnd, 1000 - 2 * 50 - 1),
        ("5", Sparing::SectorsPerCylinderAtFront, 1000 - 2 * 50),
        (
            "6",
            Sparing::SectorsPerCylinderAtFrontSlipToEnd,
            1000 - 2 * 50 - 1,
        ),
        ("7", Sparing::SectorsAtZoneEnd, 1000 - 1),
        (
            "8",
            Sparing::SectorsPerRange { range_cylinders: 1 },
            1000 - 2 * 50,
        ),
        ("9", Sparing::SectorsPerZone, 1000 - 2),
        ("10", Sparing::SectorsPerZoneSlipToEnd, 1000 - 2 - 1),
    ];
    for (scheme, sparing, zone0) in cases {
        let model = model_text(scheme, "10", "[]", "extracted");
        let i = import_tiny_report(SPECS, &model, SEEK).unwrap();
        assert_eq!(i.params.geometry.sparing, sparing, "scheme {scheme}");
        assert_eq!(tiny_capacity(&i.params), zone0 + 800, "scheme {scheme}");
        // Schemes 0 and 7 ignore what they cannot use, and say so.
        let names: Vec<&str> = i.unmodelled.iter().map(|u| u.name.as_str()).collect();
        let expected: &[&str] = match scheme {
            "0" => &["Number of spares", "slips"],
            "7" => &["Number of spares"],
            _ => &[],
        };
        assert_eq!(names, expected, "scheme {scheme}");
    }
    // Ranges of 3 cylinders: 16 complete ranges keep spares, the last 2 cylinders none.
    let model = model_text("8", "10", "[]", "extracted")
        .replace("Rangesize for sparing = 1", "Rangesize for sparing = 3");
    let p = import_tiny(SPECS, &model, SEEK).unwrap();
    assert_eq!(
        p.geometry.sparing,
        Sparing::SectorsPerRange { range_cylinders: 3 }
    );
    assert_eq!(tiny_capacity(&p), 1000 - 2 * 16 + 800);
    // A defect whose spare is free relocates its LBN there.
    let model = model_text("9", "10", "[ 5, 999 ]", "extracted");
    let p = import_tiny(SPECS, &model, SEEK).unwrap();
    assert_eq!(
        p.geometry.zones[0].defects,
        [dmsim_models::hdd::DefectRemap {
            defect: 5,
            spare: 999
        }]
    );
}

/// Options whose value changes DiskSim's timing in ways the model does not follow are
/// reported by name, value and place; their neutral values and bookkeeping are not.
#[test]
fn unmodelled_options_are_reported_by_name() {
    let model = model_text("9", "10", "[]", "extracted");
    let baseline = import_tiny_report(SPECS, &model, SEEK).unwrap();
    assert!(baseline.unmodelled.is_empty(), "{:?}", baseline.unmodelled);

    let specs = SPECS
        .replace(
            "   Extra write disconnect = 0,",
            "   Extra write disconnect = 0,\n   Preseeking level = 2,\n   Allow almost read hits = 0,\n   Turbo mode = 1,\n   Data preparation overhead = 0.05,\n   Hold bus entire read xfer = 0,",
        )
        .replace("   Data preparation overhead = 0.0,\n", "");
    let i = import_tiny_report(&specs, &model, SEEK).unwrap();
    let found: Vec<(&str, &str, &str)> = i
        .unmodelled
        .iter()
        .map(|u| (u.name.as_str(), u.value.as_str(), u.location.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("Preseeking level", "2", "tiny.diskspecs:39"),
            ("Hold bus entire read xfer", "0", "tiny.diskspecs:43"),
            ("Turbo mode", "1", "tiny.diskspecs:41"),
        ],
        "{:?}",
        i.unmodelled
    );
    assert!(i.unmodelled.iter().all(|u| u.block == "disksim_disk TINY"));
    assert!(i.unmodelled[2].reason.contains("not a parameter"));
}

/// The disk is the one the .parv's topology places, looked up in the files it sources,
/// with the transfer time of the bus right above it.
#[test]
fn the_parv_topology_selects_the_disk_and_its_bus() {
    let model = model_text("9", "10", "[]", "extracted");
    let other = SPECS
        .replace("disksim_disk TINY", "disksim_disk DECOY")
        .replace("Max queue length = 4", "Max queue length = 9");
    let both = format!("{other}\n{SPECS}");
    let parv = "\
disksim_bus SLOW { type = 1, Arbitration type = 1, Arbitration time = 0.0, Read block transfer time = 0.5, Write block transfer time = 0.25, Print stats = 0 }
disksim_bus FAST { type = 1, Arbitration type = 1, Arbitration time = 0.0, Read block transfer time = 0.0, Write block transfer time = 0.0, Print stats = 0 }
disksim_ctlr CTLR { type = 1, Scale for delays = 0.0, Bulk sector transfer time = 0.0, Maximum queue length = 0, Print stats = 1 }
source both.diskspecs
instantiate [ bus0 ] as FAST
instantiate [ bus1 ] as SLOW
instantiate [ ctlr0 ] as CTLR
instantiate [ disk0 ] as TINY
topology disksim_iodriver driver0 [
   disksim_bus bus0 [ disksim_ctlr ctlr0 [ disksim_bus bus1 [ disksim_disk disk0 [] ] ] ]
]
";
    let files: [(&str, &str); 4] = [
        ("tiny.parv", parv),
        ("both.diskspecs", &both),
        ("tiny.model", &model),
        ("tiny.seek", SEEK),
    ];
    let i = import_from(&InMemoryFiles(&files), "tiny").unwrap();
    assert_eq!(
        i.params.queue.depth, 4,
        "TINY, not the DECOY sourced before it"
    );
    assert_eq!(i.params.bus.read_ns_per_sector, 500_000);
    assert_eq!(i.params.bus.write_ns_per_sector, 250_000);
    assert!(i.unmodelled.is_empty(), "{:?}", i.unmodelled);

    // An instance the .parv never instantiates is an error naming the file and line.
    let broken = parv.replace("instantiate [ disk0 ] as TINY\n", "");
    let files: [(&str, &str); 4] = [
        ("tiny.parv", &broken),
        ("both.diskspecs", &both),
        ("tiny.model", &model),
        ("tiny.seek", SEEK),
    ];
    let err = import_from(&InMemoryFiles(&files), "tiny").unwrap_err();
    assert_eq!(err.file, "tiny.parv");
    assert!(err.to_string().contains("disk0"), "{err}");
}

/// Found by fuzzing (tests/fuzz_parsers.rs): a disk whose `Model = source FILE` names a file
/// that does not exist failed with `FILE:0: cannot read file: no such file` — the missing
/// file's own name and line 0, so nothing said where it was referenced. The error now names
/// the disk's file and the Model line.
#[test]
fn a_missing_model_file_is_named_where_the_disk_references_it() {
    let specs = SPECS.replace("source tiny.model", "source nowhere.model");
    let model = model_text("9", "10", "[]", "extracted");
    let err = import_tiny(&specs, &model, SEEK).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("tiny.diskspecs", 2));
    assert!(matches!(err.kind, DiskSimErrorKind::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("Model file 'nowhere.model' not found"),
        "{err}"
    );
}
