//! dmsim-scenarios: scenario schema, workload generators and streaming trace readers.
//!
//! - [`traces`]: block-trace readers (MSR, SYSTOR, Tencent, Alibaba, SPC, DiskSim, MQSim,
//!   blkparse, fio iolog) yielding [`traces::TraceRecord`]s.
//! - [`workload`]: seeded synthetic workload generators yielding the same records.

pub mod traces;
pub mod workload;
