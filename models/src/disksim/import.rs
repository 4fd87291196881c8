//! DiskSim 4.0 drive description → [`HddParams`].
//!
//! Owns the mapping from DiskSim parameter names and units (milliseconds, 0/1 flags,
//! numbered schemes) to this model's parameters. It does not parse (see `syntax`) and does
//! not simulate. Parameters DiskSim accepts but this model does not reproduce are refused
//! as `Unsupported` when they would change timing in a way we cannot honour (sparing
//! schemes 2-8, defect remapping, the DEC prefetch scheme, access-time types other than
//! `trackSwitchPlusRotation`), and ignored when they are bookkeeping (statistics,
//! printing, "Avg sectors per cylinder", "Full strobe seek time", ...).
//!
//! Accepted but not modelled (the model behaves as with DiskSim's values for the HP
//! C2247A): "Hold bus entire read/write xfer" (reads hold the bus once reconnected),
//! "Allow almost/sneaky ... read hits" (off), "Allow write prebuffering" (off),
//! "Preseeking level" (0), "Never disconnect" (0), "Immediate buffer read/write" and
//! zero-latency access (off), "Read any free blocks" (off), "Stop prefetch in sector" (a
//! prefetch stops mid-track at once), "Low (write) water mark", "Maximum number of write
//! segments", "Combine seq writes", "Read directly to buffer", and the I/O driver's and
//! controller's own scheduler and delays in the `.parv` (only the disk's bus transfer
//! time is read from it).

use super::seek_table::parse_seek_table;
use super::syntax::{parse, Block, Document, Item, TopologyNode, ValueKind};
use super::{DiskSimError, DiskSimErrorKind};
use crate::hdd::{
    BusParams, CacheParams, CommandOverheads, ControllerParams, ExtraWriteDisconnect,
    GeometryParams, HddParams, MechanicsParams, QueueParams, ReadAheadStop, SchedulerKind,
    SeekParams, Sparing, SurfaceOrder, ZoneParams,
};
use std::path::Path;

/// Where the importer finds files named by `NAME.diskspecs`, `source` statements and
/// `Full seek curve` parameters.
pub trait SourceFiles {
    /// The text of `file_name`, or `Ok(None)` if there is no such file.
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError>;
}

/// Files in a directory.
struct DirSources<'a>(&'a Path);

impl SourceFiles for DirSources<'_> {
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError> {
        let path = self.0.join(file_name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DiskSimError::new(
                &path.display().to_string(),
                0,
                DiskSimErrorKind::Io {
                    reason: e.to_string(),
                },
            )),
        }
    }
}

/// Files held in memory as (name, text) pairs (e.g. `include_str!`-ed presets).
#[derive(Debug, Clone, Copy)]
pub struct InMemoryFiles<'a>(pub &'a [(&'a str, &'a str)]);

impl SourceFiles for InMemoryFiles<'_> {
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError> {
        Ok(self
            .0
            .iter()
            .find(|(name, _)| *name == file_name)
            .map(|(_, text)| text.to_string()))
    }
}

/// Import `DIR/NAME.diskspecs` (and what it sources, and `DIR/NAME.parv` if present).
pub fn import(dir: &Path, name: &str) -> Result<HddParams, DiskSimError> {
    import_from(&DirSources(dir), name)
}

