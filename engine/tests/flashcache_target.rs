//! The flashcache target inside the engine, driven by `drive` over the fake platform: setup
//! before bios, dm core splitting at cache blocks with the worst status winning, messages,
//! status and gauges, a failed setup, a halted target, and the SSD timeout (Decision 12)
//! with its bounce buffer. Invariants are checked after every input. End-to-end runs on
//! simulated devices live in the workspace's `tests/flashcache_*.rs`.

mod common;

use common::{bio, stamp, stamps, FakePlatform, Fate, ListSource};
use dmsim_engine::content::SectorContent;
use dmsim_engine::flashcache::{
    Associativity, CacheMode, FlashcacheConfig, MdWriteFailure, Persistence, TableLine,
};
use dmsim_engine::{
    drive, Control, DeviceId, DeviceInfo, DriveOptions, DriveOutcome, Engine, EngineConfig,
    FlashcacheState, Input, InputError, IoStatus, Op, TargetSpec,
};

const SSD_SECTORS: u64 = 8192; // 4 MiB: 1024 blocks of 4 KiB in writethrough
const DISK_SECTORS: u64 = 1 << 21; // 1 GiB

fn options() -> DriveOptions {
    DriveOptions {
        check_invariants: true,
        time_limit_ns: Some(60_000_000_000),
        input_limit: None,
    }
}

fn config(mode: CacheMode) -> FlashcacheConfig {
    let mut table = TableLine::new(mode, Persistence::Create, DISK_SECTORS);
    table.assoc = Associativity::Ways(256);
    FlashcacheConfig::new(table)
}

fn engine(config: FlashcacheConfig) -> Engine {
    Engine::new(
        EngineConfig {
            arena_pages: 2048,
            plugging: None,
            ..EngineConfig::default()
        },
        vec![
            DeviceInfo::new(SSD_SECTORS, 512),
            DeviceInfo::new(DISK_SECTORS, 512),
        ],
        TargetSpec::flashcache(DeviceId(0), DeviceId(1), config),
    )
    .expect("valid flashcache engine")
}

/// Drives until the source is done and the engine idle.
fn run(engine: &mut Engine, platform: &mut FakePlatform, source: &mut ListSource) {
    let report = drive(engine, platform, source, &mut (), &options()).expect("run succeeds");
    assert_eq!(report.outcome, DriveOutcome::Finished, "{report:?}");
    assert!(engine.is_idle());
}

fn message(engine: &mut Engine, platform: &FakePlatform, text: &str) -> Result<(), InputError> {
    engine.handle(
        platform.now_ns,
        Input::Control(Control::TargetMessage(text.to_string())),
    )
}

#[test]
fn bios_are_split_at_cache_blocks_and_complete_with_the_worst_status() {
    let mut engine = engine(config(CacheMode::WriteThrough));
    // The second disk read of sector 24 fails (the first belongs to bio 2, which succeeds).
    let mut disk_reads_at_24 = 0;
    let mut platform = FakePlatform::new(
        2,
        Box::new(move |io| {
            if io.device == DeviceId(1) && io.op == Op::Read && io.sector == 24 {
                disk_reads_at_24 += 1;
                if disk_reads_at_24 == 2 {
                    return Fate::After {
                        delay_ns: 10_000,
                        status: IoStatus::IoError,
                    };
                }
            }
            Fate::ok(10_000)
        }),
    );
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 5, 20)),
        (1_000_000, bio(2, Op::Read, 5, 20)),
        (2_000_000, bio(3, Op::Read, 5, 20)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    // 5..25 crosses blocks 0, 8, 16 and 24: pieces of 3, 8, 8 and 1 sectors.
    assert_eq!(engine.stats().dm_core.pieces, 12);
    let stats = engine
        .target()
        .flashcache()
        .expect("running")
        .stats()
        .clone();
    assert_eq!((stats.writes, stats.reads), (4, 8));
    assert_eq!(
        stats.uncached_writes, 2,
        "the partial pieces go around the cache"
    );
    assert_eq!(stats.read_hits, 4, "the two whole blocks hit, twice");
    assert_eq!(source.done_for(1).status, IoStatus::Ok);
    let good = source.done_for(2);
    assert_eq!(good.status, IoStatus::Ok);
    assert_eq!(good.data, stamps(5, 20, 1));
    let bad = source.done_for(3);
    assert_eq!(bad.status, IoStatus::IoError, "the worst piece status wins");
    assert_eq!(
        bad.data[..19],
        stamps(5, 19, 1)[..],
        "the good pieces still read"
    );
    assert_eq!(
        bad.data[19],
        SectorContent::Zero,
        "the failed piece reads zeroes"
    );
    assert_eq!(platform.read(1, 24), stamp(24, 1));
}

