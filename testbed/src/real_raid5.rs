//! An md raid5 array over real devices (`--real --raid-dev A,B,C,D`, issue 10 item 5): opening
//! the members and the initial resync that makes their parity consistent before a workload.
//!
//! Opening uses every guard a real device has ([`RealDevice::open`]: a mounted or held
//! device is refused, block devices are opened `O_EXCL`, writes only when allowed, no IO
//! outside the window), and adds the array's own: 3 to 16 distinct members of one size. With
//! a span, each member's window is only the rows of chunks the span needs, so nothing past
//! them is read or written.
//!
//! Real members held data before the run, so their parity is whatever was there: a
//! read-modify-write on such a stripe keeps it wrong, and a degraded read would return
//! garbage. md resyncs a new array for that reason (`mdadm --create`); [`initial_resync`]
//! drives a `repair` pass over the array to its end before any bio (`mdadm --wait`), and
//! `--assume-clean` skips it for members known consistent (all zeros, say).
//!
//! Deliberately not here: the run itself (`linear_run`, `cache_run`).

use crate::run_error::RunError;
use dmsim_engine::block::SECTOR_SIZE;
use dmsim_engine::io::{Control, Input};
use dmsim_engine::raid5::config::{MEMBERS_MAX, MEMBERS_MIN};
use dmsim_engine::{
    drive, DeviceId, DriveOptions, DriveOutcome, Engine, NoBios, Platform, TargetStatus,
};
use dmsim_real::{OpenOptions, RealDevice};
use std::path::{Path, PathBuf};

/// The flag that names the members, for messages.
pub const RAID_DEV_FLAG: &str = "--raid-dev";
/// The flag that names the spares, for messages.
pub const RAID_SPARE_DEV_FLAG: &str = "--raid-spare-dev";

/// True if both paths name one file or device (same device number and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// The sectors of each member an array of `members` with `chunk_sectors` chunks needs so that
/// it holds `span_sectors`: whole rows of chunks, rounded up.
pub fn member_window_sectors(members: usize, chunk_sectors: u64, span_sectors: u64) -> u64 {
    assert!(members >= MEMBERS_MIN && chunk_sectors > 0);
    let row_sectors = chunk_sectors * (members as u64 - 1);
    span_sectors.div_ceil(row_sectors) * chunk_sectors
}

/// An array's real devices, opened: the members in role order, then the spares an
/// `--raid5-spare` adds.
#[derive(Debug)]
pub struct ArrayDevices {
    pub members: Vec<RealDevice>,
    pub spares: Vec<RealDevice>,
}

/// Opens the members at `paths` (role order) and the spares at `spare_paths` for an array
/// of `chunk_sectors` chunks, writes allowed only with `allow_write`; `others` are the run's
/// other devices (a cache SSD), which none may be. With `span_bytes`, each is opened with the
/// window the span needs from its start; without, their whole sizes must match. Errors name
/// the flag and the device.
pub fn open_array(
    paths: &[PathBuf],
    spare_paths: &[PathBuf],
    others: &[(&str, &Path)],
    chunk_sectors: u64,
    span_bytes: Option<u64>,
    allow_write: bool,
) -> Result<ArrayDevices, String> {
    if !(MEMBERS_MIN..=MEMBERS_MAX).contains(&paths.len()) {
        return Err(format!(
            "{RAID_DEV_FLAG}: a raid5 array has {MEMBERS_MIN} to {MEMBERS_MAX} members, got {} \
             (give them comma-separated: {RAID_DEV_FLAG} /dev/loop0,/dev/loop1,/dev/loop2)",
            paths.len()
        ));
    }
    let all: Vec<(&str, &PathBuf)> = paths
        .iter()
        .map(|p| (RAID_DEV_FLAG, p))
        .chain(spare_paths.iter().map(|p| (RAID_SPARE_DEV_FLAG, p)))
        .collect();
    for (index, &(flag, path)) in all.iter().enumerate() {
        for (_, earlier) in &all[..index] {
            if same_file(earlier, path) {
                return Err(format!(
                    "{flag}: {} and {} are the same device or file; each member and spare \
                     must be a different one",
                    earlier.display(),
                    path.display()
                ));
            }
        }
        for (other_flag, other) in others {
            if same_file(other, path) {
                return Err(format!(
                    "{flag} {} is also {other_flag}; an array's device cannot be another \
                     device of the run",
                    path.display()
                ));
            }
        }
    }
    let range = span_bytes.map(|bytes| {
        let span_sectors = bytes.div_ceil(SECTOR_SIZE as u64);
        (
            0,
            member_window_sectors(paths.len(), chunk_sectors, span_sectors),
        )
    });
    let mut devices = Vec::with_capacity(all.len());
    for (flag, path) in all {
        let opened = RealDevice::open(path, OpenOptions { allow_write, range });
        let device = opened.map_err(|e| match range {
            Some((_, sectors)) => format!(
                "{flag} {}: {e} (the span needs the first {} KiB of every member)",
                path.display(),
                sectors / 2
            ),
            None => format!("{flag} {}: {e}", path.display()),
        })?;
        devices.push(device);
    }
    let first = &devices[0];
    if let Some(other) = devices
        .iter()
        .find(|d| d.info().capacity_sectors != first.info().capacity_sectors)
    {
        let flag = if spare_paths.iter().any(|p| p == other.path()) {
            RAID_SPARE_DEV_FLAG
        } else {
            RAID_DEV_FLAG
        };
        return Err(format!(
            "{flag}: the array's devices differ in size: {} has {} sectors, {} has {}; raid5 \
             members and spares must be the same size (give devices of one size, or --span \
             to use the same leading part of each)",
            other.path().display(),
            other.info().capacity_sectors,
            first.path().display(),
            first.info().capacity_sectors
        ));
    }
    let spares = devices.split_off(paths.len());
    Ok(ArrayDevices {
        members: devices,
        spares,
    })
}

