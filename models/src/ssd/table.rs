//! Compact lazily allocated u32 tables for the FTL: logical unit → physical slot and physical
//! slot → logical unit. Entries are u32; chunks of 64 Ki entries are allocated on first write,
//! so a simulation pays memory only for the part of the drive it touches (4 bytes per mapping
//! unit per table once touched).

/// The "no entry" value.
pub(crate) const NONE: u32 = u32::MAX;

const CHUNK_BITS: u32 = 16;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;

#[derive(Debug, Clone)]
pub(crate) struct LazyTable {
    chunks: Vec<Option<Box<[u32]>>>,
    len: u32,
}

impl LazyTable {
    pub fn new(len: u32) -> LazyTable {
        let chunks = (len as usize).div_ceil(CHUNK_LEN);
        LazyTable {
            chunks: (0..chunks).map(|_| None).collect(),
            len,
        }
    }

    pub fn get(&self, index: u32) -> u32 {
        assert!(index < self.len, "table index {index} out of {}", self.len);
        match &self.chunks[(index >> CHUNK_BITS) as usize] {
            Some(chunk) => chunk[index as usize & (CHUNK_LEN - 1)],
            None => NONE,
        }
    }

    pub fn set(&mut self, index: u32, value: u32) {
        assert!(index < self.len, "table index {index} out of {}", self.len);
        let chunk = self.chunks[(index >> CHUNK_BITS) as usize]
            .get_or_insert_with(|| vec![NONE; CHUNK_LEN].into_boxed_slice());
        chunk[index as usize & (CHUNK_LEN - 1)] = value;
    }

    /// Heap bytes held by allocated chunks and the chunk index.
    pub fn heap_bytes(&self) -> u64 {
        let allocated = self.chunks.iter().filter(|c| c.is_some()).count() as u64;
        allocated * (CHUNK_LEN as u64) * 4
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
        let mut t = LazyTable::new(10 * CHUNK_LEN as u32);
        assert_eq!(t.get(5), NONE);
        let empty = t.heap_bytes();
        t.set(3 * CHUNK_LEN as u32 + 7, 42);
        assert_eq!(t.get(3 * CHUNK_LEN as u32 + 7), 42);
        assert_eq!(t.get(3 * CHUNK_LEN as u32 + 8), NONE);
        assert_eq!(t.heap_bytes() - empty, CHUNK_LEN as u64 * 4);
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
