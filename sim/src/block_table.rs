//! A sparse table of per-4 KiB-block values indexed by block number, and the walk over the
//! blocks a sector range touches. Shared by the simulated device's content store and the
//! data oracle, whose memory must follow the written footprint, not the address space.
//!
//! Two levels: a vector of 2 MiB chunks (512 blocks), each allocated on first write, so a
//! lookup is two indexings and an untouched region costs one null pointer per 2 MiB.

use dmsim_engine::block::SECTORS_PER_PAGE;

/// Blocks per chunk (2 MiB of device space).
const CHUNK_BLOCKS: usize = 512;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct BlockTable<T> {
    chunks: Vec<Option<Box<[Option<T>]>>>,
    len: u64,
}

impl<T> Default for BlockTable<T> {
    fn default() -> Self {
        BlockTable {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

fn split(block: u64) -> (usize, usize) {
    (
        (block / CHUNK_BLOCKS as u64) as usize,
        (block % CHUNK_BLOCKS as u64) as usize,
    )
}

impl<T> BlockTable<T> {
    /// Blocks holding a value.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `block`, if it has one.
    pub fn get(&self, block: u64) -> Option<&T> {
        let (chunk, slot) = split(block);
        self.chunks.get(chunk)?.as_ref()?[slot].as_ref()
    }

    /// The value of `block` to change, if it has one.
    pub fn get_mut(&mut self, block: u64) -> Option<&mut T> {
        let (chunk, slot) = split(block);
        self.chunks.get_mut(chunk)?.as_mut()?[slot].as_mut()
    }

    /// The value of `block`, created by `make` if it has none.
    pub fn get_or_insert_with(&mut self, block: u64, make: impl FnOnce() -> T) -> &mut T {
        if self.get(block).is_none() {
            self.len += 1;
        }
        self.slot_mut(block).get_or_insert_with(make)
    }

    /// Set (`Some`) or clear (`None`) the value of `block`.
    pub fn put(&mut self, block: u64, value: Option<T>) {
        let slot = self.slot_mut(block);
        let delta: i64 = match (slot.is_some(), value.is_some()) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        *slot = value;
        self.len = self.len.wrapping_add_signed(delta);
    }

    /// Changes the value of `block` (`None`: it has none) in place.
    pub fn update<R>(&mut self, block: u64, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        let slot = self.slot_mut(block);
        let had = slot.is_some();
        let result = f(slot);
        match (had, slot.is_some()) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        result
    }

    /// Calls `f(block, value)` for every block holding a value, in block order.
    pub fn for_each_mut(&mut self, f: &mut dyn FnMut(u64, &mut T)) {
        for (chunk_index, chunk) in self.chunks.iter_mut().enumerate() {
            let Some(chunk) = chunk else { continue };
            for (slot, value) in chunk.iter_mut().enumerate() {
                if let Some(value) = value {
                    f((chunk_index * CHUNK_BLOCKS + slot) as u64, value);
                }
            }
        }
    }

    fn slot_mut(&mut self, block: u64) -> &mut Option<T> {
        let (chunk, slot) = split(block);
        if self.chunks.len() <= chunk {
            self.chunks.resize_with(chunk + 1, || None);
        }
        let chunk = self.chunks[chunk].get_or_insert_with(|| {
            let mut v = Vec::with_capacity(CHUNK_BLOCKS);
            v.resize_with(CHUNK_BLOCKS, || None);
            v.into_boxed_slice()
        });
        &mut chunk[slot]
    }
}

/// Call `f(block, first, last, offset)` for every block the range touches: sectors
/// `first..last` of the block (exclusive end) are sectors `offset..` of the range.
pub fn for_each_block(sector: u64, sectors: u64, f: &mut dyn FnMut(u64, usize, usize, u64)) {
    let end = sector + sectors;
    let mut s = sector;
    while s < end {
        let block = s / SECTORS_PER_PAGE;
        let first = (s % SECTORS_PER_PAGE) as usize;
        let last = (end - block * SECTORS_PER_PAGE).min(SECTORS_PER_PAGE) as usize;
        f(block, first, last, s - sector);
        s = block * SECTORS_PER_PAGE + last as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_values_and_len() {
        let mut t: BlockTable<u32> = BlockTable::default();
        assert_eq!(t.get(1 << 40), None);
        t.put(5, Some(1));
        *t.get_or_insert_with(1 << 30, || 7) += 1;
        assert_eq!((t.get(5), t.get(1 << 30), t.len()), (Some(&1), Some(&8), 2));
        t.put(5, None);
        assert_eq!((t.get(5), t.len()), (None, 1));
    }

    #[test]
    fn block_walk_covers_a_range_exactly() {
        let mut seen = Vec::new();
        for_each_block(6, 12, &mut |b, first, last, off| {
            seen.push((b, first, last, off))
        });
        assert_eq!(seen, vec![(0, 6, 8, 0), (1, 0, 8, 2), (2, 0, 2, 10)]);
    }
}
