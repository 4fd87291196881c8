//! `dmsim explore --real` (issue 9 item 8): fault-free seeds on two loop devices (a tmpfs one
//! as the SSD, a disk one as the HDD; plain files when not root) with every read verified,
//! nothing written past what the seeds' devices have, and the refusals a user meets first.

mod cli_support;

use cli_support::dmsim;

use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The most a fault-free seed draws (explore/src/spec.rs): SSD 92.5 MiB (4.5 MiB but for
/// the large caches of one flashcache seed in eight), disk 64 MiB.
const SSD_USED_BYTES_MAX: u64 = 93 << 20;
const DISK_USED_BYTES_MAX: u64 = 64 << 20;
/// Each fixture is larger by this much; the tail must come out unchanged.
const GUARD_BYTES: u64 = 8 << 20;
const GUARD_BYTE: u8 = 0xa5;

fn fill_guard(path: &Path, from: u64) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(from)).unwrap();
    file.write_all(&vec![GUARD_BYTE; GUARD_BYTES as usize])
        .unwrap();
    file.sync_all().unwrap();
}

fn guard_intact(path: &Path, from: u64) -> bool {
    let mut file = std::fs::File::open(path).unwrap();
    file.seek(SeekFrom::Start(from)).unwrap();
    let mut tail = vec![0u8; GUARD_BYTES as usize];
    file.read_exact(&mut tail).unwrap();
    tail.iter().all(|&b| b == GUARD_BYTE)
}

#[test]
fn fault_free_seeds_on_real_devices_verify_every_read_and_stay_in_range() {
    let ssd = LoopDevice::for_tests(FixtureOptions::new(
        SSD_USED_BYTES_MAX + GUARD_BYTES,
        Medium::Tmpfs,
    ))
    .expect("SSD loop device");
    let hdd = LoopDevice::for_tests(FixtureOptions::new(
        DISK_USED_BYTES_MAX + GUARD_BYTES,
        Medium::Tmpfs,
    ))
    .expect("HDD loop device");
    fill_guard(ssd.path(), SSD_USED_BYTES_MAX);
    fill_guard(hdd.path(), DISK_USED_BYTES_MAX);
    let dir = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let out = dmsim(&[
        "explore", "--real", "--ssd-dev", ssd.path().to_str().unwrap(),
        "--hdd-dev", hdd.path().to_str().unwrap(), "--allow-write",
        "--first", "0", "--seeds", "3", "--json", "--out", dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["profile"], "fault-free");
    assert_eq!(report["seeds_run"], 3);
    assert_eq!(report["failures"], serde_json::json!([]));
    assert!(report["reads_verified"].as_u64().unwrap() > 100, "{report}");
    assert!(report["device_ios"].as_u64().unwrap() > 0, "{report}");
    assert!(
        guard_intact(ssd.path(), SSD_USED_BYTES_MAX),
        "wrote past the SSD's range"
    );
    assert!(
        guard_intact(hdd.path(), DISK_USED_BYTES_MAX),
        "wrote past the disk's range"
    );
}

#[test]
fn explore_real_refuses_what_it_cannot_do() {
    // An SSD as large as any seed's, a disk smaller than most.
    let ssd =
        LoopDevice::for_tests(FixtureOptions::new(SSD_USED_BYTES_MAX, Medium::Tmpfs)).unwrap();
    let hdd = LoopDevice::for_tests(FixtureOptions::new(8 << 20, Medium::Tmpfs)).unwrap();
    let (s, h) = (ssd.path().to_str().unwrap(), hdd.path().to_str().unwrap());
    let refused = |extra: &[&str], expected: &str| {
        let mut args = vec![
            "explore",
            "--real",
            "--ssd-dev",
            s,
            "--hdd-dev",
            h,
            "--seeds",
            "1",
        ];
        args.extend_from_slice(extra);
        let out = dmsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    };
    refused(&[], "add --allow-write");
    refused(
        &["--allow-write", "--profile", "swarm"],
        "--real runs only fault-free",
    );
    refused(&["--allow-write", "--jobs", "2"], "one seed at a time");
    #[rustfmt::skip]
    let same = dmsim(&[
        "explore", "--real", "--ssd-dev", s, "--hdd-dev", s, "--allow-write",
    ]);
    assert!(!same.status.success());
    assert!(String::from_utf8_lossy(&same.stderr).contains("the same device"));
    // Devices smaller than the seed's: the seed fails its setup, naming the device and size.
    let dir = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let small = dmsim(&[
        "explore", "--real", "--ssd-dev", s, "--hdd-dev", h, "--allow-write", "--seed", "0",
        "--json", "--out", dir.path().to_str().unwrap(),
    ]);
    assert!(!small.status.success());
    assert!(
        dir.path().join("explore-real-seed-0.json").exists(),
        "a failed real seed keeps its spec"
    );
    let report: serde_json::Value = serde_json::from_slice(&small.stdout).unwrap();
    let message = report["failures"][0]["failure"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("--hdd-dev") && message.contains("MiB"),
        "{message}"
    );
}
