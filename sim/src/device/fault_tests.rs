//! Unit tests of the fault kinds and the power-loss model on one `SimDevice` (a RAM model:
//! 100 ns per IO, 512-byte logical blocks).

use super::faults::{DeviceFault, FaultAction, FaultRule, Landing, TimeWindow};
use super::*;
use crate::poison::{is_poison, poison};
use dmsim_engine::content::SectorStamp;
use dmsim_models::ram::{RamModel, RamParams};
use rand_core::RngCore;

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

fn stamp(sector: u64, write_id: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp { sector, write_id })
}

fn write(tag: u64, sector: u64, sectors: u32, write_id: u64) -> SimIo {
    SimIo {
        tag,
        op: Op::Write,
        sector,
        sectors,
        fua: false,
        payload: WritePayload::Contents(
            (0..u64::from(sectors))
                .map(|i| stamp(sector + i, write_id))
                .collect(),
        ),
    }
}

fn metadata_write(tag: u64, sector: u64, sectors: u32) -> SimIo {
    SimIo {
        payload: WritePayload::Bytes(vec![0x5A; sectors as usize * 512]),
        ..write(tag, sector, sectors, 1)
    }
}

fn read(tag: u64, sector: u64, sectors: u32) -> SimIo {
    SimIo {
        tag,
        op: Op::Read,
        sector,
        sectors,
        fua: false,
        payload: WritePayload::None,
    }
}

fn drain(dev: &mut SimDevice) -> Vec<DeviceCompletion> {
    let mut out = Vec::new();
    while let Some(t) = dev.next_event_ns() {
        dev.advance(t, &mut out);
    }
    out
}

/// Submits `io` at `now_ns`, runs the device dry and returns the IO's status.
fn run(dev: &mut SimDevice, now_ns: u64, io: SimIo) -> IoStatus {
    let tag = io.tag;
    dev.submit(now_ns, io).expect("a valid IO");
    let done = drain(dev);
    done.iter()
        .find(|c| c.tag == tag)
        .expect("the IO completed")
        .status
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

fn stamps(sector: u64, sectors: u64, write_id: u64) -> Vec<SectorContent> {
    (0..sectors).map(|i| stamp(sector + i, write_id)).collect()
}

fn poisons(sector: u64, sectors: u64) -> Vec<SectorContent> {
    (sector..sector + sectors).map(poison).collect()
}

#[test]
fn a_rate_rule_fails_the_same_ios_for_the_same_seed() {
    let failed = |seed: u64| {
        let mut dev = ram(false).with_fault_seed(seed);
        dev.add_fault(
            FaultRule::always(FaultAction::Fail(IoStatus::IoError))
                .on(Op::Read)
                .at_rate_ppm(200_000),
        )
        .unwrap();
        let failed: Vec<u64> = (0..200)
            .filter(|&tag| run(&mut dev, tag * 1_000, read(tag, 0, 8)) == IoStatus::IoError)
            .collect();
        let (_, seen, fired) = dev.fault_plan().rules().next().unwrap();
        assert_eq!((seen, fired), (200, failed.len() as u64));
        assert_eq!(dev.stats().errors, fired);
        failed
    };
    let first = failed(11);
    assert!((20..60).contains(&first.len()), "{}", first.len());
    assert_eq!(first, failed(11));
    assert_ne!(first, failed(12));
}

#[test]
fn a_write_failed_by_a_rate_rule_changes_nothing() {
    let mut dev = ram(false);
    dev.add_fault(
        FaultRule::always(FaultAction::Fail(IoStatus::IoError))
            .on(Op::Write)
            .during(TimeWindow {
                from_ns: 1_000,
                until_ns: Some(2_000),
            }),
    )
    .unwrap();
    assert_eq!(run(&mut dev, 0, write(1, 0, 8, 1)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 1_000, write(2, 0, 8, 2)), IoStatus::IoError);
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 1));
    assert_eq!(run(&mut dev, 2_000, write(3, 0, 8, 3)), IoStatus::Ok);
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 3));
}

