//! The engine's `drive` loop with the linear target on RealPlatform: stamped writes issued at
//! queue depth 8 read back through the volume on a loop device (or a file when not root),
//! with both backends, and invariants checked after every input.

use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::{
    drive, DeviceId, DriveOptions, DriveOutcome, EngineConfig, IoStatus, Op, SectorData, TargetSpec,
};
use dmsim_real::closed_loop::ClosedLoopSource;
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{BackendChoice, OpenOptions, PlatformOptions, RealDevice, RealRig};

fn run(backend: BackendChoice) -> Vec<Vec<SectorContent>> {
    let fixture =
        LoopDevice::for_tests(FixtureOptions::new(16 << 20, Medium::Tmpfs)).expect("fixture");
    // The volume is a window of the device: engine sector 0 is device sector 2048.
    let device = RealDevice::open(
        fixture.path(),
        OpenOptions {
            allow_write: true,
            range: Some((2048, 16384)),
        },
    )
    .unwrap();
    let engine_config = EngineConfig {
        arena_pages: 512,
        plugging: None,
        ..EngineConfig::default()
    };
    let target = TargetSpec::Linear {
        device: DeviceId(0),
        offset_sectors: 0,
    };
    let mut rig = RealRig::build(
        engine_config,
        target,
        vec![device],
        PlatformOptions {
            backend,
            ..PlatformOptions::default()
        },
    )
    .unwrap();
    let options = DriveOptions {
        check_invariants: true,
        time_limit_ns: Some(30_000_000_000),
        input_limit: None,
    };
    // 64 writes of 1..=64 sectors (some unaligned to pages), spread over the volume.
    let extents: Vec<(u64, u32)> = (0..64u64)
        .map(|i| (i * 250 + (i % 5), (i % 64) as u32 + 1))
        .collect();
    let writes = extents
        .iter()
        .enumerate()
        .map(|(i, &(sector, sectors))| {
            ClosedLoopSource::stamped_write(i as u64 + 1, sector, sectors, 1000 + i as u64)
        })
        .collect();
    let mut source = ClosedLoopSource::new(writes, 8, true);
    let report = rig.drive(&mut source, &mut (), &options).unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished);
    assert_eq!(
        source.failed_count,
        0,
        "{:?}",
        rig.platform_mut().take_errors()
    );
    let reads = extents
        .iter()
        .enumerate()
        .map(|(i, &(sector, sectors))| dmsim_engine::Bio {
            id: dmsim_engine::BioId(100 + i as u64),
            op: Op::Read,
            sector,
            sectors,
            flags: Default::default(),
            data: SectorData::new(),
        })
        .collect();
    let mut source = ClosedLoopSource::new(reads, 8, true);
    let (engine, platform) = rig.parts_mut();
    let report = drive(engine, platform, &mut source, &mut (), &options).unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished);
    assert!(rig.engine().is_idle());
    assert_eq!(rig.platform().in_flight(), 0);
    let mut done = source.done;
    done.sort_by_key(|d| d.id);
    assert_eq!(done.len(), extents.len());
    for (i, (read, &(sector, sectors))) in done.iter().zip(&extents).enumerate() {
        assert_eq!(read.status, IoStatus::Ok);
        let expected: Vec<SectorContent> = (0..u64::from(sectors))
            .map(|k| {
                SectorContent::Stamp(SectorStamp {
                    sector: sector + k,
                    write_id: 1000 + i as u64,
                })
            })
            .collect();
        assert_eq!(
            read.data.as_slice(),
            expected,
            "bio {} at {sector}+{sectors}",
            read.id.0
        );
    }
    drop(rig);
    // Nothing before the window was written.
    let bytes = std::fs::read(fixture.backing_file()).unwrap();
    assert!(bytes[..2048 * 512].iter().all(|&b| b == 0));
    done.into_iter().map(|d| d.data.to_vec()).collect()
}

#[test]
fn stamped_writes_read_back_through_a_linear_volume_on_both_backends() {
    let ring = run(BackendChoice::IoUring);
    let blocking = run(BackendChoice::Blocking);
    assert_eq!(ring, blocking);
}

#[test]
fn a_run_stopped_with_io_in_flight_is_drained_before_the_arena_goes() {
    let fixture =
        LoopDevice::for_tests(FixtureOptions::new(16 << 20, Medium::Tmpfs)).expect("fixture");
    let device = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    let engine_config = EngineConfig {
        arena_pages: 512,
        plugging: None,
        ..EngineConfig::default()
    };
    let target = TargetSpec::Linear {
        device: DeviceId(0),
        offset_sectors: 0,
    };
    let capacity = device.info().capacity_sectors;
    let mut rig = RealRig::build(
        engine_config,
        target,
        vec![device],
        PlatformOptions::default(),
    )
    .unwrap();
    let reads = ClosedLoopSource::random_reads(1000, 64, capacity, 3);
    let mut source = ClosedLoopSource::new(reads, 32, false);
    let options = DriveOptions {
        check_invariants: false,
        time_limit_ns: None,
        // Stops after the first bios were admitted, with their device IO in flight.
        input_limit: Some(32),
    };
    let report = rig.drive(&mut source, &mut (), &options).unwrap();
    assert_eq!(report.outcome, DriveOutcome::InputLimit);
    assert!(rig.platform().in_flight() > 0);
    let engine = rig.into_engine();
    // The engine still believes its IO is in flight; the memory is now quiet and its own.
    assert!(!engine.is_idle());
}
