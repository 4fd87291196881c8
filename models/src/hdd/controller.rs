//! The drive's controller: command overheads, bus disconnect/reconnect and data transfer
//! phases of a command, as DiskSim's disk controller sequences them.
//!
//! Read: command overhead; on a hit (enough data buffered) the data phase follows at
//! once, otherwise the drive disconnects and reconnects (reselect + data preparation) once
//! a watermark of the request is buffered; the data goes out at the bus rate but never
//! ahead of the media; a completion overhead ends the command.
//! Write (write-through): command overhead, then the data comes in at the bus rate while
//! the mechanism positions; the drive disconnects, writes the media and reconnects to
//! complete. A write that follows a non-sequential write may take an extra
//! disconnect/reconnect cycle before its data phase (drives such as the HP C2247A do).
//!
//! Owns these formulas only: it is handed media times and returns bus/completion times.

use super::params::{BusParams, CacheParams, CommandOverheads, ControllerParams};

/// Command overheads given the kind of the previous command.
pub fn command_overheads(ctl: &ControllerParams, last_was_read: bool) -> &CommandOverheads {
    if last_was_read {
        &ctl.after_read
    } else {
        &ctl.after_write
    }
}

/// Buffered sectors at which a read miss reconnects to the bus (1..=sectors).
pub fn read_watermark(cache: &CacheParams, sectors: u32) -> u32 {
    let w = if cache.watermark_by_request_size {
        let base = cache.segment_sectors.min(sectors);
        ((f64::from(base) * cache.read_watermark) as u32).max(1)
    } else {
        (f64::from(cache.segment_sectors) * cache.read_watermark).ceil() as u32
    };
    w.clamp(1, sectors)
}

/// When a read's data phase ends: the bus sends sector `k` no earlier than `ready_ns[k]`
/// and one sector at a time from `start_ns`.
pub fn read_transfer_end_ns(start_ns: u64, ready_ns: &[u64], ns_per_sector: u64) -> u64 {
    ready_ns
        .iter()
        .fold(start_ns, |t, &r| t.max(r) + ns_per_sector)
}

/// Timing of a read's bus phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTiming {
    /// The data phase starts (the first sector goes out).
    pub transfer_start_ns: u64,
    /// The last sector has gone out.
    pub transfer_end_ns: u64,
    /// The completion has reached the host.
    pub done_ns: u64,
}

/// What the controller knows about a read when it sequences its bus phases.
#[derive(Debug, Clone, Copy)]
pub struct ReadCommand<'a> {
    /// Command overheads that apply (after a read or a write).
    pub overheads: &'a CommandOverheads,
    /// The previous command was a read (selects the disconnect overhead).
    pub last_was_read: bool,
    /// When the command reached the drive.
    pub arrival_ns: u64,
    /// The data phase may not start before this (bus busy, command not yet dispatched).
    pub not_before_ns: u64,
    /// Enough was buffered at arrival to skip the disconnect.
    pub hit_path: bool,
    /// Buffered sectors at which a miss reconnects.
    pub watermark: u32,
}

/// A read's bus phases; `ready_ns[k]`: when sector `k` is in the buffer.
pub fn read_timing(
    ctl: &ControllerParams,
    bus: &BusParams,
    read: &ReadCommand,
    ready_ns: &[u64],
) -> ReadTiming {
    assert!(!ready_ns.is_empty(), "a read of no sectors");
    let (cmd, arrival_ns, watermark) = (read.overheads, read.arrival_ns, read.watermark);
    let start = if read.hit_path {
        arrival_ns + cmd.read_hit_ns + ctl.data_prep_ns
    } else {
        let disconnect = if read.last_was_read {
            ctl.disconnect_read_after_read_ns
        } else {
            ctl.disconnect_read_after_write_ns
        };
        let released = arrival_ns + cmd.read_miss_ns + disconnect;
        let w = (watermark as usize).clamp(1, ready_ns.len());
        let reconnect = ready_ns[w - 1] + ctl.reselect_first_ns + ctl.data_prep_ns;
        released.max(reconnect)
    }
    .max(read.not_before_ns);
    let end = read_transfer_end_ns(start, ready_ns, bus.read_ns_per_sector);
    ReadTiming {
        transfer_start_ns: start,
        transfer_end_ns: end,
        done_ns: end + ctl.read_completion_ns,
    }
}

