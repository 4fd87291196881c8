//! Safety checks before dmsim touches a block device: is it, a partition of it, or anything
//! stacked on it mounted or held?
//!
//! Owns the `/proc/self/mountinfo` parser and the sysfs walk over partitions and holders.
//! The exclusive open (`O_EXCL`, which the kernel refuses for a device claimed by a mounted
//! filesystem, dm, md or swap) is the second line of defence and lives in `device`; these
//! checks come first because they can say *where* the device is mounted.
//!
//! Deliberately not here: regular files (nothing stacks on them) and the open itself.

use crate::error::RealError;
use std::path::{Path, PathBuf};

/// Where the kernel lists the mounts this process sees.
pub const MOUNTINFO_PATH: &str = "/proc/self/mountinfo";
/// sysfs directory with one `MAJOR:MINOR` link per block device.
pub const SYS_DEV_BLOCK: &str = "/sys/dev/block";

/// One line of `/proc/self/mountinfo`: the fields dmsim needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// `st_dev` of the filesystem, major part (for btrfs and similar an anonymous device).
    pub major: u32,
    /// See `major`.
    pub minor: u32,
    /// Mount point with the kernel's octal escapes (`\040` for space) decoded.
    pub mount_point: String,
    /// Filesystem type, e.g. `ext4`.
    pub fstype: String,
    /// The mount source as the filesystem reports it, e.g. `/dev/loop3`.
    pub source: String,
}

/// Decodes the kernel's `\ooo` octal escapes (space, tab, newline, backslash).
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escape = bytes.get(at + 1..at + 4);
        match escape {
            Some(digits)
                if bytes[at] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)) =>
            {
                let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                at += 4;
            }
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text (`file` names it in errors). Blank lines are skipped; any other
/// line must have the documented shape:
/// `id parent major:minor root mount_point options [optional…] - fstype source super_options`.
pub fn parse_mountinfo(text: &str, file: &Path) -> Result<Vec<MountEntry>, RealError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |reason| RealError::MountInfo {
            file: file.to_path_buf(),
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 6 {
            return Err(malformed("fewer than 6 fields before the separator"));
        }
        let (major, minor) = fields[2]
            .split_once(':')
            .ok_or_else(|| malformed("field 3 is not major:minor"))?;
        let major: u32 = major
            .parse()
            .map_err(|_| malformed("major is not a number"))?;
        let minor: u32 = minor
            .parse()
            .map_err(|_| malformed("minor is not a number"))?;
        let separator = fields[6..]
            .iter()
            .position(|&f| f == "-")
            .map(|p| p + 6)
            .ok_or_else(|| malformed("no ' - ' separator after the optional fields"))?;
        let fstype = fields
            .get(separator + 1)
            .ok_or_else(|| malformed("no filesystem type after the separator"))?;
        let source = fields
            .get(separator + 2)
            .ok_or_else(|| malformed("no mount source after the filesystem type"))?;
        entries.push(MountEntry {
            major,
            minor,
            mount_point: unescape_octal(fields[4]),
            fstype: unescape_octal(fstype),
            source: unescape_octal(source),
        });
    }
    Ok(entries)
}

/// A block device related to the one being opened: itself, a partition, or a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedDevice {
    /// Kernel name, e.g. `loop3`, `sda1`, `dm-0`.
    pub name: String,
    /// Device number, major part.
    pub major: u32,
    /// Device number, minor part.
    pub minor: u32,
    /// Itself, a partition, or a holder.
    pub relation: Relation,
}

/// How a [`RelatedDevice`] relates to the device being opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The device being opened.
    Itself,
    /// A partition of it.
    Partition,
    /// A device stacked on it or on a partition (dm, md…), directly or transitively.
    Holder,
}

fn read_system_file(file: &Path) -> Result<String, RealError> {
    std::fs::read_to_string(file).map_err(|source| RealError::SystemFile {
        file: file.to_path_buf(),
        source,
    })
}

/// Parses a sysfs `dev` file ("MAJOR:MINOR\n").
fn parse_dev_file(file: &Path) -> Result<(u32, u32), RealError> {
    let text = read_system_file(file)?;
    let bad = || RealError::SystemFile {
        file: file.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not MAJOR:MINOR"),
    };
    let (major, minor) = text.trim().split_once(':').ok_or_else(bad)?;
    Ok((
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
    ))
}

