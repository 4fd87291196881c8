//! Shared pieces of the fault tests through the engine: a rig of simulated RAM devices with
//! faults (a linear volume over one device, flashcache over an SSD and a disk, or md raid5
//! over N members), engines
//! over it that are rebuilt after a power loss (flashcache reloads), a mixed random workload,
//! read-back of every written block, and a checker that feeds the data oracle every bio and
//! records each bio's submission time and status.
//!
//! Deliberately not here: what a fault must do to a run (the test files assert that).
#![allow(dead_code)]

use dmsim_engine::block::{DeviceId, IoStatus, Op};
use dmsim_engine::flashcache::{
    Associativity, CacheMode, FlashcacheConfig, Persistence, ReclaimPolicy, TableLine,
};
use dmsim_engine::io::{Input, Output};
use dmsim_engine::platform::{BioSource, DriveObserver};
use dmsim_engine::raid5::Raid5Config;
use dmsim_engine::{drive, DriveOptions, DriveReport, Engine, EngineConfig, TargetSpec};
use dmsim_models::ram::{RamModel, RamParams};
use dmsim_models::TimingModel;
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use dmsim_scenarios::workload::{
    AccessPattern, SizeDistribution, WeightedSize, WorkloadGenerator, WorkloadSpec,
};
use dmsim_sim::crash::crash_all_with;
use dmsim_sim::device::faults::DeviceFault;
use dmsim_sim::device::{CrashReport, PowerLoss, SimDevice};
use dmsim_sim::oracle::Durability;
use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::platform::SimPlatform;
use dmsim_sim::streams::stream;

pub const SSD: usize = 0;
pub const DISK: usize = 1;

/// A simulated RAM device of the rig.
#[derive(Debug, Clone, Copy)]
pub struct RamSpec {
    pub name: &'static str,
    pub capacity_sectors: u64,
    pub latency_ns: u64,
    pub volatile_write_cache: bool,
}

impl RamSpec {
    fn model(&self) -> Box<dyn TimingModel> {
        Box::new(RamModel::new(RamParams {
            capacity_sectors: self.capacity_sectors,
            latency_ns: self.latency_ns,
            volatile_write_cache: self.volatile_write_cache,
        }))
    }
}

/// The target over the rig's devices.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// dm-linear over device 0.
    Linear,
    /// flashcache caching device 1 on device 0.
    Flashcache(Box<FlashcacheConfig>),
    /// md raid5 over every device of the rig, in order.
    Raid5(Box<Raid5Config>),
    /// Any target spec, as given (a stack); its volume has no single device.
    Spec(Box<TargetSpec>),
}

/// Devices, target and what a power loss needs to restart them.
pub struct Rig {
    pub platform: SimPlatform,
    specs: Vec<RamSpec>,
    target: TargetKind,
    pub seed: u64,
    crashes: u32,
    pub durability: Durability,
    /// Some fault produces poison: the oracle accepts it.
    poison: bool,
    /// Bio sources handed out (each gets its own write ids).
    sources: u64,
}

/// 16 MiB linear volume, 20 µs per IO.
pub const LINEAR_SECTORS: u64 = 1 << 15;
/// 2.25 MiB of SSD: 512 cache blocks in two 256-way sets.
pub const SSD_SECTORS: u64 = 4608;
/// 32 MiB of disk.
pub const DISK_SECTORS: u64 = 1 << 16;

impl Rig {
    fn new(specs: Vec<RamSpec>, target: TargetKind, seed: u64) -> Rig {
        let devices = specs
            .iter()
            .map(|spec| SimDevice::new(spec.name, spec.model()).with_fault_seed(seed))
            .collect();
        Rig {
            platform: SimPlatform::new(devices),
            specs,
            target,
            seed,
            crashes: 0,
            durability: Durability::OnAck,
            poison: false,
            sources: 0,
        }
    }

