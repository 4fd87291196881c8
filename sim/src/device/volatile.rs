//! A device's volatile write cache: completed writes that only FLUSH or FUA make durable.
//!
//! Writes without FUA complete into the cache. A FLUSH makes durable every write that had
//! completed when the flush was submitted (a snapshot taken then, applied when the flush
//! completes). A FUA write is durable when it completes. On a crash the cache is lost, except
//! blocks the crash model lets through. Reads see the cache over the durable content.

use super::store::{BlockContent, ContentStore};
use std::collections::BTreeMap;

/// Cached blocks over a durable store. Every stored version carries the sequence number of
/// the write completion that produced it, so an older snapshot never overwrites newer durable
/// data.
#[derive(Debug, Default)]
pub struct VolatileCache {
    /// block → (content, completion sequence)
    blocks: BTreeMap<u64, (Option<BlockContent>, u64)>,
    /// Completion sequence of the newest durable version of each block persisted through
    /// this cache (blocks absent: older than anything cached).
    durable_seq: BTreeMap<u64, u64>,
}

impl VolatileCache {
    /// Record a completed non-FUA write's block (full new content of the block).
    pub fn put(&mut self, block: u64, content: Option<BlockContent>, seq: u64) {
        self.blocks.insert(block, (content, seq));
    }

    /// A FUA write made `block` durable at `seq`: the cached copy is superseded.
    pub fn persisted(&mut self, block: u64, seq: u64) {
        self.blocks.remove(&block);
        self.durable_seq.insert(block, seq);
    }

    pub fn get(&self, block: u64) -> Option<&Option<BlockContent>> {
        self.blocks.get(&block).map(|(c, _)| c)
    }

    /// What a flush submitted now must make durable.
    pub fn snapshot(&self) -> Vec<(u64, Option<BlockContent>, u64)> {
        self.blocks
            .iter()
            .map(|(&b, (c, s))| (b, c.clone(), *s))
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
            if self.durable_seq.get(&block).is_some_and(|&d| d >= seq) {
                continue;
            }
            durable.put_block(block, content);
            self.durable_seq.insert(block, seq);
            if self.blocks.get(&block).is_some_and(|(_, s)| *s == seq) {
                self.blocks.remove(&block);
            }
        }
    }

    /// Blocks currently only in the cache.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// A silent corruption changed the cached copy of `block` (same completion sequence:
    /// it is the same version, damaged).
    pub fn replace_content(&mut self, block: u64, content: Option<BlockContent>) {
        let entry = self
            .blocks
            .get_mut(&block)
            .expect("only a cached block's copy is replaced");
        entry.0 = content;
    }

    /// Power loss: hands back every cached block (in block order) for the crash model to
    /// decide which reach the media, and forgets what was durable.
    pub fn drain_for_crash(&mut self) -> Vec<(u64, Option<BlockContent>)> {
        self.durable_seq.clear();
        std::mem::take(&mut self.blocks)
            .into_iter()
            .map(|(block, (content, _))| (block, content))
            .collect()
    }
}
