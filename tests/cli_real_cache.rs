//! flashcache on two real devices through the CLI (issue: both platforms): a tmpfs-backed loop
//! device as the "SSD" and a disk-backed one as the "HDD" when root (fails, never skips, if
//! loop devices cannot be had as root), plain files otherwise. Every read is verified.

mod cli_support;

use cli_support::dmsim;

use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};

fn devices() -> (LoopDevice, LoopDevice) {
    let ssd = LoopDevice::for_tests(FixtureOptions::new(16 << 20, Medium::Tmpfs))
        .expect("SSD loop device");
    let hdd = LoopDevice::for_tests(FixtureOptions::new(256 << 20, Medium::Disk))
        .expect("HDD loop device");
    (ssd, hdd)
}

#[test]
fn flashcache_run_on_real_devices_verifies_every_read() {
    let (ssd, hdd) = devices();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    #[rustfmt::skip]
    let o = dmsim(&[
        "run", "--target", "flashcache", "--real", "--ssd-dev", ssd.path().to_str().unwrap(),
        "--hdd-dev", hdd.path().to_str().unwrap(), "--allow-write", "--mode", "writeback", "--policy", "lru",
        "--assoc", "256", "--workload", "randrw", "--qd", "8", "--requests", "3000", "--span", "32m",
        "--out", out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["requests"], 3000);
    assert_eq!(s["data_errors"], 0);
    assert_eq!(s["verified_reads"], s["latency"]["read"]["count"]);
    assert!(
        s["stats"]["write_hits"].as_u64().unwrap() > 0,
        "a 32 MiB span over a 16 MiB cache re-hits"
    );
    assert_eq!(s["config"]["platform"], "real");
}

#[test]
fn flashcache_replay_on_real_devices_and_refusals() {
    let (ssd, hdd) = devices();
    let (s, h) = (ssd.path().to_str().unwrap(), hdd.path().to_str().unwrap());
    let msr = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/bundled/traces/msr-cambridge1-sample.csv"
    );
    let o = dmsim(&[
        "replay",
        msr,
        "--real",
        "--ssd-dev",
        s,
        "--hdd-dev",
        h,
        "--fit",
        "compact",
    ]);
    assert!(!o.status.success(), "writes need --allow-write");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-write"));
    #[rustfmt::skip]
    let o = dmsim(&[
        "replay", msr, "--real", "--ssd-dev", s, "--hdd-dev", h, "--allow-write", "--fit", "compact",
        "--mode", "writethrough", "--assoc", "256", "--qd", "8", "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["requests"], 1000);
    assert_eq!(r["verified_reads"], 508);
    assert_eq!(r["data_errors"], 0);
}
