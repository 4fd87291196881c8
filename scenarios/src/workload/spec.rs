//! The serde description of a synthetic workload ([`WorkloadSpec`]) and its validation.
//!
//! Scenario files hold a `WorkloadSpec`; [`WorkloadSpec::validate`] checks every field and
//! names the offending one. This module does not draw random numbers (see
//! [`super::WorkloadGenerator`]).

use serde::{Deserialize, Serialize};

use crate::traces::SECTOR_BYTES;

/// A synthetic workload: where requests go, how big they are, reads vs writes, and when they
/// arrive. Offsets and sizes are in bytes and must be multiples of 512.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// First byte of the address span.
    #[serde(default)]
    pub span_start_bytes: u64,
    /// Length of the address span; every request lies inside it.
    pub span_bytes: u64,
    /// Request start offsets (relative to the span start) are multiples of this.
    #[serde(default = "default_alignment_bytes")]
    pub alignment_bytes: u64,
    pub pattern: AccessPattern,
    /// Percentage of reads, 0 to 100; the rest are writes.
    pub read_percent: f64,
    pub request_size: SizeDistribution,
    #[serde(default)]
    pub arrival: ArrivalProcess,
    /// Number of requests to generate; `None` generates forever.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Device number written into every record (`DeviceKey::Number`).
    #[serde(default)]
    pub device: u64,
}

fn default_alignment_bytes() -> u64 {
    4096
}

/// Which addresses are accessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccessPattern {
    /// Every aligned slot equally likely.
    Uniform,
    /// Slot of rank k (1 = hottest) drawn with probability ∝ k^-theta. Ranks map to slots in
    /// address order, or through a fixed permutation when `scatter` is set.
    Zipf {
        theta: f64,
        #[serde(default)]
        scatter: bool,
    },
    /// `hot_access_percent` of requests go uniformly to the first `hot_space_percent` of the
    /// span, the rest uniformly to the remainder.
    HotCold {
        hot_access_percent: f64,
        hot_space_percent: f64,
    },
    /// `streams` sequential streams, each in its own equal share of the span, interleaved
    /// round-robin; a stream wraps to the start of its share at the end.
    Sequential { streams: u32 },
}

/// How large requests are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SizeDistribution {
    Fixed {
        bytes: u64,
    },
    /// Uniform over the multiples of 512 in `[min_bytes, max_bytes]`.
    Uniform {
        min_bytes: u64,
        max_bytes: u64,
    },
    /// One of `choices`, with probability proportional to its weight.
    Weighted {
        choices: Vec<WeightedSize>,
    },
}

/// A request size and its relative weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSize {
    pub bytes: u64,
    pub weight: u32,
}

/// When requests arrive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalProcess {
    /// Every record has time 0: the replayer keeps a fixed number in flight.
    #[default]
    ClosedLoop,
    /// Request i arrives at floor(i × 10^9 / rate) ns.
    FixedRate { requests_per_second: f64 },
    /// Exponential inter-arrival gaps with this mean rate, each rounded to the nearest ns.
    Poisson { requests_per_second: f64 },
}

/// A [`WorkloadSpec`] field is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workload field `{field}`: {problem}")]
pub struct WorkloadError {
    /// Dotted path of the field, e.g. `pattern.theta`.
    pub field: &'static str,
    pub problem: String,
}

impl WorkloadError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        WorkloadError {
            field,
            problem: problem.into(),
        }
    }
}

/// Largest accepted Zipf exponent: beyond it nearly every draw is rank 1 and `k^-theta`
/// underflows for moderate ranks.
pub const ZIPF_THETA_MAX: f64 = 10.0;

fn check_sector_multiple(field: &'static str, bytes: u64) -> Result<(), WorkloadError> {
    if bytes.is_multiple_of(SECTOR_BYTES) {
        Ok(())
    } else {
        Err(WorkloadError::new(
            field,
            format!("{bytes} is not a multiple of 512 bytes"),
        ))
    }
}

fn check_percent(field: &'static str, value: f64) -> Result<(), WorkloadError> {
    if value.is_finite() && (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(WorkloadError::new(
            field,
            format!("{value} is not a percentage between 0 and 100"),
        ))
    }
}

fn check_rate(field: &'static str, rate: f64) -> Result<(), WorkloadError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::new(
            field,
            format!("{rate} is not a positive finite rate"),
        ))
    }
}

impl SizeDistribution {
    /// The largest size this distribution can produce.
    pub fn max_bytes(&self) -> u64 {
        match self {
            SizeDistribution::Fixed { bytes } => *bytes,
            SizeDistribution::Uniform { max_bytes, .. } => *max_bytes,
            SizeDistribution::Weighted { choices } => {
                choices.iter().map(|c| c.bytes).max().unwrap_or(0)
            }
        }
    }

