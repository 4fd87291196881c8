//! The boundary between the engine and the world: the [`Platform`] trait (devices and time),
//! the [`BioSource`] trait (the workload) and [`drive`], the loop that runs an engine on a
//! platform with a workload until the workload is done and the engine idle.
//!
//! The same loop serves a virtual-time simulator (where `wait` advances the virtual clock to
//! the next event or the deadline) and a real platform (where `wait` blocks on io_uring until
//! a completion or the deadline).
//!
//! Deliberately not here: how a platform carries out IO, and what the workload is.

use crate::arena::Arena;
use crate::block::{DeviceId, Extent};
use crate::engine::Engine;
use crate::error::{Anomaly, InputError, InvariantViolation, WaitingJob};
use crate::io::{Bio, BioDone, DeviceIo, Input, IoTag, Output};

/// Devices and a clock.
pub trait Platform {
    /// The current time in nanoseconds (virtual in simulation, monotonic on real devices).
    fn now_ns(&self) -> u64;

    /// Starts `io`. Write data is read from `arena` (at submission or any time before the
    /// completion: the engine does not touch the buffer meanwhile); read data is written into
    /// `arena` before the completion is delivered. Exactly one completion must follow.
    fn submit(&mut self, io: DeviceIo, arena: &mut Arena);

    /// Tries to cancel an IO; its completion still follows (`Cancelled` if it worked).
    fn cancel(&mut self, tag: IoTag);

    /// Waits until at least one input is available, or the time reaches `deadline_ns`, or
    /// — with no deadline — nothing is pending on the platform (return at once with no
    /// input). Appends the inputs (completions, and any control the platform injects) to
    /// `inputs`; they are handled at [`Platform::now_ns`] after the call, in order. A
    /// simulator advances its clock to the first pending event not after the deadline (or
    /// to the deadline), delivering the events of that one instant.
    fn wait(&mut self, deadline_ns: Option<u64>, arena: &mut Arena, inputs: &mut Vec<Input>);

    /// True if no input can ever arrive unless the engine submits something: a simulator
    /// with no pending event (a hung simulated IO included), a real platform with no IO in
    /// flight. [`drive`] then reports a stall instead of waiting for its time limit.
    fn is_quiescent(&self) -> bool;
}

/// The workload: bios with arrival times, open or closed loop.
pub trait BioSource {
    /// When the next bio arrives, if one is known now (a closed loop returns `None` while it
    /// waits for completions; an exhausted source returns `None`).
    fn next_arrival_ns(&mut self) -> Option<u64>;

    /// Takes the bio announced by [`BioSource::next_arrival_ns`]; called once its time has
    /// come, with the current time.
    fn take_bio(&mut self, now_ns: u64) -> Bio;

    /// A bio finished.
    fn on_done(&mut self, now_ns: u64, done: BioDone);

    /// No bio will ever come again (the run may end once the engine is idle).
    fn is_finished(&self) -> bool;
}

/// A workload of no bios: the drive runs the engine's own work (setup, a remove, a sync
/// pass, cleaning timers). `finished: true` ends the run once the engine is idle;
/// `finished: false` never finishes, so the drive goes on until nothing can happen any more
/// and reports a stall (a remove's settle delay runs to its end).
#[derive(Debug, Clone, Copy)]
pub struct NoBios {
    pub finished: bool,
}

impl BioSource for NoBios {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        None
    }
    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        unreachable!("NoBios announces no bio")
    }
    fn on_done(&mut self, _now_ns: u64, _done: BioDone) {}
    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Sees everything that crosses the engine boundary (recorders, oracles, traces).
pub trait DriveObserver {
    /// An input about to be handled.
    fn on_input(&mut self, _now_ns: u64, _input: &Input) {}
    /// An output about to be acted on (`BioDone` is also given to the source,
    /// `ContentsUnknown` only here).
    fn on_output(&mut self, _now_ns: u64, _output: &Output) {}
    /// A write range's content became unknown (see [`Output::ContentsUnknown`]).
    fn on_contents_unknown(&mut self, _now_ns: u64, _device: DeviceId, _extent: Extent) {}
    /// An input was handled (and the invariants checked, if asked): the engine may be looked
    /// at mid-run, e.g. a status that exists only while work runs.
    fn after_input(&mut self, _now_ns: u64, _engine: &Engine) {}
}