    /// A linear volume over one RAM device; `volatile`: the device has a volatile write
    /// cache (the oracle then expects durability on flush only).
    pub fn linear(seed: u64, volatile: bool) -> Rig {
        let mut rig = Rig::new(
            vec![RamSpec {
                name: "ram",
                capacity_sectors: LINEAR_SECTORS,
                latency_ns: 20_000,
                volatile_write_cache: volatile,
            }],
            TargetKind::Linear,
            seed,
        );
        if volatile {
            rig.durability = Durability::OnFlush;
        }
        rig
    }

    /// flashcache in `mode` (LRU, 256-way sets) over a RAM SSD (20 µs) and disk (200 µs);
    /// `tune` adjusts the configuration.
    pub fn flashcache(seed: u64, mode: CacheMode, tune: impl FnOnce(&mut FlashcacheConfig)) -> Rig {
        let mut table = TableLine::new(mode, Persistence::Create, DISK_SECTORS);
        table.assoc = Associativity::Ways(256);
        let mut config = FlashcacheConfig::new(table);
        config.tunables.reclaim_policy = ReclaimPolicy::Lru;
        tune(&mut config);
        Rig::new(
            vec![
                RamSpec {
                    name: "ssd",
                    capacity_sectors: SSD_SECTORS,
                    latency_ns: 20_000,
                    volatile_write_cache: false,
                },
                RamSpec {
                    name: "disk",
                    capacity_sectors: DISK_SECTORS,
                    latency_ns: 200_000,
                    volatile_write_cache: false,
                },
            ],
            TargetKind::Flashcache(Box::new(config)),
            seed,
        )
    }

    /// `spec` over RAM devices `specs` (20 µs each unless given).
    pub fn with_spec(seed: u64, specs: Vec<RamSpec>, spec: TargetSpec) -> Rig {
        Rig::new(specs, TargetKind::Spec(Box::new(spec)), seed)
    }

    /// md raid5 over `members` RAM devices of `member_sectors` each (20 µs per IO).
    pub fn raid5(seed: u64, members: usize, member_sectors: u64, config: Raid5Config) -> Rig {
        Rig::raid5_cached(seed, members, member_sectors, config, false)
    }

    /// [`Rig::raid5`]; `volatile`: every member has a volatile write cache (the oracle's
    /// durability stays the rig's default; a test sets what it may claim).
    pub fn raid5_cached(
        seed: u64,
        members: usize,
        member_sectors: u64,
        config: Raid5Config,
        volatile: bool,
    ) -> Rig {
        const NAMES: [&str; 16] = [
            "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12", "m13",
            "m14", "m15",
        ];
        let specs = (0..members)
            .map(|m| RamSpec {
                name: NAMES[m],
                capacity_sectors: member_sectors,
                latency_ns: 20_000,
                volatile_write_cache: volatile,
            })
            .collect();
        Rig::new(specs, TargetKind::Raid5(Box::new(config)), seed)
    }

    pub fn device(&self, index: usize) -> &SimDevice {
        &self.platform.devices()[index]
    }

    /// Adds a fault to device `index` (it must be valid).
    pub fn add_fault(&mut self, index: usize, fault: impl Into<DeviceFault>) {
        let fault = fault.into();
        self.poison |= fault.produces_poison();
        self.platform
            .device_mut(index)
            .add_fault(fault.clone())
            .unwrap_or_else(|e| panic!("fault {fault:?}: {e}"));
    }

    /// The volume's device: linear's, or flashcache's disk (raid5 has none: the volume is
    /// striped with parity).
    fn volume_device(&self) -> Option<DeviceId> {
        match self.target {
            TargetKind::Linear => Some(DeviceId(0)),
            TargetKind::Flashcache(_) => Some(DeviceId(DISK as u16)),
            TargetKind::Raid5(_) | TargetKind::Spec(_) => None,
        }
    }

