//! SPC trace file format (UMass Trace Repository: Financial, WebSearch), CSV
//! `ASU,LBA,Size,Opcode,Timestamp[,optional fields…]`.
//!
//! Per the SPC Trace File Format Specification 1.0.1: ASU is the application storage unit
//! ([`DeviceKey::Number`]); LBA is in 512-byte blocks (used as the sector directly); Size is
//! in bytes (the sector count rounds up, counted when it does); Opcode is `R`/`r` or `W`/`w`;
//! Timestamp is seconds (decimal fraction) from the start of the trace → `time_ns`, exact to
//! 1 ns (finer digits truncated and counted). Fields may carry white space. Fields after the
//! fifth are optional and ignored.

use super::fields::{parse_u64, split_separated, FieldError};
use super::parser::{LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord, SECTOR_BYTES};

#[derive(Debug, Default)]
pub(crate) struct SpcParser;

impl LineParser for SpcParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let mut f = [&b""[..]; 5];
        let count = split_separated(line, b',', &mut f);
        if count < 5 {
            return Err(FieldError::new(
                "line",
                format!("expected at least 5 comma-separated fields, found {count}"),
            ));
        }
        let asu = parse_u64("ASU", f[0])?;
        let sector = parse_u64("LBA", f[1])?;
        let size_bytes = parse_u64("Size", f[2])?;
        let op = match f[3] {
            b"R" | b"r" => TraceOp::Read,
            b"W" | b"w" => TraceOp::Write,
            other => return Err(FieldError::unexpected("Opcode", "`R` or `W`", other)),
        };
        let time_ns = state.decimal_time("Timestamp", f[4], 9)?;
        let sectors = size_bytes.div_ceil(SECTOR_BYTES);
        if !size_bytes.is_multiple_of(SECTOR_BYTES) {
            state.unaligned_records += 1;
        }
        let (sector, sectors) = state.sectors_checked("LBA", sector, sectors)?;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::Number(asu),
            measured_latency_ns: None,
        }))
    }
}