/// Import drive `name` from `files` (see [`import`]).
pub fn import_from(files: &dyn SourceFiles, name: &str) -> Result<HddParams, DiskSimError> {
    let specs_name = format!("{name}.diskspecs");
    let specs = load(files, &specs_name)?;
    let disk = specs
        .blocks_of_type("disksim_disk")
        .next()
        .ok_or_else(|| not_found(&specs_name, "a 'disksim_disk' block"))?;

    let model_param = disk.require("Model")?;
    let model_doc;
    let model: &Block = match &model_param.value.kind {
        ValueKind::Source(file) => {
            model_doc = load(files, file)?;
            model_doc
                .blocks_of_type("dm_disk")
                .next()
                .ok_or_else(|| not_found(file, "a 'dm_disk' block"))?
        }
        ValueKind::Block(b) if b.type_name.eq_ignore_ascii_case("dm_disk") => b,
        other => {
            return Err(DiskSimError::new(
                &disk.file,
                model_param.line,
                DiskSimErrorKind::WrongType {
                    key: "Model".into(),
                    expected: "'source FILE' or a dm_disk block",
                    found: other.type_name(),
                },
            ))
        }
    };

    let parv_name = format!("{name}.parv");
    let bus_ms = match files.read(&parv_name)? {
        Some(text) => bus_transfer_ms(&parse(&parv_name, &text)?, disk)?,
        None => None,
    };

    let geometry = geometry(model)?;
    let mechanics = mechanics(model, files)?;
    let (controller, bus, cache, queue) = controller_and_cache(disk, bus_ms)?;
    let params = HddParams {
        geometry,
        mechanics: Box::new(mechanics),
        controller: Box::new(controller),
        bus,
        cache,
        queue,
    };
    params.validate().map_err(|e| {
        DiskSimError::new(
            &model.file,
            model.line,
            DiskSimErrorKind::InvalidValue {
                key: "(derived parameters)".into(),
                reason: e.to_string(),
            },
        )
    })?;
    Ok(params)
}

fn load(files: &dyn SourceFiles, file: &str) -> Result<Document, DiskSimError> {
    match files.read(file)? {
        Some(text) => parse(file, &text),
        None => Err(DiskSimError::new(
            file,
            0,
            DiskSimErrorKind::Io {
                reason: "no such file".into(),
            },
        )),
    }
}

fn not_found(file: &str, what: &str) -> DiskSimError {
    DiskSimError::new(
        file,
        0,
        DiskSimErrorKind::NotFound {
            what: what.to_string(),
        },
    )
}

fn sub_block<'a>(block: &'a Block, key: &str) -> Result<&'a Block, DiskSimError> {
    let p = block.require(key)?;
    match &p.value.kind {
        ValueKind::Block(b) => Ok(b),
        other => Err(DiskSimError::new(
            &block.file,
            p.line,
            DiskSimErrorKind::WrongType {
                key: key.to_string(),
                expected: "block",
                found: other.type_name(),
            },
        )),
    }
}

/// Milliseconds (DiskSim's time unit) to integer nanoseconds; must be finite and >= 0.
fn ms_to_ns(block: &Block, key: &str, ms: f64) -> Result<u64, DiskSimError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(block.invalid(key, format!("{ms} is not a non-negative time")));
    }
    Ok((ms * 1e6).round() as u64)
}

fn time_ns(block: &Block, key: &str, scale: f64) -> Result<u64, DiskSimError> {
    let ms = block.f64(key)?;
    ms_to_ns(block, key, ms * scale)
}

