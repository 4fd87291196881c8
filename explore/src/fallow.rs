//! Fallow cleaning as a liveness oracle. With option `fallow_timer` (Decision 7) a pass
//! over every set runs each `fallow_delay`: a dirty block idle for one pass becomes
//! DIRTY_FALLOW_1, for two DIRTY_FALLOW_2, and then is cleaned, as many per pass as the
//! cleaning limits allow (at least one: nothing else is being cleaned while idle). So a
//! fault-free writeback cache left idle for (dirty blocks + 3) passes holds no dirty block,
//! whatever its dirty threshold: no `do_sync` needed.
//!
//! Deliberately not here: the threshold itself. A set may legitimately stay above
//! `dirty_thresh` when idle (a write's block turns dirty after the write's own cleaning
//! check), so "no set above the threshold" is no oracle.

use crate::rig::{Checker, Rig};
use crate::run::{fail, summary, Failure, FailureKind};
use crate::spec::{SeedSpec, TargetChoice};
use dmsim_engine::flashcache::CacheMode;
use dmsim_engine::{Engine, NoBios};

const NS_PER_SEC: u64 = 1_000_000_000;
/// Inputs the idle wait may take (a pass is a tick and a few cleanings).
const IDLE_INPUTS_MAX: u64 = 5_000_000;

/// The fallow delay of a fault-free writeback `spec` with the fallow timer, in seconds.
fn fallow_timer_secs(spec: &SeedSpec) -> Option<u64> {
    let TargetChoice::Flashcache(config) = &spec.target else {
        return None;
    };
    let on = spec.is_fault_free()
        && config.table.mode == CacheMode::WriteBack
        && config.options.fallow_timer;
    on.then_some(u64::from(config.tunables.fallow_delay_secs?))
}

/// Leaves the idle `engine` alone until its fallow passes must have cleaned every dirty
/// block, then checks they did.
pub fn check_fallow_cleaning(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    spec: &SeedSpec,
    phases: &mut Vec<String>,
) -> Result<(), Failure> {
    let phase = "liveness: fallow";
    let Some(delay_secs) = fallow_timer_secs(spec) else {
        return Ok(());
    };
    let dirty = |engine: &Engine| {
        engine
            .target()
            .flashcache()
            .map_or(0, |fc| fc.gauges().nr_dirty)
    };
    let before = dirty(engine);
    if before == 0 || !engine.is_idle() || delay_secs == 0 {
        return Ok(());
    }
    // One pass every delay + 1 ns; a margin of a second per pass.
    let bound_ns = (before + 3) * (delay_secs + 1) * NS_PER_SEC;
    let report = rig.run(
        engine,
        &mut NoBios { finished: false },
        checker,
        Some(IDLE_INPUTS_MAX),
        bound_ns,
    );
    phases.push(summary(phase, &report));
    report.map_err(|e| fail(FailureKind::Engine, phase, e.to_string()))?;
    let left = dirty(engine);
    if left > 0 {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!(
                "{left} of {before} dirty blocks left after {:.1} s idle with the fallow timer \
                 every {delay_secs} s",
                bound_ns as f64 / 1e9
            ),
        ));
    }
    Ok(())
}
