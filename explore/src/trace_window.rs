//! Windows of real block traces as explorer workloads: the access pattern of a real
//! application (rewrites of hot blocks, runs of sequential IO, request sizes as they came)
//! instead of a generator's. The traces are the repository's own copies (origin and
//! licence beside them), compiled into the binary so a seed file replays anywhere.
//!
//! A window is `requests` records from a start record (wrapping to the trace's first), each
//! folded into the workload's span: its sector modulo the span, moved back to fit when it
//! would run past the span's end, aligned to the volume's blocks, at most 256 KiB long.
//! Only reads and writes are taken (the traces hold nothing else); the spec's flushes are
//! inserted as for generated workloads.
//!
//! Deliberately not here: arrival times (the explorer's closed loop sets the pace).

use dmsim_scenarios::traces::{
    decompress, Compression, Format, TraceOp, TraceOptions, TraceReader, TraceRecord,
};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::sync::OnceLock;

/// The longest request a window makes, as the largest generated one.
const REQUEST_SECTORS_MAX: u64 = 512;

/// A real trace the explorer can draw windows of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundledTrace {
    /// MSR Cambridge `hm_0`, its first 1,000 records (scenarios/bundled/traces).
    MsrHm0Sample,
    /// MQSim's `tpcc-small.trace`, 6,999 records (testdata/traces).
    TpccSmall,
    /// SYSTOR'17 VDI sample, 999 records, not sorted by time (testdata/traces).
    Systor17Sample,
}

impl BundledTrace {
    pub const ALL: [BundledTrace; 3] = [
        BundledTrace::MsrHm0Sample,
        BundledTrace::TpccSmall,
        BundledTrace::Systor17Sample,
    ];

    /// The file's bytes, as committed.
    fn bytes(self) -> &'static [u8] {
        match self {
            BundledTrace::MsrHm0Sample => include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scenarios/bundled/traces/msr-cambridge1-sample.csv"
            )),
            BundledTrace::TpccSmall => include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../testdata/traces/tpcc-small.trace"
            )),
            BundledTrace::Systor17Sample => include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../testdata/traces/systor17-traces-sample.csv.gz"
            )),
        }
    }

    fn format(self) -> Format {
        match self {
            BundledTrace::MsrHm0Sample => Format::Msr,
            BundledTrace::TpccSmall => Format::Mqsim,
            BundledTrace::Systor17Sample => Format::Systor,
        }
    }

    fn compression(self) -> Compression {
        match self {
            BundledTrace::Systor17Sample => Compression::Gzip,
            BundledTrace::MsrHm0Sample | BundledTrace::TpccSmall => Compression::None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            BundledTrace::MsrHm0Sample => "msr-cambridge1-sample.csv (built in)",
            BundledTrace::TpccSmall => "tpcc-small.trace (built in)",
            BundledTrace::Systor17Sample => "systor17-traces-sample.csv.gz (built in)",
        }
    }

    /// The trace's reads and writes, parsed once per process.
    pub fn records(self) -> &'static [TraceRecord] {
        static PARSED: [OnceLock<Vec<TraceRecord>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        PARSED[self as usize].get_or_init(|| self.parse())
    }

    fn parse(self) -> Vec<TraceRecord> {
        let options = TraceOptions {
            format: Some(self.format()),
            ..TraceOptions::default()
        };
        let fail = |e: &dyn std::fmt::Display| -> ! { panic!("{}: {e}", self.label()) };
        let input = decompress(Box::new(Cursor::new(self.bytes())), self.compression())
            .unwrap_or_else(|e| fail(&e));
        let reader = TraceReader::from_buf_read(self.label(), self.compression(), input, options)
            .unwrap_or_else(|e| fail(&e));
        let records: Vec<TraceRecord> = reader
            .map(|record| record.unwrap_or_else(|e| fail(&e)))
            .filter(|r| matches!(r.op, TraceOp::Read | TraceOp::Write) && r.sectors > 0)
            .collect();
        assert!(!records.is_empty(), "{}: no reads or writes", self.label());
        records
    }
}

/// Which stretch of which trace a workload replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceWindow {
    pub trace: BundledTrace,
    /// Index of the first record (among the trace's reads and writes).
    pub start: u64,
    /// Requests start and end on multiples of this (the volume's logical block).
    pub alignment_bytes: u32,
}

