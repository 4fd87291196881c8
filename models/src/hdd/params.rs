//! Parameters of the mechanical disk model: plain serde data, grouped by concept, each
//! field with its unit in its name. This module owns the parameter schema and its
//! validation; it does not interpret the parameters (layout, seek, rotation, cache and
//! controller modules do).
//!
//! Every parameter is a plain serde field so that a scenario can override it by dotted
//! path (`mechanics.head_switch_ns`, `cache.segments`, `queue.scheduler`).

use crate::ModelError;
use serde::{Deserialize, Serialize};

/// Everything the HDD model needs to know about one drive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HddParams {
    /// Surfaces, zones, skews, spares and slips: where each LBN lives.
    pub geometry: GeometryParams,
    /// Spindle, seek curve, head switch, write settle. (Boxed, like `controller`, to keep
    /// the parameter enums of all device kinds small; serde sees through the box.)
    pub mechanics: Box<MechanicsParams>,
    /// Per-command firmware overheads and bus (re)connection costs.
    pub controller: Box<ControllerParams>,
    /// Host interface transfer rate.
    pub bus: BusParams,
    /// Segmented on-board cache and read-ahead.
    pub cache: CacheParams,
    /// Command queue and scheduling policy.
    pub queue: QueueParams,
}

/// Order in which surfaces are visited within a cylinder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceOrder {
    /// Every cylinder goes from surface 0 upwards.
    Ascending,
    /// Odd cylinders (counted from the start of their zone) go downwards, so a cylinder
    /// switch stays on the same surface (DiskSim mapping scheme 1).
    SerpentineInZone,
    /// Odd cylinders (absolute number) go downwards (DiskSim mapping scheme 2).
    Serpentine,
}

/// How spare space is reserved and how slipped (defective) locations are skipped: the
/// eleven schemes of DiskSim 4.0's `dm_layout_g1` ("Sparing scheme used" 0-10).
///
/// Slips are physical locations within the zone (tracks for [`Sparing::TracksPerZone`],
/// sectors otherwise, counted in track order from the zone's first sector) that hold no
/// LBN. In the *local* schemes a slip consumes a spare of its own group (track, cylinder,
/// range or zone), so later groups are unaffected; in the *slip-to-end* schemes every slip
/// pushes all later LBNs of the zone one position on and costs one sector of capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sparing {
    /// Scheme 0: no spares; slips and spares must be empty.
    None,
    /// Scheme 1: `spares` whole tracks at the end of each zone; slips are track indices.
    TracksPerZone,
    /// Scheme 2: `spares` sectors at the end of each cylinder; local slips.
    SectorsPerCylinder,
    /// Scheme 3: `spares` sectors at the end of each track; local slips. Slips on earlier
    /// tracks of the zone also push the track's first sector one sector round (skew).
    SectorsPerTrack,
    /// Scheme 4: `spares` sectors at the end of each cylinder; slips slip to the zone's end.
    SectorsPerCylinderSlipToEnd,
    /// Scheme 5: `spares` sectors at the front of each cylinder; local slips.
    SectorsPerCylinderAtFront,
    /// Scheme 6: `spares` sectors at the front of each cylinder; slips slip to the end.
    SectorsPerCylinderAtFrontSlipToEnd,
    /// Scheme 7: no reserved spares; each slip costs one sector at the end of the zone.
    SectorsAtZoneEnd,
    /// Scheme 8: `spares` sectors at the end of each range of `range_cylinders` cylinders
    /// (a trailing partial range has none); local slips.
    SectorsPerRange {
        /// Cylinders per range ("Rangesize for sparing").
        range_cylinders: u32,
    },
    /// Scheme 9: `spares` sectors at the end of each zone; local slips.
    SectorsPerZone,
    /// Scheme 10: as [`Sparing::SectorsPerZone`], but each slip also costs one sector of
    /// capacity.
    SectorsPerZoneSlipToEnd,
}

