//! RealPlatform on a loop device (when root; a plain file otherwise) and on a plain file:
//! stamped sectors written through the arena's encoding read back intact, through both
//! backends with identical results; registered buffers are used; cancellation yields exactly
//! one completion per IO; refused IOs never reach the device.

use dmsim_engine::arena::{Arena, Buffer, PageId};
use dmsim_engine::block::{DeviceId, IoStatus, Op, SECTORS_PER_PAGE};
use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::io::{Completion, DeviceIo, IoTag};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{
    BackendChoice, BackendKind, OpenOptions, PlatformOptions, RealDevice, RealError, RealPlatform,
};

const MIB: u64 = 1 << 20;

fn stamp(sector: u64, write_id: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp { sector, write_id })
}

fn options(backend: BackendChoice) -> PlatformOptions {
    PlatformOptions {
        backend,
        ..PlatformOptions::default()
    }
}

fn open_writable(path: &std::path::Path, range: Option<(u64, u64)>) -> RealDevice {
    RealDevice::open(
        path,
        OpenOptions {
            allow_write: true,
            range,
        },
    )
    .expect("open fixture")
}

struct Tags(u32);

impl Tags {
    fn next(&mut self) -> IoTag {
        self.0 += 1;
        IoTag {
            slot: self.0,
            generation: 7,
        }
    }
}

fn io(tag: IoTag, op: Op, sector: u64, sectors: u32, buffer: Buffer) -> DeviceIo {
    DeviceIo {
        tag,
        device: DeviceId(0),
        op,
        sector,
        sectors,
        fua: false,
        sync: true,
        buffer,
    }
}

/// Waits until `count` completions arrived (or panics after 10 s of real time).
fn collect(platform: &mut RealPlatform, arena: &mut Arena, count: usize) -> Vec<Completion> {
    let mut completions = Vec::new();
    let give_up_ns = platform.now_ns() + 10_000_000_000;
    while completions.len() < count {
        let deadline = platform.now_ns() + 100_000_000;
        platform.wait_for(Some(deadline), arena, &mut completions);
        assert!(
            platform.now_ns() < give_up_ns,
            "only {} of {count} completions",
            completions.len()
        );
    }
    completions
}

/// What a scenario observed: statuses in submission order and the sectors read back.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    statuses: Vec<IoStatus>,
    read_back: Vec<SectorContent>,
}

/// Writes stamps through three buffer shapes (contiguous pages, a sector offset into the
/// first page, scattered pages), with a FUA write and a flush, then reads everything back.
fn write_then_read(path: &std::path::Path, backend: BackendChoice) -> (Observed, RealPlatform) {
    let device = open_writable(path, None);
    let mut arena = Arena::new(64);
    let mut platform = RealPlatform::new(vec![device], &mut arena, options(backend)).unwrap();
    let mut tags = Tags(0);
    let mut statuses = Vec::new();

    // 1: 16 sectors from two adjacent pages at sector 64.
    let contiguous = arena.alloc(2).unwrap();
    // 2: 12 sectors starting 3 sectors into a page, at sector 256.
    let offset_pages = arena.alloc(2).unwrap();
    // 3: 16 sectors over two non-adjacent pages, at sector 1024.
    let scattered_all = arena.alloc(3).unwrap();
    let scattered = vec![scattered_all[0], scattered_all[2]];
    let shapes: Vec<(u64, u32, Buffer)> = vec![
        (64, 16, Buffer::from_pages(contiguous)),
        (
            256,
            12,
            Buffer {
                pages: offset_pages,
                offset_sectors: 3,
            },
        ),
        (1024, 16, Buffer::from_pages(scattered)),
    ];
    for (write_id, (sector, sectors, buffer)) in (100..).zip(&shapes) {
        let contents: Vec<SectorContent> = (0..u64::from(*sectors))
            .map(|i| stamp(sector + i, write_id))
            .collect();
        arena.write_sectors(buffer, &contents);
    }
    let mut submitted = Vec::new();
    for (index, (sector, sectors, buffer)) in shapes.iter().enumerate() {
        let tag = tags.next();
        let mut write = io(tag, Op::Write, *sector, *sectors, buffer.clone());
        write.fua = index == 1;
        platform.submit_io(write, &mut arena);
        submitted.push(tag);
    }
    let mut completions = collect(&mut platform, &mut arena, 3);
    let flush = tags.next();
    platform.submit_io(io(flush, Op::Flush, 0, 0, Buffer::empty()), &mut arena);
    submitted.push(flush);
    completions.extend(collect(&mut platform, &mut arena, 1));
    for tag in &submitted {
        let matching: Vec<_> = completions.iter().filter(|c| c.tag == *tag).collect();
        assert_eq!(
            matching.len(),
            1,
            "{tag} completed {} times",
            matching.len()
        );
        statuses.push(matching[0].status);
    }

    // Read back each range into fresh pages (one read spanning 32 sectors covers the offset
    // case and its unwritten neighbours, which must read as zero).
    let mut read_back = Vec::new();
    for (sector, sectors) in [(64u64, 16u32), (248, 32), (1024, 16)] {
        let pages = arena
            .alloc(sectors.div_ceil(SECTORS_PER_PAGE as u32) as usize)
            .unwrap();
        let buffer = Buffer::from_pages(pages.clone());
        let tag = tags.next();
        platform.submit_io(
            io(tag, Op::Read, sector, sectors, buffer.clone()),
            &mut arena,
        );
        let completion = collect(&mut platform, &mut arena, 1);
        assert_eq!(
            completion,
            vec![Completion {
                tag,
                status: IoStatus::Ok
            }]
        );
        statuses.push(IoStatus::Ok);
        arena.read_sectors(&buffer, u64::from(sectors), &mut read_back);
        arena.release_all(&pages);
    }
    (
        Observed {
            statuses,
            read_back,
        },
        platform,
    )
}

