//! Tencent Cloud Block Storage traces (SNIA IOTTA), CSV `Timestamp,Offset,Size,IOType,VolumeID`.
//!
//! Per the trace's README: Timestamp is Unix time in whole seconds (`time_ns` = s × 10^9);
//! Offset and Size are in 512-byte sectors (no rounding needed); IOType is `0` = read,
//! `1` = write; VolumeID is the cloud volume ([`DeviceKey::Number`]). A first line equal to
//! the field names is skipped. The published archives are `.tgz` (tar): extract the CSV first.

use super::fields::{parse_u64, FieldError};
use super::parser::{csv_record, LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

const HEADER: [&str; 5] = ["Timestamp", "Offset", "Size", "IOType", "VolumeID"];
const NS_PER_S: u64 = 1_000_000_000;

#[derive(Debug, Default)]
pub(crate) struct TencentParser {
    seen_record: bool,
}

impl LineParser for TencentParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let Some(f) = csv_record(line, &HEADER, self.seen_record)? else {
            return Ok(Parsed::Skip);
        };
        let seconds = parse_u64("Timestamp", f[0])?;
        let time_ns = seconds
            .checked_mul(NS_PER_S)
            .ok_or_else(|| FieldError::unexpected("Timestamp", "a smaller time", f[0]))?;
        let sector = parse_u64("Offset", f[1])?;
        let sectors = parse_u64("Size", f[2])?;
        let op = match f[3] {
            b"0" => TraceOp::Read,
            b"1" => TraceOp::Write,
            other => {
                return Err(FieldError::unexpected(
                    "IOType",
                    "`0` (read) or `1` (write)",
                    other,
                ))
            }
        };
        let volume = parse_u64("VolumeID", f[4])?;
        let (sector, sectors) = state.sectors_checked("Offset", sector, sectors)?;
        self.seen_record = true;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::Number(volume),
            measured_latency_ns: None,
        }))
    }
}