#[test]
fn writeback_setup_runs_before_the_bios_that_arrived_meanwhile() {
    let mut engine = engine(config(CacheMode::WriteBack));
    assert_eq!(
        engine.target().flashcache_state(),
        Some(FlashcacheState::SettingUp)
    );
    assert!(engine.target().flashcache().is_none());
    let mut platform = FakePlatform::uniform(2, 50_000);
    // Two blocks written at time 0, while the superblock probe is still in flight.
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 64, 16)),
        (5_000_000, bio(2, Op::Read, 64, 16)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    assert_eq!(
        engine.target().flashcache_state(),
        Some(FlashcacheState::Running)
    );
    let first = &platform.submitted[0];
    assert_eq!(
        (first.device, first.op, first.sector, first.sectors),
        (DeviceId(0), Op::Read, 0, 8),
        "the superblock probe is the first device IO"
    );
    // Arrived during setup: dm core could not split it; the target did.
    assert_eq!(engine.stats().dm_core.pieces, 3);
    let fc = engine.target().flashcache().expect("running");
    assert_eq!((fc.stats().writes, fc.stats().read_hits), (2, 2));
    assert_eq!(fc.gauges().nr_dirty, 2);
    assert_eq!(source.done_for(2).data, stamps(64, 16, 1));
    // Write-back: the data is on the SSD only.
    assert_eq!(platform.read(1, 64), SectorContent::Zero);
}

#[test]
fn a_failed_setup_fails_every_bio() {
    let mut engine = engine(config(CacheMode::WriteBack));
    let mut platform = FakePlatform::new(
        2,
        Box::new(|io| {
            let status = if io.device == DeviceId(0) && io.sector == 0 {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            };
            Fate::After {
                delay_ns: 1_000,
                status,
            }
        }),
    );
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 0, 8)),
        (1_000_000, bio(2, Op::Read, 0, 8)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    let Some(FlashcacheState::Failed(error)) = engine.target().flashcache_state() else {
        panic!(
            "setup should fail: {:?}",
            engine.target().flashcache_state()
        );
    };
    assert!(error.to_string().contains("superblock"), "{error}");
    assert_eq!(source.done_for(1).status, IoStatus::IoError);
    assert_eq!(source.done_for(2).status, IoStatus::IoError);
    let refused = message(&mut engine, &platform, "do_sync");
    assert!(matches!(refused, Err(InputError::BadControl(_))));
}

#[test]
fn messages_write_sysctls_and_bad_ones_are_refused() {
    let mut engine = engine(config(CacheMode::WriteBack));
    let mut platform = FakePlatform::uniform(2, 10_000);
    let refused = message(&mut engine, &platform, "set dirty_thresh_pct 30");
    assert!(
        matches!(&refused, Err(InputError::BadControl(text)) if text.contains("not running")),
        "messages wait for setup: {refused:?}"
    );
    run(&mut engine, &mut platform, &mut ListSource::new(Vec::new()));
    message(&mut engine, &platform, "set dirty_thresh_pct 30").expect("accepted");
    message(&mut engine, &platform, "set reclaim_policy lru").expect("accepted");
    message(&mut engine, &platform, "blacklist add 7").expect("accepted");
    let fc = engine.target().flashcache().expect("running");
    assert_eq!(fc.tunables().dirty_thresh_pct, 30);
    assert_eq!(
        fc.tunables().reclaim_policy,
        dmsim_engine::flashcache::ReclaimPolicy::Lru
    );
    assert_eq!(
        fc.pid_list_len(dmsim_engine::flashcache::PidList::Blacklist),
        1
    );
    for bad in ["set dirty_thresh_pct", "set nonsense 1", "frobnicate"] {
        let result = message(&mut engine, &platform, bad);
        assert!(
            matches!(result, Err(InputError::BadControl(_))),
            "{bad}: {result:?}"
        );
    }
    // A writethrough cache registers no writeback sysctls.
    let mut wt = self::engine(config(CacheMode::WriteThrough));
    let mut wt_platform = FakePlatform::uniform(2, 10_000);
    run(&mut wt, &mut wt_platform, &mut ListSource::new(Vec::new()));
    let result = message(&mut wt, &wt_platform, "set dirty_thresh_pct 30");
    assert!(
        matches!(&result, Err(InputError::BadControl(text)) if text.contains("dirty_thresh_pct")),
        "{result:?}"
    );
}