fn expected_read_back() -> Vec<SectorContent> {
    let mut expected: Vec<SectorContent> = (0..16).map(|i| stamp(64 + i, 100)).collect();
    expected.extend((248..256).map(|_| SectorContent::Zero));
    expected.extend((0..12).map(|i| stamp(256 + i, 101)));
    expected.extend((268..280).map(|_| SectorContent::Zero));
    expected.extend((0..16).map(|i| stamp(1024 + i, 102)));
    expected
}

fn fixture(size_bytes: u64, medium: Medium) -> LoopDevice {
    LoopDevice::for_tests(FixtureOptions::new(size_bytes, medium)).expect("fixture")
}

#[test]
fn stamps_round_trip_on_a_loop_device_with_both_backends() {
    let mut observed = Vec::new();
    for backend in [BackendChoice::IoUring, BackendChoice::Blocking] {
        let fixture = fixture(4 * MIB, Medium::Tmpfs);
        let (result, platform) = write_then_read(fixture.path(), backend);
        assert_eq!(result.read_back, expected_read_back(), "{backend:?}");
        assert!(
            result.statuses.iter().all(|s| *s == IoStatus::Ok),
            "{result:?}"
        );
        let stats = platform.stats();
        assert_eq!(stats.submitted, stats.completed);
        assert_eq!(stats.refused, 0);
        assert_eq!(platform.in_flight(), 0);
        if backend == BackendChoice::IoUring {
            assert_eq!(
                platform.backend_kind(),
                BackendKind::IoUring {
                    fixed_buffers: true
                },
                "{:?}",
                platform.fallback_reason()
            );
            // Contiguous and offset buffers go out on registered buffers (two writes and the
            // first read; later reads get pages the free list reordered), scattered vectored.
            assert!(stats.fixed_transfers >= 3, "{stats:?}");
            assert!(stats.vectored_transfers >= 1, "{stats:?}");
        } else {
            assert_eq!(platform.backend_kind(), BackendKind::Blocking);
        }
        observed.push(result);
    }
    assert_eq!(observed[0], observed[1], "backends disagree");
}

#[test]
fn stamps_round_trip_on_a_plain_file_and_on_disk_medium() {
    let file = LoopDevice::plain_file(FixtureOptions::new(4 * MIB, Medium::Disk)).unwrap();
    let (result, _) = write_then_read(file.path(), BackendChoice::Auto);
    assert_eq!(result.read_back, expected_read_back());
    // The bytes on the file are the stamp encoding: sector 64 decodes from the file itself.
    let bytes = std::fs::read(file.path()).unwrap();
    let sector = &bytes[64 * 512..65 * 512];
    assert_eq!(dmsim_engine::content::decode_sector(sector), stamp(64, 100));
    let hdd = fixture(4 * MIB, Medium::Disk);
    let (result, _) = write_then_read(hdd.path(), BackendChoice::Auto);
    assert_eq!(result.read_back, expected_read_back());
}

