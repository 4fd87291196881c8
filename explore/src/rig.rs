//! The pieces one explorer run is made of: the simulated devices of a [`SeedSpec`] with its
//! faults, engines over them (rebuilt after each power loss; flashcache then reloads), the
//! generated workload, and the [`Checker`] that sees every input and output (data oracle,
//! bio statuses, event-log hash).

use crate::counters::IoCounts;
use crate::device::RamDevice;
use crate::drive_tally::DriveTally;
use crate::event_dump::EventDump;
use crate::event_log::{Fnv, RecentEvents};
use crate::pids::PidModel;
use crate::rebuild_front::{FrontSeen, FrontWatch};
use crate::spec::{raid5_geometry, SeedSpec, TargetChoice, WorkloadChoice};
use crate::sync_status::SyncStatusProbe;
use dmsim_engine::block::{DeviceId, Extent, IoStatus, Op};
use dmsim_engine::flashcache::{CacheDeviceSizes, CacheMode, Persistence};
use dmsim_engine::io::{Control, Input, Output};
use dmsim_engine::platform::{BioSource, DriveObserver, Platform};
use dmsim_engine::raid5::superblock::{Superblock, METADATA_BYTES, METADATA_SECTORS};
use dmsim_engine::{
    drive, BuggifyConfig, DriveError, DriveOptions, DriveOutcome, DriveReport, Engine,
    EngineConfig, TargetSpec, VictimIndexCheck,
};
use dmsim_models::TimingModel;
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::traces::{DeviceKey, TraceOp, TraceRecord};
use dmsim_scenarios::workload::{
    AccessPattern, SizeDistribution, WeightedSize, WorkloadGenerator, WorkloadSpec,
};
use dmsim_sim::crash::crash_all_with;
use dmsim_sim::device::{CrashReport, PowerLoss, SimDevice, SimIo, WritePayload};
use dmsim_sim::oracle::Durability;
use dmsim_sim::oracle_observer::OracleObserver;
use dmsim_sim::platform::{SimOptions, SimPlatform};
use dmsim_sim::streams::stream;
use std::cell::RefCell;
use std::rc::Rc;

/// Devices, target and what a power loss needs to restart them.
pub struct Rig {
    pub platform: SimPlatform,
    spec: SeedSpec,
    crashes: u32,
    /// Clean stops (remove, then reload) so far.
    clean_stops: u32,
    /// Bio sources handed out (each gets its own write ids).
    sources: u64,
}

impl Rig {
    /// The devices of `spec` with its faults (the spec must be valid).
    pub fn new(spec: &SeedSpec) -> Result<Rig, String> {
        let devices = spec
            .devices
            .iter()
            .map(|d| {
                SimDevice::new(d.name.clone(), Box::new(RamDevice::new(d)))
                    .with_fault_seed(spec.seed)
            })
            .collect();
        let options = SimOptions {
            perturb_ties_seed: spec.perturb_ties.then_some(spec.seed),
        };
        let mut platform = SimPlatform::with_options(devices, options);
        // Before the faults: the planted write draws from no fault stream.
        if let Some(member) = spec.foreign_superblock_member {
            plant_foreign_superblock(&mut platform, spec, member);
        }
        for (index, faults) in spec.faults.iter().enumerate() {
            platform
                .device_mut(index)
                .add_faults(faults)
                .map_err(|(at, e)| format!("faults[{index}][{at}]: {e}"))?;
        }
        Ok(Rig {
            platform,
            spec: spec.clone(),
            crashes: 0,
            clean_stops: 0,
            sources: 0,
        })
    }

    fn models(&self) -> Vec<Box<dyn TimingModel>> {
        self.spec
            .devices
            .iter()
            .map(|d| Box::new(RamDevice::new(d)) as Box<dyn TimingModel>)
            .collect()
    }

    pub fn is_writeback(&self) -> bool {
        is_writeback(&self.spec)
    }