#[test]
fn latent_errors_fail_overlapping_reads_until_a_write_covers_them() {
    let mut dev = ram(false);
    dev.add_fault(DeviceFault::LatentErrors {
        extent: Extent::new(8, 2),
    })
    .unwrap();
    assert_eq!(run(&mut dev, 0, read(1, 0, 16)), IoStatus::IoError);
    assert_eq!(run(&mut dev, 1_000, read(2, 16, 8)), IoStatus::Ok);
    // A write of one of the two bad sectors repairs that one only.
    assert_eq!(run(&mut dev, 2_000, write(3, 8, 1, 3)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 3_000, read(4, 8, 1)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 4_000, read(5, 8, 2)), IoStatus::IoError);
    assert_eq!(run(&mut dev, 5_000, write(6, 0, 16, 6)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 6_000, read(7, 0, 16)), IoStatus::Ok);
    let stats = dev.fault_stats();
    assert_eq!(
        (stats.latent_error_reads, stats.latent_sectors_repaired),
        (2, 2)
    );
    assert_eq!(dev.latent_sectors(), 0);
}

#[test]
fn a_latent_error_rule_marks_one_seeded_block_of_the_io_inside_its_range() {
    let mut dev = ram(false).with_fault_seed(5);
    dev.add_fault(FaultRule::once(
        Some(Op::Read),
        Some(Extent::new(100, 4)),
        FaultAction::LatentError,
    ))
    .unwrap();
    assert_eq!(run(&mut dev, 0, read(1, 96, 16)), IoStatus::IoError);
    assert_eq!(dev.latent_sectors(), 1, "one 512-byte logical block");
    let bad = (96..112)
        .find(|&s| run(&mut dev, 1_000 + s * 1_000, read(s, s, 1)) == IoStatus::IoError)
        .expect("the bad sector fails alone");
    assert!((100..104).contains(&bad), "inside the rule's range: {bad}");
    // On a write, the data lands and then the block goes bad.
    dev.add_fault(FaultRule::once(
        Some(Op::Write),
        None,
        FaultAction::LatentError,
    ))
    .unwrap();
    assert_eq!(run(&mut dev, 500_000, write(2, 0, 8, 2)), IoStatus::Ok);
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 2));
    assert_eq!(run(&mut dev, 600_000, read(3, 0, 8)), IoStatus::IoError);
    assert_eq!(dev.fault_stats().latent_blocks_marked, 2);
}

#[test]
fn silent_corruption_poisons_one_block_of_workload_data_until_rewritten() {
    let mut dev = ram(false).with_fault_seed(3);
    assert_eq!(run(&mut dev, 0, write(1, 0, 8, 1)), IoStatus::Ok);
    dev.add_fault(FaultRule::once(
        Some(Op::Read),
        None,
        FaultAction::SilentCorruption,
    ))
    .unwrap();
    assert_eq!(run(&mut dev, 1_000, read(2, 0, 8)), IoStatus::Ok);
    let got = contents(&dev, 0, 8);
    let bad: Vec<usize> = (0..8).filter(|&i| is_poison(&got[i])).collect();
    assert_eq!(bad.len(), 1, "{got:?}");
    let mut want = stamps(0, 8, 1);
    want[bad[0]] = poison(bad[0] as u64);
    assert_eq!(got, want, "the other sectors are intact");
    assert_eq!(dev.fault_stats().corrupted_sectors, 1);
    assert_eq!(run(&mut dev, 2_000, write(3, 0, 8, 3)), IoStatus::Ok);
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 3), "rewritten");
}

#[test]
fn silent_corruption_spares_zeros_and_engine_metadata() {
    let mut dev = ram(false);
    assert_eq!(run(&mut dev, 0, metadata_write(1, 0, 8)), IoStatus::Ok);
    dev.add_fault(FaultRule::always(FaultAction::SilentCorruption))
        .unwrap();
    assert_eq!(run(&mut dev, 1_000, read(2, 0, 8)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 2_000, read(3, 64, 8)), IoStatus::Ok);
    assert_eq!(contents(&dev, 0, 8), vec![SectorContent::Foreign; 8]);
    assert_eq!(contents(&dev, 64, 8), vec![SectorContent::Zero; 8]);
    assert_eq!(dev.fault_stats().fired, 2);
    assert_eq!(dev.fault_stats().corrupted_sectors, 0);
}

