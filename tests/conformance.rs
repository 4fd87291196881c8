//! Conformance: one set of test bodies runs the engine against a simulated device and against
//! a real O_DIRECT device (a loop device the test creates when root — detached and deleted
//! afterwards, also on failure — otherwise a plain file). As root, failing to get a loop
//! device fails the test; it never skips.
//!
//! The last test runs one workload at queue depth 1 in both worlds and checks that the engine
//! made the same decisions (device IO requests and bio results, timing aside). Both worlds'
//! engine configuration and target come from the testbed, as a CLI run's do.

use dmsim_engine::block::{IoStatus, Op};
use dmsim_engine::content::SectorContent;
use dmsim_engine::flashcache::{CacheMode, FlashcacheConfig, Persistence, TableLine};
use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId, Input, Output, SectorData};
use dmsim_engine::platform::{BioSource, DriveObserver};
use dmsim_engine::{drive, DriveOptions, DriveOutcome};
use dmsim_models::presets::DeviceParams;
use dmsim_models::ram::RamParams;
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::streams::stream;
use dmsim_testbed::setup::{CacheSetup, VolumeTarget};
use dmsim_testbed::sim_machine::{self, SimMachine};

const DEVICE_BYTES: u64 = 8 << 20;

#[derive(Clone, Copy, Debug)]
enum World {
    Sim,
    Real,
}

/// What the engine decided, timing aside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Submit {
        device: u16,
        op: Op,
        sector: u64,
        sectors: u32,
        fua: bool,
    },
    BioDone {
        id: u64,
        status: IoStatus,
        data: Vec<SectorContent>,
    },
}

/// Logs decisions and checks every read with the oracle.
struct Checker {
    // Both worlds start from zeroed devices (a fresh sparse backing file reads zeros).
    oracle: OracleObserver,
    decisions: Vec<Decision>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            oracle: OracleObserver::new(true),
            decisions: Vec::new(),
        }
    }
}

impl DriveObserver for Checker {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.oracle.on_input(now_ns, input);
    }
    fn on_output(&mut self, now_ns: u64, output: &Output) {
        self.oracle.on_output(now_ns, output);
        match output {
            Output::Submit(io) => self.decisions.push(Decision::Submit {
                device: io.device.0,
                op: io.op,
                sector: io.sector,
                sectors: io.sectors,
                fua: io.fua,
            }),
            Output::BioDone(done) => self.decisions.push(Decision::BioDone {
                id: done.id.0,
                status: done.status,
                data: done.data.to_vec(),
            }),
            _ => {}
        }
    }
}

/// Run `source` through a linear engine in `world`; returns the checker.
fn run<S: BioSource>(world: World, mut source: S) -> Checker {
    let mut checker = Checker::new();
    let options = DriveOptions {
        check_invariants: true,
        ..DriveOptions::default()
    };
    let setup = linear_setup();
    let report = match world {
        World::Sim => {
            let mut machine = SimMachine::new(&setup, 1).expect("the machine builds");
            let mut engine = machine.engine().expect("the linear engine builds");
            let platform = &mut machine.platform;
            let report = drive(&mut engine, platform, &mut source, &mut checker, &options).unwrap();
            assert!(
                platform.violations().is_empty(),
                "{:?}",
                platform.violations()
            );
            report
        }
        World::Real => {
            // As root this must be a real loop device (fails, never skips); otherwise a file.
            let fixture = LoopDevice::for_tests(FixtureOptions::new(DEVICE_BYTES, Medium::Tmpfs))
                .expect("a loop device (run as root) or a file");
            let device = RealDevice::open(
                fixture.path(),
                OpenOptions {
                    allow_write: true,
                    range: None,
                },
            )
            .unwrap();
            let mut rig = RealRig::build(
                sim_machine::engine_config(&setup),
                sim_machine::target(&setup),
                vec![device],
                PlatformOptions::default(),
            )
            .unwrap();
            let report = rig.drive(&mut source, &mut checker, &options).unwrap();
            let errors = rig.platform_mut().take_errors();
            assert!(errors.is_empty(), "{errors:?}");
            drop(rig);
            drop(fixture);
            report
        }
    };
    assert_eq!(report.outcome, DriveOutcome::Finished, "{world:?}");
    checker.oracle.assert_clean(&format!("{world:?}"));
    checker
}

