//! Seeded synthetic workloads for runs without a trace.
//!
//! A [`WorkloadSpec`] (serde, held by scenario files) describes the access pattern (uniform,
//! Zipf, hot/cold, interleaved sequential streams), the read/write mix, the request-size
//! distribution, the address span and alignment, and the arrival process (closed loop, fixed
//! rate, Poisson). A [`WorkloadGenerator`] turns a validated spec and a caller-provided rng
//! into the same [`crate::traces::TraceRecord`]s trace readers yield. Same spec and same rng
//! state ⇒ same sequence. Deriving independent streams per component is the caller's job.

mod describe;
mod generator;
mod spec;
mod zipf;

pub use generator::WorkloadGenerator;
pub use spec::{
    AccessPattern, ArrivalProcess, SizeDistribution, WeightedSize, WorkloadError, WorkloadSpec,
    ZIPF_THETA_MAX,
};
pub use zipf::ZipfSampler;