/// An observer that looks at nothing.
impl DriveObserver for () {}

/// Limits and checks of a [`drive`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriveOptions {
    /// Run `Engine::check_invariants_incremental` after every input (tests do); the end of
    /// a run checks fully whatever this says (see [`drive`]).
    pub check_invariants: bool,
    /// Stop when the time reaches this.
    pub time_limit_ns: Option<u64>,
    /// Stop after this many inputs.
    pub input_limit: Option<u64>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveOutcome {
    /// The source is finished and the engine idle.
    Finished,
    /// The time limit was reached.
    TimeLimit,
    /// The input limit was reached.
    InputLimit,
    /// Nothing can happen any more, but the engine or the source still wait: a deadlock.
    Stalled { waiting: Vec<WaitingJob> },
}

/// What a [`drive`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveReport {
    pub outcome: DriveOutcome,
    pub end_ns: u64,
    pub inputs: u64,
    pub bios_submitted: u64,
    pub bios_done: u64,
}

/// Why a [`drive`] run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    #[error("at {now_ns} ns the engine refused an input: {error}")]
    Input { now_ns: u64, error: InputError },
    #[error(
        "the engine recorded {} anomal{} (engine bugs), first: {}",
        anomalies.len(),
        if anomalies.len() == 1 { "y" } else { "ies" },
        anomalies[0]
    )]
    /// The run went on, but a component broke a calling obligation (see
    /// [`crate::AnomalyPolicy::Record`]); the run's report is kept.
    Anomalies {
        anomalies: Vec<Anomaly>,
        report: Box<DriveReport>,
    },
    #[error("at {now_ns} ns after input {inputs}: {violation}")]
    Invariant {
        now_ns: u64,
        inputs: u64,
        violation: InvariantViolation,
    },
}

/// Runs `engine` on `platform` with `source` until the source is finished and the engine
/// idle, a limit is reached, or nothing can move any more (reported as
/// [`DriveOutcome::Stalled`] with the waiting jobs).
///
/// Order at one instant: outputs are flushed first, then due bios are issued (one at a
/// time), then a due tick, then the platform is waited on.
///
/// A run during which the engine recorded anomalies ([`crate::AnomalyPolicy::Record`]) ends
/// in [`DriveError::Anomalies`], whatever its outcome.
///
/// Whatever [`DriveOptions::check_invariants`] says, the engine's invariants are checked once
/// when the run finishes or stalls, so a run never reports success over a broken engine. Not
/// at a time or input limit: callers that drive in slices would pay the check (linear in the
/// cache's blocks) once per slice.
pub fn drive<P: Platform, S: BioSource, O: DriveObserver>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    observer: &mut O,
    options: &DriveOptions,
) -> Result<DriveReport, DriveError> {
    let mut buffers = DriveBuffers::default();
    drive_with_buffers(engine, platform, source, observer, options, &mut buffers)
}

/// What [`drive`] needs room for between two waits, kept by a caller that drives in slices
/// so that a slice allocates nothing once the first ones have grown it (issue 11).
#[derive(Debug, Default)]
pub struct DriveBuffers {
    inputs: Vec<Input>,
}

/// [`drive`], with its room in `buffers`.
pub fn drive_with_buffers<P: Platform, S: BioSource, O: DriveObserver>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    observer: &mut O,
    options: &DriveOptions,
    buffers: &mut DriveBuffers,
) -> Result<DriveReport, DriveError> {
    buffers.inputs.clear();
    let report = drive_until_done(
        engine,
        platform,
        source,
        observer,
        options,
        &mut buffers.inputs,
    )?;
    // Anomalies first: they also break the invariants, and their error keeps the report.
    if !engine.anomalies().is_empty() {
        return Err(DriveError::Anomalies {
            anomalies: engine.anomalies().to_vec(),
            report: Box::new(report),
        });
    }
    if matches!(
        report.outcome,
        DriveOutcome::Finished | DriveOutcome::Stalled { .. }
    ) {
        engine
            .check_invariants()
            .map_err(|violation| DriveError::Invariant {
                now_ns: report.end_ns,
                inputs: report.inputs,
                violation,
            })?;
    }
    Ok(report)
}

