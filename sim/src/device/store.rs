//! Content of a simulated device, kept compactly.
//!
//! Unwritten blocks hold zeros and take no memory. A 4 KiB block written whole by one
//! workload write is stored as one stamp (16 bytes); a block written piecewise as eight
//! sector contents; a block that received real bytes (engine metadata) as its 4 KiB of bytes.
//! Lookup is a [`BlockTable`], so reads and writes cost O(1).

use dmsim_engine::block::{PAGE_SIZE, SECTORS_PER_PAGE, SECTOR_SIZE};
use dmsim_engine::content::{decode_sector, encode_content, SectorContent, SectorStamp};

pub use crate::block_table::for_each_block;
use crate::block_table::BlockTable;

/// One sector as the store hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectorView<'a> {
    /// Compact content (never `Foreign` unless the store was told so).
    Content(SectorContent),
    /// Real bytes: exactly 512 of them.
    Bytes(&'a [u8]),
}

impl SectorView<'_> {
    /// The content of this sector as the oracle sees it (bytes are decoded).
    pub fn content(&self) -> SectorContent {
        match self {
            SectorView::Content(c) => *c,
            SectorView::Bytes(b) => decode_sector(b),
        }
    }
}

/// Stored content of one 4 KiB block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockContent {
    /// Eight consecutive sectors of one write: sector i holds stamp (first_sector + i, write_id).
    Whole { first_sector: u64, write_id: u64 },
    /// Eight zero sectors that were written (a cache fill of never-written data): as
    /// compact as `Whole`, where eight sector contents would take 192 bytes more.
    Zeros,
    /// Eight individual sector contents.
    Sectors(Box<[SectorContent; 8]>),
    /// Real bytes.
    Bytes(Box<[u8; PAGE_SIZE]>),
}

impl BlockContent {
    /// Sector `i` (0..8) of the block.
    pub fn sector(&self, i: usize) -> SectorView<'_> {
        match self {
            BlockContent::Whole {
                first_sector,
                write_id,
            } => SectorView::Content(SectorContent::Stamp(SectorStamp {
                sector: first_sector + i as u64,
                write_id: *write_id,
            })),
            BlockContent::Zeros => SectorView::Content(SectorContent::Zero),
            BlockContent::Sectors(s) => SectorView::Content(s[i]),
            BlockContent::Bytes(b) => SectorView::Bytes(&b[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE]),
        }
    }

    /// Compact a run of eight contents into `Whole` where it is one write's consecutive data,
    /// or `Zeros`.
    fn from_sectors(s: [SectorContent; 8]) -> BlockContent {
        if s.iter().all(|c| *c == SectorContent::Zero) {
            return BlockContent::Zeros;
        }
        if let SectorContent::Stamp(first) = s[0] {
            let whole = s.iter().enumerate().all(|(i, c)| {
                *c == SectorContent::Stamp(SectorStamp {
                    sector: first.sector + i as u64,
                    write_id: first.write_id,
                })
            });
            if whole {
                return BlockContent::Whole {
                    first_sector: first.sector,
                    write_id: first.write_id,
                };
            }
        }
        BlockContent::Sectors(Box::new(s))
    }
}

// The block table holds an `Option<BlockContent>` per block of every 2 MiB chunk touched.
const _: () = assert!(std::mem::size_of::<Option<BlockContent>>() <= 24);

/// The content of a whole device.
#[derive(Debug, Clone, Default)]
pub struct ContentStore {
    blocks: BlockTable<BlockContent>,
}

/// What one sector of a write carries.
#[derive(Debug, Clone, Copy)]
pub enum SectorWrite<'a> {
    Content(SectorContent),
    Bytes(&'a [u8]),
}