/// Sorted names in a sysfs directory; a missing directory is empty.
fn directory_names(dir: &Path) -> Result<Vec<String>, RealError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RealError::SystemFile {
                file: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RealError::SystemFile {
            file: dir.to_path_buf(),
            source,
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The device `major:minor`, its partitions and (transitively) every holder of either, read
/// from `sys_dev_block` (normally [`SYS_DEV_BLOCK`]).
pub fn related_devices(
    sys_dev_block: &Path,
    major: u32,
    minor: u32,
) -> Result<Vec<RelatedDevice>, RealError> {
    let link = sys_dev_block.join(format!("{major}:{minor}"));
    let device_dir = std::fs::canonicalize(&link).map_err(|source| RealError::SystemFile {
        file: link.clone(),
        source,
    })?;
    let name = device_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut related = vec![RelatedDevice {
        name,
        major,
        minor,
        relation: Relation::Itself,
    }];
    let mut to_visit: Vec<PathBuf> = vec![device_dir.clone()];
    for child in directory_names(&device_dir)? {
        let child_dir = device_dir.join(&child);
        if child_dir.join("partition").is_file() {
            let (major, minor) = parse_dev_file(&child_dir.join("dev"))?;
            related.push(RelatedDevice {
                name: child,
                major,
                minor,
                relation: Relation::Partition,
            });
            to_visit.push(child_dir);
        }
    }
    // Holders of holders (dm on dm, md on partitions…); sysfs has no cycles, but a bound keeps
    // a corrupt or synthetic tree from looping.
    let mut visited = 0;
    while let Some(dir) = to_visit.pop() {
        visited += 1;
        if visited > 4096 {
            break;
        }
        for holder in directory_names(&dir.join("holders"))? {
            let holder_dir =
                std::fs::canonicalize(dir.join("holders").join(&holder)).map_err(|source| {
                    RealError::SystemFile {
                        file: dir.join("holders").join(&holder),
                        source,
                    }
                })?;
            let (major, minor) = parse_dev_file(&holder_dir.join("dev"))?;
            if related.iter().any(|r| r.major == major && r.minor == minor) {
                continue;
            }
            related.push(RelatedDevice {
                name: holder,
                major,
                minor,
                relation: Relation::Holder,
            });
            to_visit.push(holder_dir);
        }
    }
    Ok(related)
}

/// Refuses a device if anything stacks on it (a holder) or if it, a partition or a holder is
/// mounted according to `mounts`. Pure: the caller supplies what sysfs and mountinfo say.
pub fn check_unused(
    path: &Path,
    related: &[RelatedDevice],
    mounts: &[MountEntry],
) -> Result<(), RealError> {
    for device in related {
        let dev_node = format!("/dev/{}", device.name);
        if let Some(mount) = mounts
            .iter()
            .find(|m| (m.major == device.major && m.minor == device.minor) || m.source == dev_node)
        {
            return Err(RealError::Mounted {
                path: path.to_path_buf(),
                mounted_device: format!("{dev_node} ({}:{})", device.major, device.minor),
                mount_point: mount.mount_point.clone(),
            });
        }
    }
    if let Some(holder) = related.iter().find(|r| r.relation == Relation::Holder) {
        return Err(RealError::Held {
            path: path.to_path_buf(),
            holder: format!("/dev/{}", holder.name),
        });
    }
    Ok(())
}

/// [`check_unused`] against this machine's sysfs and this process's mountinfo.
pub fn check_block_device_unused(path: &Path, major: u32, minor: u32) -> Result<(), RealError> {
    let related = related_devices(Path::new(SYS_DEV_BLOCK), major, minor)?;
    let mountinfo_path = Path::new(MOUNTINFO_PATH);
    let mounts = parse_mountinfo(&read_system_file(mountinfo_path)?, mountinfo_path)?;
    check_unused(path, &related, &mounts)?;
    // A loop device backed by the device (or a partition) is a user sysfs does not list as a
    // holder.
    let backing_paths: Vec<PathBuf> = related
        .iter()
        .filter(|device| device.relation != Relation::Holder)
        .map(|device| PathBuf::from(format!("/dev/{}", device.name)))
        .chain(std::fs::canonicalize(path).ok())
        .collect();
    check_not_loop_backing(path, Path::new(SYS_BLOCK), &backing_paths)
}

/// sysfs directory with one entry per block device (loop devices show their backing file).
pub const SYS_BLOCK: &str = "/sys/block";

/// Refuses `path` if a loop device listed under `sys_block` (normally [`SYS_BLOCK`]) is
/// backed by any of `backing_paths`: writing under an attached loop device corrupts what
/// its users see. Used for regular files (the file itself) and block devices.
pub fn check_not_loop_backing(
    path: &Path,
    sys_block: &Path,
    backing_paths: &[PathBuf],
) -> Result<(), RealError> {
    for name in directory_names(sys_block)? {
        let backing_file = sys_block.join(&name).join("loop/backing_file");
        let Ok(text) = std::fs::read_to_string(&backing_file) else {
            continue; // not a loop device, or not attached
        };
        // The kernel appends " (deleted)" when the backing file was unlinked.
        let backing = text.trim_end_matches('\n');
        let backing = backing.strip_suffix(" (deleted)").unwrap_or(backing);
        if backing_paths.iter().any(|p| p.as_os_str() == backing) {
            return Err(RealError::Held {
                path: path.to_path_buf(),
                holder: format!("/dev/{name} (a loop device backed by it)"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
42 25 7:3 / /mnt/with\\040space rw,relatime shared:30 master:2 - ext2 /dev/loop3 rw
43 25 0:45 /sub /data rw - btrfs /dev/sdb1 rw,space_cache
";

    fn mounts() -> Vec<MountEntry> {
        parse_mountinfo(SAMPLE, Path::new("sample")).unwrap()
    }

    fn related(name: &str, major: u32, minor: u32, relation: Relation) -> RelatedDevice {
        RelatedDevice {
            name: name.to_string(),
            major,
            minor,
            relation,
        }
    }

    #[test]
    fn mountinfo_fields_are_parsed_with_optional_fields_and_escapes() {
        let mounts = mounts();
        assert_eq!(mounts.len(), 4);
        assert_eq!(
            mounts[2],
            MountEntry {
                major: 7,
                minor: 3,
                mount_point: "/mnt/with space".to_string(),
                fstype: "ext2".to_string(),
                source: "/dev/loop3".to_string(),
            }
        );
        assert_eq!(mounts[3].source, "/dev/sdb1");
        assert_eq!((mounts[1].major, mounts[1].minor), (259, 2));
    }

    #[test]
    fn malformed_mountinfo_names_file_and_line() {
        let text = "25 1 259:2 / / rw - ext4 /dev/x rw\n26 1 nonsense / /a rw - ext4 /dev/y rw\n";
        let error = parse_mountinfo(text, Path::new("/proc/self/mountinfo")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/proc/self/mountinfo:2"), "{message}");
        let no_separator = "25 1 8:0 / / rw shared:1 ext4 /dev/x rw\n";
        assert!(parse_mountinfo(no_separator, Path::new("m")).is_err());
    }

    #[test]
    fn a_mounted_device_or_partition_is_refused_by_number_or_source() {
        let mounts = mounts();
        let path = Path::new("/dev/loop3");
        let error =
            check_unused(path, &[related("loop3", 7, 3, Relation::Itself)], &mounts).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/mnt/with space"), "{message}");
        assert!(message.contains("unmount it first"), "{message}");
        // btrfs reports an anonymous device number: the source still gives it away.
        let disk = [
            related("sdb", 8, 16, Relation::Itself),
            related("sdb1", 8, 17, Relation::Partition),
        ];
        let error = check_unused(Path::new("/dev/sdb"), &disk, &mounts).unwrap_err();
        assert!(
            matches!(error, RealError::Mounted { ref mount_point, .. } if mount_point == "/data")
        );
        // An unmounted device passes.
        check_unused(
            Path::new("/dev/loop4"),
            &[related("loop4", 7, 4, Relation::Itself)],
            &mounts,
        )
        .unwrap();
    }

    #[test]
    fn a_device_with_a_holder_is_refused_even_if_nothing_is_mounted() {
        let chain = [
            related("loop5", 7, 5, Relation::Itself),
            related("dm-0", 252, 0, Relation::Holder),
        ];
        let error = check_unused(Path::new("/dev/loop5"), &chain, &mounts()).unwrap_err();
        assert!(
            error.to_string().contains("remove /dev/dm-0 first"),
            "{error}"
        );
    }

    #[test]
    fn a_loop_device_backed_by_the_path_is_refused() {
        let sys = tempfile::tempdir().unwrap();
        for (name, backing) in [
            ("loop0", "/var/tmp/a.img\n"),
            ("loop1", "/dev/sdb1 (deleted)\n"),
        ] {
            let dir = sys.path().join(name).join("loop");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("backing_file"), backing).unwrap();
        }
        std::fs::create_dir_all(sys.path().join("sda")).unwrap();
        let file = Path::new("/var/tmp/a.img");
        let error = check_not_loop_backing(file, sys.path(), &[file.to_path_buf()]).unwrap_err();
        assert!(error.to_string().contains("/dev/loop0"), "{error}");
        let disk = [PathBuf::from("/dev/sdb"), PathBuf::from("/dev/sdb1")];
        let error = check_not_loop_backing(Path::new("/dev/sdb"), sys.path(), &disk).unwrap_err();
        assert!(error.to_string().contains("/dev/loop1"), "{error}");
        check_not_loop_backing(
            Path::new("/dev/sdc"),
            sys.path(),
            &[PathBuf::from("/dev/sdc")],
        )
        .unwrap();
    }

    #[test]
    fn octal_unescape_leaves_plain_backslashes() {
        assert_eq!(unescape_octal("a\\134b"), "a\\b");
        assert_eq!(unescape_octal("a\\9b"), "a\\9b");
        assert_eq!(unescape_octal("tab\\011x"), "tab\tx");
    }
}
