//! The `disksim_disk` block → controller overheads, bus transfer, segmented cache and
//! command queue.
//!
//! Modelled: all command, completion, data-preparation, reselect and disconnect
//! overheads (scaled by "Time scale for overheads", plus "Per-request overhead time"),
//! the extra write disconnect, "Minimum seek delay", the bus transfer time (the larger of
//! the disk's and its bus's), segments and their size, the dedicated write segment, read
//! hits on write data, the read watermark, every "Buffer continuous read" scheme with
//! the minimum/maximum read-ahead and "Read-ahead over requested" (-1, 0, 1), read-ahead on idle
//! hits, "Read any free blocks", "Immediate buffer read" (zero-latency reads), "Immed
//! transfer partial hit", "Stop prefetch in sector", write-back ("Fast write level" 1 and
//! 2 both acknowledge every write once its data is buffered, as DiskSim does; they differ
//! only in how queued appends are ordered) with "Maximum number of write segments" and
//! "Combine seq writes", "Immediate buffer write" (zero-latency writes),
//! "Never disconnect" (no read disconnects or reselections) and the queue length and
//! scheduling policy.
//!
//! Neutral values, accepted silently (any other value is reported): "Allow almost read
//! hits", "Allow sneaky full/partial/intermediate read hits", "Allow write
//! prebuffering", "Preseeking level" and "Disconnect write if seek" at 0; "Write hit
//! stop prefetch" and "Read directly to buffer" at 1; "Hold bus
//! entire read xfer", "Hold bus entire write xfer" and "Low (write) water mark" whenever
//! reconnecting to the bus costs nothing (all disconnect, reselect and data-preparation
//! overheads zero), since then only the bus ownership, not the timing, differs;
//! "Combine seq writes" and "Maximum number of write segments" without write-back; the
//! scheduler block's options other than the policy when the drive queues one request.

use super::super::audit::Audit;
use super::super::syntax::Block;
use super::super::DiskSimError;
use super::{ms_to_ns, sub_block, time_ns};
use crate::hdd::{
    BusParams, CacheParams, CommandOverheads, ControllerParams, ExtraWriteDisconnect, QueueParams,
    ReadAheadStop, SchedulerKind,
};

type ControllerParts = (ControllerParams, BusParams, CacheParams, QueueParams);

const KNOWN: &[&str] = &[
    "Model",
    "Scheduler",
    "Max queue length",
    "Bulk sector transfer time",
    "Segment size (in blks)",
    "Number of buffer segments",
    "Print stats",
    "Per-request overhead time",
    "Time scale for overheads",
    "Hold bus entire read xfer",
    "Hold bus entire write xfer",
    "Allow almost read hits",
    "Allow sneaky full read hits",
    "Allow sneaky partial read hits",
    "Allow sneaky intermediate read hits",
    "Allow read hits on write data",
    "Allow write prebuffering",
    "Preseeking level",
    "Never disconnect",
    "Avg sectors per cylinder",
    "Maximum number of write segments",
    "Use separate write segment",
    "Low (write) water mark",
    "High (read) water mark",
    "Set watermark by reqsize",
    "Calc sector by sector",
    "Enable caching in buffer",
    "Buffer continuous read",
    "Minimum read-ahead (blks)",
    "Maximum read-ahead (blks)",
    "Read-ahead over requested",
    "Read-ahead on idle hit",
    "Read any free blocks",
    "Fast write level",
    "Immediate buffer read",
    "Immediate buffer write",
    "Combine seq writes",
    "Stop prefetch in sector",
    "Disconnect write if seek",
    "Write hit stop prefetch",
    "Read directly to buffer",
    "Immed transfer partial hit",
    "Read hit over. after read",
    "Read hit over. after write",
    "Read miss over. after read",
    "Read miss over. after write",
    "Write hit over. after read",
    "Write hit over. after write",
    "Write miss over. after read",
    "Write miss over. after write",
    "Read completion overhead",
    "Write completion overhead",
    "Data preparation overhead",
    "First reselect overhead",
    "Other reselect overhead",
    "Read disconnect afterread",
    "Read disconnect afterwrite",
    "Write disconnect overhead",
    "Extra write disconnect",
    "Extradisc command overhead",
    "Extradisc disconnect overhead",
    "Extradisc inter-disconnect delay",
    "Extradisc 2nd disconnect overhead",
    "Extradisc seek delta",
    "Minimum seek delay",
];