impl ContentStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of blocks holding something other than implicit zeros.
    pub fn blocks_stored(&self) -> u64 {
        self.blocks.len()
    }

    /// The stored content of block `block` (None = zeros).
    pub fn block(&self, block: u64) -> Option<&BlockContent> {
        self.blocks.get(block)
    }

    /// Replace a whole block's content (used by the volatile cache when it persists).
    pub fn put_block(&mut self, block: u64, content: Option<BlockContent>) {
        self.blocks.put(block, content);
    }

    /// Changes the content of `block` (`None`: zeros) in place.
    pub fn update_block(&mut self, block: u64, f: impl FnOnce(&mut Option<BlockContent>)) {
        self.blocks.update(block, f);
    }

    /// Hand sectors `sector..sector+sectors` to `sink` in order.
    pub fn read(&self, sector: u64, sectors: u64, sink: &mut dyn FnMut(u64, SectorView<'_>)) {
        for s in sector..sector + sectors {
            let (block, i) = (s / SECTORS_PER_PAGE, (s % SECTORS_PER_PAGE) as usize);
            match self.block(block) {
                Some(content) => sink(s, content.sector(i)),
                None => sink(s, SectorView::Content(SectorContent::Zero)),
            }
        }
    }

    /// Write `sectors` sectors from `sector`; `data(i)` gives sector i of the write.
    pub fn write<'d>(
        &mut self,
        sector: u64,
        sectors: u64,
        data: &'d dyn Fn(u64) -> SectorWrite<'d>,
    ) {
        for_each_block(sector, sectors, &mut |block, first, last, offset| {
            self.update_block(block, |content| {
                merge_block_in_place(content, first, last, &|i| data(offset + i))
            });
        });
    }
}

