//! Queue plugging (spec §2.2, Decision 5): with plugging on, async IO waits for the unplug
//! timer, the queue-depth threshold or a sync IO on the same device.

mod common;

use common::bio;
use dmsim_engine::services::dm_io::{DmIoRegion, DmIoRequest, TimedControl};
use dmsim_engine::{
    Buffer, Caller, DeviceId, DeviceInfo, Engine, EngineConfig, Input, Op, Output, PlugConfig,
    Services, TargetSpec,
};

const MS: u64 = 1_000_000;

fn plugged_engine() -> Engine {
    Engine::new(
        EngineConfig {
            arena_pages: 64,
            plugging: Some(PlugConfig::default()),
            ..EngineConfig::default()
        },
        vec![DeviceInfo::new(1 << 16, 512)],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .unwrap()
}

fn submits(engine: &mut Engine) -> Vec<u64> {
    let mut out = Vec::new();
    while let Some(output) = engine.poll_output() {
        if let Output::Submit(io) = output {
            out.push(io.sector);
        }
    }
    out
}

#[test]
fn async_io_waits_for_the_unplug_timer() {
    let mut engine = plugged_engine();
    engine
        .handle(0, Input::Bio(bio(1, Op::Write, 0, 8)))
        .unwrap();
    engine
        .handle(MS, Input::Bio(bio(2, Op::Write, 8, 8)))
        .unwrap();
    assert!(submits(&mut engine).is_empty());
    assert_eq!(
        engine.poll_deadline(),
        Some(3 * MS),
        "timer from the first IO"
    );
    engine.check_invariants().unwrap();
    engine.handle(3 * MS, Input::Tick).unwrap();
    assert_eq!(submits(&mut engine), vec![0, 8]);
    assert_eq!(engine.poll_deadline(), None);
    assert_eq!(engine.stats().services.block_layer.unplugs_timer, 1);
}

#[test]
fn the_threshold_unplugs_at_once() {
    let mut engine = plugged_engine();
    for i in 0..3 {
        engine
            .handle(0, Input::Bio(bio(i + 1, Op::Read, i * 8, 8)))
            .unwrap();
    }
    assert!(submits(&mut engine).is_empty());
    engine
        .handle(0, Input::Bio(bio(4, Op::Read, 24, 8)))
        .unwrap();
    assert_eq!(submits(&mut engine), vec![0, 8, 16, 24]);
    assert_eq!(engine.stats().services.block_layer.unplugs_threshold, 1);
}

#[test]
fn a_sync_io_unplugs_its_queue_behind_the_held_io() {
    let mut engine = plugged_engine();
    engine
        .handle(0, Input::Bio(bio(1, Op::Write, 0, 8)))
        .unwrap();
    let mut sync = bio(2, Op::Read, 64, 8);
    sync.flags.sync = true;
    engine.handle(0, Input::Bio(sync)).unwrap();
    assert_eq!(submits(&mut engine), vec![0, 64]);
    assert_eq!(engine.poll_deadline(), None);
}

#[test]
fn cancelling_a_plugged_io_releases_it_first() {
    let mut services = Services::new(
        &EngineConfig {
            arena_pages: 16,
            plugging: Some(PlugConfig::default()),
            ..EngineConfig::default()
        },
        vec![DeviceInfo::new(1 << 16, 512)],
    )
    .unwrap();
    let client = services.dm_io_client_create(4, "t");
    let buffer = Buffer::from_pages(services.arena_mut().alloc(1).unwrap());
    let handle = services
        .dm_io_timed(
            client,
            Caller(1),
            DmIoRequest {
                op: Op::Write,
                fua: false,
                sync: false,
                buffer,
                notify: true,
            },
            TimedControl::default(),
            &[DmIoRegion {
                device: DeviceId(0),
                sector: 0,
                sectors: 8,
            }],
        )
        .unwrap();
    services.run();
    assert!(services.poll_output().is_none(), "held by the plug");
    services.dm_io_cancel_by_handle(handle).unwrap();
    services.run();
    let outputs: Vec<Output> = std::iter::from_fn(|| services.poll_output()).collect();
    assert!(matches!(outputs[0], Output::Submit(_)));
    assert!(matches!(outputs[1], Output::Cancel(_)));
    assert_eq!(outputs.len(), 2);
    services.check_invariants().unwrap();
}
