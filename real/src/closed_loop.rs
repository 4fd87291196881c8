//! A closed-loop bio source for measuring and exercising real devices: keeps a fixed number
//! of bios in flight from a prepared list, and keeps what came back.
//!
//! Owns nothing but the list and the queue depth; it is the real-device counterpart of a
//! scenario's closed-loop workload, small enough for this crate's tests and benchmark (the
//! CLI uses the scenarios crate's workloads instead).
//!
//! Deliberately not here: choosing offsets (the caller builds the list; see
//! [`ClosedLoopSource::random_reads`] for the benchmark's pattern), checking data.

use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::{Bio, BioDone, BioFlags, BioId, BioSource, Op, SectorData};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// See the module documentation.
#[derive(Debug)]
pub struct ClosedLoopSource {
    pending: VecDeque<Bio>,
    depth: usize,
    in_flight: usize,
    /// Finished bios, in completion order (only when `keep_done`).
    pub done: Vec<BioDone>,
    keep_done: bool,
    /// Bios finished.
    pub done_count: u64,
    /// Bios that finished with a status other than Ok.
    pub failed_count: u64,
}

impl ClosedLoopSource {
    /// Issues `bios` in order, at most `depth` at a time. `keep_done`: keep every
    /// [`BioDone`] (tests) or only count them (benchmarks).
    pub fn new(bios: Vec<Bio>, depth: usize, keep_done: bool) -> ClosedLoopSource {
        assert!(depth > 0, "a closed loop needs a queue depth of at least 1");
        ClosedLoopSource {
            pending: bios.into(),
            depth,
            in_flight: 0,
            done: Vec::new(),
            keep_done,
            done_count: 0,
            failed_count: 0,
        }
    }

    /// `count` single-block reads (`sectors` each) at pseudo-random aligned positions of a
    /// volume of `volume_sectors`, drawn from a ChaCha8 stream seeded with `seed` (same
    /// inputs, same offsets).
    pub fn random_reads(count: u64, sectors: u32, volume_sectors: u64, seed: u64) -> Vec<Bio> {
        let slots = volume_sectors / u64::from(sectors);
        assert!(slots > 0, "volume smaller than one IO");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..count)
            .map(|index| {
                let slot = rng.next_u64() % slots;
                Bio {
                    id: BioId(index + 1),
                    op: Op::Read,
                    sector: slot * u64::from(sectors),
                    sectors,
                    flags: BioFlags::default(),
                    data: SectorData::new(),
                }
            })
            .collect()
    }

    /// A write of `sectors` at `sector` whose data are stamps with `write_id`.
    pub fn stamped_write(id: u64, sector: u64, sectors: u32, write_id: u64) -> Bio {
        Bio {
            id: BioId(id),
            op: Op::Write,
            sector,
            sectors,
            flags: BioFlags::default(),
            data: (0..u64::from(sectors))
                .map(|i| {
                    SectorContent::Stamp(SectorStamp {
                        sector: sector + i,
                        write_id,
                    })
                })
                .collect(),
        }
    }
}

impl BioSource for ClosedLoopSource {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        // Due at once whenever the loop has room: arrival 0 is never in the future.
        (self.in_flight < self.depth && !self.pending.is_empty()).then_some(0)
    }

    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        self.in_flight += 1;
        self.pending
            .pop_front()
            .expect("take_bio only after next_arrival_ns announced one")
    }

    fn on_done(&mut self, _now_ns: u64, done: BioDone) {
        self.in_flight -= 1;
        self.done_count += 1;
        if !done.status.is_ok() {
            self.failed_count += 1;
        }
        if self.keep_done {
            self.done.push(done);
        }
    }

    fn is_finished(&self) -> bool {
        self.pending.is_empty()
    }
}
