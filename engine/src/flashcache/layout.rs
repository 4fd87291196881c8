//! On-SSD byte layout of writeback metadata (spec 1.4, Decision 10): the superblock and
//! the 16-byte metadata slots, little-endian at fixed offsets.
//!
//! Owns: encoding and decoding bytes. Does not own: where the bytes go (see
//! [`super::geometry`]) nor when they are written (see `md` and `persist`).

use super::state::BlockState;

/// On-SSD format version this implementation writes (`FLASHCACHE_VERSION`).
pub const FLASHCACHE_VERSION: u32 = 4;
/// Bytes of the superblock that carry fields (x86-64 natural alignment).
pub const SUPERBLOCK_BYTES: usize = 312;
/// Bytes of a device name field (`DEV_PATHLEN`).
pub const DEV_PATHLEN: usize = 128;
/// Bytes of one metadata slot.
pub const SLOT_BYTES: usize = 16;
/// Bulk metadata IO (create/load/store) moves at most this many bytes per request.
pub const METADATA_IO_BYTES: usize = 256 * 1024;
/// Sectors load reads for the superblock before it knows the md block size.
pub const SUPERBLOCK_PROBE_SECTORS: u32 = 8;

/// Byte offsets of the superblock fields.
pub mod offset {
    pub const SIZE: usize = 0;
    pub const BLOCK_SIZE: usize = 8;
    pub const ASSOC: usize = 12;
    pub const STATE: usize = 16;
    pub const CACHE_DEVNAME: usize = 20;
    pub const CACHE_DEVSIZE: usize = 152;
    pub const DISK_DEVNAME: usize = 160;
    pub const DISK_DEVSIZE: usize = 288;
    pub const VERSION: usize = 296;
    pub const MD_BLOCK_SIZE: usize = 300;
    pub const DISK_ASSOC: usize = 304;
    pub const WRITE_ONLY: usize = 308;
}

/// `cache_sb_state` values.
pub const SB_STATE_DIRTY: u32 = 0xdead_beef;
pub const SB_STATE_CLEAN: u32 = 0xface_cafe;
pub const SB_STATE_FASTCLEAN: u32 = 0xcafe_feed;
pub const SB_STATE_UNSTABLE: u32 = 0xc824_9756;

/// What the superblock says about the last shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuperblockState {
    /// In use, or an unclean shutdown: only DIRTY slots are trustworthy.
    Dirty,
    /// Clean shutdown with no dirty blocks.
    Clean,
    /// Clean shutdown with dirty blocks retained.
    FastClean,
    /// Metadata writes failed during shutdown.
    Unstable,
}

impl SuperblockState {
    /// The on-SSD value.
    pub fn raw(self) -> u32 {
        match self {
            SuperblockState::Dirty => SB_STATE_DIRTY,
            SuperblockState::Clean => SB_STATE_CLEAN,
            SuperblockState::FastClean => SB_STATE_FASTCLEAN,
            SuperblockState::Unstable => SB_STATE_UNSTABLE,
        }
    }
    /// Decode; None for anything else (garbage).
    pub fn from_raw(raw: u32) -> Option<SuperblockState> {
        match raw {
            SB_STATE_DIRTY => Some(SuperblockState::Dirty),
            SB_STATE_CLEAN => Some(SuperblockState::Clean),
            SB_STATE_FASTCLEAN => Some(SuperblockState::FastClean),
            SB_STATE_UNSTABLE => Some(SuperblockState::Unstable),
            _ => None,
        }
    }
}

/// `struct flash_superblock`. Fields are raw so that garbage can be decoded and judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// Cache size in blocks.
    pub size_blocks: u64,
    pub block_size_sectors: u32,
    pub assoc: u32,
    pub state_raw: u32,
    /// Holds the DM device name since v2.
    pub cache_devname: String,
    pub cache_devsize_sectors: u64,
    pub disk_devname: String,
    pub disk_devsize_sectors: u64,
    pub version: u32,
    pub md_block_size_sectors: u32,
    pub disk_assoc_sectors: u32,
    pub write_only_cache: u32,
}

