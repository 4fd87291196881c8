//! A device's volatile write cache: completed writes that only FLUSH or FUA make durable.
//!
//! Writes without FUA complete into the cache. A FLUSH makes durable every write that had
//! completed when the flush was submitted (a snapshot taken then, applied when the flush
//! completes). A FUA write is durable when it completes. On a crash the cache is lost, except
//! blocks the crash model lets through. Reads see the cache over the durable content.

use super::store::{BlockContent, ContentStore};
use crate::block_table::BlockTable;

/// Cached blocks over a durable store. Every stored version carries the sequence number of
/// the write completion that produced it, so an older snapshot never overwrites newer durable
/// data.
///
/// Blocks are found in block tables, not B-trees: a write costs two indexings and no node
/// allocation (issue 11). Where order shows (a flush's snapshot, a crash's draws) the cached
/// blocks are sorted by number, as a B-tree would have listed them.
#[derive(Debug, Default)]
pub struct VolatileCache {
    blocks: BlockTable<Cached>,
    /// The numbers of the blocks in `blocks`, in no order (`Cached::at` is each one's place).
    cached: Vec<u64>,
    /// Completion sequence of the newest durable version of each block persisted through
    /// this cache (blocks absent: older than anything cached).
    durable_seq: BlockTable<u64>,
}

/// One cached block.
#[derive(Debug)]
struct Cached {
    content: Option<BlockContent>,
    /// Completion sequence of the write that produced `content`.
    seq: u64,
    /// Where the block's number is in `VolatileCache::cached`.
    at: usize,
}

impl VolatileCache {
    /// Record a completed non-FUA write's block (full new content of the block).
    pub fn put(&mut self, block: u64, content: Option<BlockContent>, seq: u64) {
        if let Some(cached) = self.blocks.get_mut(block) {
            cached.content = content;
            cached.seq = seq;
            return;
        }
        let at = self.cached.len();
        self.cached.push(block);
        self.blocks.put(block, Some(Cached { content, seq, at }));
    }

    /// If `block` is cached: `change` its content in place, as produced by the write
    /// completion `seq`, and return true. Otherwise false, and nothing changes.
    pub fn update(
        &mut self,
        block: u64,
        seq: u64,
        change: impl FnOnce(&mut Option<BlockContent>),
    ) -> bool {
        let Some(cached) = self.blocks.get_mut(block) else {
            return false;
        };
        change(&mut cached.content);
        cached.seq = seq;
        true
    }

    /// A FUA write made `block` durable at `seq`: the cached copy is superseded.
    pub fn persisted(&mut self, block: u64, seq: u64) {
        self.remove(block);
        self.durable_seq.put(block, Some(seq));
    }

    fn remove(&mut self, block: u64) {
        let Some(at) = self.blocks.get(block).map(|cached| cached.at) else {
            return;
        };
        self.blocks.put(block, None);
        self.cached.swap_remove(at);
        if let Some(&moved) = self.cached.get(at) {
            self.blocks
                .get_mut(moved)
                .expect("a listed block is cached")
                .at = at;
        }
    }

    pub fn get(&self, block: u64) -> Option<&Option<BlockContent>> {
        self.blocks.get(block).map(|cached| &cached.content)
    }

    /// The cached blocks' numbers in block order.
    fn sorted_blocks(&self) -> Vec<u64> {
        let mut blocks = self.cached.clone();
        blocks.sort_unstable();
        blocks
    }

    /// What a flush submitted now must make durable.
    pub fn snapshot(&self) -> Vec<(u64, Option<BlockContent>, u64)> {
        self.sorted_blocks()
            .into_iter()
            .map(|block| {
                let cached = self.blocks.get(block).expect("a listed block is cached");
                (block, cached.content.clone(), cached.seq)
            })
            .collect()
    }

    /// Apply a flush snapshot to `durable`, skipping blocks with a newer durable version, and
    /// drop cached entries the snapshot covered.
    pub fn apply(
        &mut self,
        snapshot: Vec<(u64, Option<BlockContent>, u64)>,
        durable: &mut ContentStore,
    ) {
        for (block, content, seq) in snapshot {
            if self.durable_seq.get(block).is_some_and(|&d| d >= seq) {
                continue;
            }
            durable.put_block(block, content);
            self.durable_seq.put(block, Some(seq));
            if self
                .blocks
                .get(block)
                .is_some_and(|cached| cached.seq == seq)
            {
                self.remove(block);
            }
        }
    }

    /// Blocks currently only in the cache.
    pub fn len(&self) -> usize {
        self.cached.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cached.is_empty()
    }

    /// A silent corruption changed the cached copy of `block` (same completion sequence:
    /// it is the same version, damaged).
    pub fn replace_content(&mut self, block: u64, content: Option<BlockContent>) {
        let cached = self
            .blocks
            .get_mut(block)
            .expect("only a cached block's copy is replaced");
        cached.content = content;
    }

    /// Power loss: hands back every cached block (in block order) for the crash model to
    /// decide which reach the media, and forgets what was durable.
    pub fn drain_for_crash(&mut self) -> Vec<(u64, Option<BlockContent>)> {
        self.durable_seq = BlockTable::default();
        let drained = self
            .sorted_blocks()
            .into_iter()
            .map(|block| {
                let cached = self
                    .blocks
                    .get_mut(block)
                    .expect("a listed block is cached");
                (block, cached.content.take())
            })
            .collect();
        self.blocks = BlockTable::default();
        self.cached.clear();
        drained
    }
}
