//! kcopyd (spec §3, Decision 4) against the scripted fake platform: copies and zeroing,
//! sub-jobs (≤ 8 in flight), the page pool's head-of-line waiting, IGNORE_ERROR, WRITE_SEQ,
//! error bits, both generations, the throttle, and callbacks that never run inline.

mod common;

use common::{stamp, stamps, FakePlatform, Fate, Harness};
use dmsim_engine::content::SectorContent;
use dmsim_engine::services::dm_io::DmIoRegion;
use dmsim_engine::services::kcopyd::{KcopydConfig, KcopydError, KcopydFlags, KcopydPages};
use dmsim_engine::{
    Caller, DeviceId, DeviceInfo, EngineConfig, IoStatus, Op, ServiceEvent, Services,
};

const MS: u64 = 1_000_000;

fn harness(arena_pages: u32, platform: FakePlatform) -> Harness {
    let devices = vec![DeviceInfo::new(1 << 20, 512); 3];
    let services = Services::new(
        &EngineConfig {
            arena_pages,
            plugging: None,
            ..EngineConfig::default()
        },
        devices,
    )
    .unwrap();
    Harness::new(services, platform)
}

fn region(device: u16, sector: u64, sectors: u64) -> DmIoRegion {
    DmIoRegion {
        device: DeviceId(device),
        sector,
        sectors,
    }
}

fn done(h: &Harness) -> Vec<(u64, bool, u8)> {
    h.event_list()
        .into_iter()
        .filter_map(|e| match e {
            ServiceEvent::KcopydDone {
                caller,
                read_err,
                write_err,
                ..
            } => Some((caller.0, read_err, write_err)),
            _ => None,
        })
        .collect()
}

fn classic(pool_pages: u32) -> KcopydConfig {
    KcopydConfig::classic(pool_pages)
}

#[test]
fn a_copy_reads_once_and_writes_every_destination_then_calls_back_from_the_worker() {
    let mut h = harness(256, FakePlatform::uniform(3, MS));
    h.platform.fill(0, 0, &stamps(0, 64, 3));
    let client = h.services.kcopyd_client_create(classic(64), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 64),
            &[region(1, 100, 64), region(2, 200, 64)],
            KcopydFlags::default(),
            Caller(9),
        )
        .unwrap();
    // Nothing is called back inline.
    assert!(h.services.poll_event().is_none());
    h.run_until_quiet();
    let ops: Vec<(Op, u16)> = h
        .platform
        .submitted
        .iter()
        .map(|io| (io.op, io.device.0))
        .collect();
    assert_eq!(ops, vec![(Op::Read, 0), (Op::Write, 1), (Op::Write, 2)]);
    assert_eq!(
        h.platform.submitted[1].buffer,
        h.platform.submitted[0].buffer
    );
    assert_eq!(h.platform.read(1, 163), stamp(63, 3));
    assert_eq!(h.platform.read(2, 200), stamp(0, 3));
    assert_eq!(done(&h), vec![(9, false, 0)]);
    assert_eq!(h.events[0].0, 2 * MS);
    assert!(h.services.is_idle());
}

