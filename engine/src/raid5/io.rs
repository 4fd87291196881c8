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

impl Raid5IoTag {
    /// A number for a caller cookie; [`Raid5IoTag::from_u64`] inverts it.
    pub fn to_u64(self) -> u64 {
        match self {
            Raid5IoTag::Stripe { stripe, member } => {
                (u64::from(stripe) << 8 | u64::from(member)) << 2
            }
            Raid5IoTag::AlignedRead { bio } => bio << 2 | 1,
            Raid5IoTag::Flush { bio, member } => (bio << 8 | u64::from(member)) << 2 | 2,
            Raid5IoTag::Metadata { member } => u64::from(member) << 2 | 3,
        }
    }

    pub fn from_u64(value: u64) -> Option<Raid5IoTag> {
        let body = value >> 2;
        match value & 3 {
            0 => Some(Raid5IoTag::Stripe {
                stripe: u32::try_from(body >> 8).ok()?,
                member: (body & 0xFF) as u8,
            }),
            1 => Some(Raid5IoTag::AlignedRead { bio: body }),
            2 => Some(Raid5IoTag::Flush {
                bio: body >> 8,
                member: (body & 0xFF) as u8,
            }),
            3 => Some(Raid5IoTag::Metadata {
                member: u8::try_from(body).ok()?,
            }),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Raid5IoTag;

    #[test]
    fn tags_round_trip_through_u64() {
        for tag in [
            Raid5IoTag::Stripe {
                stripe: 255,
                member: 15,
            },
            Raid5IoTag::AlignedRead { bio: 1 << 40 },
            Raid5IoTag::Flush { bio: 77, member: 3 },
            Raid5IoTag::Metadata { member: 15 },
        ] {
            assert_eq!(Raid5IoTag::from_u64(tag.to_u64()), Some(tag));
        }
    }
}
