//! Workload generators: determinism, distributions (checked statistically over 100k draws),
//! arrival processes, and spec validation naming the bad field.

use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use dmsim_scenarios::workload::{
    AccessPattern, ArrivalProcess, SizeDistribution, WeightedSize, WorkloadGenerator, WorkloadSpec,
};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MIB: u64 = 1 << 20;
const DRAWS: usize = 100_000;

fn base_spec(pattern: AccessPattern) -> WorkloadSpec {
    WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: 64 * MIB,
        alignment_bytes: 4096,
        pattern,
        read_percent: 50.0,
        request_size: SizeDistribution::Fixed { bytes: 4096 },
        arrival: ArrivalProcess::ClosedLoop,
        requests: Some(DRAWS as u64),
        device: 0,
    }
}

fn generate(spec: &WorkloadSpec, seed: u64) -> Vec<TraceRecord> {
    WorkloadGenerator::new(spec, ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
        .collect()
}

fn all_patterns() -> Vec<AccessPattern> {
    vec![
        AccessPattern::Uniform,
        AccessPattern::Zipf {
            theta: 0.99,
            scatter: false,
        },
        AccessPattern::Zipf {
            theta: 1.2,
            scatter: true,
        },
        AccessPattern::HotCold {
            hot_access_percent: 90.0,
            hot_space_percent: 10.0,
        },
        AccessPattern::Sequential { streams: 4 },
    ]
}

#[test]
fn same_seed_same_sequence_different_seed_different_sequence() {
    for pattern in all_patterns() {
        let mut spec = base_spec(pattern.clone());
        spec.requests = Some(2000);
        spec.arrival = ArrivalProcess::Poisson {
            requests_per_second: 10_000.0,
        };
        spec.request_size = SizeDistribution::Uniform {
            min_bytes: 512,
            max_bytes: 65536,
        };
        let first = generate(&spec, 42);
        assert_eq!(first.len(), 2000);
        assert_eq!(first, generate(&spec, 42), "{pattern:?}");
        assert_ne!(first, generate(&spec, 43), "{pattern:?}");
    }
}

#[test]
fn a_borrowed_dyn_rng_gives_the_same_sequence_as_an_owned_one() {
    let spec = base_spec(AccessPattern::Uniform);
    let owned: Vec<_> = generate(&spec, 9).into_iter().take(100).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let dyn_rng: &mut dyn RngCore = &mut rng;
    let borrowed: Vec<_> = WorkloadGenerator::new(&spec, dyn_rng)
        .unwrap()
        .take(100)
        .collect();
    assert_eq!(owned, borrowed);
}

#[test]
fn every_request_lies_in_the_span_aligned() {
    for pattern in all_patterns() {
        let mut spec = base_spec(pattern.clone());
        spec.span_start_bytes = 10 * MIB;
        spec.span_bytes = 8 * MIB;
        spec.device = 3;
        spec.requests = Some(20_000);
        spec.request_size = SizeDistribution::Weighted {
            choices: vec![
                WeightedSize {
                    bytes: 4096,
                    weight: 3,
                },
                WeightedSize {
                    bytes: 1 << 20,
                    weight: 1,
                },
            ],
        };
        let start_sector = 10 * MIB / 512;
        let end_sector = 18 * MIB / 512;
        for record in generate(&spec, 5) {
            assert!(record.sector >= start_sector, "{pattern:?}");
            assert!(record.end_sector() <= end_sector, "{pattern:?}");
            assert_eq!(record.device, DeviceKey::Number(3));
            if !matches!(pattern, AccessPattern::Sequential { .. }) {
                assert_eq!((record.sector - start_sector) % 8, 0, "4 KiB aligned");
            }
        }
    }
}

#[test]
fn hot_cold_90_10_sends_90_percent_to_the_hot_tenth() {
    let spec = base_spec(AccessPattern::HotCold {
        hot_access_percent: 90.0,
        hot_space_percent: 10.0,
    });
    let hot_end_sector = spec.slots() / 10 * 8;
    let hot = generate(&spec, 1)
        .iter()
        .filter(|r| r.sector < hot_end_sector)
        .count();
    let fraction = hot as f64 / DRAWS as f64;
    assert!((fraction - 0.9).abs() < 0.005, "hot fraction {fraction}");
}

fn zipf_rank1_probability(slots: u64, theta: f64) -> f64 {
    1.0 / (1..=slots).map(|k| (k as f64).powf(-theta)).sum::<f64>()
}

#[test]
fn zipf_rank_one_frequency_matches_the_harmonic_number() {
    let mut spec = base_spec(AccessPattern::Zipf {
        theta: 0.99,
        scatter: false,
    });
    spec.span_bytes = 1000 * 4096;
    let records = generate(&spec, 2);
    let rank1 = records.iter().filter(|r| r.sector == 0).count() as f64 / DRAWS as f64;
    let expected = zipf_rank1_probability(1000, 0.99);
    assert!(
        (rank1 - expected).abs() < 0.005,
        "rank 1 frequency {rank1}, expected {expected}"
    );
    // Rank 2 is the next slot, about 2^-0.99 as frequent as rank 1.
    let rank2 = records.iter().filter(|r| r.sector == 8).count() as f64 / DRAWS as f64;
    assert!((rank2 / rank1 - 0.5f64.powf(0.99)).abs() < 0.05);
}

#[test]
fn zipf_scatter_moves_the_hot_slot_but_keeps_its_frequency() {
    let mut spec = base_spec(AccessPattern::Zipf {
        theta: 0.99,
        scatter: true,
    });
    spec.span_bytes = 1000 * 4096;
    let records = generate(&spec, 2);
    let mut counts = vec![0usize; 1000];
    for record in &records {
        counts[(record.sector / 8) as usize] += 1;
    }
    let (hottest, &count) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(slot, &count)| (count, std::cmp::Reverse(slot)))
        .unwrap();
    assert_ne!(hottest, 0);
    let expected = zipf_rank1_probability(1000, 0.99);
    assert!((count as f64 / DRAWS as f64 - expected).abs() < 0.005);
}