/// Refuses `--raid5-spare` events that do not match the spare devices one for one.
pub fn check_spare_devices(spare_events: usize, spare_devices: usize) -> Result<(), String> {
    if spare_events == spare_devices {
        return Ok(());
    }
    Err(format!(
        "{spare_events} --raid5-spare event(s) for {spare_devices} {RAID_SPARE_DEV_FLAG} \
         device(s): with real members each --raid5-spare WHEN adds the next \
         {RAID_SPARE_DEV_FLAG} (give as many of each)"
    ))
}

/// What the initial resync found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialResync {
    /// Sectors of parity that disagreed with the data (md's `mismatch_cnt`) and were
    /// rewritten.
    pub mismatch_sectors: u64,
    /// Stripes compared.
    pub stripes: u64,
    /// How long it took on the platform's clock.
    pub duration_ns: u64,
}

impl InitialResync {
    /// For `config.raid5.initial_resync`.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "mismatch_cnt": self.mismatch_sectors,
            "stripes": self.stripes,
            "duration_ns": self.duration_ns,
        })
    }

    /// The line printed after the summary.
    pub fn note(self) -> String {
        format!(
            "raid5 initial resync (repair, as mdadm --create): {} stripes in {:.3} s, \
             mismatch_cnt {} (parity rewritten where it disagreed)",
            self.stripes,
            self.duration_ns as f64 / 1e9,
            self.mismatch_sectors
        )
    }
}

fn array_status(engine: &Engine, array: DeviceId) -> Result<TargetStatus, RunError> {
    engine
        .stacked_status()
        .into_iter()
        .find(|(device, status)| *device == array && status.kind == "raid5")
        .map(|(_, status)| status)
        .ok_or_else(|| RunError::Engine(format!("no raid5 array is stacked as {array}")))
}

/// Runs a `repair` pass over the raid5 array stacked as `array` to its end, with no bio in
/// the array (see the module documentation). The pass's IO counts in the array's counters
/// (`sync_*`, `member_reads`).
pub fn initial_resync<P: Platform>(
    engine: &mut Engine,
    platform: &mut P,
    array: DeviceId,
) -> Result<InitialResync, RunError> {
    let before = array_status(engine, array)?;
    let start_ns = platform.now_ns();
    engine
        .handle(
            start_ns,
            Input::Control(Control::StackedMessage {
                device: array,
                message: "repair".to_string(),
            }),
        )
        .map_err(|e| RunError::Engine(format!("the initial resync could not start: {e}")))?;
    let report = drive(
        engine,
        platform,
        &mut NoBios { finished: true },
        &mut (),
        &DriveOptions::default(),
    )
    .map_err(|e| RunError::Engine(format!("the initial resync failed: {e}")))?;
    if report.outcome != DriveOutcome::Finished {
        return Err(RunError::Engine(format!(
            "the initial resync did not finish: {:?}",
            report.outcome
        )));
    }
    let after = array_status(engine, array)?;
    let counter = |status: &TargetStatus, name: &str| status.counters.get(name).copied();
    let passes = counter(&after, "sync_passes").unwrap_or(0);
    if passes != counter(&before, "sync_passes").unwrap_or(0) + 1 {
        return Err(RunError::Engine(format!(
            "the initial resync ended without finishing its pass ({}): {}",
            after.state, after.text
        )));
    }
    Ok(InitialResync {
        mismatch_sectors: after.gauges.get("mismatch_cnt").copied().unwrap_or(0),
        stripes: counter(&after, "sync_stripes").unwrap_or(0)
            - counter(&before, "sync_stripes").unwrap_or(0),
        duration_ns: platform.now_ns() - start_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_needs_whole_rows_of_chunks_on_every_member() {
        // 4 members, 64 KiB chunks: a row holds 3 chunks (384 sectors).
        assert_eq!(member_window_sectors(4, 128, 384), 128);
        assert_eq!(member_window_sectors(4, 128, 385), 256);
        assert_eq!(member_window_sectors(4, 128, 1), 128);
        assert_eq!(member_window_sectors(3, 8, 16 * 1024), 8 * 1024);
    }
}