/// An integer option, reported unless it has its neutral value (or is absent).
fn neutral_int(
    disk: &Block,
    audit: &mut Audit,
    key: &str,
    neutral: i64,
    reason: &str,
) -> Result<(), DiskSimError> {
    if disk.opt_i64(key)?.is_some_and(|v| v != neutral) {
        audit.report_key(disk, key, reason);
    }
    Ok(())
}

/// Controller, bus, cache and queue of the drive; `bus_ms` is the (read, write) block
/// transfer time of the bus above the disk, if known.
pub(super) fn controller_and_cache(
    disk: &Block,
    bus_ms: Option<(f64, f64)>,
    audit: &mut Audit,
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
    let never_disconnect = disk.flag("Never disconnect")?;
    let data_prep_ns = time_ns(disk, "Data preparation overhead", scale)?;
    let mut controller = ControllerParams {
        after_read,
        after_write,
        read_completion_ns: time_ns(disk, "Read completion overhead", scale)?,
        write_completion_ns: time_ns(disk, "Write completion overhead", scale)?,
        data_prep_ns,
        reselect_first_ns: time_ns(disk, "First reselect overhead", scale)?,
        reselect_other_ns: time_ns(disk, "Other reselect overhead", scale)?,
        disconnect_read_after_read_ns: time_ns(disk, "Read disconnect afterread", scale)?,
        disconnect_read_after_write_ns: time_ns(disk, "Read disconnect afterwrite", scale)?,
        disconnect_write_ns: time_ns(disk, "Write disconnect overhead", scale)?,
        minimum_write_positioning_ns: time_ns(disk, "Minimum seek delay", scale)?,
        extra_write_disconnect,
    };
    let reconnecting_is_free = controller.data_prep_ns == 0
        && controller.reselect_first_ns == 0
        && controller.reselect_other_ns == 0
        && controller.disconnect_read_after_read_ns == 0
        && controller.disconnect_read_after_write_ns == 0
        && controller.disconnect_write_ns == 0;
    if never_disconnect {
        // A read keeps the bus from arrival to completion: no disconnect, no reselection.
        controller.disconnect_read_after_read_ns = 0;
        controller.disconnect_read_after_write_ns = 0;
        controller.reselect_first_ns = 0;
        if data_prep_ns != 0 {
            audit.report_key(
                disk,
                "Never disconnect",
                "reads pay the data preparation overhead when their data is ready rather \
                 than with the command",
            );
        }
    }

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

    let cache = cache(disk)?;
    for (key, neutral, reason) in [
        (
            "Allow almost read hits",
            0,
            "a read starting where read-ahead is reading is a miss",
        ),
        (
            "Allow sneaky full read hits",
            0,
            "read hits wait for the mechanism's current command",
        ),
        (
            "Allow sneaky partial read hits",
            0,
            "read hits wait for the mechanism's current command",
        ),
        (
            "Allow sneaky intermediate read hits",
            0,
            "queued reads are not served from the buffer out of order",
        ),
        (
            "Allow write prebuffering",
            0,
            "queued writes do not transfer their data early",
        ),
        (
            "Preseeking level",
            0,
            "the actuator starts moving only once the previous command completed",
        ),
        (
            "Disconnect write if seek",
            0,
            "writes keep the bus while the actuator seeks",
        ),
        (
            "Write hit stop prefetch",
            1,
            "writes always stop read-ahead",
        ),
        (
            "Read directly to buffer",
            1,
            "sectors go straight into the buffer (no separate sector buffer)",
        ),
    ] {
        neutral_int(disk, audit, key, neutral, reason)?;
    }
    if !reconnecting_is_free {
        if disk.opt_i64("Hold bus entire read xfer")? == Some(0) {
            audit.report_key(
                disk,
                "Hold bus entire read xfer",
                "a read holds the bus once its data phase started; DiskSim would pay \
                 disconnect and reselect overheads when the buffer runs dry",
            );
        }
        audit.report_key(
            disk,
            "Hold bus entire write xfer",
            "writes larger than a segment are not throttled by buffer space",
        );
        audit.report_key(
            disk,
            "Low (write) water mark",
            "writes larger than a segment are not throttled by buffer space",
        );
    }

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
        max_wait_ns: None,
    };
    if queue.depth > 1 {
        for p in &sched_block.params {
            let neutral = match p.key.to_ascii_lowercase().as_str() {
                "scheduling policy" | "print stats" => true,
                _ => matches!(
                    super::super::access::value_f64(&p.value),
                    Some(v) if v == 0.0
                ),
            };
            if !neutral {
                audit.report(
                    sched_block,
                    p,
                    "only the scheduling policy is modelled (on exact cylinders and angles)",
                );
            }
        }
    }
    audit.unknown_keys(disk, KNOWN);
    Ok((controller, bus, cache, queue))
}

