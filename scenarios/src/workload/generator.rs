//! Turns a validated [`WorkloadSpec`] and a caller's rng into [`TraceRecord`]s.
//!
//! Per request the generator draws, in this fixed order: the operation (one Bernoulli draw),
//! the size (none for a fixed size), the address (none for sequential streams), and the
//! arrival gap (Poisson only). Changing that order changes every sequence, so it is part of
//! the contract. Address choice works in aligned slots of `alignment_bytes` from the span
//! start; a slot whose request would run past the span end is folded back (slot modulo the
//! number of slots where the request fits), so every request lies inside the span.
//!
//! Determinism: integer state and the rng only; Zipf and Poisson draws use `f64` `ln`/`exp`
//! (the platform's libm), identical on one machine and platform.

use rand::{Rng, RngCore};

use super::spec::{
    hot_slot_count, AccessPattern, ArrivalProcess, SizeDistribution, WorkloadError, WorkloadSpec,
};
use super::zipf::ZipfSampler;
use crate::traces::{DeviceKey, TraceOp, TraceRecord, SECTOR_BYTES};

const NS_PER_S: f64 = 1e9;

#[derive(Debug, Clone)]
enum AddressState {
    Uniform,
    Zipf {
        sampler: ZipfSampler,
        /// Bijective scatter of ranks over slots: slot = rank × multiplier mod slots.
        multiplier: Option<u64>,
    },
    HotCold {
        hot_probability: f64,
        hot_slots: u64,
    },
    Sequential {
        share_bytes: u64,
        cursor_bytes: Vec<u64>,
        next_stream: usize,
    },
}

#[derive(Debug, Clone)]
enum SizeState {
    Fixed(u64),
    UniformSectors {
        min: u64,
        max: u64,
    },
    Weighted {
        cumulative: Vec<u64>,
        bytes: Vec<u64>,
    },
}

/// A seeded workload: an endless (or `spec.requests`-long) iterator of records.
#[derive(Debug, Clone)]
pub struct WorkloadGenerator<R> {
    spec: WorkloadSpec,
    rng: R,
    slots: u64,
    address: AddressState,
    sizes: SizeState,
    issued: u64,
    clock_ns: u64,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A multiplier coprime with `slots`, far from 1 so neighbouring ranks land far apart.
fn scatter_multiplier(slots: u64) -> u64 {
    if slots <= 2 {
        return 1;
    }
    // The golden-ratio constant spreads consecutive ranks evenly over the slots.
    let mut multiplier = (0x9E37_79B9_7F4A_7C15u64 % slots).max(1);
    while gcd(multiplier, slots) != 1 {
        multiplier = multiplier % (slots - 1) + 1;
    }
    multiplier
}

impl<R: RngCore> WorkloadGenerator<R> {
    /// Validates `spec` and prepares the generator; `rng` is the only source of randomness.
    pub fn new(spec: &WorkloadSpec, rng: R) -> Result<Self, WorkloadError> {
        spec.validate()?;
        let slots = spec.slots();
        let address = match &spec.pattern {
            AccessPattern::Uniform => AddressState::Uniform,
            AccessPattern::Zipf { theta, scatter } => AddressState::Zipf {
                sampler: ZipfSampler::new(slots, *theta),
                multiplier: scatter.then(|| scatter_multiplier(slots)),
            },
            AccessPattern::HotCold {
                hot_access_percent,
                hot_space_percent,
            } => AddressState::HotCold {
                hot_probability: hot_access_percent / 100.0,
                hot_slots: hot_slot_count(slots, *hot_space_percent),
            },
            AccessPattern::Sequential { streams } => AddressState::Sequential {
                share_bytes: slots / u64::from(*streams) * spec.alignment_bytes,
                cursor_bytes: vec![0; *streams as usize],
                next_stream: 0,
            },
        };
        let sizes = match &spec.request_size {
            SizeDistribution::Fixed { bytes } => SizeState::Fixed(*bytes),
            SizeDistribution::Uniform {
                min_bytes,
                max_bytes,
            } => SizeState::UniformSectors {
                min: min_bytes / SECTOR_BYTES,
                max: max_bytes / SECTOR_BYTES,
            },
            SizeDistribution::Weighted { choices } => {
                let mut total = 0u64;
                let cumulative = choices
                    .iter()
                    .map(|c| {
                        total += u64::from(c.weight);
                        total
                    })
                    .collect();
                SizeState::Weighted {
                    cumulative,
                    bytes: choices.iter().map(|c| c.bytes).collect(),
                }
            }
        };
        Ok(WorkloadGenerator {
            spec: spec.clone(),
            rng,
            slots,
            address,
            sizes,
            issued: 0,
            clock_ns: 0,
        })
    }

