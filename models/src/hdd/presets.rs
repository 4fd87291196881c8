//! Named HDD presets and where their numbers come from.
//!
//! - `hdd-7200`: a modern 3.5-inch 7200 rpm SATA drive (2 TB class), synthetic.
//! - `hdd-15k`: an enterprise 15,000 rpm SAS drive (600 GB class), synthetic.
//! - `hdd-hp-c2247a`: the HP C2247A exactly as DiskSim 4.0 describes it, parsed from the
//!   bundled DiskSim files (`models/data/disksim/hp_c2247a/`).
//!
//! The synthetic presets are shaped to published datasheet figures (seek, rpm, media rate,
//! cache size, interface); their zone tables, skews and controller overheads are
//! plausible values chosen by us, not measurements of a particular drive.

use super::params::{
    BusParams, CacheParams, CommandOverheads, ControllerParams, GeometryParams, HddParams,
    MechanicsParams, QueueParams, ReadAheadStop, SchedulerKind, SeekParams, Sparing, SurfaceOrder,
    ZoneParams,
};
use crate::disksim::{import_from, InMemoryFiles};
use crate::presets::PresetInfo;

/// How long a modern drive lets a queued command wait before serving it whatever its
/// position (NCQ aging). Vendors do not publish it; 2 s is an assumption: above the worst
/// waits of random IO at queue depth 32 (about 0.5 s), so ordinary workloads never meet it.
pub const NCQ_MAX_WAIT_NS: u64 = 2_000_000_000;

/// Every HDD preset with its description.
pub fn presets() -> Vec<(PresetInfo, HddParams)> {
    vec![
        (
            PresetInfo {
                name: "hdd-7200",
                summary:
                    "modern 7200 rpm 3.5-inch SATA disk, 2 TB, 64 MiB write-back cache, NCQ 32",
                source: "synthetic; shaped to 7200 rpm SATA datasheets: 8.3 ms mean random seek \
                         (8.6 ms one-third stroke), 4.17 ms mean rotational latency, 246-150 MB/s \
                         outer-inner media rate, 6 Gb/s interface",
            },
            hdd_7200(),
        ),
        (
            PresetInfo {
                name: "hdd-15k",
                summary:
                    "enterprise 15,000 rpm SAS disk, 600 GB, 16 MiB cache (write-through), TCQ 64",
                source: "synthetic; shaped to 15k rpm SAS datasheets (Seagate Cheetah 15K class): \
                         ~3.4 ms mean seek, 2.0 ms mean rotational latency, 198-122 MB/s media \
                         rate, 6 Gb/s interface",
            },
            hdd_15k(),
        ),
        (
            PresetInfo {
                name: "hdd-hp-c2247a",
                summary: "HP C2247A, 5400 rpm, 1 GB, 1993 SCSI-2 disk validated in DiskSim",
                source: "DiskSim 4.0 valid/hp_c2247a.diskspecs + hp_c2247a_validate.model + \
                         hp_c2247a.parv (westerndigitalcorporation/DiskSim@dc21ab0b), bundled \
                         in models/data/disksim/hp_c2247a",
            },
            hdd_hp_c2247a(),
        ),
    ]
}

