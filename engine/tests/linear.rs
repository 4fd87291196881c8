//! The engine end to end with the linear target, driven by `drive` over the fake platform:
//! data round trips, dm core splitting, errors, flush ordering, memory waiting, stale tags
//! and the stalled-run report. Invariants are checked after every input.

mod common;

use common::{bio, stamps, FakePlatform, Fate, ListSource};
use dmsim_engine::content::SectorContent;
use dmsim_engine::{
    drive, BioFlags, BioId, BioRejection, Completion, DeviceId, DeviceInfo, DriveOptions,
    DriveOutcome, Engine, EngineConfig, Input, InputError, IoStatus, IoTag, Op, Output, Platform,
    SectorData, TargetSpec,
};

fn options() -> DriveOptions {
    DriveOptions {
        check_invariants: true,
        time_limit_ns: Some(10_000_000_000),
        input_limit: None,
    }
}

fn linear_engine(capacity_sectors: u64, max_sectors: u32, arena_pages: u32) -> Engine {
    let device = DeviceInfo {
        max_sectors,
        max_discard_sectors: 256,
        ..DeviceInfo::new(capacity_sectors, 512)
    };
    Engine::new(
        EngineConfig {
            arena_pages,
            plugging: None,
            ..EngineConfig::default()
        },
        vec![device],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .expect("valid engine")
}

#[test]
fn written_data_reads_back_through_the_volume() {
    let mut engine = linear_engine(1 << 20, 256, 256);
    let mut platform = FakePlatform::uniform(1, 100_000);
    let mut source = ListSource::new(vec![
        (0, bio(1, Op::Write, 1000, 24)),
        (1_000_000, bio(2, Op::Read, 1000, 24)),
    ]);
    let report = drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(report.outcome, DriveOutcome::Finished);
    assert_eq!(report.bios_done, 2);
    let read = source.done_for(2);
    assert_eq!(read.status, IoStatus::Ok);
    assert_eq!(read.data, stamps(1000, 24, 1));
    assert!(engine.is_idle());
    assert_eq!(platform.read(0, 1023), common::stamp(1023, 1));
}

#[test]
fn an_offset_linear_volume_remaps_sectors() {
    let device = DeviceInfo::new(4096, 512);
    let mut engine = Engine::new(
        EngineConfig::default(),
        vec![device],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 1024,
        },
    )
    .unwrap();
    assert_eq!(engine.volume_sectors(), 3072);
    let mut platform = FakePlatform::uniform(1, 10);
    let mut source = ListSource::new(vec![(0, bio(1, Op::Write, 8, 8))]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(platform.submitted[0].sector, 1032);
    assert_eq!(platform.read(0, 1032), common::stamp(8, 1));
}

#[test]
fn large_bios_are_split_at_the_device_limit_and_complete_once() {
    let mut engine = linear_engine(1 << 20, 64, 256);
    // Complete pieces in reverse order of submission: the bio still completes once, after
    // the last piece.
    let mut platform = FakePlatform::new(
        1,
        Box::new({
            let mut n = 0u64;
            move |_| {
                n += 1;
                Fate::ok(1_000_000 - n * 1000)
            }
        }),
    );
    let mut source = ListSource::new(vec![(0, bio(1, Op::Write, 0, 200))]);
    let report = drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(report.bios_done, 1);
    let lens: Vec<u32> = platform.submitted.iter().map(|io| io.sectors).collect();
    assert_eq!(lens, vec![64, 64, 64, 8]);
    let (at, done) = &source.done[0];
    assert_eq!(done.status, IoStatus::Ok);
    // The first piece was scheduled latest.
    assert_eq!(*at, 999_000);
    assert_eq!(platform.read(0, 199), common::stamp(199, 1));
}

#[test]
fn a_failed_piece_fails_the_bio_with_the_worst_status_and_zero_fills_reads() {
    let mut engine = linear_engine(1 << 20, 8, 64);
    let mut platform = FakePlatform::new(
        1,
        Box::new(|io| {
            let status = if io.sector == 8 {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            };
            Fate::After {
                delay_ns: 10,
                status,
            }
        }),
    );
    platform.fill(0, 0, &stamps(0, 24, 7));
    let mut source = ListSource::new(vec![(0, bio(1, Op::Read, 0, 24))]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    let done = source.done_for(1);
    assert_eq!(done.status, IoStatus::IoError);
    assert_eq!(done.data[0], common::stamp(0, 7));
    assert_eq!(done.data[8], SectorContent::Zero);
    assert_eq!(done.data[15], SectorContent::Zero);
    assert_eq!(done.data[16], common::stamp(16, 7));
}

#[test]
fn a_preflush_write_sends_the_flush_first_and_the_data_after_it() {
    let mut engine = linear_engine(1 << 20, 256, 64);
    let mut platform = FakePlatform::uniform(1, 500);
    let mut write = bio(1, Op::Write, 64, 8);
    write.flags = BioFlags {
        fua: true,
        preflush: true,
        sync: true,
    };
    let mut source = ListSource::new(vec![(0, write)]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(platform.submitted.len(), 2);
    assert_eq!(platform.submitted[0].op, Op::Flush);
    assert_eq!(platform.submitted[0].sectors, 0);
    assert!(platform.submitted[0].buffer.pages.is_empty());
    assert_eq!(platform.submitted[1].op, Op::Write);
    assert!(platform.submitted[1].fua && platform.submitted[1].sync);
    // The data went out only after the flush completed.
    assert_eq!(source.done[0].0, 1000);
}

#[test]
fn a_failed_preflush_fails_the_bio_without_writing() {
    let mut engine = linear_engine(1 << 20, 256, 64);
    let mut platform = FakePlatform::new(
        1,
        Box::new(|io| Fate::After {
            delay_ns: 5,
            status: if io.op == Op::Flush {
                IoStatus::IoError
            } else {
                IoStatus::Ok
            },
        }),
    );
    let mut write = bio(1, Op::Write, 0, 8);
    write.flags.preflush = true;
    let mut source = ListSource::new(vec![(0, write)]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(source.done_for(1).status, IoStatus::IoError);
    assert_eq!(platform.submitted.len(), 1);
    assert_eq!(platform.read(0, 0), SectorContent::Zero);
}

#[test]
fn discards_are_chunked_or_unsupported() {
    let mut engine = linear_engine(1 << 20, 256, 64);
    let mut platform = FakePlatform::uniform(1, 5);
    let mut source = ListSource::new(vec![(0, bio(1, Op::Discard, 0, 600))]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    let lens: Vec<u32> = platform.submitted.iter().map(|io| io.sectors).collect();
    assert_eq!(lens, vec![256, 256, 88]);
    assert_eq!(source.done_for(1).status, IoStatus::Ok);

    let mut engine = Engine::new(
        EngineConfig::default(),
        vec![DeviceInfo::new(4096, 512)],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .unwrap();
    let mut platform = FakePlatform::uniform(1, 5);
    let mut source = ListSource::new(vec![(0, bio(1, Op::Discard, 0, 8))]);
    drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert!(platform.submitted.is_empty());
    assert_eq!(source.done_for(1).status, IoStatus::NotSupported);
}

#[test]
fn bios_wait_for_arena_memory_in_order_and_never_fail_for_it() {
    // 9 pages: the zero page plus 8 for bios; each bio needs 4 pages.
    let mut engine = linear_engine(1 << 20, 256, 9);
    let mut platform = FakePlatform::uniform(1, 1000);
    let bios = (0..5)
        .map(|i| (0, bio(i + 1, Op::Write, i * 64, 32)))
        .collect();
    let mut source = ListSource::new(bios);
    let report = drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    assert_eq!(report.bios_done, 5);
    assert_eq!(engine.stats().dm_core.bios_waited_for_memory, 3);
    assert_eq!(platform.max_in_flight, 2);
    let order: Vec<u64> = source.done.iter().map(|(_, d)| d.id.0).collect();
    assert_eq!(order, vec![1, 2, 3, 4, 5]);
}

#[test]
fn invalid_bios_are_refused_without_side_effects() {
    let mut engine = linear_engine(4096, 256, 64);
    let cases = [
        (bio(1, Op::Read, 4090, 8), "OutOfRange"),
        (
            dmsim_engine::Bio {
                data: SectorData::new(),
                ..bio(2, Op::Write, 0, 8)
            },
            "DataLength",
        ),
        (bio(3, Op::Read, 0, 0), "Empty"),
        (bio(4, Op::Read, 0, 1000), "LargerThanArena"),
    ];
    for (bad, kind) in cases {
        let error = engine.handle(0, Input::Bio(bad)).unwrap_err();
        let InputError::BadBio { reason, .. } = &error else {
            panic!("unexpected {error:?}");
        };
        assert!(
            format!("{reason:?}").starts_with(kind),
            "{reason:?} vs {kind}"
        );
    }
    assert!(engine.is_idle());
    assert!(engine.poll_output().is_none());
    // A misaligned bio on a 4 KiB-sector device.
    let mut engine = Engine::new(
        EngineConfig::default(),
        vec![DeviceInfo::new(4096, 4096)],
        TargetSpec::Linear {
            device: DeviceId(0),
            offset_sectors: 0,
        },
    )
    .unwrap();
    let error = engine
        .handle(0, Input::Bio(bio(5, Op::Read, 4, 8)))
        .unwrap_err();
    assert!(matches!(
        error,
        InputError::BadBio {
            reason: BioRejection::Misaligned { .. },
            ..
        }
    ));
    // Duplicate ids while the first is in flight.
    let mut engine = linear_engine(4096, 256, 64);
    engine
        .handle(0, Input::Bio(bio(9, Op::Read, 0, 8)))
        .unwrap();
    let error = engine
        .handle(0, Input::Bio(bio(9, Op::Read, 8, 8)))
        .unwrap_err();
    assert!(matches!(
        error,
        InputError::BadBio {
            reason: BioRejection::DuplicateId,
            ..
        }
    ));
}

#[test]
fn stale_and_duplicate_completions_are_refused_and_never_misrouted() {
    let mut engine = linear_engine(4096, 256, 64);
    engine
        .handle(0, Input::Bio(bio(1, Op::Write, 0, 8)))
        .unwrap();
    let Some(Output::Submit(first)) = engine.poll_output() else {
        panic!("expected a submit");
    };
    engine
        .handle(
            10,
            Input::Completion(Completion {
                tag: first.tag,
                status: IoStatus::Ok,
            }),
        )
        .unwrap();
    assert!(matches!(engine.poll_output(), Some(Output::BioDone(_))));
    // The slot is reused by the next IO, with a new generation.
    engine
        .handle(20, Input::Bio(bio(2, Op::Write, 8, 8)))
        .unwrap();
    let Some(Output::Submit(second)) = engine.poll_output() else {
        panic!("expected a submit");
    };
    assert_eq!(second.tag.slot, first.tag.slot);
    assert_ne!(second.tag.generation, first.tag.generation);
    // The old tag (a duplicate of the first completion) must not complete the second IO.
    let error = engine
        .handle(
            30,
            Input::Completion(Completion {
                tag: first.tag,
                status: IoStatus::Ok,
            }),
        )
        .unwrap_err();
    assert_eq!(error, InputError::UnknownCompletion { tag: first.tag });
    assert!(engine.poll_output().is_none());
    assert!(!engine.is_idle());
    // A tag that never existed.
    let bogus = IoTag {
        slot: 99,
        generation: 0,
    };
    assert!(engine
        .handle(
            31,
            Input::Completion(Completion {
                tag: bogus,
                status: IoStatus::Ok
            })
        )
        .is_err());
    assert_eq!(engine.stats().services.block_layer.stale_completions, 2);
    engine.check_invariants().unwrap();
    engine
        .handle(
            40,
            Input::Completion(Completion {
                tag: second.tag,
                status: IoStatus::Ok,
            }),
        )
        .unwrap();
    assert!(matches!(
        engine.poll_output(),
        Some(Output::BioDone(done)) if done.id == BioId(2)
    ));
    assert!(engine.is_idle());
    // Time may not go backwards.
    assert!(matches!(
        engine.handle(39, Input::Tick),
        Err(InputError::TimeWentBackwards { .. })
    ));
}

#[test]
fn a_hung_device_stalls_the_run_with_a_report() {
    let mut engine = linear_engine(4096, 256, 64);
    let mut platform = FakePlatform::new(1, Box::new(|_| Fate::Hang));
    let mut source = ListSource::new(vec![(0, bio(1, Op::Read, 0, 8))]);
    let report = drive(&mut engine, &mut platform, &mut source, &mut (), &options()).unwrap();
    let DriveOutcome::Stalled { waiting } = report.outcome else {
        panic!("expected a stall, got {:?}", report.outcome);
    };
    let text: Vec<String> = waiting.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter().any(|t| t.starts_with("bio: bio BioId(1)")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("device: io#0.0 Read dev0")),
        "{text:?}"
    );
    assert_eq!(platform.now_ns(), 0);
}

#[test]
fn the_arena_is_untouchable_while_a_device_io_holds_it() {
    let mut engine = linear_engine(4096, 256, 64);
    engine
        .handle(0, Input::Bio(bio(1, Op::Write, 0, 8)))
        .unwrap();
    let Some(Output::Submit(io)) = engine.poll_output() else {
        panic!("expected a submit");
    };
    let page = io.buffer.pages[0];
    assert!(engine.arena().is_in_flight(page));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.arena_mut().set_sector(page, 0, SectorContent::Zero);
    }));
    assert!(result.is_err(), "touching an in-flight page must panic");
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.arena().sector(page, 7)
    }));
    assert!(read.is_err(), "reading an in-flight page must panic too");
    // The platform side may read it.
    assert_eq!(engine.arena().io_sector(page, 0), common::stamp(0, 1));
}