    /// An engine over the rig (flashcache: created at first, reloaded after a power loss or
    /// a clean stop).
    pub fn engine(&self) -> Result<Engine, String> {
        let (config, target) = engine_setup_reloading(
            &self.spec,
            self.crashes,
            self.crashes + self.clean_stops > 0,
        );
        let infos = self
            .platform
            .device_infos()
            .into_iter()
            .zip(&self.spec.devices)
            .map(|(mut info, device)| {
                if let Some(max_sectors) = device.max_sectors {
                    info.max_sectors = max_sectors;
                }
                info.max_discard_sectors = device.max_discard_sectors.unwrap_or(0);
                info
            })
            .collect();
        Engine::new(config, infos, target).map_err(|e| format!("the engine refused the spec: {e}"))
    }

    /// See [`SeedSpec::resync_inputs_max`].
    pub fn resync_inputs_max(&self) -> u64 {
        self.spec.resync_inputs_max()
    }

    /// Device sizes as flashcache's setup sees the cache device (0) and the disk (1).
    pub fn cache_device_sizes(&self) -> CacheDeviceSizes {
        let infos = self.platform.device_infos();
        assert!(infos.len() >= 2, "flashcache rigs have an SSD and a disk");
        CacheDeviceSizes {
            ssd_sectors: infos[0].capacity_sectors,
            disk_sectors: infos[1].capacity_sectors,
            ssd_logical_block_bytes: infos[0].logical_block_size,
        }
    }

    /// A checker for this rig's volume (the RAM devices start zeroed: contents known).
    pub fn checker(&self) -> Checker {
        new_checker(&self.spec, true)
    }

    /// Drives `engine` with `source` until done, `input_limit` inputs or `time_limit_ns` of
    /// virtual time from now.
    pub fn run<S: BioSource>(
        &mut self,
        engine: &mut Engine,
        source: &mut S,
        checker: &mut Checker,
        input_limit: Option<u64>,
        time_limit_ns: u64,
    ) -> Result<DriveReport, DriveError> {
        drive_for(
            engine,
            &mut self.platform,
            source,
            checker,
            input_limit,
            time_limit_ns,
        )
    }

    /// [`drive_with_cancels`] on the rig's devices.
    pub fn run_with_cancels<S: BioSource>(
        &mut self,
        engine: &mut Engine,
        source: &mut S,
        checker: &mut Checker,
        input_limit: u64,
        time_limit_ns: u64,
        cancels_at_ns: &[u64],
    ) -> Result<DriveReport, DriveError> {
        drive_with_cancels(
            engine,
            &mut self.platform,
            source,
            checker,
            input_limit,
            time_limit_ns,
            cancels_at_ns,
        )
    }

    /// A closed loop over `records` at the spec's queue depth, with fresh write ids.
    pub fn source<I: Iterator<Item = TraceRecord>>(&mut self, records: I) -> RecordSource<I> {
        self.sources += 1;
        closed_loop(records, self.spec.queue_depth, self.sources << 32)
    }

    /// Reads back every block any write touched, at queue depth 8.
    pub fn read_back(
        &mut self,
        checker: &Checker,
    ) -> RecordSource<std::vec::IntoIter<TraceRecord>> {
        self.sources += 1;
        closed_loop(
            read_back_records(checker).into_iter(),
            8,
            self.sources << 32,
        )
    }

    /// The engine was stopped cleanly (and dropped): the next one reloads, counting anew.
    pub fn clean_restart(&mut self, checker: &mut Checker) {
        self.clean_stops += 1;
        let now_ns = Platform::now_ns(&self.platform);
        checker.note(
            now_ns,
            &format!("clean stop {}: a new engine", self.clean_stops),
        );
        checker.io.engine_rebuilt();
        checker.pids.engine_rebuilt();
        checker.hash.add(b"clean stop");
    }

    /// Power loss of every device; `engine`, the one that ran, is gone with it. The oracle
    /// first takes a raid5 volume's failed members from the array as it stood (the write
    /// hole opens for those, whoever failed them; regression 014).
    pub fn power_loss(
        &mut self,
        engine: Engine,
        checker: &mut Checker,
        loss: &PowerLoss,
    ) -> Vec<CrashReport> {
        if let Some(raid) = engine.target().raid5() {
            let failed: Vec<bool> = raid.members().iter().map(|m| m.degraded()).collect();
            checker.oracle.raid5_array_failed(&failed);
        }
        drop(engine);
        self.crashes += 1;
        let now_ns = Platform::now_ns(&self.platform);
        checker.note(
            now_ns,
            &format!("power loss {}: a new engine", self.crashes),
        );
        let models = self.models();
        let mut rng = stream(self.spec.seed, &format!("crash{}", self.crashes));
        checker.oracle.crash();
        checker.io.engine_rebuilt();
        checker.pids.engine_rebuilt();
        checker.hash.add(b"power loss");
        crash_all_with(&mut self.platform, models, &mut rng, loss).expect("matching models")
    }