impl Superblock {
    /// Write the fields at their offsets. Bytes of `out` not covered by a field are left as
    /// they are (callers pass a zeroed buffer).
    pub fn encode(&self, out: &mut [u8]) {
        assert!(out.len() >= SUPERBLOCK_BYTES, "superblock buffer too small");
        put_u64(out, offset::SIZE, self.size_blocks);
        put_u32(out, offset::BLOCK_SIZE, self.block_size_sectors);
        put_u32(out, offset::ASSOC, self.assoc);
        put_u32(out, offset::STATE, self.state_raw);
        put_name(out, offset::CACHE_DEVNAME, &self.cache_devname);
        put_u64(out, offset::CACHE_DEVSIZE, self.cache_devsize_sectors);
        put_name(out, offset::DISK_DEVNAME, &self.disk_devname);
        put_u64(out, offset::DISK_DEVSIZE, self.disk_devsize_sectors);
        put_u32(out, offset::VERSION, self.version);
        put_u32(out, offset::MD_BLOCK_SIZE, self.md_block_size_sectors);
        put_u32(out, offset::DISK_ASSOC, self.disk_assoc_sectors);
        put_u32(out, offset::WRITE_ONLY, self.write_only_cache);
    }

    /// Read the fields back. Never fails: judging the values is the loader's job.
    pub fn decode(bytes: &[u8]) -> Superblock {
        assert!(
            bytes.len() >= SUPERBLOCK_BYTES,
            "superblock buffer too small"
        );
        Superblock {
            size_blocks: get_u64(bytes, offset::SIZE),
            block_size_sectors: get_u32(bytes, offset::BLOCK_SIZE),
            assoc: get_u32(bytes, offset::ASSOC),
            state_raw: get_u32(bytes, offset::STATE),
            cache_devname: get_name(bytes, offset::CACHE_DEVNAME),
            cache_devsize_sectors: get_u64(bytes, offset::CACHE_DEVSIZE),
            disk_devname: get_name(bytes, offset::DISK_DEVNAME),
            disk_devsize_sectors: get_u64(bytes, offset::DISK_DEVSIZE),
            version: get_u32(bytes, offset::VERSION),
            md_block_size_sectors: get_u32(bytes, offset::MD_BLOCK_SIZE),
            disk_assoc_sectors: get_u32(bytes, offset::DISK_ASSOC),
            write_only_cache: get_u32(bytes, offset::WRITE_ONLY),
        }
    }

    /// The decoded state, if it is one flashcache knows.
    pub fn state(&self) -> Option<SuperblockState> {
        SuperblockState::from_raw(self.state_raw)
    }
}

/// One on-SSD metadata slot (`struct flash_cacheblock`, checksums compiled out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdSlot {
    pub dbn: u64,
    /// `in-memory state & (VALID | INVALID | DIRTY)` when written by this engine.
    pub state: u32,
}

impl MdSlot {
    /// The slot flashcache writes for a block in memory state `state` holding `dbn`.
    pub fn of_block(dbn: u64, state: BlockState) -> MdSlot {
        MdSlot {
            dbn,
            state: u32::from(state.persistent_bits().bits()),
        }
    }

    /// The slot's bytes: dbn at +0, state at +8, 4 zero pad bytes, little-endian. One
    /// 16-byte store: a metadata write encodes every slot of its block (issue 11).
    #[inline]
    pub fn to_bytes(self) -> [u8; SLOT_BYTES] {
        (u128::from(self.dbn) | u128::from(self.state) << 64).to_le_bytes()
    }
}

/// Write slot number `slot` of a metadata buffer (see [`MdSlot::to_bytes`]).
#[inline]
pub fn encode_slot(buffer: &mut [u8], slot: usize, value: MdSlot) {
    let at = slot * SLOT_BYTES;
    let bytes: &mut [u8; SLOT_BYTES] = (&mut buffer[at..at + SLOT_BYTES])
        .try_into()
        .expect("a range of SLOT_BYTES");
    *bytes = value.to_bytes();
}

/// Read slot number `slot` of a metadata buffer.
#[inline]
pub fn decode_slot(buffer: &[u8], slot: usize) -> MdSlot {
    let at = slot * SLOT_BYTES;
    MdSlot {
        dbn: get_u64(buffer, at),
        state: get_u32(buffer, at + 8),
    }
}