fn drive_until_done<P: Platform, S: BioSource, O: DriveObserver>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    observer: &mut O,
    options: &DriveOptions,
    inputs: &mut Vec<Input>,
) -> Result<DriveReport, DriveError> {
    let mut report = DriveReport {
        outcome: DriveOutcome::Finished,
        end_ns: platform.now_ns(),
        inputs: 0,
        bios_submitted: 0,
        bios_done: 0,
    };
    loop {
        flush_outputs(engine, platform, source, observer, &mut report);
        let now_ns = platform.now_ns();
        report.end_ns = now_ns;
        if options.time_limit_ns.is_some_and(|limit| now_ns >= limit) {
            report.outcome = DriveOutcome::TimeLimit;
            return Ok(report);
        }
        if options
            .input_limit
            .is_some_and(|limit| report.inputs >= limit)
        {
            report.outcome = DriveOutcome::InputLimit;
            return Ok(report);
        }
        let arrival = source.next_arrival_ns();
        if arrival.is_some_and(|at| at <= now_ns) {
            let bio = source.take_bio(now_ns);
            report.bios_submitted += 1;
            feed(
                engine,
                observer,
                now_ns,
                Input::Bio(bio),
                options,
                &mut report,
            )?;
            continue;
        }
        let deadline = engine.poll_deadline();
        if deadline.is_some_and(|at| at <= now_ns) {
            feed(engine, observer, now_ns, Input::Tick, options, &mut report)?;
            continue;
        }
        if source.is_finished() && engine.is_idle() {
            report.outcome = DriveOutcome::Finished;
            return Ok(report);
        }
        let must_wake = [arrival, deadline].into_iter().flatten().min();
        let stalled = must_wake.is_none() && platform.is_quiescent();
        let wake = [must_wake, options.time_limit_ns]
            .into_iter()
            .flatten()
            .min();
        if !stalled {
            inputs.clear();
            platform.wait(wake, engine.arena_mut(), inputs);
        }
        if stalled || (inputs.is_empty() && wake.is_none()) {
            // Nothing pending anywhere, yet work remains: nothing will ever move it.
            let mut waiting = engine.waiting_report();
            if !source.is_finished() {
                waiting.push(WaitingJob {
                    component: "workload",
                    description: "the bio source is not finished but announces no bio".to_string(),
                });
            }
            report.outcome = DriveOutcome::Stalled { waiting };
            return Ok(report);
        }
        let now_ns = platform.now_ns();
        for input in inputs.drain(..) {
            feed(engine, observer, now_ns, input, options, &mut report)?;
            flush_outputs(engine, platform, source, observer, &mut report);
        }
    }
}

fn feed<O: DriveObserver>(
    engine: &mut Engine,
    observer: &mut O,
    now_ns: u64,
    input: Input,
    options: &DriveOptions,
    report: &mut DriveReport,
) -> Result<(), DriveError> {
    observer.on_input(now_ns, &input);
    engine
        .handle(now_ns, input)
        .map_err(|error| DriveError::Input { now_ns, error })?;
    report.inputs += 1;
    if options.check_invariants {
        engine
            .check_invariants_incremental()
            .map_err(|violation| DriveError::Invariant {
                now_ns,
                inputs: report.inputs,
                violation,
            })?;
    }
    observer.after_input(now_ns, engine);
    Ok(())
}

fn flush_outputs<P: Platform, S: BioSource, O: DriveObserver>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut S,
    observer: &mut O,
    report: &mut DriveReport,
) {
    while let Some(output) = engine.poll_output() {
        let now_ns = platform.now_ns();
        observer.on_output(now_ns, &output);
        match output {
            Output::Submit(io) => platform.submit(io, engine.arena_mut()),
            Output::Cancel(tag) => platform.cancel(tag),
            Output::BioDone(done) => {
                report.bios_done += 1;
                source.on_done(now_ns, done);
            }
            Output::ContentsUnknown { device, extent } => {
                observer.on_contents_unknown(now_ns, device, extent)
            }
        }
    }
}

#[cfg(test)]
mod anomaly_tests {
    use super::*;
    use crate::block::{DeviceId, DeviceInfo};
    use crate::config::{AnomalyPolicy, EngineConfig};
    use crate::flashcache::{CacheMode, FlashcacheConfig, Persistence, TableLine};
    use crate::io::{DeviceIo, IoTag};
    use crate::Arena;
    use crate::TargetSpec;

