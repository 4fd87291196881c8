//! Reading a trace for replay: the record stream a run consumes (open → filter → restore
//! time order within a window → fit onto the volume → limit).
//!
//! The stream is a fallible iterator ([`TraceRecords`]): a malformed record is an `Err`
//! (naming file, line and field) and ends the stream; the run reports it after the drive,
//! before any output is written. What the reader counted ([`TraceTally`]) is read from the
//! stream when the run is over.

use crate::memory::human_bytes;
use dmsim_scenarios::fit::{CompactMap, FitMode, Fitter};
use dmsim_scenarios::traces::{
    open_trace, Compression, Format, TimeSorter, TimeWindow, TraceFilter, TraceOp, TraceOptions,
    TraceReader, TraceRecord,
};
use std::path::PathBuf;

/// Records kept in the sorting window that restores time order (SYSTOR traces are not
/// sorted).
pub const SORT_WINDOW_RECORDS: usize = 4096;

/// How a trace is read: which records, which window, how they are placed on the volume.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceInput {
    /// The trace's format (`None`: detected from the first lines).
    pub format: Option<Format>,
    /// Count and skip malformed lines instead of stopping at the first.
    pub skip_bad_lines: bool,
    /// Keep only these devices/volumes/LUNs (as the trace labels them).
    pub devices: Vec<String>,
    /// Keep only reads (`Some(TraceOp::Read)`) or only writes.
    pub only: Option<TraceOp>,
    /// Start of the time window, from the trace's first record.
    pub from_ns: Option<u64>,
    /// End of the time window, from the trace's first record.
    pub until_ns: Option<u64>,
    /// Replay at most this many records.
    pub limit: Option<u64>,
    /// How to place addresses beyond the volume.
    pub fit: FitMode,
}

/// Where a trace's bytes come from.
#[derive(Clone, Debug)]
pub enum TraceSource {
    File(PathBuf),
    /// A trace compiled into dmsim (see `dmsim_scenarios::scenario::bundled_trace`).
    Bundled {
        name: String,
        bytes: &'static [u8],
    },
}

impl TraceSource {
    /// How reports name the trace: its file name (or `bundled:NAME`), never a path, so the
    /// same trace gives byte-identical reports on any machine and from any directory.
    pub fn report_name(&self) -> String {
        match self {
            TraceSource::File(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().to_string(),
            ),
            TraceSource::Bundled { name, .. } => format!("bundled:{name}"),
        }
    }

    /// The trace as errors name it (the path as given).
    pub fn display(&self) -> String {
        match self {
            TraceSource::File(path) => path.display().to_string(),
            TraceSource::Bundled { name, .. } => format!("bundled:{name}"),
        }
    }

    fn open(&self, options: TraceOptions) -> Result<TraceReader, String> {
        match self {
            TraceSource::File(path) => open_trace(path, options).map_err(|e| e.to_string()),
            TraceSource::Bundled { name, bytes } => TraceReader::from_buf_read(
                PathBuf::from(format!("bundled:{name}")),
                Compression::None,
                Box::new(*bytes),
                options,
            )
            .map_err(|e| e.to_string()),
        }
    }
}

/// `--fit auto` compacted a trace that does not fit the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoFit {
    /// One past the highest sector the trace addresses.
    pub trace_end_sector: u64,
    pub volume_sectors: u64,
    /// Distinct 1 MiB chunks the trace touches: the compacted footprint.
    pub touched_mib: u64,
}

impl AutoFit {
    /// How a run's configuration records it (`config.fit`).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "mode": "compact",
            "chosen_by": "auto",
            "trace_end_sector": self.trace_end_sector,
            "volume_sectors": self.volume_sectors,
            "touched_mib": self.touched_mib,
        })
    }

    /// The note a run prints.
    pub fn note(self) -> String {
        format!(
            "--fit auto: the trace addresses {} but the volume holds {}: its {} MiB of \
             touched 1 MiB chunks were mapped densely onto the volume (--fit compact); \
             pass --fit refuse to refuse instead, or a larger --hdd",
            human_bytes(self.trace_end_sector.saturating_mul(512)),
            human_bytes(self.volume_sectors.saturating_mul(512)),
            self.touched_mib
        )
    }
}

/// What the reader counted, complete once the records ran out.
#[derive(Clone, Debug, Default)]
pub struct TraceTally {
    /// Malformed lines skipped (`--skip-bad-lines`).
    pub bad_lines_skipped: u64,
    /// The first skipped line's error (file, line, field).
    pub first_bad_line: Option<String>,
    /// Records earlier than a record before them in the file (the trace is not time-sorted).
    pub out_of_order_records: u64,
    /// Of those, records too late for the sort window: issued when read, out of time order.
    pub late_records: u64,
}

impl TraceTally {
    /// When the trace was not in time order: records it in `config` (`out_of_order_records`,
    /// `late_records`) and returns the note that says so. Sorted traces leave `config` as it
    /// was, so their runs keep the configuration they always had.
    pub fn record_order(&self, config: &mut serde_json::Value) -> Option<String> {
        if self.out_of_order_records == 0 {
            return None;
        }
        config["out_of_order_records"] = self.out_of_order_records.into();
        config["late_records"] = self.late_records.into();
        Some(time_order_note(
            self.out_of_order_records,
            self.late_records,
        ))
    }
}

