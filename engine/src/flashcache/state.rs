//! Cache block state bits (spec 1.6) and the one checked transition function.
//!
//! Owns: the bit values flashcache uses in memory and on the SSD, and [`BlockState::apply`],
//! through which every change of a block's state goes. An illegal transition is a bug in the
//! target, never an input error, so it asserts. Does not own counters that depend on the
//! state (`nr_dirty`, `dirty_fallow`, `cached_blocks`): callers adjust those.

use serde::{Deserialize, Serialize};

/// A cache block's state: flashcache's `cache_state` bits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockState(u16);

impl BlockState {
    pub const INVALID: BlockState = BlockState(0x0001);
    pub const VALID: BlockState = BlockState(0x0002);
    pub const DISK_READ_IN_PROGRESS: BlockState = BlockState(0x0004);
    pub const DISK_WRITE_IN_PROGRESS: BlockState = BlockState(0x0008);
    pub const CACHE_READ_IN_PROGRESS: BlockState = BlockState(0x0010);
    pub const CACHE_WRITE_IN_PROGRESS: BlockState = BlockState(0x0020);
    pub const DIRTY: BlockState = BlockState(0x0040);
    pub const DIRTY_FALLOW_1: BlockState = BlockState(0x0080);
    pub const DIRTY_FALLOW_2: BlockState = BlockState(0x0100);
    /// `BLOCK_IO_INPROG`: any IO in flight ("busy").
    pub const BUSY: BlockState = BlockState(0x0004 | 0x0008 | 0x0010 | 0x0020);
    /// `FALLOW_DOCLEAN`.
    pub const FALLOW: BlockState = BlockState(0x0080 | 0x0100);
    /// The bits written to a metadata slot.
    pub const PERSISTENT: BlockState = BlockState(0x0001 | 0x0002 | 0x0040);

    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }
    /// Both sets of bits.
    #[inline]
    pub const fn union(self, other: BlockState) -> BlockState {
        BlockState(self.0 | other.0)
    }
    /// These bits without `other`'s.
    #[inline]
    pub const fn without(self, other: BlockState) -> BlockState {
        BlockState(self.0 & !other.0)
    }
    /// True if every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: BlockState) -> bool {
        self.0 & other.0 == other.0
    }
    /// True if any bit of `other` is set.
    #[inline]
    pub const fn intersects(self, other: BlockState) -> bool {
        self.0 & other.0 != 0
    }
    #[inline]
    pub const fn is_valid(self) -> bool {
        self.intersects(BlockState::VALID)
    }
    #[inline]
    pub const fn is_invalid(self) -> bool {
        self.intersects(BlockState::INVALID)
    }
    #[inline]
    pub const fn is_dirty(self) -> bool {
        self.intersects(BlockState::DIRTY)
    }
    #[inline]
    pub const fn is_busy(self) -> bool {
        self.intersects(BlockState::BUSY)
    }
    /// Reclaimable: exactly VALID (clean, idle, no fallow bits).
    #[inline]
    pub const fn is_reclaimable(self) -> bool {
        self.0 == BlockState::VALID.0
    }
    /// DIRTY and idle: a cleaning candidate.
    #[inline]
    pub const fn is_dirty_idle(self) -> bool {
        self.0 & (BlockState::DIRTY.0 | BlockState::BUSY.0) == BlockState::DIRTY.0
    }
    /// `state & (VALID | INVALID | DIRTY)`, what a metadata slot records.
    #[inline]
    pub const fn persistent_bits(self) -> BlockState {
        BlockState(self.0 & BlockState::PERSISTENT.0)
    }

    /// A state read back from a metadata slot, if it is one this engine can hold at rest:
    /// INVALID, VALID or VALID|DIRTY.
    pub fn from_slot(raw: u32) -> Option<BlockState> {
        match raw {
            0x01 => Some(BlockState::INVALID),
            0x02 => Some(BlockState::VALID),
            0x42 => Some(BlockState::VALID.union(BlockState::DIRTY)),
            _ => None,
        }
    }

    /// The one place a block changes state. Panics on a transition the spec does not allow
    /// from this state: that is a bug in the target.
    #[track_caller]
    pub fn apply(self, transition: Transition) -> BlockState {
        use Transition::*;
        let state = self;
        match transition {
            ClaimForRead | ClaimForWrite => {
                assert!(
                    state == BlockState::INVALID || state.is_reclaimable(),
                    "{transition:?} needs an INVALID or reclaimable block, got {state:?}"
                );
                let busy = if transition == ClaimForRead {
                    BlockState::DISK_READ_IN_PROGRESS
                } else {
                    BlockState::CACHE_WRITE_IN_PROGRESS
                };
                BlockState::VALID.union(busy)
            }
            ReadHit | WriteHit => {
                assert!(
                    state.is_valid() && !state.is_busy() && !state.intersects(BlockState::FALLOW),
                    "{transition:?} needs an idle VALID block with fallow bits cleared, got {state:?}"
                );
                let busy = if transition == ReadHit {
                    BlockState::CACHE_READ_IN_PROGRESS
                } else {
                    BlockState::CACHE_WRITE_IN_PROGRESS
                };
                state.union(busy)
            }
            IoFinished => {
                assert!(state.is_busy(), "IoFinished on an idle block {state:?}");
                state.without(BlockState::BUSY)
            }
            MarkDirty => {
                assert!(
                    state.contains(BlockState::VALID.union(BlockState::CACHE_WRITE_IN_PROGRESS)),
                    "MarkDirty needs VALID|CACHEWRITEINPROG, got {state:?}"
                );
                state.union(BlockState::DIRTY)
            }
            MarkClean => {
                assert!(
                    state.contains(
                        BlockState::VALID
                            .union(BlockState::DIRTY)
                            .union(BlockState::DISK_WRITE_IN_PROGRESS)
                    ),
                    "MarkClean needs VALID|DIRTY|DISKWRITEINPROG, got {state:?}"
                );
                state.without(BlockState::DIRTY)
            }
            StartCleaning => {
                assert!(
                    state.is_valid() && state.is_dirty_idle(),
                    "StartCleaning needs an idle DIRTY block, got {state:?}"
                );
                state
                    .without(BlockState::FALLOW)
                    .union(BlockState::DISK_WRITE_IN_PROGRESS)
            }
            CleanAfterPending => {
                assert!(
                    state.is_valid() && state.is_dirty() && state.is_busy(),
                    "CleanAfterPending needs a busy DIRTY block, got {state:?}"
                );
                state
                    .without(BlockState::BUSY)
                    .without(BlockState::FALLOW)
                    .union(BlockState::DISK_WRITE_IN_PROGRESS)
            }
            Invalidate => {
                assert!(
                    state.is_reclaimable(),
                    "Invalidate needs an idle clean VALID block, got {state:?}"
                );
                BlockState::INVALID
            }
            InvalidateWhileBusy => {
                assert!(
                    state.is_valid() && !state.is_dirty() && state.is_busy(),
                    "InvalidateWhileBusy needs a busy clean VALID block, got {state:?}"
                );
                state.without(BlockState::VALID).union(BlockState::INVALID)
            }
            FallowSweep => {
                assert!(
                    state.is_valid() && state.is_dirty_idle(),
                    "FallowSweep needs an idle DIRTY block, got {state:?}"
                );
                if !state.contains(BlockState::DIRTY_FALLOW_1) {
                    state.union(BlockState::DIRTY_FALLOW_1)
                } else {
                    state.union(BlockState::DIRTY_FALLOW_2)
                }
            }
            ClearFallow => state.without(BlockState::FALLOW),
            Discard => {
                assert!(
                    state.is_valid() && !state.is_busy(),
                    "Discard needs an idle VALID block, got {state:?}"
                );
                BlockState::INVALID
            }
        }
    }
}

