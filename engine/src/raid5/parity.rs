//! Parity over real bytes: XOR of member pages, and storing a computed page so that a
//! reconstructed data page is exactly what was written.
//!
//! A page in sectors mode (workload stamps in simulation) is XORed through its byte encoding
//! without changing its mode, so data pages written to a simulated member stay compact
//! workload data; a parity page holds bytes. A computed data page whose every sector decodes
//! to a stamp or zeros is stored back as those sector contents (decoding is exact: a stamp's
//! bytes are a function of the stamp, checked by its checksum).

use crate::arena::{Arena, PageId, PageMode};
use crate::block::{PAGE_SIZE, SECTORS_PER_PAGE, SECTOR_SIZE};
use crate::content::{decode_sector, encode_content, SectorContent};

/// One page of bytes.
pub(crate) type PageImage = [u8; PAGE_SIZE];

/// Copies `page`'s bytes into `out` without changing the page's mode.
pub(crate) fn read_page(arena: &mut Arena, page: PageId, out: &mut PageImage) {
    match arena.mode(page) {
        PageMode::Bytes => out.copy_from_slice(arena.bytes(page)),
        PageMode::Sectors => {
            for index in 0..SECTORS_PER_PAGE as usize {
                let content = arena.sector(page, index);
                encode_content(content, &mut out[index * SECTOR_SIZE..][..SECTOR_SIZE]);
            }
        }
    }
}

/// `acc ^= page`, XORing the page where it lies: no copy of a page of bytes, and no bytes
/// for a zero sector.
pub(crate) fn xor_page_into(arena: &mut Arena, page: PageId, acc: &mut PageImage) {
    match arena.mode(page) {
        PageMode::Bytes => xor_bytes_into(acc, arena.bytes(page)),
        PageMode::Sectors => {
            for (index, target) in acc.chunks_exact_mut(SECTOR_SIZE).enumerate() {
                let content = arena.sector(page, index);
                if content != SectorContent::Zero {
                    let mut sector = [0u8; SECTOR_SIZE];
                    encode_content(content, &mut sector);
                    xor_bytes_into(target, &sector);
                }
            }
        }
    }
}

/// `acc ^= bytes`, same lengths.
fn xor_bytes_into(acc: &mut [u8], bytes: &[u8]) {
    assert_eq!(acc.len(), bytes.len());
    for (a, b) in acc.iter_mut().zip(bytes) {
        *a ^= b;
    }
}

/// The XOR of `pages`.
pub(crate) fn xor_pages(arena: &mut Arena, pages: &[PageId]) -> PageImage {
    let mut acc = [0u8; PAGE_SIZE];
    for &page in pages {
        xor_page_into(arena, page, &mut acc);
    }
    acc
}

/// Stores `image` as parity: the page holds these bytes.
pub(crate) fn store_parity(arena: &mut Arena, page: PageId, image: &PageImage) {
    arena.bytes_mut(page).copy_from_slice(image);
}

/// Stores `image` as a data page: as sector contents when every sector decodes to a stamp
/// or zeros, else as bytes.
pub(crate) fn store_data(arena: &mut Arena, page: PageId, image: &PageImage) {
    let mut contents = [SectorContent::Zero; SECTORS_PER_PAGE as usize];
    for (index, content) in contents.iter_mut().enumerate() {
        *content = decode_sector(&image[index * SECTOR_SIZE..][..SECTOR_SIZE]);
    }
    if contents.contains(&SectorContent::Foreign) {
        arena.bytes_mut(page).copy_from_slice(image);
    } else {
        arena.reset_sectors(page, &contents);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::SectorStamp;

    fn stamp(sector: u64, write_id: u64) -> SectorContent {
        SectorContent::Stamp(SectorStamp { sector, write_id })
    }

    #[test]
    fn a_page_is_recovered_exactly_from_parity_and_the_others() {
        let mut arena = Arena::new(8);
        let pages = arena.alloc(4).unwrap();
        for (member, &page) in pages[..3].iter().enumerate() {
            let contents: [SectorContent; 8] = std::array::from_fn(|i| {
                if i == 3 && member == 1 {
                    SectorContent::Zero
                } else {
                    stamp(member as u64 * 100 + i as u64, 7 + member as u64)
                }
            });
            arena.reset_sectors(page, &contents);
        }
        let parity = xor_pages(&mut arena, &pages[..3]);
        store_parity(&mut arena, pages[3], &parity);
        assert_eq!(arena.mode(pages[3]), PageMode::Bytes);
        // Lose member 1; rebuild it from members 0, 2 and parity into a fresh page.
        let rebuilt_page = arena.alloc(1).unwrap()[0];
        let rebuilt = xor_pages(&mut arena, &[pages[0], pages[2], pages[3]]);
        store_data(&mut arena, rebuilt_page, &rebuilt);
        assert_eq!(arena.mode(rebuilt_page), PageMode::Sectors);
        for i in 0..8 {
            assert_eq!(arena.sector(rebuilt_page, i), arena.sector(pages[1], i));
        }
        assert_eq!(
            arena.mode(pages[0]),
            PageMode::Sectors,
            "xor left data compact"
        );
    }

    #[test]
    fn foreign_bytes_are_kept_as_bytes() {
        let mut arena = Arena::new(2);
        let page = arena.alloc(1).unwrap()[0];
        let mut image = [0u8; PAGE_SIZE];
        image[7] = 1;
        store_data(&mut arena, page, &image);
        assert_eq!(arena.mode(page), PageMode::Bytes);
        assert_eq!(arena.bytes(page)[7], 1);
    }
}
