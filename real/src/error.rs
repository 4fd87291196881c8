//! Errors of the real platform: every variant names the path (device, file or system file)
//! involved and, where the user can act, says what to do.
//!
//! Deliberately not here: IO failures of individual device IOs. Those reach the engine as an
//! [`dmsim_engine::block::IoStatus`] in a completion, never as an error.

use dmsim_engine::block::Op;
use std::io;
use std::path::PathBuf;

/// What can go wrong while opening, checking or driving real devices.
///
/// Field names say what they hold (`path`: the device or file as given; `source`: the OS
/// error); each variant's message shows them.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    /// `open(2)` failed for a reason other than the ones below.
    #[error("{path}: cannot open: {source}")]
    Open { path: PathBuf, source: io::Error },

    /// `O_EXCL` on a block device answered EBUSY: something holds it (a mounted filesystem,
    /// device-mapper, md, swap, another dmsim).
    #[error(
        "{path}: device is busy (held exclusively by a mounted filesystem, device-mapper, md, \
         swap or another process); stop using it before pointing dmsim at it"
    )]
    Busy { path: PathBuf },

    /// The device, one of its partitions or one of its holders is mounted.
    #[error(
        "{path}: {mounted_device} is mounted at {mount_point}; unmount it first \
         (dmsim never touches a mounted device)"
    )]
    Mounted {
        path: PathBuf,
        /// The mounted block device (the device itself, a partition or a holder).
        mounted_device: String,
        mount_point: String,
    },

    /// Another kernel driver stacks on the device (listed in sysfs `holders/`).
    #[error("{path}: held by {holder} (device-mapper, md, bcache…); remove {holder} first")]
    Held { path: PathBuf, holder: String },

    /// A write or discard on a device opened without `allow_write`.
    #[error(
        "{path}: refusing {op:?}: the device is open read-only; pass --allow-write to let \
         dmsim write to it (this destroys the data in the range it uses)"
    )]
    ReadOnly { path: PathBuf, op: Op },

    /// A device IO reaches outside the window the device was opened with.
    #[error(
        "{path}: {op:?} of sectors {sector}+{sectors} leaves the allowed range of \
         {range_sectors} sectors (starting at device sector {range_start_sector})"
    )]
    OutOfRange {
        path: PathBuf,
        op: Op,
        sector: u64,
        sectors: u64,
        range_start_sector: u64,
        range_sectors: u64,
    },

    /// A device IO not aligned to the device's logical block size.
    #[error(
        "{path}: {op:?} of sectors {sector}+{sectors} is not aligned to the logical block \
         size of {logical_block_size} bytes"
    )]
    Misaligned {
        path: PathBuf,
        op: Op,
        sector: u64,
        sectors: u64,
        logical_block_size: u32,
    },

    /// The range given at open does not fit the device or is not block aligned.
    #[error(
        "{path}: range {start_sector}+{sectors} does not fit the device ({size_sectors} \
         sectors, logical block {logical_block_size} bytes); choose a smaller or aligned range"
    )]
    BadRange {
        path: PathBuf,
        start_sector: u64,
        sectors: u64,
        size_sectors: u64,
        logical_block_size: u32,
    },

    /// The path is neither a block device nor a regular file.
    #[error("{path}: not a block device or a regular file")]
    NotBlockOrFile { path: PathBuf },

    /// The filesystem holding a regular file refuses `O_DIRECT`.
    #[error(
        "{path}: the filesystem refuses O_DIRECT ({source}); put the file on a filesystem \
         that supports direct IO, or use a block device"
    )]
    NoDirectIo { path: PathBuf, source: io::Error },

    /// A query of the device (ioctl, stat, sysfs) failed.
    #[error("{path}: {what} failed: {source}")]
    Query {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },

    /// A system file (mountinfo, sysfs) could not be read.
    #[error("cannot read {file}: {source}")]
    SystemFile { file: PathBuf, source: io::Error },

    /// A line of `/proc/self/mountinfo` (or a sample of it) is malformed.
    #[error("{file}:{line}: malformed mountinfo line ({reason})")]
    MountInfo {
        file: PathBuf,
        line: usize,
        reason: &'static str,
    },

    /// A device id the platform was not given.
    #[error("device IO names dev{device}, but the platform was given {devices} devices")]
    UnknownDevice { device: u16, devices: usize },

    /// A read or write whose buffer does not cover its sectors, or a flush/discard with data.
    #[error("{path}: {op:?} of {sectors} sectors with a buffer of {capacity_sectors} sectors")]
    BadBuffer {
        path: PathBuf,
        op: Op,
        sectors: u64,
        capacity_sectors: u64,
    },

    /// The platform's arena does not hold a page the IO names.
    #[error("device IO names arena page {page}, but the arena has {pages} pages")]
    PageOutsideArena { page: u32, pages: usize },

    /// An IO named memory of an arena other than the one the platform was built with (the
    /// only memory it may hand to the kernel).
    #[error(
        "IO on an arena other than the platform's own: the platform does IO only into the \
         arena it was built with"
    )]
    ForeignArena,

    /// The engine could not be built.
    #[error("cannot build the engine: {0}")]
    Engine(#[from] dmsim_engine::EngineError),

    /// io_uring could not be set up or used.
    #[error("io_uring: {what}: {source}")]
    Ring {
        what: &'static str,
        source: io::Error,
    },

    /// The loop-device test fixture could not provide what was asked.
    #[error("loop device fixture: {0}")]
    Fixture(String),
}