impl Sparing {
    /// Slips on earlier cylinders (schemes 2, 4, 5, 6) or earlier tracks (scheme 3) of the
    /// zone push a track's sectors one sector further round each, as DiskSim lays them
    /// out.
    pub fn slips_push_skew(self) -> bool {
        matches!(
            self,
            Sparing::SectorsPerCylinder
                | Sparing::SectorsPerTrack
                | Sparing::SectorsPerCylinderSlipToEnd
                | Sparing::SectorsPerCylinderAtFront
                | Sparing::SectorsPerCylinderAtFrontSlipToEnd
        )
    }
}

/// A defective location whose data lives in a spare elsewhere in the zone (DiskSim's
/// `defects` pairs). Units as for slips: tracks under [`Sparing::TracksPerZone`], sectors
/// otherwise, counted from the zone's first sector in track order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectRemap {
    /// The defective location, whose LBNs are relocated.
    pub defect: u64,
    /// Where they are stored instead.
    pub spare: u64,
}

/// One band of cylinders with the same number of sectors per track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneParams {
    /// First cylinder of the zone.
    pub first_cylinder: u32,
    /// Inclusive.
    pub last_cylinder: u32,
    /// Physical sectors on each track of the zone.
    pub sectors_per_track: u32,
    /// Angular position, in sectors, of physical sector 0 of the zone's first track.
    pub first_block_offset_sectors: u32,
    /// Physical sectors at the front of the zone that hold no LBN (management area).
    pub reserved_front_sectors: u64,
    /// Sectors the angular position advances at each head switch within a cylinder.
    pub track_skew_sectors: u32,
    /// Sectors the angular position advances at each cylinder switch.
    pub cylinder_skew_sectors: u32,
    /// Spare tracks or sectors at the end of the zone (unit set by [`Sparing`]).
    pub spares: u64,
    /// Slipped physical locations within the zone (tracks or sectors, per [`Sparing`]),
    /// ascending.
    pub slips: Vec<u64>,
    /// Defective locations whose data is relocated to spares.
    #[serde(default)]
    pub defects: Vec<DefectRemap>,
}

/// Layout of the drive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeometryParams {
    /// Data surfaces (heads).
    pub surfaces: u32,
    /// Order of surfaces within a cylinder.
    pub surface_order: SurfaceOrder,
    /// Spare space and slip handling.
    pub sparing: Sparing,
    /// Zones in ascending cylinder order; cylinders between zones hold no data.
    pub zones: Vec<ZoneParams>,
    /// Expose only the first this-many sectors (None: the whole zoned capacity).
    pub exported_sectors: Option<u64>,
}

/// Seek time as a function of distance in cylinders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SeekParams {
    /// Ruemmler–Wilkes / HP-Labs equation: `short_base + short_sqrt·√d` below
    /// `boundary_cylinders`, `long_base + long_per_cylinder·d` from it on; distances 1..=10
    /// may be given explicitly (DiskSim `hplplus10`).
    Hpl {
        /// Distance (cylinders) from which the linear part applies.
        boundary_cylinders: u32,
        /// Constant of the short-seek part.
        short_base_ns: f64,
        /// Multiplier of √distance in the short-seek part.
        short_sqrt_ns: f64,
        /// Constant of the long-seek part.
        long_base_ns: f64,
        /// Time per cylinder in the long-seek part.
        long_per_cylinder_ns: f64,
        /// Time of a one-cylinder seek, if not from the equation (and no first ten).
        single_cylinder_ns: Option<u64>,
        /// Measured times of seeks of 1..=10 cylinders.
        first_ten_ns: Option<Vec<u64>>,
    },
    /// Measured (distance, time) points, linearly interpolated and extrapolated from the
    /// last two points (DiskSim `extracted`).
    Table {
        /// Measured points, ascending in distance.
        points: Vec<SeekPoint>,
    },
    /// Every non-zero seek takes the same time.
    Constant {
        /// The time of every non-zero seek.
        seek_ns: u64,
    },
}

/// One measured point of a seek curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeekPoint {
    /// Seek distance.
    pub distance_cylinders: u32,
    /// Measured seek time at that distance.
    pub seek_ns: u64,
}

