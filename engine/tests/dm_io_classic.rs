//! dm_io's classic face (spec §2, Decision 1 and 3) against the scripted fake platform:
//! the extra-reference rule, multi-region writes, the read-region rule, error bits and
//! zero-filling, splitting, sync vs async, and client slots (min_ios).

mod common;

use common::{stamp, stamps, FakePlatform, Fate, Harness, Trace};
use dmsim_engine::content::SectorContent;
use dmsim_engine::services::dm_io::{DmIoError, DmIoRegion, DmIoRequest, DM_IO_MAX_REGIONS};
use dmsim_engine::{
    Buffer, Caller, DeviceId, DeviceInfo, EngineConfig, IoStatus, Op, ServiceEvent, Services,
};

fn device(max_sectors: u32) -> DeviceInfo {
    DeviceInfo {
        max_sectors,
        ..DeviceInfo::new(1 << 20, 512)
    }
}

fn harness(devices: Vec<DeviceInfo>, platform: FakePlatform) -> Harness {
    let services = Services::new(
        &EngineConfig {
            arena_pages: 512,
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

/// A buffer of `pages` fresh pages holding `contents` from its start.
fn buffer_with(h: &mut Harness, pages: usize, contents: &[SectorContent]) -> Buffer {
    let buffer = Buffer::from_pages(h.services.arena_mut().alloc(pages).unwrap());
    h.services.arena_mut().write_sectors(&buffer, contents);
    buffer
}

fn request(op: Op, buffer: Buffer, notify: bool) -> DmIoRequest {
    DmIoRequest {
        op,
        fua: false,
        sync: false,
        buffer,
        notify,
    }
}

fn dm_io_done(h: &Harness) -> Vec<(u64, bool)> {
    h.event_list()
        .into_iter()
        .filter_map(|e| match e {
            ServiceEvent::DmIoDone {
                error_bits, sync, ..
            } => Some((error_bits, sync)),
            _ => None,
        })
        .collect()
}

#[test]
fn completion_waits_for_dispatch_even_when_ios_complete_instantly() {
    let mut h = harness(vec![device(8)], FakePlatform::uniform(1, 0));
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 3, &stamps(0, 24, 1));
    // Three regions of 24 sectors, each split into three 8-sector IOs: nine device IOs.
    let regions = [region(0, 0, 24), region(0, 100, 24), region(0, 200, 24)];
    h.services
        .dm_io(
            client,
            Caller(7),
            request(Op::Write, buffer, true),
            &regions,
        )
        .unwrap();
    h.run_until_quiet();
    let submits = h
        .trace
        .iter()
        .filter(|t| matches!(t, Trace::Submit(_)))
        .count();
    assert_eq!(submits, 9);
    let first_completion = h
        .trace
        .iter()
        .position(|t| matches!(t, Trace::Complete(..)))
        .unwrap();
    assert!(
        h.trace[..first_completion]
            .iter()
            .filter(|t| matches!(t, Trace::Submit(_)))
            .count()
            == 9
    );
    let event_at = h
        .trace
        .iter()
        .position(|t| matches!(t, Trace::Event(_)))
        .unwrap();
    let last_completion = h
        .trace
        .iter()
        .rposition(|t| matches!(t, Trace::Complete(..)))
        .unwrap();
    assert!(
        event_at > last_completion,
        "notified before every IO completed"
    );
    assert_eq!(dm_io_done(&h), vec![(0, false)]);
    assert_eq!(h.events[0].1.caller(), Caller(7));
    assert_eq!(h.platform.read(0, 223), stamp(23, 1));
    assert!(h.services.is_idle());
}

#[test]
fn a_request_with_no_device_io_still_notifies_exactly_once() {
    let mut h = harness(vec![device(256)], FakePlatform::uniform(1, 0));
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 1, &[]);
    for notify in [true, false] {
        h.services
            .dm_io(
                client,
                Caller(1),
                request(Op::Write, buffer.clone(), notify),
                &[region(0, 0, 0), region(0, 64, 0)],
            )
            .unwrap();
        // Never inline: nothing is notified until the services run.
        assert!(h.services.poll_event().is_none());
        h.pump();
    }
    // Zero regions at all.
    h.services
        .dm_io(client, Caller(1), request(Op::Write, buffer, true), &[])
        .unwrap();
    h.run_until_quiet();
    assert_eq!(dm_io_done(&h), vec![(0, false), (0, true), (0, false)]);
    assert!(h.platform.submitted.is_empty());
}

#[test]
fn a_write_to_64_regions_writes_the_same_memory_everywhere() {
    let mut h = harness(vec![device(256)], FakePlatform::uniform(1, 1000));
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 1, &stamps(5000, 8, 3));
    let regions: Vec<DmIoRegion> = (0..DM_IO_MAX_REGIONS as u64)
        .map(|i| region(0, i * 64, 8))
        .collect();
    h.services
        .dm_io(
            client,
            Caller(1),
            request(Op::Write, buffer.clone(), true),
            &regions,
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(h.platform.submitted.len(), 64);
    assert!(h.platform.submitted.iter().all(|io| io.buffer == buffer));
    for i in 0..64 {
        assert_eq!(h.platform.read(0, i * 64 + 7), stamp(5007, 3));
    }
    assert_eq!(dm_io_done(&h), vec![(0, false)]);
    // 65 regions are refused.
    let mut too_many = regions.clone();
    too_many.push(region(0, 9000, 8));
    assert_eq!(
        h.services.dm_io(
            client,
            Caller(1),
            request(Op::Write, buffer, true),
            &too_many
        ),
        Err(DmIoError::TooManyRegions { regions: 65 })
    );
}

#[test]
fn error_bits_name_exactly_the_failed_regions() {
    let platform = FakePlatform::new(
        1,
        Box::new(|io| Fate::After {
            delay_ns: 10,
            status: if io.sector == 5 * 64 || io.sector == 63 * 64 + 8 {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    );
    let mut h = harness(vec![device(8)], platform);
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 2, &stamps(0, 16, 1));
    // 64 regions of 16 sectors: two IOs each; region 5 fails its first IO, region 63 its
    // second.
    let regions: Vec<DmIoRegion> = (0..64).map(|i| region(0, i * 64, 16)).collect();
    h.services
        .dm_io(
            client,
            Caller(1),
            request(Op::Write, buffer, true),
            &regions,
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(dm_io_done(&h), vec![((1 << 5) | (1 << 63), false)]);
}

#[test]
fn a_read_of_two_regions_is_eio_at_once() {
    let mut h = harness(vec![device(256)], FakePlatform::uniform(1, 0));
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 1, &[]);
    let regions = [region(0, 0, 8), region(0, 8, 8)];
    // Async: -EIO and fn(1, ctx).
    let result = h.services.dm_io(
        client,
        Caller(4),
        request(Op::Read, buffer.clone(), true),
        &regions,
    );
    assert_eq!(result, Err(DmIoError::ReadNeedsOneRegion { regions: 2 }));
    h.pump();
    assert_eq!(
        h.event_list(),
        vec![ServiceEvent::DmIoDone {
            caller: Caller(4),
            handle: None,
            error_bits: 1,
            sync: false
        }]
    );
    // Sync: -EIO only.
    let result = h.services.dm_io(
        client,
        Caller(5),
        request(Op::Read, buffer, false),
        &regions,
    );
    assert_eq!(result, Err(DmIoError::ReadNeedsOneRegion { regions: 2 }));
    h.pump();
    assert_eq!(h.events.len(), 1);
    assert!(h.platform.submitted.is_empty());
}

#[test]
fn a_failed_read_piece_is_zero_filled_and_flags_the_region() {
    let platform = FakePlatform::new(
        1,
        Box::new(|io| Fate::After {
            delay_ns: 10,
            status: if io.sector == 108 {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    );
    let mut h = harness(vec![device(8)], platform);
    h.platform.fill(0, 100, &stamps(100, 24, 9));
    let client = h.services.dm_io_client_create(16, "test");
    // Old content in the buffer must not survive where the read failed.
    let buffer = buffer_with(&mut h, 3, &stamps(0, 24, 77));
    h.services
        .dm_io(
            client,
            Caller(1),
            request(Op::Read, buffer.clone(), false),
            &[region(0, 100, 24)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(dm_io_done(&h), vec![(1, true)]);
    let mut data = Vec::new();
    h.services.arena().read_sectors(&buffer, 24, &mut data);
    assert_eq!(data[7], stamp(107, 9));
    assert!(data[8..16].iter().all(|&c| c == SectorContent::Zero));
    assert_eq!(data[16], stamp(116, 9));
    // Sync requests mark their IO REQ_SYNC.
    assert!(h.platform.submitted.iter().all(|io| io.sync));
}

#[test]
fn regions_are_split_by_device_limit_and_bio_vectors_from_an_offset_buffer() {
    let mut h = harness(vec![device(256)], FakePlatform::uniform(1, 5));
    let client = h.services.dm_io_client_create(16, "test");
    let pages = h.services.arena_mut().alloc(76).unwrap();
    let buffer = Buffer {
        pages,
        offset_sectors: 3,
    };
    h.services
        .dm_io(
            client,
            Caller(1),
            request(Op::Write, buffer.clone(), true),
            &[region(0, 0, 600)],
        )
        .unwrap();
    h.run_until_quiet();
    let ios: Vec<(u64, u32, u32)> = h
        .platform
        .submitted
        .iter()
        .map(|io| (io.sector, io.sectors, io.buffer.offset_sectors))
        .collect();
    assert_eq!(ios, vec![(0, 256, 3), (256, 256, 3), (512, 88, 3)]);
    assert_eq!(h.platform.submitted[1].buffer, buffer.slice(256, 256));
    for io in &h.platform.submitted {
        assert!(io.buffer.capacity_sectors() as u32 - io.sectors < 8);
    }
}

#[test]
fn an_unsupported_discard_fails_its_region_at_once_and_flushes_are_empty() {
    let mut with_discard = device(256);
    with_discard.max_discard_sectors = 128;
    let mut h = harness(vec![device(256), with_discard], FakePlatform::uniform(2, 5));
    let client = h.services.dm_io_client_create(16, "test");
    h.services
        .dm_io(
            client,
            Caller(1),
            request(Op::Discard, Buffer::empty(), true),
            &[region(0, 0, 64), region(1, 0, 300)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(dm_io_done(&h), vec![(1, false)]);
    let lens: Vec<u32> = h.platform.submitted.iter().map(|io| io.sectors).collect();
    assert_eq!(lens, vec![128, 128, 44]);
    h.platform.submitted.clear();
    h.services
        .dm_io(
            client,
            Caller(2),
            request(Op::Flush, Buffer::empty(), false),
            &[region(0, 0, 0), region(1, 0, 0)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(h.platform.submitted.len(), 2);
    assert!(h
        .platform
        .submitted
        .iter()
        .all(|io| io.op == Op::Flush && io.sectors == 0));
}

#[test]
fn a_full_client_makes_requests_wait_in_order_and_never_fail() {
    let mut h = harness(
        vec![device(256)],
        FakePlatform::new(1, Box::new(|_| Fate::Hang)),
    );
    let client = h.services.dm_io_client_create(2, "tiny");
    let buffer = buffer_with(&mut h, 1, &stamps(0, 8, 1));
    for i in 0..5u64 {
        h.services
            .dm_io(
                client,
                Caller(i),
                request(Op::Write, buffer.clone(), true),
                &[region(0, i * 8, 8)],
            )
            .unwrap();
    }
    h.pump();
    assert_eq!(h.platform.submitted.len(), 2);
    let waiting = h.services.waiting_report();
    let dm_io_waiting = waiting.iter().filter(|w| w.component == "dm_io").count();
    assert_eq!(dm_io_waiting, 3);
    assert!(waiting[0]
        .description
        .contains("client \"tiny\" (2 of 2 in flight)"));
    // Nothing can move: the run is a deadlock, visible as waiting work with nothing pending.
    h.run_until_quiet();
    assert!(!h.services.is_idle());
    // Releasing one IO lets exactly the next request (in submission order) go.
    let first = h.platform.submitted[0].tag;
    h.platform.release(first, IoStatus::Ok);
    h.step();
    assert_eq!(h.platform.submitted.len(), 3);
    assert_eq!(h.platform.submitted[2].sector, 16);
    for tag in h.platform.pending_tags() {
        h.platform.release(tag, IoStatus::Ok);
    }
    while h.platform.submitted.len() < 5 || !h.platform.pending.is_empty() {
        for tag in h.platform.pending_tags() {
            h.platform.release(tag, IoStatus::Ok);
        }
        assert!(h.step());
    }
    h.run_until_quiet();
    // Dispatched in submission order; each notified exactly once.
    let sectors: Vec<u64> = h.platform.submitted.iter().map(|io| io.sector).collect();
    assert_eq!(sectors, vec![0, 8, 16, 24, 32]);
    let mut callers: Vec<u64> = h.event_list().iter().map(|e| e.caller().0).collect();
    callers.sort();
    assert_eq!(callers, vec![0, 1, 2, 3, 4]);
    assert!(h.services.is_idle());
}

#[test]
fn invalid_regions_are_refused() {
    let mut h = harness(vec![device(256)], FakePlatform::uniform(1, 5));
    let client = h.services.dm_io_client_create(16, "test");
    let buffer = buffer_with(&mut h, 1, &[]);
    let cases = [
        (region(0, (1 << 20) - 4, 8), "BadRegion"),
        (region(3, 0, 8), "UnknownDevice"),
        (region(0, 0, 16), "BufferTooSmall"),
    ];
    for (bad, kind) in cases {
        let error = h
            .services
            .dm_io(
                client,
                Caller(1),
                request(Op::Write, buffer.clone(), true),
                &[bad],
            )
            .unwrap_err();
        assert!(format!("{error:?}").starts_with(kind), "{error:?}");
    }
    h.pump();
    assert!(h.events.is_empty());
    assert!(h.services.is_idle() || h.services.device_ios_in_flight() == 0);
}
