//! dmsim-scenarios: scenario schema, workload generators and streaming trace readers.
//!
//! - [`traces`]: block-trace readers (MSR, SYSTOR, Tencent, Alibaba, SPC, DiskSim, MQSim,
//!   blkparse, fio iolog) yielding [`traces::TraceRecord`]s.
//! - [`workload`]: seeded synthetic workload generators yielding the same records.
//! - [`fit`]: placing trace addresses on a smaller device (refuse, wrap, compact).
//! - [`scenario`]: scenario files (schema in scenarios/README.md) and the bundled scenarios.
//! - [`source`]: records paced into the engine's bios (closed or open loop), stamped for the oracle.

pub mod fit;
pub mod scenario;
pub mod source;
pub mod traces;
pub mod workload;
