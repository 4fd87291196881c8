//! Sim/real conformance of the md raid5 target (issue 10 item 5): one workload at queue depth 1
//! through linear over a 4-member raid5 array, on simulated RAM members and on real loop
//! devices (created here as root, detached and deleted afterwards, also on failure; a
//! missing loop device as root fails the test, it never skips; plain files when not root).
//! Halfway through, member 1 is failed (`fail 1`), so degraded reads and writes are compared
//! too. The engine must make the same decisions in both worlds: for every bio the same member
//! IOs (device, op, sector, length), the same status and the same data, and at the end the
//! same md counters (reads, rmw/rcw, pre-reads, reconstructions, aligned reads…).
//!
//! At queue depth 1 every member IO between two bio completions belongs to the bio between
//! them; within one bio, stripes of different rows run independently, so their IOs may
//! interleave in completion order, which real devices do not fix. The IOs of one bio are
//! therefore compared as a sorted list; the bios themselves in order.

use dmsim_engine::block::{IoStatus, Op};
use dmsim_engine::content::SectorContent;
use dmsim_engine::io::{Control, Input, Output};
use dmsim_engine::platform::DriveObserver;
use dmsim_engine::raid5::Raid5Config;
use dmsim_engine::{
    drive, DeviceId, DriveOptions, DriveOutcome, Engine, EngineConfig, Platform, TargetSpec,
};
use dmsim_models::ram::{RamModel, RamParams};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::workload::{AccessPattern, SizeDistribution, WorkloadGenerator, WorkloadSpec};
use dmsim_sim::device::SimDevice;
use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::platform::SimPlatform;
use dmsim_sim::streams::stream;
use std::collections::BTreeMap;

const MEMBERS: usize = 4;
const MEMBER_BYTES: u64 = 4 << 20;
/// 4 KiB chunks: bios up to 32 KiB cross chunks and rows, and a 12 KiB row is a full stripe.
const CHUNK_SECTORS: u64 = 8;
/// The array, stacked after the members.
const ARRAY: DeviceId = DeviceId(MEMBERS as u16);
const REQUESTS_PER_PHASE: u64 = 400;

#[derive(Clone, Copy, Debug)]
enum World {
    Sim,
    Real,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct MemberIo {
    device: u16,
    op: Op,
    sector: u64,
    sectors: u32,
}

/// One bio's part of the run: the member IOs issued since the previous bio completed, and
/// how it completed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BioDecisions {
    member_ios: Vec<MemberIo>,
    id: u64,
    status: IoStatus,
    data: Vec<SectorContent>,
}

/// Groups decisions by bio and checks every read with the oracle.
struct Checker {
    oracle: OracleObserver,
    pending: Vec<MemberIo>,
    bios: Vec<BioDecisions>,
}

impl DriveObserver for Checker {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.oracle.on_input(now_ns, input);
    }
    fn on_output(&mut self, now_ns: u64, output: &Output) {
        self.oracle.on_output(now_ns, output);
        match output {
            Output::Submit(io) => self.pending.push(MemberIo {
                device: io.device.0,
                op: io.op,
                sector: io.sector,
                sectors: io.sectors,
            }),
            Output::BioDone(done) => {
                let mut member_ios = std::mem::take(&mut self.pending);
                member_ios.sort();
                self.bios.push(BioDecisions {
                    member_ios,
                    id: done.id.0,
                    status: done.status,
                    data: done.data.to_vec(),
                });
            }
            _ => {}
        }
    }
}

fn target() -> TargetSpec {
    TargetSpec::Stack {
        lower: vec![TargetSpec::Raid5 {
            members: (0..MEMBERS).map(|m| DeviceId(m as u16)).collect(),
            config: Raid5Config::new(CHUNK_SECTORS),
            spares: Vec::new(),
        }],
        upper: Box::new(TargetSpec::Linear {
            device: ARRAY,
            offset_sectors: 0,
        }),
    }
}

fn engine_config() -> EngineConfig {
    EngineConfig {
        arena_pages: 1024 + 256 * MEMBERS as u32,
        ..EngineConfig::default()
    }
}

/// Reads and writes of 512 B to 32 KiB at sector alignment over the first 4 MiB of the array
/// (stripes are rewritten: rmw, rcw and full-stripe writes all happen; more stripes than the
/// stripe cache holds, so degraded reads must reconstruct), one at a time.
fn workload(
    seed: u64,
    write_id_base: u64,
) -> RecordSource<WorkloadGenerator<rand_chacha::ChaCha8Rng>> {
    let spec = WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: 4 << 20,
        alignment_bytes: 512,
        pattern: AccessPattern::Uniform,
        read_percent: 50.0,
        request_size: SizeDistribution::Uniform {
            min_bytes: 512,
            max_bytes: 32 << 10,
        },
        arrival: Default::default(),
        requests: Some(REQUESTS_PER_PHASE),
        device: 0,
    };
    let generator = WorkloadGenerator::new(&spec, stream(seed, "workload")).unwrap();
    RecordSource::new(generator, Pacing::ClosedLoop { queue_depth: 1 })
        .with_write_id_base(write_id_base)
}