fn put_u64(out: &mut [u8], at: usize, value: u64) {
    out[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn get_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn get_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// `strncpy(field, name, DEV_PATHLEN)`: copy at most 128 bytes, zero-fill the rest.
fn put_name(out: &mut [u8], at: usize, name: &str) {
    let field = &mut out[at..at + DEV_PATHLEN];
    field.fill(0);
    let bytes = name.as_bytes();
    let len = bytes.len().min(DEV_PATHLEN);
    field[..len].copy_from_slice(&bytes[..len]);
}

/// The bytes of a name field up to its first NUL (a full field has none).
fn get_name(bytes: &[u8], at: usize) -> String {
    let field = &bytes[at..at + DEV_PATHLEN];
    let len = field.iter().position(|&b| b == 0).unwrap_or(DEV_PATHLEN);
    String::from_utf8_lossy(&field[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock {
            size_blocks: 260_608,
            block_size_sectors: 8,
            assoc: 512,
            state_raw: SB_STATE_DIRTY,
            cache_devname: "cachedev".to_string(),
            cache_devsize_sectors: 2_097_152,
            disk_devname: "/dev/sdb".to_string(),
            disk_devsize_sectors: 0x1_0000_0001,
            version: 4,
            md_block_size_sectors: 8,
            disk_assoc_sectors: 512,
            write_only_cache: 1,
        }
    }

    #[test]
    fn superblock_fields_sit_at_the_specified_byte_offsets() {
        let mut bytes = vec![0u8; 4096];
        sample().encode(&mut bytes);
        assert_eq!(&bytes[0..8], &260_608u64.to_le_bytes());
        assert_eq!(&bytes[8..12], &8u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &512u32.to_le_bytes());
        assert_eq!(&bytes[16..20], &[0xef, 0xbe, 0xad, 0xde]);
        assert_eq!(&bytes[20..28], b"cachedev");
        assert_eq!(bytes[28], 0);
        assert_eq!(&bytes[148..152], &[0, 0, 0, 0], "alignment pad");
        assert_eq!(&bytes[152..160], &2_097_152u64.to_le_bytes());
        assert_eq!(&bytes[160..168], b"/dev/sdb");
        assert_eq!(&bytes[288..296], &[1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&bytes[296..300], &4u32.to_le_bytes());
        assert_eq!(&bytes[300..304], &8u32.to_le_bytes());
        assert_eq!(&bytes[304..308], &512u32.to_le_bytes());
        assert_eq!(&bytes[308..312], &1u32.to_le_bytes());
        assert!(bytes[312..].iter().all(|&b| b == 0));
        assert_eq!(Superblock::decode(&bytes), sample());
    }

    #[test]
    fn superblock_states_round_trip_and_garbage_is_unknown() {
        for state in [
            SuperblockState::Dirty,
            SuperblockState::Clean,
            SuperblockState::FastClean,
            SuperblockState::Unstable,
        ] {
            assert_eq!(SuperblockState::from_raw(state.raw()), Some(state));
        }
        assert_eq!(SB_STATE_CLEAN, 0xfacecafe);
        assert_eq!(SB_STATE_FASTCLEAN, 0xcafefeed);
        assert_eq!(SB_STATE_UNSTABLE, 0xc8249756);
        assert_eq!(SuperblockState::from_raw(0), None);
    }

    #[test]
    fn long_names_are_truncated_to_128_bytes_without_nul() {
        let mut sb = sample();
        sb.disk_devname = "x".repeat(200);
        let mut bytes = vec![0u8; 512];
        sb.encode(&mut bytes);
        assert_eq!(Superblock::decode(&bytes).disk_devname.len(), 128);
        assert_eq!(&bytes[288..296], &sb.disk_devsize_sectors.to_le_bytes());
    }

    #[test]
    fn slots_are_sixteen_bytes_dbn_then_state_then_pad() {
        let mut bytes = vec![0xffu8; 64];
        encode_slot(
            &mut bytes,
            1,
            MdSlot {
                dbn: 0x0102_0304_0506_0708,
                state: 0x42,
            },
        );
        assert_eq!(&bytes[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[24..28], &[0x42, 0, 0, 0]);
        assert_eq!(&bytes[28..32], &[0, 0, 0, 0]);
        assert_eq!(&bytes[0..16], &[0xff; 16], "neighbouring slot untouched");
        assert_eq!(
            decode_slot(&bytes, 1),
            MdSlot {
                dbn: 0x0102_0304_0506_0708,
                state: 0x42
            }
        );
    }

    #[test]
    fn persisted_state_keeps_only_valid_invalid_dirty() {
        let busy_dirty = BlockState::VALID
            .union(BlockState::DIRTY)
            .union(BlockState::DISK_WRITE_IN_PROGRESS)
            .union(BlockState::DIRTY_FALLOW_1);
        assert_eq!(MdSlot::of_block(8, busy_dirty).state, 0x42);
        assert_eq!(MdSlot::of_block(8, BlockState::VALID).state, 0x02);
        assert_eq!(MdSlot::of_block(0, BlockState::INVALID).state, 0x01);
    }
}
