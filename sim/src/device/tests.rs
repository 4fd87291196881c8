use super::faults::{FaultAction, FaultRule};
use super::*;
use dmsim_engine::content::SectorStamp;
use dmsim_models::ram::{RamModel, RamParams};

fn ram(volatile: bool) -> SimDevice {
    SimDevice::new(
        "ram0",
        Box::new(RamModel::new(RamParams {
            capacity_sectors: 1 << 16,
            latency_ns: 100,
            volatile_write_cache: volatile,
        })),
    )
}

fn stamps(sector: u64, sectors: u32, write_id: u64) -> WritePayload {
    WritePayload::Contents(
        (0..u64::from(sectors))
            .map(|i| {
                SectorContent::Stamp(SectorStamp {
                    sector: sector + i,
                    write_id,
                })
            })
            .collect(),
    )
}

fn write(tag: u64, sector: u64, sectors: u32, write_id: u64, fua: bool) -> SimIo {
    SimIo {
        tag,
        op: Op::Write,
        sector,
        sectors,
        fua,
        payload: stamps(sector, sectors, write_id),
    }
}

fn io(tag: u64, op: Op, sector: u64, sectors: u32) -> SimIo {
    SimIo {
        tag,
        op,
        sector,
        sectors,
        fua: false,
        payload: WritePayload::None,
    }
}

/// Run the device until nothing is pending; return completions.
fn drain(dev: &mut SimDevice) -> Vec<DeviceCompletion> {
    let mut out = Vec::new();
    while let Some(t) = dev.next_event_ns() {
        dev.advance(t, &mut out);
    }
    out
}

fn contents(dev: &SimDevice, sector: u64, sectors: u64) -> Vec<SectorContent> {
    let mut out = Vec::new();
    dev.read_into(sector, sectors, &mut |_, v| out.push(v.content()));
    out
}

fn durable(dev: &SimDevice, sector: u64, sectors: u64) -> Vec<SectorContent> {
    let mut out = Vec::new();
    dev.read_durable(sector, sectors, &mut |_, v| out.push(v.content()));
    out
}

fn stamp_vec(sector: u64, sectors: u64, write_id: u64) -> Vec<SectorContent> {
    (0..sectors)
        .map(|i| {
            SectorContent::Stamp(SectorStamp {
                sector: sector + i,
                write_id,
            })
        })
        .collect()
}

#[test]
fn writes_take_effect_at_completion_with_model_timing() {
    let mut dev = ram(false);
    dev.submit(1_000, write(7, 8, 8, 1, false)).unwrap();
    assert_eq!(
        contents(&dev, 8, 8),
        vec![SectorContent::Zero; 8],
        "not before completion"
    );
    let done = drain(&mut dev);
    assert_eq!(
        done,
        vec![DeviceCompletion {
            tag: 7,
            status: IoStatus::Ok,
            done_ns: 1_100
        }]
    );
    assert_eq!(contents(&dev, 8, 8), stamp_vec(8, 8, 1));
    assert_eq!(dev.stats().bytes_written, 4096);
}

#[test]
fn strict_checks_refuse_bad_io() {
    let mut dev = ram(false);
    let err = dev
        .submit(0, io(1, Op::Read, (1 << 16) - 4, 8))
        .unwrap_err();
    assert!(matches!(err, StrictError::OutOfRange { .. }), "{err}");
    assert!(matches!(
        dev.submit(0, io(1, Op::Read, 0, 0)),
        Err(StrictError::ZeroLength { .. })
    ));
    dev.submit(0, write(1, 0, 16, 1, false)).unwrap();
    let err = dev.submit(0, write(2, 8, 16, 2, false)).unwrap_err();
    assert_eq!(
        err,
        StrictError::OverlappingWrite {
            device: "ram0".into(),
            sector: 8,
            sectors: 16,
            other_tag: 1
        }
    );
    assert!(matches!(
        dev.submit(0, write(1, 100, 8, 3, false)),
        Err(StrictError::DuplicateTag { .. })
    ));
    let mut short = write(3, 200, 8, 3, false);
    short.payload = stamps(200, 4, 3);
    assert!(matches!(
        dev.submit(0, short),
        Err(StrictError::PayloadMismatch { got: 4, .. })
    ));
    // Adjacent, non-overlapping writes and overlapping reads are fine.
    dev.submit(0, write(4, 16, 8, 4, false)).unwrap();
    dev.submit(0, io(5, Op::Read, 0, 24)).unwrap();
    assert_eq!(drain(&mut dev).len(), 3);
}