/// Drives the two phases (member 1 fails between them) on `engine` and `platform`.
fn two_phases<P: Platform>(
    world: World,
    engine: &mut Engine,
    platform: &mut P,
    checker: &mut Checker,
) {
    let options = DriveOptions {
        check_invariants: true,
        ..DriveOptions::default()
    };
    let report = drive(engine, platform, &mut workload(11, 0), checker, &options).unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished, "{world:?} phase 1");
    let now_ns = platform.now_ns();
    engine
        .handle(
            now_ns,
            Input::Control(Control::StackedMessage {
                device: ARRAY,
                message: "fail 1".to_string(),
            }),
        )
        .unwrap();
    let report = drive(
        engine,
        platform,
        &mut workload(12, 1 << 32),
        checker,
        &options,
    )
    .unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished, "{world:?} phase 2");
}

/// The array's md counters and the number of failed members.
fn array_counters(engine: &Engine) -> BTreeMap<String, u64> {
    let (device, status) = engine.stacked_status().remove(0);
    assert_eq!(device, ARRAY);
    assert_eq!(status.state, "degraded");
    status.counters
}

fn run(world: World) -> (Vec<BioDecisions>, BTreeMap<String, u64>) {
    // Both worlds start from zeroed members (a fresh sparse backing file reads zeros), so
    // parity is consistent from the start and never-written sectors read as zeros.
    let mut checker = Checker {
        oracle: OracleObserver::new(true),
        pending: Vec::new(),
        bios: Vec::new(),
    };
    let counters = match world {
        World::Sim => {
            let devices = (0..MEMBERS)
                .map(|m| {
                    let model = RamModel::new(RamParams {
                        capacity_sectors: MEMBER_BYTES / 512,
                        latency_ns: 20_000,
                        volatile_write_cache: false,
                    });
                    SimDevice::new(format!("ram{m}"), Box::new(model))
                })
                .collect();
            let mut platform = SimPlatform::new(devices);
            let mut engine =
                Engine::new(engine_config(), platform.device_infos(), target()).unwrap();
            two_phases(world, &mut engine, &mut platform, &mut checker);
            assert!(
                platform.violations().is_empty(),
                "{:?}",
                platform.violations()
            );
            array_counters(&engine)
        }
        World::Real => {
            // As root these must be real loop devices (fails, never skips); otherwise files.
            let fixtures: Vec<LoopDevice> = (0..MEMBERS)
                .map(|_| {
                    LoopDevice::for_tests(FixtureOptions::new(MEMBER_BYTES, Medium::Tmpfs))
                        .expect("a loop device (run as root) or a file")
                })
                .collect();
            let devices = fixtures
                .iter()
                .map(|f| {
                    RealDevice::open(
                        f.path(),
                        OpenOptions {
                            allow_write: true,
                            range: None,
                        },
                    )
                    .unwrap()
                })
                .collect();
            let mut rig = RealRig::build(
                engine_config(),
                target(),
                devices,
                PlatformOptions::default(),
            )
            .unwrap();
            let (engine, platform) = rig.parts_mut();
            two_phases(world, engine, platform, &mut checker);
            let errors = rig.platform_mut().take_errors();
            assert!(errors.is_empty(), "{errors:?}");
            let counters = array_counters(rig.engine());
            drop(rig);
            drop(fixtures);
            counters
        }
    };
    checker.oracle.assert_clean(&format!("{world:?}"));
    assert!(checker.pending.is_empty(), "member IO after the last bio");
    (checker.bios, counters)
}

#[test]
fn raid5_makes_the_same_decisions_on_sim_and_real_members_at_queue_depth_1() {
    let (sim, sim_counters) = run(World::Sim);
    let (real, real_counters) = run(World::Real);
    assert_eq!(sim.len() as u64, 2 * REQUESTS_PER_PHASE);
    assert_eq!(sim.len(), real.len());
    for (i, (a, b)) in sim.iter().zip(&real).enumerate() {
        assert_eq!(a, b, "bio {i} differs");
    }
    assert_eq!(sim_counters, real_counters);
    // The comparison covered md's interesting paths, not only plain reads.
    let counter = |name: &str| sim_counters[name];
    for name in [
        "rmw",
        "rcw",
        "full_stripe_writes",
        "prereads",
        "reconstructions",
        "aligned_reads",
        "delayed_stripes",
    ] {
        assert!(counter(name) > 0, "{name} is 0: {sim_counters:?}");
    }
    // Degraded: member 1 got no IO after it failed.
    let phase_2 = &sim[REQUESTS_PER_PHASE as usize..];
    assert!(phase_2
        .iter()
        .flat_map(|bio| &bio.member_ios)
        .all(|io| io.device != 1));
    assert!(phase_2.iter().all(|bio| bio.status == IoStatus::Ok));
}