    /// An engine over the rig (flashcache: created at first, reloaded after a power loss).
    pub fn engine(&self) -> Engine {
        let config = EngineConfig {
            arena_pages: 4096,
            plugging: None,
            ..EngineConfig::default()
        };
        let target = match &self.target {
            TargetKind::Linear => TargetSpec::Linear {
                device: DeviceId(0),
                offset_sectors: 0,
            },
            TargetKind::Flashcache(config) => {
                let mut config = (**config).clone();
                if self.crashes > 0 {
                    config.table.persistence = Persistence::Reload;
                }
                TargetSpec::flashcache(DeviceId(SSD as u16), DeviceId(DISK as u16), config)
            }
            TargetKind::Raid5(config) => TargetSpec::Raid5 {
                members: (0..self.specs.len()).map(|m| DeviceId(m as u16)).collect(),
                config: (**config).clone(),
                spares: Vec::new(),
            },
            TargetKind::Spec(spec) => (**spec).clone(),
        };
        Engine::new(config, self.platform.device_infos(), target).expect("a valid engine")
    }

    /// A checker for this rig's volume (accepting poison if a fault produces it).
    pub fn checker(&self) -> Checker {
        let mut oracle = OracleObserver::new(true);
        if let Some(device) = self.volume_device() {
            oracle = oracle.with_volume_device(device, 0);
        }
        let mut oracle = oracle
            .with_durability(self.durability)
            .tracking_written_blocks();
        if self.poison {
            oracle = oracle.accepting_poison();
        }
        Checker {
            oracle,
            bios: Vec::new(),
        }
    }

    /// Drives `engine` with `source` until it is done, `limit` inputs, one virtual hour, or
    /// a stall; the devices must have refused no IO.
    pub fn run<S: BioSource>(
        &mut self,
        engine: &mut Engine,
        source: &mut S,
        checker: &mut Checker,
        input_limit: Option<u64>,
    ) -> DriveReport {
        let options = DriveOptions {
            check_invariants: true,
            time_limit_ns: Some(
                dmsim_engine::platform::Platform::now_ns(&self.platform) + 3_600_000_000_000,
            ),
            input_limit,
        };
        let report = drive(engine, &mut self.platform, source, checker, &options)
            .expect("the engine accepts every input and keeps its invariants");
        assert!(
            self.platform.violations().is_empty(),
            "strict-mode violations: {:?}",
            self.platform.violations()
        );
        report
    }

    /// A closed loop over `records` at queue depth `depth`, with write ids no earlier source
    /// of this rig used (a bio source's ids start over).
    pub fn source<I: Iterator<Item = TraceRecord>>(
        &mut self,
        records: I,
        depth: u32,
    ) -> RecordSource<I> {
        self.sources += 1;
        RecordSource::new(records, Pacing::ClosedLoop { queue_depth: depth })
            .with_write_id_base(self.sources << 32)
    }

    /// Reads back every block any write touched.
    pub fn read_back(
        &mut self,
        checker: &Checker,
    ) -> RecordSource<std::vec::IntoIter<TraceRecord>> {
        let written: Vec<u64> = checker.oracle.written_blocks().collect();
        self.source(blocks(TraceOp::Read, written).into_iter(), 8)
    }

    /// Power loss of every device (the engine that ran is gone: drop it first); the checker
    /// keeps what may have survived.
    pub fn power_loss(&mut self, checker: &mut Checker, loss: &PowerLoss) -> Vec<CrashReport> {
        self.crashes += 1;
        let models = self.specs.iter().map(RamSpec::model).collect();
        let mut rng = stream(self.seed, &format!("crash{}", self.crashes));
        checker.oracle.crash();
        checker.bios.clear();
        crash_all_with(&mut self.platform, models, &mut rng, loss).expect("matching models")
    }
}

/// One bio as the checker saw it end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BioEnd {
    pub op: Op,
    pub submit_ns: u64,
    pub done_ns: u64,
    pub status: IoStatus,
}

/// The data oracle plus each bio's submission time and status.
pub struct Checker {
    pub oracle: OracleObserver,
    pub bios: Vec<BioEnd>,
}

