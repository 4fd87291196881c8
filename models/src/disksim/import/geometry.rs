//! The `dm_layout_g1` layout of a `dm_disk` block → [`GeometryParams`]: surfaces, the
//! LBN-to-PBN surface order, all eleven sparing schemes, and per zone its cylinders,
//! sectors per track, angles (in sectors or revolutions), reserved front space, spares,
//! slips and defect remaps.

use super::super::audit::Audit;
use super::super::syntax::{Block, ValueKind};
use super::super::{DiskSimError, DiskSimErrorKind};
use super::sub_block;
use crate::hdd::{DefectRemap, GeometryParams, Sparing, SurfaceOrder, ZoneParams};

/// The drive's layout.
pub(super) fn geometry(model: &Block, audit: &mut Audit) -> Result<GeometryParams, DiskSimError> {
    let surfaces = model.u32("Number of data surfaces")?;
    // Both are required by DiskSim but, as in DiskSim, the zones decide: DiskSim
    // recomputes the block count from them and never checks the cylinder count against
    // them (the HP C2490A's last zone ends one cylinder past it).
    model.u32("Number of cylinders")?;
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
        v => {
            return Err(layout.invalid(
                "LBN-to-PBN mapping scheme",
                format!("{v} is not a DiskSim mapping scheme (0, 1 or 2)"),
            ))
        }
    };
    let sparing = match layout.i64("Sparing scheme used")? {
        0 => Sparing::None,
        1 => Sparing::TracksPerZone,
        2 => Sparing::SectorsPerCylinder,
        3 => Sparing::SectorsPerTrack,
        4 => Sparing::SectorsPerCylinderSlipToEnd,
        5 => Sparing::SectorsPerCylinderAtFront,
        6 => Sparing::SectorsPerCylinderAtFrontSlipToEnd,
        7 => Sparing::SectorsAtZoneEnd,
        8 => {
            let key = "Rangesize for sparing";
            let range = layout.u32(key)?;
            if range == 0 {
                return Err(layout.invalid(key, "must be at least 1 cylinder"));
            }
            Sparing::SectorsPerRange {
                range_cylinders: range,
            }
        }
        9 => Sparing::SectorsPerZone,
        10 => Sparing::SectorsPerZoneSlipToEnd,
        v => {
            return Err(layout.invalid(
                "Sparing scheme used",
                format!("{v} is not a DiskSim sparing scheme (0 to 10)"),
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
        zones.push(zone_params(zone, &layout_units, sparing, audit)?);
    }
    if zones.is_empty() {
        return Err(layout.invalid("Zones", "at least one zone"));
    }
    audit.unknown_keys(
        layout,
        &[
            "LBN-to-PBN mapping scheme",
            "Sparing scheme used",
            "Rangesize for sparing",
            "Skew units",
            "Zones",
        ],
    );
    Ok(GeometryParams {
        surfaces,
        surface_order,
        sparing,
        zones,
        exported_sectors: None,
    })
}

fn zone_params(
    zone: &Block,
    layout_units: &str,
    sparing: Sparing,
    audit: &mut Audit,
) -> Result<ZoneParams, DiskSimError> {
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
    let mut spares = zone.u64("Number of spares")?;
    let mut slips = zone.u64_list("slips")?;
    if slips.windows(2).any(|w| w[0] >= w[1]) {
        return Err(zone.invalid("slips", "must be strictly ascending"));
    }
    let pairs = zone.u64_list("defects")?;
    if pairs.len() % 2 == 1 {
        return Err(zone.invalid("defects", "must hold (defect, replacement) pairs"));
    }
    // A defect "remapped" to itself is a no-op in DiskSim.
    let mut defects: Vec<DefectRemap> = pairs
        .chunks(2)
        .filter(|pair| pair[0] != pair[1])
        .map(|pair| DefectRemap {
            defect: pair[0],
            spare: pair[1],
        })
        .collect();
    match sparing {
        // DiskSim's no-sparing layout ignores spares, slips and defects alike.
        Sparing::None => {
            let reason = "ignored under sparing scheme 0, as DiskSim does";
            if spares != 0 {
                audit.report_key(zone, "Number of spares", reason);
            }
            if !slips.is_empty() {
                audit.report_key(zone, "slips", reason);
            }
            if !defects.is_empty() {
                audit.report_key(zone, "defects", reason);
            }
            spares = 0;
            slips.clear();
            defects.clear();
        }
        // Scheme 7's capacity counts only the slips; DiskSim's mapping would still keep
        // per-cylinder spares and disagree with its own capacity, so spares are dropped.
        Sparing::SectorsAtZoneEnd if spares != 0 => {
            audit.report_key(
                zone,
                "Number of spares",
                "scheme 7 reserves no spares besides the slipped sectors; ignored",
            );
            spares = 0;
        }
        _ => {}
    }
    audit.unknown_keys(
        zone,
        &[
            "First cylinder number",
            "Last cylinder number",
            "Blocks per track",
            "Offset of first block",
            "Empty space at zone front",
            "Skew for track switch",
            "Skew for cylinder switch",
            "Number of spares",
            "slips",
            "defects",
            "Skew units",
        ],
    );
    let first_cylinder = zone.u32("First cylinder number")?;
    let last_cylinder = zone.u32("Last cylinder number")?;
    if last_cylinder < first_cylinder {
        return Err(zone.invalid(
            "Last cylinder number",
            format!("{last_cylinder} is below the first cylinder {first_cylinder}"),
        ));
    }
    Ok(ZoneParams {
        first_cylinder,
        last_cylinder,
        sectors_per_track,
        first_block_offset_sectors: angle("Offset of first block")?,
        reserved_front_sectors: zone.u64("Empty space at zone front")?,
        track_skew_sectors: angle("Skew for track switch")?,
        cylinder_skew_sectors: angle("Skew for cylinder switch")?,
        spares,
        slips,
        defects,
    })
}
