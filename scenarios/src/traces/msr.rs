//! MSR Cambridge block traces (SNIA IOTTA), CSV without header:
//! `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`.
//!
//! - Timestamp: Windows FILETIME, 100 ns units since 1601-01-01 UTC. `time_ns` = value × 100
//!   (exact; ns since 1601, fits in a u64 until the year 2185).
//! - Hostname + DiskNumber: [`DeviceKey::HostDisk`], labelled `hm_0` like the trace files.
//! - Type: `Read` / `Write` (any case).
//! - Offset, Size: bytes; converted with the crate's covering rule (start down, end up).
//! - ResponseTime: 100 ns units → `measured_latency_ns`.
//!
//! A first line equal to the field names above is taken as a header and skipped.

use super::fields::{parse_u32, parse_u64, FieldError};
use super::parser::{csv_record, LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

const HEADER: [&str; 7] = [
    "Timestamp",
    "Hostname",
    "DiskNumber",
    "Type",
    "Offset",
    "Size",
    "ResponseTime",
];

/// Nanoseconds per FILETIME tick.
const NS_PER_FILETIME_TICK: u64 = 100;

#[derive(Debug, Default)]
pub(crate) struct MsrParser {
    seen_record: bool,
}

impl LineParser for MsrParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let Some(f) = csv_record(line, &HEADER, self.seen_record)? else {
            return Ok(Parsed::Skip);
        };
        let ticks = parse_u64("Timestamp", f[0])?;
        let time_ns = ticks
            .checked_mul(NS_PER_FILETIME_TICK)
            .ok_or_else(|| FieldError::unexpected("Timestamp", "a FILETIME below 2^64 ns", f[0]))?;
        let host = state.names.intern("Hostname", f[1])?;
        let disk = parse_u32("DiskNumber", f[2])?;
        let op = if f[3].eq_ignore_ascii_case(b"read") {
            TraceOp::Read
        } else if f[3].eq_ignore_ascii_case(b"write") {
            TraceOp::Write
        } else {
            return Err(FieldError::unexpected("Type", "`Read` or `Write`", f[3]));
        };
        let offset = parse_u64("Offset", f[4])?;
        let size = parse_u64("Size", f[5])?;
        let response_ticks = parse_u64("ResponseTime", f[6])?;
        let latency_ns = response_ticks
            .checked_mul(NS_PER_FILETIME_TICK)
            .ok_or_else(|| FieldError::unexpected("ResponseTime", "a smaller value", f[6]))?;
        let (sector, sectors) = state.sectors_from_bytes("Offset", offset, size)?;
        self.seen_record = true;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::HostDisk { host, disk },
            measured_latency_ns: Some(latency_ns),
        }))
    }
}
