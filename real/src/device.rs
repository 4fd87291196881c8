//! One real device dmsim may do IO to: a block device or a regular file, opened with
//! `O_DIRECT`, its geometry, and the window of sectors the engine sees.
//!
//! Owns the open sequence (safety checks, `O_EXCL`, read-only unless told otherwise), the
//! geometry queries, and [`RealDevice::check_io`], which every submission passes before any
//! syscall touches the device. Sector numbers the engine uses are relative to the window:
//! engine sector 0 is the window's first sector.
//!
//! Deliberately not here: queueing and completing IO (see `platform`).

use crate::error::RealError;
use crate::{ioctl, safety};
use dmsim_engine::block::{DeviceInfo, Extent, Op, SECTOR_SIZE};
use rustix::fs::{FileType, Mode, OFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Sector size as u64, for byte arithmetic.
const SECTOR_BYTES: u64 = SECTOR_SIZE as u64;

/// Largest discard dmsim asks of a regular file (punch hole) in one IO: 1 GiB.
const FILE_MAX_DISCARD_SECTORS: u32 = 1 << 21;

/// How to open a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOptions {
    /// Open read-write. Without it the device is opened `O_RDONLY` and every write or discard
    /// is refused with [`RealError::ReadOnly`]: the user must ask for writes explicitly.
    pub allow_write: bool,
    /// `(start_sector, sectors)` in 512-byte device sectors: the only part of the device
    /// dmsim may touch. `None`: the whole device.
    pub range: Option<(u64, u64)>,
}

/// What the opened path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A block device, opened `O_EXCL`.
    BlockDevice {
        /// Device number, major part.
        major: u32,
        /// Device number, minor part.
        minor: u32,
    },
    /// A regular file (tests, or a device image).
    File,
}

