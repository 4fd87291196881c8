//! What dm core and a target exchange: [`BioKey`] names a bio, [`TargetIo`] is one piece of
//! it. Defined below both so that the targets need not import the `Target` enum that holds
//! them.

use crate::arena::Buffer;
use crate::block::Op;
use crate::slab::SlabKey;

/// Names a bio inside the engine (for targets reporting pieces done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BioKey(pub(crate) SlabKey);

/// One piece of a bio handed to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetIo {
    pub bio: BioKey,
    pub op: Op,
    /// Volume sector (0 for a flush).
    pub sector: u64,
    pub sectors: u64,
    pub fua: bool,
    pub sync: bool,
    /// The piece's memory (empty for flush and discard).
    pub buffer: Buffer,
}
