//! Compact lazily allocated u32 tables for the FTL: logical unit → physical slot and physical
//! slot → logical unit. Entries are u32; fixed-size chunks are allocated on first write, so a
//! simulation pays memory only for the part of the drive it touches (4 bytes per mapping
//! unit per table once touched). The reverse table uses one chunk per erase block, because
//! writes are striped over every plane at once.

/// The "no entry" value.
pub(crate) const NONE: u32 = u32::MAX;

/// Chunk size of tables indexed by logical unit.
pub(crate) const LOGICAL_CHUNK_LEN: u32 = 1 << 16;

#[derive(Debug, Clone)]
pub(crate) struct LazyTable {
    chunks: Vec<Option<Box<[u32]>>>,
    chunk_len: u32,
    len: u32,
    allocated_chunks: u32,
}

impl LazyTable {
    /// A table of `len` entries, all NONE, allocated `chunk_len` entries at a time.
    pub fn new(len: u32, chunk_len: u32) -> LazyTable {
        assert!(chunk_len > 0);
        let chunks = len.div_ceil(chunk_len) as usize;
        LazyTable {
            chunks: (0..chunks).map(|_| None).collect(),
            chunk_len,
            len,
            allocated_chunks: 0,
        }
    }

    pub fn get(&self, index: u32) -> u32 {
        assert!(index < self.len, "table index {index} out of {}", self.len);
        match &self.chunks[(index / self.chunk_len) as usize] {
            Some(chunk) => chunk[(index % self.chunk_len) as usize],
            None => NONE,
        }
    }

    pub fn set(&mut self, index: u32, value: u32) {
        assert!(index < self.len, "table index {index} out of {}", self.len);
        let chunk_len = self.chunk_len;
        let chunk = &mut self.chunks[(index / chunk_len) as usize];
        if chunk.is_none() {
            if value == NONE {
                return;
            }
            *chunk = Some(vec![NONE; chunk_len as usize].into_boxed_slice());
            self.allocated_chunks += 1;
        }
        if let Some(chunk) = chunk {
            chunk[(index % chunk_len) as usize] = value;
        }
    }

    /// Frees chunk `chunk` (a no-op if it is not allocated): its entries read NONE again.
    /// The reverse map releases an erase block's chunk once the block holds no valid data,
    /// so its memory follows the data the drive holds, not every slot a run ever wrote (a
    /// drive GCs only when nearly full, so a small working set walks the whole flash).
    ///
    /// # Panics
    /// If an entry of the chunk is still set (a caller releasing live mappings).
    pub fn release_chunk(&mut self, chunk: u32) {
        let Some(entries) = self.chunks[chunk as usize].take() else {
            return;
        };
        assert!(
            entries.iter().all(|&e| e == NONE),
            "released chunk {chunk} still maps an entry"
        );
        self.allocated_chunks -= 1;
    }

    /// Heap bytes held by allocated chunks and the chunk index.
    pub fn heap_bytes(&self) -> u64 {
        u64::from(self.allocated_chunks) * u64::from(self.chunk_len) * 4
            + self.chunks.len() as u64 * std::mem::size_of::<Option<Box<[u32]>>>() as u64
    }
}

/// One bit per index, allocated up front (1 bit per flash page is cheap).
#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
}

impl Bitmap {
    pub fn new(len: u32) -> Bitmap {
        Bitmap {
            words: vec![0; (len as usize).div_ceil(64)],
        }
    }
    pub fn get(&self, index: u32) -> bool {
        self.words[(index / 64) as usize] & (1 << (index % 64)) != 0
    }
    pub fn set(&mut self, index: u32, value: bool) {
        let word = &mut self.words[(index / 64) as usize];
        if value {
            *word |= 1 << (index % 64);
        } else {
            *word &= !(1 << (index % 64));
        }
    }
    pub fn heap_bytes(&self) -> u64 {
        self.words.len() as u64 * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_table_allocates_only_touched_chunks() {
        let chunk = 1000;
        let mut t = LazyTable::new(10 * chunk, chunk);
        assert_eq!(t.get(5), NONE);
        let empty = t.heap_bytes();
        t.set(3 * chunk + 7, NONE);
        assert_eq!(
            t.heap_bytes(),
            empty,
            "clearing an absent entry allocates nothing"
        );
        t.set(3 * chunk + 7, 42);
        assert_eq!(t.get(3 * chunk + 7), 42);
        assert_eq!(t.get(3 * chunk + 8), NONE);
        assert_eq!(t.heap_bytes() - empty, u64::from(chunk) * 4);
    }

    #[test]
    fn a_released_chunk_frees_its_memory_and_reads_none() {
        let chunk = 8;
        let mut t = LazyTable::new(4 * chunk, chunk);
        let empty = t.heap_bytes();
        t.set(chunk + 3, 9);
        t.set(chunk + 3, NONE);
        assert_eq!(t.heap_bytes() - empty, u64::from(chunk) * 4);
        t.release_chunk(1);
        t.release_chunk(2); // never allocated
        assert_eq!(t.heap_bytes(), empty);
        assert_eq!(t.get(chunk + 3), NONE);
        t.set(chunk + 4, 5);
        assert_eq!(t.get(chunk + 4), 5);
        assert_eq!(t.heap_bytes() - empty, u64::from(chunk) * 4);
    }

    #[test]
    #[should_panic(expected = "still maps an entry")]
    fn releasing_a_chunk_with_a_live_entry_panics() {
        let mut t = LazyTable::new(16, 8);
        t.set(3, 1);
        t.release_chunk(0);
    }

    #[test]
    fn bitmap_sets_and_clears() {
        let mut b = Bitmap::new(130);
        b.set(129, true);
        b.set(64, true);
        assert!(b.get(129) && b.get(64) && !b.get(63));
        b.set(64, false);
        assert!(!b.get(64));
    }
}
