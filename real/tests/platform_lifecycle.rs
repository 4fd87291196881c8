//! RealPlatform's IO lifecycle on loop devices (plain files when not root): cancellation
//! yields exactly one completion per IO, refused IOs never touch the device, discards,
//! deadline waits, transfers cut short, and more IOs in flight than ring entries.

mod common;

use common::{collect, fixture, io, open_writable, options, stamp, MIB};
use dmsim_engine::arena::{Arena, Buffer, PageId};
use dmsim_engine::block::{DeviceId, IoStatus, Op};
use dmsim_engine::content::SectorContent;
use dmsim_engine::io::{Completion, IoTag};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{
    BackendChoice, OpenOptions, PlatformOptions, RealDevice, RealError, RealPlatform,
};

#[test]
fn cancellation_yields_exactly_one_completion_per_io() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = fixture(8 * MIB, Medium::Tmpfs);
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(256);
        let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
        let mut tags = Vec::new();
        for index in 0..128u32 {
            let tag = IoTag {
                slot: index,
                generation: 1,
            };
            let buffer = Buffer::from_pages(arena.alloc(2).unwrap());
            let op = if index % 2 == 0 { Op::Read } else { Op::Write };
            platform.submit_io(io(tag, op, u64::from(index) * 16, 16, buffer), &mut arena);
            tags.push(tag);
        }
        for &tag in &tags {
            platform.cancel_io(tag);
        }
        // Cancelling a completed or unknown IO must not produce another completion.
        platform.cancel_io(IoTag {
            slot: 999,
            generation: 1,
        });
        let completions = collect(&mut platform, &mut arena, tags.len());
        // Nothing more arrives afterwards.
        let mut late = Vec::new();
        let deadline = platform.now_ns() + 50_000_000;
        platform.wait_for(Some(deadline), &mut arena, &mut late);
        assert!(late.is_empty(), "{late:?}");
        for &tag in &tags {
            let count = completions.iter().filter(|c| c.tag == tag).count();
            assert_eq!(count, 1, "{backend:?}: {tag} completed {count} times");
        }
        assert!(completions
            .iter()
            .all(|c| matches!(c.status, IoStatus::Ok | IoStatus::Cancelled)));
        let stats = platform.stats();
        assert_eq!(stats.cancel_requests, 128);
        if backend == BackendChoice::Blocking {
            // Nothing was started before the cancels: every one takes effect.
            assert!(completions.iter().all(|c| c.status == IoStatus::Cancelled));
            assert_eq!(stats.cancelled, 128);
        }
        assert_eq!(platform.in_flight(), 0);
    }
}