    /// A raid5 member fails (`fail N`): the engine is told, and the oracle with the array's
    /// word on which stripes still needed their resync (the write hole).
    pub fn fail_member(
        &mut self,
        engine: &mut Engine,
        checker: &mut Checker,
        member: usize,
    ) -> Result<(), String> {
        let now_ns = dmsim_engine::platform::Platform::now_ns(&self.platform);
        let message = Input::Control(Control::TargetMessage(format!("fail {member}")));
        checker.on_input(now_ns, &message);
        engine
            .handle(now_ns, message)
            .map_err(|e| format!("fail {member} refused: {e}"))?;
        let raid = engine.target().raid5().expect("a raid5 target");
        checker
            .oracle
            .raid5_member_failed(member, &|sector| raid.stripe_needs_resync(sector));
        Ok(())
    }

    /// Faults off from now on (the liveness phase).
    pub fn stop_faults(&mut self) {
        for index in 0..self.spec.devices.len() {
            self.platform.device_mut(index).stop_faults();
        }
    }

    pub fn strict_violations(&self) -> Option<String> {
        let violations = self.platform.violations();
        (!violations.is_empty()).then(|| format!("{:?}", violations[0]))
    }

    /// The liveness phase's time bound for this spec (see [`SeedSpec::liveness_time_ns`]).
    pub fn liveness_time_ns(&self) -> u64 {
        self.spec.liveness_time_ns()
    }

    /// Device IOs a hang fault holds for ever (see [`SimDevice::hung_ios`]).
    pub fn hung_ios(&self) -> usize {
        self.platform
            .devices()
            .iter()
            .map(SimDevice::hung_ios)
            .sum()
    }
}

/// Another array's superblock (twice the chunk, no bitmap, one event) on `member`'s metadata
/// pages, written straight to the device before the run, as a disk moved from elsewhere
/// brings it (see [`SeedSpec::foreign_superblock_member`]).
fn plant_foreign_superblock(platform: &mut SimPlatform, spec: &SeedSpec, member: usize) {
    let TargetChoice::Raid5(config) = &spec.target else {
        unreachable!("validated: raid5 alone")
    };
    let geometry = raid5_geometry(config, spec.member_devices()).expect("a valid spec");
    let foreign = Superblock {
        events: 1,
        dirty: false,
        faulty_roles: 0,
        members: u8::try_from(geometry.members()).expect("at most 16 members"),
        chunk_sectors: geometry.chunk_sectors() * 2,
        member_sectors: geometry.member_sectors(),
        bitmap_chunk_sectors: 0,
        bitmap: Vec::new(),
    };
    let mut image = [0u8; METADATA_BYTES];
    foreign.encode(&mut image);
    let device = platform.device_mut(member);
    let write = SimIo {
        tag: u64::MAX,
        op: Op::Write,
        sector: device.capacity_sectors() - METADATA_SECTORS,
        sectors: METADATA_SECTORS as u32,
        fua: true,
        payload: WritePayload::Bytes(image.to_vec()),
    };
    device.submit(0, write).expect("a valid write");
    let mut done = Vec::new();
    while let Some(at_ns) = device.next_event_ns() {
        device.advance(at_ns, &mut done);
    }
    assert!(
        done.len() == 1 && done[0].status.is_ok(),
        "the foreign superblock landed: {done:?}"
    );
}

/// The target is flashcache in writeback mode (dirty data must drain in the liveness phase).
pub fn is_writeback(spec: &SeedSpec) -> bool {
    match &spec.target {
        TargetChoice::Flashcache(c) => c.table.mode == CacheMode::WriteBack,
        TargetChoice::Raid5UnderFlashcache { flashcache, .. } => {
            flashcache.table.mode == CacheMode::WriteBack
        }
        TargetChoice::Linear | TargetChoice::Raid5(_) => false,
    }
}