/// [`merge_block`] in place: a block of bytes takes the new sectors where it is, without
/// a new box and a copy of its old bytes (engine metadata is rewritten so; issue 11).
pub fn merge_block_in_place<'d>(
    content: &mut Option<BlockContent>,
    first: usize,
    last: usize,
    data: &'d dyn Fn(u64) -> SectorWrite<'d>,
) {
    if let Some(BlockContent::Bytes(bytes)) = content {
        for i in first..last {
            let out = &mut bytes[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
            match data((i - first) as u64) {
                SectorWrite::Bytes(b) => out.copy_from_slice(b),
                SectorWrite::Content(c) => encode_content(c, out),
            }
        }
        return;
    }
    *content = Some(merge_block(content.as_ref(), first, last, data));
}

/// The content of a block after writing its sectors `first..last` (`data(i)` is the i-th
/// written sector) over `old` (None = zeros).
pub fn merge_block<'d>(
    old: Option<&BlockContent>,
    first: usize,
    last: usize,
    data: &'d dyn Fn(u64) -> SectorWrite<'d>,
) -> BlockContent {
    if first == 0
        && last == SECTORS_PER_PAGE as usize
        && !matches!(old, Some(BlockContent::Bytes(_)))
    {
        // A whole block of contents (a workload write, nearly always): the old content
        // is all overwritten, so it is not read (issue 11).
        let mut contents = [SectorContent::Zero; 8];
        let all_contents = contents
            .iter_mut()
            .enumerate()
            .all(|(i, c)| match data(i as u64) {
                SectorWrite::Content(new) => {
                    *c = new;
                    true
                }
                SectorWrite::Bytes(_) => false,
            });
        if all_contents {
            return BlockContent::from_sectors(contents);
        }
    }
    let any_bytes =
        (first..last).any(|i| matches!(data((i - first) as u64), SectorWrite::Bytes(_)));
    if any_bytes || matches!(old, Some(BlockContent::Bytes(_))) {
        // Bytes somewhere in the block: the block becomes bytes.
        let mut bytes = Box::new([0u8; PAGE_SIZE]);
        if let Some(old) = old {
            for i in 0..SECTORS_PER_PAGE as usize {
                let out = &mut bytes[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
                match old.sector(i) {
                    SectorView::Bytes(b) => out.copy_from_slice(b),
                    SectorView::Content(c) => encode_content(c, out),
                }
            }
        }
        for i in first..last {
            let out = &mut bytes[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
            match data((i - first) as u64) {
                SectorWrite::Bytes(b) => out.copy_from_slice(b),
                SectorWrite::Content(c) => encode_content(c, out),
            }
        }
        BlockContent::Bytes(bytes)
    } else {
        let mut contents = [SectorContent::Zero; 8];
        if let Some(old) = old {
            for (i, c) in contents.iter_mut().enumerate() {
                *c = old.sector(i).content();
            }
        }
        for (i, c) in contents.iter_mut().enumerate().take(last).skip(first) {
            if let SectorWrite::Content(new) = data((i - first) as u64) {
                *c = new;
            }
        }
        BlockContent::from_sectors(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sector: u64, write_id: u64) -> SectorContent {
        SectorContent::Stamp(SectorStamp { sector, write_id })
    }

    fn read_all(store: &ContentStore, sector: u64, sectors: u64) -> Vec<SectorContent> {
        let mut out = Vec::new();
        store.read(sector, sectors, &mut |_, v| out.push(v.content()));
        out
    }

    #[test]
    fn unwritten_reads_zero_and_a_whole_block_is_one_stamp() {
        let mut store = ContentStore::new();
        assert_eq!(read_all(&store, 0, 2), vec![SectorContent::Zero; 2]);
        store.write(8, 8, &|i| SectorWrite::Content(stamp(1000 + i, 5)));
        assert_eq!(
            store.block(1),
            Some(&BlockContent::Whole {
                first_sector: 1000,
                write_id: 5
            })
        );
        assert_eq!(read_all(&store, 9, 2), vec![stamp(1001, 5), stamp(1002, 5)]);
        assert_eq!(store.blocks_stored(), 1);
    }

    #[test]
    fn written_zeros_are_compact_and_read_as_zeros() {
        let mut store = ContentStore::new();
        store.write(0, 12, &|_| SectorWrite::Content(SectorContent::Zero));
        assert_eq!(store.block(0), Some(&BlockContent::Zeros));
        assert_eq!(read_all(&store, 0, 12), vec![SectorContent::Zero; 12]);
        store.write(3, 1, &|_| SectorWrite::Content(stamp(3, 7)));
        let mut want = vec![SectorContent::Zero; 8];
        want[3] = stamp(3, 7);
        assert_eq!(
            read_all(&store, 0, 8),
            want,
            "a partial write over zeros merges"
        );
    }

    #[test]
    fn partial_writes_merge_with_old_content() {
        let mut store = ContentStore::new();
        store.write(0, 16, &|i| SectorWrite::Content(stamp(i, 1)));
        store.write(6, 4, &|i| SectorWrite::Content(stamp(6 + i, 2)));
        let got = read_all(&store, 4, 8);
        let want: Vec<_> = (4..12)
            .map(|s| stamp(s, if (6..10).contains(&s) { 2 } else { 1 }))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bytes_turn_a_block_into_bytes_and_keep_stamps_readable() {
        let mut store = ContentStore::new();
        store.write(0, 8, &|i| SectorWrite::Content(stamp(i, 3)));
        let raw = [0x5Au8; SECTOR_SIZE];
        store.write(2, 1, &|_| SectorWrite::Bytes(&raw));
        assert!(matches!(store.block(0), Some(BlockContent::Bytes(_))));
        let got = read_all(&store, 0, 4);
        assert_eq!(
            got,
            vec![
                stamp(0, 3),
                stamp(1, 3),
                SectorContent::Foreign,
                stamp(3, 3)
            ]
        );
        let mut seen = Vec::new();
        store.read(2, 1, &mut |_, v| {
            if let SectorView::Bytes(b) = v {
                seen.extend_from_slice(b)
            }
        });
        assert_eq!(seen, raw.to_vec());
    }
}
