//! Alibaba Cloud block traces (`alibaba/block-traces`, `io_traces.csv`), CSV
//! `device_id,opcode,offset,length,timestamp`.
//!
//! Per the published schema: device_id is the virtual disk ([`DeviceKey::Number`]); opcode is
//! `R` or `W`; offset and length are bytes (converted with the crate's covering rule);
//! timestamp is Unix time in microseconds (`time_ns` = µs × 1000, exact). A first line equal
//! to the field names is skipped.

use super::fields::{parse_u64, FieldError};
use super::parser::{csv_record, LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

const HEADER: [&str; 5] = ["device_id", "opcode", "offset", "length", "timestamp"];
const NS_PER_US: u64 = 1_000;

#[derive(Debug, Default)]
pub(crate) struct AlibabaParser {
    seen_record: bool,
}

impl LineParser for AlibabaParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let Some(f) = csv_record(line, &HEADER, self.seen_record)? else {
            return Ok(Parsed::Skip);
        };
        let device = parse_u64("device_id", f[0])?;
        let op = match f[1] {
            b"R" | b"r" => TraceOp::Read,
            b"W" | b"w" => TraceOp::Write,
            other => return Err(FieldError::unexpected("opcode", "`R` or `W`", other)),
        };
        let offset = parse_u64("offset", f[2])?;
        let length = parse_u64("length", f[3])?;
        let micros = parse_u64("timestamp", f[4])?;
        let time_ns = micros
            .checked_mul(NS_PER_US)
            .ok_or_else(|| FieldError::unexpected("timestamp", "a smaller time", f[4]))?;
        let (sector, sectors) = state.sectors_from_bytes("offset", offset, length)?;
        self.seen_record = true;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::Number(device),
            measured_latency_ns: None,
        }))
    }
}