/// What a run over a trace out of time order says about it.
pub fn time_order_note(out_of_order_records: u64, late_records: u64) -> String {
    let late = match late_records {
        0 => "all were put in order".to_string(),
        late => format!(
            "{late} arrived after later records had been issued and were issued when read, \
             out of time order"
        ),
    };
    format!(
        "the trace is not in time order: {out_of_order_records} record(s) are earlier than \
         a record before them; replay sorts within a window of {SORT_WINDOW_RECORDS} \
         records: {late}"
    )
}

/// The records of a trace placed on a volume: a fallible iterator that ends after its first
/// error (see the module documentation).
pub struct TraceRecords {
    sorted: TimeSorter<TraceReader>,
    fitter: Fitter,
    limit: u64,
    /// Records taken from the sorter so far (the one that failed included).
    seen: u64,
    /// The trace as errors name it.
    path: String,
    failed: bool,
}

impl Iterator for TraceRecords {
    type Item = Result<TraceRecord, String>;

    fn next(&mut self) -> Option<Self::Item> {
        // The sorter is polled before the limit is checked (the reader's counts depend on
        // how far it read, and reports carry them).
        let item = self.sorted.next()?;
        if self.seen >= self.limit || self.failed {
            return None;
        }
        self.seen += 1;
        let placed = item.map_err(|e| e.to_string()).and_then(|record| {
            self.fitter
                .place(record)
                .map_err(|e| format!("{}: record {}: {e}", self.path, self.seen))
        });
        self.failed = placed.is_err();
        Some(placed)
    }
}

impl TraceRecords {
    /// What the reader counted so far (all of it once the records ran out).
    pub fn tally(&self) -> TraceTally {
        let reader = self.sorted.inner();
        TraceTally {
            bad_lines_skipped: reader.bad_lines_skipped(),
            first_bad_line: reader.first_bad_line().map(|e| e.to_string()),
            out_of_order_records: reader.out_of_order_records(),
            late_records: self.sorted.late_records(),
        }
    }
}

impl TraceInput {
    fn options(&self) -> Result<TraceOptions, String> {
        let time_window = match (self.from_ns, self.until_ns) {
            (None, None) => None,
            (from, until) => {
                let start_ns = from.unwrap_or(0);
                let end_ns = until.unwrap_or(u64::MAX);
                if end_ns <= start_ns {
                    return Err("--until must lie after --from".to_string());
                }
                Some(TimeWindow {
                    start_ns,
                    end_ns,
                    origin: Default::default(),
                })
            }
        };
        Ok(TraceOptions {
            format: self.format,
            filter: TraceFilter {
                devices: self.devices.clone(),
                time_window,
                ops: self.only.into_iter().collect(),
            },
            skip_bad_lines: self.skip_bad_lines,
        })
    }

    /// The compaction map (a first pass over the trace) when `--fit compact` or `auto`.
    pub fn compact_map(&self, trace: &TraceSource) -> Result<Option<CompactMap>, String> {
        if !self.fit.needs_map() {
            return Ok(None);
        }
        // The same order and limit as `records`, so every replayed record was learned.
        let reader = trace.open(self.options()?)?;
        let limit = usize::try_from(self.limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
        let sorted = TimeSorter::new(reader, SORT_WINDOW_RECORDS).take(limit);
        CompactMap::learn(sorted)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// What `--fit auto` did on a volume of `volume_sectors`, when it compacted the trace
    /// (`None`: another fit was asked for, or the trace fits as it is). Runs record it in
    /// their configuration and print it, so a fitted run never passes for the trace itself.
    pub fn auto_fit(&self, volume_sectors: u64, compact: Option<&CompactMap>) -> Option<AutoFit> {
        if self.fit != FitMode::Auto
            || self.fit.resolve(volume_sectors, compact) != FitMode::Compact
        {
            return None;
        }
        let map = compact.expect("auto learned a map");
        Some(AutoFit {
            trace_end_sector: map.end_sector(),
            volume_sectors,
            touched_mib: map.chunks(),
        })
    }

    /// The records of `trace` placed on a volume of `volume_sectors`.
    pub fn records(
        &self,
        trace: &TraceSource,
        volume_sectors: u64,
        compact: Option<CompactMap>,
    ) -> Result<TraceRecords, String> {
        let reader = trace.open(self.options()?)?;
        let mode = self.fit.resolve(volume_sectors, compact.as_ref());
        let compact = compact.filter(|_| mode == FitMode::Compact);
        let fitter = Fitter::new(mode, volume_sectors, compact).map_err(|e| e.to_string())?;
        Ok(TraceRecords {
            sorted: TimeSorter::new(reader, SORT_WINDOW_RECORDS),
            fitter,
            limit: self.limit.unwrap_or(u64::MAX),
            seen: 0,
            path: trace.display(),
            failed: false,
        })
    }
}