#[test]
fn refused_ios_complete_with_an_error_and_never_touch_the_device() {
    let fixture = LoopDevice::plain_file(FixtureOptions::new(MIB, Medium::Tmpfs)).unwrap();
    // Window: sectors 512..1024 of a 2048-sector file.
    let device = open_writable(fixture.path(), Some((512, 512)));
    let read_only = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    let mut arena = Arena::new(8);
    let mut platform = RealPlatform::new(
        vec![device, read_only],
        &mut arena,
        PlatformOptions::default(),
    )
    .unwrap();
    let buffer = Buffer::from_pages(arena.alloc(1).unwrap());
    let contents: Vec<_> = (0..8).map(|i| stamp(i, 1)).collect();
    arena.write_sectors(&buffer, &contents);
    let mut tag = 0;
    let mut next = || {
        tag += 1;
        IoTag {
            slot: tag,
            generation: 0,
        }
    };
    // Inside: first and last 8 sectors of the window.
    platform.submit_io(io(next(), Op::Write, 0, 8, buffer.clone()), &mut arena);
    platform.submit_io(io(next(), Op::Write, 504, 8, buffer.clone()), &mut arena);
    // Outside: past the end, straddling the end.
    platform.submit_io(io(next(), Op::Write, 512, 8, buffer.clone()), &mut arena);
    platform.submit_io(io(next(), Op::Write, 508, 8, buffer.clone()), &mut arena);
    // Read-only device.
    let mut write_read_only = io(next(), Op::Write, 0, 8, buffer.clone());
    write_read_only.device = DeviceId(1);
    platform.submit_io(write_read_only, &mut arena);
    // Unknown device, buffer too small, page outside the arena.
    let mut unknown = io(next(), Op::Read, 0, 8, buffer.clone());
    unknown.device = DeviceId(5);
    platform.submit_io(unknown, &mut arena);
    platform.submit_io(io(next(), Op::Read, 0, 16, buffer.clone()), &mut arena);
    platform.submit_io(
        io(next(), Op::Read, 0, 8, Buffer::from_pages(vec![PageId(99)])),
        &mut arena,
    );
    let mut completions = collect(&mut platform, &mut arena, 8);
    completions.sort_by_key(|c| c.tag.slot);
    let statuses: Vec<IoStatus> = completions.iter().map(|c| c.status).collect();
    use IoStatus::{IoError, Ok};
    assert_eq!(
        statuses,
        vec![Ok, Ok, IoError, IoError, IoError, IoError, IoError, IoError]
    );
    let errors = platform.take_errors();
    assert!(
        matches!(errors[0], RealError::OutOfRange { .. }),
        "{errors:?}"
    );
    assert!(
        matches!(errors[1], RealError::OutOfRange { .. }),
        "{errors:?}"
    );
    assert!(
        matches!(errors[2], RealError::ReadOnly { .. }),
        "{errors:?}"
    );
    assert!(
        matches!(errors[3], RealError::UnknownDevice { .. }),
        "{errors:?}"
    );
    assert!(
        matches!(errors[4], RealError::BadBuffer { .. }),
        "{errors:?}"
    );
    assert!(
        matches!(errors[5], RealError::PageOutsideArena { .. }),
        "{errors:?}"
    );
    assert_eq!(platform.stats().refused, 6);
    drop(platform);
    // Only the window's first and last 8 sectors were written.
    let bytes = std::fs::read(fixture.path()).unwrap();
    let written: Vec<usize> = bytes
        .chunks(512)
        .enumerate()
        .filter(|(_, sector)| sector.iter().any(|&b| b != 0))
        .map(|(index, _)| index)
        .collect();
    let expected: Vec<usize> = (512..520).chain(1016..1024).collect();
    assert_eq!(written, expected);
}

#[test]
fn discard_zeroes_a_file_range_or_says_not_supported() {
    for plain in [true, false] {
        let fixture = if plain {
            LoopDevice::plain_file(FixtureOptions::new(MIB, Medium::Tmpfs)).unwrap()
        } else {
            fixture(MIB, Medium::Tmpfs)
        };
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(8);
        let mut platform =
            RealPlatform::new(vec![device], &mut arena, PlatformOptions::default()).unwrap();
        let buffer = Buffer::from_pages(arena.alloc(1).unwrap());
        arena.write_sectors(&buffer, &(0..8).map(|i| stamp(i, 1)).collect::<Vec<_>>());
        platform.submit_io(
            io(
                IoTag {
                    slot: 1,
                    generation: 0,
                },
                Op::Write,
                0,
                8,
                buffer.clone(),
            ),
            &mut arena,
        );
        assert_eq!(
            collect(&mut platform, &mut arena, 1)[0].status,
            IoStatus::Ok
        );
        platform.submit_io(
            io(
                IoTag {
                    slot: 2,
                    generation: 0,
                },
                Op::Discard,
                0,
                8,
                Buffer::empty(),
            ),
            &mut arena,
        );
        let status = collect(&mut platform, &mut arena, 1)[0].status;
        if plain {
            assert_eq!(status, IoStatus::Ok);
        } else {
            assert!(
                matches!(status, IoStatus::Ok | IoStatus::NotSupported),
                "{status:?}"
            );
        }
        if status == IoStatus::Ok {
            // Punched holes and loop-device discards (a punch in the backing file) read as
            // zeroes.
            platform.submit_io(
                io(
                    IoTag {
                        slot: 3,
                        generation: 0,
                    },
                    Op::Read,
                    0,
                    8,
                    buffer.clone(),
                ),
                &mut arena,
            );
            assert_eq!(
                collect(&mut platform, &mut arena, 1)[0].status,
                IoStatus::Ok
            );
            let mut read = Vec::new();
            arena.read_sectors(&buffer, 8, &mut read);
            assert_eq!(read, vec![SectorContent::Zero; 8], "plain file: {plain}");
        }
        assert_eq!(platform.stats().discards, 1);
    }
}

#[test]
fn wait_sleeps_until_the_deadline_when_nothing_is_in_flight() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = LoopDevice::plain_file(FixtureOptions::new(MIB, Medium::Tmpfs)).unwrap();
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(1);
        let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
        let mut completions = Vec::new();
        // No deadline and nothing in flight: returns at once.
        platform.wait_for(None, &mut arena, &mut completions);
        let deadline = platform.now_ns() + 20_000_000;
        platform.wait_for(Some(deadline), &mut arena, &mut completions);
        assert!(completions.is_empty());
        assert!(platform.now_ns() >= deadline, "{backend:?} woke early");
    }
}