/// Spindle and actuator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MechanicsParams {
    /// Nominal spindle speed (revolutions per minute).
    pub rpm: f64,
    /// The actual speed is drawn once, uniformly within ± this percentage of `rpm`, from
    /// the model's seeded stream.
    pub rpm_error_percent: f64,
    /// Angular position (fraction of a revolution, 0..1) of the platters at time 0.
    pub rotation_phase: f64,
    /// Time to switch the active head to another surface.
    pub head_switch_ns: u64,
    /// Added to every non-zero repositioning before a write; may be negative (DiskSim
    /// fits shorter positioning for writes on some drives), the sum never goes below 0.
    pub write_settle_ns: i64,
    /// Seek curve.
    pub seek: SeekParams,
}

/// Per-command overheads that depend on the command and cache outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandOverheads {
    /// Read whose data is in the buffer.
    pub read_hit_ns: u64,
    /// Read that needs the media.
    pub read_miss_ns: u64,
    /// Write accepted into the buffer (write-back).
    pub write_hit_ns: u64,
    /// Write that goes to the media (write-through).
    pub write_miss_ns: u64,
}

/// The extra disconnect/reconnect cycle some drives perform for a write that follows a
/// non-sequential write (DiskSim's "Extra write disconnect" parameters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraWriteDisconnect {
    /// Command overhead of such a write (replaces the write-miss overhead).
    pub command_ns: u64,
    /// Before the first disconnect.
    pub disconnect_ns: u64,
    /// Between the first disconnect and the reconnection for the data.
    pub inter_disconnect_ns: u64,
    /// Disconnect after the data phase.
    pub second_disconnect_ns: u64,
    /// Added to `command_ns` before the mechanism may start positioning.
    pub seek_delta_ns: u64,
    /// The media write starts only once this many sectors (or the whole request, if
    /// smaller) are in the buffer ...
    pub media_start_buffered_sectors: u32,
    /// ... or this many, for requests of at least `large_request_sectors`.
    pub media_start_buffered_sectors_large: u32,
    /// Requests at least this large use the larger start threshold.
    pub large_request_sectors: u32,
}

/// Controller (firmware) timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerParams {
    /// Command overheads when the previous command was a read.
    pub after_read: CommandOverheads,
    /// Command overheads when the previous command was a write.
    pub after_write: CommandOverheads,
    /// From the end of a read's data phase to the host seeing completion.
    pub read_completion_ns: u64,
    /// From reconnection after a write's media access to the host seeing completion.
    pub write_completion_ns: u64,
    /// Before each data transfer phase.
    pub data_prep_ns: u64,
    /// Reconnecting to the host for the first time in a command ...
    pub reselect_first_ns: u64,
    /// ... and for later times (after an extra write disconnect).
    pub reselect_other_ns: u64,
    /// Disconnect after a read command when the previous command was a read.
    pub disconnect_read_after_read_ns: u64,
    /// ... when the previous command was a write.
    pub disconnect_read_after_write_ns: u64,
    /// Disconnect after a write's data phase.
    pub disconnect_write_ns: u64,
    /// Positioning for a write takes at least this long.
    pub minimum_write_positioning_ns: u64,
    /// None: no drive-specific extra disconnect for writes.
    pub extra_write_disconnect: Option<ExtraWriteDisconnect>,
}

/// Host interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusParams {
    /// Time to send one sector to the host.
    pub read_ns_per_sector: u64,
    /// Time to receive one sector from the host.
    pub write_ns_per_sector: u64,
}

/// Where background read-ahead stops, besides its sector budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadAheadStop {
    /// Only the budget (`read_ahead_max_sectors`) and the segment size limit it.
    Budget,
    /// Read-ahead never moves the heads to another track.
    TrackEnd,
    /// Read-ahead never leaves the cylinder.
    CylinderEnd,
    /// Read ahead to the end of the track holding the sector after the request, or to the
    /// end of the next track when the segment already held data from before that track (a
    /// sequential stream stays a track ahead). The budget does not apply (DiskSim's
    /// "Buffer continuous read" 4).
    TrackAhead,
}