#[test]
fn uniform_spreads_evenly_over_the_span() {
    let spec = base_spec(AccessPattern::Uniform);
    let span_sectors = spec.span_bytes / 512;
    let mut buckets = [0usize; 10];
    for record in generate(&spec, 3) {
        buckets[(record.sector * 10 / span_sectors) as usize] += 1;
    }
    for count in buckets {
        let fraction = count as f64 / DRAWS as f64;
        assert!((fraction - 0.1).abs() < 0.005, "bucket fraction {fraction}");
    }
}

#[test]
fn sequential_streams_interleave_and_wrap() {
    let mut spec = base_spec(AccessPattern::Sequential { streams: 2 });
    spec.span_bytes = 64 * 1024; // 32 KiB per stream: 8 requests of 4 KiB, then wrap.
    spec.requests = Some(40);
    let records = generate(&spec, 4);
    let share_sectors = 32 * 1024 / 512;
    for (i, record) in records.iter().enumerate() {
        let stream = (i % 2) as u64;
        let position = (i / 2) as u64 % 8;
        assert_eq!(
            record.sector,
            stream * share_sectors + position * 8,
            "request {i}"
        );
    }
}

#[test]
fn read_percentage_is_respected() {
    let mut spec = base_spec(AccessPattern::Uniform);
    spec.read_percent = 70.0;
    let reads = generate(&spec, 6)
        .iter()
        .filter(|r| r.op == TraceOp::Read)
        .count();
    assert!((reads as f64 / DRAWS as f64 - 0.7).abs() < 0.005);
    spec.read_percent = 0.0;
    assert!(generate(&spec, 6).iter().all(|r| r.op == TraceOp::Write));
}

#[test]
fn size_distributions() {
    let mut spec = base_spec(AccessPattern::Uniform);
    spec.request_size = SizeDistribution::Uniform {
        min_bytes: 1024,
        max_bytes: 4096,
    };
    let sizes: Vec<u64> = generate(&spec, 7).iter().map(|r| r.sectors).collect();
    assert!(sizes.iter().all(|s| (2..=8).contains(s)));
    for sectors in 2..=8u64 {
        let fraction = sizes.iter().filter(|&&s| s == sectors).count() as f64 / DRAWS as f64;
        assert!(
            (fraction - 1.0 / 7.0).abs() < 0.006,
            "{sectors}: {fraction}"
        );
    }

    spec.request_size = SizeDistribution::Weighted {
        choices: vec![
            WeightedSize {
                bytes: 4096,
                weight: 1,
            },
            WeightedSize {
                bytes: 65536,
                weight: 3,
            },
        ],
    };
    let large = generate(&spec, 8)
        .iter()
        .filter(|r| r.sectors == 128)
        .count();
    assert!((large as f64 / DRAWS as f64 - 0.75).abs() < 0.006);
}