#[test]
fn a_zero_length_copy_completes_without_io_but_through_the_worker() {
    let mut h = harness(64, FakePlatform::uniform(3, MS));
    let client = h.services.kcopyd_client_create(classic(16), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 0),
            &[region(1, 0, 0)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    assert!(
        h.services.poll_event().is_none(),
        "callbacks never run inline"
    );
    h.pump();
    assert_eq!(done(&h), vec![(1, false, 0)]);
    assert!(h.platform.submitted.is_empty());
}

#[test]
fn a_long_copy_runs_at_most_eight_sub_jobs_in_offset_order() {
    let mut h = harness(512, FakePlatform::uniform(3, MS));
    h.platform.fill(0, 0, &stamps(0, 4096, 1));
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 4096),
            &[region(1, 0, 4096)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    let reads: Vec<u64> = h
        .platform
        .submitted
        .iter()
        .filter(|io| io.op == Op::Read)
        .map(|io| io.sector)
        .collect();
    assert_eq!(reads.len(), 32, "4096 sectors in 128-sector chunks");
    assert_eq!(&reads[..8], &[0, 128, 256, 384, 512, 640, 768, 896]);
    assert!(h.platform.submitted.iter().all(|io| io.sectors == 128));
    assert_eq!(h.platform.max_in_flight, 8);
    assert_eq!(h.services.stats().kcopyd.sub_jobs_dispatched, 32);
    assert_eq!(done(&h), vec![(1, false, 0)]);
    for s in [0, 127, 128, 2048, 4095] {
        assert_eq!(h.platform.read(1, s), stamp(s, 1));
    }
}

#[test]
fn classic_splits_a_job_of_exactly_one_sub_job_and_modern_does_not() {
    let mut h = harness(512, FakePlatform::uniform(3, MS));
    let classic_client = h.services.kcopyd_client_create(classic(64), "c").unwrap();
    h.services
        .kcopyd_copy(
            classic_client,
            region(0, 0, 128),
            &[region(1, 0, 128)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(h.services.stats().kcopyd.sub_jobs_dispatched, 1);
    let modern_client = h
        .services
        .kcopyd_client_create(KcopydConfig::modern(), "m")
        .unwrap();
    h.services
        .kcopyd_copy(
            modern_client,
            region(0, 0, 1024),
            &[region(1, 0, 1024)],
            KcopydFlags::default(),
            Caller(2),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(
        h.services.stats().kcopyd.sub_jobs_dispatched,
        1,
        "1024 = sub job: no split"
    );
    assert_eq!(done(&h), vec![(1, false, 0), (2, false, 0)]);
}

#[test]
fn jobs_wait_for_pool_pages_head_of_line() {
    let mut h = harness(128, FakePlatform::new(3, Box::new(|_| Fate::Hang)));
    // A pool of 32 pages; 120-sector jobs need 15 pages and are not split.
    let client = h
        .services
        .kcopyd_client_create(classic(32), "pool")
        .unwrap();
    for (caller, sectors) in [(1, 120), (2, 120), (3, 120), (4, 8)] {
        h.services
            .kcopyd_copy(
                client,
                region(0, caller * 1000, sectors),
                &[region(1, caller * 1000, sectors)],
                KcopydFlags::default(),
                Caller(caller),
            )
            .unwrap();
    }
    h.pump();
    // Jobs 1 and 2 hold 30 pages. Job 3 cannot get 15; job 4 would fit in the 2 left, but
    // waits behind job 3.
    let reads: Vec<u64> = h.platform.submitted.iter().map(|io| io.sector).collect();
    assert_eq!(reads, vec![1000, 2000]);
    let waiting: Vec<String> = h
        .services
        .waiting_report()
        .into_iter()
        .filter(|w| w.component == "kcopyd")
        .map(|w| w.description)
        .collect();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting[0].contains("waits for 15 pages") && waiting[0].contains("(2 free of 32)"));
    // Job 1 reads and writes; its pages return to the pool only when it completes.
    let read1 = h.platform.submitted[0].tag;
    h.platform.release(read1, IoStatus::Ok);
    h.step();
    assert_eq!(h.platform.submitted.len(), 3, "job 1's write");
    assert_eq!(h.platform.submitted[2].op, Op::Write);
    let write1 = h.platform.submitted[2].tag;
    h.platform.release(write1, IoStatus::Ok);
    h.step();
    let reads: Vec<u64> = h
        .platform
        .submitted
        .iter()
        .filter(|io| io.op == Op::Read)
        .map(|io| io.sector)
        .collect();
    assert_eq!(reads, vec![1000, 2000, 3000, 4000]);
    assert_eq!(done(&h), vec![(1, false, 0)]);
}

#[test]
fn a_read_error_without_ignore_error_skips_the_writes() {
    let platform = FakePlatform::new(
        3,
        Box::new(|io| Fate::After {
            delay_ns: MS,
            status: if io.op == Op::Read {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    );
    let mut h = harness(128, platform);
    h.platform.fill(1, 0, &stamps(0, 8, 4));
    let client = h.services.kcopyd_client_create(classic(16), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 8),
            &[region(1, 0, 8)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(done(&h), vec![(1, true, 0)]);
    assert_eq!(h.platform.submitted.len(), 1);
    assert_eq!(h.platform.read(1, 0), stamp(0, 4), "destination untouched");
    // With IGNORE_ERROR the write happens, of the zero-filled failed read.
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 8),
            &[region(1, 0, 8)],
            KcopydFlags {
                ignore_error: true,
                write_seq: false,
            },
            Caller(2),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(done(&h), vec![(1, true, 0), (2, true, 0)]);
    assert_eq!(h.platform.read(1, 0), SectorContent::Zero);
}

#[test]
fn write_errors_are_a_bitset_per_destination() {
    let platform = FakePlatform::new(
        3,
        Box::new(|io| Fate::After {
            delay_ns: MS,
            status: if io.op == Op::Write && io.device == DeviceId(2) {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    );
    let mut h = harness(128, platform);
    let client = h.services.kcopyd_client_create(classic(16), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 16),
            &[region(1, 0, 16), region(2, 0, 16), region(1, 64, 16)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(done(&h), vec![(1, false, 0b010)]);
}

fn failing_chunk_platform(bad_read_sector: u64) -> FakePlatform {
    FakePlatform::new(
        3,
        Box::new(move |io| Fate::After {
            delay_ns: MS,
            status: if io.op == Op::Read && io.sector == bad_read_sector {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    )
}

#[test]
fn an_error_stops_a_split_job_unless_errors_are_ignored() {
    let mut h = harness(512, failing_chunk_platform(128));
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 4096),
            &[region(1, 0, 4096)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    let reads = |h: &Harness| {
        h.platform
            .submitted
            .iter()
            .filter(|io| io.op == Op::Read)
            .count()
    };
    // The 8 first chunks were in flight when chunk 1 failed; no further chunk starts.
    assert_eq!(reads(&h), 8);
    assert_eq!(done(&h), vec![(1, true, 0)]);

    let mut h = harness(512, failing_chunk_platform(128));
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 4096),
            &[region(1, 0, 4096)],
            KcopydFlags {
                ignore_error: true,
                write_seq: false,
            },
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(reads(&h), 32);
    assert_eq!(done(&h), vec![(1, true, 0)]);
}

/// Reads finish in reverse chunk order (chunk 7 first); writes are quick.
fn reverse_reads() -> FakePlatform {
    FakePlatform::new(
        3,
        Box::new(|io| {
            if io.op == Op::Read {
                Fate::ok((8 - io.sector / 128) * MS)
            } else {
                Fate::ok(1000)
            }
        }),
    )
}

fn write_order(h: &Harness) -> Vec<u64> {
    h.platform
        .submitted
        .iter()
        .filter(|io| io.op == Op::Write)
        .map(|io| io.sector)
        .collect()
}

#[test]
fn write_seq_issues_chunk_writes_in_offset_order() {
    let mut h = harness(512, reverse_reads());
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 1024),
            &[region(1, 0, 1024)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(write_order(&h), vec![896, 768, 640, 512, 384, 256, 128, 0]);

    let mut h = harness(512, reverse_reads());
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 1024),
            &[region(1, 0, 1024)],
            KcopydFlags {
                ignore_error: true, // cleared by WRITE_SEQ
                write_seq: true,
            },
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(write_order(&h), vec![0, 128, 256, 384, 512, 640, 768, 896]);
    assert_eq!(done(&h), vec![(1, false, 0)]);
}

#[test]
fn write_seq_fails_later_chunks_at_once_after_a_write_error() {
    let platform = FakePlatform::new(
        3,
        Box::new(|io| match io.op {
            Op::Read => Fate::ok(MS),
            _ => Fate::After {
                delay_ns: MS,
                status: if io.sector == 256 {
                    IoStatus::IoError
                } else {
                    IoStatus::Ok
                },
            },
        }),
    );
    let mut h = harness(512, platform);
    let client = h.services.kcopyd_client_create(classic(128), "t").unwrap();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 2048),
            &[region(1, 0, 2048)],
            KcopydFlags {
                ignore_error: false,
                write_seq: true,
            },
            Caller(1),
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(done(&h), vec![(1, false, 1)]);
    // The 8 first chunks read together and issued their writes in order. Chunks 0 and 1
    // finished (at the same instant, just before chunk 2's write failed) and took chunks 8
    // and 9, whose reads ran; their writes then failed at once without reaching a device.
    assert_eq!(write_order(&h), vec![0, 128, 256, 384, 512, 640, 768, 896]);
    let reads: Vec<u64> = h
        .platform
        .submitted
        .iter()
        .filter(|io| io.op == Op::Read)
        .map(|io| io.sector)
        .collect();
    assert_eq!(reads.len(), 10);
    assert_eq!(&reads[8..], &[1024, 1152]);
    assert!(h.services.is_idle());
}

#[test]
fn zeroing_writes_the_shared_zero_page_without_reading_or_pool_pages() {
    let mut h = harness(64, FakePlatform::uniform(3, MS));
    h.platform.fill(1, 0, &stamps(0, 200, 2));
    h.platform.fill(2, 50, &stamps(50, 200, 2));
    let client = h.services.kcopyd_client_create(classic(16), "t").unwrap();
    h.services
        .kcopyd_zero(
            client,
            &[region(1, 0, 200), region(2, 50, 200)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.pump();
    let zero = h.services.zero_page();
    assert!(h
        .platform
        .submitted
        .iter()
        .all(|io| io.op == Op::Write && io.buffer.pages.iter().all(|&p| p == zero)));
    h.run_until_quiet();
    assert_eq!(done(&h), vec![(1, false, 0)]);
    for s in [0, 127, 128, 199] {
        assert_eq!(h.platform.read(1, s), SectorContent::Zero);
        assert_eq!(h.platform.read(2, 50 + s), SectorContent::Zero);
    }
    assert_eq!(
        h.platform.read(1, 200),
        SectorContent::Zero,
        "never written"
    );
    assert_eq!(h.platform.read(2, 250), SectorContent::Zero);
    assert_eq!(h.platform.read(2, 49), SectorContent::Zero);
    assert_eq!(h.services.stats().kcopyd.sub_jobs_dispatched, 2, "128 + 72");
    assert_eq!(h.services.arena().sector(zero, 0), SectorContent::Zero);
}

#[test]
fn modern_pages_come_from_the_arena_and_the_reserve_refills() {
    let mut h = harness(512, FakePlatform::uniform(3, MS));
    let config = KcopydConfig {
        pages: KcopydPages::Reserve { pages: 16 },
        ..KcopydConfig::modern()
    };
    let client = h.services.kcopyd_client_create(config, "m").unwrap();
    let free = h.services.arena().free_pages();
    h.services
        .kcopyd_copy(
            client,
            region(0, 0, 1024),
            &[region(1, 0, 1024)],
            KcopydFlags::default(),
            Caller(1),
        )
        .unwrap();
    h.pump();
    assert_eq!(h.services.arena().free_pages(), free - 128);
    h.run_until_quiet();
    assert_eq!(h.services.arena().free_pages(), free);
    assert_eq!(done(&h), vec![(1, false, 0)]);
}

#[test]
fn a_throttled_client_sleeps_before_issuing_io() {
    let mut h = harness(512, FakePlatform::uniform(3, 50 * MS));
    let config = KcopydConfig {
        throttle_percent: 20,
        ..classic(64)
    };
    let client = h.services.kcopyd_client_create(config, "slow").unwrap();
    for i in 0..4 {
        h.services
            .kcopyd_copy(
                client,
                region(0, i * 64, 64),
                &[region(1, i * 64, 64)],
                KcopydFlags::default(),
                Caller(i),
            )
            .unwrap();
    }
    h.run_until_quiet();
    assert_eq!(done(&h).len(), 4);
    assert!(h.services.stats().kcopyd.throttle_sleeps > 0);
    // Sleeping stretched the run far beyond the 100 ms of unthrottled IO.
    assert!(
        h.platform.now_ns >= 300 * MS,
        "ended at {}",
        h.platform.now_ns
    );
}

#[test]
fn bad_jobs_and_configs_are_refused() {
    let mut h = harness(64, FakePlatform::uniform(3, MS));
    assert!(matches!(
        h.services.kcopyd_client_create(classic(8), "small"),
        Err(KcopydError::BadConfig(_))
    ));
    assert!(matches!(
        h.services.kcopyd_client_create(classic(1024), "huge"),
        Err(KcopydError::ArenaTooSmall { .. })
    ));
    let client = h.services.kcopyd_client_create(classic(16), "t").unwrap();
    let nine: Vec<DmIoRegion> = (0..9).map(|i| region(1, i * 8, 8)).collect();
    let cases: Vec<(Vec<DmIoRegion>, &str)> = vec![
        (vec![], "BadDestinationCount"),
        (nine, "BadDestinationCount"),
        (vec![region(1, 0, 16)], "LengthMismatch"),
        (vec![region(1, (1 << 20) - 4, 8)], "BadRegion"),
    ];
    for (dests, kind) in cases {
        let error = h
            .services
            .kcopyd_copy(
                client,
                region(0, 0, 8),
                &dests,
                KcopydFlags::default(),
                Caller(1),
            )
            .unwrap_err();
        assert!(format!("{error:?}").starts_with(kind), "{error:?}");
    }
    h.pump();
    assert!(h.services.is_idle());
}
