//! Reading a trace for replay: the trace flags, and the record stream a run consumes
//! (open → filter → restore time order within a window → fit onto the volume → limit).
//!
//! A malformed record ends the stream; the error (naming file, line and field) is kept in the
//! stream's [`TraceFailure`] slot and reported by the command after the run, before any
//! output is written.

use crate::memory::human_bytes;
use crate::units::parse_duration_ns;
use clap::Args;
use dmsim_scenarios::fit::{CompactMap, FitMode, Fitter};
use dmsim_scenarios::traces::{
    open_trace, Compression, Format, TimeSorter, TimeWindow, TraceFilter, TraceOp, TraceOptions,
    TraceReader, TraceRecord,
};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

/// Records kept in the sorting window that restores time order (SYSTOR traces are not
/// sorted).
const SORT_WINDOW_RECORDS: usize = 4096;

#[derive(Args, Clone, Debug, Default)]
pub struct TraceArgs {
    /// Trace format (default: detected from the first lines): msr, systor, tencent, alibaba,
    /// spc, disksim, mqsim, blkparse, fio-v2, fio-v3, and libCacheSim's vscsi1, vscsi2,
    /// oracle-general (binary, detected from their bytes), libcachesim-csv, plain-text.
    #[arg(long)]
    pub format: Option<Format>,
    /// Count and skip malformed lines instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_lines: bool,
    /// Keep only these devices/volumes/LUNs (as the trace labels them, e.g. hm_0, 8,0, 3).
    #[arg(long = "device", value_name = "LABEL")]
    pub devices: Vec<String>,
    /// Keep only reads or only writes.
    #[arg(long, value_parser = ["read", "write"])]
    pub only: Option<String>,
    /// Start of the time window to replay, from the trace's first record (e.g. 10s).
    #[arg(long, value_parser = parse_duration_ns)]
    pub from: Option<u64>,
    /// End of the time window to replay, from the trace's first record (e.g. 60s).
    #[arg(long, value_parser = parse_duration_ns)]
    pub until: Option<u64>,
    /// Replay at most this many records.
    #[arg(long)]
    pub limit: Option<u64>,
    /// How to place addresses beyond the volume: auto (simulation: as they are when the
    /// trace fits, compact when it does not, and the summary says so; with --real: refuse),
    /// refuse (error), wrap (modulo the volume size), compact (touched 1 MiB chunks mapped
    /// densely, in order). auto and compact read the trace twice; --fit refuse reads it once.
    #[arg(long, default_value = "auto")]
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

/// Where a record stream leaves its error, if it had one.
pub type TraceFailure = Rc<RefCell<Option<String>>>;

/// What the reader counted, filled in when it reaches the end of the trace.
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

/// A record stream, the slot of its failure, and the reader's tally.
pub type TalliedRecords = (
    Box<dyn Iterator<Item = TraceRecord>>,
    TraceFailure,
    Rc<RefCell<TraceTally>>,
);

/// A reader that leaves its tally in a shared slot when it is exhausted.
struct TallyingReader {
    reader: TraceReader,
    tally: Rc<RefCell<TraceTally>>,
}

impl Iterator for TallyingReader {
    type Item = Result<TraceRecord, dmsim_scenarios::traces::TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.reader.next();
        if item.is_none()
            || self.reader.bad_lines_skipped() > 0
            || self.reader.out_of_order_records() > 0
        {
            let mut tally = self.tally.borrow_mut();
            tally.bad_lines_skipped = self.reader.bad_lines_skipped();
            tally.out_of_order_records = self.reader.out_of_order_records();
            if tally.first_bad_line.is_none() {
                tally.first_bad_line = self.reader.first_bad_line().map(|e| e.to_string());
            }
        }
        item
    }
}

/// The time sorter over a tallying reader, leaving its count of late records in the tally.
struct TallyingSorter {
    sorter: TimeSorter<TallyingReader>,
    tally: Rc<RefCell<TraceTally>>,
}

impl Iterator for TallyingSorter {
    type Item = Result<TraceRecord, dmsim_scenarios::traces::TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.sorter.next();
        let late_records = self.sorter.late_records();
        if late_records > 0 {
            self.tally.borrow_mut().late_records = late_records;
        }
        item
    }
}

impl TraceArgs {
    fn options(&self) -> Result<TraceOptions, String> {
        let time_window = match (self.from, self.until) {
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
        let ops = match self.only.as_deref() {
            Some("read") => vec![TraceOp::Read],
            Some("write") => vec![TraceOp::Write],
            _ => Vec::new(),
        };
        Ok(TraceOptions {
            format: self.format,
            filter: TraceFilter {
                devices: self.devices.clone(),
                time_window,
                ops,
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

    /// The records of `trace` placed on a volume of `volume_sectors`, the slot where a failure
    /// is left, and the reader's tally (complete once the records ran out).
    pub fn records_tallied(
        &self,
        trace: &TraceSource,
        volume_sectors: u64,
        compact: Option<CompactMap>,
    ) -> Result<TalliedRecords, String> {
        let tally = Rc::new(RefCell::new(TraceTally::default()));
        let reader = TallyingReader {
            reader: trace.open(self.options()?)?,
            tally: tally.clone(),
        };
        let mode = self.fit.resolve(volume_sectors, compact.as_ref());
        let compact = compact.filter(|_| mode == FitMode::Compact);
        let mut fitter = Fitter::new(mode, volume_sectors, compact).map_err(|e| e.to_string())?;
        let failure: TraceFailure = Rc::new(RefCell::new(None));
        let slot = failure.clone();
        let limit = self.limit.unwrap_or(u64::MAX);
        let path = trace.display();
        let mut seen = 0u64;
        let sorted = TallyingSorter {
            sorter: TimeSorter::new(reader, SORT_WINDOW_RECORDS),
            tally: tally.clone(),
        };
        let stream = sorted.map_while(move |item| {
            if seen >= limit || slot.borrow().is_some() {
                return None;
            }
            seen += 1;
            let placed = item.map_err(|e| e.to_string()).and_then(|r| {
                fitter
                    .place(r)
                    .map_err(|e| format!("{path}: record {seen}: {e}"))
            });
            match placed {
                Ok(record) => Some(record),
                Err(e) => {
                    *slot.borrow_mut() = Some(e);
                    None
                }
            }
        });
        Ok((Box::new(stream), failure, tally))
    }
}
