//! Replay of a DiskSim "validate" trace against the HDD model, and the RMS CDF demerit.
//!
//! Trace lines are `R|W  cache-outcome  lbn  blocks  service_us  interarrival_us`, where
//! the service time was measured on the real drive. As DiskSim does in validate mode,
//! requests go one at a time: request *i+1* is issued `interarrival_us` of line *i* after
//! request *i* completes (so the drive never queues, and the comparison isolates service
//! time). This module owns the trace format, the replay loop and the statistics; the timing
//! itself is the model's.

use super::{import, DiskSimError, DiskSimErrorKind, UnmodelledParameter};
use crate::hdd::{HddModel, HddParams};
use crate::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::Path;

/// Seed of the replay's model stream (validation draws nothing that matters unless the
/// drive declares an rpm error).
const VALIDATION_SEED: u64 = 0x5eed;

/// Outcome of a validation run. Field names are the `--json` schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    /// The drive's name (the file stem given to [`validate`]).
    pub drive: String,
    /// Requests replayed.
    pub requests: u64,
    /// Mean service time measured on the real drive.
    pub mean_measured_ms: f64,
    /// Mean service time of the model.
    pub mean_sim_ms: f64,
    /// RMS horizontal distance between the two CDFs ([`rms_demerit_ms`]).
    pub rms_demerit_ms: f64,
    /// Parameters of the drive the model does not reproduce (see
    /// [`super::DiskSimImport::unmodelled`]); empty from [`validate_with`], which sees no
    /// files.
    pub unmodelled: Vec<UnmodelledParameter>,
}

/// One request of a validate trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceRequest {
    pub op: ModelOp,
    pub lbn: u64,
    pub blocks: u32,
    /// Service time measured on the real drive.
    pub measured_ns: u64,
    /// Idle time between this request's completion and the next request's issue.
    pub think_ns: u64,
}

/// A parsed validate trace.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationTrace {
    /// Requests in trace order.
    pub requests: Vec<TraceRequest>,
}

fn us_to_ns(us: f64) -> u64 {
    (us * 1000.0).round() as u64
}

impl ValidationTrace {
    /// Parse a validate trace; errors name the file and line.
    pub fn parse(file: &str, text: &str) -> Result<ValidationTrace, DiskSimError> {
        let mut requests = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() {
                continue;
            }
            let bad = |message: String| {
                DiskSimError::new(file, line, DiskSimErrorKind::Trace { message })
            };
            let fields: Vec<&str> = content.split_whitespace().collect();
            if fields.len() != 6 {
                return Err(bad(format!(
                    "expected 6 fields (R|W outcome lbn blocks service_us interarrival_us), found {}",
                    fields.len()
                )));
            }
            let op = match fields[0] {
                "R" => ModelOp::Read,
                "W" => ModelOp::Write,
                other => return Err(bad(format!("operation '{other}' is not R or W"))),
            };
            let lbn: u64 = fields[2]
                .parse()
                .map_err(|_| bad(format!("bad block number '{}'", fields[2])))?;
            let blocks: u32 = fields[3]
                .parse()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| bad(format!("bad block count '{}'", fields[3])))?;
            let time = |s: &str, what: &str| -> Result<f64, DiskSimError> {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| bad(format!("bad {what} '{s}'")))
            };
            requests.push(TraceRequest {
                op,
                lbn,
                blocks,
                measured_ns: us_to_ns(time(fields[4], "service time")?),
                think_ns: us_to_ns(time(fields[5], "inter-arrival time")?),
            });
        }
        Ok(ValidationTrace { requests })
    }

    /// Replay through a fresh model built from `params`; returns each request's simulated
    /// service time in ns, in trace order.
    pub fn replay(&self, params: &HddParams) -> Result<Vec<u64>, crate::ModelError> {
        let mut model = HddModel::new(
            params.clone(),
            Box::new(ChaCha8Rng::seed_from_u64(VALIDATION_SEED)),
        )?;
        let capacity = model.capacity_sectors();
        let mut out = Vec::with_capacity(self.requests.len());
        let mut done: Vec<ModelCompletion> = Vec::new();
        let mut now_ns = 0u64;
        for (i, r) in self.requests.iter().enumerate() {
            if r.lbn + u64::from(r.blocks) > capacity {
                return Err(crate::ModelError::InvalidParameter {
                    key: format!("trace request {}", i + 1),
                    reason: format!(
                        "blocks {}..{} beyond capacity {capacity}",
                        r.lbn,
                        r.lbn + u64::from(r.blocks)
                    ),
                });
            }
            done.clear();
            model.advance(now_ns, &mut done);
            model.submit(
                now_ns,
                ModelRequest {
                    tag: i as u64,
                    op: r.op,
                    sector: r.lbn,
                    sectors: r.blocks,
                    fua: false,
                },
            );
            let completion_ns = loop {
                done.clear();
                let Some(next) = model.next_event_ns() else {
                    panic!("HDD model lost request {i}: no pending event");
                };
                model.advance(next.max(now_ns), &mut done);
                if let Some(c) = done.iter().find(|c| c.tag == i as u64) {
                    break c.done_ns;
                }
            };
            out.push(completion_ns - now_ns);
            now_ns = completion_ns + r.think_ns;
        }
        Ok(out)
    }
}

