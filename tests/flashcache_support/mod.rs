//! Shared pieces of the flashcache end-to-end tests on simulated devices: a machine of two
//! simulated devices (SSD = device 0, disk = device 1) built from presets, engines with a
//! flashcache target over it, an observer feeding the data oracle with every bio, mixed
//! random workloads, read-back sources, and power loss.
//!
//! Deliberately not here: assertions about flashcache's behaviour (the test files own them).
#![allow(dead_code)]

use dmsim_engine::block::{DeviceId, IoStatus, Op};
use dmsim_engine::flashcache::{
    Associativity, CacheMode, FlashcacheConfig, Persistence, ReclaimPolicy, TableLine,
};
use dmsim_engine::io::{BioDone, Input, SectorData};
use dmsim_engine::{drive, DriveOptions, DriveOutcome, DriveReport, Engine};
use dmsim_engine::{BioSource, FlashcacheState, NoBios};
use dmsim_models::presets::{self, DeviceParams};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use dmsim_scenarios::workload::{
    AccessPattern, SizeDistribution, WeightedSize, WorkloadGenerator, WorkloadSpec,
};
use dmsim_sim::device::CrashReport;
pub use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::streams::stream;
use dmsim_testbed::setup::{CacheSetup, VolumeTarget};
use dmsim_testbed::sim_machine::SimMachine;

pub const SSD: DeviceId = DeviceId(0);
pub const DISK: DeviceId = DeviceId(1);

/// A simulated device: a preset with overrides (dotted keys, as `dmsim --set`).
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub preset: &'static str,
    pub sets: Vec<(&'static str, String)>,
}

impl DeviceSpec {
    /// The `ram` preset (1 µs, no volatile cache) of `capacity_sectors`.
    pub fn ram(capacity_sectors: u64) -> DeviceSpec {
        DeviceSpec {
            preset: "ram",
            sets: vec![("capacity_sectors", capacity_sectors.to_string())],
        }
    }

    pub fn params(&self) -> DeviceParams {
        let mut params = presets::find(self.preset).expect("known preset");
        for (key, value) in &self.sets {
            params.set(key, value).expect("valid override");
        }
        params
    }

    /// The device's capacity (its model's; the stream is not drawn from).
    pub fn capacity_sectors(&self) -> u64 {
        self.params()
            .build(Box::new(stream(0, "capacity")))
            .expect("the preset builds")
            .capacity_sectors()
    }
}

/// Two simulated devices on one platform (the SSD and the disk of a flashcache setup), built
/// by the testbed exactly as a CLI run builds them, and what is needed to restart them.
pub struct Machine {
    sim: SimMachine,
}

impl std::ops::Deref for Machine {
    type Target = SimMachine;
    fn deref(&self) -> &SimMachine {
        &self.sim
    }
}

impl std::ops::DerefMut for Machine {
    fn deref_mut(&mut self) -> &mut SimMachine {
        &mut self.sim
    }
}

impl Machine {
    /// The machine of a writeback cache of `cache_sectors` on `ssd` in front of `disk` (the
    /// SSD is preconditioned over them, as a CLI run's is); the tests give each engine its
    /// own cache configuration ([`Machine::engine`]).
    pub fn new(ssd: DeviceSpec, disk: DeviceSpec, cache_sectors: u64, seed: u64) -> Machine {
        let mut cache = config(
            CacheMode::WriteBack,
            false,
            ReclaimPolicy::Fifo,
            disk.capacity_sectors(),
        );
        cache.table.cache_size_sectors = cache_sectors;
        let setup = CacheSetup {
            ssd_name: ssd.preset.to_string(),
            ssd: ssd.params(),
            hdd_name: disk.preset.to_string(),
            hdd: disk.params(),
            cache,
            raid5: None,
            target: VolumeTarget::Flashcache,
            bare_device: false,
            perturb_ties_seed: None,
            warnings: Vec::new(),
        };
        Machine {
            sim: SimMachine::new(&setup, seed).expect("the machine builds"),
        }
    }

    /// An engine with a flashcache target of `config` over this machine's devices.
    pub fn engine(&self, config: FlashcacheConfig) -> Engine {
        self.sim
            .engine_with_cache(config)
            .expect("valid flashcache engine")
    }

    /// Power loss of both devices, their volatile caches lost; fresh models afterwards.
    pub fn crash(&mut self) -> Vec<CrashReport> {
        self.sim.power_loss(0.0).expect("restart models build")
    }

    /// Sector contents of the disk's durable media.
    pub fn disk_sector(&self, sector: u64) -> dmsim_engine::content::SectorContent {
        let mut out = None;
        self.platform.devices()[usize::from(DISK.0)]
            .read_durable(sector, 1, &mut |_, view| out = Some(view.content()));
        out.expect("one sector read")
    }

    /// The first `sectors` sectors of the SSD as bytes (zeros where never written).
    pub fn ssd_bytes(&self, sector: u64, sectors: u64) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(sectors as usize * 512);
        self.platform.devices()[usize::from(SSD.0)].read_durable(
            sector,
            sectors,
            &mut |_, view| match view {
                dmsim_sim::device::store::SectorView::Bytes(b) => bytes.extend_from_slice(b),
                dmsim_sim::device::store::SectorView::Content(c) => {
                    let mut one = [0u8; 512];
                    dmsim_engine::content::encode_content(c, &mut one);
                    bytes.extend_from_slice(&one);
                }
            },
        );
        bytes
    }
}

