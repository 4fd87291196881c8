//! A segment's clean end: `dmsetup remove` of the flashcache target (clean every dirty block
//! unless `fast_remove`, store every slot's metadata and the superblock), then a new engine
//! that reloads it. Power loss tests what a crash leaves; this tests what a clean stop keeps
//! (flashcache's `flashcache_writeback_md_store` and the clean reload).
//!
//! Oracles: in a run without faults the remove finishes within [`REMOVE_TIME_NS`] (scaled
//! by the kcopyd throttle: [`SeedSpec::remove_time_ns`]); a store
//! without write errors on an SSD no fault touched reloads exactly what it stored (the
//! dirty blocks, and after a clean shutdown every valid block); the data oracle then checks
//! every read served from the reloaded cache.

use crate::rig::{Checker, Rig};
use crate::run::{fail, summary, Failure, FailureKind};
use crate::spec::SeedSpec;
use dmsim_engine::flashcache::layout::SuperblockState;
use dmsim_engine::flashcache::{Phase, StoreOutcome};
use dmsim_engine::io::{Control, Input};
use dmsim_engine::platform::DriveObserver;
use dmsim_engine::{DriveOutcome, Engine, FlashcacheState, NoBios};

/// Virtual time a remove may take with an unthrottled kcopyd: slow removes loop every 5 s
/// while dirty blocks remain.
pub const REMOVE_TIME_NS: u64 = 60_000_000_000;
/// Virtual time a reload's setup may take (metadata reads).
const RELOAD_TIME_NS: u64 = 10_000_000_000;
/// Steps of a setup's drive (shorter than any copy a cleaning makes).
const SETTLE_STEP_NS: u64 = 20_000;
/// Inputs a remove or reload may take before it counts as running away.
const STOP_INPUTS_MAX: u64 = 2_000_000;

/// How a clean stop went.
pub enum Stop {
    /// The target stopped; the new engine has reloaded it and is running.
    Reloaded(Engine),
    /// The remove, or the reload's setup after it, could not finish (a fault blocks it):
    /// the caller decides (power loss).
    Blocked(Engine),
}

/// How a setup went (see [`settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Running, failed, or a target without setup.
    Done,
    /// A hang fault holds one of its metadata IOs: the setup waits for ever, as flashcache's
    /// constructor would (its synchronous bulk dm_io has no timeout, `ssd_timeout` or not).
    HeldByHang,
}

/// Removes the flashcache target of idle `engine`, then reloads it in a new engine.
pub fn clean_stop(
    rig: &mut Rig,
    mut engine: Engine,
    checker: &mut Checker,
    spec: &SeedSpec,
    phase: &str,
    phases: &mut Vec<String>,
) -> Result<Stop, Failure> {
    if engine.target().flashcache().is_none() {
        // Nothing to remove (linear, raid5, or a cache whose setup failed): a new engine
        // over the same devices is the whole stop.
        drop(engine);
        return restart(rig, checker, phase, phases, None);
    }
    let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    let remove = Input::Control(Control::TargetMessage("remove".to_string()));
    checker.on_input(now_ns, &remove);
    engine
        .handle(now_ns, remove)
        .map_err(|e| fail(FailureKind::Engine, phase, format!("remove refused: {e}")))?;
    let report = rig.run(
        &mut engine,
        &mut NoBios { finished: false },
        checker,
        Some(STOP_INPUTS_MAX),
        spec.remove_time_ns(),
    );
    let stop_phase = format!("{phase}: remove");
    phases.push(summary(&stop_phase, &report));
    let report = report.map_err(|e| fail(FailureKind::Engine, &stop_phase, e.to_string()))?;
    if report.outcome == DriveOutcome::InputLimit {
        return Err(fail(
            FailureKind::Liveness,
            &stop_phase,
            format!(
                "runaway: the remove took {STOP_INPUTS_MAX} inputs; last events: {}",
                checker.recent_events().join(" | ")
            ),
        ));
    }
    let fc = engine.target().flashcache().expect("checked above");
    let stored = match fc.phase() {
        Phase::Stopped(stored) => stored.clone(),
        other => {
            if spec.is_fault_free() {
                return Err(fail(
                    FailureKind::Liveness,
                    &stop_phase,
                    format!(
                        "without faults the remove did not finish: {other:?} after {:?}, \
                         {} dirty blocks",
                        report.outcome,
                        fc.gauges().nr_dirty
                    ),
                ));
            }
            return Ok(Stop::Blocked(engine));
        }
    };
    if let Some(stored) = &stored {
        check_store(fc.tunables().fast_remove, stored)
            .map_err(|message| fail(FailureKind::Engine, &stop_phase, message))?;
    }
    drop(engine);
    let ssd_untouched = spec.faults[0].is_empty();
    let trusted = stored.filter(|s| s.write_errors == 0 && ssd_untouched);
    restart(rig, checker, phase, phases, trusted.as_ref())
}