fn geometry(model: &Block) -> Result<GeometryParams, DiskSimError> {
    let surfaces = model.u32("Number of data surfaces")?;
    let cylinders = model.u32("Number of cylinders")?;
    // "Block count" is required by DiskSim but, as in DiskSim, the capacity follows from
    // the zones; we only check that the key is there and numeric.
    model.u64("Block count")?;
    let layout = sub_block(model, "Layout Model")?;
    if !layout.type_name.eq_ignore_ascii_case("dm_layout_g1") {
        return Err(layout.unsupported(
            "Layout Model",
            format!("layout '{}' (only dm_layout_g1)", layout.type_name),
        ));
    }
    let surface_order = match layout.i64("LBN-to-PBN mapping scheme")? {
        0 => SurfaceOrder::Ascending,
        1 => SurfaceOrder::SerpentineInZone,
        2 => SurfaceOrder::Serpentine,
        v => return Err(layout.unsupported("LBN-to-PBN mapping scheme", format!("scheme {v}"))),
    };
    let sparing = match layout.i64("Sparing scheme used")? {
        0 => Sparing::None,
        1 => Sparing::TracksPerZone,
        9 => Sparing::SectorsPerZone,
        10 => Sparing::SectorsPerZoneSlipToEnd,
        v => {
            return Err(layout.unsupported(
                "Sparing scheme used",
                format!("scheme {v} (supported: 0, 1, 9, 10)"),
            ))
        }
    };
    let layout_units = layout
        .opt_word("Skew units")?
        .unwrap_or("sectors")
        .to_string();
    let mut zones = Vec::new();
    for value in layout.list("Zones")? {
        let zone = match &value.kind {
            ValueKind::Block(b) => b,
            other => {
                return Err(DiskSimError::new(
                    &layout.file,
                    value.line,
                    DiskSimErrorKind::WrongType {
                        key: "Zones".into(),
                        expected: "list of zone blocks",
                        found: other.type_name(),
                    },
                ))
            }
        };
        zones.push(zone_params(zone, &layout_units)?);
    }
    if let Some(last) = zones.last() {
        if last.last_cylinder + 1 != cylinders {
            return Err(model.invalid(
                "Number of cylinders",
                format!(
                    "{cylinders} cylinders but the zones end at cylinder {}",
                    last.last_cylinder
                ),
            ));
        }
    }
    Ok(GeometryParams {
        surfaces,
        surface_order,
        sparing,
        zones,
        exported_sectors: None,
    })
}

fn zone_params(zone: &Block, layout_units: &str) -> Result<ZoneParams, DiskSimError> {
    let sectors_per_track = zone.u32("Blocks per track")?;
    if sectors_per_track == 0 {
        return Err(zone.invalid("Blocks per track", "must be at least 1"));
    }
    let units = zone
        .opt_word("Skew units")?
        .unwrap_or(layout_units)
        .to_string();
    // DiskSim truncates sector-unit angles to whole sectors; revolutions are fractions of
    // a turn, which we round to the nearest sector.
    let angle = |key: &str| -> Result<u32, DiskSimError> {
        let v = zone.f64(key)?;
        if !v.is_finite() || v < 0.0 {
            return Err(zone.invalid(key, format!("{v} is not a non-negative angle")));
        }
        let sectors = match units.as_str() {
            "sectors" => v.trunc(),
            "revolutions" => (v * f64::from(sectors_per_track)).round(),
            other => {
                return Err(zone.unsupported("Skew units", format!("unit '{other}'")));
            }
        };
        Ok((sectors as u64 % u64::from(sectors_per_track)) as u32)
    };
    // (defect, replacement) pairs; a defect "remapped" to itself is a no-op in DiskSim.
    let defects = zone.u64_list("defects")?;
    if defects.len() % 2 == 1 {
        return Err(zone.invalid("defects", "must hold (defect, replacement) pairs"));
    }
    if defects.chunks(2).any(|pair| pair[0] != pair[1]) {
        return Err(zone.unsupported("defects", "defect remapping"));
    }
    let slips = zone.u64_list("slips")?;
    if slips.windows(2).any(|w| w[0] >= w[1]) {
        return Err(zone.invalid("slips", "must be strictly ascending"));
    }
    Ok(ZoneParams {
        first_cylinder: zone.u32("First cylinder number")?,
        last_cylinder: zone.u32("Last cylinder number")?,
        sectors_per_track,
        first_block_offset_sectors: angle("Offset of first block")?,
        reserved_front_sectors: zone.u64("Empty space at zone front")?,
        track_skew_sectors: angle("Skew for track switch")?,
        cylinder_skew_sectors: angle("Skew for cylinder switch")?,
        spares: zone.u64("Number of spares")?,
        slips,
    })
}

