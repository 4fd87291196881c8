//! The HP C2247A calibration: replay the drive's measured trace (DiskSim validate mode)
//! through the model built from its DiskSim parameters, and pin the agreement reached.
//!
//! Reached (debug or release, deterministic): simulated mean 15.311 ms against 15.298 ms
//! measured (0.09 %), RMS CDF demerit 0.092 ms. DiskSim 4.0 itself: 0.1 %, 0.089 ms.
//! The bar set for this project is 5 % and 0.5 ms; the pins below are the figures reached
//! plus a small margin, so a regression shows.

use dmsim_models::disksim::{import, validate, validate_with, ValidationTrace};
use dmsim_models::hdd::hdd_hp_c2247a;
use std::collections::BTreeMap;
use std::path::Path;

const CALIBRATION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/disksim/hp_c2247a");

#[test]
fn hp_c2247a_matches_the_measured_drive() {
    let r = validate(Path::new(CALIBRATION), "hp_c2247a").unwrap();
    assert_eq!(r.drive, "hp_c2247a");
    assert_eq!(r.requests, 9999);
    assert!((r.mean_measured_ms - 15.298).abs() < 0.001);
    let err = (r.mean_sim_ms - r.mean_measured_ms).abs() / r.mean_measured_ms;
    assert!(err <= 0.002, "mean off by {:.3} % ({r:?})", err * 100.0);
    assert!(
        r.rms_demerit_ms <= 0.11,
        "rms demerit {} ms",
        r.rms_demerit_ms
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
