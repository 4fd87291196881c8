//! blkparse's default text output (blktrace suite), one event per line:
//! `maj,min cpu seq seconds.nanoseconds pid action rwbs [sector + count] [process]`.
//!
//! Choice: only **queue (`Q`) events** become records: they are the requests as the upper
//! layer issued them, at issue time, before merging or splitting by the scheduler. All other
//! actions (`G I D C M F P U A X m` …) are skipped, so `measured_latency_ns` is `None` (pairing
//! Q with C would need per-request state; not done here).
//!
//! - Time: `seconds.nanoseconds` from the trace start → `time_ns` (exact).
//! - Device: `maj,min` → [`DeviceKey::MajorMinor`].
//! - RWBS: `D` → discard, else `W` → write, else `R` → read, else a leading `F` (flush
//!   without data, `F`/`FN`) → flush, else (`N`) → other. A preflush on a write (`FWS`) is
//!   reported as a write.
//! - `sector + count` in 512-byte sectors; events without them (empty flushes) get 0, 0.
//!
//! Lines whose first token is not `maj,min` (the per-CPU and total summaries blkparse prints
//! at the end, blank lines) are skipped. A `Q` line with a bad field is malformed.

use super::fields::{parse_u32, parse_u64, split_whitespace, FieldError};
use super::parser::{LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

#[derive(Debug, Default)]
pub(crate) struct BlkparseParser;

fn parse_device(token: &[u8]) -> Option<(&[u8], &[u8])> {
    let comma = token.iter().position(|&b| b == b',')?;
    let (major, minor) = (&token[..comma], &token[comma + 1..]);
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    (all_digits(major) && all_digits(minor)).then_some((major, minor))
}

/// Maps an RWBS string to an operation (see the module doc for the precedence).
pub(crate) fn op_from_rwbs(rwbs: &[u8]) -> Option<TraceOp> {
    if rwbs.is_empty()
        || !rwbs.iter().all(|b| {
            matches!(
                b,
                b'F' | b'D' | b'W' | b'R' | b'N' | b'A' | b'S' | b'M' | b'E' | b'B'
            )
        })
    {
        return None;
    }
    Some(if rwbs.contains(&b'D') {
        TraceOp::Discard
    } else if rwbs.contains(&b'W') {
        TraceOp::Write
    } else if rwbs.contains(&b'R') {
        TraceOp::Read
    } else if rwbs[0] == b'F' {
        TraceOp::Flush
    } else {
        TraceOp::Other
    })
}

impl LineParser for BlkparseParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let mut t = [&b""[..]; 10];
        let count = split_whitespace(line, &mut t);
        if count == 0 {
            return Ok(Parsed::Skip);
        }
        let Some((major, minor)) = parse_device(t[0]) else {
            return Ok(Parsed::Skip);
        };
        if count < 6 {
            return Err(FieldError::new(
                "line",
                format!("expected at least 6 fields before the action, found {count}"),
            ));
        }
        if t[5] != b"Q" {
            return Ok(Parsed::Skip);
        }
        if count < 7 {
            return Err(FieldError::missing("rwbs"));
        }
        let major = parse_u32("device", major)?;
        let minor = parse_u32("device", minor)?;
        let time_ns = state.decimal_time("time", t[3], 9)?;
        let op = op_from_rwbs(t[6])
            .ok_or_else(|| FieldError::unexpected("rwbs", "an RWBS string like `WS`", t[6]))?;
        let (sector, sectors) = if count >= 10 && t[8] == b"+" {
            let sector = parse_u64("sector", t[7])?;
            let sectors = parse_u64("count", t[9])?;
            state.sectors_checked("sector", sector, sectors)?
        } else if count == 7 || t[7].starts_with(b"[") {
            (0, 0)
        } else {
            return Err(FieldError::unexpected(
                "sector",
                "`sector + count` or `[process]`",
                t[7],
            ));
        };
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::MajorMinor { major, minor },
            measured_latency_ns: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rwbs_precedence() {
        assert_eq!(op_from_rwbs(b"WS"), Some(TraceOp::Write));
        assert_eq!(op_from_rwbs(b"FWFS"), Some(TraceOp::Write));
        assert_eq!(op_from_rwbs(b"RA"), Some(TraceOp::Read));
        assert_eq!(op_from_rwbs(b"DS"), Some(TraceOp::Discard));
        assert_eq!(op_from_rwbs(b"FN"), Some(TraceOp::Flush));
        assert_eq!(op_from_rwbs(b"N"), Some(TraceOp::Other));
        assert_eq!(op_from_rwbs(b"X1"), None);
    }
}
