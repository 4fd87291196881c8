//! Closed-loop microbenchmark of a timing model: keep `queue_depth` requests in flight,
//! issue a new one the moment one completes, and report IOPS, bandwidth and latency
//! percentiles. This is what `dmsim devices probe` runs, and what the models' sanity tests
//! pin against published figures.

use crate::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_core::RngCore;
use serde::Serialize;

/// Access pattern of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    RandRead,
    RandWrite,
    SeqRead,
    SeqWrite,
}

impl Pattern {
    /// Parse the CLI spelling (`randread`, `randwrite`, `seqread`, `seqwrite`).
    pub fn parse(text: &str) -> Option<Pattern> {
        Some(match text {
            "randread" => Pattern::RandRead,
            "randwrite" => Pattern::RandWrite,
            "seqread" => Pattern::SeqRead,
            "seqwrite" => Pattern::SeqWrite,
            _ => return None,
        })
    }
    fn op(self) -> ModelOp {
        match self {
            Pattern::RandRead | Pattern::SeqRead => ModelOp::Read,
            Pattern::RandWrite | Pattern::SeqWrite => ModelOp::Write,
        }
    }
    fn random(self) -> bool {
        matches!(self, Pattern::RandRead | Pattern::RandWrite)
    }
}

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct ProbeSpec {
    pub pattern: Pattern,
    /// Request size in bytes; a multiple of 512.
    pub block_bytes: u32,
    pub queue_depth: u32,
    /// Requests completed before measuring starts (not counted).
    pub warmup_requests: u64,
    /// Requests measured.
    pub measured_requests: u64,
    /// Sectors of the device the probe addresses, from sector 0 (None = whole device).
    pub span_sectors: Option<u64>,
}

/// One probe's figures at one queue depth. Field names are the `--json` schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    pub qd: u32,
    pub iops: f64,
    pub mbps: f64,
    pub lat_mean_us: f64,
    pub lat_p50_us: f64,
    pub lat_p99_us: f64,
    pub lat_p999_us: f64,
}

/// Run `spec` on `model` from virtual time `start_ns`. Addresses of random patterns come
/// from `rng`, aligned to the request size. Deterministic for a given model state and rng.
pub fn run(
    model: &mut dyn TimingModel,
    spec: &ProbeSpec,
    rng: &mut dyn RngCore,
    start_ns: u64,
) -> ProbeResult {
    assert!(spec.queue_depth >= 1, "queue depth must be at least 1");
    assert!(
        spec.block_bytes >= 512 && spec.block_bytes.is_multiple_of(512),
        "block size must be a positive multiple of 512"
    );
    let sectors = spec.block_bytes / 512;
    let span = spec.span_sectors.unwrap_or(model.capacity_sectors());
    let slots = span / u64::from(sectors);
    assert!(slots > 0, "device smaller than one request");
    let total = spec.warmup_requests + spec.measured_requests;

    let mut issued: u64 = 0;
    let mut next_seq_slot: u64 = 0;
    let mut arrival_ns: Vec<u64> = Vec::new(); // indexed by tag
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(spec.measured_requests as usize);
    let mut completed: u64 = 0;
    let mut measure_start_ns = start_ns;
    let mut now_ns = start_ns;
    let mut done: Vec<ModelCompletion> = Vec::new();

    let mut issue =
        |model: &mut dyn TimingModel, now_ns: u64, issued: &mut u64, arrivals: &mut Vec<u64>| {
            let slot = if spec.pattern.random() {
                rng.next_u64() % slots
            } else {
                let s = next_seq_slot % slots;
                next_seq_slot += 1;
                s
            };
            let tag = *issued;
            arrivals.push(now_ns);
            model.submit(
                now_ns,
                ModelRequest {
                    tag,
                    op: spec.pattern.op(),
                    sector: slot * u64::from(sectors),
                    sectors,
                    fua: false,
                },
            );
            *issued += 1;
        };

    while issued < total.min(u64::from(spec.queue_depth)) {
        issue(model, now_ns, &mut issued, &mut arrival_ns);
    }
    while completed < total {
        let next = model
            .next_event_ns()
            .expect("a model with requests in flight must have a next event");
        assert!(next >= now_ns, "model event in the past: {next} < {now_ns}");
        now_ns = next;
        done.clear();
        model.advance(now_ns, &mut done);
        for c in &done {
            completed += 1;
            if completed == spec.warmup_requests {
                measure_start_ns = c.done_ns;
            }
            if completed > spec.warmup_requests {
                latencies_ns.push(c.done_ns - arrival_ns[c.tag as usize]);
            }
            if issued < total {
                issue(model, now_ns, &mut issued, &mut arrival_ns);
            }
        }
    }

    let elapsed_ns = (now_ns - measure_start_ns).max(1);
    latencies_ns.sort_unstable();
    let n = latencies_ns.len().max(1) as f64;
    let mean_ns = latencies_ns.iter().map(|&l| l as f64).sum::<f64>() / n;
    let pct = |p: f64| -> f64 {
        if latencies_ns.is_empty() {
            return 0.0;
        }
        // Nearest-rank percentile: the smallest latency with at least p of samples at or below.
        let rank = ((p * latencies_ns.len() as f64).ceil() as usize).clamp(1, latencies_ns.len());
        latencies_ns[rank - 1] as f64 / 1000.0
    };
    let iops = spec.measured_requests as f64 * 1e9 / elapsed_ns as f64;
    ProbeResult {
        qd: spec.queue_depth,
        iops,
        mbps: iops * f64::from(spec.block_bytes) / 1e6,
        lat_mean_us: mean_ns / 1000.0,
        lat_p50_us: pct(0.50),
        lat_p99_us: pct(0.99),
        lat_p999_us: pct(0.999),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ram::{RamModel, RamParams};
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn ram_probe_sees_its_fixed_latency_and_little_law() {
        let mut model = RamModel::new(RamParams {
            capacity_sectors: 1 << 20,
            latency_ns: 10_000,
            volatile_write_cache: false,
        });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec = ProbeSpec {
            pattern: Pattern::RandRead,
            block_bytes: 4096,
            queue_depth: 4,
            warmup_requests: 100,
            measured_requests: 1000,
            span_sectors: None,
        };
        let r = run(&mut model, &spec, &mut rng, 0);
        assert_eq!(r.lat_p50_us, 10.0);
        assert_eq!(r.lat_p999_us, 10.0);
        // Little's law: 4 in flight / 10 µs = 400k IOPS.
        assert!((r.iops - 400_000.0).abs() < 1.0, "{}", r.iops);
    }
}