#[test]
fn status_text_gauges_and_stats_are_observable() {
    let mut engine = engine(config(CacheMode::WriteBack));
    let mut platform = FakePlatform::uniform(2, 10_000);
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 0, 8)),
        (1_000_000, bio(2, Op::Read, 0, 8)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    let gauges = engine
        .target()
        .flashcache()
        .map(|fc| fc.gauges())
        .expect("flashcache");
    assert_eq!((gauges.cached_blocks, gauges.nr_dirty), (1, 1));
    let status = engine.target_status();
    assert_eq!(
        (status.kind, status.state.as_str()),
        ("flashcache", "running")
    );
    assert_eq!(status.counters["reads"], 1);
    assert_eq!(status.counters["read_hits"], 1);
    assert_eq!(status.counters["ssd_write_errors"], 0);
    assert_eq!(status.gauges["nr_dirty"], 1);
    assert_eq!(status.gauges["cached_blocks"], 1);
    let text = status.text;
    assert_eq!(engine.target_status_text(), text);
    assert!(text.contains("reads(1), writes(1)"), "{text}");
    assert!(text.contains("cache mode(WRITE_BACK)"), "{text}");
    assert!(text.contains("dirty blocks(1)"), "{text}");
    let status = engine
        .target()
        .flashcache()
        .map(|fc| fc.status())
        .expect("flashcache");
    let json = serde_json::to_string(&status).expect("serialises");
    assert!(json.contains("\"read_hits\":1"), "{json}");
    message(&mut engine, &platform, "zero_stats").expect("accepted");
    assert_eq!(
        engine.target().flashcache().expect("running").stats().reads,
        0
    );
    let linear = Engine::new(
        EngineConfig::default(),
        vec![DeviceInfo::new(DISK_SECTORS, 512)],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .expect("linear");
    assert!(linear.target().flashcache_state().is_none());
    let status = linear.target_status();
    assert_eq!(status.kind, "linear");
    assert_eq!(status.text, format!("0 {DISK_SECTORS} linear dev0 0"));
    assert_eq!(linear.target_status_text(), status.text);
    assert!(status.counters.is_empty() && status.gauges.is_empty());
    let raid5 = Engine::new(
        EngineConfig::default(),
        vec![DeviceInfo::new(DISK_SECTORS, 512); 3],
        TargetSpec::Raid5 {
            members: (0..3).map(DeviceId).collect(),
            config: dmsim_engine::raid5::Raid5Config::new(128),
            spares: Vec::new(),
        },
    )
    .expect("raid5");
    let status = raid5.target_status();
    assert_eq!(status.kind, "raid5");
    assert!(
        status.text.contains("md0 : active raid5"),
        "{}",
        status.text
    );
    assert_eq!(raid5.target_status_text(), status.text);
}

#[test]
fn the_target_spec_serialises_with_its_options() {
    let mut config = config(CacheMode::WriteThrough);
    config.options.ssd_timeout_ns = Some(2_000_000);
    let spec = TargetSpec::flashcache(DeviceId(0), DeviceId(1), config);
    let json = serde_json::to_string(&spec).expect("serialises");
    assert!(json.contains("\"kind\":\"flashcache\""), "{json}");
    assert!(json.contains("\"ssd_timeout_ns\":2000000"), "{json}");
    assert!(json.contains("\"kcopyd\":\"classic\""), "{json}");
    let back: TargetSpec = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, spec);
}

#[test]
fn bad_target_configurations_are_refused_at_construction() {
    let build = |ssd: DeviceId, config: FlashcacheConfig| {
        Engine::new(
            EngineConfig {
                arena_pages: 2048,
                plugging: None,
                ..EngineConfig::default()
            },
            vec![
                DeviceInfo::new(SSD_SECTORS, 512),
                DeviceInfo::new(DISK_SECTORS, 512),
            ],
            TargetSpec::flashcache(ssd, DeviceId(1), config),
        )
    };
    let same = build(DeviceId(1), config(CacheMode::WriteThrough)).unwrap_err();
    assert!(same.to_string().contains("same device"), "{same}");
    let mut too_long = config(CacheMode::WriteThrough);
    too_long.table.target_sectors = DISK_SECTORS + 8;
    assert!(build(DeviceId(0), too_long).is_err());
    let mut bad_assoc = config(CacheMode::WriteThrough);
    bad_assoc.table.assoc = Associativity::Ways(300);
    let error = build(DeviceId(0), bad_assoc).unwrap_err();
    assert!(error.to_string().contains("associativity"), "{error}");
    let small_arena = Engine::new(
        EngineConfig {
            arena_pages: 512,
            plugging: None,
            ..EngineConfig::default()
        },
        vec![
            DeviceInfo::new(SSD_SECTORS, 512),
            DeviceInfo::new(DISK_SECTORS, 512),
        ],
        TargetSpec::flashcache(DeviceId(0), DeviceId(1), config(CacheMode::WriteThrough)),
    );
    assert!(small_arena.is_err(), "the kcopyd pool needs 1024 pages");
}

