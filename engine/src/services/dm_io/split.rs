//! How dm_io cuts one region into device IOs (spec §2.2, `do_region`).
//!
//! A read or write piece is bounded by the bio size limit — at most `BIO_MAX_PAGES` page
//! vectors, so a piece starting `o` sectors into a page holds at most `256 * 8 - o` sectors —
//! and by the device's `max_sectors` (where `bio_add_page` would refuse the next page).
//! Discards are chunked by the device's discard limit. A flush is one empty IO per region.
//!
//! Deliberately not here: submitting anything (the caller does), error bits.

use crate::block::{DeviceInfo, Op, SECTORS_PER_PAGE};
use smallvec::SmallVec;

/// Page vectors in one bio (BIO_MAX_PAGES).
pub const BIO_MAX_PAGES: u64 = 256;

/// One device IO of a region: device sector, length, and where its data starts in the
/// request's memory (sectors from the buffer's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoPiece {
    pub sector: u64,
    pub sectors: u64,
    pub memory_skip_sectors: u64,
}

/// The device IOs of one region: inline for the common one or two, so splitting costs no
/// allocation (issue 11).
pub(crate) type RegionPieces = SmallVec<[IoPiece; 2]>;

/// The device IOs for `sectors` sectors at `sector` of a device described by `info`, for a
/// buffer whose data starts `buffer_offset_sectors` into its first page. `None` if the device
/// cannot do `op` at all (discard without support).
pub(crate) fn split_region(
    info: &DeviceInfo,
    op: Op,
    sector: u64,
    sectors: u64,
    buffer_offset_sectors: u64,
) -> Option<RegionPieces> {
    let block = info.block_sectors();
    let mut pieces = RegionPieces::new();
    match op {
        Op::Flush => pieces.push(IoPiece {
            sector: 0,
            sectors: 0,
            memory_skip_sectors: 0,
        }),
        Op::Discard => {
            if info.max_discard_sectors == 0 {
                return None;
            }
            let chunk = u64::from(info.max_discard_sectors);
            let mut done = 0;
            while done < sectors {
                let len = chunk.min(sectors - done);
                pieces.push(IoPiece {
                    sector: sector + done,
                    sectors: len,
                    memory_skip_sectors: 0,
                });
                done += len;
            }
        }
        Op::Read | Op::Write => {
            let mut done = 0;
            while done < sectors {
                let in_page = (buffer_offset_sectors + done) % SECTORS_PER_PAGE;
                let by_vectors = BIO_MAX_PAGES * SECTORS_PER_PAGE - in_page;
                let mut len = (sectors - done)
                    .min(by_vectors)
                    .min(u64::from(info.max_sectors));
                if len < sectors - done {
                    // Keep every piece a whole number of logical blocks.
                    len -= len % block;
                }
                assert!(len > 0, "region split made no progress");
                pieces.push(IoPiece {
                    sector: sector + done,
                    sectors: len,
                    memory_skip_sectors: done,
                });
                done += len;
            }
        }
    }
    Some(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(max_sectors: u32) -> DeviceInfo {
        DeviceInfo {
            max_sectors,
            ..DeviceInfo::new(1 << 30, 512)
        }
    }

    #[test]
    fn pieces_are_bounded_by_max_sectors_and_cover_the_region() {
        let pieces = split_region(&device(256), Op::Write, 1000, 600, 0).unwrap();
        let lens: Vec<u64> = pieces.iter().map(|p| p.sectors).collect();
        assert_eq!(lens, vec![256, 256, 88]);
        assert_eq!(pieces[1].sector, 1256);
        assert_eq!(pieces[2].memory_skip_sectors, 512);
    }

    #[test]
    fn the_bio_vector_limit_accounts_for_the_first_page_offset() {
        let pieces = split_region(&device(1 << 20), Op::Read, 0, 5000, 3).unwrap();
        // 256 vectors * 8 sectors - 3 sectors of offset in the first page.
        assert_eq!(pieces[0].sectors, 2045);
        // The next piece starts on a page boundary and may use all 256 vectors.
        assert_eq!(pieces[1].sectors, 2048);
        assert_eq!(pieces.iter().map(|p| p.sectors).sum::<u64>(), 5000);
    }

    #[test]
    fn discard_needs_device_support_and_is_chunked() {
        assert!(split_region(&device(256), Op::Discard, 0, 64, 0).is_none());
        let mut info = device(256);
        info.max_discard_sectors = 4096;
        let pieces = split_region(&info, Op::Discard, 0, 10_000, 0).unwrap();
        assert_eq!(pieces.len(), 3);
    }

    #[test]
    fn a_flush_is_one_empty_io() {
        let pieces = split_region(&device(256), Op::Flush, 0, 0, 0).unwrap();
        assert_eq!(
            pieces.as_slice(),
            [IoPiece {
                sector: 0,
                sectors: 0,
                memory_skip_sectors: 0
            }]
        );
    }
}