#[test]
fn silent_corruption_damages_the_cached_copy_where_reads_see_it() {
    let mut dev = ram(true);
    assert_eq!(run(&mut dev, 0, write(1, 0, 8, 1)), IoStatus::Ok);
    dev.add_fault(FaultRule::once(None, None, FaultAction::SilentCorruption))
        .unwrap();
    assert_eq!(run(&mut dev, 1_000, read(2, 0, 8)), IoStatus::Ok);
    assert_eq!(
        contents(&dev, 0, 8).iter().filter(|c| is_poison(c)).count(),
        1
    );
    assert_eq!(durable(&dev, 0, 8), vec![SectorContent::Zero; 8]);
}

#[test]
fn a_misdirected_write_poisons_its_range_and_where_it_lands() {
    let mut dev = ram(false);
    assert_eq!(run(&mut dev, 0, write(1, 0, 16, 1)), IoStatus::Ok);
    assert_eq!(run(&mut dev, 0, write(2, 64, 8, 2)), IoStatus::Ok);
    dev.add_fault(FaultRule::once(
        None,
        None,
        FaultAction::MisdirectedWrite {
            landing: Landing::Shift { sectors: 60 },
        },
    ))
    .unwrap();
    assert_eq!(
        run(&mut dev, 1_000, write(3, 8, 8, 3)),
        IoStatus::Ok,
        "reports success"
    );
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 1), "before: untouched");
    assert_eq!(
        contents(&dev, 8, 8),
        poisons(8, 8),
        "the write was lost there"
    );
    assert_eq!(contents(&dev, 64, 4), stamps(64, 4, 2));
    assert_eq!(contents(&dev, 68, 8), poisons(68, 8), "it landed here");
    assert_eq!(dev.fault_stats().misdirected_writes, 1);
    assert_eq!(dev.stats().bytes_written, (16 + 8 + 8) * 512);
}

#[test]
fn misdirection_spares_engine_metadata_and_never_moves_it() {
    let mut dev = ram(false);
    assert_eq!(run(&mut dev, 0, metadata_write(1, 64, 8)), IoStatus::Ok);
    dev.add_fault(FaultRule::always(FaultAction::MisdirectedWrite {
        landing: Landing::Shift { sectors: 56 },
    }))
    .unwrap();
    // A metadata write is not matched: it lands where it should.
    assert_eq!(
        run(&mut dev, 1_000, metadata_write(2, 128, 8)),
        IoStatus::Ok
    );
    assert_eq!(contents(&dev, 128, 8), vec![SectorContent::Foreign; 8]);
    // A data write landing on metadata spares it.
    assert_eq!(run(&mut dev, 2_000, write(3, 8, 8, 3)), IoStatus::Ok);
    assert_eq!(contents(&dev, 8, 8), poisons(8, 8));
    assert_eq!(contents(&dev, 64, 8), vec![SectorContent::Foreign; 8]);
    let stats = dev.fault_stats();
    assert_eq!(
        (stats.misdirected_writes, stats.misdirect_sectors_spared),
        (1, 8)
    );
    let (_, seen, fired) = dev.fault_plan().rules().next().unwrap();
    assert_eq!((seen, fired), (1, 1), "the metadata write was not a match");
}

#[test]
fn a_random_landing_is_seeded_aligned_and_inside_the_device() {
    let landing = |seed: u64| {
        let mut dev = ram(false).with_fault_seed(seed);
        dev.add_fault(FaultRule::once(
            None,
            None,
            FaultAction::MisdirectedWrite {
                landing: Landing::Random,
            },
        ))
        .unwrap();
        assert_eq!(run(&mut dev, 0, write(1, 0, 8, 1)), IoStatus::Ok);
        let mut poisoned = Vec::new();
        dev.read_into(8, (1 << 16) - 8, &mut |s, v| {
            if is_poison(&v.content()) {
                poisoned.push(s)
            }
        });
        poisoned
    };
    let first = landing(1);
    assert_eq!(first.len(), 8, "{first:?}");
    assert_eq!(first, landing(1));
    assert_ne!(first, landing(2));
}

