//! Test fixtures: a loop device over a fresh backing file, or a plain file when loop devices
//! are out of reach.
//!
//! Owns creating the backing file (on tmpfs for an "SSD", on a disk directory for an "HDD"),
//! attaching it with `losetup --find --show --direct-io=on` (falling back to buffered loop IO
//! if direct IO is refused), and detaching and deleting on `Drop` — which also runs when a
//! test panics. [`LoopDevice::kind`] says what was obtained, so a conformance test can insist
//! on a real loop device when running as root ([`LoopDevice::require`] fails rather than
//! falling back).
//!
//! Deliberately not here: opening the device for IO (tests use [`crate::RealDevice::open`]).

use crate::error::RealError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the backing files of fixtures created by one process.
static NEXT_FIXTURE: AtomicU64 = AtomicU64::new(0);

/// Where the backing file lives, standing in for the device class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// tmpfs (`/dev/shm`): fast, stands in for the SSD.
    Tmpfs,
    /// A disk-backed directory (`/var/tmp`): stands in for the HDD.
    Disk,
}

impl Medium {
    /// The directory backing files go to (falling back to the system temp dir).
    pub fn directory(self) -> PathBuf {
        let preferred = match self {
            Medium::Tmpfs => "/dev/shm",
            Medium::Disk => "/var/tmp",
        };
        let preferred = PathBuf::from(preferred);
        if preferred.is_dir() {
            preferred
        } else {
            std::env::temp_dir()
        }
    }

    fn label(self) -> &'static str {
        match self {
            Medium::Tmpfs => "ssd",
            Medium::Disk => "hdd",
        }
    }
}

/// What to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureOptions {
    /// Size of the backing file; a multiple of `sector_size`.
    pub size_bytes: u64,
    /// Where the backing file lives.
    pub medium: Medium,
    /// Logical block size of the loop device (`losetup --sector-size`): 512 or 4096. A plain
    /// file fallback ignores it (its block size is the filesystem's direct-IO alignment).
    pub sector_size: u32,
}

impl FixtureOptions {
    /// `size_bytes` on `medium` with 512-byte sectors.
    pub fn new(size_bytes: u64, medium: Medium) -> FixtureOptions {
        FixtureOptions {
            size_bytes,
            medium,
            sector_size: 512,
        }
    }
}

/// What a fixture turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureKind {
    /// A `/dev/loopN` device.
    LoopDevice {
        /// The loop driver does direct IO to its backing file.
        direct_io: bool,
    },
    /// A regular file opened directly (not root, or no loop devices).
    PlainFile,
}

/// A loop device (or plain file) that disappears with the value.
#[derive(Debug)]
pub struct LoopDevice {
    /// What tests open: `/dev/loopN`, or the backing file itself.
    path: PathBuf,
    backing_file: PathBuf,
    kind: FixtureKind,
}

/// True when the process runs with effective uid 0 (loop devices need it).
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn fixture_error(message: String) -> RealError {
    RealError::Fixture(message)
}

fn create_backing_file(options: &FixtureOptions) -> Result<PathBuf, RealError> {
    if options.size_bytes == 0
        || !options
            .size_bytes
            .is_multiple_of(u64::from(options.sector_size.max(512)))
    {
        return Err(fixture_error(format!(
            "size {} bytes is not a positive multiple of the sector size {}",
            options.size_bytes, options.sector_size
        )));
    }
    let number = NEXT_FIXTURE.fetch_add(1, Ordering::Relaxed);
    let path = options.medium.directory().join(format!(
        "dmsim-real-{}-{number}-{}.img",
        std::process::id(),
        options.medium.label()
    ));
    let file = std::fs::File::create(&path)
        .map_err(|error| fixture_error(format!("create {}: {error}", path.display())))?;
    file.set_len(options.size_bytes)
        .map_err(|error| fixture_error(format!("size {}: {error}", path.display())))?;
    Ok(path)
}

