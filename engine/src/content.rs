//! What a sector holds, as the data oracle sees it.
//!
//! Workloads write self-describing data: every 512-byte sector of a workload write carries a
//! [`SectorStamp`] — the volume sector it was written for and the id of the write. In
//! simulation the stamp itself is the content (16 bytes instead of 512); on a real device the
//! real platform materialises it as bytes with [`encode_sector`] and parses reads back with
//! [`decode_sector`], so one oracle checks every read in both worlds (DESIGN.md, "Data").

use crate::block::SECTOR_SIZE;
use serde::{Deserialize, Serialize};

/// Identity of one sector's worth of workload data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SectorStamp {
    /// The volume sector this data was written to by the workload.
    pub sector: u64,
    /// The workload write that produced it; ids start at 1 and grow.
    pub write_id: u64,
}

/// The content of one sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SectorContent {
    /// All zero bytes: never written on a fresh simulated device.
    Zero,
    /// Workload data.
    Stamp(SectorStamp),
    /// Bytes that are neither zero nor a valid stamp: engine metadata, a torn sector, or
    /// whatever a real device held before the run.
    Foreign,
}

/// Magic at the start of every encoded stamp sector: "DMSIMSTP" little-endian.
const STAMP_MAGIC: u64 = u64::from_le_bytes(*b"DMSIMSTP");
/// Byte offset of the checksum: the last 8 bytes of the sector.
const CHECKSUM_OFFSET: usize = SECTOR_SIZE - 8;

/// FNV-1a over the 8-byte little-endian words of `bytes` (a multiple of 8 long): cheap,
/// deterministic, and enough to tell a torn or misplaced sector. Word-wise rather than
/// byte-wise because every sector of every real read is checked.
fn checksum(bytes: &[u8]) -> u64 {
    debug_assert!(bytes.len().is_multiple_of(8));
    bytes.chunks_exact(8).fold(FNV_OFFSET, |hash, word| {
        fnv_step(
            hash,
            u64::from_le_bytes(word.try_into().expect("8-byte chunk")),
        )
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One word of [`checksum`].
fn fnv_step(hash: u64, word: u64) -> u64 {
    (hash ^ word).wrapping_mul(FNV_PRIME)
}

/// True if every byte is zero (word-wise OR, which the compiler vectorises).
fn all_zero(bytes: &[u8]) -> bool {
    bytes.chunks_exact(8).fold(0u64, |acc, w| {
        acc | u64::from_le_bytes(w.try_into().expect("8-byte chunk"))
    }) == 0
}

/// Write `stamp` as 512 bytes: magic, sector, write id, a filler derived from both, checksum.
pub fn encode_sector(stamp: SectorStamp, out: &mut [u8]) {
    assert_eq!(
        out.len(),
        SECTOR_SIZE,
        "encode_sector needs exactly one sector"
    );
    // The checksum is summed as the words are made, not over the bytes afterwards: its
    // chain and the filler's then run side by side (parity over stamps encodes every
    // sector it XORs).
    let mut sum = FNV_OFFSET;
    for (at, word) in [(0, STAMP_MAGIC), (8, stamp.sector), (16, stamp.write_id)] {
        out[at..at + 8].copy_from_slice(&word.to_le_bytes());
        sum = fnv_step(sum, word);
    }
    // xorshift64 filler: every byte depends on the stamp, so a sector written for another
    // address or by another write cannot pass for this one.
    let mut x = stamp.sector ^ stamp.write_id.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    for chunk in out[24..CHECKSUM_OFFSET].chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
        sum = fnv_step(sum, x);
    }
    debug_assert_eq!(sum, checksum(&out[..CHECKSUM_OFFSET]));
    out[CHECKSUM_OFFSET..].copy_from_slice(&sum.to_le_bytes());
}

/// Read 512 bytes back into what they hold.
pub fn decode_sector(bytes: &[u8]) -> SectorContent {
    assert_eq!(
        bytes.len(),
        SECTOR_SIZE,
        "decode_sector needs exactly one sector"
    );
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if word(0) != STAMP_MAGIC {
        return if all_zero(bytes) {
            SectorContent::Zero
        } else {
            SectorContent::Foreign
        };
    }
    if word(CHECKSUM_OFFSET) != checksum(&bytes[..CHECKSUM_OFFSET]) {
        return SectorContent::Foreign;
    }
    SectorContent::Stamp(SectorStamp {
        sector: word(8),
        write_id: word(16),
    })
}

/// Write `content` as 512 bytes. `Foreign` has no canonical bytes; it is written as a
/// recognisable non-stamp pattern.
pub fn encode_content(content: SectorContent, out: &mut [u8]) {
    match content {
        SectorContent::Zero => out.fill(0),
        SectorContent::Stamp(stamp) => encode_sector(stamp, out),
        SectorContent::Foreign => out.fill(0xA5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_through_bytes() {
        let stamp = SectorStamp {
            sector: 123_456_789,
            write_id: 42,
        };
        let mut buf = [0u8; SECTOR_SIZE];
        encode_sector(stamp, &mut buf);
        assert_eq!(decode_sector(&buf), SectorContent::Stamp(stamp));
    }

    #[test]
    fn stamp_encoding_is_pinned() {
        // Encoded bytes reach device images and parity: they must not drift.
        let mut buf = [0u8; SECTOR_SIZE];
        encode_sector(
            SectorStamp {
                sector: 123_456_789,
                write_id: 42,
            },
            &mut buf,
        );
        let tail = u64::from_le_bytes(buf[CHECKSUM_OFFSET..].try_into().expect("8 bytes"));
        assert_eq!(tail, 0x510c_ba5a_3cf5_b90d);
    }

    #[test]
    fn zero_and_foreign_are_recognised() {
        assert_eq!(decode_sector(&[0u8; SECTOR_SIZE]), SectorContent::Zero);
        assert_eq!(
            decode_sector(&[0xA5u8; SECTOR_SIZE]),
            SectorContent::Foreign
        );
    }

    #[test]
    fn a_flipped_bit_makes_a_stamp_foreign() {
        let mut buf = [0u8; SECTOR_SIZE];
        encode_sector(
            SectorStamp {
                sector: 8,
                write_id: 1,
            },
            &mut buf,
        );
        buf[300] ^= 1;
        assert_eq!(decode_sector(&buf), SectorContent::Foreign);
    }
}