/// Segmented on-board cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheParams {
    /// Serve reads from cached data; false makes every read a miss.
    pub enabled: bool,
    /// Number of segments.
    pub segments: u32,
    /// Sectors per segment.
    pub segment_sectors: u32,
    /// Reserve one segment for writes.
    pub dedicated_write_segment: bool,
    /// Reads may hit data left in the cache by writes.
    pub read_hits_on_write_data: bool,
    /// Fraction of the request (or segment) that must be buffered before a read miss
    /// reconnects to the bus (at least one sector).
    pub read_watermark: f64,
    /// Watermark relative to the request size (true) or to the segment size (false).
    pub watermark_by_request_size: bool,
    /// Sectors read beyond a read request (0 disables read-ahead).
    pub read_ahead_max_sectors: u32,
    /// Read-ahead that may not be interrupted by the next command.
    pub read_ahead_min_sectors: u32,
    /// A read hit on an idle drive restarts read-ahead beyond it.
    pub read_ahead_on_hit: bool,
    /// Where read-ahead stops besides its budget.
    pub read_ahead_stop: ReadAheadStop,
    /// The read-ahead budget is what the segment has left after the request (but at
    /// least `read_ahead_min_sectors`) instead of `read_ahead_max_sectors` (DiskSim's
    /// "Read-ahead over requested" = 0 with no maximum read-ahead).
    #[serde(default)]
    pub read_ahead_fills_segment: bool,
    /// Once a read has its data, the segment forgets everything up to the read's end, so
    /// only read-ahead data stays for later hits (DiskSim's "Read-ahead over requested"
    /// = -1).
    #[serde(default)]
    pub read_drops_request_data: bool,
    /// Acknowledge writes once in the (volatile) cache; FLUSH and FUA make them durable.
    pub write_back: bool,
    /// Segments that may hold write-back data at once (None: all of them).
    #[serde(default)]
    pub write_back_segments: Option<u32>,
    /// Zero-latency writes: on reaching a track whose data is all buffered, start writing
    /// at the next sector under the head and pick up the skipped ones on the next pass
    /// (DiskSim's "Immediate buffer write").
    #[serde(default)]
    pub zero_latency_writes: bool,
    /// A write-back write that continues a write still waiting to be destaged joins it:
    /// same segment, one destage (DiskSim's "Combine seq writes").
    #[serde(default)]
    pub combine_sequential_writes: bool,
    /// Zero-latency reads: on reaching a track, start reading at the next sector under the
    /// head when it falls inside the wanted sectors, and pick up the skipped ones on the
    /// next pass (DiskSim's "Immediate buffer read").
    #[serde(default)]
    pub zero_latency_reads: bool,
    /// On reaching a read's first track ahead of its first sector, buffer the sectors of
    /// that track passing under the head before it (DiskSim's "Read any free blocks");
    /// also makes the access zero-latency.
    #[serde(default)]
    pub read_any_free_blocks: bool,
    /// A read whose first sectors are buffered starts its data phase at once, whatever the
    /// watermark (DiskSim's "Immed transfer partial hit").
    #[serde(default)]
    pub partial_hit_transfers_at_once: bool,
    /// Stopping read-ahead for a new command waits for the sector under the head to pass
    /// (DiskSim's "Stop prefetch in sector" = 0; like DiskSim, the sector's data is not
    /// kept); false abandons it at once.
    #[serde(default)]
    pub read_ahead_stops_at_sector_end: bool,
}

/// Command scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// First come, first served.
    Fcfs,
    /// Shortest seek (cylinder distance) first.
    Sstf,
    /// Ascending cylinder sweep, wrapping to the lowest pending cylinder.
    #[serde(rename = "clook")]
    CLook,
    /// Shortest positioning time (seek + rotational latency) first.
    Sptf,
}

/// Command queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueParams {
    /// Commands the drive considers at once (older commands first); 1 makes the
    /// scheduler irrelevant.
    pub depth: u32,
    /// Policy choosing among the `depth` oldest commands.
    pub scheduler: SchedulerKind,
    /// Aging: once the oldest queued command has waited this long, it is served next,
    /// whatever the policy prefers (NCQ firmware bounds a command's wait so that a stream
    /// of near commands cannot starve a far one). `None`: no bound (DiskSim's behaviour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ns: Option<u64>,
}