/// Zones with sectors per track falling linearly from `spt_outer` to `spt_inner`, equal
/// cylinder counts, and skews sized to hide a head switch / one-cylinder seek (each
/// including the write settle, so sequential writes do not lose a turn at track
/// boundaries; plus a small margin) at each zone's sector time.
fn linear_zones(
    cylinders: u32,
    zones: u32,
    spt_outer: u32,
    spt_inner: u32,
    rpm: f64,
    head_switch_ns: u64,
    one_cylinder_seek_ns: u64,
) -> Vec<ZoneParams> {
    let per_zone = cylinders / zones;
    let period_ns = 60.0e9 / rpm;
    (0..zones)
        .map(|i| {
            let spt = spt_outer
                - ((u64::from(spt_outer - spt_inner) * u64::from(i)) / u64::from(zones - 1)) as u32;
            let sector_ns = period_ns / f64::from(spt);
            let skew = |ns: u64| ((ns as f64 + 20_000.0) / sector_ns).ceil() as u32 % spt;
            ZoneParams {
                first_cylinder: i * per_zone,
                last_cylinder: if i + 1 == zones {
                    cylinders - 1
                } else {
                    (i + 1) * per_zone - 1
                },
                sectors_per_track: spt,
                first_block_offset_sectors: 0,
                reserved_front_sectors: 0,
                track_skew_sectors: skew(head_switch_ns),
                cylinder_skew_sectors: skew(one_cylinder_seek_ns.max(head_switch_ns)),
                spares: 0,
                slips: Vec::new(),
                defects: Vec::new(),
            }
        })
        .collect()
}

/// HPL seek curve continuous at the boundary: `a + b√d` below, `c + e·d` from it on.
fn hpl(boundary: u32, base_ms: f64, sqrt_ms: f64, per_cylinder_ms: f64) -> SeekParams {
    let at_boundary = base_ms + sqrt_ms * f64::from(boundary).sqrt();
    SeekParams::Hpl {
        boundary_cylinders: boundary,
        short_base_ns: base_ms * 1e6,
        short_sqrt_ns: sqrt_ms * 1e6,
        long_base_ns: (at_boundary - per_cylinder_ms * f64::from(boundary)) * 1e6,
        long_per_cylinder_ns: per_cylinder_ms * 1e6,
        single_cylinder_ns: None,
        first_ten_ns: None,
    }
}

fn modern_controller(command_ns: u64) -> ControllerParams {
    let overheads = CommandOverheads {
        read_hit_ns: command_ns,
        read_miss_ns: command_ns,
        write_hit_ns: command_ns,
        write_miss_ns: command_ns,
    };
    ControllerParams {
        after_read: overheads.clone(),
        after_write: overheads,
        read_completion_ns: 10_000,
        write_completion_ns: 10_000,
        data_prep_ns: 5_000,
        reselect_first_ns: 5_000,
        reselect_other_ns: 5_000,
        disconnect_read_after_read_ns: 5_000,
        disconnect_read_after_write_ns: 5_000,
        disconnect_write_ns: 5_000,
        minimum_write_positioning_ns: 0,
        extra_write_disconnect: None,
    }
}

/// A 2 TB 7200 rpm SATA drive: 4 surfaces, 300,000 cylinders in 16 zones of 4000 down to
/// 2450 sectors per track; NCQ with rotational-position (SPTF) scheduling.
pub fn hdd_7200() -> HddParams {
    let rpm = 7200.0;
    let head_switch_ns = 600_000;
    let write_settle_ns: u64 = 500_000;
    HddParams {
        geometry: GeometryParams {
            surfaces: 4,
            surface_order: SurfaceOrder::Ascending,
            sparing: Sparing::None,
            zones: linear_zones(
                300_000,
                16,
                4000,
                2450,
                rpm,
                head_switch_ns + write_settle_ns,
                833_000 + write_settle_ns,
            ),
            exported_sectors: None,
        },
        mechanics: Box::new(MechanicsParams {
            rpm,
            rpm_error_percent: 0.0,
            rotation_phase: 0.0,
            head_switch_ns,
            write_settle_ns: write_settle_ns as i64,
            seek: hpl(30_000, 0.8, 0.033, 3.0e-5),
        }),
        controller: Box::new(modern_controller(40_000)),
        bus: BusParams {
            // 6 Gb/s SATA: ~600 MB/s.
            read_ns_per_sector: 853,
            write_ns_per_sector: 853,
        },
        cache: CacheParams {
            enabled: true,
            segments: 32,
            segment_sectors: 4096,
            dedicated_write_segment: false,
            read_hits_on_write_data: true,
            read_watermark: 0.5,
            watermark_by_request_size: true,
            read_ahead_max_sectors: 1024,
            read_ahead_min_sectors: 0,
            read_ahead_on_hit: true,
            read_ahead_stop: ReadAheadStop::Budget,
            write_back: true,
            read_ahead_fills_segment: false,
            read_drops_request_data: false,
            write_back_segments: None,
            zero_latency_reads: false,
            zero_latency_writes: false,
            combine_sequential_writes: false,
            read_any_free_blocks: false,
            partial_hit_transfers_at_once: false,
            read_ahead_stops_at_sector_end: false,
        },
        queue: QueueParams {
            depth: 32,
            scheduler: SchedulerKind::Sptf,
            max_wait_ns: Some(NCQ_MAX_WAIT_NS),
        },
    }
}