/// The device whose sector s is volume sector s: linear's, flashcache's disk, or a raid5
/// array as a device (numbered after the platform's, as in a stack; the volume itself, or
/// flashcache's disk). The engine names it in `ContentsUnknown` (a late write; the raid5
/// write hole through a read error).
fn volume_device(spec: &SeedSpec) -> DeviceId {
    match spec.target {
        TargetChoice::Linear => DeviceId(0),
        TargetChoice::Flashcache(_) => DeviceId(1),
        TargetChoice::Raid5(_) | TargetChoice::Raid5UnderFlashcache { .. } => {
            DeviceId(spec.devices.len() as u16)
        }
    }
}

/// The engine configuration and target of `spec` after `crashes` power losses (flashcache is
/// created at first and reloaded after a power loss). Shared by the simulated and real rigs.
pub fn engine_setup(spec: &SeedSpec, crashes: u32) -> (EngineConfig, TargetSpec) {
    engine_setup_reloading(spec, crashes, crashes > 0)
}

/// [`engine_setup`], with flashcache reloaded (`reload`) or created; BUGGIFY's stream
/// follows the power losses.
pub fn engine_setup_reloading(
    spec: &SeedSpec,
    crashes: u32,
    reload: bool,
) -> (EngineConfig, TargetSpec) {
    let config = EngineConfig {
        arena_pages: spec.arena_pages.unwrap_or(crate::spec::ARENA_PAGES_DEFAULT),
        plugging: spec.plugging,
        dm_io_min_ios_max: spec.dm_io_min_ios,
        invalidation_scan: spec.invalidation_scan,
        victim_index_check: Some(VictimIndexCheck {
            from_start: spec.victim_index_from_start,
        }),
        buggify: spec.buggify.then_some(BuggifyConfig {
            seed: spec.seed ^ u64::from(crashes),
        }),
        ..EngineConfig::default()
    };
    let target = match &spec.target {
        TargetChoice::Linear => TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
        TargetChoice::Flashcache(config) => {
            let mut config = (**config).clone();
            if reload {
                config.table.persistence = Persistence::Reload;
            }
            TargetSpec::Flashcache {
                ssd: DeviceId(0),
                disk: DeviceId(1),
                config,
                kcopyd: spec.kcopyd,
            }
        }
        // A raid5 array with a superblock assembles itself from its members.
        TargetChoice::Raid5(config) => {
            let members = spec.member_devices().len();
            TargetSpec::Raid5 {
                members: (0..members).map(|m| DeviceId(m as u16)).collect(),
                config: (**config).clone(),
                spares: (members..spec.devices.len())
                    .map(|m| DeviceId(m as u16))
                    .collect(),
            }
        }
        // The array is one more device, numbered after the platform's: flashcache's disk.
        TargetChoice::Raid5UnderFlashcache { raid5, flashcache } => {
            let mut flashcache = (**flashcache).clone();
            if reload {
                flashcache.table.persistence = Persistence::Reload;
            }
            TargetSpec::Stack {
                lower: vec![TargetSpec::Raid5 {
                    members: (1..spec.devices.len())
                        .map(|m| DeviceId(m as u16))
                        .collect(),
                    config: (**raid5).clone(),
                    spares: Vec::new(),
                }],
                upper: Box::new(TargetSpec::Flashcache {
                    ssd: DeviceId(0),
                    disk: DeviceId(spec.devices.len() as u16),
                    config: flashcache,
                    kcopyd: spec.kcopyd,
                }),
            }
        }
    };
    (config, target)
}

/// A checker of `spec`'s volume. `initial_contents_known` is false on real devices, which
/// hold whatever an earlier run left.
pub fn new_checker(spec: &SeedSpec, initial_contents_known: bool) -> Checker {
    let durability = if spec.devices.iter().any(|d| d.ram.volatile_write_cache) {
        Durability::OnFlush
    } else {
        Durability::OnAck
    };
    let mut oracle = OracleObserver::new(initial_contents_known);
    oracle = oracle.with_volume_device(volume_device(spec), 0);
    if let TargetChoice::Raid5(config) = &spec.target {
        let geometry = raid5_geometry(config, spec.member_devices()).expect("a valid spec");
        oracle = oracle.with_raid5(geometry);
    }
    let mut oracle = oracle.with_durability(durability).tracking_written_blocks();
    if spec.faults.iter().flatten().any(|f| f.produces_poison()) {
        oracle = oracle.accepting_poison();
    }
    Checker {
        oracle,
        io: IoCounts::new(spec),
        pids: PidModel::default(),
        sync_status: SyncStatusProbe::default(),
        statuses: Vec::new(),
        hash: Fnv::default(),
        recent: RecentEvents::default(),
        invariants_every_input: true,
        inputs_seen: 0,
        drive_error: None,
        dump: None,
        rebuild_front: None,
    }
}