impl HddParams {
    /// Check the parameters for consistency; errors name the offending field.
    pub fn validate(&self) -> Result<(), ModelError> {
        let g = &self.geometry;
        check(g.surfaces >= 1, "geometry.surfaces", "must be at least 1")?;
        if let Sparing::SectorsPerRange { range_cylinders } = g.sparing {
            check(
                range_cylinders >= 1,
                "geometry.sparing.sectors_per_range.range_cylinders",
                "must be at least 1",
            )?;
        }
        check(!g.zones.is_empty(), "geometry.zones", "at least one zone")?;
        let mut next_cylinder = 0u32;
        for (i, z) in g.zones.iter().enumerate() {
            let key = |field: &str| format!("geometry.zones[{i}].{field}");
            // Cylinders between zones (spare cylinders) hold no data; zones may not overlap.
            check(
                z.first_cylinder >= next_cylinder,
                &key("first_cylinder"),
                &format!("zones must ascend without overlap; expected >= {next_cylinder}"),
            )?;
            check(
                z.last_cylinder >= z.first_cylinder,
                &key("last_cylinder"),
                "must not be below first_cylinder",
            )?;
            check(
                z.sectors_per_track >= 1,
                &key("sectors_per_track"),
                "must be at least 1",
            )?;
            check(
                z.slips.windows(2).all(|w| w[0] < w[1]),
                &key("slips"),
                "must be strictly ascending",
            )?;
            check(
                g.sparing != Sparing::None || (z.slips.is_empty() && z.spares == 0),
                &key("slips"),
                "sparing 'none' allows no spares and no slips",
            )?;
            next_cylinder = z.last_cylinder + 1;
        }
        let m = &self.mechanics;
        check(
            m.rpm.is_finite() && m.rpm >= 60.0,
            "mechanics.rpm",
            "must be at least 60",
        )?;
        check(
            (0.0..50.0).contains(&m.rpm_error_percent),
            "mechanics.rpm_error_percent",
            "must be in [0, 50)",
        )?;
        check(
            (0.0..1.0).contains(&m.rotation_phase),
            "mechanics.rotation_phase",
            "must be in [0, 1)",
        )?;
        match &m.seek {
            SeekParams::Hpl {
                short_base_ns,
                short_sqrt_ns,
                long_base_ns,
                long_per_cylinder_ns,
                first_ten_ns,
                ..
            } => {
                for (name, v) in [
                    ("short_base_ns", short_base_ns),
                    ("short_sqrt_ns", short_sqrt_ns),
                    ("long_base_ns", long_base_ns),
                    ("long_per_cylinder_ns", long_per_cylinder_ns),
                ] {
                    check(
                        v.is_finite() && *v >= 0.0,
                        &format!("mechanics.seek.{name}"),
                        "must be a non-negative number",
                    )?;
                }
                if let Some(ten) = first_ten_ns {
                    check(
                        ten.len() == 10,
                        "mechanics.seek.first_ten_ns",
                        "must hold exactly 10 values",
                    )?;
                }
            }
            SeekParams::Table { points } => {
                check(
                    points.len() >= 2,
                    "mechanics.seek.points",
                    "need at least two points",
                )?;
                check(
                    points[0].distance_cylinders >= 1
                        && points
                            .windows(2)
                            .all(|w| w[0].distance_cylinders < w[1].distance_cylinders),
                    "mechanics.seek.points",
                    "distances must start at 1 or more and be strictly ascending",
                )?;
            }
            SeekParams::Constant { .. } => {}
        }
        let c = &self.cache;
        check(c.segments >= 1, "cache.segments", "must be at least 1")?;
        check(
            !c.dedicated_write_segment || c.segments >= 2,
            "cache.dedicated_write_segment",
            "needs at least 2 segments",
        )?;
        check(
            c.segment_sectors >= 1,
            "cache.segment_sectors",
            "must be at least 1",
        )?;
        if let Some(n) = c.write_back_segments {
            check(
                (1..=c.segments).contains(&n),
                "cache.write_back_segments",
                "must be between 1 and the number of segments",
            )?;
        }
        check(
            (0.0..=1.0).contains(&c.read_watermark),
            "cache.read_watermark",
            "must be in [0, 1]",
        )?;
        check(self.queue.depth >= 1, "queue.depth", "must be at least 1")?;
        Ok(())
    }
}

fn check(ok: bool, key: &str, reason: &str) -> Result<(), ModelError> {
    if ok {
        Ok(())
    } else {
        Err(ModelError::InvalidParameter {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    }
}
