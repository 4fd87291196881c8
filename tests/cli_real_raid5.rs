//! md raid5 over real devices through the CLI (issue 10 item 5): `run --real --raid-dev
//! A,B,C,D` under linear and as flashcache's disk, on loop devices created here as root
//! (detached and deleted afterwards; a missing loop device as root fails, never skips) or
//! plain files otherwise. Every read is verified; a member fails mid-run and the run goes on
//! degraded; members holding inconsistent parity are resynced first; nothing outside the
//! rows the span needs is touched; bad members are refused naming the device.

mod cli_support;

use cli_support::{dmsim, summary};

use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use std::io::{Read, Seek, SeekFrom, Write};

fn members(count: usize, bytes: u64) -> Vec<LoopDevice> {
    (0..count)
        .map(|_| {
            LoopDevice::for_tests(FixtureOptions::new(bytes, Medium::Tmpfs))
                .expect("a loop device (run as root) or a file")
        })
        .collect()
}

fn list(devices: &[LoopDevice]) -> String {
    devices
        .iter()
        .map(|d| d.path().to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Fills member `index` with the byte `index + 1`: no row's parity is the XOR of its data.
fn fill_inconsistently(devices: &[LoopDevice]) {
    for (index, device) in devices.iter().enumerate() {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(device.path())
            .unwrap();
        let size = file.seek(SeekFrom::End(0)).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(&vec![index as u8 + 1; size as usize])
            .unwrap();
        file.sync_all().unwrap();
    }
}

fn stat(s: &serde_json::Value, name: &str) -> u64 {
    s["stats"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.{name}: {}", s["stats"]))
}

#[test]
fn linear_on_real_members_resyncs_verifies_every_read_and_survives_a_member_failure() {
    let devices = members(4, 16 << 20);
    fill_inconsistently(&devices);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--real", "--target", "linear", "--raid-dev", &list(&devices), "--chunk", "64k",
        "--allow-write", "--workload", "randrw", "--qd", "8", "--requests", "3000",
        "--span", "12m", "--raid5-fail", "1@1500io", "--out", out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[4/3] [U_UU]"), "{stdout}");
    assert!(stdout.contains("initial resync"), "{stdout}");
    let s = summary(&out);
    assert_eq!(s["config"]["platform"], "real");
    assert_eq!(s["requests"], 3000);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(s["verified_reads"], s["latency"]["read"]["count"]);
    // 12 MiB over 3 data members of 64 KiB chunks: 64 rows, 4 MiB of each member, whose
    // every parity page disagreed with the bytes left on the members.
    let resync = &s["config"]["raid5"]["initial_resync"];
    assert_eq!(resync["stripes"], 1024, "{resync}");
    assert_eq!(resync["mismatch_cnt"], 1024 * 8, "{resync}");
    assert_eq!(s["config"]["raid5"]["state"], "degraded");
    assert_eq!(s["config"]["raid5"]["fail"][0]["member"], 1);
    assert_eq!(stat(&s, "raid5.degraded"), 1);
    assert!(stat(&s, "raid5.reconstructions") > 0);
    assert!(stat(&s, "raid5.rmw") + stat(&s, "raid5.rcw") > 0);
}

#[test]
fn a_real_spare_replaces_a_failed_member_and_is_rebuilt_under_io() {
    let devices = members(5, 8 << 20);
    let (array, spare) = devices.split_at(4);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--real", "--target", "linear", "--raid-dev", &list(array),
        "--raid-spare-dev", &list(spare), "--chunk", "64k", "--allow-write", "--assume-clean",
        "--workload", "randrw", "--qd", "4", "--requests", "8000", "--span", "6m",
        "--raid5-fail", "1@1500io", "--raid5-spare", "2000io", "--out", out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The spare (dev4) holds role 1 and the array is whole again.
    assert!(
        stdout.contains("dev4[1]") && stdout.contains("[4/4] [UUUU]"),
        "{stdout}"
    );
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(s["verified_reads"], s["latency"]["read"]["count"]);
    let raid = &s["config"]["raid5"];
    assert_eq!(raid["spare"][0]["after_requests"], 2000, "{raid}");
    assert_eq!(
        raid["spare_devices"][0],
        spare[0].path().to_str().unwrap(),
        "{raid}"
    );
    assert_eq!(stat(&s, "raid5.recoveries"), 1);
    // 6 MiB over 3 data members: 2 MiB of each member rebuilt, 512 stripes.
    assert_eq!(stat(&s, "raid5.recovery_stripes"), 512);
    assert!(stat(&s, "raid5.recovery_duration_ns") > 0);
    // The rebuild's progress is in the time series.
    let done = s["time_series"]["sync_done_sectors"].as_array().unwrap();
    assert!(done.iter().any(|d| d.as_u64().unwrap() > 0), "{done:?}");
    // The spare's bytes are the failed member's data: every stripe's parity checks out on
    // the array as it is now, member 1 replaced by the spare.
    let backing: Vec<Vec<u8>> = [&array[0], &spare[0], &array[2], &array[3]]
        .iter()
        .map(|d| {
            let mut bytes = vec![0u8; 2 << 20];
            std::fs::File::open(d.path())
                .unwrap()
                .read_exact(&mut bytes)
                .unwrap();
            bytes
        })
        .collect();
    for offset in 0..(2 << 20) {
        let xor = backing.iter().fold(0u8, |acc, member| acc ^ member[offset]);
        assert_eq!(xor, 0, "byte {offset} of the rebuilt array's rows");
    }
}

#[test]
fn nothing_past_the_rows_the_span_needs_is_touched() {
    let devices = members(3, 4 << 20);
    fill_inconsistently(&devices);
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--real", "--target", "linear", "--raid-dev", &list(&devices), "--chunk", "16k",
        "--allow-write", "--workload", "randwrite", "--qd", "4", "--requests", "2000",
        "--span", "1m", "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["config"]["raid5"]["initial_resync"]["stripes"], 128);
    // 1 MiB over 2 data members: the first 512 KiB of each member, and not a byte more.
    for (index, device) in devices.iter().enumerate() {
        let mut bytes = Vec::new();
        std::fs::File::open(device.path())
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        let window = 512 << 10;
        assert!(
            bytes[..window].iter().any(|&b| b != index as u8 + 1),
            "member {index} was written"
        );
        assert!(
            bytes[window..].iter().all(|&b| b == index as u8 + 1),
            "member {index} was written past its window"
        );
    }
}

#[test]
fn flashcache_on_a_real_array_verifies_every_read() {
    let devices = members(4, 8 << 20);
    let ssd = LoopDevice::for_tests(FixtureOptions::new(8 << 20, Medium::Tmpfs))
        .expect("SSD loop device");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Fresh members read as zeros, whose parity is consistent: no resync needed.
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--real", "--target", "flashcache", "--ssd-dev", ssd.path().to_str().unwrap(),
        "--raid-dev", &list(&devices), "--chunk", "16k", "--assume-clean", "--allow-write",
        "--cache-size", "4m", "--assoc", "256", "--workload", "randrw", "--qd", "8",
        "--requests", "3000", "--span", "12m", "--out", out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[4/4] [UUUU]"), "{stdout}");
    let s = summary(&out);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(s["verified_reads"], s["latency"]["read"]["count"]);
    assert_eq!(s["config"]["raid5"]["assume_clean"], true);
    assert!(s["config"]["raid5"]["initial_resync"].is_null());
    assert!(
        stat(&s, "write_hits") > 0,
        "a 12 MiB span over a 4 MiB cache re-hits"
    );
    assert!(
        stat(&s, "raid5.writes") > 0,
        "the cache cleaned onto the array"
    );
    // Every stripe write puts data and parity on two members at least.
    let stripe_writes =
        stat(&s, "raid5.rmw") + stat(&s, "raid5.rcw") + stat(&s, "raid5.full_stripe_writes");
    assert!(stripe_writes > 0);
    assert!(stat(&s, "raid5.member_writes") >= 2 * stripe_writes);
    // The SSD and the four members are the devices.
    assert_eq!(s["devices"].as_array().map(Vec::len), Some(5));
}

#[test]
fn bad_members_are_refused_naming_the_device() {
    let devices = members(4, 4 << 20);
    let small = LoopDevice::for_tests(FixtureOptions::new(2 << 20, Medium::Tmpfs)).unwrap();
    let path = |d: &LoopDevice| d.path().to_str().unwrap().to_string();
    let run = |raid: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--real",
            "--target",
            "linear",
            "--raid-dev",
            raid,
            "--requests",
            "10",
        ];
        args.extend_from_slice(extra);
        let o = dmsim(&args);
        assert!(!o.status.success(), "{raid} {extra:?} was accepted");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = run(&list(&devices), &[]);
    assert!(
        e.contains("--allow-write") && e.contains(&path(&devices[3])),
        "{e}"
    );
    let mixed = format!("{},{}", list(&devices[..3]), path(&small));
    let e = run(&mixed, &["--allow-write"]);
    assert!(
        e.contains("differ in size") && e.contains(&path(&small)),
        "{e}"
    );
    // With a span needing more than the small member has, the small one is named.
    let e = run(&mixed, &["--allow-write", "--span", "9m"]);
    assert!(e.contains(&path(&small)) && e.contains("--raid-dev"), "{e}");
    let twice = format!("{},{}", list(&devices[..3]), path(&devices[0]));
    let e = run(&twice, &["--allow-write"]);
    assert!(e.contains("same device or file"), "{e}");
    let e = run(&list(&devices[..2]), &["--allow-write"]);
    assert!(e.contains("3 to 16 members"), "{e}");
    let o = dmsim(&[
        "run",
        "--real",
        "--hdd-raid5",
        "4xram",
        "--dev",
        &path(&devices[0]),
        "--requests",
        "10",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--raid-dev"));
    // Spares: one per --raid5-spare, of the members' size.
    let e = run(
        &list(&devices[..3]),
        &["--allow-write", "--raid-spare-dev", &path(&devices[3])],
    );
    assert!(
        e.contains("0 --raid5-spare event(s) for 1 --raid-spare-dev"),
        "{e}"
    );
    let e = run(
        &list(&devices[..3]),
        &[
            "--allow-write",
            "--raid-spare-dev",
            &path(&small),
            "--raid5-spare",
            "5io",
        ],
    );
    assert!(
        e.contains("--raid-spare-dev") && e.contains(&path(&small)),
        "{e}"
    );
    // The SSD cannot be a member too.
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--real", "--target", "flashcache", "--ssd-dev", &path(&devices[1]),
        "--raid-dev", &list(&devices[..3]), "--allow-write", "--requests", "10",
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("also --ssd-dev") && e.contains(&path(&devices[1])),
        "{e}"
    );
}