/// Root mean square of the horizontal distance between two service-time CDFs (in ms),
/// sampled at 10,000 quantiles (the midpoints `(i + 0.5) / 10000`, nearest rank).
pub fn rms_demerit_ms(measured_ns: &[u64], simulated_ns: &[u64]) -> f64 {
    assert!(
        !measured_ns.is_empty() && !simulated_ns.is_empty(),
        "demerit of an empty distribution"
    );
    let mut a = measured_ns.to_vec();
    let mut b = simulated_ns.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    const QUANTILES: usize = 10_000;
    let at = |v: &[u64], p: f64| -> f64 {
        let idx = ((p * v.len() as f64) as usize).min(v.len() - 1);
        v[idx] as f64 / 1e6
    };
    let sum_sq: f64 = (0..QUANTILES)
        .map(|i| {
            let p = (i as f64 + 0.5) / QUANTILES as f64;
            let d = at(&b, p) - at(&a, p);
            d * d
        })
        .sum();
    (sum_sq / QUANTILES as f64).sqrt()
}

/// Validate `params` against a parsed trace.
pub fn validate_with(
    drive: &str,
    params: &HddParams,
    trace: &ValidationTrace,
) -> Result<ValidationReport, crate::ModelError> {
    let simulated = trace.replay(params)?;
    let measured: Vec<u64> = trace.requests.iter().map(|r| r.measured_ns).collect();
    let n = measured.len().max(1) as f64;
    let mean = |v: &[u64]| v.iter().map(|&x| x as f64).sum::<f64>() / n / 1e6;
    Ok(ValidationReport {
        drive: drive.to_string(),
        requests: measured.len() as u64,
        mean_measured_ms: mean(&measured),
        mean_sim_ms: mean(&simulated),
        rms_demerit_ms: if measured.is_empty() {
            0.0
        } else {
            rms_demerit_ms(&measured, &simulated)
        },
        unmodelled: Vec::new(),
    })
}

/// Import `DIR/NAME`'s parameters, replay `DIR/NAME.trace` and compare.
pub fn validate(dir: &Path, name: &str) -> Result<ValidationReport, DiskSimError> {
    let imported = import(dir, name)?;
    let trace_name = format!("{name}.trace");
    let path = dir.join(&trace_name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        DiskSimError::new(
            &path.display().to_string(),
            0,
            DiskSimErrorKind::Io {
                reason: e.to_string(),
            },
        )
    })?;
    let trace = ValidationTrace::parse(&trace_name, &text)?;
    if trace.requests.is_empty() {
        return Err(DiskSimError::new(
            &trace_name,
            0,
            DiskSimErrorKind::Trace {
                message: "no requests".into(),
            },
        ));
    }
    let mut report = validate_with(name, &imported.params, &trace).map_err(|e| {
        DiskSimError::new(
            &trace_name,
            0,
            DiskSimErrorKind::InvalidValue {
                key: "(model)".into(),
                reason: e.to_string(),
            },
        )
    })?;
    report.unmodelled = imported.unmodelled;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_parse_and_bad_lines_name_their_line() {
        let t = ValidationTrace::parse(
            "x.trace",
            "R Miss  564347     2     14095.370     13876.270\nW Doub 10 1 1.5 2\n",
        )
        .unwrap();
        assert_eq!(t.requests.len(), 2);
        assert_eq!(t.requests[0].lbn, 564347);
        assert_eq!(t.requests[0].measured_ns, 14_095_370);
        assert_eq!(t.requests[0].think_ns, 13_876_270);
        assert_eq!(t.requests[1].op, ModelOp::Write);
        let err = ValidationTrace::parse("x.trace", "R Hit 1 2 3 4\nX Hit 1 2 3 4\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = ValidationTrace::parse("x.trace", "R Hit 1 0 3 4\n").unwrap_err();
        assert!(err.to_string().contains("block count"), "{err}");
        let err = ValidationTrace::parse("x.trace", "R Hit 1 2 3\n").unwrap_err();
        assert!(err.to_string().contains("6 fields"), "{err}");
    }

    #[test]
    fn demerit_is_zero_for_equal_and_the_shift_for_shifted_distributions() {
        let a: Vec<u64> = (0..1000).map(|i| i * 10_000).collect();
        assert_eq!(rms_demerit_ms(&a, &a), 0.0);
        let b: Vec<u64> = a.iter().map(|x| x + 250_000).collect();
        assert!((rms_demerit_ms(&a, &b) - 0.25).abs() < 1e-9);
        // Order of samples does not matter, only the distribution.
        let mut c = b.clone();
        c.reverse();
        assert!((rms_demerit_ms(&a, &c) - 0.25).abs() < 1e-9);
    }
}
