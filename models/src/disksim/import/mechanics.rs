//! The `dm_mech_g1` mechanics of a `dm_disk` block → [`MechanicsParams`]: the seek curve
//! (`hpl`, `hplplus10`, `extracted` from a `.seek` file, `constant`), head switch, the
//! (signed) write settle, spindle speed and its error.
//!
//! Parameters DiskSim itself ignores for the seek type in use ("HPL seek equation values"
//! under `extracted`, "Average seek time", "Full strobe seek time", ...) are accepted
//! silently; seek types DiskSim 4.0 cannot evaluate (`linear`, `curve`, whose set-up code
//! it disabled) and access-time types other than `trackSwitchPlusRotation` are refused.

use super::super::audit::Audit;
use super::super::seek_table::parse_seek_table;
use super::super::syntax::Block;
use super::super::{DiskSimError, DiskSimErrorKind};
use super::{ms_to_ns, sub_block, time_ns, SourceFiles};
use crate::hdd::{MechanicsParams, SeekParams};

/// The drive's mechanics.
pub(super) fn mechanics(
    model: &Block,
    files: &dyn SourceFiles,
    audit: &mut Audit,
) -> Result<MechanicsParams, DiskSimError> {
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
        "hpl" | "hplplus10" => hpl(mech, seek_type == "hplplus10")?,
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
                format!("'{other}' (supported: hpl, hplplus10, extracted, constant)"),
            ))
        }
    };
    let rpm = mech.f64("Rotation speed (in rpms)")?;
    if rpm.is_nan() || rpm < 60.0 {
        return Err(mech.invalid("Rotation speed (in rpms)", format!("{rpm} is below 60")));
    }
    let settle_key = "Add. write settling delay";
    let settle_ms = mech.f64(settle_key)?;
    if !settle_ms.is_finite() {
        return Err(mech.invalid(settle_key, "must be a number of milliseconds"));
    }
    audit.unknown_keys(
        mech,
        &[
            "Access time type",
            "Constant access time",
            "Seek type",
            "Average seek time",
            "Constant seek time",
            "Single cylinder seek time",
            "Full strobe seek time",
            "Full seek curve",
            "Add. write settling delay",
            "Head switch time",
            "Rotation speed (in rpms)",
            "Percent error in rpms",
            "First ten seek times",
            "HPL seek equation values",
        ],
    );
    Ok(MechanicsParams {
        rpm,
        rpm_error_percent: mech.f64("Percent error in rpms")?,
        rotation_phase: 0.0,
        head_switch_ns: time_ns(mech, "Head switch time", 1.0)?,
        write_settle_ns: (settle_ms * 1e6).round() as i64,
        seek,
    })
}

/// The Ruemmler-Wilkes/HP-Labs curve, optionally with the first ten distances given.
fn hpl(mech: &Block, first_ten: bool) -> Result<SeekParams, DiskSimError> {
    let key = "HPL seek equation values";
    let hpl = mech.f64_list(key)?;
    if hpl.len() != 6 {
        return Err(mech.invalid(key, format!("want 6 values, got {}", hpl.len())));
    }
    if hpl[0] < 0.0 || hpl[0].fract() != 0.0 {
        return Err(mech.invalid(key, "the first value (cylinders) must be an integer >= 0"));
    }
    for (i, v) in hpl.iter().enumerate().take(5).skip(1) {
        if *v < 0.0 {
            return Err(mech.invalid(key, format!("value {} is negative", i + 1)));
        }
    }
    // DiskSim takes the one-cylinder time from the sixth value unless it is -1, but a
    // "Single cylinder seek time" read after the equation overrides it (parameters load
    // in file order).
    let single = if hpl[5] == -1.0 {
        None
    } else {
        let equation_line = mech.get(key).map(|p| p.line).unwrap_or(0);
        let later = mech
            .get("Single cylinder seek time")
            .filter(|p| p.line > equation_line);
        match later {
            Some(_) => Some(time_ns(mech, "Single cylinder seek time", 1.0)?),
            None => Some(ms_to_ns(mech, key, hpl[5])?),
        }
    };
    let first_ten_ns = if first_ten {
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
    Ok(SeekParams::Hpl {
        boundary_cylinders: hpl[0] as u32,
        short_base_ns: hpl[1] * 1e6,
        short_sqrt_ns: hpl[2] * 1e6,
        long_base_ns: hpl[3] * 1e6,
        long_per_cylinder_ns: hpl[4] * 1e6,
        single_cylinder_ns: single,
        first_ten_ns,
    })
}
