//! Synthetic but plausible comparison data for tests and for looking at the charts.
//!
//! Owns [`demo_compare_report`]: a 3 × 2 grid (write-back, write-through, write-around ×
//! FIFO, LRU) over a made-up 10 s workload, recorded through [`RunRecorder`] exactly as a real
//! run would be. The numbers follow the shape of flashcache's costs (SSD hits ~100 µs, disk
//! misses a few ms, write-back dirtying and cleaning) but come from a seeded ChaCha stream,
//! not from the simulator. Test-only: it deliberately is not part of the public API.

use std::collections::BTreeMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::compare::{CompareReport, GridAxis};
use crate::latency::Op;
use crate::recorder::RunRecorder;
use crate::run_report::{stat, RunReport};

/// The demo's seeded ChaCha stream, with the two draws the synthetic data need.
struct DemoRandom(ChaCha8Rng);

impl DemoRandom {
    /// Uniform in `[0, bound)`.
    fn below(&mut self, bound: u64) -> u64 {
        self.0.next_u64() % bound.max(1)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const MODES: [&str; 3] = ["wb", "wt", "wa"];
const POLICIES: [&str; 2] = ["fifo", "lru"];
const REQUESTS: u64 = 20_000;
const DURATION_NS: u64 = 10_000_000_000;
const BLOCK_BYTES: u64 = 4096;
const CACHE_BLOCKS: u64 = 4096;
const DIRTY_HIGH_WATER: u64 = 1_200;

/// The demo comparison (see the module doc).
pub(crate) fn demo_compare_report() -> CompareReport {
    let mut runs = Vec::new();
    for (mode_index, mode) in MODES.iter().enumerate() {
        for (policy_index, policy) in POLICIES.iter().enumerate() {
            let seed = 0xD15C_0000 + (mode_index * 2 + policy_index) as u64;
            runs.push(demo_run(mode, policy, seed));
        }
    }
    let axes = vec![
        GridAxis {
            name: "mode".to_string(),
            values: MODES.map(String::from).to_vec(),
        },
        GridAxis {
            name: "policy".to_string(),
            values: POLICIES.map(String::from).to_vec(),
        },
    ];
    match CompareReport::new("synthetic demo workload", axes, runs) {
        Ok(report) => report,
        Err(error) => panic!("demo report is invalid: {error}"),
    }
}

fn demo_run(mode: &str, policy: &str, seed: u64) -> RunReport {
    let mut random = DemoRandom(ChaCha8Rng::seed_from_u64(seed));
    let mut recorder = RunRecorder::new(&["ssd", "hdd"], 50_000_000, 128);
    let (ssd, hdd) = (0, 1);
    let read_hit_per_mille = match (mode, policy) {
        ("wa", "fifo") => 520,
        ("wa", _) => 580,
        (_, "fifo") => 610,
        _ => 680,
    };
    let write_hit_per_mille = if mode == "wa" {
        0
    } else {
        300 + read_hit_per_mille / 4
    };
    let mut counters: BTreeMap<&str, u64> = BTreeMap::new();
    let mut dirty_blocks = 0u64;
    let mut cached_blocks = 0u64;
    let mut next_cleaning_ns = 0u64;

    for index in 0..REQUESTS {
        let arrival_ns = index * (DURATION_NS / REQUESTS) + random.below(400_000);
        let op = if random.chance(700) {
            Op::Read
        } else {
            Op::Write
        };
        let ssd_ns = 80_000 + random.below(60_000) + (random.below(100) / 99) * 900_000;
        let hdd_ns = 2_000_000 + random.below(9_000_000) + (random.below(1000) / 999) * 40_000_000;
        let latency_ns = match op {
            Op::Read => {
                *counters.entry(stat::READS).or_default() += 1;
                if random.chance(read_hit_per_mille) {
                    *counters.entry(stat::READ_HITS).or_default() += 1;
                    recorder.record_device_io(ssd, Op::Read, BLOCK_BYTES);
                    ssd_ns
                } else {
                    recorder.record_device_io(hdd, Op::Read, BLOCK_BYTES);
                    recorder.record_device_io(ssd, Op::Write, BLOCK_BYTES);
                    cached_blocks = (cached_blocks + 1).min(CACHE_BLOCKS);
                    hdd_ns
                }
            }
            Op::Write => {
                *counters.entry(stat::WRITES).or_default() += 1;
                let hit = random.chance(write_hit_per_mille);
                if hit {
                    *counters.entry(stat::WRITE_HITS).or_default() += 1;
                }
                match mode {
                    "wb" => {
                        recorder.record_device_io(ssd, Op::Write, BLOCK_BYTES);
                        if hit && random.chance(400) {
                            *counters.entry(stat::DIRTY_WRITE_HITS).or_default() += 1;
                        } else {
                            dirty_blocks += 1;
                            // The metadata update of a newly dirtied block.
                            recorder.record_device_io(ssd, Op::Write, BLOCK_BYTES);
                        }
                        cached_blocks = (cached_blocks + u64::from(!hit)).min(CACHE_BLOCKS);
                        ssd_ns + 20_000
                    }
                    "wt" => {
                        recorder.record_device_io(ssd, Op::Write, BLOCK_BYTES);
                        recorder.record_device_io(hdd, Op::Write, BLOCK_BYTES);
                        cached_blocks = (cached_blocks + u64::from(!hit)).min(CACHE_BLOCKS);
                        hdd_ns
                    }
                    _ => {
                        recorder.record_device_io(hdd, Op::Write, BLOCK_BYTES);
                        hdd_ns
                    }
                }
            }
        };
        let completion_ns = arrival_ns + latency_ns;
        recorder.record_request(op, arrival_ns, completion_ns, BLOCK_BYTES);

        // Write-back cleaning: above the high-water mark, clean a batch every 20 ms.
        if dirty_blocks > DIRTY_HIGH_WATER && completion_ns >= next_cleaning_ns {
            let batch = 16 + random.below(16);
            for _ in 0..batch {
                recorder.record_device_io(ssd, Op::Read, BLOCK_BYTES);
                recorder.record_device_io(hdd, Op::Write, BLOCK_BYTES);
                recorder.record_device_io(ssd, Op::Write, BLOCK_BYTES);
            }
            dirty_blocks -= batch;
            *counters.entry(stat::CLEANINGS).or_default() += batch;
            recorder.record_cleanings(completion_ns, batch);
            next_cleaning_ns = completion_ns + 20_000_000;
        }
        recorder.sample_gauges(completion_ns, dirty_blocks, cached_blocks);
    }

    let stats = counters
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    let config = serde_json::json!({
        "mode": mode,
        "policy": policy,
        "cache_blocks": CACHE_BLOCKS,
        "block_bytes": BLOCK_BYTES,
        "synthetic": true,
    });
    recorder.finish(&format!("{mode}/{policy}"), config, stats, DURATION_NS)
}