#[test]
fn arrival_processes() {
    let mut spec = base_spec(AccessPattern::Uniform);
    assert!(generate(&spec, 1).iter().all(|r| r.time_ns == 0));

    spec.arrival = ArrivalProcess::FixedRate {
        requests_per_second: 1000.0,
    };
    let fixed = generate(&spec, 1);
    assert!(fixed
        .iter()
        .enumerate()
        .all(|(i, r)| r.time_ns == i as u64 * 1_000_000));

    spec.arrival = ArrivalProcess::Poisson {
        requests_per_second: 50_000.0,
    };
    let poisson = generate(&spec, 1);
    assert_eq!(poisson[0].time_ns, 0);
    assert!(poisson.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    let mean_gap_ns = poisson.last().unwrap().time_ns as f64 / (DRAWS - 1) as f64;
    assert!(
        (mean_gap_ns - 20_000.0).abs() < 20_000.0 * 0.02,
        "{mean_gap_ns}"
    );
    // Exponential gaps: about e^-1 of them exceed the mean.
    let long = poisson
        .windows(2)
        .filter(|w| (w[1].time_ns - w[0].time_ns) as f64 > 20_000.0)
        .count() as f64
        / (DRAWS - 1) as f64;
    assert!((long - (-1.0f64).exp()).abs() < 0.01, "{long}");
}

#[test]
fn unlimited_generators_keep_going() {
    let mut spec = base_spec(AccessPattern::Uniform);
    spec.requests = None;
    let mut generator = WorkloadGenerator::new(&spec, ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert_eq!(generator.by_ref().take(DRAWS + 10).count(), DRAWS + 10);
    assert_eq!(generator.issued(), (DRAWS + 10) as u64);
}

fn invalid_field(change: impl FnOnce(&mut WorkloadSpec)) -> &'static str {
    let mut spec = base_spec(AccessPattern::Uniform);
    change(&mut spec);
    let error = WorkloadGenerator::new(&spec, ChaCha8Rng::seed_from_u64(0)).unwrap_err();
    assert!(error.to_string().contains(error.field));
    error.field
}

#[test]
fn validation_names_the_bad_field() {
    assert_eq!(
        invalid_field(|s| s.pattern = AccessPattern::Zipf {
            theta: 0.0,
            scatter: false
        }),
        "pattern.theta"
    );
    assert_eq!(
        invalid_field(|s| s.pattern = AccessPattern::Zipf {
            theta: f64::NAN,
            scatter: false
        }),
        "pattern.theta"
    );
    assert_eq!(
        invalid_field(|s| s.pattern = AccessPattern::HotCold {
            hot_access_percent: 120.0,
            hot_space_percent: 10.0
        }),
        "pattern.hot_access_percent"
    );
    assert_eq!(
        invalid_field(|s| s.pattern = AccessPattern::HotCold {
            hot_access_percent: 90.0,
            hot_space_percent: 0.0
        }),
        "pattern.hot_space_percent"
    );
    assert_eq!(
        invalid_field(|s| s.pattern = AccessPattern::Sequential { streams: 0 }),
        "pattern.streams"
    );
    assert_eq!(invalid_field(|s| s.read_percent = 101.0), "read_percent");
    assert_eq!(
        invalid_field(|s| s.request_size = SizeDistribution::Fixed { bytes: 1000 }),
        "request_size.bytes"
    );
    assert_eq!(
        invalid_field(|s| s.request_size = SizeDistribution::Fixed { bytes: 128 * MIB }),
        "request_size.bytes"
    );
    assert_eq!(
        invalid_field(|s| s.request_size = SizeDistribution::Uniform {
            min_bytes: 8192,
            max_bytes: 4096
        }),
        "request_size.min_bytes"
    );
    assert_eq!(
        invalid_field(|s| s.request_size = SizeDistribution::Weighted { choices: vec![] }),
        "request_size.choices"
    );
    assert_eq!(
        invalid_field(|s| s.alignment_bytes = 100),
        "alignment_bytes"
    );
    assert_eq!(invalid_field(|s| s.span_bytes = 0), "span_bytes");
    assert_eq!(
        invalid_field(|s| s.span_start_bytes = 7),
        "span_start_bytes"
    );
    assert_eq!(
        invalid_field(|s| s.arrival = ArrivalProcess::Poisson {
            requests_per_second: 0.0
        }),
        "arrival.requests_per_second"
    );
}

#[test]
fn spec_round_trips_through_json_and_rejects_unknown_fields() {
    let json = r#"{
        "span_bytes": 1073741824,
        "pattern": {"kind": "hot_cold", "hot_access_percent": 90, "hot_space_percent": 10},
        "read_percent": 70,
        "request_size": {"kind": "weighted", "choices": [{"bytes": 4096, "weight": 9}, {"bytes": 65536, "weight": 1}]},
        "arrival": {"kind": "poisson", "requests_per_second": 20000},
        "requests": 1000
    }"#;
    let spec: WorkloadSpec = serde_json::from_str(json).unwrap();
    assert_eq!(spec.alignment_bytes, 4096, "default alignment");
    assert!(spec.validate().is_ok());
    let again: WorkloadSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(again, spec);
    let typo = json.replace("read_percent", "read_pct");
    assert!(serde_json::from_str::<WorkloadSpec>(&typo).is_err());
    let nested_typo = json.replace("hot_space_percent", "hot_space_pct");
    assert!(serde_json::from_str::<WorkloadSpec>(&nested_typo).is_err());
    let unknown_kind = json.replace("hot_cold", "lukewarm");
    assert!(serde_json::from_str::<WorkloadSpec>(&unknown_kind).is_err());
}