#[test]
fn unregistered_ring_gives_the_same_data() {
    let fixture = fixture(4 * MIB, Medium::Tmpfs);
    let device = open_writable(fixture.path(), None);
    let mut arena = Arena::new(8);
    let mut platform = RealPlatform::new(
        vec![device],
        &mut arena,
        PlatformOptions {
            backend: BackendChoice::IoUring,
            register_buffers: false,
            ..PlatformOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        platform.backend_kind(),
        BackendKind::IoUring {
            fixed_buffers: false
        }
    );
    let pages = arena.alloc(1).unwrap();
    let buffer = Buffer::from_pages(pages.clone());
    let contents: Vec<_> = (0..8).map(|i| stamp(8 + i, 9)).collect();
    arena.write_sectors(&buffer, &contents);
    platform.submit_io(
        io(
            IoTag {
                slot: 1,
                generation: 1,
            },
            Op::Write,
            8,
            8,
            buffer,
        ),
        &mut arena,
    );
    assert_eq!(
        collect(&mut platform, &mut arena, 1)[0].status,
        IoStatus::Ok
    );
    let other = Buffer::from_pages(arena.alloc(1).unwrap());
    platform.submit_io(
        io(
            IoTag {
                slot: 2,
                generation: 1,
            },
            Op::Read,
            8,
            8,
            other.clone(),
        ),
        &mut arena,
    );
    assert_eq!(
        collect(&mut platform, &mut arena, 1)[0].status,
        IoStatus::Ok
    );
    let mut read = Vec::new();
    arena.read_sectors(&other, 8, &mut read);
    assert_eq!(read, contents);
    assert_eq!(platform.stats().fixed_transfers, 0);
    assert_eq!(platform.stats().vectored_transfers, 2);
}

#[test]
fn a_4096_byte_loop_device_round_trips_whole_blocks() {
    let fixture = LoopDevice::for_tests(FixtureOptions {
        size_bytes: 4 * MIB,
        medium: Medium::Tmpfs,
        sector_size: 4096,
    })
    .unwrap();
    let device = open_writable(fixture.path(), None);
    let block_sectors = device.info().block_sectors();
    let mut arena = Arena::new(8);
    let mut platform =
        RealPlatform::new(vec![device], &mut arena, PlatformOptions::default()).unwrap();
    let buffer = Buffer::from_pages(arena.alloc(2).unwrap());
    let contents: Vec<_> = (0..16).map(|i| stamp(80 + i, 3)).collect();
    arena.write_sectors(&buffer, &contents);
    platform.submit_io(
        io(
            IoTag {
                slot: 1,
                generation: 1,
            },
            Op::Write,
            80,
            16,
            buffer,
        ),
        &mut arena,
    );
    assert_eq!(
        collect(&mut platform, &mut arena, 1)[0].status,
        IoStatus::Ok
    );
    let other = Buffer::from_pages(arena.alloc(2).unwrap());
    platform.submit_io(
        io(
            IoTag {
                slot: 1,
                generation: 2,
            },
            Op::Read,
            80,
            16,
            other.clone(),
        ),
        &mut arena,
    );
    assert_eq!(
        collect(&mut platform, &mut arena, 1)[0].status,
        IoStatus::Ok
    );
    let mut read = Vec::new();
    arena.read_sectors(&other, 16, &mut read);
    assert_eq!(read, contents);
    if fixture.is_loop_device() {
        assert_eq!(block_sectors, 8);
        // A misaligned IO is refused before reaching the device.
        let third = Buffer::from_pages(arena.alloc(1).unwrap());
        platform.submit_io(
            io(
                IoTag {
                    slot: 3,
                    generation: 1,
                },
                Op::Read,
                4,
                8,
                third,
            ),
            &mut arena,
        );
        assert_eq!(
            collect(&mut platform, &mut arena, 1)[0].status,
            IoStatus::IoError
        );
        let errors = platform.take_errors();
        assert!(
            matches!(errors[..], [RealError::Misaligned { .. }]),
            "{errors:?}"
        );
    }
}

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
            register_buffers: true,
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