/// A closed loop over `records` at `queue_depth` whose write ids start after
/// `write_id_base`.
pub fn closed_loop<I: Iterator<Item = TraceRecord>>(
    records: I,
    queue_depth: u32,
    write_id_base: u64,
) -> RecordSource<I> {
    RecordSource::new(records, Pacing::ClosedLoop { queue_depth }).with_write_id_base(write_id_base)
}

/// A source whose first bio arrives no earlier than `start_ns`: the volume sits idle until
/// then (timers fire, IO in flight completes), as a real one does between bursts.
pub struct StartAt<S> {
    inner: S,
    start_ns: u64,
}

impl<S: BioSource> StartAt<S> {
    pub fn new(inner: S, start_ns: u64) -> StartAt<S> {
        StartAt { inner, start_ns }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: BioSource> BioSource for StartAt<S> {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        self.inner
            .next_arrival_ns()
            .map(|arrival_ns| arrival_ns.max(self.start_ns))
    }

    fn take_bio(&mut self, now_ns: u64) -> dmsim_engine::io::Bio {
        assert!(now_ns >= self.start_ns, "a bio taken before its start");
        self.inner.take_bio(now_ns)
    }

    fn on_done(&mut self, now_ns: u64, done: dmsim_engine::io::BioDone) {
        self.inner.on_done(now_ns, done);
    }

    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

/// One 4 KiB read of every block any write touched.
pub fn read_back_records(checker: &Checker) -> Vec<TraceRecord> {
    checker
        .oracle
        .written_blocks()
        .map(|block| record(TraceOp::Read, block * 8, 8))
        .collect()
}

/// Drives `engine` on `platform` with `source` until done, `input_limit` inputs or
/// `time_limit_ns` from now, checking the invariants after every input (unless the checker
/// says not to) and when the run ends.
pub fn drive_for<P: Platform, S: BioSource>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    checker: &mut Checker,
    input_limit: Option<u64>,
    time_limit_ns: u64,
) -> Result<DriveReport, DriveError> {
    let options = DriveOptions {
        check_invariants: checker.invariants_every_input,
        time_limit_ns: Some(platform.now_ns() + time_limit_ns),
        input_limit,
    };
    let since = checker.drive_tally();
    let result = drive(engine, platform, source, checker, &options);
    checker.hold_drive_report(&since, &result);
    result
}

/// Like [`drive_for`], but at each of `cancels_at_ns` (from now, ascending) the SSD's
/// timed IO is cancelled by device; the limits hold for the whole run. Cancels after the
/// source finished are not sent.
pub fn drive_with_cancels<P: Platform, S: BioSource>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    checker: &mut Checker,
    input_limit: u64,
    time_limit_ns: u64,
    cancels_at_ns: &[u64],
) -> Result<DriveReport, DriveError> {
    let start_ns = platform.now_ns();
    let mut inputs = 0;
    let mut bios_submitted = 0;
    let mut bios_done = 0;
    let mut slices = cancels_at_ns
        .iter()
        .map(|&at| Some(at.min(time_limit_ns)))
        .chain([None]);
    loop {
        let slice_end_ns = slices.next().flatten();
        let now_ns = platform.now_ns();
        let end_ns = start_ns + slice_end_ns.unwrap_or(time_limit_ns);
        let mut report = drive_for(
            engine,
            platform,
            source,
            checker,
            Some(input_limit.saturating_sub(inputs)),
            end_ns.saturating_sub(now_ns),
        )?;
        inputs += report.inputs;
        bios_submitted += report.bios_submitted;
        bios_done += report.bios_done;
        report.inputs = inputs;
        report.bios_submitted = bios_submitted;
        report.bios_done = bios_done;
        if slice_end_ns.is_none() || report.outcome != DriveOutcome::TimeLimit {
            return Ok(report);
        }
        if report.end_ns >= start_ns + time_limit_ns {
            return Ok(report);
        }
        let cancel = Input::Control(Control::CancelTimedIoOnDevice(DeviceId(0)));
        checker.on_input(report.end_ns, &cancel);
        engine
            .handle(report.end_ns, cancel)
            .map_err(|error| DriveError::Input {
                now_ns: report.end_ns,
                error,
            })?;
    }
}

