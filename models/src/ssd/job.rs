//! Jobs: the record of one host command (or one buffered page on its way to flash) while the
//! model works on it. A job moves through phases; each phase waits for a set of flash ops
//! (`pending`) and may not end before `ready_ns` (its other inputs, such as data arriving
//! over the link). Ops a job will release later hang off `held` as a linked list in the op
//! slab, so a job never allocates.

use super::table::NONE;
use crate::{ModelOp, ModelRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    Read,
    /// A write programmed to flash before it completes (no buffer, FUA on a volatile
    /// buffer, or larger than the buffer).
    WriteThrough,
    /// A write acknowledged from the DRAM buffer.
    WriteBuffered,
    Flush,
    Discard,
    /// One full (or flushed) buffer page being programmed; internal, no host completion.
    BufferPage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a queue slot.
    Queued,
    /// Mapping fetches and read-modify-write reads.
    Lookup,
    /// Data reads or programs.
    Data,
    /// A buffered write waiting for room.
    WaitBuffer,
    /// A FLUSH waiting for buffered pages to be programmed.
    WaitDrain,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    pub kind: JobKind,
    pub phase: Phase,
    pub tag: u64,
    pub sector: u64,
    pub sectors: u32,
    /// Mapping units covered, clipped to the drive: `first_unit..end_unit`.
    pub first_unit: u32,
    pub end_unit: u32,
    /// Holds every queue slot while it runs (SATA FLUSH).
    pub exclusive: bool,
    pub pending: u32,
    pub ready_ns: u64,
    /// Latest time of the work that must finish before completion.
    pub done_ns: u64,
    /// Read data still to send to the host.
    pub link_bytes_left: u64,
    pub held: u32,
    /// BufferPage: sectors of host data in the page. WriteBuffered: sectors it needs room for.
    pub buffer_sectors: u32,
    /// BufferPage: its sequence number. Flush: pages below this must be programmed.
    pub seq: u64,
}

impl Job {
    /// A host command; `logical_units` clips it to the drive. Returns the job and whether
    /// the command reached past the end.
    pub fn host(
        kind: JobKind,
        req: &ModelRequest,
        unit_sectors: u32,
        logical_units: u32,
    ) -> (Job, bool) {
        let end_sector = req.sector.saturating_add(u64::from(req.sectors));
        let unit_sectors = u64::from(unit_sectors);
        let first = req.sector / unit_sectors;
        let end = end_sector.div_ceil(unit_sectors);
        let limit = u64::from(logical_units);
        let out_of_range = end > limit && req.op != ModelOp::Flush;
        let job = Job {
            kind,
            phase: Phase::Queued,
            tag: req.tag,
            sector: req.sector,
            sectors: req.sectors,
            first_unit: first.min(limit) as u32,
            end_unit: end.min(limit) as u32,
            exclusive: false,
            pending: 0,
            ready_ns: 0,
            done_ns: 0,
            link_bytes_left: 0,
            held: NONE,
            buffer_sectors: 0,
            seq: 0,
        };
        (job, out_of_range)
    }

    /// An internal job programming one buffer page holding `buffer_sectors` sectors of host data.
    pub fn buffer_page(buffer_sectors: u32, seq: u64) -> Job {
        Job {
            kind: JobKind::BufferPage,
            phase: Phase::Lookup,
            tag: 0,
            sector: 0,
            sectors: 0,
            first_unit: 0,
            end_unit: 0,
            exclusive: false,
            pending: 0,
            ready_ns: 0,
            done_ns: 0,
            link_bytes_left: 0,
            held: NONE,
            buffer_sectors,
            seq,
        }
    }

    pub fn bytes(&self) -> u64 {
        u64::from(self.sectors) * 512
    }

    pub fn unit_count(&self) -> u32 {
        self.end_unit - self.first_unit
    }

    /// Sectors of `unit` the request covers, `[start, end)` relative to the unit.
    fn overlap(&self, unit: u32, unit_sectors: u32) -> (u32, u32) {
        let us = u64::from(unit_sectors);
        let unit_start = u64::from(unit) * us;
        let start = self.sector.max(unit_start);
        let end = (self.sector + u64::from(self.sectors)).min(unit_start + us);
        if end <= start {
            return (0, 0);
        }
        ((start - unit_start) as u32, (end - unit_start) as u32)
    }

    /// Bit mask (bit per sector) of the sectors of `unit` the request covers; all ones for
    /// units of more than 32 sectors, which are not tracked by sector.
    pub fn sector_mask(&self, unit: u32, unit_sectors: u32) -> u32 {
        if unit_sectors > 32 {
            return u32::MAX;
        }
        let (start, end) = self.overlap(unit, unit_sectors);
        let width = end - start;
        if width == 0 {
            return 0;
        }
        let ones = if width >= 32 {
            u32::MAX
        } else {
            (1u32 << width) - 1
        };
        ones << start
    }

    /// Bytes of `unit` the request covers.
    pub fn bytes_in_unit(&self, unit: u32, unit_sectors: u32) -> u32 {
        let (start, end) = self.overlap(unit, unit_sectors);
        (end - start) * 512
    }

    /// Units only partly covered by the request (at most two: head and tail), which need
    /// their old content merged in.
    pub fn partial_units(&self, unit_sectors: u32) -> [Option<u32>; 2] {
        if self.unit_count() == 0 {
            return [None, None];
        }
        let us = u64::from(unit_sectors);
        let end_sector = self.sector + u64::from(self.sectors);
        let first = self.first_unit;
        let last = self.end_unit - 1;
        let head = !self.sector.is_multiple_of(us) || end_sector < (u64::from(first) + 1) * us;
        let tail = last != first && end_sector < (u64::from(last) + 1) * us;
        let head = head.then_some(first);
        let tail = tail.then_some(last);
        [head, tail]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(sector: u64, sectors: u32) -> ModelRequest {
        ModelRequest {
            tag: 1,
            op: ModelOp::Write,
            sector,
            sectors,
            fua: false,
        }
    }

    #[test]
    fn units_and_partials() {
        let (j, oor) = Job::host(JobKind::WriteThrough, &req(8, 8), 8, 100);
        assert!(!oor);
        assert_eq!((j.first_unit, j.end_unit), (1, 2));
        assert_eq!(j.partial_units(8), [None, None]);

        let (j, _) = Job::host(JobKind::WriteThrough, &req(9, 1), 8, 100);
        assert_eq!((j.first_unit, j.end_unit), (1, 2));
        assert_eq!(j.partial_units(8), [Some(1), None]);

        let (j, _) = Job::host(JobKind::WriteThrough, &req(4, 16), 8, 100);
        assert_eq!((j.first_unit, j.end_unit), (0, 3));
        assert_eq!(j.partial_units(8), [Some(0), Some(2)]);
        assert_eq!(j.sector_mask(0, 8), 0b1111_0000);
        assert_eq!(j.sector_mask(1, 8), 0xff);
        assert_eq!(j.sector_mask(2, 8), 0b0000_1111);
        assert_eq!(j.sector_mask(3, 8), 0);
        assert_eq!(j.bytes_in_unit(0, 8), 4 * 512);
        assert_eq!(j.bytes_in_unit(1, 8), 8 * 512);
        assert_eq!(j.sector_mask(0, 64), u32::MAX);
    }

    #[test]
    fn clips_past_the_end() {
        let (j, oor) = Job::host(JobKind::Read, &req(792, 16), 8, 100);
        assert!(oor);
        assert_eq!((j.first_unit, j.end_unit), (99, 100));
    }
}