/// The part of a write-through command before and around its media access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteFront {
    /// The mechanism may start positioning from here.
    pub media_may_start_ns: u64,
    /// The data phase starts.
    pub transfer_start_ns: u64,
    /// All data is in the buffer.
    pub transfer_end_ns: u64,
    /// The bus is released after the data phase at this time.
    pub released_ns: u64,
    /// Reconnection cost after the media write.
    pub final_reselect_ns: u64,
}

/// What the controller knows about a write-through command.
#[derive(Debug, Clone, Copy)]
pub struct WriteCommand<'a> {
    /// Command overheads that apply (after a read or a write).
    pub overheads: &'a CommandOverheads,
    /// When the command reached the drive.
    pub arrival_ns: u64,
    /// When the mechanism takes the command (later than arrival if it had to queue).
    pub dispatch_ns: u64,
    /// The mechanism was busy at arrival, so the drive disconnected first.
    pub queued: bool,
    /// Take the extra disconnect/reconnect cycle.
    pub extra_disconnect: bool,
    /// The bus is busy with other commands until then.
    pub bus_free_ns: u64,
    /// Request size.
    pub sectors: u32,
}

/// Bus phases of a write-through command.
pub fn write_front(ctl: &ControllerParams, bus: &BusParams, w: &WriteCommand) -> WriteFront {
    let (cmd, arrival_ns, dispatch_ns) = (w.overheads, w.arrival_ns, w.dispatch_ns);
    let n = u64::from(w.sectors);
    let (media_may_start, transfer_start, disconnect, final_reselect) =
        match (&ctl.extra_write_disconnect, w.extra_disconnect) {
            (Some(x), true) => (
                arrival_ns + x.command_ns + x.seek_delta_ns,
                arrival_ns
                    + x.command_ns
                    + x.disconnect_ns
                    + x.inter_disconnect_ns
                    + ctl.reselect_first_ns
                    + ctl.data_prep_ns,
                x.second_disconnect_ns,
                ctl.reselect_other_ns,
            ),
            _ => {
                let overhead_done = arrival_ns + cmd.write_miss_ns;
                let start = if w.queued {
                    // Disconnected at arrival; reconnects for the data once the mechanism
                    // takes the command.
                    (overhead_done + ctl.disconnect_write_ns).max(dispatch_ns)
                        + ctl.reselect_first_ns
                        + ctl.data_prep_ns
                } else {
                    overhead_done + ctl.data_prep_ns
                };
                (
                    overhead_done,
                    start,
                    ctl.disconnect_write_ns,
                    ctl.reselect_first_ns,
                )
            }
        };
    let transfer_start = transfer_start.max(w.bus_free_ns);
    let transfer_end = transfer_start + n * bus.write_ns_per_sector;
    WriteFront {
        media_may_start_ns: media_may_start,
        transfer_start_ns: transfer_start,
        transfer_end_ns: transfer_end,
        released_ns: transfer_end + disconnect,
        final_reselect_ns: final_reselect,
    }
}

/// Sectors that must be buffered before the media write may start (0: no constraint).
pub fn write_media_start_sectors(ctl: &ControllerParams, sectors: u32) -> u32 {
    match &ctl.extra_write_disconnect {
        Some(x) => {
            let need = if sectors >= x.large_request_sectors {
                x.media_start_buffered_sectors_large
            } else {
                x.media_start_buffered_sectors
            };
            need.min(sectors)
        }
        None => 0,
    }
}

/// Completion of a write-through command whose media write ended at `media_end_ns`.
pub fn write_done_ns(ctl: &ControllerParams, front: &WriteFront, media_end_ns: u64) -> u64 {
    media_end_ns.max(front.released_ns) + front.final_reselect_ns + ctl.write_completion_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_never_runs_ahead_of_the_media() {
        // Bus 10 per sector, media delivers a sector every 5 from t=100: bus-bound.
        assert_eq!(read_transfer_end_ns(100, &[105, 110, 115], 10), 135);
        // Media slower than the bus: media-bound, last sector + one bus slot.
        assert_eq!(read_transfer_end_ns(100, &[120, 140, 160], 10), 170);
        // All buffered: pure bus time.
        assert_eq!(read_transfer_end_ns(100, &[0, 0], 10), 120);
    }
}