#[test]
fn a_misdirected_write_in_a_volatile_cache_is_lost_like_the_data_would_be() {
    let mut dev = ram(true);
    let fua = |io: SimIo| SimIo { fua: true, ..io };
    assert_eq!(run(&mut dev, 0, fua(write(1, 0, 8, 1))), IoStatus::Ok);
    dev.add_fault(FaultRule::once(
        None,
        None,
        FaultAction::MisdirectedWrite {
            landing: Landing::Shift { sectors: 8 },
        },
    ))
    .unwrap();
    assert_eq!(run(&mut dev, 1_000, write(2, 0, 8, 2)), IoStatus::Ok);
    assert_eq!(contents(&dev, 0, 16), poisons(0, 16));
    let mut rng = crate::streams::stream(1, "crash");
    dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(
        contents(&dev, 0, 16),
        [stamps(0, 8, 1), vec![SectorContent::Zero; 8]].concat()
    );
}

#[test]
fn a_pulled_drive_fails_io_in_flight_then_and_everything_after() {
    let mut dev = ram(false);
    dev.add_fault(DeviceFault::Disappear { at_ns: 1_000 })
        .unwrap();
    dev.add_fault(FaultRule::once(Some(Op::Read), None, FaultAction::Hang))
        .unwrap();
    dev.submit(0, read(1, 0, 8)).unwrap(); // hangs
    dev.submit(50, write(2, 0, 8, 2)).unwrap(); // done at 150, before the pull
    dev.submit(950, write(3, 8, 8, 3)).unwrap(); // would be done at 1050
    assert_eq!(
        dev.next_event_ns(),
        Some(100),
        "the model lets go of the hung read"
    );
    let done = drain(&mut dev);
    let status_at = |tag: u64| {
        let c = done.iter().find(|c| c.tag == tag).expect("completed");
        (c.status, c.done_ns)
    };
    assert_eq!(status_at(2), (IoStatus::Ok, 150));
    assert_eq!(status_at(1), (IoStatus::IoError, 1_000), "the hung read");
    assert_eq!(status_at(3), (IoStatus::IoError, 1_000));
    assert_eq!(contents(&dev, 8, 8), vec![SectorContent::Zero; 8]);
    assert!(dev.is_gone() && dev.in_flight() == 0);
    dev.submit(5_000, read(4, 0, 8)).unwrap();
    assert_eq!(
        drain(&mut dev),
        vec![DeviceCompletion {
            tag: 4,
            status: IoStatus::IoError,
            done_ns: 5_000
        }]
    );
    let mut rng = crate::streams::stream(1, "crash");
    dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
    assert_eq!(run(&mut dev, 6_000, read(5, 0, 8)), IoStatus::IoError);
    assert_eq!(dev.fault_stats().failed_by_disappearance, 4);
    assert_eq!(dev.fault_stats().disappeared_at_ns, Some(1_000));
}

#[test]
fn an_idle_drive_is_pulled_at_its_next_io() {
    let mut dev = ram(false);
    dev.add_fault(DeviceFault::Disappear { at_ns: 1_000 })
        .unwrap();
    assert_eq!(dev.next_event_ns(), None, "nothing waits for the pull");
    assert_eq!(run(&mut dev, 800, read(1, 0, 8)), IoStatus::Ok);
    dev.submit(3_000, read(2, 0, 8)).unwrap();
    assert_eq!(drain(&mut dev)[0].done_ns, 3_000);
    assert_eq!(dev.fault_stats().disappeared_at_ns, Some(3_000));
}

#[test]
fn a_completion_despite_cancel_can_be_late() {
    let mut dev = ram(false);
    dev.add_fault(FaultRule::once(
        None,
        None,
        FaultAction::CompleteDespiteCancel { extra_ns: 5_000 },
    ))
    .unwrap();
    dev.submit(0, write(1, 0, 8, 1)).unwrap();
    assert_eq!(dev.cancel(1_000, 1), CancelOutcome::Ignored);
    assert_eq!(dev.cancel(2_000, 1), CancelOutcome::Ignored);
    assert_eq!(
        drain(&mut dev),
        vec![DeviceCompletion {
            tag: 1,
            status: IoStatus::Ok,
            done_ns: 5_100
        }]
    );
    assert_eq!(contents(&dev, 0, 8), stamps(0, 8, 1));
    assert_eq!(dev.fault_stats().cancels_ignored, 2);
}