/// Runs `engine` without bios until its flashcache target is set up (running or failed),
/// in steps of `SETTLE_STEP_NS`: the caller looks at the cache as its setup left it,
/// before background cleaning moves anything (a copy takes an SSD read and a disk write,
/// each longer than a step). Other targets need no setup here. A setup that stalls is a
/// liveness failure unless a hang fault holds a device IO (then it is held, like a remove a
/// fault blocks: the segment runs on and its power loss ends it).
pub fn settle(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phase: &str,
    phases: &mut Vec<String>,
) -> Result<Settled, Failure> {
    let start_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    let mut inputs = 0;
    loop {
        let settled = !matches!(
            engine.target().flashcache_state(),
            Some(FlashcacheState::SettingUp)
        );
        let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
        if settled || now_ns >= start_ns + RELOAD_TIME_NS || inputs >= STOP_INPUTS_MAX {
            phases.push(format!(
                "{phase}: {:?} after {inputs} inputs, at {:.6} s",
                engine.target().flashcache_state(),
                now_ns as f64 / 1e9
            ));
            return Ok(Settled::Done);
        }
        let report = rig
            .run(
                engine,
                &mut NoBios { finished: false },
                checker,
                Some(STOP_INPUTS_MAX),
                SETTLE_STEP_NS,
            )
            .map_err(|e| fail(FailureKind::Engine, phase, e.to_string()))?;
        inputs += report.inputs;
        if matches!(report.outcome, DriveOutcome::Stalled { .. }) && report.inputs == 0 {
            // Nothing can move any more and the setup has not ended.
            if rig.hung_ios() > 0 {
                phases.push(format!(
                    "{phase}: held by a hang fault ({} device IOs hung) after {inputs} inputs, \
                     at {:.6} s",
                    rig.hung_ios(),
                    dmsim_engine::platform::Platform::now_ns(&rig.platform) as f64 / 1e9
                ));
                return Ok(Settled::HeldByHang);
            }
            return Err(fail(
                FailureKind::Liveness,
                phase,
                format!(
                    "the setup stalls: {:?}; last events: {}",
                    engine.target().flashcache_state(),
                    checker.recent_events().join(" | ")
                ),
            ));
        }
    }
}

/// What a store must have written: a slow remove cleans every block first.
fn check_store(fast_remove: bool, stored: &StoreOutcome) -> Result<(), String> {
    if stored.dirty_blocks > stored.valid_blocks {
        return Err(format!(
            "the store counted {} dirty of {} valid blocks",
            stored.dirty_blocks, stored.valid_blocks
        ));
    }
    // Slot writes that failed make it Unstable; the superblock's own failed write (counted
    // too, after the fact) leaves the state it was written with.
    let by_dirt = if stored.dirty_blocks == 0 {
        SuperblockState::Clean
    } else {
        SuperblockState::FastClean
    };
    let allowed = stored.superblock_state == by_dirt
        || (stored.write_errors > 0 && stored.superblock_state == SuperblockState::Unstable);
    if !allowed {
        return Err(format!(
            "the store wrote a {:?} superblock: {stored:?}",
            stored.superblock_state
        ));
    }
    if !fast_remove && stored.write_errors == 0 && stored.dirty_blocks > 0 {
        return Err(format!(
            "a slow remove stored {} dirty blocks (it cleans them all first)",
            stored.dirty_blocks
        ));
    }
    Ok(())
}

/// A new engine over the stopped devices, driven until its setup is done; with `stored`,
/// the reloaded cache must hold exactly what the store wrote. A reload a hang fault holds
/// is blocked.
fn restart(
    rig: &mut Rig,
    checker: &mut Checker,
    phase: &str,
    phases: &mut Vec<String>,
    stored: Option<&StoreOutcome>,
) -> Result<Stop, Failure> {
    rig.clean_restart(checker);
    let reload_phase = format!("{phase}: reload");
    let mut engine = rig
        .engine()
        .map_err(|e| fail(FailureKind::Setup, &reload_phase, e))?;
    if settle(rig, &mut engine, checker, &reload_phase, phases)? == Settled::HeldByHang {
        return Ok(Stop::Blocked(engine));
    }
    let Some(stored) = stored else {
        return Ok(Stop::Reloaded(engine));
    };
    let Some(fc) = engine.target().flashcache() else {
        return Err(fail(
            FailureKind::Engine,
            &reload_phase,
            format!(
                "a cache stored without errors did not reload: {:?}",
                engine.target().flashcache_state()
            ),
        ));
    };
    let gauges = fc.gauges();
    if gauges.nr_dirty != stored.dirty_blocks || gauges.cached_blocks != stored.valid_blocks {
        return Err(fail(
            FailureKind::Engine,
            &reload_phase,
            format!(
                "the reload holds {} dirty of {} cached blocks; the store wrote {} dirty of \
                 {} valid",
                gauges.nr_dirty, gauges.cached_blocks, stored.dirty_blocks, stored.valid_blocks
            ),
        ));
    }
    Ok(Stop::Reloaded(engine))
}