/// A 600 GB 15,000 rpm SAS drive: 8 surfaces, 117,000 cylinders in 12 zones of 1550 down
/// to 950 sectors per track; write cache off (the usual enterprise default).
pub fn hdd_15k() -> HddParams {
    let rpm = 15_000.0;
    let head_switch_ns = 300_000;
    let write_settle_ns: u64 = 400_000;
    HddParams {
        geometry: GeometryParams {
            surfaces: 8,
            surface_order: SurfaceOrder::Ascending,
            sparing: Sparing::None,
            zones: linear_zones(
                117_000,
                12,
                1550,
                950,
                rpm,
                head_switch_ns + write_settle_ns,
                372_000 + write_settle_ns,
            ),
            exported_sectors: None,
        },
        mechanics: Box::new(MechanicsParams {
            rpm,
            rpm_error_percent: 0.0,
            rotation_phase: 0.0,
            head_switch_ns,
            write_settle_ns: write_settle_ns as i64,
            seek: hpl(10_000, 0.35, 0.0225, 3.0e-5),
        }),
        controller: Box::new(modern_controller(30_000)),
        bus: BusParams {
            read_ns_per_sector: 853,
            write_ns_per_sector: 853,
        },
        cache: CacheParams {
            enabled: true,
            segments: 16,
            segment_sectors: 2048,
            dedicated_write_segment: false,
            read_hits_on_write_data: true,
            read_watermark: 0.5,
            watermark_by_request_size: true,
            read_ahead_max_sectors: 512,
            read_ahead_min_sectors: 0,
            read_ahead_on_hit: true,
            read_ahead_stop: ReadAheadStop::Budget,
            write_back: false,
            read_ahead_fills_segment: false,
            read_drops_request_data: false,
            write_back_segments: None,
            zero_latency_reads: false,
            zero_latency_writes: false,
            combine_sequential_writes: false,
            read_any_free_blocks: false,
            partial_hit_transfers_at_once: false,
            read_ahead_stops_at_sector_end: false,
        },
        queue: QueueParams {
            depth: 64,
            scheduler: SchedulerKind::Sptf,
            max_wait_ns: Some(NCQ_MAX_WAIT_NS),
        },
    }
}

const HP_C2247A_FILES: [(&str, &str); 3] = [
    (
        "hp_c2247a.diskspecs",
        include_str!("../../data/disksim/hp_c2247a/hp_c2247a.diskspecs"),
    ),
    (
        "hp_c2247a_validate.model",
        include_str!("../../data/disksim/hp_c2247a/hp_c2247a_validate.model"),
    ),
    (
        "hp_c2247a.parv",
        include_str!("../../data/disksim/hp_c2247a/hp_c2247a.parv"),
    ),
];

/// The HP C2247A from its bundled DiskSim 4.0 files.
pub fn hdd_hp_c2247a() -> HddParams {
    import_from(&InMemoryFiles(&HP_C2247A_FILES), "hp_c2247a")
        .expect("the bundled HP C2247A DiskSim files parse")
        .params
}
