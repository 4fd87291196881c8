//! Options of [`super::open_trace`]: format override, filters, bad-line policy.
//!
//! Filters are applied after parsing, so counters such as
//! [`super::TraceReader::out_of_order_records`] and the first record time describe the whole
//! trace, not the filtered part.

use serde::{Deserialize, Serialize};

use super::format::Format;
use super::record::TraceOp;

/// How to open a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceOptions {
    /// `None`: detect from the first lines.
    pub format: Option<Format>,
    pub filter: TraceFilter,
    /// Count and skip malformed lines instead of failing on the first one.
    pub skip_bad_lines: bool,
}

/// Which records a reader yields. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFilter {
    /// Device labels to keep, as [`super::TraceReader::device_label`] writes them: `hm_0`
    /// (MSR host_disk), `8,0` (blkparse major,minor), `3` (LUN, volume, ASU, device number),
    /// or a fio file name.
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub time_window: Option<TimeWindow>,
    #[serde(default)]
    pub ops: Vec<TraceOp>,
}

/// A half-open time range `[start_ns, end_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    pub start_ns: u64,
    pub end_ns: u64,
    #[serde(default)]
    pub origin: TimeOrigin,
}

/// What a [`TimeWindow`] is measured from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeOrigin {
    /// From the first record's time in file order (the trace start). In unsorted traces
    /// (SYSTOR) records earlier than the first one lie before 0 and never match.
    #[default]
    FirstRecord,
    /// The records' own `time_ns` values.
    Recorded,
}

impl TimeWindow {
    pub(crate) fn contains(&self, time_ns: u64, first_time_ns: u64) -> bool {
        let relative = match self.origin {
            TimeOrigin::Recorded => i128::from(time_ns),
            TimeOrigin::FirstRecord => i128::from(time_ns) - i128::from(first_time_ns),
        };
        i128::from(self.start_ns) <= relative && relative < i128::from(self.end_ns)
    }
}
