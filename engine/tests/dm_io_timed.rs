//! dm_io's timed face (spec §4, Decisions 1–2): every region state path with a device that
//! hangs, completes late, or completes despite a cancel; zombies keeping buffers pinned; late
//! writes reported as contents unknown; cancel by handle and by device.

mod common;

use common::{stamps, CancelEffect, FakePlatform, Fate, Harness, Trace};
use dmsim_engine::services::dm_io::{
    DmIoError, DmIoRegion, DmIoRequest, RegionState, TimedControl,
};
use dmsim_engine::{
    Buffer, Caller, Control, DeviceId, DeviceInfo, Engine, EngineConfig, Extent, Input, IoStatus,
    Op, ServiceEvent, Services, TargetSpec,
};

const MS: u64 = 1_000_000;

fn harness(devices: usize, platform: FakePlatform) -> Harness {
    let services = Services::new(
        &EngineConfig {
            arena_pages: 64,
            plugging: None,
            ..EngineConfig::default()
        },
        vec![DeviceInfo::new(1 << 20, 512); devices],
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

fn write_request(h: &mut Harness, notify: bool) -> (DmIoRequest, Buffer) {
    let buffer = Buffer::from_pages(h.services.arena_mut().alloc(1).unwrap());
    h.services
        .arena_mut()
        .write_sectors(&buffer, &stamps(0, 8, 5));
    (
        DmIoRequest {
            op: Op::Write,
            fua: false,
            sync: false,
            buffer: buffer.clone(),
            notify,
        },
        buffer,
    )
}

fn timeout(ms: u64, cancel_on_timeout: bool) -> TimedControl {
    TimedControl {
        timeout_ns: Some(ms * MS),
        cancel_on_timeout,
    }
}

/// (time, region, state) of every region notice, and (time, states) of the final event.
fn notices(h: &Harness) -> Vec<(u64, u8, RegionState)> {
    h.events
        .iter()
        .filter_map(|(at, e)| match e {
            ServiceEvent::DmIoRegion { notice, .. } => Some((*at, notice.region, notice.state)),
            _ => None,
        })
        .collect()
}

/// (time, zombies left) of every final event.
type Finals = Vec<(u64, u32)>;
/// (time, region, status) of every zombie's end.
type ZombieEnds = Vec<(u64, u8, IoStatus)>;

/// The final events and the zombie ends a harness saw.
fn zombies(h: &Harness) -> (Finals, ZombieEnds) {
    let mut finals = Vec::new();
    let mut ends = Vec::new();
    for (at, event) in &h.events {
        match event {
            ServiceEvent::DmIoTimedDone { zombies, .. } => finals.push((*at, *zombies)),
            ServiceEvent::DmIoZombieEnded { region, status, .. } => {
                ends.push((*at, *region, *status))
            }
            _ => {}
        }
    }
    (finals, ends)
}

fn finals(h: &Harness) -> Vec<(u64, Vec<RegionState>)> {
    h.events
        .iter()
        .filter_map(|(at, e)| match e {
            ServiceEvent::DmIoTimedDone { states, .. } => Some((*at, states.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn regions_that_finish_in_time_are_ok_then_the_request_returns() {
    let mut h = harness(2, FakePlatform::uniform(2, 2 * MS));
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(10, false),
            &[region(0, 0, 8), region(1, 0, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(
        notices(&h),
        vec![(2 * MS, 0, RegionState::Ok), (2 * MS, 1, RegionState::Ok)]
    );
    assert_eq!(finals(&h), vec![(2 * MS, vec![RegionState::Ok; 2])]);
    assert!(h.services.poll_deadline().is_none(), "deadline cleared");
    assert!(h.services.is_idle());
}

#[test]
fn a_late_region_is_noticed_as_timeout_then_again_when_it_completes() {
    let platform = FakePlatform::new(
        2,
        Box::new(|io| {
            Fate::ok(if io.device == DeviceId(1) {
                30 * MS
            } else {
                MS
            })
        }),
    );
    let mut h = harness(2, platform);
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(10, false),
            &[region(0, 0, 8), region(1, 0, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(
        notices(&h),
        vec![
            (MS, 0, RegionState::Ok),
            (10 * MS, 1, RegionState::Timeout),
            (30 * MS, 1, RegionState::Ok),
        ]
    );
    // Returned upward only when every region is final.
    assert_eq!(finals(&h), vec![(30 * MS, vec![RegionState::Ok; 2])]);
    assert!(h.platform.cancels.is_empty());
    assert!(h.unknown.is_empty());
}

#[test]
fn a_timed_out_region_that_then_fails_ends_in_error() {
    let platform = FakePlatform::new(
        1,
        Box::new(|_| Fate::After {
            delay_ns: 20 * MS,
            status: IoStatus::IoError,
        }),
    );
    let mut h = harness(1, platform);
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(5, false),
            &[region(0, 0, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(
        notices(&h),
        vec![
            (5 * MS, 0, RegionState::Timeout),
            (20 * MS, 0, RegionState::Error)
        ]
    );
    assert_eq!(finals(&h), vec![(20 * MS, vec![RegionState::Error])]);
}

#[test]
fn cancel_on_timeout_with_a_hung_device_leaves_a_pinned_zombie() {
    let mut h = harness(1, FakePlatform::new(1, Box::new(|_| Fate::Hang)));
    h.platform.cancel_effect = CancelEffect::Ignored; // the device does not answer at all
    let client = h.services.dm_io_client_create(16, "t");
    let (request, buffer) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(10, true),
            &[region(0, 40, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(notices(&h), vec![(10 * MS, 0, RegionState::Cancelled)]);
    assert_eq!(finals(&h), vec![(10 * MS, vec![RegionState::Cancelled])]);
    let tag = h.platform.submitted[0].tag;
    assert_eq!(h.platform.cancels, vec![tag]);
    // The caller got its request back and releases its buffer, but the page stays pinned.
    let free_before = h.services.arena().free_pages();
    h.services.arena_mut().release_all(&buffer.pages);
    assert_eq!(h.services.arena().free_pages(), free_before);
    assert_eq!(h.services.arena().pinned_released_pages(), 1);
    assert!(!h.services.is_idle(), "a zombie IO is still in flight");
    h.check();
    // The device finally completes the write: the range's content is unknown.
    h.platform.release(tag, IoStatus::Ok);
    h.run_until_quiet();
    assert_eq!(h.unknown, vec![(DeviceId(0), Extent::new(40, 8))]);
    assert!(h.event_list().iter().any(|e| matches!(
        e,
        ServiceEvent::DmIoLateWrite {
            region: 0,
            status: IoStatus::Ok,
            ..
        }
    )));
    assert_eq!(h.services.arena().free_pages(), free_before + 1);
    assert_eq!(h.services.arena().pinned_released_pages(), 0);
    assert!(h.services.is_idle());
    // The return said one zombie was left; its end (after the late write) is reported too.
    let (finals, ends) = zombies(&h);
    assert_eq!(finals, vec![(10 * MS, 1)]);
    assert_eq!(ends.len(), 1);
    assert_eq!((ends[0].1, ends[0].2), (0, IoStatus::Ok));
    let late = h
        .event_list()
        .iter()
        .position(|e| matches!(e, ServiceEvent::DmIoLateWrite { .. }));
    let end = h
        .event_list()
        .iter()
        .position(|e| matches!(e, ServiceEvent::DmIoZombieEnded { .. }));
    assert!(late.unwrap() < end.unwrap(), "the late write comes first");
}

#[test]
fn no_notify_and_a_timeout_cancels_automatically_and_reports_only_the_end() {
    let mut h = harness(1, FakePlatform::new(1, Box::new(|_| Fate::Hang)));
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, false);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(3, false),
            &[region(0, 0, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert!(notices(&h).is_empty());
    assert_eq!(finals(&h), vec![(3 * MS, vec![RegionState::Cancelled])]);
    // The platform honoured the cancel: no late write, nothing unknown.
    assert_eq!(
        h.platform
            .completed
            .iter()
            .map(|c| c.status)
            .collect::<Vec<_>>(),
        vec![IoStatus::Cancelled]
    );
    assert!(h.unknown.is_empty());
    assert!(h.services.is_idle());
    // A zombie that really was cancelled still ends, and says so.
    assert_eq!(
        zombies(&h),
        (vec![(3 * MS, 1)], vec![(3 * MS, 0, IoStatus::Cancelled)])
    );
}

#[test]
fn cancel_by_handle_that_the_device_ignores_completes_anyway_as_a_late_write() {
    let mut h = harness(1, FakePlatform::uniform(1, 50 * MS));
    h.platform.cancel_effect = CancelEffect::Ignored;
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, true);
    let handle = h
        .services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            TimedControl::default(),
            &[region(0, 8, 8)],
        )
        .unwrap();
    h.pump();
    h.services.dm_io_cancel_by_handle(handle).unwrap();
    h.pump();
    assert_eq!(notices(&h), vec![(0, 0, RegionState::Cancelled)]);
    assert_eq!(finals(&h), vec![(0, vec![RegionState::Cancelled])]);
    // The handle is stale now.
    assert_eq!(
        h.services.dm_io_cancel_by_handle(handle),
        Err(DmIoError::UnknownHandle)
    );
    h.run_until_quiet();
    assert_eq!(
        h.platform.read(0, 8),
        common::stamp(0, 5),
        "the write happened"
    );
    assert_eq!(h.unknown, vec![(DeviceId(0), Extent::new(8, 8))]);
    let cancel_at = h
        .trace
        .iter()
        .position(|t| matches!(t, Trace::Cancel(_)))
        .unwrap();
    let unknown_at = h
        .trace
        .iter()
        .position(|t| matches!(t, Trace::Unknown(..)))
        .unwrap();
    assert!(cancel_at < unknown_at);
}

#[test]
fn a_late_read_is_not_a_contents_problem() {
    let mut h = harness(1, FakePlatform::uniform(1, 50 * MS));
    h.platform.cancel_effect = CancelEffect::Ignored;
    let client = h.services.dm_io_client_create(16, "t");
    let buffer = Buffer::from_pages(h.services.arena_mut().alloc(1).unwrap());
    let request = DmIoRequest {
        op: Op::Read,
        fua: false,
        sync: true,
        buffer,
        notify: true,
    };
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            timeout(1, true),
            &[region(0, 0, 8)],
        )
        .unwrap();
    h.run_until_quiet();
    assert_eq!(finals(&h), vec![(MS, vec![RegionState::Cancelled])]);
    assert!(h.unknown.is_empty());
    assert!(h.services.is_idle());
}

#[test]
fn cancel_by_device_cancels_only_that_device_s_regions() {
    let platform = FakePlatform::new(
        2,
        Box::new(|io| {
            if io.device == DeviceId(1) {
                Fate::Hang
            } else {
                Fate::ok(4 * MS)
            }
        }),
    );
    let mut h = harness(2, platform);
    let client = h.services.dm_io_client_create(16, "t");
    let (request, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            request,
            TimedControl::default(),
            &[region(0, 0, 8), region(1, 0, 8)],
        )
        .unwrap();
    h.pump();
    assert_eq!(
        h.services.dm_io_cancel_by_device(Some(client), DeviceId(1)),
        1
    );
    assert_eq!(
        h.services.dm_io_cancel_by_device(Some(client), DeviceId(1)),
        0
    );
    h.run_until_quiet();
    assert_eq!(
        notices(&h),
        vec![(0, 1, RegionState::Cancelled), (4 * MS, 0, RegionState::Ok)]
    );
    assert_eq!(
        finals(&h),
        vec![(4 * MS, vec![RegionState::Ok, RegionState::Cancelled])]
    );
}

#[test]
fn cancelling_a_request_still_waiting_for_a_slot_needs_no_io() {
    let mut h = harness(1, FakePlatform::new(1, Box::new(|_| Fate::Hang)));
    let client = h.services.dm_io_client_create(1, "one");
    let (first, _) = write_request(&mut h, true);
    let (second, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            first,
            TimedControl::default(),
            &[region(0, 0, 8)],
        )
        .unwrap();
    let waiting = h
        .services
        .dm_io_timed(
            client,
            Caller(2),
            second,
            TimedControl::default(),
            &[region(0, 8, 8)],
        )
        .unwrap();
    h.pump();
    assert_eq!(h.platform.submitted.len(), 1);
    h.services.dm_io_cancel_by_handle(waiting).unwrap();
    h.pump();
    assert_eq!(h.platform.submitted.len(), 1);
    let done: Vec<_> = h
        .event_list()
        .into_iter()
        .filter(|e| matches!(e, ServiceEvent::DmIoTimedDone { .. }))
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].caller(), Caller(2));
    h.check();
}

#[test]
fn classic_requests_cannot_be_cancelled() {
    let mut h = harness(1, FakePlatform::new(1, Box::new(|_| Fate::Hang)));
    let client = h.services.dm_io_client_create(4, "t");
    let (request, _) = write_request(&mut h, true);
    let handle = h
        .services
        .dm_io(client, Caller(1), request, &[region(0, 0, 8)])
        .unwrap();
    assert_eq!(
        h.services.dm_io_cancel_by_handle(handle),
        Err(DmIoError::NotTimed)
    );
}

#[test]
fn the_engine_forwards_cancel_by_device_controls() {
    let mut engine = Engine::new(
        EngineConfig::default(),
        vec![DeviceInfo::new(4096, 512)],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .unwrap();
    engine
        .handle(
            0,
            Input::Control(Control::CancelTimedIoOnDevice(DeviceId(0))),
        )
        .unwrap();
    assert!(engine
        .handle(
            0,
            Input::Control(Control::CancelTimedIoOnDevice(DeviceId(5)))
        )
        .is_err());
    assert!(engine
        .handle(0, Input::Control(Control::TargetMessage("hello".into())))
        .is_err());
}

#[test]
fn a_region_cancelled_while_waiting_for_a_slot_is_not_dispatched_later() {
    let mut h = harness(2, FakePlatform::new(2, Box::new(|_| Fate::Hang)));
    let client = h.services.dm_io_client_create(1, "one");
    let (first, _) = write_request(&mut h, true);
    let (second, _) = write_request(&mut h, true);
    h.services
        .dm_io_timed(
            client,
            Caller(1),
            first,
            TimedControl::default(),
            &[region(0, 0, 8)],
        )
        .unwrap();
    h.services
        .dm_io_timed(
            client,
            Caller(2),
            second,
            TimedControl::default(),
            &[region(0, 8, 8), region(1, 8, 8)],
        )
        .unwrap();
    h.pump();
    // Only region 1 (on device 1) of the waiting request is cancelled.
    assert_eq!(h.services.dm_io_cancel_by_device(None, DeviceId(1)), 1);
    h.pump();
    let first_tag = h.platform.submitted[0].tag;
    h.platform.release(first_tag, IoStatus::Ok);
    h.step();
    // The second request got the slot and dispatched region 0 only.
    let devices: Vec<u16> = h.platform.submitted.iter().map(|io| io.device.0).collect();
    assert_eq!(devices, vec![0, 0]);
    let second_tag = h.platform.submitted[1].tag;
    h.platform.release(second_tag, IoStatus::Ok);
    h.run_until_quiet();
    let last = finals(&h).pop().unwrap();
    assert_eq!(last.1, vec![RegionState::Ok, RegionState::Cancelled]);
    assert!(h.services.is_idle());
}
