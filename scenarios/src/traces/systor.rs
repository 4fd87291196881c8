//! SYSTOR'17 VDI traces (SNIA IOTTA), CSV with header
//! `Timestamp,Response,IOType,LUN,Offset,Size`.
//!
//! - Timestamp: Unix seconds with a decimal fraction → `time_ns` (exact to 1 ns; digits below
//!   a nanosecond are truncated and counted).
//! - Response: seconds with a fraction → `measured_latency_ns`; an empty field gives `None`.
//! - IOType: `R` / `W` (any case).
//! - LUN: [`DeviceKey::Number`].
//! - Offset, Size: bytes; converted with the crate's covering rule.
//!
//! Ordering: SYSTOR files are **not sorted by time** (requests appear in completion-ish order,
//! a few milliseconds apart). The reader yields records in file order and counts records
//! earlier than one already seen ([`crate::traces::TraceReader::out_of_order_records`]);
//! replay that needs time order wraps the reader in [`crate::traces::TimeSorter`], which
//! sorts within a bounded window.

use super::fields::{parse_u64, FieldError};
use super::parser::{csv_record, LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

const HEADER: [&str; 6] = ["Timestamp", "Response", "IOType", "LUN", "Offset", "Size"];

#[derive(Debug, Default)]
pub(crate) struct SystorParser {
    seen_record: bool,
}

impl LineParser for SystorParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let Some(f) = csv_record(line, &HEADER, self.seen_record)? else {
            return Ok(Parsed::Skip);
        };
        let time_ns = state.decimal_time("Timestamp", f[0], 9)?;
        let measured_latency_ns = if f[1].is_empty() {
            None
        } else {
            Some(state.decimal_time("Response", f[1], 9)?)
        };
        let op = match f[2] {
            b"R" | b"r" => TraceOp::Read,
            b"W" | b"w" => TraceOp::Write,
            other => return Err(FieldError::unexpected("IOType", "`R` or `W`", other)),
        };
        let lun = parse_u64("LUN", f[3])?;
        let offset = parse_u64("Offset", f[4])?;
        let size = parse_u64("Size", f[5])?;
        let (sector, sectors) = state.sectors_from_bytes("Offset", offset, size)?;
        self.seen_record = true;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::Number(lun),
            measured_latency_ns,
        }))
    }
}