/// The machine of both worlds, built by the testbed as `dmsim replay --target linear --dev
/// ram` builds it: linear over one device alone, here a RAM disk of 20 µs per IO.
fn linear_setup() -> CacheSetup {
    let device = DeviceParams::Ram(RamParams {
        capacity_sectors: DEVICE_BYTES / 512,
        latency_ns: 20_000,
        volatile_write_cache: false,
    });
    // Linear over a bare device has no cache; the setup's cache configuration is unused.
    let unused_cache = FlashcacheConfig::new(TableLine::new(
        CacheMode::WriteBack,
        Persistence::Create,
        DEVICE_BYTES / 512,
    ));
    CacheSetup {
        ssd_name: "unused".to_string(),
        ssd: device.clone(),
        hdd_name: "ram".to_string(),
        hdd: device,
        cache: unused_cache,
        raid5: None,
        target: VolumeTarget::Linear,
        bare_device: true,
        perturb_ties_seed: None,
        warnings: Vec::new(),
    }
}

fn random_mix(
    seed: u64,
    qd: u32,
    requests: u64,
    sizes: SizeDistribution,
    alignment: u64,
) -> RecordSource<WorkloadGenerator<rand_chacha::ChaCha8Rng>> {
    let spec = WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: 4 << 20,
        alignment_bytes: alignment,
        pattern: AccessPattern::Uniform,
        read_percent: 50.0,
        request_size: sizes,
        arrival: Default::default(),
        requests: Some(requests),
        device: 0,
    };
    let generator = WorkloadGenerator::new(&spec, stream(seed, "workload")).unwrap();
    RecordSource::new(generator, Pacing::ClosedLoop { queue_depth: qd })
}

fn each_world(body: impl Fn(World)) {
    body(World::Sim);
    body(World::Real);
}

#[test]
fn random_reads_and_writes_read_back_what_was_written() {
    each_world(|world| {
        let c = run(
            world,
            random_mix(1, 8, 3_000, SizeDistribution::Fixed { bytes: 4096 }, 4096),
        );
        assert!(c.oracle.oracle().verified_reads() > 1_000, "{world:?}");
        assert_eq!(c.oracle.failed_bios(), 0);
    });
}

#[test]
fn sector_sized_and_multi_page_io_at_odd_offsets() {
    let sizes = SizeDistribution::Uniform {
        min_bytes: 512,
        max_bytes: 64 << 10,
    };
    each_world(|world| {
        let c = run(world, random_mix(2, 4, 1_500, sizes.clone(), 512));
        assert!(c.oracle.oracle().verified_reads() > 500, "{world:?}");
    });
}

/// A flush bio between writes, in both worlds.
struct FlushBetweenWrites {
    step: u64,
    in_flight: bool,
}

impl BioSource for FlushBetweenWrites {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        (!self.in_flight && self.step < 3).then_some(0)
    }
    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        self.in_flight = true;
        let id = BioId(self.step);
        self.step += 1;
        if id.0 == 1 {
            return Bio {
                id,
                op: Op::Flush,
                sector: 0,
                sectors: 0,
                flags: BioFlags {
                    preflush: true,
                    ..BioFlags::default()
                },
                data: SectorData::new(),
            };
        }
        let data = (0..8)
            .map(|i| {
                SectorContent::Stamp(dmsim_engine::content::SectorStamp {
                    sector: 64 + i,
                    write_id: id.0 + 1,
                })
            })
            .collect();
        Bio {
            id,
            op: Op::Write,
            sector: 64,
            sectors: 8,
            flags: BioFlags::default(),
            data,
        }
    }
    fn on_done(&mut self, _now_ns: u64, done: BioDone) {
        assert_eq!(done.status, IoStatus::Ok, "bio {:?}", done.id);
        self.in_flight = false;
    }
    fn is_finished(&self) -> bool {
        self.step >= 3
    }
}

#[test]
fn a_flush_completes_between_writes() {
    each_world(|world| {
        let c = run(
            world,
            FlushBetweenWrites {
                step: 0,
                in_flight: false,
            },
        );
        assert!(
            c.decisions
                .iter()
                .any(|d| matches!(d, Decision::Submit { op: Op::Flush, .. })),
            "{world:?}: {:?}",
            c.decisions
        );
    });
}

#[test]
fn same_engine_both_worlds_makes_the_same_decisions_at_queue_depth_1() {
    let workload = || {
        random_mix(
            7,
            1,
            1_000,
            SizeDistribution::Uniform {
                min_bytes: 512,
                max_bytes: 16 << 10,
            },
            512,
        )
    };
    let sim = run(World::Sim, workload());
    let real = run(World::Real, workload());
    assert_eq!(sim.decisions.len(), real.decisions.len());
    for (i, (a, b)) in sim.decisions.iter().zip(&real.decisions).enumerate() {
        assert_eq!(a, b, "decision {i} differs");
    }
    assert!(
        sim.decisions.len() >= 2_000,
        "one submit and one completion per bio at least"
    );
}