    const DISK_SECTORS: u64 = 1 << 16;

    /// A writethrough cache: ready at once, no setup IO.
    fn writethrough_engine(anomalies: AnomalyPolicy) -> Engine {
        let table = TableLine::new(CacheMode::WriteThrough, Persistence::Create, DISK_SECTORS);
        Engine::new(
            EngineConfig {
                arena_pages: 2048,
                anomalies,
                ..EngineConfig::default()
            },
            vec![
                DeviceInfo::new(1 << 14, 512),
                DeviceInfo::new(DISK_SECTORS, 512),
            ],
            TargetSpec::flashcache(DeviceId(0), DeviceId(1), FlashcacheConfig::new(table)),
        )
        .expect("valid engine")
    }

    /// Devices that never see IO (the run below has no bio).
    struct NoDevices;
    impl Platform for NoDevices {
        fn now_ns(&self) -> u64 {
            0
        }
        fn submit(&mut self, io: DeviceIo, _: &mut Arena) {
            panic!("unexpected {io:?}")
        }
        fn cancel(&mut self, tag: IoTag) {
            panic!("unexpected cancel of {tag}")
        }
        fn wait(&mut self, _: Option<u64>, _: &mut Arena, _: &mut Vec<Input>) {}
        fn is_quiescent(&self) -> bool {
            true
        }
    }

    #[test]
    #[should_panic(expected = "flashcache adapter anomaly: WakeWorker twice")]
    fn an_anomaly_panics_by_default_with_the_adapter_state() {
        let mut engine = writethrough_engine(AnomalyPolicy::default());
        engine.inject_anomaly("WakeWorker twice");
    }

    #[test]
    fn the_panic_message_holds_the_adapter_state() {
        let mut engine = writethrough_engine(AnomalyPolicy::Panic);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.inject_anomaly("WakeWorker twice")
        }))
        .expect_err("the anomaly panics");
        let message = panic
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert!(message.contains("phase Running"), "{message}");
        assert!(message.contains("request(s) outstanding"), "{message}");
    }

    #[test]
    fn a_recorded_anomaly_fails_the_run_and_keeps_its_report() {
        let mut engine = writethrough_engine(AnomalyPolicy::Record);
        engine.inject_anomaly("WakeWorker twice");
        assert_eq!(engine.anomalies().len(), 1);
        assert_eq!(
            engine.anomalies()[0].to_string(),
            "flashcache adapter: WakeWorker twice"
        );
        let result = drive(
            &mut engine,
            &mut NoDevices,
            &mut NoBios { finished: true },
            &mut (),
            &DriveOptions::default(),
        );
        match result {
            Err(DriveError::Anomalies { anomalies, report }) => {
                assert_eq!(anomalies, engine.anomalies());
                assert_eq!(report.outcome, crate::DriveOutcome::Finished);
            }
            other => panic!("expected an anomaly error, got {other:?}"),
        }
        assert!(
            engine.check_invariants().is_err(),
            "the invariants report recorded anomalies too"
        );
    }

    #[test]
    fn a_finished_run_over_broken_invariants_fails_without_asking() {
        let mut engine = writethrough_engine(AnomalyPolicy::Record);
        engine.break_an_invariant();
        let result = drive(
            &mut engine,
            &mut NoDevices,
            &mut NoBios { finished: true },
            &mut (),
            &DriveOptions::default(),
        );
        match result {
            Err(DriveError::Invariant { violation, .. }) => {
                assert!(violation.to_string().contains("zero page"), "{violation}");
            }
            other => panic!("expected an invariant error, got {other:?}"),
        }
    }

    #[test]
    fn a_run_stopped_at_its_time_limit_is_not_checked_yet() {
        let mut engine = writethrough_engine(AnomalyPolicy::Record);
        engine.break_an_invariant();
        let options = DriveOptions {
            time_limit_ns: Some(0),
            ..DriveOptions::default()
        };
        let report = drive(
            &mut engine,
            &mut NoDevices,
            &mut NoBios { finished: true },
            &mut (),
            &options,
        )
        .expect("a time-limited slice skips the check (it comes when the run finishes)");
        assert_eq!(report.outcome, crate::DriveOutcome::TimeLimit);
    }
}
