//! What keeps the kernel from writing into freed memory: the platform does IO only into the
//! arena it was built with and holds a loan of; it waits for every completion before it
//! gives the loan back; a rig gives it back on drop and `into_engine`.

mod common;

use common::{collect, fixture, io, open_writable, options, MIB};
use dmsim_engine::arena::{Arena, Buffer};
use dmsim_engine::block::{IoStatus, Op};
use dmsim_engine::io::IoTag;
use dmsim_engine::{AnomalyPolicy, DeviceId, DriveOptions, DriveOutcome, EngineConfig, TargetSpec};
use dmsim_real::closed_loop::ClosedLoopSource;
use dmsim_real::testing::Medium;
use dmsim_real::{
    BackendChoice, OpenOptions, PlatformOptions, RealDevice, RealError, RealPlatform, RealRig,
};

fn tag(slot: u32) -> IoTag {
    IoTag {
        slot,
        generation: 1,
    }
}

#[test]
fn io_naming_another_arena_is_refused_before_any_syscall() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = fixture(MIB, Medium::Tmpfs);
        let device = open_writable(fixture.path(), None);
        let mut own = Arena::new(8);
        let mut other = Arena::new(8);
        let mut platform = RealPlatform::new(vec![device], &mut own, options(backend)).unwrap();
        let buffer = Buffer::from_pages(other.alloc(1).unwrap());
        platform.submit_io(io(tag(1), Op::Read, 0, 8, buffer), &mut other);
        let completions = collect(&mut platform, &mut own, 1);
        assert_eq!(completions[0].status, IoStatus::IoError, "{backend:?}");
        let errors = platform.take_errors();
        assert!(
            matches!(errors.as_slice(), [RealError::ForeignArena]),
            "{backend:?}: {errors:?}"
        );
        assert_eq!(platform.stats().refused, 1);
    }
}

#[test]
#[should_panic(expected = "an arena other than the one the platform was built with")]
fn waiting_with_another_arena_is_refused() {
    let fixture = fixture(MIB, Medium::Tmpfs);
    let device = open_writable(fixture.path(), None);
    let mut own = Arena::new(8);
    let mut other = Arena::new(8);
    let mut platform =
        RealPlatform::new(vec![device], &mut own, options(BackendChoice::IoUring)).unwrap();
    let mut completions = Vec::new();
    platform.wait_for(Some(0), &mut other, &mut completions);
}

#[test]
fn the_platform_lends_the_arena_until_it_releases_it_after_every_completion() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = fixture(8 * MIB, Medium::Tmpfs);
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(256);
        assert!(!arena.is_lent());
        let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
        assert!(
            arena.is_lent(),
            "{backend:?}: building the platform lends the arena"
        );
        for index in 0..64u32 {
            let buffer = Buffer::from_pages(arena.alloc(2).unwrap());
            platform.submit_io(
                io(tag(index), Op::Read, u64::from(index) * 16, 16, buffer),
                &mut arena,
            );
        }
        assert!(platform.in_flight() > 0);
        // Release with IO in flight: it cancels, waits for all 64 and only then lets go.
        platform.release(&mut arena);
        assert!(!arena.is_lent(), "{backend:?}: release gives the loan back");
    }
}

#[test]
fn a_rig_releases_its_arena_on_into_engine_and_builds_a_recording_engine() {
    let fixture = fixture(16 * MIB, Medium::Tmpfs);
    let device = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    let capacity = device.info().capacity_sectors;
    let config = EngineConfig {
        arena_pages: 512,
        ..EngineConfig::default()
    };
    let target = TargetSpec::Linear {
        device: DeviceId(0),
        offset_sectors: 0,
    };
    let mut rig = RealRig::build(config, target, vec![device], PlatformOptions::default()).unwrap();
    assert!(rig.engine().arena().is_lent());
    assert_eq!(
        rig.engine().anomaly_policy(),
        AnomalyPolicy::Record,
        "real engines record anomalies, whatever the config said"
    );
    let reads = ClosedLoopSource::random_reads(500, 64, capacity, 5);
    let mut source = ClosedLoopSource::new(reads, 32, false);
    let options = DriveOptions {
        input_limit: Some(32),
        ..DriveOptions::default()
    };
    let report = rig.drive(&mut source, &mut (), &options).unwrap();
    assert_eq!(report.outcome, DriveOutcome::InputLimit);
    assert!(rig.platform().in_flight() > 0, "stopped with IO in flight");
    let engine = rig.into_engine();
    assert!(
        !engine.arena().is_lent(),
        "into_engine drained and gave the loan back"
    );
}