    /// The spec this generator follows.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// Records generated so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    fn draw_size_bytes(&mut self) -> u64 {
        match &self.sizes {
            SizeState::Fixed(bytes) => *bytes,
            SizeState::UniformSectors { min, max } => {
                self.rng.random_range(*min..=*max) * SECTOR_BYTES
            }
            SizeState::Weighted { cumulative, bytes } => {
                let total = *cumulative.last().expect("validated: at least one choice");
                let point = self.rng.random_range(0..total);
                let index = cumulative.partition_point(|&c| c <= point);
                bytes[index]
            }
        }
    }

    /// Offset from the span start, in bytes, of a request of `size_bytes`.
    fn draw_offset_bytes(&mut self, size_bytes: u64) -> u64 {
        let alignment = self.spec.alignment_bytes;
        // Slots where a request of this size fits entirely inside the span (≥ 1: validated).
        let fitting_slots = (self.spec.span_bytes - size_bytes) / alignment + 1;
        let slot = match &mut self.address {
            AddressState::Uniform => self.rng.random_range(0..fitting_slots),
            AddressState::Zipf {
                sampler,
                multiplier,
            } => {
                let rank_index = sampler.sample(&mut self.rng) - 1;
                let slot = match multiplier {
                    // (rank_index + 1) runs over 1..=slots, all residues once: a bijection
                    // that also moves the hottest rank away from slot 0.
                    Some(m) => {
                        ((u128::from(rank_index + 1) * u128::from(*m)) % u128::from(self.slots))
                            as u64
                    }
                    None => rank_index,
                };
                slot % fitting_slots
            }
            AddressState::HotCold {
                hot_probability,
                hot_slots,
            } => {
                let slot = if self.rng.random_bool(*hot_probability) {
                    self.rng.random_range(0..*hot_slots)
                } else {
                    self.rng.random_range(*hot_slots..self.slots)
                };
                slot % fitting_slots
            }
            AddressState::Sequential {
                share_bytes,
                cursor_bytes,
                next_stream,
            } => {
                let stream = *next_stream;
                *next_stream = (stream + 1) % cursor_bytes.len();
                let cursor = &mut cursor_bytes[stream];
                if *cursor + size_bytes > *share_bytes {
                    *cursor = 0;
                }
                let offset = stream as u64 * *share_bytes + *cursor;
                *cursor += size_bytes;
                return offset;
            }
        };
        slot * alignment
    }

    fn arrival_ns(&mut self) -> u64 {
        match self.spec.arrival {
            ArrivalProcess::ClosedLoop => 0,
            ArrivalProcess::FixedRate {
                requests_per_second,
            } => (self.issued as f64 * NS_PER_S / requests_per_second).floor() as u64,
            ArrivalProcess::Poisson {
                requests_per_second,
            } => {
                if self.issued > 0 {
                    let uniform: f64 = self.rng.random();
                    // 1 - u lies in (0, 1], so the gap is finite and non-negative. libm,
                    // not the platform's ln, keeps the gaps bit-identical on any libc.
                    let gap_s = -libm::log(1.0 - uniform) / requests_per_second;
                    self.clock_ns = self
                        .clock_ns
                        .saturating_add((gap_s * NS_PER_S).round() as u64);
                }
                self.clock_ns
            }
        }
    }
}

impl<R: RngCore> Iterator for WorkloadGenerator<R> {
    type Item = TraceRecord;

    fn next(&mut self) -> Option<TraceRecord> {
        if self.spec.requests.is_some_and(|limit| self.issued >= limit) {
            return None;
        }
        let op = if self.rng.random_bool(self.spec.read_percent / 100.0) {
            TraceOp::Read
        } else {
            TraceOp::Write
        };
        let size_bytes = self.draw_size_bytes();
        let offset_bytes = self.draw_offset_bytes(size_bytes);
        let time_ns = self.arrival_ns();
        self.issued += 1;
        debug_assert!(offset_bytes + size_bytes <= self.spec.span_bytes);
        debug_assert!(size_bytes.is_multiple_of(SECTOR_BYTES));
        let start_bytes = self.spec.span_start_bytes + offset_bytes;
        debug_assert!(start_bytes.is_multiple_of(SECTOR_BYTES));
        Some(TraceRecord {
            time_ns,
            op,
            sector: start_bytes / SECTOR_BYTES,
            sectors: size_bytes / SECTOR_BYTES,
            device: DeviceKey::Number(self.spec.device),
            measured_latency_ns: None,
        })
    }
}