impl TraceWindow {
    /// Checks a window read from a seed file; names the field at fault.
    pub fn validate(&self, span_bytes: u64, volume_block_bytes: u32) -> Result<(), String> {
        let records = self.trace.records().len() as u64;
        if self.start >= records {
            return Err(format!(
                "workload.trace.start: {} is past the trace's {records} records",
                self.start
            ));
        }
        if !self.alignment_bytes.is_power_of_two()
            || !(512..=4096).contains(&self.alignment_bytes)
            || self.alignment_bytes < volume_block_bytes
        {
            return Err(format!(
                "workload.trace.alignment_bytes: {} must be a power of two in \
                 {volume_block_bytes}..=4096 (the volume's block and up)",
                self.alignment_bytes
            ));
        }
        if span_bytes < REQUEST_SECTORS_MAX * 512 {
            return Err(format!(
                "workload.span_bytes: {span_bytes} is too small for a trace window's requests"
            ));
        }
        Ok(())
    }

    /// The `index`th request of the window, folded into a span of `span_bytes`.
    pub fn request(&self, index: u64, span_bytes: u64) -> TraceRecord {
        let records = self.trace.records();
        let original = &records[((self.start + index) % records.len() as u64) as usize];
        let align = u64::from(self.alignment_bytes / 512);
        let span_sectors = span_bytes / 512 / align * align;
        debug_assert!(span_sectors >= REQUEST_SECTORS_MAX);
        let first = original.sector / align * align;
        let end = (original.sector + original.sectors).div_ceil(align) * align;
        let sectors = (end - first).min(REQUEST_SECTORS_MAX);
        let folded = first % span_sectors;
        let sector = folded.min(span_sectors - sectors);
        let folded_record = TraceRecord {
            time_ns: 0,
            sector,
            sectors,
            ..*original
        };
        assert!(folded_record.end_sector() <= span_sectors);
        assert_eq!(folded_record.sector % align, 0);
        assert_eq!(folded_record.sectors % align, 0);
        folded_record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_traces_parse_whole() {
        assert_eq!(BundledTrace::MsrHm0Sample.records().len(), 1_000);
        assert_eq!(BundledTrace::TpccSmall.records().len(), 6_999);
        assert_eq!(BundledTrace::Systor17Sample.records().len(), 999);
        for trace in BundledTrace::ALL {
            let records = trace.records();
            assert!(records.iter().any(|r| r.op == TraceOp::Read), "{trace:?}");
            assert!(records.iter().any(|r| r.op == TraceOp::Write), "{trace:?}");
        }
    }

    #[test]
    fn requests_fold_into_the_span_aligned_and_wrap_at_the_trace_end() {
        let span_bytes = 4 << 20;
        for trace in BundledTrace::ALL {
            for alignment_bytes in [512, 4096] {
                let window = TraceWindow {
                    trace,
                    start: trace.records().len() as u64 - 3,
                    alignment_bytes,
                };
                window.validate(span_bytes, 512).expect("valid");
                for index in 0..2_000 {
                    let record = window.request(index, span_bytes);
                    assert!(record.end_sector() <= span_bytes / 512);
                    assert!(record.sectors > 0 && record.sectors <= REQUEST_SECTORS_MAX);
                    assert_eq!(record.sector % u64::from(alignment_bytes / 512), 0);
                }
                // The fourth request is the trace's first, folded.
                let first = &trace.records()[0];
                assert_eq!(window.request(3, span_bytes).op, first.op);
            }
        }
    }

    #[test]
    fn bad_windows_are_refused_with_the_field() {
        let window = TraceWindow {
            trace: BundledTrace::MsrHm0Sample,
            start: 1_000,
            alignment_bytes: 512,
        };
        assert!(window
            .validate(4 << 20, 512)
            .unwrap_err()
            .contains("workload.trace.start"));
        let window = TraceWindow {
            start: 0,
            alignment_bytes: 512,
            ..window
        };
        assert!(window
            .validate(4 << 20, 4096)
            .unwrap_err()
            .contains("alignment_bytes"));
    }
}