fn mechanics(model: &Block, files: &dyn SourceFiles) -> Result<MechanicsParams, DiskSimError> {
    let mech = sub_block(model, "Mechanical Model")?;
    if !mech.type_name.eq_ignore_ascii_case("dm_mech_g1") {
        return Err(mech.unsupported(
            "Mechanical Model",
            format!("mechanics '{}' (only dm_mech_g1)", mech.type_name),
        ));
    }
    let access = mech.word("Access time type")?;
    if !access.eq_ignore_ascii_case("trackSwitchPlusRotation") {
        return Err(mech.unsupported(
            "Access time type",
            format!("'{access}' (only trackSwitchPlusRotation)"),
        ));
    }
    let seek_type = mech.word("Seek type")?.to_ascii_lowercase();
    let seek = match seek_type.as_str() {
        "hpl" | "hplplus10" => {
            let key = "HPL seek equation values";
            let hpl = mech.f64_list(key)?;
            if hpl.len() != 6 {
                return Err(mech.invalid(key, format!("want 6 values, got {}", hpl.len())));
            }
            if hpl[0] < 0.0 || hpl[0].fract() != 0.0 {
                return Err(
                    mech.invalid(key, "the first value (cylinders) must be an integer >= 0")
                );
            }
            for (i, v) in hpl.iter().enumerate().take(5).skip(1) {
                if *v < 0.0 {
                    return Err(mech.invalid(key, format!("value {} is negative", i + 1)));
                }
            }
            let single = if hpl[5] == -1.0 {
                None
            } else {
                Some(ms_to_ns(mech, key, hpl[5])?)
            };
            let first_ten = if seek_type == "hplplus10" {
                let key = "First ten seek times";
                let ten = mech.f64_list(key)?;
                if ten.len() != 10 {
                    return Err(mech.invalid(key, format!("want 10 values, got {}", ten.len())));
                }
                Some(
                    ten.iter()
                        .map(|ms| ms_to_ns(mech, key, *ms))
                        .collect::<Result<Vec<u64>, _>>()?,
                )
            } else {
                None
            };
            SeekParams::Hpl {
                boundary_cylinders: hpl[0] as u32,
                short_base_ns: hpl[1] * 1e6,
                short_sqrt_ns: hpl[2] * 1e6,
                long_base_ns: hpl[3] * 1e6,
                long_per_cylinder_ns: hpl[4] * 1e6,
                single_cylinder_ns: single,
                first_ten_ns: first_ten,
            }
        }
        "extracted" => {
            let key = "Full seek curve";
            let file = mech.word(key)?;
            let text = files.read(file)?.ok_or_else(|| {
                DiskSimError::new(
                    &mech.file,
                    mech.get(key).map(|p| p.line).unwrap_or(mech.line),
                    DiskSimErrorKind::Io {
                        reason: format!("seek curve file '{file}' not found"),
                    },
                )
            })?;
            SeekParams::Table {
                points: parse_seek_table(file, &text)?,
            }
        }
        "const" | "constant" => SeekParams::Constant {
            seek_ns: time_ns(mech, "Constant seek time", 1.0)?,
        },
        other => {
            return Err(mech.unsupported(
                "Seek type",
                format!("'{other}' (supported: hpl, hplplus10, extracted, const)"),
            ))
        }
    };
    let rpm = mech.f64("Rotation speed (in rpms)")?;
    if rpm.is_nan() || rpm < 60.0 {
        return Err(mech.invalid("Rotation speed (in rpms)", format!("{rpm} is below 60")));
    }
    Ok(MechanicsParams {
        rpm,
        rpm_error_percent: mech.f64("Percent error in rpms")?,
        rotation_phase: 0.0,
        head_switch_ns: time_ns(mech, "Head switch time", 1.0)?,
        write_settle_ns: time_ns(mech, "Add. write settling delay", 1.0)?,
        seek,
    })
}

