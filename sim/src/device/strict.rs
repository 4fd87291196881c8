//! The strict checks of a simulated device (DESIGN.md invariant 6): an IO no real device
//! should be given — misaligned, out of range, of zero length, overlapping a write in
//! flight, reusing a tag in flight, or with a payload of the wrong size — is refused with a
//! [`StrictError`], a bug in whoever submitted it.

use super::{SimDevice, SimIo, WritePayload};
use dmsim_engine::block::{Extent, Op};

/// An IO the simulator refuses: a bug in whoever submitted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictError {
    #[error("{device}: {op:?} at sector {sector} len {sectors} is not aligned to the {lbs}-byte logical block size")]
    Misaligned {
        device: String,
        op: Op,
        sector: u64,
        sectors: u32,
        lbs: u32,
    },
    #[error("{device}: {op:?} at sector {sector} len {sectors} ends beyond the device ({capacity} sectors)")]
    OutOfRange {
        device: String,
        op: Op,
        sector: u64,
        sectors: u32,
        capacity: u64,
    },
    #[error("{device}: {op:?} of zero length at sector {sector}")]
    ZeroLength { device: String, op: Op, sector: u64 },
    #[error(
        "{device}: write at sector {sector} len {sectors} overlaps in-flight write tag {other_tag}"
    )]
    OverlappingWrite {
        device: String,
        sector: u64,
        sectors: u32,
        other_tag: u64,
    },
    #[error("{device}: tag {tag} is already in flight")]
    DuplicateTag { device: String, tag: u64 },
    #[error("{device}: write payload of {got} sectors for a {sectors}-sector write")]
    PayloadMismatch {
        device: String,
        sectors: u32,
        got: usize,
    },
}

impl SimDevice {
    /// Checks `io` before it is accepted.
    pub(super) fn check(&self, io: &SimIo) -> Result<(), StrictError> {
        // The name is copied only into an error: a check that passes allocates nothing.
        let device = || self.name.clone();
        if io.op != Op::Flush {
            if io.sectors == 0 {
                return Err(StrictError::ZeroLength {
                    device: device(),
                    op: io.op,
                    sector: io.sector,
                });
            }
            if !io.sector.is_multiple_of(self.lbs_sectors)
                || !u64::from(io.sectors).is_multiple_of(self.lbs_sectors)
            {
                return Err(StrictError::Misaligned {
                    device: device(),
                    op: io.op,
                    sector: io.sector,
                    sectors: io.sectors,
                    lbs: self.logical_block_size(),
                });
            }
            if io
                .sector
                .checked_add(u64::from(io.sectors))
                .is_none_or(|end| end > self.capacity_sectors)
            {
                return Err(StrictError::OutOfRange {
                    device: device(),
                    op: io.op,
                    sector: io.sector,
                    sectors: io.sectors,
                    capacity: self.capacity_sectors,
                });
            }
        }
        if self.by_tag.contains(io.tag) {
            return Err(StrictError::DuplicateTag {
                device: device(),
                tag: io.tag,
            });
        }
        if matches!(io.op, Op::Write | Op::Discard) {
            if let Some(other_tag) = self.overlapping_write(io.sector, u64::from(io.sectors)) {
                return Err(StrictError::OverlappingWrite {
                    device: device(),
                    sector: io.sector,
                    sectors: io.sectors,
                    other_tag,
                });
            }
        }
        if io.op == Op::Write {
            let got = match &io.payload {
                WritePayload::Contents(c) => c.len(),
                WritePayload::Bytes(b) => b.len() / 512,
                WritePayload::None => 0,
            };
            if got != io.sectors as usize {
                return Err(StrictError::PayloadMismatch {
                    device: device(),
                    sectors: io.sectors,
                    got,
                });
            }
        }
        Ok(())
    }

    fn overlapping_write(&self, sector: u64, sectors: u64) -> Option<u64> {
        self.inflight_writes
            .overlapping(Extent::new(sector, sectors))
    }
}
