//! The last stage of every record pipeline: a fallible record stream turned into the plain
//! records the drive loop takes, keeping the first error as a value. It also refuses, in an
//! open-loop replay, a gap between two records longer than [`OPEN_LOOP_GAP_MAX_NS`].

use dmsim_scenarios::source::Pacing;
use dmsim_scenarios::traces::TraceRecord;

/// Longest idle stretch between two consecutive records an open-loop replay accepts (virtual
/// time, after `--speed`): a day. Longer means a timestamp out of place (one record years
/// before or after the rest), which would make the replay idle for years in 10 ms steps.
pub const OPEN_LOOP_GAP_MAX_NS: u64 = 24 * 3600 * 1_000_000_000;

/// Passes records through until the first error (of the stream, or a refused gap), which
/// ends the stream and is kept for [`CheckedRecords::into_error`].
pub struct CheckedRecords<I> {
    records: I,
    /// `Some` in an open-loop replay: the gap guard is armed.
    speed: Option<f64>,
    previous_ns: Option<u64>,
    position: u64,
    error: Option<String>,
}

impl<I> CheckedRecords<I> {
    pub fn new(records: I, pacing: Pacing) -> Self {
        let speed = match pacing {
            Pacing::OpenLoop { speed } => Some(speed),
            Pacing::ClosedLoop { .. } => None,
        };
        CheckedRecords {
            records,
            speed,
            previous_ns: None,
            position: 0,
            error: None,
        }
    }

    /// The error that ended the stream early, if one did.
    pub fn into_error(self) -> Option<String> {
        self.error
    }
}

impl<I: Iterator<Item = Result<TraceRecord, String>>> Iterator for CheckedRecords<I> {
    type Item = TraceRecord;

    fn next(&mut self) -> Option<TraceRecord> {
        if self.error.is_some() {
            return None;
        }
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(error) => {
                self.error = Some(error);
                return None;
            }
        };
        self.position += 1;
        let Some(speed) = self.speed else {
            return Some(record);
        };
        if let Some(previous_ns) = self.previous_ns {
            let gap_ns = record.time_ns.saturating_sub(previous_ns) as f64 / speed;
            if gap_ns > OPEN_LOOP_GAP_MAX_NS as f64 {
                self.error = Some(format!(
                    "open-loop replay: record {} (time {} ns) comes {} after record {} (time \
                     {previous_ns} ns), more than a day: a timestamp out of place (an earlier \
                     record is placed first in time order)? Fix the trace, replay a window \
                     (--from/--until), or replay closed loop (--qd N) instead of --open-loop",
                    self.position,
                    record.time_ns,
                    describe_duration(gap_ns),
                    self.position - 1
                ));
                return None;
            }
        }
        self.previous_ns = Some(record.time_ns.max(self.previous_ns.unwrap_or(0)));
        Some(record)
    }
}

/// `3.2 days`, `417 years`: how long a gap is, for messages.
fn describe_duration(ns: f64) -> String {
    let days = ns / (24.0 * 3600.0 * 1e9);
    if days >= 365.25 {
        format!("{:.0} years", days / 365.25)
    } else {
        format!("{days:.1} days")
    }
}