impl DriveObserver for Checker {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.oracle.on_input(now_ns, input);
    }

    fn on_output(&mut self, now_ns: u64, output: &Output) {
        if let Output::BioDone(done) = output {
            let seen = self.oracle.bio_done(done);
            self.bios.push(BioEnd {
                op: seen.op,
                submit_ns: seen.submit_ns,
                done_ns: now_ns,
                status: done.status,
            });
        }
    }

    fn on_contents_unknown(
        &mut self,
        now_ns: u64,
        device: DeviceId,
        extent: dmsim_engine::block::Extent,
    ) {
        self.oracle.on_contents_unknown(now_ns, device, extent);
    }
}

/// A mixed random workload over the first `span_bytes` of the volume, `requests` long:
/// three of four requests whole 4 KiB-aligned blocks (1, 2 or 4), the fourth 512-byte
/// aligned, 0.5 to 12 KiB; 80% of requests go to the first 20% of the span; `read_percent`
/// reads; with `flush_every`, every such record is a flush.
pub fn mixed(
    span_bytes: u64,
    requests: u64,
    read_percent: f64,
    seed: u64,
    flush_every: Option<u64>,
) -> impl Iterator<Item = TraceRecord> {
    let size = |bytes: u64, weight: u32| WeightedSize { bytes, weight };
    let spec = |alignment_bytes: u64, choices: Vec<WeightedSize>| WorkloadSpec {
        span_start_bytes: 0,
        span_bytes,
        alignment_bytes,
        pattern: AccessPattern::HotCold {
            hot_access_percent: 80.0,
            hot_space_percent: 20.0,
        },
        read_percent,
        request_size: SizeDistribution::Weighted { choices },
        arrival: Default::default(),
        requests: None,
        device: 0,
    };
    let aligned = spec(4096, vec![size(4096, 8), size(8192, 2), size(16384, 1)]);
    let unaligned = spec(
        512,
        vec![
            size(512, 2),
            size(1536, 2),
            size(4096, 3),
            size(6144, 2),
            size(12288, 1),
        ],
    );
    let mut aligned =
        WorkloadGenerator::new(&aligned, stream(seed, "workload.aligned")).expect("valid");
    let mut unaligned =
        WorkloadGenerator::new(&unaligned, stream(seed, "workload.unaligned")).expect("valid");
    (0..requests).map(move |i| {
        if flush_every.is_some_and(|every| i % every == every - 1) {
            return TraceRecord {
                time_ns: 0,
                op: TraceOp::Flush,
                sector: 0,
                sectors: 0,
                device: DeviceKey::Number(0),
                measured_latency_ns: None,
            };
        }
        let generator = if i % 4 == 3 {
            &mut unaligned
        } else {
            &mut aligned
        };
        generator.next().expect("generators are endless")
    })
}

/// Whole 4 KiB reads (`op` Read) or writes of `blocks`, in order.
pub fn blocks(op: TraceOp, blocks: impl IntoIterator<Item = u64>) -> Vec<TraceRecord> {
    blocks
        .into_iter()
        .map(|block| TraceRecord {
            time_ns: 0,
            op,
            sector: block * 8,
            sectors: 8,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        })
        .collect()
}

/// Bios that failed.
pub fn failed(checker: &Checker) -> usize {
    checker
        .bios
        .iter()
        .filter(|b| b.status != IoStatus::Ok)
        .count()
}

/// Crash reports added up over devices and power losses.
#[derive(Debug, Clone, Copy, Default)]
pub struct CrashTotals {
    pub in_flight_lost: u64,
    pub cached_blocks_kept: u64,
    pub cached_blocks_torn: u64,
    pub cached_blocks_lost: u64,
    pub torn_sectors_written: u64,
}

impl CrashTotals {
    pub fn add(&mut self, reports: &[CrashReport]) {
        for r in reports {
            self.in_flight_lost += r.in_flight_lost;
            self.cached_blocks_kept += r.cached_blocks_kept;
            self.cached_blocks_torn += r.cached_blocks_torn;
            self.cached_blocks_lost += r.cached_blocks_lost;
            self.torn_sectors_written += r.torn_sectors_written;
        }
    }
}
