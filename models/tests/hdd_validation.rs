//! DiskSim's validated drives: replay each drive's measured trace (DiskSim validate mode)
//! through the model built from its DiskSim parameters, and pin the agreement reached.
//!
//! Reached (debug or release, deterministic), against DiskSim 4.0's own figures (README in
//! `data/disksim/`):
//!
//! | drive | mean error | RMS demerit | DiskSim mean error | DiskSim demerit |
//! |---|---|---|---|---|
//! | HP C2247A | +0.09 % | 0.092 ms | +0.09 % | 0.089 ms |
//! | HP C3323A | −1.28 % | 0.296 ms | −1.22 % | 0.305 ms |
//! | HP C2490A | +0.06 % | 0.248 ms | +0.10 % | 0.254 ms |
//! | DEC RZ26 | −1.35 % | 0.438 ms | −0.75 % | 0.341 ms |
//! | Seagate ST34501N | −4.998 % | 0.332 ms | −4.84 % | 0.318 ms |
//! | Quantum Atlas 10K | −1.13 % | 0.092 ms | +2.00 % | 0.268 ms |
//!
//! The project's bar is 5 % and 0.5 ms; the pins below are the figures reached plus a
//! small margin, so a regression shows.

use dmsim_models::disksim::{import, validate, validate_with, ValidationReport, ValidationTrace};
use dmsim_models::hdd::hdd_hp_c2247a;
use std::collections::BTreeMap;
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/disksim");
const CALIBRATION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/disksim/hp_c2247a");

/// Validate `drive`, check the measured mean is the README's, and return the report.
fn validated(drive: &str, requests: u64, measured_mean_ms: f64) -> ValidationReport {
    let r = validate(&Path::new(DATA).join(drive), drive).unwrap();
    assert_eq!(r.drive, drive);
    assert_eq!(r.requests, requests);
    assert!(
        (r.mean_measured_ms - measured_mean_ms).abs() < 0.001,
        "{r:?}"
    );
    r
}

fn mean_error(r: &ValidationReport) -> f64 {
    (r.mean_sim_ms - r.mean_measured_ms) / r.mean_measured_ms
}

fn unmodelled(r: &ValidationReport) -> Vec<&str> {
    r.unmodelled.iter().map(|u| u.name.as_str()).collect()
}

#[test]
fn hp_c2247a_matches_the_measured_drive() {
    let r = validated("hp_c2247a", 9999, 15.298);
    let err = mean_error(&r);
    assert!(
        err.abs() <= 0.002,
        "mean off by {:.3} % ({r:?})",
        err * 100.0
    );
    assert!(
        r.rms_demerit_ms <= 0.11,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    // Both only matter for writes larger than a 256-sector segment; the trace has none.
    assert_eq!(
        unmodelled(&r),
        ["Hold bus entire write xfer", "Low (write) water mark"]
    );
    // The JSON the CLI prints has exactly these names.
    let json = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "drive",
            "mean_measured_ms",
            "mean_sim_ms",
            "requests",
            "rms_demerit_ms",
            "unmodelled"
        ]
    );
    let first = &json["unmodelled"][0];
    assert_eq!(first["block"], "disksim_disk HP_C2247A_validate");
    assert_eq!(first["location"], "hp_c2247a.diskspecs:7");
}

#[test]
fn hp_c3323a_matches_the_measured_drive() {
    let r = validated("hp_c3323a", 9074, 15.765);
    let err = mean_error(&r);
    assert!(err.abs() <= 0.0135, "mean off by {:.3} %", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.30,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    assert!(unmodelled(&r).is_empty(), "{:?}", r.unmodelled);
}

#[test]
fn hp_c2490a_matches_the_measured_drive() {
    let r = validated("hp_c2490a", 9984, 12.550);
    let err = mean_error(&r);
    assert!(err.abs() <= 0.001, "mean off by {:.3} %", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.255,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    assert!(unmodelled(&r).is_empty(), "{:?}", r.unmodelled);
}

#[test]
fn dec_rz26_matches_the_measured_drive() {
    let r = validated("dec_rz26", 7980, 15.809);
    let err = mean_error(&r);
    assert!(err.abs() <= 0.014, "mean off by {:.3} %", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.445,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    assert!(unmodelled(&r).is_empty(), "{:?}", r.unmodelled);
}

#[test]
fn seagate_cheetah_4lp_matches_the_measured_drive() {
    // DiskSim itself is 4.84 % short on this drive: its parameters make cache hits and
    // write-back writes faster than the drive measured.
    let r = validated("cheetah4LP", 10000, 5.328);
    let err = mean_error(&r);
    assert!(err.abs() <= 0.050, "mean off by {:.3} %", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.335,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    assert!(unmodelled(&r).is_empty(), "{:?}", r.unmodelled);
}

#[test]
fn quantum_atlas_10k_matches_the_measured_drive() {
    let r = validated("atlas10k", 10000, 3.893);
    let err = mean_error(&r);
    assert!(err.abs() <= 0.012, "mean off by {:.3} %", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.095,
        "rms demerit {} ms",
        r.rms_demerit_ms
    );
    assert!(unmodelled(&r).is_empty(), "{:?}", r.unmodelled);
}

#[test]
fn the_bundled_preset_is_the_imported_drive() {
    let imported = import(Path::new(CALIBRATION), "hp_c2247a").unwrap();
    assert_eq!(imported.params, hdd_hp_c2247a());
}

/// Each class of the trace's observed cache outcome (read hit, read miss, write with two
/// or three bus disconnects) agrees with the drive, not just the overall mean: the cache,
/// read-ahead and extra write disconnect are doing the work, not compensating errors.
#[test]
fn every_cache_outcome_class_agrees_with_the_drive() {
    let text = std::fs::read_to_string(format!("{CALIBRATION}/hp_c2247a.trace")).unwrap();
    let trace = ValidationTrace::parse("hp_c2247a.trace", &text).unwrap();
    let sim = trace.replay(&hdd_hp_c2247a()).unwrap();
    let mut classes: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
    for ((line, req), s) in text.lines().zip(&trace.requests).zip(&sim) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let c = classes.entry(format!("{} {}", f[0], f[1])).or_default();
        c.0 += 1;
        c.1 += req.measured_ns as f64;
        c.2 += *s as f64;
    }
    assert_eq!(classes.len(), 4, "{classes:?}");
    for (class, (n, measured, simulated)) in &classes {
        let err = (simulated - measured).abs() / measured;
        assert!(
            err < 0.02,
            "{class}: {n} requests, measured {:.3} ms, simulated {:.3} ms",
            measured / *n as f64 / 1e6,
            simulated / *n as f64 / 1e6
        );
    }
    // Replays are deterministic.
    assert_eq!(trace.replay(&hdd_hp_c2247a()).unwrap(), sim);
    let again = validate_with("x", &hdd_hp_c2247a(), &trace).unwrap();
    assert_eq!(
        again.mean_sim_ms,
        sim.iter().sum::<u64>() as f64 / 9999.0 / 1e6
    );
}
