//! The trace flags shared by `replay` and `compare`, and how they become the testbed's
//! [`TraceInput`] (the record pipeline itself is `dmsim_testbed::trace_records`).

use crate::units::parse_duration_ns;
use clap::Args;
use dmsim_scenarios::fit::FitMode;
use dmsim_scenarios::traces::{Format, TraceOp};
use dmsim_testbed::trace_records::TraceInput;

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

impl TraceArgs {
    /// How the testbed reads the trace.
    pub fn input(&self) -> TraceInput {
        TraceInput {
            format: self.format,
            skip_bad_lines: self.skip_bad_lines,
            devices: self.devices.clone(),
            only: match self.only.as_deref() {
                Some("read") => Some(TraceOp::Read),
                Some("write") => Some(TraceOp::Write),
                _ => None,
            },
            from_ns: self.from,
            until_ns: self.until,
            limit: self.limit,
            fit: self.fit,
        }
    }
}