    fn validate(&self, span_bytes: u64) -> Result<(), WorkloadError> {
        let check_size = |field: &'static str, bytes: u64| {
            if bytes == 0 {
                return Err(WorkloadError::new(field, "size must be positive"));
            }
            check_sector_multiple(field, bytes)?;
            if bytes > span_bytes {
                return Err(WorkloadError::new(
                    field,
                    format!("{bytes} bytes does not fit in the span of {span_bytes} bytes"),
                ));
            }
            Ok(())
        };
        match self {
            SizeDistribution::Fixed { bytes } => check_size("request_size.bytes", *bytes),
            SizeDistribution::Uniform {
                min_bytes,
                max_bytes,
            } => {
                check_size("request_size.min_bytes", *min_bytes)?;
                check_size("request_size.max_bytes", *max_bytes)?;
                if min_bytes > max_bytes {
                    return Err(WorkloadError::new(
                        "request_size.min_bytes",
                        format!("{min_bytes} is larger than max_bytes {max_bytes}"),
                    ));
                }
                Ok(())
            }
            SizeDistribution::Weighted { choices } => {
                if choices.is_empty() {
                    return Err(WorkloadError::new(
                        "request_size.choices",
                        "needs at least one size",
                    ));
                }
                for choice in choices {
                    check_size("request_size.choices.bytes", choice.bytes)?;
                    if choice.weight == 0 {
                        return Err(WorkloadError::new(
                            "request_size.choices.weight",
                            "weights must be positive",
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

impl WorkloadSpec {
    /// Number of aligned slots in the span (request start positions for the smallest size).
    pub fn slots(&self) -> u64 {
        self.span_bytes / self.alignment_bytes
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        check_sector_multiple("span_start_bytes", self.span_start_bytes)?;
        if self.span_bytes == 0 {
            return Err(WorkloadError::new("span_bytes", "span must be positive"));
        }
        check_sector_multiple("span_bytes", self.span_bytes)?;
        if self.span_start_bytes.checked_add(self.span_bytes).is_none() {
            return Err(WorkloadError::new(
                "span_bytes",
                "span end overflows 64 bits",
            ));
        }
        if self.alignment_bytes == 0 {
            return Err(WorkloadError::new(
                "alignment_bytes",
                "alignment must be positive",
            ));
        }
        check_sector_multiple("alignment_bytes", self.alignment_bytes)?;
        if self.alignment_bytes > self.span_bytes {
            return Err(WorkloadError::new(
                "alignment_bytes",
                "alignment is larger than the span",
            ));
        }
        check_percent("read_percent", self.read_percent)?;
        self.request_size.validate(self.span_bytes)?;
        let slots = self.slots();
        match &self.pattern {
            AccessPattern::Uniform => {}
            AccessPattern::Zipf { theta, .. } => {
                if !(theta.is_finite() && *theta > 0.0 && *theta <= ZIPF_THETA_MAX) {
                    return Err(WorkloadError::new(
                        "pattern.theta",
                        format!("{theta} is outside (0, {ZIPF_THETA_MAX}]"),
                    ));
                }
            }
            AccessPattern::HotCold {
                hot_access_percent,
                hot_space_percent,
            } => {
                check_percent("pattern.hot_access_percent", *hot_access_percent)?;
                check_percent("pattern.hot_space_percent", *hot_space_percent)?;
                let hot_slots = hot_slot_count(slots, *hot_space_percent);
                if hot_slots == 0 || hot_slots >= slots {
                    return Err(WorkloadError::new(
                        "pattern.hot_space_percent",
                        format!(
                            "{hot_space_percent} % of {slots} slots leaves the hot or the cold region empty"
                        ),
                    ));
                }
            }
            AccessPattern::Sequential { streams } => {
                if *streams == 0 {
                    return Err(WorkloadError::new(
                        "pattern.streams",
                        "needs at least one stream",
                    ));
                }
                let share_bytes = slots / u64::from(*streams) * self.alignment_bytes;
                if share_bytes < self.request_size.max_bytes() {
                    return Err(WorkloadError::new(
                        "pattern.streams",
                        format!(
                            "{streams} streams leave {share_bytes} bytes each, less than the largest request"
                        ),
                    ));
                }
            }
        }
        match self.arrival {
            ArrivalProcess::ClosedLoop => {}
            ArrivalProcess::FixedRate {
                requests_per_second,
            }
            | ArrivalProcess::Poisson {
                requests_per_second,
            } => check_rate("arrival.requests_per_second", requests_per_second)?,
        }
        Ok(())
    }
}

/// Slots in the hot region: `slots × percent / 100`, rounded down.
pub(crate) fn hot_slot_count(slots: u64, hot_space_percent: f64) -> u64 {
    // f64 holds slot counts exactly up to 2^53 (a 32 PiB span at 4 KiB); the product is
    // rounded down, so the hot region never exceeds the requested share.
    ((slots as f64) * hot_space_percent / 100.0).floor() as u64
}