/// An rng whose every draw is all ones.
struct AllOnes;

impl RngCore for AllOnes {
    fn next_u32(&mut self) -> u32 {
        u32::MAX
    }
    fn next_u64(&mut self) -> u64 {
        u64::MAX
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0xFF);
    }
}

#[test]
fn regression_a_cache_survival_of_one_keeps_every_block() {
    // Postmortem: survival was `draw < (p * u32::MAX)`, so p = 1.0 still lost a block when
    // the draw was u32::MAX (once in 2^32). Certain outcomes now draw nothing.
    let mut dev = ram(true);
    assert_eq!(run(&mut dev, 0, write(1, 0, 8, 1)), IoStatus::Ok);
    let report = dev.crash(&mut AllOnes, &PowerLoss::with_cache_survival(1.0));
    assert_eq!(
        (report.cached_blocks_kept, report.cached_blocks_lost),
        (1, 0)
    );
    assert_eq!(durable(&dev, 0, 8), stamps(0, 8, 1));
}

#[test]
fn surviving_cache_blocks_may_tear_per_sector() {
    let mut dev = ram(true);
    assert_eq!(run(&mut dev, 0, write(1, 0, 512, 1)), IoStatus::Ok);
    let mut rng = crate::streams::stream(4, "crash");
    let report = dev.crash(
        &mut rng,
        &PowerLoss {
            cache_survival_ppm: 500_000,
            tear_cached_blocks: true,
        },
    );
    assert_eq!(report.cached_blocks_kept + report.cached_blocks_lost, 64);
    assert!(
        report.cached_blocks_lost > 10 && report.cached_blocks_kept > 10,
        "{report:?}"
    );
    assert!(report.cached_blocks_torn > 0, "{report:?}");
    let got = durable(&dev, 0, 512);
    for (s, content) in got.iter().enumerate() {
        assert!(
            *content == SectorContent::Zero || *content == stamp(s as u64, 1),
            "sector {s}: {content:?}"
        );
    }
    let landed = got.iter().filter(|c| **c != SectorContent::Zero).count() as u64;
    assert!(
        landed < report.cached_blocks_kept * 8,
        "some kept blocks are torn"
    );
    assert!(landed > (report.cached_blocks_kept - report.cached_blocks_torn) * 8 - 1);
}

#[test]
fn in_flight_writes_tear_in_a_seeded_order_from_nothing_to_everything() {
    let mut landed_counts = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let mut dev = ram(false);
        dev.submit(0, write(1, 0, 4, 1)).unwrap();
        let mut rng = crate::streams::stream(seed, "crash");
        let report = dev.crash(&mut rng, &PowerLoss::LOSE_CACHE);
        let got = contents(&dev, 0, 4);
        let landed = got.iter().filter(|c| **c != SectorContent::Zero).count() as u64;
        assert_eq!(landed, report.torn_sectors_written);
        landed_counts.insert(landed);
    }
    assert_eq!(
        landed_counts.into_iter().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4],
        "every count of landed sectors happens, none and all included"
    );
}

#[test]
fn a_list_of_faults_is_added_whole_or_not_at_all() {
    let mut dev = ram(false);
    let faults = vec![
        DeviceFault::Disappear { at_ns: 5 },
        DeviceFault::LatentErrors {
            extent: Extent::new(1 << 16, 8),
        },
    ];
    let (index, error) = dev.add_faults(&faults).unwrap_err();
    assert_eq!(index, 1);
    assert!(error.to_string().starts_with("extent"), "{error}");
    assert_eq!(
        run(&mut dev, 10, read(1, 0, 8)),
        IoStatus::Ok,
        "nothing was added"
    );
    dev.add_faults(&faults[..1]).unwrap();
    assert_eq!(run(&mut dev, 20, read(2, 0, 8)), IoStatus::IoError);
}
