//! The checks that turn a finished drive into an error: the simulated devices refused an IO,
//! a real device refused one, the engine's invariants do not hold, the run deadlocked.

use crate::run_error::RunError;
use dmsim_engine::{Engine, WaitingJob};
use dmsim_real::RealPlatform;
use dmsim_sim::platform::SimPlatform;

/// An error if the engine issued an IO a simulated device refused (an engine bug).
pub fn check_sim_violations(platform: &SimPlatform) -> Result<(), RunError> {
    match platform.violations().first() {
        Some(first) => Err(RunError::DeviceViolation {
            count: platform.violations().len(),
            first: first.to_string(),
        }),
        None => Ok(()),
    }
}

/// An error if the engine's invariants do not hold at the end of a run (an engine bug).
pub fn check_engine_invariants(engine: &Engine) -> Result<(), RunError> {
    engine
        .check_invariants()
        .map_err(|violation| RunError::Invariant(violation.to_string()))
}

/// An error if a real device refused IOs (outside the window, read-only, misaligned).
pub fn check_real_refusals(platform: &mut RealPlatform) -> Result<(), RunError> {
    let errors = platform.take_errors();
    match errors.first() {
        Some(first) => Err(RunError::Platform(format!(
            "{} device IO(s) were refused; first: {first}",
            errors.len()
        ))),
        None => Ok(()),
    }
}

/// The error of a run that stalled at `end_ns` with `waiting` jobs.
pub fn deadlock(end_ns: u64, waiting: &[WaitingJob]) -> RunError {
    RunError::Deadlock {
        end_ns,
        waiting: waiting.iter().map(|w| format!("{w:?}")).collect(),
    }
}