/// Per-block (read, write) transfer time in ms of the bus the disk is attached to, from a
/// `.parv` file's topology and bus blocks. None when the file describes no such bus.
fn bus_transfer_ms(parv: &Document, disk: &Block) -> Result<Option<(f64, f64)>, DiskSimError> {
    let Some(disk_type) = disk.name.as_deref() else {
        return Ok(None);
    };
    // instance name -> type name
    let mut instances: Vec<(&str, &str)> = Vec::new();
    for item in &parv.items {
        if let Item::Instantiate {
            names, type_name, ..
        } = item
        {
            for n in names {
                instances.push((n.as_str(), type_name.as_str()));
            }
        }
    }
    let type_of = |instance: &str| {
        instances
            .iter()
            .find(|(n, _)| *n == instance)
            .map(|(_, t)| *t)
    };
    fn find_bus<'a>(
        node: &'a TopologyNode,
        is_our_disk: &dyn Fn(&TopologyNode) -> bool,
    ) -> Option<&'a TopologyNode> {
        if node.type_name.eq_ignore_ascii_case("disksim_bus")
            && node.children.iter().any(is_our_disk)
        {
            return Some(node);
        }
        node.children.iter().find_map(|c| find_bus(c, is_our_disk))
    }
    let is_our_disk = |n: &TopologyNode| {
        n.type_name.eq_ignore_ascii_case("disksim_disk") && type_of(&n.name) == Some(disk_type)
    };
    let bus_node = parv.items.iter().find_map(|item| match item {
        Item::Topology(node) => find_bus(node, &is_our_disk),
        _ => None,
    });
    let Some(bus_node) = bus_node else {
        return Ok(None);
    };
    let Some(bus_type) = type_of(&bus_node.name) else {
        return Ok(None);
    };
    let Some(bus) = parv.block_named(bus_type) else {
        return Ok(None);
    };
    Ok(Some((
        bus.f64("Read block transfer time")?,
        bus.f64("Write block transfer time")?,
    )))
}

type ControllerParts = (ControllerParams, BusParams, CacheParams, QueueParams);