#[test]
fn misaligned_io_is_refused_on_a_4k_device() {
    struct Lbs4k(RamModel);
    impl TimingModel for Lbs4k {
        fn kind(&self) -> &'static str {
            "ram"
        }
        fn capacity_sectors(&self) -> u64 {
            self.0.capacity_sectors()
        }
        fn logical_block_size(&self) -> u32 {
            4096
        }
        fn volatile_write_cache(&self) -> bool {
            false
        }
        fn submit(&mut self, now_ns: u64, req: ModelRequest) {
            self.0.submit(now_ns, req)
        }
        fn next_event_ns(&self) -> Option<u64> {
            self.0.next_event_ns()
        }
        fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
            self.0.advance(now_ns, out)
        }
        fn in_flight(&self) -> usize {
            self.0.in_flight()
        }
    }
    let mut dev = SimDevice::new("4k", Box::new(Lbs4k(RamModel::new(RamParams::default()))));
    assert!(matches!(
        dev.submit(0, io(1, Op::Read, 4, 8)),
        Err(StrictError::Misaligned { lbs: 4096, .. })
    ));
    assert!(matches!(
        dev.submit(0, io(1, Op::Read, 0, 4)),
        Err(StrictError::Misaligned { .. })
    ));
    dev.submit(0, io(1, Op::Read, 8, 8)).unwrap();
}

#[test]
fn volatile_cache_loses_unflushed_writes_in_a_crash() {
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    drain(&mut dev);
    assert_eq!(
        contents(&dev, 0, 8),
        stamp_vec(0, 8, 1),
        "reads see the cache"
    );
    assert_eq!(
        durable(&dev, 0, 8),
        vec![SectorContent::Zero; 8],
        "not durable yet"
    );
    let mut rng = crate::streams::stream(1, "crash");
    let report = dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(report.cached_blocks_lost, 1);
    assert_eq!(contents(&dev, 0, 8), vec![SectorContent::Zero; 8]);
}

#[test]
fn flush_and_fua_make_writes_durable() {
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, io(2, Op::Flush, 0, 0)).unwrap();
    // A write completing after the flush was submitted is not covered by it.
    dev.submit(200, write(3, 8, 8, 2, false)).unwrap();
    drain(&mut dev);
    dev.submit(400, write(4, 16, 8, 3, true)).unwrap();
    drain(&mut dev);
    assert_eq!(durable(&dev, 0, 8), stamp_vec(0, 8, 1), "flushed");
    assert_eq!(
        durable(&dev, 8, 8),
        vec![SectorContent::Zero; 8],
        "completed after the flush began"
    );
    assert_eq!(durable(&dev, 16, 8), stamp_vec(16, 8, 3), "FUA");
    let mut rng = crate::streams::stream(1, "crash");
    dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(contents(&dev, 0, 24)[..8], stamp_vec(0, 8, 1)[..]);
    assert_eq!(contents(&dev, 16, 8), stamp_vec(16, 8, 3));
}

#[test]
fn an_older_flush_snapshot_does_not_undo_a_newer_fua_write() {
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, io(2, Op::Flush, 0, 0)).unwrap(); // snapshot holds write 1
    dev.submit(200, write(3, 0, 8, 2, true)).unwrap(); // FUA write 2 of the same block
    drain(&mut dev);
    assert_eq!(durable(&dev, 0, 8), stamp_vec(0, 8, 2));
}

/// Regression 025's root cause: a flush's snapshot, taken while a block sat in the cache,
/// applied after a FUA write of part of that block had completed, put the block's older
/// content back on the media over the FUA data (the FUA had updated the cached copy, so no
/// durable sequence guarded the block). The flush must make the older sectors durable and
/// leave the FUA's alone.
#[test]
fn a_flush_completing_after_a_fua_write_of_a_cached_block_keeps_the_fua_data() {
    let mut dev = ram(true);
    dev.add_fault(FaultRule::once(
        Some(Op::Flush),
        None,
        FaultAction::Delay {
            extra_ns: 1_000_000,
        },
    ))
    .unwrap();
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, io(2, Op::Flush, 0, 0)).unwrap(); // snapshot holds write 1; ends late
    dev.submit(200, write(3, 0, 4, 2, true)).unwrap(); // FUA write 2 of half the block
    let done = drain(&mut dev);
    let order: Vec<u64> = done.iter().map(|c| c.tag).collect();
    assert_eq!(
        order,
        vec![3, 2],
        "the FUA write completes before the flush"
    );
    let mut expected = stamp_vec(0, 4, 2);
    expected.extend(stamp_vec(4, 4, 1));
    assert_eq!(durable(&dev, 0, 8), expected);
    let mut rng = crate::streams::stream(1, "crash");
    dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(contents(&dev, 0, 8), expected);
}

