//! Bob Jenkins' lookup3 hash, as Linux's `jhash` family uses it.
//!
//! flashcache uses `jhash_1word` twice: to place a disk_assoc extent in a set (seed
//! `0xbeef`, spec 1.3) and to pick a per-set hash bucket (seed `0xfeed`). Both must be
//! bit-exact so that a cache created here maps blocks where the kernel would (Decision 3).
//!
//! This module owns the pure hash functions only; which seed is used where belongs to
//! [`super::geometry`]. `jhash_1word` is lookup3's `hashword` over one 32-bit word, which is
//! what Linux ≥ 4.1 computes. (Linux 2.6.37–4.0 seeded `jhash_1word` differently; Decision 3
//! pins the published lookup3 form.)

/// The lookup3 initial value ("golden ratio" of the 2006 code), also `JHASH_INITVAL`.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

/// lookup3's `mix()`: reversibly mixes three words.
#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// lookup3's `final()`: final mixing of three words into `c`.
#[inline(always)]
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// lookup3 `hashword`: hash of a slice of 32-bit words with an initial value.
pub fn hashword(key: &[u32], initval: u32) -> u32 {
    // lookup3 folds the length in words (times 4) into the seed.
    let length_term = (key.len() as u32).wrapping_shl(2);
    let mut a = JHASH_INITVAL
        .wrapping_add(length_term)
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut rest = key;
    while rest.len() > 3 {
        a = a.wrapping_add(rest[0]);
        b = b.wrapping_add(rest[1]);
        c = c.wrapping_add(rest[2]);
        mix(&mut a, &mut b, &mut c);
        rest = &rest[3..];
    }
    match rest.len() {
        3 => {
            c = c.wrapping_add(rest[2]);
            b = b.wrapping_add(rest[1]);
            a = a.wrapping_add(rest[0]);
        }
        2 => {
            b = b.wrapping_add(rest[1]);
            a = a.wrapping_add(rest[0]);
        }
        1 => a = a.wrapping_add(rest[0]),
        _ => return c,
    }
    final_mix(&mut a, &mut b, &mut c);
    c
}

/// lookup3 `hashlittle`: hash of a byte string read as little-endian words. Test-only: the
/// published lookup3 vectors are byte strings, and `hashword` is checked against it.
#[cfg(test)]
fn hashlittle(key: &[u8], initval: u32) -> u32 {
    let mut a = JHASH_INITVAL
        .wrapping_add(key.len() as u32)
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(le_word(&rest[0..4]));
        b = b.wrapping_add(le_word(&rest[4..8]));
        c = c.wrapping_add(le_word(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    // The tail (1..=12 bytes) is added as zero-padded little-endian words.
    let mut tail = [0u8; 12];
    tail[..rest.len()].copy_from_slice(rest);
    a = a.wrapping_add(le_word(&tail[0..4]));
    b = b.wrapping_add(le_word(&tail[4..8]));
    c = c.wrapping_add(le_word(&tail[8..12]));
    final_mix(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
fn le_word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// `jhash_1word(word, initval)`: lookup3 over exactly one 32-bit word.
#[inline]
pub fn jhash_1word(word: u32, initval: u32) -> u32 {
    let mut a = JHASH_INITVAL.wrapping_add(4).wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    a = a.wrapping_add(word);
    final_mix(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors printed by lookup3.c's own self-test (`driver5`).
    #[test]
    fn hashlittle_matches_published_lookup3_vectors() {
        assert_eq!(hashlittle(b"", 0), 0xdead_beef);
        assert_eq!(hashlittle(b"", 0xdead_beef), 0xbd5b_7dde);
        assert_eq!(
            hashlittle(b"Four score and seven years ago", 0),
            0x1777_0551
        );
        assert_eq!(
            hashlittle(b"Four score and seven years ago", 1),
            0xcd62_8161
        );
    }

    /// lookup3 promises `hashword` equals `hashlittle` over the same words on a
    /// little-endian machine; this pins our word path to the byte path above.
    #[test]
    fn hashword_equals_hashlittle_on_little_endian_words() {
        let words = [
            0x0123_4567u32,
            0x89ab_cdef,
            0xdead_beef,
            7,
            0,
            0xffff_ffff,
            42,
        ];
        for n in 0..=words.len() {
            let mut bytes = Vec::new();
            for w in &words[..n] {
                bytes.extend_from_slice(&w.to_le_bytes());
            }
            for seed in [0u32, 1, 0xbeef, 0xfeed] {
                assert_eq!(
                    hashword(&words[..n], seed),
                    hashlittle(&bytes, seed),
                    "n={n}"
                );
            }
        }
    }

    #[test]
    fn jhash_1word_is_hashword_of_one_word() {
        for word in [0u32, 1, 2, 255, 0x1000, 0xdead_beef, u32::MAX] {
            for seed in [0u32, 0xbeef, 0xfeed] {
                assert_eq!(jhash_1word(word, seed), hashword(&[word], seed));
            }
        }
    }

    /// Pinned values for the two seeds flashcache uses, computed by the published algorithm
    /// (whose own vectors are checked above). A change here moves every cached block.
    #[test]
    fn jhash_1word_pinned_vectors() {
        assert_eq!(jhash_1word(0, 0xbeef), 0x7794_1597);
        assert_eq!(jhash_1word(1, 0xbeef), 0x4231_a816);
        assert_eq!(jhash_1word(0x1234_5678, 0xbeef), 0xbdad_b984);
        assert_eq!(jhash_1word(0, 0xfeed), 0xe87e_dea7);
        assert_eq!(jhash_1word(8, 0xfeed), 0x30d4_d30f);
        assert_eq!(jhash_1word(0xffff_fff8, 0xfeed), 0xe8dd_2cb9);
    }
}