fn controller_and_cache(
    disk: &Block,
    bus_ms: Option<(f64, f64)>,
) -> Result<ControllerParts, DiskSimError> {
    let scale = disk.opt_f64("Time scale for overheads")?.unwrap_or(1.0);
    if scale.is_nan() || scale < 0.0 {
        return Err(disk.invalid("Time scale for overheads", "must be >= 0"));
    }
    let per_request = time_ns(disk, "Per-request overhead time", scale)?;
    let command =
        |key: &str| -> Result<u64, DiskSimError> { Ok(time_ns(disk, key, scale)? + per_request) };
    let after_read = CommandOverheads {
        read_hit_ns: command("Read hit over. after read")?,
        read_miss_ns: command("Read miss over. after read")?,
        write_hit_ns: command("Write hit over. after read")?,
        write_miss_ns: command("Write miss over. after read")?,
    };
    let after_write = CommandOverheads {
        read_hit_ns: command("Read hit over. after write")?,
        read_miss_ns: command("Read miss over. after write")?,
        write_hit_ns: command("Write hit over. after write")?,
        write_miss_ns: command("Write miss over. after write")?,
    };
    let extra_write_disconnect = if disk.flag("Extra write disconnect")? {
        Some(ExtraWriteDisconnect {
            command_ns: command("Extradisc command overhead")?,
            disconnect_ns: time_ns(disk, "Extradisc disconnect overhead", scale)?,
            inter_disconnect_ns: time_ns(disk, "Extradisc inter-disconnect delay", scale)?,
            second_disconnect_ns: time_ns(disk, "Extradisc 2nd disconnect overhead", scale)?,
            seek_delta_ns: time_ns(disk, "Extradisc seek delta", scale)?,
            // DiskSim hard-codes these thresholds for drives with extra write disconnects.
            media_start_buffered_sectors: 10,
            media_start_buffered_sectors_large: 15,
            large_request_sectors: 45,
        })
    } else {
        None
    };
    let controller = ControllerParams {
        after_read,
        after_write,
        read_completion_ns: time_ns(disk, "Read completion overhead", scale)?,
        write_completion_ns: time_ns(disk, "Write completion overhead", scale)?,
        data_prep_ns: time_ns(disk, "Data preparation overhead", scale)?,
        reselect_first_ns: time_ns(disk, "First reselect overhead", scale)?,
        reselect_other_ns: time_ns(disk, "Other reselect overhead", scale)?,
        disconnect_read_after_read_ns: time_ns(disk, "Read disconnect afterread", scale)?,
        disconnect_read_after_write_ns: time_ns(disk, "Read disconnect afterwrite", scale)?,
        disconnect_write_ns: time_ns(disk, "Write disconnect overhead", scale)?,
        minimum_write_positioning_ns: time_ns(disk, "Minimum seek delay", scale)?,
        extra_write_disconnect,
    };

    let bulk_ms = disk.f64("Bulk sector transfer time")?;
    let (bus_read_ms, bus_write_ms) = bus_ms.unwrap_or((0.0, 0.0));
    let bus = BusParams {
        read_ns_per_sector: ms_to_ns(disk, "Bulk sector transfer time", bus_read_ms.max(bulk_ms))?,
        write_ns_per_sector: ms_to_ns(
            disk,
            "Bulk sector transfer time",
            bus_write_ms.max(bulk_ms),
        )?,
    };

    let segment_sectors = disk.u32("Segment size (in blks)")?;
    let continuous = disk.i64("Buffer continuous read")?;
    let max_ra = disk.u32("Maximum read-ahead (blks)")?;
    let (read_ahead_max_sectors, read_ahead_stop) = match continuous {
        0 => (0, ReadAheadStop::Budget),
        // DiskSim reads ahead a whole segment when no maximum is given.
        1..=3 => {
            let budget = if max_ra == 0 { segment_sectors } else { max_ra };
            let stop = match continuous {
                1 => ReadAheadStop::TrackEnd,
                2 => ReadAheadStop::CylinderEnd,
                _ => ReadAheadStop::Budget,
            };
            (budget, stop)
        }
        v => {
            return Err(disk.unsupported(
                "Buffer continuous read",
                format!("scheme {v} (supported: 0..=3)"),
            ))
        }
    };
    let cache = CacheParams {
        enabled: disk.flag("Enable caching in buffer")?,
        segments: disk.u32("Number of buffer segments")?,
        segment_sectors,
        dedicated_write_segment: disk.flag("Use separate write segment")?,
        read_hits_on_write_data: disk.flag("Allow read hits on write data")?,
        read_watermark: disk.f64("High (read) water mark")?,
        watermark_by_request_size: disk.flag("Set watermark by reqsize")?,
        read_ahead_max_sectors,
        read_ahead_min_sectors: disk.u32("Minimum read-ahead (blks)")?,
        read_ahead_on_hit: disk.flag("Read-ahead on idle hit")?,
        read_ahead_stop,
        write_back: disk.i64("Fast write level")? > 0,
    };

    let sched_block = sub_block(disk, "Scheduler")?;
    let scheduler = match sched_block.i64("Scheduling policy")? {
        1 => SchedulerKind::Fcfs,
        3 | 6 => SchedulerKind::CLook,
        4 | 7 => SchedulerKind::Sstf,
        8..=16 => SchedulerKind::Sptf,
        v => {
            return Err(sched_block.unsupported(
                "Scheduling policy",
                format!("policy {v} (supported: 1 FCFS, 3/6 C-LOOK, 4/7 SSTF, 8-16 SPTF)"),
            ))
        }
    };
    let depth = disk.i64("Max queue length")?;
    let queue = QueueParams {
        depth: u32::try_from(depth.max(1))
            .map_err(|_| disk.invalid("Max queue length", "too large"))?,
        scheduler,
    };
    Ok((controller, bus, cache, queue))
}