#[test]
fn faults_fail_hang_delay_and_ignore_cancel() {
    let mut dev = ram(false);
    dev.add_fault(FaultRule::once(
        Some(Op::Write),
        None,
        FaultAction::Fail(IoStatus::IoError),
    ))
    .unwrap();
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    assert_eq!(drain(&mut dev)[0].status, IoStatus::IoError);
    assert_eq!(
        contents(&dev, 0, 8),
        vec![SectorContent::Zero; 8],
        "a failed write changes nothing"
    );

    dev.add_fault(FaultRule::once(Some(Op::Read), None, FaultAction::Hang))
        .unwrap();
    dev.submit(1_000, io(2, Op::Read, 0, 8)).unwrap();
    assert!(
        drain(&mut dev).is_empty(),
        "a hung IO never completes by itself"
    );
    assert_eq!(
        dev.hung_ios(),
        1,
        "the hang holds it once the model is done"
    );
    assert_eq!(dev.cancel(5_000, 2), CancelOutcome::Cancelled);
    let done = drain(&mut dev);
    assert_eq!(dev.hung_ios(), 0, "a cancel releases it");
    assert_eq!(
        done,
        vec![DeviceCompletion {
            tag: 2,
            status: IoStatus::Cancelled,
            done_ns: 5_000
        }]
    );
    assert_eq!(dev.in_flight(), 0);

    dev.add_fault(FaultRule::once(
        None,
        None,
        FaultAction::Delay { extra_ns: 10_000 },
    ))
    .unwrap();
    dev.submit(6_000, io(3, Op::Read, 0, 8)).unwrap();
    assert_eq!(drain(&mut dev)[0].done_ns, 6_000 + 100 + 10_000);

    dev.add_fault(FaultRule::once(
        None,
        None,
        FaultAction::CompleteDespiteCancel { extra_ns: 0 },
    ))
    .unwrap();
    dev.submit(20_000, write(4, 0, 8, 4, false)).unwrap();
    assert_eq!(dev.cancel(20_010, 4), CancelOutcome::Ignored);
    assert_eq!(drain(&mut dev)[0].status, IoStatus::Ok);
    assert_eq!(
        contents(&dev, 0, 8),
        stamp_vec(0, 8, 4),
        "the write happened despite the cancel"
    );
    assert_eq!(dev.cancel(30_000, 4), CancelOutcome::NotFound);
}

#[test]
fn a_cancelled_write_changes_nothing_and_its_tag_can_be_reused() {
    let mut dev = ram(false);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    assert_eq!(dev.cancel(10, 1), CancelOutcome::Cancelled);
    dev.submit(20, write(1, 0, 8, 2, false)).unwrap();
    let done = drain(&mut dev);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].status, IoStatus::Cancelled);
    assert_eq!(
        done[1],
        DeviceCompletion {
            tag: 1,
            status: IoStatus::Ok,
            done_ns: 120
        }
    );
    assert_eq!(contents(&dev, 0, 8), stamp_vec(0, 8, 2));
}

#[test]
fn in_flight_writes_tear_in_a_crash() {
    let mut dev = ram(false);
    dev.submit(0, write(1, 0, 64, 1, false)).unwrap();
    let mut rng = crate::streams::stream(9, "crash");
    let report = dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(report.in_flight_lost, 1);
    assert!(
        report.torn_sectors_written > 0 && report.torn_sectors_written < 64,
        "{report:?}"
    );
    let got = contents(&dev, 0, 64);
    let written = got
        .iter()
        .filter(|c| matches!(c, SectorContent::Stamp(_)))
        .count() as u64;
    assert_eq!(written, report.torn_sectors_written);
}

#[test]
fn a_partial_discard_keeps_the_blocks_other_unflushed_writes() {
    // Review finding 1: discarding sector 0 must not drop sectors 1..8 completed into the cache.
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, io(2, Op::Discard, 0, 1)).unwrap();
    drain(&mut dev);
    let mut want = stamp_vec(0, 8, 1);
    want[0] = SectorContent::Zero;
    assert_eq!(contents(&dev, 0, 8), want);
    // A whole-block discard frees the block.
    dev.submit(400, io(3, Op::Discard, 0, 8)).unwrap();
    drain(&mut dev);
    assert_eq!(contents(&dev, 0, 8), vec![SectorContent::Zero; 8]);
}

#[test]
fn a_partial_fua_write_leaves_its_neighbours_volatile() {
    // Review finding 3: FUA makes its own sectors durable, not the block's unflushed rest.
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 4, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, write(2, 4, 4, 2, true)).unwrap();
    drain(&mut dev);
    assert_eq!(durable(&dev, 0, 4), vec![SectorContent::Zero; 4]);
    assert_eq!(durable(&dev, 4, 4), stamp_vec(4, 4, 2));
    assert_eq!(
        contents(&dev, 0, 8),
        [stamp_vec(0, 4, 1), stamp_vec(4, 4, 2)].concat()
    );
}

#[test]
fn torn_in_flight_writes_land_over_the_surviving_cache() {
    // Review finding 2: the in-flight write is newer than the cached one.
    let mut dev = ram(true);
    dev.submit(0, write(1, 0, 64, 1, false)).unwrap();
    drain(&mut dev);
    dev.submit(200, write(2, 0, 64, 2, false)).unwrap();
    let mut rng = crate::streams::stream(5, "crash");
    let report = dev.crash(&mut rng, &PowerLoss::with_cache_survival(1.0));
    let got = contents(&dev, 0, 64);
    let newer = got
        .iter()
        .filter(|c| matches!(c, SectorContent::Stamp(s) if s.write_id == 2))
        .count() as u64;
    assert!(report.torn_sectors_written > 0);
    assert_eq!(newer, report.torn_sectors_written);
}

#[test]
fn a_discard_overlapping_a_write_in_flight_is_refused() {
    let mut dev = ram(false);
    dev.submit(0, write(1, 0, 8, 1, false)).unwrap();
    assert!(matches!(
        dev.submit(0, io(2, Op::Discard, 4, 8)),
        Err(StrictError::OverlappingWrite { .. })
    ));
}
