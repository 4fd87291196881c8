//! Opening real devices: geometry, read-only by default, the window, and refusals of devices
//! in use (held with O_EXCL, mounted). Runs on loop devices when root (and then insists on
//! them), on plain files otherwise.

use dmsim_engine::block::Op;
use dmsim_real::testing::{FixtureKind, FixtureOptions, LoopDevice, Medium};
use dmsim_real::{DeviceKind, OpenOptions, RealDevice, RealError};
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

fn fixture(size_bytes: u64, sector_size: u32) -> LoopDevice {
    let options = FixtureOptions {
        size_bytes,
        medium: Medium::Tmpfs,
        sector_size,
    };
    LoopDevice::for_tests(options).expect("loop device fixture")
}

#[test]
fn a_loop_device_is_used_when_running_as_root() {
    let device = fixture(4 * MIB, 512);
    if dmsim_real::testing::running_as_root() {
        assert!(device.is_loop_device(), "root but got {:?}", device.kind());
        assert!(device.path().starts_with("/dev/"));
    } else {
        assert_eq!(device.kind(), FixtureKind::PlainFile);
    }
    let backing = device.backing_file().to_path_buf();
    let path = device.path().to_path_buf();
    assert!(backing.exists());
    drop(device);
    assert!(!backing.exists(), "backing file survives the fixture");
    if path.starts_with("/dev/") {
        let listing = Command::new("losetup").arg("-a").output().unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            !listing.contains(backing.to_str().unwrap()),
            "loop device still attached: {listing}"
        );
    }
}

#[test]
fn geometry_of_a_512_byte_device() {
    let fixture = fixture(4 * MIB, 512);
    let device = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    assert_eq!(device.logical_block_size(), 512);
    assert_eq!(device.size_bytes(), 4 * MIB);
    let info = device.info();
    assert_eq!(info.capacity_sectors, 4 * MIB / 512);
    assert_eq!(info.logical_block_size, 512);
    info.validate().unwrap();
    match (fixture.kind(), device.kind()) {
        (FixtureKind::LoopDevice { .. }, DeviceKind::BlockDevice { major, .. }) => {
            assert_eq!(major, 7, "loop devices have major 7")
        }
        (FixtureKind::PlainFile, DeviceKind::File) => {}
        other => panic!("fixture and device disagree: {other:?}"),
    }
}

#[test]
fn geometry_of_a_4096_byte_loop_device() {
    let fixture = fixture(4 * MIB, 4096);
    if !fixture.is_loop_device() {
        return; // a plain file cannot pretend to 4 KiB sectors; root runs always get here
    }
    let device = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    assert_eq!(device.logical_block_size(), 4096);
    assert_eq!(device.info().block_sectors(), 8);
    // IO must be aligned to 8 sectors.
    let error = device.check_io(Op::Read, 4, 8).unwrap_err();
    assert!(matches!(error, RealError::Misaligned { .. }), "{error}");
    assert_eq!(device.check_io(Op::Read, 8, 8).unwrap(), 8 * 512);
    drop(device); // releases O_EXCL
                  // A window that is not block aligned is refused at open.
    let error = RealDevice::open(
        fixture.path(),
        OpenOptions {
            allow_write: false,
            range: Some((4, 64)),
        },
    )
    .unwrap_err();
    assert!(matches!(error, RealError::BadRange { .. }), "{error}");
}

#[test]
fn writes_are_refused_without_allow_write() {
    let fixture = fixture(MIB, 512);
    let device = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
    assert!(!device.allows_write());
    for op in [Op::Write, Op::Discard] {
        let error = device.check_io(op, 0, 8).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, RealError::ReadOnly { .. }), "{message}");
        assert!(message.contains("--allow-write"), "{message}");
        assert!(
            message.contains(fixture.path().to_str().unwrap()),
            "{message}"
        );
    }
    assert_eq!(device.check_io(Op::Read, 0, 8).unwrap(), 0);
    drop(device); // a block device is held O_EXCL until closed
    let writable = RealDevice::open(
        fixture.path(),
        OpenOptions {
            allow_write: true,
            range: None,
        },
    )
    .unwrap_or_else(|error| panic!("reopen for writing: {error}"));
    assert!(writable.check_io(Op::Write, 0, 8).is_ok());
}

