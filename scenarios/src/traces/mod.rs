//! Streaming block-trace readers.
//!
//! [`open_trace`] opens a file (decompressing `.gz`, `.bz2`, `.xz`, `.zst` by extension),
//! detects its [`Format`] from the first lines unless told, and returns a [`TraceReader`]: an
//! iterator of [`TraceRecord`]s in file order, with memory independent of the trace length.
//! Each format's module documents its fields, units and exact conversions:
//! [`msr`], [`systor`], [`tencent`], [`alibaba`], [`spc`], [`disksim`] (DiskSim and MQSim),
//! [`blkparse`], [`fio`] (v2 and v3), and libCacheSim's formats ([`libcachesim`]: vscsi,
//! oracleGeneral, its CSV, plain text; the binary ones are detected from their bytes).
//!
//! Conventions shared by all formats:
//! - Times become integer nanoseconds exactly; decimal digits below 1 ns are truncated
//!   (toward zero) and counted ([`TraceReader::time_truncated_records`]).
//! - Byte ranges become the 512-byte sector range covering every byte touched (start rounds
//!   down, end rounds up), counted when rounding happened
//!   ([`TraceReader::unaligned_records`]).
//! - A malformed line is an error naming file, 1-based line (record, for a binary format) and
//!   field; with
//!   [`TraceOptions::skip_bad_lines`] it is counted ([`TraceReader::bad_lines_skipped`]).
//! - Records come in file order. Unsorted traces are reported
//!   ([`TraceReader::out_of_order_records`]); [`TimeSorter`] restores order within a bounded
//!   window.
//!
//! Not here: replay timing, scaling, mapping devices to simulated devices.

pub mod alibaba;
pub mod blkparse;
pub mod disksim;
mod error;
mod fields;
pub mod fio;
mod format;
pub mod libcachesim;
pub mod msr;
mod options;
mod parser;
mod reader;
mod record;
mod sort;
mod source;
pub mod spc;
pub mod systor;
pub mod tencent;

pub use error::TraceError;
pub use format::{Format, UnknownFormatName};
pub use options::{TimeOrigin, TimeWindow, TraceFilter, TraceOptions};
pub use reader::{open_trace, TraceReader};
pub use record::{byte_range_to_sectors, DeviceKey, NameId, TraceOp, TraceRecord, SECTOR_BYTES};
pub use sort::TimeSorter;
pub use source::{decompress, Compression};