#[test]
fn a_transfer_cut_short_by_end_of_file_is_continued_then_failed() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = LoopDevice::plain_file(FixtureOptions::new(MIB, Medium::Tmpfs)).unwrap();
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(4);
        let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
        // The file shrinks behind the platform's back: the last 16-sector read now finds
        // only 4 sectors before the end.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(fixture.path())
            .unwrap();
        file.set_len(MIB - 6 * 512).unwrap();
        let buffer = Buffer::from_pages(arena.alloc(2).unwrap());
        let tag = IoTag {
            slot: 0,
            generation: 0,
        };
        platform.submit_io(io(tag, Op::Read, 2048 - 16, 16, buffer), &mut arena);
        let completions = collect(&mut platform, &mut arena, 1);
        assert_eq!(
            completions,
            vec![Completion {
                tag,
                status: IoStatus::IoError
            }],
            "{backend:?}"
        );
        assert!(
            platform.stats().short_transfers >= 1,
            "{:?}",
            platform.stats()
        );
    }
}

#[test]
fn more_ios_in_flight_than_ring_entries_all_complete_once() {
    let fixture = fixture(4 * MIB, Medium::Tmpfs);
    let device = open_writable(fixture.path(), None);
    let mut arena = Arena::new(256);
    let mut platform = RealPlatform::new(
        vec![device],
        &mut arena,
        PlatformOptions {
            backend: BackendChoice::IoUring,
            queue_entries: 4,
            ..PlatformOptions::default()
        },
    )
    .unwrap();
    let count = 100u32;
    let mut buffers = Vec::new();
    for index in 0..count {
        let buffer = Buffer::from_pages(arena.alloc(1).unwrap());
        let sector = u64::from(index) * 8;
        let contents: Vec<_> = (0..8).map(|i| stamp(sector + i, 5)).collect();
        arena.write_sectors(&buffer, &contents);
        let tag = IoTag {
            slot: index,
            generation: 1,
        };
        platform.submit_io(io(tag, Op::Write, sector, 8, buffer.clone()), &mut arena);
        buffers.push(buffer);
    }
    let writes = collect(&mut platform, &mut arena, count as usize);
    assert!(writes.iter().all(|c| c.status == IoStatus::Ok));
    for index in 0..count {
        let tag = IoTag {
            slot: index,
            generation: 2,
        };
        let buffer = buffers[index as usize].clone();
        arena.zero_sectors(&buffer, 8);
        platform.submit_io(
            io(tag, Op::Read, u64::from(index) * 8, 8, buffer),
            &mut arena,
        );
    }
    let reads = collect(&mut platform, &mut arena, count as usize);
    for index in 0..count {
        let tag = IoTag {
            slot: index,
            generation: 2,
        };
        assert_eq!(reads.iter().filter(|c| c.tag == tag).count(), 1);
        let mut read = Vec::new();
        arena.read_sectors(&buffers[index as usize], 8, &mut read);
        let sector = u64::from(index) * 8;
        assert_eq!(
            read,
            (0..8).map(|i| stamp(sector + i, 5)).collect::<Vec<_>>()
        );
    }
    assert_eq!(platform.in_flight(), 0);
}

#[test]
fn a_wait_with_a_passed_deadline_still_delivers_finished_io() {
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = fixture(MIB, Medium::Tmpfs);
        let device = open_writable(fixture.path(), None);
        let mut arena = Arena::new(2);
        let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
        let tag = IoTag {
            slot: 4,
            generation: 4,
        };
        let buffer = Buffer::from_pages(arena.alloc(1).unwrap());
        platform.submit_io(io(tag, Op::Read, 0, 8, buffer), &mut arena);
        let mut completions = Vec::new();
        // Submit without waiting, give the device time, then look with a deadline in the past.
        platform.wait_for(Some(platform.now_ns()), &mut arena, &mut completions);
        std::thread::sleep(std::time::Duration::from_millis(50));
        for _ in 0..3 {
            if completions.is_empty() {
                platform.wait_for(Some(0), &mut arena, &mut completions);
            }
        }
        assert_eq!(
            completions,
            vec![Completion {
                tag,
                status: IoStatus::Ok
            }],
            "{backend:?}"
        );
    }
}
