//! A stripe head (md's `stripe_head`): one 4 KiB page per member at the same member sector,
//! with each member's queued bio segments.
//!
//! Owns the per-member bio lists (`toread`, `towrite`, `written`), the OVERWRITE coverage and
//! `add_stripe_bio`'s overlap rule. The pages' states go through [`MemberBuffer::apply`].
//! Does not own list membership or reference counts (see [`super::cache`]).

use super::buffer::{BufferTransition, MemberBuffer};
use crate::arena::{Buffer, PageId};
use crate::slab::SlabKey;

/// The part of one array bio that falls on one member page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BioSegment {
    /// The array bio (key in the machine's bio slab).
    pub bio: SlabKey,
    /// First sector within the page (0..8).
    pub page_offset: u32,
    pub sectors: u32,
    /// The bio's memory for these sectors.
    pub buffer: Buffer,
    /// The bio is a write with FUA: the member writes it drains into must be durable when
    /// they complete.
    pub fua: bool,
}

impl BioSegment {
    /// Bit per page sector this segment covers.
    pub fn mask(&self) -> u8 {
        debug_assert!(self.sectors >= 1 && self.page_offset + self.sectors <= 8);
        let ones = if self.sectors >= 8 {
            0xFF
        } else {
            (1u8 << self.sectors) - 1
        };
        ones << self.page_offset
    }
}

/// One member's page in a stripe head (md's `r5dev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StripeMember {
    pub page: PageId,
    pub buffer: MemberBuffer,
    pub toread: Vec<BioSegment>,
    pub towrite: Vec<BioSegment>,
    /// Write segments copied into the page, waiting for the member write to complete.
    pub written: Vec<BioSegment>,
    /// R5_WantFUA: the page's next member write goes with FUA (a FUA bio drained into the
    /// stripe); cleared as the write is issued.
    pub want_fua: bool,
}

impl StripeMember {
    /// OVERWRITE: the queued writes cover the whole page.
    pub fn overwrite(&self) -> bool {
        self.towrite.iter().fold(0u8, |mask, s| mask | s.mask()) == 0xFF
    }

    /// Changes the page's state through the checked transition function.
    #[track_caller]
    pub fn apply(&mut self, transition: BufferTransition) {
        self.buffer = self.buffer.apply(transition);
    }

    pub fn has_bios(&self) -> bool {
        !(self.toread.is_empty() && self.towrite.is_empty() && self.written.is_empty())
    }
}

/// Which list an unreferenced stripe head waits on (md's lists; an active head is on none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StripeList {
    None,
    Inactive,
    Handle,
    Delayed,
    /// Activated pre-read stripes (md's `hold_list`).
    Hold,
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StripeHead {
    /// Member sector of the head (a multiple of 8); meaningful while hashed.
    pub sector: u64,
    pub parity_member: usize,
    /// References: bios being added, the handler, member IOs in flight.
    pub count: u32,
    pub hashed: bool,
    pub list: StripeList,
    /// STRIPE_HANDLE: needs handle_stripe.
    pub handle: bool,
    /// STRIPE_DELAYED: a partial write waits for permission to pre-read.
    pub delayed: bool,
    /// STRIPE_PREREAD_ACTIVE: allowed to pre-read.
    pub preread_active: bool,
    /// STRIPE_SYNCING: under a check or repair pass.
    pub syncing: bool,
    /// A recovery pass wrote this head's rebuilt page; its sync ends when the write is done.
    pub sync_written: bool,
    pub members: Vec<StripeMember>,
}

impl StripeHead {
    pub fn new(pages: &[PageId]) -> StripeHead {
        StripeHead {
            sector: 0,
            parity_member: 0,
            count: 0,
            hashed: false,
            list: StripeList::None,
            handle: false,
            delayed: false,
            preread_active: false,
            syncing: false,
            sync_written: false,
            members: pages
                .iter()
                .map(|&page| StripeMember {
                    page,
                    buffer: MemberBuffer::default(),
                    toread: Vec::new(),
                    towrite: Vec::new(),
                    written: Vec::new(),
                    want_fua: false,
                })
                .collect(),
        }
    }

    /// True if no member has an IO decided or in flight and no bio is queued: the head may be
    /// reused for another sector.
    pub fn is_quiet(&self) -> bool {
        !self.syncing
            && self
                .members
                .iter()
                .all(|m| !m.buffer.is_locked() && !m.has_bios())
    }

    /// md's `add_stripe_bio`: queue `segment` on `member`'s read or write list, unless it
    /// overlaps a segment already queued there (then the caller waits and retries).
    pub fn add_bio(
        &mut self,
        member: usize,
        segment: BioSegment,
        for_write: bool,
    ) -> Result<(), BioSegment> {
        let dev = &mut self.members[member];
        let list = if for_write {
            &mut dev.towrite
        } else {
            &mut dev.toread
        };
        if list
            .iter()
            .any(|queued| queued.mask() & segment.mask() != 0)
        {
            return Err(segment);
        }
        list.push(segment);
        Ok(())
    }
}