impl std::fmt::Debug for BlockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(u16, &str); 9] = [
            (0x0001, "INVALID"),
            (0x0002, "VALID"),
            (0x0004, "DISKREADINPROG"),
            (0x0008, "DISKWRITEINPROG"),
            (0x0010, "CACHEREADINPROG"),
            (0x0020, "CACHEWRITEINPROG"),
            (0x0040, "DIRTY"),
            (0x0080, "DIRTY_FALLOW_1"),
            (0x0100, "DIRTY_FALLOW_2"),
        ];
        let mut first = true;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            write!(f, "0")?;
        }
        let unknown = self.0 & !0x01ff;
        if unknown != 0 {
            write!(f, "|{unknown:#x}")?;
        }
        Ok(())
    }
}

/// Every way a block's state may change (spec 1.6's transition table and 1.17's error paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A read miss takes an INVALID or reclaimable slot: VALID|DISKREADINPROG.
    ClaimForRead,
    /// A write miss takes an INVALID or reclaimable slot: VALID|CACHEWRITEINPROG.
    ClaimForWrite,
    /// An idle block serves a read: +CACHEREADINPROG.
    ReadHit,
    /// An idle block takes a write: +CACHEWRITEINPROG.
    WriteHit,
    /// The block's IO is over (success, or after the pending queue was drained): busy bits off.
    IoFinished,
    /// The metadata write marking the block dirty succeeded: +DIRTY.
    MarkDirty,
    /// The metadata write after a cleaning copy succeeded: -DIRTY.
    MarkClean,
    /// An idle dirty block is picked for cleaning: +DISKWRITEINPROG, fallow bits cleared.
    StartCleaning,
    /// A busy dirty block's IO ended with IOs queued: the busy bits become DISKWRITEINPROG
    /// and the block is cleaned before the queue is served.
    CleanAfterPending,
    /// An idle clean block overlapping uncacheable IO: INVALID.
    Invalidate,
    /// A busy clean block is dropped while its queue drains (or after an error, or after a
    /// failed claim): VALID becomes INVALID, busy bits stay until `IoFinished`.
    InvalidateWhileBusy,
    /// The fallow clock passes an idle dirty block: +DIRTY_FALLOW_1, then +DIRTY_FALLOW_2.
    FallowSweep,
    /// A hit or a cleaning makes the block young again.
    ClearFallow,
    /// Option `discard`: an idle block (dirty or not) is dropped.
    Discard,
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlockState as S;
    use Transition::*;

    fn v() -> BlockState {
        S::VALID
    }
    fn vd() -> BlockState {
        S::VALID.union(S::DIRTY)
    }

    // One test per row of spec 1.6's transition table.

    #[test]
    fn row_read_miss_claims_invalid_or_reclaimable_slot() {
        assert_eq!(
            S::INVALID.apply(ClaimForRead),
            v().union(S::DISK_READ_IN_PROGRESS)
        );
        assert_eq!(v().apply(ClaimForRead), v().union(S::DISK_READ_IN_PROGRESS));
    }

    #[test]
    fn row_fill_done_without_queue_returns_to_valid() {
        let filling = S::INVALID.apply(ClaimForRead);
        assert_eq!(filling.apply(IoFinished), v());
    }

    #[test]
    fn row_write_miss_claims_slot() {
        assert_eq!(
            S::INVALID.apply(ClaimForWrite),
            v().union(S::CACHE_WRITE_IN_PROGRESS)
        );
        assert_eq!(
            v().apply(ClaimForWrite),
            v().union(S::CACHE_WRITE_IN_PROGRESS)
        );
    }

    #[test]
    fn row_writeback_first_dirtying_ends_dirty() {
        let writing = S::INVALID.apply(ClaimForWrite);
        assert_eq!(writing.apply(MarkDirty).apply(IoFinished), vd());
    }

    #[test]
    fn row_writethrough_write_ends_valid() {
        assert_eq!(S::INVALID.apply(ClaimForWrite).apply(IoFinished), v());
    }

    #[test]
    fn row_read_hit() {
        let reading = v().apply(ReadHit);
        assert_eq!(reading, v().union(S::CACHE_READ_IN_PROGRESS));
        assert_eq!(reading.apply(IoFinished), v());
        assert_eq!(vd().apply(ReadHit).apply(IoFinished), vd());
    }

    #[test]
    fn row_write_hit_on_clean_and_dirty() {
        assert_eq!(v().apply(WriteHit).apply(MarkDirty).apply(IoFinished), vd());
        // Re-dirty: no metadata write, the bits just come off.
        assert_eq!(vd().apply(WriteHit).apply(IoFinished), vd());
    }

    #[test]
    fn row_cleaning_dirty_block() {
        let cleaning = vd().union(S::DIRTY_FALLOW_1).apply(StartCleaning);
        assert_eq!(cleaning, vd().union(S::DISK_WRITE_IN_PROGRESS));
        assert_eq!(cleaning.apply(MarkClean).apply(IoFinished), v());
    }

    #[test]
    fn row_invalidate_idle_clean_block() {
        assert_eq!(v().apply(Invalidate), S::INVALID);
    }

    #[test]
    fn row_busy_block_with_queue_becomes_invalid() {
        let limbo = v()
            .union(S::CACHE_READ_IN_PROGRESS)
            .apply(InvalidateWhileBusy);
        assert_eq!(limbo, S::INVALID.union(S::CACHE_READ_IN_PROGRESS));
        assert_eq!(limbo.apply(IoFinished), S::INVALID);
    }

    #[test]
    fn row_fallow_sweeps() {
        let once = vd().apply(FallowSweep);
        assert_eq!(once, vd().union(S::DIRTY_FALLOW_1));
        let twice = once.apply(FallowSweep);
        assert_eq!(twice, vd().union(S::FALLOW));
        assert_eq!(
            twice.apply(FallowSweep),
            twice,
            "a third sweep changes nothing"
        );
    }

    #[test]
    fn row_hit_or_cleaning_clears_fallow() {
        let old = vd().union(S::FALLOW);
        assert_eq!(old.apply(ClearFallow), vd());
        assert!(!old.apply(StartCleaning).intersects(S::FALLOW));
    }

    #[test]
    fn row_dirty_block_with_queue_is_cleaned_first() {
        let busy = vd().union(S::CACHE_WRITE_IN_PROGRESS);
        assert_eq!(
            busy.apply(CleanAfterPending),
            vd().union(S::DISK_WRITE_IN_PROGRESS)
        );
    }

    #[test]
    fn discard_drops_dirty_or_clean_idle_blocks() {
        assert_eq!(vd().apply(Discard), S::INVALID);
        assert_eq!(v().apply(Discard), S::INVALID);
    }

    #[test]
    #[should_panic(expected = "needs an INVALID or reclaimable block")]
    fn claiming_a_dirty_block_is_a_bug() {
        vd().apply(ClaimForRead);
    }

    #[test]
    #[should_panic(expected = "needs an idle VALID block")]
    fn hitting_a_busy_block_is_a_bug() {
        v().union(S::DISK_READ_IN_PROGRESS).apply(ReadHit);
    }

    #[test]
    #[should_panic(expected = "needs an idle clean VALID block")]
    fn invalidating_a_dirty_block_is_a_bug() {
        vd().apply(Invalidate);
    }

    #[test]
    #[should_panic(expected = "IoFinished on an idle block")]
    fn finishing_idle_block_is_a_bug() {
        v().apply(IoFinished);
    }

    #[test]
    fn slots_decode_only_states_at_rest() {
        assert_eq!(BlockState::from_slot(1), Some(S::INVALID));
        assert_eq!(BlockState::from_slot(2), Some(v()));
        assert_eq!(BlockState::from_slot(0x42), Some(vd()));
        assert_eq!(BlockState::from_slot(0x40), None);
        assert_eq!(BlockState::from_slot(3), None);
        assert_eq!(format!("{:?}", vd()), "VALID|DIRTY");
    }
}
