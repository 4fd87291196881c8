//! The common record every trace reader and workload generator yields.
//!
//! This module owns the vocabulary ([`TraceRecord`], [`TraceOp`], [`DeviceKey`]) and the exact
//! unit conversions shared by the format parsers (bytes to sectors, decimal time to integer
//! nanoseconds). It does not parse any format and does not decide how records are replayed.

use dmsim_engine::block::{Op, SECTOR_SIZE};
use serde::{Deserialize, Serialize};

/// Bytes in a sector, as a `u64` for offset arithmetic.
pub const SECTOR_BYTES: u64 = SECTOR_SIZE as u64;

/// What a traced request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceOp {
    Read,
    Write,
    /// Discard / trim / unmap of the range.
    Discard,
    /// A cache flush (blkparse `F` without data, fio `sync`/`datasync`).
    Flush,
    /// Anything else a format can express (blkparse `N`); replay usually skips these.
    Other,
}

impl TraceOp {
    /// The engine operation this maps to; `None` for [`TraceOp::Other`].
    pub fn to_block_op(self) -> Option<Op> {
        match self {
            TraceOp::Read => Some(Op::Read),
            TraceOp::Write => Some(Op::Write),
            TraceOp::Discard => Some(Op::Discard),
            TraceOp::Flush => Some(Op::Flush),
            TraceOp::Other => None,
        }
    }

    /// Lower-case name, as used by filters and `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            TraceOp::Read => "read",
            TraceOp::Write => "write",
            TraceOp::Discard => "discard",
            TraceOp::Flush => "flush",
            TraceOp::Other => "other",
        }
    }
}

impl std::fmt::Display for TraceOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TraceOp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "read" | "r" => Ok(TraceOp::Read),
            "write" | "w" => Ok(TraceOp::Write),
            "discard" | "trim" | "d" => Ok(TraceOp::Discard),
            "flush" | "sync" | "f" => Ok(TraceOp::Flush),
            "other" => Ok(TraceOp::Other),
            _ => Err(format!(
                "unknown operation `{s}` (expected read, write, discard, flush or other)"
            )),
        }
    }
}

/// Index of a name (MSR host name, fio file name) in the reader's name table
/// ([`crate::traces::TraceReader::name`]). Ids are given in order of first appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NameId(pub u32);

/// Which device, volume or LUN a record addresses, as the format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DeviceKey {
    /// A numbered device: SYSTOR LUN, Tencent volume, Alibaba device, SPC ASU, DiskSim/MQSim
    /// device number, or a generator's device.
    Number(u64),
    /// MSR Cambridge: host name (interned) and disk number; labelled `host_disk` (`hm_0`).
    HostDisk { host: NameId, disk: u32 },
    /// blkparse: the device's `major,minor`.
    MajorMinor { major: u32, minor: u32 },
    /// fio iolog: the file name (interned).
    File(NameId),
}

/// One block request of a trace or a generated workload.
///
/// Promises: `sector + sectors` does not overflow; `time_ns` is exact per the format's rule
/// (see the format's module): integer nanoseconds on the format's own time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Arrival time in nanoseconds on the format's time axis: absolute (Unix epoch for
    /// SYSTOR, Tencent, Alibaba; Windows FILETIME epoch 1601-01-01 for MSR) or relative to the
    /// trace start (SPC, DiskSim, MQSim, blkparse, fio). Replay subtracts the first record's
    /// time ([`crate::traces::TraceReader::first_time_ns`]).
    pub time_ns: u64,
    pub op: TraceOp,
    /// First 512-byte sector touched.
    pub sector: u64,
    /// Number of 512-byte sectors covered (0 for a flush without data).
    pub sectors: u64,
    pub device: DeviceKey,
    /// Response time the trace measured, when the format records one (MSR, SYSTOR).
    pub measured_latency_ns: Option<u64>,
}

impl TraceRecord {
    /// One past the last sector covered.
    pub fn end_sector(&self) -> u64 {
        self.sector + self.sectors
    }
}

/// Converts a byte range to the sector range covering every byte touched: the start rounds
/// down, the end rounds up. Returns `(sector, sectors, rounded)`; `rounded` is true when the
/// byte range was not sector aligned. `None` when `offset + length` overflows.
pub fn byte_range_to_sectors(offset_bytes: u64, length_bytes: u64) -> Option<(u64, u64, bool)> {
    let end_bytes = offset_bytes.checked_add(length_bytes)?;
    let sector = offset_bytes / SECTOR_BYTES;
    let end_sector = end_bytes.div_ceil(SECTOR_BYTES);
    let rounded =
        !offset_bytes.is_multiple_of(SECTOR_BYTES) || !length_bytes.is_multiple_of(SECTOR_BYTES);
    debug_assert!(end_sector >= sector);
    Some((sector, end_sector - sector, rounded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_byte_ranges_convert_exactly() {
        assert_eq!(byte_range_to_sectors(4096, 8192), Some((8, 16, false)));
        assert_eq!(byte_range_to_sectors(0, 0), Some((0, 0, false)));
    }

    #[test]
    fn unaligned_byte_ranges_cover_every_byte() {
        // bytes 100..612 touch sectors 0 and 1.
        assert_eq!(byte_range_to_sectors(100, 512), Some((0, 2, true)));
        // bytes 512..513 touch sector 1 only.
        assert_eq!(byte_range_to_sectors(512, 1), Some((1, 1, true)));
        assert_eq!(byte_range_to_sectors(u64::MAX, 1), None);
    }

    #[test]
    fn op_names_round_trip() {
        for op in [
            TraceOp::Read,
            TraceOp::Write,
            TraceOp::Discard,
            TraceOp::Flush,
            TraceOp::Other,
        ] {
            assert_eq!(op.name().parse::<TraceOp>(), Ok(op));
        }
        assert!("bogus".parse::<TraceOp>().is_err());
        assert_eq!(TraceOp::Other.to_block_op(), None);
        assert_eq!(TraceOp::Discard.to_block_op(), Some(Op::Discard));
    }
}