/// How discards reach the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiscardMethod {
    /// `BLKDISCARD` ioctl.
    BlockIoctl,
    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)`.
    PunchHole,
    /// The device advertises no discard support.
    Unsupported,
}

/// An open real device. Dropping it closes the file descriptor (and releases `O_EXCL`).
#[derive(Debug)]
pub struct RealDevice {
    path: PathBuf,
    fd: OwnedFd,
    kind: DeviceKind,
    logical_block_size: u32,
    size_bytes: u64,
    /// The window, in absolute 512-byte device sectors.
    range: Extent,
    allow_write: bool,
    discard: DiscardMethod,
    max_discard_sectors: u32,
}

impl RealDevice {
    /// Opens `path` with `O_DIRECT`.
    ///
    /// Block devices: refused if the device, a partition of it or a holder of it is mounted,
    /// or if anything stacks on it; then opened `O_EXCL` (EBUSY → [`RealError::Busy`]).
    /// Geometry from `BLKSSZGET` and `BLKGETSIZE64`. Regular files: logical block size from
    /// the filesystem's direct-IO alignment (`statx` `STATX_DIOALIGN`, 512 if unknown), size
    /// from `st_size` rounded down to it.
    pub fn open(path: impl AsRef<Path>, options: OpenOptions) -> Result<RealDevice, RealError> {
        let path = path.as_ref().to_path_buf();
        let stat = rustix::fs::stat(&path).map_err(|errno| RealError::Open {
            path: path.clone(),
            source: errno.into(),
        })?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        let access = if options.allow_write {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        let flags = access | OFlags::DIRECT | OFlags::CLOEXEC;
        let (fd, kind) = match file_type {
            FileType::BlockDevice => {
                let (major, minor) = (
                    rustix::fs::major(stat.st_rdev),
                    rustix::fs::minor(stat.st_rdev),
                );
                safety::check_block_device_unused(&path, major, minor)?;
                let fd = open_exclusive(&path, flags)?;
                // The node could have been replaced between stat and open.
                let opened = rustix::fs::fstat(&fd).map_err(|errno| RealError::Query {
                    path: path.clone(),
                    what: "fstat",
                    source: errno.into(),
                })?;
                if opened.st_rdev != stat.st_rdev {
                    return Err(RealError::Open {
                        path,
                        source: std::io::Error::other("device node changed while opening"),
                    });
                }
                (fd, DeviceKind::BlockDevice { major, minor })
            }
            FileType::RegularFile => {
                let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                safety::check_not_loop_backing(&path, Path::new(safety::SYS_BLOCK), &[canonical])?;
                let fd = rustix::fs::open(&path, flags, Mode::empty()).map_err(|errno| {
                    if errno == rustix::io::Errno::INVAL {
                        RealError::NoDirectIo {
                            path: path.clone(),
                            source: errno.into(),
                        }
                    } else {
                        RealError::Open {
                            path: path.clone(),
                            source: errno.into(),
                        }
                    }
                })?;
                (fd, DeviceKind::File)
            }
            _ => return Err(RealError::NotBlockOrFile { path }),
        };
        let query = |what: &'static str| {
            let path = path.clone();
            move |source: std::io::Error| RealError::Query { path, what, source }
        };
        let (logical_block_size, size_bytes, discard, max_discard_sectors) = match kind {
            DeviceKind::BlockDevice { major, minor } => {
                let lbs = ioctl::logical_block_size(&fd).map_err(query("BLKSSZGET"))?;
                let size = ioctl::size_bytes(&fd).map_err(query("BLKGETSIZE64"))?;
                let discard_max_bytes = block_discard_max_bytes(major, minor);
                let max_discard_sectors =
                    u32::try_from(discard_max_bytes / SECTOR_BYTES).unwrap_or(u32::MAX);
                let method = if max_discard_sectors == 0 {
                    DiscardMethod::Unsupported
                } else {
                    DiscardMethod::BlockIoctl
                };
                (lbs, size, method, max_discard_sectors)
            }
            DeviceKind::File => {
                let lbs = file_direct_io_alignment(&fd);
                let stat = rustix::fs::fstat(&fd).map_err(|errno| RealError::Query {
                    path: path.clone(),
                    what: "fstat",
                    source: errno.into(),
                })?;
                let size = u64::try_from(stat.st_size).unwrap_or(0);
                (
                    lbs,
                    size,
                    DiscardMethod::PunchHole,
                    FILE_MAX_DISCARD_SECTORS,
                )
            }
        };
        if !(512..=4096).contains(&logical_block_size) || !logical_block_size.is_power_of_two() {
            return Err(RealError::Query {
                path,
                what: "logical block size",
                source: std::io::Error::other(format!(
                    "{logical_block_size} bytes is not a power of two in 512..=4096"
                )),
            });
        }
        let block_sectors = u64::from(logical_block_size) / SECTOR_BYTES;
        let size_sectors = size_bytes / SECTOR_BYTES / block_sectors * block_sectors;
        let (start_sector, sectors) = options.range.unwrap_or((0, size_sectors));
        let fits = start_sector
            .checked_add(sectors)
            .is_some_and(|end| end <= size_sectors);
        if !fits
            || sectors == 0
            || !start_sector.is_multiple_of(block_sectors)
            || !sectors.is_multiple_of(block_sectors)
        {
            return Err(RealError::BadRange {
                path,
                start_sector,
                sectors,
                size_sectors,
                logical_block_size,
            });
        }
        // Keep discards a whole number of logical blocks.
        let max_discard_sectors =
            (u64::from(max_discard_sectors) / block_sectors * block_sectors) as u32;
        Ok(RealDevice {
            path,
            fd,
            kind,
            logical_block_size,
            size_bytes,
            range: Extent::new(start_sector, sectors),
            allow_write: options.allow_write,
            discard: if max_discard_sectors == 0 {
                DiscardMethod::Unsupported
            } else {
                discard
            },
            max_discard_sectors,
        })
    }

    /// The path the device was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Block device or regular file.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// Logical block size in bytes: every IO is aligned to it.
    pub fn logical_block_size(&self) -> u32 {
        self.logical_block_size
    }

    /// Size of the whole device (or file) in bytes, beyond the window.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The window the engine sees, in absolute 512-byte device sectors.
    pub fn range(&self) -> Extent {
        self.range
    }

    /// True if the device was opened for writing (`allow_write`).
    pub fn allows_write(&self) -> bool {
        self.allow_write
    }

    /// What the engine is told about this device: the window's size and the device's limits.
    pub fn info(&self) -> DeviceInfo {
        let mut info = DeviceInfo::new(self.range.sectors, self.logical_block_size);
        info.max_discard_sectors = self.max_discard_sectors;
        // Assumed: flushes and FUA reach the kernel, which drops them where the device has
        // no write cache.
        info.volatile_write_cache = true;
        info
    }

    /// The file descriptor, for the platform's backends.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Checks one device IO against the open mode, the logical block size and the window;
    /// returns the absolute byte offset of its first sector. Every submission passes here
    /// before any syscall touches the device.
    pub fn check_io(&self, op: Op, sector: u64, sectors: u64) -> Result<u64, RealError> {
        if matches!(op, Op::Write | Op::Discard) && !self.allow_write {
            return Err(RealError::ReadOnly {
                path: self.path.clone(),
                op,
            });
        }
        let block_sectors = u64::from(self.logical_block_size) / SECTOR_BYTES;
        if !sector.is_multiple_of(block_sectors) || !sectors.is_multiple_of(block_sectors) {
            return Err(RealError::Misaligned {
                path: self.path.clone(),
                op,
                sector,
                sectors,
                logical_block_size: self.logical_block_size,
            });
        }
        let inside = sector
            .checked_add(sectors)
            .is_some_and(|end| end <= self.range.sectors);
        if !inside {
            return Err(RealError::OutOfRange {
                path: self.path.clone(),
                op,
                sector,
                sectors,
                range_start_sector: self.range.sector,
                range_sectors: self.range.sectors,
            });
        }
        Ok((self.range.sector + sector) * SECTOR_BYTES)
    }

    /// The last line of defence, run right before a syscall or SQE reaches the device: the
    /// absolute byte range lies inside the window. A failure here is a bug of this crate.
    pub(crate) fn assert_inside_window(&self, offset_bytes: u64, length_bytes: u64) {
        let window_start = self.range.sector * SECTOR_BYTES;
        let window_end = self.range.end() * SECTOR_BYTES;
        assert!(
            offset_bytes >= window_start
                && offset_bytes
                    .checked_add(length_bytes)
                    .is_some_and(|end| end <= window_end),
            "{}: IO at byte {offset_bytes}+{length_bytes} escapes the window {window_start}..{window_end}",
            self.path.display()
        );
    }

    /// Discards `length_bytes` at absolute `offset_bytes` (already checked). Unsupported
    /// devices answer `EOPNOTSUPP`.
    pub(crate) fn discard_bytes(
        &self,
        offset_bytes: u64,
        length_bytes: u64,
    ) -> std::io::Result<()> {
        assert!(
            self.allow_write,
            "discard on a read-only device passed check_io"
        );
        self.assert_inside_window(offset_bytes, length_bytes);
        match self.discard {
            DiscardMethod::BlockIoctl => ioctl::discard(&self.fd, offset_bytes, length_bytes),
            DiscardMethod::PunchHole => Ok(rustix::fs::fallocate(
                &self.fd,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                offset_bytes,
                length_bytes,
            )?),
            DiscardMethod::Unsupported => Err(std::io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
        }
    }

    /// `fdatasync(2)` (the blocking backend's flush).
    pub(crate) fn flush_blocking(&self) -> std::io::Result<()> {
        Ok(rustix::fs::fdatasync(&self.fd)?)
    }
}

/// Attempts of an exclusive open that meets EBUSY, 20 ms apart.
const EXCLUSIVE_OPEN_ATTEMPTS: u32 = 10;

/// Opens a block device `O_EXCL`. EBUSY is retried for up to ~200 ms before it becomes
/// [`RealError::Busy`]: an exclusive claim can be held for an instant by a process that is
/// between `fork` and `exec` and still shares a descriptor its parent already closed (a
/// multi-threaded test harness spawning tools does this), while a mounted filesystem or a
/// stacked driver holds it for good.
fn open_exclusive(path: &Path, flags: OFlags) -> Result<OwnedFd, RealError> {
    let mut attempt = 1;
    loop {
        match rustix::fs::open(path, flags | OFlags::EXCL, Mode::empty()) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::BUSY) if attempt < EXCLUSIVE_OPEN_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(rustix::io::Errno::BUSY) => {
                return Err(RealError::Busy {
                    path: path.to_path_buf(),
                })
            }
            Err(errno) => {
                return Err(RealError::Open {
                    path: path.to_path_buf(),
                    source: errno.into(),
                })
            }
        }
    }
}

/// `queue/discard_max_bytes` of a block device (a partition reads its disk's queue); 0 if
/// unknown.
fn block_discard_max_bytes(major: u32, minor: u32) -> u64 {
    let base = PathBuf::from(safety::SYS_DEV_BLOCK).join(format!("{major}:{minor}"));
    for candidate in [
        base.join("queue/discard_max_bytes"),
        base.join("../queue/discard_max_bytes"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&candidate) {
            return text.trim().parse().unwrap_or(0);
        }
    }
    0
}

/// The direct-IO offset alignment a file's filesystem demands (Linux 6.1+ `STATX_DIOALIGN`),
/// at least 512; 512 when the kernel does not say.
fn file_direct_io_alignment(fd: &OwnedFd) -> u32 {
    let statx = rustix::fs::statx(
        fd,
        "",
        rustix::fs::AtFlags::EMPTY_PATH,
        rustix::fs::StatxFlags::DIOALIGN,
    );
    match statx {
        Ok(statx) if statx.stx_mask & rustix::fs::StatxFlags::DIOALIGN.bits() != 0 => {
            statx.stx_dio_offset_align.max(512)
        }
        _ => 512,
    }
}