#[test]
fn a_halted_target_fails_its_bios_instead_of_hanging() {
    let mut config = config(CacheMode::WriteBack);
    config.options.md_write_failure = MdWriteFailure::Panic;
    let mut engine = engine(config);
    let mut platform = FakePlatform::uniform(2, 10_000);
    run(&mut engine, &mut platform, &mut ListSource::new(Vec::new()));
    message(&mut engine, &platform, "error_inject 0x10").expect("accepted");
    let now = platform.now_ns;
    let mut source = ListSource::new(vec![
        (now, bio(1, Op::Write, 0, 8)),
        (now + 1_000_000, bio(2, Op::Read, 800, 8)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    let phase = engine
        .target()
        .flashcache()
        .expect("running")
        .phase()
        .clone();
    assert!(
        matches!(phase, dmsim_engine::flashcache::Phase::Halted(_)),
        "{phase:?}"
    );
    assert_eq!(source.done_for(1).status, IoStatus::IoError);
    assert_eq!(source.done_for(2).status, IoStatus::IoError);
}

#[test]
fn an_ssd_timeout_in_writethrough_switches_to_bypass_and_reads_stay_correct() {
    let mut config = config(CacheMode::WriteThrough);
    config.options.ssd_timeout_ns = Some(1_000_000);
    let mut engine = engine(config);
    // SSD reads hang (until cancelled); everything else takes 10 µs.
    let mut platform = FakePlatform::new(
        2,
        Box::new(|io| {
            if io.device == DeviceId(0) && io.op == Op::Read {
                Fate::Hang
            } else {
                Fate::ok(10_000)
            }
        }),
    );
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 4096, 8)),
        (5_000_000, bio(2, Op::Read, 4096, 8)),
        (10_000_000, bio(3, Op::Read, 4096, 8)),
    ]);
    run(&mut engine, &mut platform, &mut source);
    for id in [2, 3] {
        let read = source.done_for(id);
        assert_eq!(read.status, IoStatus::Ok, "bio {id}");
        assert_eq!(read.data, stamps(4096, 8, 1), "bio {id}");
    }
    assert_eq!(platform.cancels.len(), 1, "the hung SSD read was cancelled");
    let fc = engine.target().flashcache().expect("running");
    assert!(
        fc.bypassing(),
        "a cache error switches writethrough to bypass"
    );
    assert_eq!(fc.errors().ssd_read_errors, 1);
    assert_eq!(fc.stats().read_hits, 1, "only the first read was a hit");
}

#[test]
fn faithful_flushes_complete_without_device_io() {
    let mut engine = engine(config(CacheMode::WriteBack));
    let mut platform = FakePlatform::uniform(2, 10_000);
    run(&mut engine, &mut platform, &mut ListSource::new(Vec::new()));
    let before = platform.submitted.len();
    let now = platform.now_ns;
    let mut flush = bio(1, Op::Flush, 0, 0);
    flush.data.clear();
    let mut source = ListSource::new(vec![(now, flush)]);
    run(&mut engine, &mut platform, &mut source);
    assert_eq!(source.done_for(1).status, IoStatus::Ok);
    assert_eq!(platform.submitted.len(), before, "no device saw the flush");
}

#[test]
fn honored_flushes_reach_both_devices_before_completing() {
    let mut config = config(CacheMode::WriteBack);
    config.options.honor_flush = true;
    let mut engine = engine(config);
    let mut platform = FakePlatform::uniform(2, 10_000);
    run(&mut engine, &mut platform, &mut ListSource::new(Vec::new()));
    let before = platform.submitted.len();
    let now = platform.now_ns;
    let mut flush = bio(1, Op::Flush, 0, 0);
    flush.data.clear();
    let mut source = ListSource::new(vec![(now, flush)]);
    run(&mut engine, &mut platform, &mut source);
    assert_eq!(source.done_for(1).status, IoStatus::Ok);
    let flushed: Vec<DeviceId> = platform.submitted[before..]
        .iter()
        .filter(|io| io.op == Op::Flush)
        .map(|io| io.device)
        .collect();
    assert_eq!(flushed, vec![DeviceId(0), DeviceId(1)]);
}