fn record(op: TraceOp, sector: u64, sectors: u64) -> TraceRecord {
    TraceRecord {
        time_ns: 0,
        op,
        sector,
        sectors,
        device: DeviceKey::Number(0),
        measured_latency_ns: None,
    }
}

/// The generated workload of `choice` (or its trace window), `requests` long; `part`
/// tells segments apart.
pub fn workload(
    choice: &WorkloadChoice,
    requests: u64,
    part: u64,
) -> impl Iterator<Item = TraceRecord> {
    let size = |bytes: u64, weight: u32| WeightedSize { bytes, weight };
    let spec = |alignment_bytes: u64, choices: Vec<WeightedSize>| WorkloadSpec {
        span_start_bytes: 0,
        span_bytes: choice.span_bytes,
        alignment_bytes,
        pattern: AccessPattern::HotCold {
            hot_access_percent: f64::from(choice.hot_access_percent),
            hot_space_percent: f64::from(choice.hot_space_percent),
        },
        read_percent: f64::from(choice.read_percent),
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
    let large = spec(
        4096,
        vec![
            size(32768, 4),
            size(65536, 3),
            size(131072, 2),
            size(262144, 1),
        ],
    );
    let seed = choice
        .seed
        .wrapping_add(part.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut aligned =
        WorkloadGenerator::new(&aligned, stream(seed, "explore.workload.aligned")).expect("valid");
    let mut unaligned =
        WorkloadGenerator::new(&unaligned, stream(seed, "explore.workload.unaligned"))
            .expect("valid");
    let mut large =
        WorkloadGenerator::new(&large, stream(seed, "explore.workload.large")).expect("valid");
    let (unaligned_one_in, large_one_in, flush_every, discard_one_in, sequential_one_in) = (
        choice.unaligned_one_in,
        choice.large_one_in,
        choice.flush_every,
        choice.discard_one_in,
        choice.sequential_one_in,
    );
    let mut sequential = SequentialRun::default();
    let (trace, span_bytes) = (choice.trace, choice.span_bytes);
    (0..requests).map(move |i| {
        if flush_every > 0 && i % flush_every == flush_every - 1 {
            return record(TraceOp::Flush, 0, 0);
        }
        if let Some(window) = &trace {
            // Each segment replays its own stretch of the trace, further on.
            return window.request(part.wrapping_mul(requests).wrapping_add(i), span_bytes);
        }
        let generator = if large_one_in > 0 && i % large_one_in == 1 {
            &mut large
        } else if unaligned_one_in > 0 && i % unaligned_one_in == 0 {
            &mut unaligned
        } else {
            &mut aligned
        };
        let mut record = generator.next().expect("generators are endless");
        if sequential_one_in > 0 {
            sequential.apply(&mut record, i, sequential_one_in, span_bytes / 512);
        }
        if discard_one_in > 0 && i % discard_one_in == discard_one_in / 2 {
            record.op = TraceOp::Discard;
        }
        record
    })
}

/// A sequential stream in a generated workload (see `WorkloadChoice::sequential_one_in`).
#[derive(Debug, Default)]
struct SequentialRun {
    /// The next sector of the run and the requests it has left (none: no run).
    next: Option<(u64, u64)>,
}

impl SequentialRun {
    /// 4 KiB blocks, the explorer's cache block.
    const SECTORS: u64 = 8;

    /// Request `i` (drawn as `record`) starts a run, continues one (but every third
    /// request, so other IO interleaves) or passes unchanged.
    fn apply(&mut self, record: &mut TraceRecord, i: u64, one_in: u64, span_sectors: u64) {
        if self.next.is_none() && i.is_multiple_of(one_in) {
            // The length comes from the drawn sector: no draw of its own, so the generators'
            // streams stay as they were.
            let start = record.sector - record.sector % Self::SECTORS;
            self.next = Some((start, 4 + (record.sector / Self::SECTORS) % 45));
        }
        let Some((sector, left)) = self.next else {
            return;
        };
        if i % 3 == 2 {
            return;
        }
        if sector + Self::SECTORS > span_sectors || left == 0 {
            self.next = None;
            return;
        }
        record.sector = sector;
        record.sectors = Self::SECTORS;
        self.next = Some((sector + Self::SECTORS, left - 1));
    }
}

/// The data oracle, every bio's status in completion order, and the event-log hash.
pub struct Checker {
    pub oracle: OracleObserver,
    /// What the current engine took in and submitted, for the counter oracles.
    pub io: IoCounts,
    /// The pid lists the current engine's messages left.
    pub pids: PidModel,
    /// A raid5 sync pass's status line while it runs.
    pub sync_status: SyncStatusProbe,
    pub statuses: Vec<IoStatus>,
    pub hash: Fnv,
    recent: RecentEvents,
    /// Check the engine's invariants after every input (`drive_for`). Off only for the
    /// determinism check's repeat of a run that already passed them (see `run_spec`).
    pub invariants_every_input: bool,
    /// Inputs seen, with `io`'s bios and `statuses` what each drive's report is held to
    /// (see [`crate::drive_tally`]), and the first report that disagreed.
    pub inputs_seen: u64,
    pub drive_error: Option<String>,
    /// The whole event log as text, when asked for (`dmsim explore --events`); shared with
    /// the caller, who finishes it whether the run passed, failed or panicked.
    pub dump: Option<Rc<RefCell<EventDump>>>,
    /// A raid5 recovery's front, seen after every input while reads follow it.
    pub rebuild_front: Option<FrontWatch>,
}

impl Checker {
    /// A finished drive's report against what this checker saw since `since`; the first
    /// disagreement is kept for [`crate::run`] to report.
    fn hold_drive_report(&mut self, since: &DriveTally, result: &Result<DriveReport, DriveError>) {
        if let (Ok(report), None) = (result, &self.drive_error) {
            self.drive_error = self.drive_tally().check(since, report).err();
        }
    }

    /// What this checker has seen so far, as a drive's report counts it.
    fn drive_tally(&self) -> DriveTally {
        DriveTally {
            inputs: self.inputs_seen,
            bios_in: self.io.bios_taken(),
            bios_done: self.statuses.len() as u64,
        }
    }

    /// The last few events (oldest first), each as `time_ns event`.
    pub fn recent_events(&self) -> Vec<String> {
        self.recent.recent_events()
    }

    /// A note in the event dump, if one is written.
    pub fn note(&mut self, now_ns: u64, note: &str) {
        if let Some(dump) = &self.dump {
            dump.borrow_mut().note(now_ns, note);
        }
    }
}

impl DriveObserver for Checker {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.hash.add_input(now_ns, input);
        self.recent.on_input(now_ns, input);
        if let Some(dump) = &self.dump {
            dump.borrow_mut().input(now_ns, input);
        }
        self.io.on_input(input);
        self.inputs_seen += 1;
        self.oracle.on_input(now_ns, input);
    }

    fn on_output(&mut self, now_ns: u64, output: &Output) {
        self.hash.add_output(now_ns, output);
        self.recent.on_output(now_ns, output);
        if let Some(dump) = &self.dump {
            dump.borrow_mut().output(now_ns, output);
        }
        self.io.on_output(output);
        if let Output::BioDone(done) = output {
            let _ = self.oracle.bio_done(done);
            self.statuses.push(done.status);
        }
    }

    fn on_contents_unknown(&mut self, now_ns: u64, device: DeviceId, extent: Extent) {
        self.oracle.on_contents_unknown(now_ns, device, extent);
    }

    fn after_input(&mut self, now_ns: u64, engine: &Engine) {
        self.sync_status.after_input(now_ns, engine);
        self.io.after_input(engine);
        if let Some(watch) = &self.rebuild_front {
            watch.set(FrontSeen::of(now_ns, engine));
        }
    }
}
