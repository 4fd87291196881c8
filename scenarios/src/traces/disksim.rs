//! DiskSim ASCII traces and MQSim's variant of them: five whitespace-separated fields per
//! line, one request each.
//!
//! - DiskSim (`disksim_iotrace.c`, ascii format): `time devno blkno bcount flags`. `time` is
//!   milliseconds with a decimal fraction → `time_ns` exact to 1 ns (finer digits truncated
//!   and counted); `blkno` and `bcount` are 512-byte blocks; `flags` is hexadecimal (C `%x`)
//!   and bit 0 set means read, clear means write. Extra trailing fields (DiskSim's `batch`
//!   variant) are ignored.
//! - MQSim (`ASCII_Trace_Definition.h`): `arrival_ns device lba_sector size_sectors type`,
//!   integer nanoseconds from the trace start, `type` 0 = write and 1 = read. Exactly five
//!   fields.
//!
//! Auto-detection tells them apart by the time field: MQSim's is an integer, DiskSim's
//! usually has a decimal point. A DiskSim trace with integer times is detected as MQSim;
//! pass `--format disksim` for it.

use super::fields::{parse_hex_u64, parse_u64, split_whitespace, FieldError};
use super::parser::{LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

/// DiskSim's READ flag bit.
const DISKSIM_READ_FLAG: u64 = 0x1;

#[derive(Debug, Default)]
pub(crate) struct DiskSimParser;

impl LineParser for DiskSimParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let mut f = [&b""[..]; 5];
        let count = split_whitespace(line, &mut f);
        if count < 5 {
            return Err(FieldError::new(
                "line",
                format!("expected 5 fields `time devno blkno bcount flags`, found {count}"),
            ));
        }
        let time_ns = state.decimal_time("time", f[0], 6)?;
        let device = parse_u64("devno", f[1])?;
        let sector = parse_u64("blkno", f[2])?;
        let sectors = parse_u64("bcount", f[3])?;
        let flags = parse_hex_u64("flags", f[4])?;
        let op = if flags & DISKSIM_READ_FLAG != 0 {
            TraceOp::Read
        } else {
            TraceOp::Write
        };
        let (sector, sectors) = state.sectors_checked("blkno", sector, sectors)?;
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

#[derive(Debug, Default)]
pub(crate) struct MqsimParser;

impl LineParser for MqsimParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let mut f = [&b""[..]; 5];
        let count = split_whitespace(line, &mut f);
        if count != 5 {
            return Err(FieldError::new(
                "line",
                format!("expected 5 fields `arrival_ns device lba size type`, found {count}"),
            ));
        }
        let time_ns = parse_u64("arrival_ns", f[0])?;
        let device = parse_u64("device", f[1])?;
        let sector = parse_u64("lba", f[2])?;
        let sectors = parse_u64("size", f[3])?;
        let op = match f[4] {
            b"0" => TraceOp::Write,
            b"1" => TraceOp::Read,
            other => {
                return Err(FieldError::unexpected(
                    "type",
                    "`0` (write) or `1` (read)",
                    other,
                ))
            }
        };
        let (sector, sectors) = state.sectors_checked("lba", sector, sectors)?;
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