/// A flashcache configuration for `mode` (write-only = writeback + `write_only`), `policy`,
/// 256-way sets, over a disk of `disk_sectors`.
pub fn config(
    mode: CacheMode,
    write_only: bool,
    policy: ReclaimPolicy,
    disk_sectors: u64,
) -> FlashcacheConfig {
    let mut table = TableLine::new(mode, Persistence::Create, disk_sectors);
    table.assoc = Associativity::Ways(256);
    table.write_only = write_only;
    let mut config = FlashcacheConfig::new(table);
    config.tunables.reclaim_policy = policy;
    config
}

/// The data oracle observer of these tests: every bio crossing the engine boundary is checked,
/// the disk holds the volume at offset 0, and every block a write touched is remembered.
pub fn oracle_observer() -> OracleObserver {
    OracleObserver::new(true)
        .with_volume_device(DISK, 0)
        .tracking_written_blocks()
}

/// A mixed random workload over the first `span_bytes` of the volume, `requests` long:
/// three of every four requests are whole 4 KiB-aligned blocks (1, 2 or 4 of them), the
/// fourth is 512-byte aligned and 0.5 to 12 KiB long (partial or unaligned blocks); 80% of
/// all requests go to the first 20% of the span; `read_percent` are reads.
pub fn mixed_workload(
    span_bytes: u64,
    requests: u64,
    read_percent: f64,
    seed: u64,
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
        WorkloadGenerator::new(&aligned, stream(seed, "workload.aligned")).expect("valid workload");
    let mut unaligned = WorkloadGenerator::new(&unaligned, stream(seed, "workload.unaligned"))
        .expect("valid workload");
    (0..requests).map(move |i| {
        let generator = if i % 4 == 3 {
            &mut unaligned
        } else {
            &mut aligned
        };
        generator.next().expect("generators are endless")
    })
}

/// Whole 4 KiB aligned reads of `blocks`, in order.
pub fn read_blocks(blocks: impl IntoIterator<Item = u64>) -> Vec<TraceRecord> {
    blocks
        .into_iter()
        .map(|block| TraceRecord {
            time_ns: 0,
            op: TraceOp::Read,
            sector: block * 8,
            sectors: 8,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        })
        .collect()
}

/// A closed-loop source over records.
pub fn closed_loop<I: Iterator<Item = TraceRecord>>(
    records: I,
    queue_depth: u32,
) -> RecordSource<I> {
    RecordSource::new(records, Pacing::ClosedLoop { queue_depth })
}

pub fn options(input_limit: Option<u64>) -> DriveOptions {
    DriveOptions {
        check_invariants: true,
        time_limit_ns: Some(3_600_000_000_000),
        input_limit,
    }
}

/// Drives to the end (or the input limit) and checks the simulated devices saw no IO they
/// refuse.
pub fn run<S: BioSource>(
    engine: &mut Engine,
    machine: &mut Machine,
    source: &mut S,
    observer: &mut OracleObserver,
    input_limit: Option<u64>,
) -> DriveReport {
    let report = drive(
        engine,
        &mut machine.platform,
        source,
        observer,
        &options(input_limit),
    )
    .expect("the engine accepts every input and keeps its invariants");
    assert!(
        machine.platform.violations().is_empty(),
        "strict-mode violations: {:?}",
        machine.platform.violations()
    );
    if input_limit.is_none() {
        assert_eq!(report.outcome, DriveOutcome::Finished, "{report:?}");
    }
    report
}

/// Runs setup to its end and checks the target runs.
pub fn set_up(engine: &mut Engine, machine: &mut Machine) {
    let mut observer = oracle_observer();
    run(
        engine,
        machine,
        &mut NoBios { finished: true },
        &mut observer,
        None,
    );
    assert_eq!(
        engine.target().flashcache_state(),
        Some(FlashcacheState::Running)
    );
}

/// Sends a target message at the platform's current time.
pub fn message(engine: &mut Engine, machine: &Machine, text: &str) {
    use dmsim_engine::platform::Platform;
    engine
        .handle(
            machine.platform.now_ns(),
            Input::Control(dmsim_engine::io::Control::TargetMessage(text.to_string())),
        )
        .unwrap_or_else(|error| panic!("message {text:?} refused: {error}"));
}

/// One read of block 0 issued `ns` after the current time: lets the engine's timers (the
/// delayed cleaning pass, a remove's settle delay) run while the workload is idle.
pub struct ReadAfter {
    at_ns: u64,
    state: u8,
}

impl BioSource for ReadAfter {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        (self.state == 0).then_some(self.at_ns)
    }
    fn take_bio(&mut self, _now_ns: u64) -> dmsim_engine::io::Bio {
        self.state = 1;
        dmsim_engine::io::Bio {
            id: dmsim_engine::io::BioId(u64::MAX - 1),
            op: Op::Read,
            sector: 0,
            sectors: 8,
            flags: Default::default(),
            data: SectorData::new(),
        }
    }
    fn on_done(&mut self, _now_ns: u64, done: BioDone) {
        assert_eq!(done.status, IoStatus::Ok);
        self.state = 2;
    }
    fn is_finished(&self) -> bool {
        self.state == 2
    }
}

/// Lets `ns` of virtual time pass (see [`ReadAfter`]); the read is checked by `observer`.
pub fn idle_for(
    engine: &mut Engine,
    machine: &mut Machine,
    observer: &mut OracleObserver,
    ns: u64,
) {
    use dmsim_engine::platform::Platform;
    let mut source = ReadAfter {
        at_ns: machine.platform.now_ns() + ns,
        state: 0,
    };
    run(engine, machine, &mut source, observer, None);
}
