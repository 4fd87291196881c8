//! The HP C2247A calibration: replay the drive's measured trace through the model built
//! from its DiskSim parameters, and pin the agreement reached.

use dmsim_models::disksim::validate;
use std::path::Path;

const CALIBRATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/calibration/hp_c2247a"
);

#[test]
fn hp_c2247a_matches_the_measured_drive() {
    let r = validate(Path::new(CALIBRATION), "hp_c2247a").unwrap();
    eprintln!("{}", serde_json::to_string(&r).unwrap());
    assert_eq!(r.requests, 9999);
    let err = (r.mean_sim_ms - r.mean_measured_ms).abs() / r.mean_measured_ms;
    assert!(err <= 0.05, "mean off by {:.2} %", err * 100.0);
    assert!(r.rms_demerit_ms <= 0.5, "rms demerit {}", r.rms_demerit_ms);
}