/// Runs `losetup` with `args`; stdout on success, a message with stderr otherwise.
fn losetup(args: &[&str]) -> Result<String, String> {
    let output = Command::new("losetup")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run losetup: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!(
            "losetup {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Whether the loop driver does direct IO for `device` (sysfs `loop/dio`).
fn loop_direct_io(device: &Path) -> bool {
    let Some(name) = device.file_name() else {
        return false;
    };
    let dio = PathBuf::from("/sys/block").join(name).join("loop/dio");
    std::fs::read_to_string(dio).is_ok_and(|text| text.trim() == "1")
}

/// Attaches `backing` to a free loop device; direct IO if the backing filesystem allows it.
fn attach(backing: &Path, sector_size: u32) -> Result<(PathBuf, FixtureKind), String> {
    let backing = backing
        .to_str()
        .ok_or_else(|| format!("backing path {} is not UTF-8", backing.display()))?;
    let sector_size = sector_size.to_string();
    let with_direct_io = losetup(&[
        "--find",
        "--show",
        "--direct-io=on",
        "--sector-size",
        &sector_size,
        backing,
    ]);
    let device = match with_direct_io {
        Ok(device) => device,
        Err(first) => losetup(&["--find", "--show", "--sector-size", &sector_size, backing])
            .map_err(|second| format!("{first}; without direct IO: {second}"))?,
    };
    if !device.starts_with("/dev/") {
        return Err(format!("losetup printed {device:?}, not a device path"));
    }
    let device = PathBuf::from(device);
    let direct_io = loop_direct_io(&device);
    Ok((device, FixtureKind::LoopDevice { direct_io }))
}

/// Waits (up to 2 s) until the kernel has really let go of `device`: `losetup --detach` of a
/// device someone still has open only marks it for detaching at the last close.
fn wait_until_detached(device: &Path) {
    let Some(name) = device.file_name() else {
        return;
    };
    let backing = PathBuf::from("/sys/block")
        .join(name)
        .join("loop/backing_file");
    for _ in 0..200 {
        if !backing.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl LoopDevice {
    /// A loop device when running as root and `losetup` works; otherwise a plain file.
    pub fn create(options: FixtureOptions) -> Result<LoopDevice, RealError> {
        let backing_file = create_backing_file(&options)?;
        if running_as_root() {
            if let Ok((path, kind)) = attach(&backing_file, options.sector_size) {
                return Ok(LoopDevice {
                    path,
                    backing_file,
                    kind,
                });
            }
        }
        Ok(LoopDevice {
            path: backing_file.clone(),
            backing_file,
            kind: FixtureKind::PlainFile,
        })
    }

    /// A real loop device or an error saying why there is none (not root, no `losetup`, no
    /// free loop device…). For CI, which runs as root and must not silently fall back.
    pub fn require(options: FixtureOptions) -> Result<LoopDevice, RealError> {
        if !running_as_root() {
            return Err(fixture_error(
                "a loop device needs root (effective uid 0); run the tests as root".to_string(),
            ));
        }
        let backing_file = create_backing_file(&options)?;
        match attach(&backing_file, options.sector_size) {
            Ok((path, kind)) => Ok(LoopDevice {
                path,
                backing_file,
                kind,
            }),
            Err(message) => {
                let _ = std::fs::remove_file(&backing_file);
                Err(fixture_error(message))
            }
        }
    }

    /// What tests should use: [`LoopDevice::require`] when root (a missing loop device is a
    /// failure, not a skip), [`LoopDevice::create`]'s plain file otherwise.
    pub fn for_tests(options: FixtureOptions) -> Result<LoopDevice, RealError> {
        if running_as_root() {
            LoopDevice::require(options)
        } else {
            LoopDevice::create(options)
        }
    }

    /// Always a plain file on `options.medium` (for tests that compare a file with a loop
    /// device).
    pub fn plain_file(options: FixtureOptions) -> Result<LoopDevice, RealError> {
        let backing_file = create_backing_file(&options)?;
        Ok(LoopDevice {
            path: backing_file.clone(),
            backing_file,
            kind: FixtureKind::PlainFile,
        })
    }

    /// The path to open: `/dev/loopN`, or the plain file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file behind the device (the same as [`LoopDevice::path`] for a plain file).
    pub fn backing_file(&self) -> &Path {
        &self.backing_file
    }

    /// Loop device or plain file.
    pub fn kind(&self) -> FixtureKind {
        self.kind
    }

    /// True for a real loop device.
    pub fn is_loop_device(&self) -> bool {
        matches!(self.kind, FixtureKind::LoopDevice { .. })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if self.is_loop_device() {
            if let Some(path) = self.path.to_str() {
                // Errors cannot propagate out of Drop; a leaked loop device shows in
                // `losetup -a` with its dmsim-real backing name.
                let _ = losetup(&["--detach", path]);
                wait_until_detached(&self.path);
            }
        }
        let _ = std::fs::remove_file(&self.backing_file);
    }
}
