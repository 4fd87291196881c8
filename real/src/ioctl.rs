//! The block-device ioctls dmsim needs: logical block size, size in bytes, discard.
//!
//! Owns the raw `ioctl(2)` calls (and their `unsafe`); callers get plain `io::Result`s.
//! Deliberately not here: deciding whether a device may be used (see `safety`).

use rustix::ioctl::{ioctl, opcode, Getter, Opcode, Setter};
use std::io;
use std::os::fd::AsFd;

/// `BLKGETSIZE64 = _IOR(0x12, 114, size_t)`: the kernel declares it with `size_t` although
/// it writes a `u64`, so the opcode is computed with `usize`.
const BLKGETSIZE64: Opcode = opcode::read::<usize>(0x12, 114);
/// `BLKDISCARD = _IO(0x12, 119)`, argument: `u64[2]` = {offset bytes, length bytes}.
const BLKDISCARD: Opcode = opcode::none(0x12, 119);

/// Logical block size in bytes (`BLKSSZGET`).
pub fn logical_block_size(fd: impl AsFd) -> io::Result<u32> {
    Ok(rustix::fs::ioctl_blksszget(fd)?)
}

/// Size of the block device in bytes (`BLKGETSIZE64`).
pub fn size_bytes(fd: impl AsFd) -> io::Result<u64> {
    // SAFETY: BLKGETSIZE64 writes exactly one u64 through its pointer argument; Getter hands
    // the kernel a pointer to a `MaybeUninit<u64>` and reads it only after success.
    let size = unsafe { ioctl(fd, Getter::<BLKGETSIZE64, u64>::new()) }?;
    Ok(size)
}

/// Discards `length_bytes` from `offset_bytes` (`BLKDISCARD`); both must be aligned to the
/// logical block size. The kernel checks the fd was opened for writing.
pub fn discard(fd: impl AsFd, offset_bytes: u64, length_bytes: u64) -> io::Result<()> {
    // SAFETY: BLKDISCARD reads a `u64[2]` {offset, length} through its pointer argument and
    // writes nothing; Setter passes a pointer to exactly that array, live for the call.
    unsafe {
        ioctl(
            fd,
            Setter::<BLKDISCARD, [u64; 2]>::new([offset_bytes, length_bytes]),
        )
    }?;
    Ok(())
}
