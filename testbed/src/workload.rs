//! The generated workloads of `dmsim run`: fio-like named patterns, closed loop, and the
//! record source they feed the drive loop.

use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::streams::stream;

/// A named generated workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    Randread,
    Randwrite,
    Randrw,
    Seqread,
    Seqwrite,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Randread => "randread",
            WorkloadKind::Randwrite => "randwrite",
            WorkloadKind::Randrw => "randrw",
            WorkloadKind::Seqread => "seqread",
            WorkloadKind::Seqwrite => "seqwrite",
        }
    }

    /// True if the workload writes (a real device must allow it).
    pub fn writes(self) -> bool {
        matches!(
            self,
            WorkloadKind::Randwrite | WorkloadKind::Randrw | WorkloadKind::Seqwrite
        )
    }

    /// The generator spec for this workload over `span_bytes` with `bs`-byte requests.
    pub fn spec(self, span_bytes: u64, bs: u32, requests: Option<u64>) -> WorkloadSpec {
        let (pattern, read_percent) = match self {
            WorkloadKind::Randread => (AccessPattern::Uniform, 100.0),
            WorkloadKind::Randwrite => (AccessPattern::Uniform, 0.0),
            WorkloadKind::Randrw => (AccessPattern::Uniform, 50.0),
            WorkloadKind::Seqread => (AccessPattern::Sequential { streams: 1 }, 100.0),
            WorkloadKind::Seqwrite => (AccessPattern::Sequential { streams: 1 }, 0.0),
        };
        WorkloadSpec {
            span_start_bytes: 0,
            span_bytes,
            alignment_bytes: u64::from(bs),
            pattern,
            read_percent,
            request_size: SizeDistribution::Fixed {
                bytes: u64::from(bs),
            },
            arrival: Default::default(),
            requests,
            device: 0,
        }
    }
}

/// A generated workload run closed loop, bounded by a request count or a duration.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedWorkload {
    pub kind: WorkloadKind,
    /// Request size in bytes.
    pub bs: u32,
    /// Requests kept in flight.
    pub qd: u32,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Stop issuing at this (virtual, or real) time.
    pub duration_ns: Option<u64>,
    /// Bytes of the volume the workload addresses, from its start (`None`: all of it).
    pub span_bytes: Option<u64>,
    /// Seed of the run's random streams.
    pub seed: u64,
}

/// A generated workload's records, as the drive loop takes them.
pub type WorkloadRecords = RecordSource<WorkloadGenerator<rand_chacha::ChaCha8Rng>>;

impl GeneratedWorkload {
    /// The pacing: closed loop at the queue depth.
    pub fn pacing(&self) -> Pacing {
        Pacing::ClosedLoop {
            queue_depth: self.qd,
        }
    }

    /// The generated records over `span_bytes`, and the spec they follow.
    pub fn source(&self, span_bytes: u64) -> Result<(WorkloadRecords, WorkloadSpec), String> {
        let spec = self.kind.spec(span_bytes, self.bs, self.requests);
        let generator = WorkloadGenerator::new(&spec, stream(self.seed, "workload"))
            .map_err(|e| e.to_string())?;
        let mut source = RecordSource::new(generator, self.pacing());
        if let Some(duration) = self.duration_ns {
            source = source.stop_at(duration);
        }
        Ok((source, spec))
    }
}

/// Arena pages for `qd` requests of `bs` bytes in flight, with room for the engine's own.
pub fn arena_pages_for(qd: u32, bs: u32) -> Result<u32, String> {
    let per_request = u64::from(bs.div_ceil(4096)) + 1;
    let pages = (u64::from(qd) * per_request * 2).max(4096);
    // 4 Mi pages = 16 GiB of buffers: beyond that the request is a mistake, not a workload.
    u32::try_from(pages)
        .ok()
        .filter(|&p| p <= 4 << 20)
        .ok_or_else(|| {
            format!("--qd {qd} × --bs {bs} needs {pages} buffer pages; use a smaller depth or size")
        })
}

/// Refuses a span beyond the volume or smaller than one request.
pub fn check_span(span_bytes: u64, capacity_bytes: u64, bs: u32) -> Result<(), String> {
    if span_bytes > capacity_bytes || span_bytes < u64::from(bs) {
        return Err(format!(
            "--span {span_bytes} must lie between the request size and the device size ({capacity_bytes} bytes)"
        ));
    }
    Ok(())
}
