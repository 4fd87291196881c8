//! What changed since the last invariant check, so the per-input check can look at those
//! blocks, set records and hash buckets only (see [`super::invariants`]).
//!
//! Owns the record of changes [`super::set::Blocks`] hands over, with old values (kept by
//! [`crate::changed_ids::Marked`]). The old values let the check find what an item was
//! linked to before the change (its old list neighbours, the list head it was) and update
//! per-set counts by difference. Does not own when items are marked: `Blocks` marks a
//! block, set or bucket in every accessor that hands it out mutably, before the change, so
//! no change can bypass it.

use super::set::{CacheBlock, CacheSet};

/// Everything [`super::set::Blocks`] changed since the last take, with old values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Changes {
    /// (absolute block index, the block before).
    pub blocks: Vec<(u32, CacheBlock)>,
    /// (set, its record before).
    pub sets: Vec<(u32, CacheSet)>,
    /// (bucket slot: `set * hash_buckets_per_set + bucket`, its set-relative head before).
    pub buckets: Vec<(u32, u32)>,
}
