//! fio iolog versions 2 and 3 (fio HOWTO, "Trace file format"; fio's `iolog.c`).
//!
//! v2: first line `fio version 2 iolog`, then `filename action` with `add`/`open`/`close`, or
//! `filename action offset length` with `read`/`write`/`trim`/`sync`/`datasync`/`wait`.
//! v3: first line `fio version 3 iolog`, every line led by a timestamp:
//! `timestamp filename action [offset length]`; `wait` is not allowed (fio ignores it, so do
//! we).
//!
//! Times (integer ns from the start of the run):
//! - v3 timestamps are **microseconds**: fio writes them with `utime_since_now` and replays
//!   their differences as microsecond delays. `time_ns` = µs × 1000, exact.
//! - v2 has no timestamps; a `wait N` line delays the following requests. The HOWTO calls N
//!   microseconds relative to the previous wait, but fio's replay code treats N as
//!   milliseconds since the start of the job and sleeps only if that time is still ahead; we
//!   follow the code: the clock becomes max(clock, N ms). Requests before any wait are at 0.
//!
//! Offsets and lengths are bytes (crate covering rule). `sync`/`datasync` → flush (no range),
//! `trim` → discard. The file name is the device ([`DeviceKey::File`]). File-management lines
//! are skipped (the name is interned on first sight).

use super::fields::{parse_u64, split_whitespace, trim, FieldError};
use super::parser::{LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord};

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;

/// Which iolog version a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FioVersion {
    V2,
    V3,
}

#[derive(Debug)]
pub(crate) struct FioParser {
    version: FioVersion,
    seen_header: bool,
    /// v2 only: the time a request issued now would have, from `wait` lines.
    clock_ns: u64,
}

impl FioParser {
    pub fn new(version: FioVersion) -> Self {
        FioParser {
            version,
            seen_header: false,
            clock_ns: 0,
        }
    }

    fn header(&self) -> &'static [u8] {
        match self.version {
            FioVersion::V2 => b"fio version 2 iolog",
            FioVersion::V3 => b"fio version 3 iolog",
        }
    }
}

enum Action {
    FileManagement,
    Io(TraceOp),
    Wait,
}

fn parse_action(token: &[u8], with_range: bool) -> Result<Action, FieldError> {
    let action = match (token, with_range) {
        (b"add" | b"open" | b"close", false) => Action::FileManagement,
        (b"read", true) => Action::Io(TraceOp::Read),
        (b"write", true) => Action::Io(TraceOp::Write),
        (b"trim", true) => Action::Io(TraceOp::Discard),
        (b"sync" | b"datasync", true) => Action::Io(TraceOp::Flush),
        (b"wait", true) => Action::Wait,
        _ if with_range => {
            return Err(FieldError::unexpected(
                "action",
                "read, write, trim, sync, datasync or wait",
                token,
            ))
        }
        _ => {
            return Err(FieldError::unexpected(
                "action",
                "add, open or close",
                token,
            ))
        }
    };
    Ok(action)
}

impl LineParser for FioParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        if !self.seen_header {
            if trim(line) == self.header() {
                self.seen_header = true;
                return Ok(Parsed::Skip);
            }
            return Err(FieldError::unexpected(
                "header",
                &format!("`{}`", super::fields::excerpt(self.header())),
                trim(line),
            ));
        }
        let mut t = [&b""[..]; 5];
        let count = split_whitespace(line, &mut t);
        // v3 lines carry a leading timestamp; shift it off so both versions look alike.
        let (timestamp_us, rest): (Option<u64>, &[&[u8]]) = match self.version {
            FioVersion::V2 => (None, &t[..count.min(4)]),
            FioVersion::V3 => {
                if count == 0 {
                    return Err(FieldError::missing("timestamp"));
                }
                (Some(parse_u64("timestamp", t[0])?), &t[1..count.min(5)])
            }
        };
        let fields_after_time = count - usize::from(timestamp_us.is_some());
        if fields_after_time != 2 && fields_after_time != 4 {
            return Err(FieldError::new(
                "line",
                format!(
                    "expected `filename action` or `filename action offset length`, found {fields_after_time} fields"
                ),
            ));
        }
        let file = state.names.intern("filename", rest[0])?;
        let action = parse_action(rest[1], fields_after_time == 4)?;
        let time_ns = match timestamp_us {
            Some(us) => us
                .checked_mul(NS_PER_US)
                .ok_or_else(|| FieldError::unexpected("timestamp", "a smaller time", t[0]))?,
            None => self.clock_ns,
        };
        match action {
            Action::FileManagement => Ok(Parsed::Skip),
            Action::Wait => {
                let wait_ms = parse_u64("offset", rest[2])?;
                if self.version == FioVersion::V2 {
                    let until_ns = wait_ms.checked_mul(NS_PER_MS).ok_or_else(|| {
                        FieldError::unexpected("offset", "a smaller wait", rest[2])
                    })?;
                    self.clock_ns = self.clock_ns.max(until_ns);
                }
                Ok(Parsed::Skip)
            }
            Action::Io(op) => {
                let offset = parse_u64("offset", rest[2])?;
                let length = parse_u64("length", rest[3])?;
                let (sector, sectors) = if op == TraceOp::Flush {
                    (0, 0)
                } else {
                    state.sectors_from_bytes("offset", offset, length)?
                };
                Ok(Parsed::Record(TraceRecord {
                    time_ns,
                    op,
                    sector,
                    sectors,
                    device: DeviceKey::File(file),
                    measured_latency_ns: None,
                }))
            }
        }
    }
}
