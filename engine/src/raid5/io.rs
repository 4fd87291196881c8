//! What the raid5 machine asks of its caller ([`Raid5Request`]) and how member IOs are named
//! ([`Raid5IoTag`]).

use crate::arena::Buffer;
use crate::block::{IoStatus, Op};

/// Names one member IO of the machine; echo it in [`super::Raid5::complete_member_io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Raid5IoTag {
    /// A stripe head's page on one member.
    Stripe { stripe: u32, member: u8 },
    /// A read sent straight to a member (chunk_aligned_read), by bio key.
    AlignedRead { bio: u64 },
    /// A flush of one member for a flush bio, by bio key.
    Flush { bio: u64, member: u8 },
    /// A read or write of one member's superblock and bitmap.
    Metadata { member: u8 },
}

/// Work the machine wants done, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raid5Request {
    /// Read or write `sectors` at `sector` of member `member` from/into `buffer` (a flush
    /// has no buffer and no range). `fua`: the write must be durable when it completes.
    MemberIo {
        tag: Raid5IoTag,
        member: usize,
        op: Op,
        sector: u64,
        sectors: u32,
        fua: bool,
        buffer: Buffer,
    },
    /// The array bio `id` is finished.
    BioDone { id: u64, status: IoStatus },
    /// The array cannot vouch for `sectors` array sectors at `sector`: a read error in a
    /// stripe a crash may have torn (not yet resynced) made md compute the page from parity
    /// that may be stale, return it and write it back (the write hole without a member
    /// failing). Whoever judges the data must accept anything there until the next write.
    ContentsUnknown { sector: u64, sectors: u64 },
}

impl Raid5Request {
    /// A flush of member `member`'s write cache (no range, no buffer).
    pub(crate) fn member_flush(tag: Raid5IoTag, member: usize) -> Raid5Request {
        Raid5Request::MemberIo {
            tag,
            member,
            op: Op::Flush,
            sector: 0,
            sectors: 0,
            fua: false,
            buffer: Buffer::empty(),
        }
    }
}