#[test]
fn the_window_maps_sectors_and_refuses_io_outside_it() {
    let fixture = fixture(4 * MIB, 512);
    let device = RealDevice::open(
        fixture.path(),
        OpenOptions {
            allow_write: true,
            range: Some((1024, 2048)),
        },
    )
    .unwrap();
    assert_eq!(device.info().capacity_sectors, 2048);
    assert_eq!(device.range().sector, 1024);
    // Engine sector 0 is device sector 1024.
    assert_eq!(device.check_io(Op::Write, 0, 8).unwrap(), 1024 * 512);
    assert_eq!(device.check_io(Op::Write, 2040, 8).unwrap(), 3064 * 512);
    for (sector, sectors) in [(2041, 8), (2048, 1), (u64::MAX - 2, 8)] {
        let error = device.check_io(Op::Write, sector, sectors).unwrap_err();
        assert!(matches!(error, RealError::OutOfRange { .. }), "{error}");
    }
    // A window beyond the device is refused at open.
    drop(device);
    let error = RealDevice::open(
        fixture.path(),
        OpenOptions {
            allow_write: false,
            range: Some((8000, 1000)),
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("does not fit"), "{error}");
}

#[test]
fn a_device_held_exclusively_is_refused_as_busy() {
    let fixture = fixture(MIB, 512);
    if !fixture.is_loop_device() {
        return; // O_EXCL means nothing for regular files
    }
    use rustix::fs::{Mode, OFlags};
    // Retried like RealDevice::open does: a sibling test thread spawning a tool can hold a
    // claim for an instant (see device::open_exclusive).
    let holder = (0..10)
        .find_map(|_| {
            let opened = rustix::fs::open(
                fixture.path(),
                OFlags::RDONLY | OFlags::EXCL | OFlags::CLOEXEC,
                Mode::empty(),
            );
            if opened.is_err() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            opened.ok()
        })
        .expect("hold the device exclusively");
    let error = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RealError::Busy { .. }), "{message}");
    assert!(
        message.contains(fixture.path().to_str().unwrap()),
        "{message}"
    );
    drop(holder);
    RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
}

/// Unmounts on drop, so a failing test leaves nothing mounted.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn tool_exists(name: &str) -> bool {
    Command::new(name)
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.code().is_some())
}

#[test]
fn a_mounted_device_is_refused_with_its_mount_point() {
    let fixture = fixture(8 * MIB, 512);
    if !dmsim_real::testing::running_as_root() {
        // Without root there is no loop device to mount: the parser and refusal logic are
        // covered by safety's unit tests on sample mountinfo text, and O_EXCL above.
        return;
    }
    // As root (CI) this must really run: no loop device or no mkfs is a failure, not a skip.
    assert!(fixture.is_loop_device(), "root but no loop device");
    assert!(
        tool_exists("mkfs.ext2"),
        "root but no mkfs.ext2: install e2fsprogs"
    );
    let status = Command::new("mkfs.ext2")
        .args(["-q", "-F"])
        .arg(fixture.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mount_point = std::env::temp_dir().join(format!("dmsim-real-mnt-{}", std::process::id()));
    std::fs::create_dir_all(&mount_point).unwrap();
    let status = Command::new("mount")
        .arg(fixture.path())
        .arg(&mount_point)
        .status()
        .unwrap();
    assert!(status.success(), "mount failed");
    let mounted = Mounted(mount_point.clone());
    let error = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RealError::Mounted { .. }), "{message}");
    assert!(message.contains(mount_point.to_str().unwrap()), "{message}");
    assert!(message.contains("unmount it first"), "{message}");
    drop(mounted);
    RealDevice::open(fixture.path(), OpenOptions::default()).unwrap();
}

#[test]
fn paths_that_are_neither_files_nor_block_devices_are_refused() {
    let error = RealDevice::open(Path::new("/dev/null"), OpenOptions::default()).unwrap_err();
    assert!(matches!(error, RealError::NotBlockOrFile { .. }), "{error}");
    let error =
        RealDevice::open(Path::new("/nonexistent/dmsim"), OpenOptions::default()).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/dmsim"), "{error}");
}

#[test]
fn the_backing_file_of_an_attached_loop_device_is_refused() {
    let fixture = fixture(MIB, 512);
    if !fixture.is_loop_device() {
        return; // nothing is attached without root
    }
    let error = RealDevice::open(fixture.backing_file(), OpenOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RealError::Held { .. }), "{message}");
    assert!(
        message.contains(fixture.path().to_str().unwrap()),
        "{message}"
    );
}

/// Detaches a loop device on drop.
struct Attached(String);

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.0]).status();
    }
}

#[test]
fn a_block_device_backing_another_loop_device_is_refused() {
    let fixture = fixture(MIB, 512);
    if !fixture.is_loop_device() {
        return;
    }
    let output = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(fixture.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stacked = Attached(String::from_utf8_lossy(&output.stdout).trim().to_string());
    let error = RealDevice::open(fixture.path(), OpenOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, RealError::Held { .. }), "{message}");
    assert!(message.contains(&stacked.0), "{message}");
    drop(stacked);
    // Detaching is asynchronous while the stacked device is busy; retry briefly.
    let reopened = (0..100).find_map(|_| {
        let result = RealDevice::open(fixture.path(), OpenOptions::default()).ok();
        if result.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        result
    });
    assert!(
        reopened.is_some(),
        "still refused after the stacked loop device went away"
    );
}
