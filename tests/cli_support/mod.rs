//! Shared pieces of the tests that run the `dmsim` binary: running it, reading a run's
//! summary.json and its counters.
//!
//! Deliberately not here: the flags of a run (each test spells out the run it checks).
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the `dmsim` binary built for these tests with `args`.
pub fn dmsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dmsim"))
        .args(args)
        .output()
        .expect("dmsim runs")
}

/// The summary.json a run wrote into `dir`.
pub fn summary(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The counter `name` of a run's summary (`stats.NAME`); panics naming it when absent.
pub fn stat(summary: &serde_json::Value, name: &str) -> u64 {
    summary["stats"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.{name}"))
}