/// The segmented cache and read-ahead.
fn cache(disk: &Block) -> Result<CacheParams, DiskSimError> {
    let segment_sectors = disk.u32("Segment size (in blks)")?;
    let segments = disk.u32("Number of buffer segments")?;
    // DiskSim treats every non-zero value as "on" (2 included).
    let enabled = match disk.i64("Enable caching in buffer")? {
        0 => false,
        1 | 2 => true,
        v => return Err(disk.invalid("Enable caching in buffer", format!("{v} is not 0..=2"))),
    };
    let continuous = disk.i64("Buffer continuous read")?;
    let mut min_ra = disk.u32("Minimum read-ahead (blks)")?;
    let mut max_ra = disk.u32("Maximum read-ahead (blks)")?;
    // As DiskSim's set-up: no read-ahead scheme means no read-ahead at all, and the
    // maximum is at least the minimum.
    if continuous == 0 {
        min_ra = 0;
        max_ra = 0;
    }
    max_ra = max_ra.max(min_ra);
    let over_requested = disk.i64("Read-ahead over requested")?;
    let (read_ahead_max_sectors, read_ahead_stop, read_ahead_fills_segment) = match continuous {
        0 => (0, ReadAheadStop::Budget, false),
        1..=3 => {
            let stop = match continuous {
                1 => ReadAheadStop::TrackEnd,
                2 => ReadAheadStop::CylinderEnd,
                _ => ReadAheadStop::Budget,
            };
            match (max_ra, over_requested) {
                (0, 0) => (segment_sectors, stop, true),
                (0, _) => (segment_sectors, stop, false),
                (m, _) => (m, stop, false),
            }
        }
        4 => (segment_sectors, ReadAheadStop::TrackAhead, false),
        v => {
            return Err(disk.invalid(
                "Buffer continuous read",
                format!("{v} is not a DiskSim read-ahead scheme (0 to 4)"),
            ))
        }
    };
    if !(-1..=1).contains(&over_requested) {
        return Err(disk.invalid(
            "Read-ahead over requested",
            format!("{over_requested} is not -1, 0 or 1"),
        ));
    }
    let fast_write = disk.i64("Fast write level")?;
    if !(0..=2).contains(&fast_write) {
        return Err(disk.invalid("Fast write level", format!("{fast_write} is not 0..=2")));
    }
    let write_back = fast_write > 0;
    Ok(CacheParams {
        enabled,
        segments,
        segment_sectors,
        dedicated_write_segment: disk.flag("Use separate write segment")?,
        read_hits_on_write_data: disk.flag("Allow read hits on write data")?,
        read_watermark: disk.f64("High (read) water mark")?,
        watermark_by_request_size: disk.flag("Set watermark by reqsize")?,
        read_ahead_max_sectors,
        read_ahead_min_sectors: min_ra,
        read_ahead_on_hit: disk.flag("Read-ahead on idle hit")?,
        read_ahead_stop,
        read_ahead_fills_segment,
        read_drops_request_data: over_requested == -1,
        write_back,
        write_back_segments: if write_back {
            Some(disk.u32("Maximum number of write segments")?)
        } else {
            None
        },
        zero_latency_reads: disk.i64("Immediate buffer read")? != 0,
        zero_latency_writes: disk.i64("Immediate buffer write")? != 0,
        combine_sequential_writes: write_back && disk.flag("Combine seq writes")?,
        read_any_free_blocks: disk.flag("Read any free blocks")?,
        partial_hit_transfers_at_once: disk.flag("Immed transfer partial hit")?,
        read_ahead_stops_at_sector_end: !disk.flag("Stop prefetch in sector")?,
    })
}
