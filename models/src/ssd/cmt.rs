//! Cached mapping table (CMT): the controller's cache of logical-to-physical entries when the
//! full table does not fit its DRAM (DFTL-style, as in MQSim). The table itself lives in
//! translation pages in flash; a miss fetches one line of entries from its translation page
//! (a page read plus a short transfer) before the request can proceed, and evicting a line
//! whose entries changed writes its translation page back (a background page program).
//!
//! Organisation: set-associative with LRU inside a set, fixed arrays, no allocation after
//! construction. Capacity 0 means the whole table is resident: every access hits.
//!
//! Deliberately not modelled: translation pages taking flash space or being garbage collected
//! (they live outside the user blocks). Misses on a translation page already being read join
//! that read (`mapping_fetch.rs`).

use super::params::MappingCacheParams;

const EMPTY: u32 = u32::MAX;

/// Result of one cache access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmtAccess {
    Hit,
    /// The line must be fetched; `writeback` is the translation page of an evicted dirty
    /// line that must be written back.
    Miss {
        writeback: Option<u32>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct MappingCache {
    resident: bool,
    ways: u32,
    sets: u32,
    line_entries: u32,
    entries_per_translation_page: u32,
    tags: Vec<u32>,
    last_use: Vec<u64>,
    dirty: Vec<bool>,
    clock: u64,
}

impl MappingCache {
    pub fn new(params: &MappingCacheParams, page_bytes: u32) -> MappingCache {
        let line_bytes = u64::from(params.line_entries) * u64::from(params.entry_bytes);
        let lines = if params.capacity_bytes == 0 {
            0
        } else {
            (params.capacity_bytes / line_bytes).max(1)
        };
        let ways = lines.clamp(1, 8) as u32;
        let sets = (lines / u64::from(ways)).max(1) as u32;
        let slots = if params.capacity_bytes == 0 {
            0
        } else {
            (sets * ways) as usize
        };
        MappingCache {
            resident: params.capacity_bytes == 0,
            ways,
            sets,
            line_entries: params.line_entries,
            entries_per_translation_page: (page_bytes / params.entry_bytes).max(1),
            tags: vec![EMPTY; slots],
            last_use: vec![0; slots],
            dirty: vec![false; slots],
            clock: 0,
        }
    }

    /// Line holding the entry of `unit`.
    pub fn line_of(&self, unit: u32) -> u32 {
        unit / self.line_entries
    }

    /// Translation page holding `line`.
    pub fn translation_page_of_line(&self, line: u32) -> u32 {
        ((u64::from(line) * u64::from(self.line_entries))
            / u64::from(self.entries_per_translation_page)) as u32
    }

    /// Look `line` up (and install it on a miss); `modify` marks it dirty (a write updates
    /// its entry).
    pub fn access(&mut self, line: u32, modify: bool) -> CmtAccess {
        if self.resident {
            return CmtAccess::Hit;
        }
        self.clock += 1;
        // Multiplicative hash spreads consecutive lines over sets.
        let set = ((u64::from(line).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32)
            % u64::from(self.sets)) as usize;
        let base = set * self.ways as usize;
        let ways = base..base + self.ways as usize;
        if let Some(i) = ways.clone().find(|&i| self.tags[i] == line) {
            self.last_use[i] = self.clock;
            self.dirty[i] |= modify;
            return CmtAccess::Hit;
        }
        let victim = ways
            .min_by_key(|&i| (self.tags[i] != EMPTY, self.last_use[i]))
            .expect("a set has at least one way");
        let writeback = (self.tags[victim] != EMPTY && self.dirty[victim])
            .then(|| self.translation_page_of_line(self.tags[victim]));
        self.tags[victim] = line;
        self.last_use[victim] = self.clock;
        self.dirty[victim] = modify;
        CmtAccess::Miss { writeback }
    }

    /// Bytes fetched from flash on a miss.
    pub fn line_bytes(&self, entry_bytes: u32) -> u32 {
        self.line_entries * entry_bytes
    }

    pub fn heap_bytes(&self) -> u64 {
        self.tags.len() as u64 * (4 + 8 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(capacity_bytes: u64) -> MappingCacheParams {
        MappingCacheParams {
            capacity_bytes,
            line_entries: 16,
            entry_bytes: 4,
        }
    }

    #[test]
    fn resident_table_always_hits() {
        let mut c = MappingCache::new(&params(0), 8192);
        assert_eq!(c.access(12345, true), CmtAccess::Hit);
    }

    #[test]
    fn lru_evicts_and_reports_dirty_writeback() {
        // One set of 8 ways: 8 lines of 64 bytes.
        let mut c = MappingCache::new(&params(8 * 64), 8192);
        for line in 0..8 {
            assert_eq!(
                c.access(line, line == 0),
                CmtAccess::Miss { writeback: None }
            );
        }
        assert_eq!(c.access(3, false), CmtAccess::Hit);
        // Line 0 is least recently used and dirty: its translation page (0) is written back.
        assert_eq!(c.access(100, false), CmtAccess::Miss { writeback: Some(0) });
        assert_eq!(c.access(0, false), CmtAccess::Miss { writeback: None });
        assert_eq!(c.access(3, false), CmtAccess::Hit);
    }

    #[test]
    fn an_entry_size_that_does_not_divide_the_page_rounds_entries_down() {
        // MQSim's 6-byte entries: 8192 / 6 = 1365 to a translation page.
        let params = MappingCacheParams {
            capacity_bytes: 4096,
            line_entries: 1,
            entry_bytes: 6,
        };
        let c = MappingCache::new(&params, 8192);
        assert_eq!(c.translation_page_of_line(1364), 0);
        assert_eq!(c.translation_page_of_line(1365), 1);
    }

    #[test]
    fn translation_page_covers_its_entries() {
        let c = MappingCache::new(&params(4096), 8192);
        // 8192 / 4 = 2048 entries per translation page = 128 lines of 16.
        assert_eq!(c.translation_page_of_line(127), 0);
        assert_eq!(c.translation_page_of_line(128), 1);
    }
}
