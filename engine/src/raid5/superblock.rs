//! The on-member format of the array's persistent state: a superblock sector and a
//! write-intent bitmap page in the last [`METADATA_SECTORS`] of every member (md keeps its
//! 0.90/1.0 superblock at the end of the device too). Our own layout, not md's.
//!
//! Page 0, sector 0: magic, events (bumped by every superblock write), clean/dirty, the
//! roles recorded as failed, the shape (members, chunk, data sectors per member, bitmap
//! chunk) and a checksum; the rest of the page is zeros. Page 1: one bit per bitmap chunk.
//! A power loss tears the two pages sector by sector like any other write: the superblock
//! sector is whole (old or new, its checksum says which), the bitmap's sectors each old or
//! new. Both are safe: a write starts only after its superblock and bitmap writes are on
//! every member, and a torn clean-marking leaves some members saying dirty (a resync more).
//!
//! Owns encoding and decoding only; when they are written is `metadata`'s.

use crate::block::{PAGE_SIZE, SECTORS_PER_PAGE};

/// Sectors at the end of each member holding the superblock page and the bitmap page.
pub const METADATA_SECTORS: u64 = 2 * SECTORS_PER_PAGE;
/// Bytes of the two pages.
pub const METADATA_BYTES: usize = 2 * PAGE_SIZE;

const MAGIC: u64 = u64::from_le_bytes(*b"DMSIMMD5");
/// Bytes of the superblock covered by the checksum (the checksum follows them).
const SUPERBLOCK_BODY_BYTES: usize = 48;

/// What one member's superblock says (public so a test rig can put one of another array
/// on a member, as a disk moved from elsewhere would bring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    pub events: u64,
    pub dirty: bool,
    /// Bit per role recorded as failed.
    pub faulty_roles: u16,
    pub members: u8,
    pub chunk_sectors: u64,
    pub member_sectors: u64,
    /// 0: no bitmap.
    pub bitmap_chunk_sectors: u64,
    /// One bit per bitmap chunk (empty without a bitmap).
    pub bitmap: Vec<u8>,
}

/// A member's metadata pages as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// All zeros: never part of an array (a fresh device).
    Fresh,
    /// Neither zeros nor a superblock whose checksum holds.
    Invalid,
    Valid(Superblock),
}

/// FNV-1a over bytes: enough to tell a torn or foreign sector.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn u64_at(image: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(image[at..at + 8].try_into().expect("8 bytes"))
}

impl Superblock {
    /// The two pages' bytes.
    pub fn encode(&self, out: &mut [u8; METADATA_BYTES]) {
        out.fill(0);
        out[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        out[8..16].copy_from_slice(&self.events.to_le_bytes());
        out[16] = u8::from(self.dirty);
        out[17..19].copy_from_slice(&self.faulty_roles.to_le_bytes());
        out[19] = self.members;
        out[24..32].copy_from_slice(&self.chunk_sectors.to_le_bytes());
        out[32..40].copy_from_slice(&self.member_sectors.to_le_bytes());
        out[40..48].copy_from_slice(&self.bitmap_chunk_sectors.to_le_bytes());
        let sum = checksum(&out[..SUPERBLOCK_BODY_BYTES]);
        out[SUPERBLOCK_BODY_BYTES..SUPERBLOCK_BODY_BYTES + 8].copy_from_slice(&sum.to_le_bytes());
        assert!(self.bitmap.len() <= PAGE_SIZE, "the bitmap fits its page");
        out[PAGE_SIZE..PAGE_SIZE + self.bitmap.len()].copy_from_slice(&self.bitmap);
    }

    /// Reads the two pages' bytes; `bitmap_bytes`: the bitmap's length this array uses.
    pub(crate) fn decode(image: &[u8; METADATA_BYTES], bitmap_bytes: usize) -> Found {
        if image.iter().all(|&b| b == 0) {
            return Found::Fresh;
        }
        let sum = u64_at(image, SUPERBLOCK_BODY_BYTES);
        if u64_at(image, 0) != MAGIC
            || checksum(&image[..SUPERBLOCK_BODY_BYTES]) != sum
            || image[16] > 1
        {
            return Found::Invalid;
        }
        Found::Valid(Superblock {
            events: u64_at(image, 8),
            dirty: image[16] == 1,
            faulty_roles: u16::from_le_bytes([image[17], image[18]]),
            members: image[19],
            chunk_sectors: u64_at(image, 24),
            member_sectors: u64_at(image, 32),
            bitmap_chunk_sectors: u64_at(image, 40),
            bitmap: image[PAGE_SIZE..PAGE_SIZE + bitmap_bytes].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock() -> Superblock {
        Superblock {
            events: 7,
            dirty: true,
            faulty_roles: 0b100,
            members: 4,
            chunk_sectors: 32,
            member_sectors: 1024,
            bitmap_chunk_sectors: 64,
            bitmap: vec![0b1010_0001, 0, 0x80],
        }
    }

    #[test]
    fn a_superblock_round_trips_and_a_torn_one_is_invalid() {
        let mut image = [0u8; METADATA_BYTES];
        assert_eq!(Superblock::decode(&image, 3), Found::Fresh);
        superblock().encode(&mut image);
        assert_eq!(Superblock::decode(&image, 3), Found::Valid(superblock()));
        // A sector of the superblock from another write: the checksum no longer holds.
        image[8] ^= 1;
        assert_eq!(Superblock::decode(&image, 3), Found::Invalid);
    }
}
