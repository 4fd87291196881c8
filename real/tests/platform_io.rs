//! RealPlatform data path on a loop device (when root; a plain file otherwise) and on a plain
//! file: stamped sectors written through the arena's encoding read back intact through
//! contiguous, offset and scattered buffers; both backends give identical results;
//! registered buffers are used; 4 KiB-sector devices.

mod common;

use common::{collect, fixture, io, open_writable, options, stamp, Tags, MIB};
use dmsim_engine::arena::{Arena, Buffer};
use dmsim_engine::block::{IoStatus, Op, SECTORS_PER_PAGE};
use dmsim_engine::content::SectorContent;
use dmsim_engine::io::{Completion, IoTag};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{BackendChoice, BackendKind, PlatformOptions, RealError, RealPlatform};

/// What a scenario observed: statuses in submission order and the sectors read back.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    statuses: Vec<IoStatus>,
    read_back: Vec<SectorContent>,
}

/// Writes stamps through three buffer shapes (contiguous pages, a sector offset into the
/// first page, scattered pages), with a FUA write and a flush, then reads everything back.
fn write_then_read(path: &std::path::Path, backend: BackendChoice) -> (Observed, RealPlatform) {
    write_then_read_with(path, options(backend))
}

fn write_then_read_with(
    path: &std::path::Path,
    options: PlatformOptions,
) -> (Observed, RealPlatform) {
    let device = open_writable(path, None);
    let mut arena = Arena::new(64);
    let mut platform = RealPlatform::new(vec![device], &mut arena, options).unwrap();
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
                    fixed_buffers: true,
                    fixed_files: true
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
fn waits_that_poll_and_waits_that_block_see_the_same_data() {
    for poll_before_block_ns in [0, 1_000_000_000] {
        let fixture = fixture(4 * MIB, Medium::Tmpfs);
        let options = PlatformOptions {
            backend: BackendChoice::IoUring,
            poll_before_block_ns,
            ..PlatformOptions::default()
        };
        let (result, platform) = write_then_read_with(fixture.path(), options);
        assert_eq!(result.read_back, expected_read_back());
        assert!(result.statuses.iter().all(|s| *s == IoStatus::Ok));
        let stats = platform.stats();
        if poll_before_block_ns == 0 {
            assert_eq!(stats.polled_waits, 0, "{stats:?}");
            assert!(stats.blocked_waits > 0, "{stats:?}");
        } else {
            // Each wait of the test has a deadline inside the polling budget: none blocks.
            assert!(stats.polled_waits > 0, "{stats:?}");
            assert_eq!(stats.blocked_waits, 0, "{stats:?}");
        }
    }
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
            register_files: false,
            ..PlatformOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        platform.backend_kind(),
        BackendKind::IoUring {
            fixed_buffers: false,
            fixed_files: false
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
