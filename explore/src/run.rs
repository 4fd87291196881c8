//! One [`SeedSpec`] through every oracle (see the crate documentation): the run itself
//! (segments, power losses, reloads), a liveness phase with faults off, the determinism
//! check and, for fault-free specs, the pass-through comparison.

use crate::counter_reach::CounterReach;
use crate::event_dump::EventDump;
use crate::hits_check;
use crate::message_probe;
use crate::rebuild_front::{FrontReadPlan, FrontReads, FrontSeen, FRONT_READS_MAX};
use crate::rig::{workload, Checker, Rig, StartAt};
use crate::scrub::{BeforeScrub, Scrub};
use crate::spec::{SeedSpec, TargetChoice};
use crate::stop::{clean_stop, settle, Stop};
use crate::write_flags::Flagged;
use dmsim_engine::block::IoStatus;
use dmsim_engine::block::{DeviceId, Op};
use dmsim_engine::io::{Bio, BioFlags, BioId, Completion, Control, Input, IoTag, SectorData};
use dmsim_engine::marks::{self, MarkCounts};
use dmsim_engine::platform::DriveObserver;
use dmsim_engine::raid5::Raid5;
use dmsim_engine::{BioRejection, InputError};
use dmsim_engine::{DriveError, DriveOutcome, DriveReport, Engine};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::rc::Rc;

/// Virtual time a segment may take with an unthrottled kcopyd (a pulled disk makes writeback
/// retry without end; a throttled kcopyd gets longer: [`SeedSpec::segment_time_ns`]).
pub(crate) const SEGMENT_TIME_NS: u64 = 30_000_000_000;
/// The liveness bound: with faults off, every bio completes and dirty data drains within
/// this much virtual time (more with a throttled kcopyd: [`SeedSpec::liveness_time_ns`]).
pub const LIVENESS_TIME_NS: u64 = 60_000_000_000;
/// Inputs one phase may take before it counts as running away: a base plus this many per
/// request (about 40 per request is typical, a 256 KiB request a few hundred; a run that
/// needs far more is spinning).
const PHASE_INPUTS_BASE: u64 = 20_000;
const PHASE_INPUTS_PER_REQUEST: u64 = 400;

pub(crate) fn phase_inputs_max(requests: u64) -> u64 {
    PHASE_INPUTS_BASE + PHASE_INPUTS_PER_REQUEST * requests
}

/// Which oracle a run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The spec cannot be set up (bad seed file).
    Setup,
    /// The engine panicked (an assertion or a loop bound).
    Panic,
    /// The engine refused an input, broke an invariant or recorded an anomaly.
    Engine,
    /// The data oracle rejected a read.
    Data,
    /// A device refused an IO in strict mode (overlapping writes in flight, ...).
    Strict,
    /// With faults off, bios did not all complete or dirty data did not drain in time.
    Liveness,
    /// The same spec ran twice with different event logs.
    Nondeterminism,
    /// A fault-free run ended bios differently from a pass-through volume.
    PassThrough,
    /// The hit-counting mode (`dmsim hits`) ended a seed's first segment with other
    /// counters than the timed engine, where they must agree (see [`crate::hits_check`]).
    HitsMode,
    /// flashcache's lookup and replacement (run by the hit-counting mode) put a block in
    /// another slot or counted otherwise than the explorer's model (see
    /// [`crate::policy_model`]).
    Policy,
    /// An idle target's counters disagree with each other, its status or the IO seen (or
    /// a running raid5 sync pass's status line with the pass).
    Counters,
}

/// How and where a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// The phase ("segment 2", "liveness", ...).
    pub phase: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} in {}: {}", self.kind, self.phase, self.message)
    }
}

/// What one spec did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub failure: Option<Failure>,
    /// Coverage marks reached (first run only).
    pub marks: MarkCounts,
    /// Counters seen above zero (first run only).
    pub counter_reach: CounterReach,
    pub event_hash: u64,
    pub bios_done: u64,
    pub reads_verified: u64,
    /// Device IOs (reads, writes, flushes, discards) of the first run.
    pub device_ios: u64,
    /// How each phase of the first run ended (outcome, inputs, virtual end time).
    pub phases: Vec<String>,
    /// raid5: sectors the write hole made unknown (a member failed before the resync
    /// covered stripes a power loss tore), first run.
    pub write_hole_sectors: u64,
    /// The first segment's counters were held against the hit-counting mode (and agreed,
    /// unless the run failed there).
    pub hits_checked: bool,
    /// The first segment's lookups and replacements were held against the explorer's
    /// model of them (see [`crate::policy_model`]).
    pub policy_checked: bool,
}

/// What one pass of a spec ended with.
struct Pass {
    event_hash: u64,
    statuses: Vec<IoStatus>,
    bios_done: u64,
    device_ios: u64,
    reads_verified: u64,
    phases: Vec<String>,
    write_hole_sectors: u64,
    hits_checked: bool,
    policy_checked: bool,
    counter_reach: CounterReach,
}

pub(crate) fn fail(kind: FailureKind, phase: &str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        phase: phase.to_string(),
        message: message.into(),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `spec` with every oracle: twice (determinism) and, fault-free, against pass-through.
pub fn run_spec(spec: &SeedSpec) -> RunReport {
    if let Err(reason) = spec.validate() {
        return RunReport {
            failure: Some(fail(FailureKind::Setup, "setup", reason)),
            ..RunReport::default()
        };
    }
    let _ = marks::take();
    let first = guarded(spec, Checks::EveryInput);
    let marks = marks::take();
    let mut report = RunReport {
        marks,
        ..RunReport::default()
    };
    let first = match first {
        Ok(pass) => pass,
        Err(failure) => {
            report.failure = Some(failure);
            return report;
        }
    };
    report.event_hash = first.event_hash;
    report.bios_done = first.bios_done;
    report.reads_verified = first.reads_verified;
    report.device_ios = first.device_ios;
    report.phases = first.phases.clone();
    report.write_hole_sectors = first.write_hole_sectors;
    report.hits_checked = first.hits_checked;
    report.policy_checked = first.policy_checked;
    report.counter_reach = first.counter_reach.clone();
    // The repeat skips the per-input invariant checks: a run that repeats the first exactly
    // would repeat its verdicts, and one that does not shows in the event hash (the oracles
    // and the end-of-run checks still run). It also shows that the checks change nothing.
    let second = guarded(spec, Checks::AtEnd);
    let _ = marks::take();
    match second {
        Ok(second) if second.event_hash == first.event_hash => {}
        Ok(second) => {
            report.failure = Some(fail(
                FailureKind::Nondeterminism,
                "second run",
                format!(
                    "event-log hash {:#018x}, first run {:#018x}",
                    second.event_hash, first.event_hash
                ),
            ));
            return report;
        }
        Err(failure) => {
            report.failure = Some(fail(
                FailureKind::Nondeterminism,
                "second run",
                format!("the first run passed, the second failed: {failure}"),
            ));
            return report;
        }
    }
    if spec.is_fault_free() && matches!(spec.target, TargetChoice::Flashcache(_)) {
        report.failure = pass_through_check(spec, &first).err();
    }
    report
}

/// The fault-free run against a linear volume over one RAM device of the disk's size:
/// both must end every bio the same way (all well).
fn pass_through_check(spec: &SeedSpec, run: &Pass) -> Result<(), Failure> {
    let mut linear = spec.clone();
    let mut disk = spec.devices[1].clone();
    disk.name = "ram".to_string();
    linear.devices = vec![disk];
    linear.faults = vec![Vec::new()];
    linear.target = TargetChoice::Linear;
    let reference = guarded(&linear, Checks::EveryInput)
        .map_err(|f| fail(FailureKind::PassThrough, "pass-through", f.to_string()))?;
    let count = |statuses: &[IoStatus]| statuses.iter().filter(|s| s.is_ok()).count();
    if run.statuses.len() != reference.statuses.len()
        || count(&run.statuses) != count(&reference.statuses)
    {
        return Err(fail(
            FailureKind::PassThrough,
            "comparison",
            format!(
                "{} bios, {} ok; pass-through {} bios, {} ok",
                run.statuses.len(),
                count(&run.statuses),
                reference.statuses.len(),
                count(&reference.statuses)
            ),
        ));
    }
    Ok(())
}

/// When a pass checks the engine's invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// After every input and at the end of every drive.
    EveryInput,
    /// At the end of every drive only.
    AtEnd,
}

/// One pass with engine panics caught.
fn guarded(spec: &SeedSpec, checks: Checks) -> Result<Pass, Failure> {
    guarded_dumping(spec, checks, None)
}

/// [`guarded`], writing every event to `dump` too.
fn guarded_dumping(
    spec: &SeedSpec,
    checks: Checks,
    dump: Option<Rc<RefCell<EventDump>>>,
) -> Result<Pass, Failure> {
    match catch_unwind(AssertUnwindSafe(|| one_pass(spec, checks, dump))) {
        Ok(result) => result,
        Err(payload) => Err(fail(FailureKind::Panic, "run", panic_text(&*payload))),
    }
}

/// Writes the event log of `spec`'s first run (as [`run_spec`] makes it, every check on) to
/// `path` (see [`crate::event_dump`]): the run's failure, if any, and the lines written.
pub fn write_event_log(spec: &SeedSpec, path: &Path) -> Result<(Option<Failure>, u64), String> {
    spec.validate()?;
    let title = format!(
        "dmsim explore event log: seed {}, profile {}, dmsim {}",
        spec.seed,
        spec.profile.name(),
        env!("CARGO_PKG_VERSION")
    );
    let dump = Rc::new(RefCell::new(EventDump::create(path, &title)?));
    let _ = marks::take();
    let failure = guarded_dumping(spec, Checks::EveryInput, Some(Rc::clone(&dump))).err();
    let _ = marks::take();
    dump.borrow_mut().end(&match &failure {
        Some(failure) => format!("the run failed: {failure}"),
        None => "the run passed".to_string(),
    });
    let dump = Rc::try_unwrap(dump)
        .map_err(|_| "the event dump is still held after the run".to_string())?
        .into_inner();
    Ok((failure, dump.finish()?))
}

fn one_pass(
    spec: &SeedSpec,
    checks: Checks,
    dump: Option<Rc<RefCell<EventDump>>>,
) -> Result<Pass, Failure> {
    let mut rig = Rig::new(spec).map_err(|e| fail(FailureKind::Setup, "setup", e))?;
    crate::table_probe::check(spec).map_err(|e| fail(FailureKind::Engine, "table line", e))?;
    let mut checker = rig.checker();
    checker.invariants_every_input = checks == Checks::EveryInput;
    checker.dump = dump;
    let mut engine = Some(
        rig.engine()
            .map_err(|e| fail(FailureKind::Setup, "setup", e))?,
    );
    let mut phases = Vec::new();
    let mut hits_checked = false;
    let mut policy_checked = false;
    let mut counter_reach = CounterReach::default();
    for (index, segment) in spec.segments.iter().enumerate() {
        let phase = format!("segment {index}");
        checker.note(
            dmsim_engine::platform::Platform::now_ns(&rig.platform),
            &format!("{phase}: {} requests", segment.requests),
        );
        let mut current = match engine.take() {
            Some(engine) => engine,
            None => rig
                .engine()
                .map_err(|e| fail(FailureKind::Setup, &phase, e))?,
        };
        if let Some(member) = segment.fail_member {
            rig.fail_member(&mut current, &mut checker, member)
                .map_err(|e| fail(FailureKind::Engine, &phase, e))?;
        }
        if !segment.messages.is_empty() {
            send_messages(
                &mut rig,
                &mut current,
                &mut checker,
                &segment.messages,
                &phase,
                &mut phases,
            )?;
        }
        probe_messages(&rig, &mut current, &mut checker, spec, index, &phase)?;
        probe_device_numbers(&rig, &mut current, &mut checker, spec, &phase)?;
        probe_misaligned(&rig, &mut current, &mut checker, spec, &phase)?;
        probe_stale_completion(&rig, &mut current, &mut checker, &phase)?;
        let records = workload(&spec.workload, segment.requests, index as u64);
        let start_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform)
            + segment.idle_before_requests_ns.unwrap_or(0);
        let flagged = Flagged::new(rig.source(records), spec.write_flags, spec.seed, index);
        let mut source = StartAt::new(flagged, start_ns);
        let report = rig.run_with_cancels(
            &mut current,
            &mut source,
            &mut checker,
            segment
                .cut_after_inputs
                .unwrap_or(u64::MAX)
                .min(phase_inputs_max(segment.requests)),
            spec.segment_time_ns(),
            &segment.ssd_cancels_at_ns,
        );
        phases.push(summary(&phase, &report));
        // A segment cut on purpose stops at its input limit: no runaway.
        let cut = segment.cut_after_inputs.is_some();
        let outcome = report.map(|r| match r.outcome {
            DriveOutcome::InputLimit if cut => DriveOutcome::Finished,
            outcome => outcome,
        });
        check_run(&rig, &checker, &phase, outcome)?;
        check_counters(&rig, &current, spec, &checker, &phase)?;
        counter_reach.observe(&current);
        // The hit-counting mode once per spec: the repeat would only repeat it.
        if index == 0 && checks == Checks::EveryInput && spec.target.flashcache().is_some() {
            crate::superblock_probe::check(spec, rig.cache_device_sizes())
                .map_err(|message| fail(FailureKind::Engine, "superblock probe", message))?;
        }
        if index == 0 && checks == Checks::EveryInput && crate::policy_model::applies(spec) {
            policy_checked = crate::policy_model::check(spec, rig.cache_device_sizes())
                .map_err(|message| fail(FailureKind::Policy, &phase, message))?;
        }
        if index == 0 && checks == Checks::EveryInput && hits_check::applies(spec) {
            hits_checked = hits_check::check(spec, rig.cache_device_sizes(), &current)
                .map_err(|message| fail(FailureKind::HitsMode, &phase, message))?;
        }
        if segment.clean_stop && current.is_idle() {
            match clean_stop(&mut rig, current, &mut checker, spec, &phase, &mut phases)? {
                Stop::Reloaded(next) => {
                    check_counters(&rig, &next, spec, &checker, &phase)?;
                    counter_reach.observe(&next);
                    engine = Some(next);
                    continue;
                }
                Stop::Blocked(blocked) => current = blocked,
            }
        }
        match &segment.power_loss {
            Some(loss) => {
                rig.power_loss(current, &mut checker, loss);
            }
            // Without a power loss the next phase shares this engine. IO still in it after
            // the segment's bound (held by a hang fault: disk IO has no timeout; a pulled
            // disk's writeback retrying) may never end, and its bio's id would be issued
            // again by the next source (regression 007): outside the explorer's model, so
            // the spec is refused, as the shrinker must not land on it either. Without
            // faults nothing may hold IO that long: a liveness failure (regression 015).
            None if !current.is_idle() => {
                let in_engine = format!(
                    "{} of its bios unfinished, {} device IOs held by a hang fault, {} dirty \
                     blocks",
                    source.inner().inner().in_flight(),
                    rig.hung_ios(),
                    current
                        .target()
                        .flashcache()
                        .map_or(0, |fc| fc.gauges().nr_dirty)
                );
                if spec.is_fault_free() {
                    return Err(fail(
                        FailureKind::Liveness,
                        &phase,
                        format!(
                            "without faults the segment's IO did not end within {} s of \
                             virtual time ({in_engine}); last events: {}",
                            spec.segment_time_ns() / 1_000_000_000,
                            checker.recent_events().join(" | ")
                        ),
                    ));
                }
                return Err(fail(
                    FailureKind::Setup,
                    &phase,
                    format!(
                        "segments[{index}].power_loss: none, but the segment ended with IO \
                         still in the engine ({in_engine}), and the next phase cannot share \
                         the engine with IO that may never end: give this segment a power \
                         loss or drop the faults that hold IO (hangs, a pulled device)"
                    ),
                ));
            }
            None => engine = Some(current),
        }
    }
    let phase = "liveness";
    checker.note(
        dmsim_engine::platform::Platform::now_ns(&rig.platform),
        "liveness: faults off, every written block read back, dirty data drained",
    );
    rig.stop_faults();
    let mut current = match engine.take() {
        Some(engine) => engine,
        None => rig
            .engine()
            .map_err(|e| fail(FailureKind::Setup, phase, e))?,
    };
    // BUGGIFY's shrunk SSD timeouts fail IO like a device fault: off too (regression 005).
    current.stop_buggify();
    if spec.spares > 0 {
        send_message(&rig, &mut current, &mut checker, "add", phase)?;
    }
    crate::fallow::check_fallow_cleaning(&mut rig, &mut current, &mut checker, spec, &mut phases)?;
    if rig.is_writeback() {
        let now = dmsim_engine::platform::Platform::now_ns(&rig.platform);
        let sync = Input::Control(Control::TargetMessage("do_sync".to_string()));
        // While setting up after a reload the message is refused; the read-back below
        // waits for the setup, and the sync is asked again after it.
        let _ = current.handle(now, sync);
    }
    read_back_written(
        &mut rig,
        &mut current,
        &mut checker,
        &mut phases,
        phase,
        FrontReadPlan::of(spec),
    )?;
    drain_dirty(&mut rig, &mut current, &mut checker, &mut phases)?;
    if spec.spares > 0 {
        check_rebuilt(&mut rig, &mut current, &mut checker, &mut phases)?;
    }
    if let Some(scrub) = spec.scrub {
        run_scrub(&mut rig, &mut current, &mut checker, &mut phases, scrub)?;
    }
    check_counters(&rig, &current, spec, &checker, "liveness: end")?;
    counter_reach.observe(&current);
    let device_ios = rig
        .platform
        .devices()
        .iter()
        .map(|d| {
            let stats = d.stats();
            stats.reads + stats.writes + stats.flushes + stats.discards
        })
        .sum();
    Ok(Pass {
        device_ios,
        phases,
        event_hash: checker.hash.0,
        bios_done: checker.oracle.bios_done(),
        reads_verified: checker.oracle.oracle().verified_reads(),
        write_hole_sectors: checker.oracle.write_hole_sectors(),
        hits_checked,
        policy_checked,
        counter_reach,
        statuses: checker.statuses,
    })
}

/// Writeback: `do_sync`, then every dirty block must be clean within the liveness bound
/// (unless a device is gone or holds unreadable sectors: then it cannot drain).
fn drain_dirty(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phases: &mut Vec<String>,
) -> Result<(), Failure> {
    let phase = "liveness: drain";
    if !rig.is_writeback() {
        return Ok(());
    }
    // A raid5 disk that lost two members while faults were on fails every write for good
    // (md's failed array): nothing can drain to it (regression 017).
    let disk_failed = engine.stacked_targets().iter().any(|(_, view)| {
        view.raid5()
            .is_some_and(|raid| raid.members().iter().filter(|m| m.faulty).count() > 1)
    });
    let blocked = disk_failed
        || rig
            .platform
            .devices()
            .iter()
            .any(|d| d.is_gone() || d.latent_sectors() > 0);
    let dirty = |engine: &Engine| {
        engine
            .target()
            .flashcache()
            .map_or(0, |fc| fc.gauges().nr_dirty)
    };
    if dirty(engine) == 0 || blocked {
        return Ok(());
    }
    let now = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    let sync = Input::Control(Control::TargetMessage("do_sync".to_string()));
    engine
        .handle(now, sync)
        .map_err(|e| fail(FailureKind::Engine, phase, format!("do_sync refused: {e}")))?;
    let mut nothing = rig.source(std::iter::empty());
    let dirty_blocks = dirty(engine);
    let report = rig.run(
        engine,
        &mut nothing,
        checker,
        Some(phase_inputs_max(dirty_blocks) + rig.resync_inputs_max()),
        rig.liveness_time_ns(),
    );
    phases.push(summary(phase, &report));
    check_run(rig, checker, phase, report.map(|r| r.outcome))?;
    let left = dirty(engine);
    if left > 0 {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!("{left} dirty blocks left after do_sync with faults off"),
        ));
    }
    Ok(())
}

/// raid5: a `check` or `repair` pass over the idle array, held to [`crate::scrub`]'s
/// oracles, then every written block read again.
fn run_scrub(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phases: &mut Vec<String>,
    scrub: Scrub,
) -> Result<(), Failure> {
    let phase = "liveness: scrub";
    // The array is the volume, or the disk under flashcache (a stacked device, whose
    // messages go through dm core's StackedMessage).
    let stacked = engine
        .stacked_targets()
        .into_iter()
        .find_map(|(device, view)| view.raid5().map(|_| device));
    let Some(raid) = scrubbed_array(engine, stacked) else {
        return Ok(());
    };
    let readable = checker.oracle.write_hole_sectors() == 0
        && rig
            .platform
            .devices()
            .iter()
            .all(|d| d.latent_sectors() == 0);
    let before = BeforeScrub::of(raid, readable);
    match stacked {
        None => send_message(rig, engine, checker, scrub.message(), phase)?,
        Some(device) => {
            let control = Control::StackedMessage {
                device,
                message: scrub.message().to_string(),
            };
            let what = format!("{:?} to {device}", scrub.message());
            send_control(rig, engine, checker, control, &what, phase)?;
        }
    }
    let mut nothing = rig.source(std::iter::empty());
    let report = rig.run(
        engine,
        &mut nothing,
        checker,
        Some(phase_inputs_max(0) + rig.resync_inputs_max()),
        rig.liveness_time_ns(),
    );
    phases.push(summary(phase, &report));
    check_run(rig, checker, phase, report.map(|r| r.outcome))?;
    let raid = scrubbed_array(engine, stacked).expect("still raid5");
    checker.io.on_scrub(before.stripes_walked(raid));
    before
        .check_after(scrub, raid)
        .map_err(|message| fail(FailureKind::Liveness, phase, message))?;
    read_back_written(rig, engine, checker, phases, phase, None)
}

/// The raid5 array a scrub runs on: the stacked device `stacked`'s, or the volume's.
fn scrubbed_array(engine: &Engine, stacked: Option<DeviceId>) -> Option<&Raid5> {
    match stacked {
        Some(device) => engine
            .stacked_targets()
            .into_iter()
            .find(|(d, _)| *d == device)
            .and_then(|(_, view)| view.raid5()),
        None => engine.target().raid5(),
    }
}

/// raid5 with a spare added: once idle, a failed role has taken the spare (a hot spare
/// waits only while no role has failed) and a recovery that skipped no stripe left the array
/// whole; then every written block is read again, the rebuilt role's now from the spare.
fn check_rebuilt(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phases: &mut Vec<String>,
) -> Result<(), Failure> {
    let phase = "liveness: after recovery";
    let Some(raid) = engine.target().raid5() else {
        return Ok(());
    };
    let stats = raid.stats();
    let degraded = raid.degraded();
    if stats.spares_added == 0 && degraded > 0 {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!("{degraded} members failed while the spare added waits unused"),
        ));
    }
    if stats.spares_added == 0 {
        return Ok(());
    }
    if stats.recovery_stripes_skipped == 0 && degraded > 0 {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!(
                "a recovery skipped no stripe, yet {degraded} members are degraded: {:?}",
                raid.members()
            ),
        ));
    }
    read_back_written(rig, engine, checker, phases, phase, None)
}

/// Reads every written block back through the data oracle, faults off; the read-back must
/// finish. With `front_reads`, reads near the front of a recovery that runs meanwhile go
/// with it (see [`crate::rebuild_front`]).
fn read_back_written(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phases: &mut Vec<String>,
    phase: &str,
    front_reads: Option<FrontReadPlan>,
) -> Result<(), Failure> {
    let blocks = checker.oracle.written_blocks().count() as u64;
    let mut reads = rig.read_back(checker);
    // A resync may run behind the reads, and the drive waits for the array too (020).
    let inputs_max = phase_inputs_max(blocks) + rig.resync_inputs_max();
    let report = match front_reads {
        Some(plan) => {
            // The recovery may start only once a reloaded array is assembled.
            let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
            let watch = Rc::new(Cell::new(FrontSeen::of(now_ns, engine)));
            checker.rebuild_front = Some(Rc::clone(&watch));
            let written = checker.oracle.written_blocks().collect();
            let mut reads = FrontReads::new(reads, watch, plan, written);
            let report = rig.run(
                engine,
                &mut reads,
                checker,
                Some(inputs_max + PHASE_INPUTS_PER_REQUEST * u64::from(FRONT_READS_MAX)),
                rig.liveness_time_ns(),
            );
            checker.rebuild_front = None;
            report
        }
        None => rig.run(
            engine,
            &mut reads,
            checker,
            Some(inputs_max),
            rig.liveness_time_ns(),
        ),
    };
    phases.push(summary(phase, &report));
    check_run(rig, checker, phase, report.clone().map(|r| r.outcome))?;
    match report.expect("checked").outcome {
        DriveOutcome::Finished => Ok(()),
        outcome => Err(fail(
            FailureKind::Liveness,
            phase,
            format!(
                "with faults off the read-back did not finish: {outcome:?}, {} bios in flight",
                checker.oracle.bios_in_flight()
            ),
        )),
    }
}

/// A control message to the target, seen by the checker first.
fn send_message(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    message: &str,
    phase: &str,
) -> Result<(), Failure> {
    let control = Control::TargetMessage(message.to_string());
    send_control(
        rig,
        engine,
        checker,
        control,
        &format!("{message:?}"),
        phase,
    )
}

/// `control` to `engine` now, seen by `checker`; a refusal fails the run, naming `what`.
fn send_control(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    control: Control,
    what: &str,
    phase: &str,
) -> Result<(), Failure> {
    let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    let input = Input::Control(control);
    checker.on_input(now_ns, &input);
    engine
        .handle(now_ns, input)
        .map_err(|e| fail(FailureKind::Engine, phase, format!("{what} refused: {e}")))
}

/// One line on how a phase's drive ended.
pub(crate) fn summary(phase: &str, report: &Result<DriveReport, DriveError>) -> String {
    match report {
        Ok(r) => format!(
            "{phase}: {:?} after {} inputs, {} bios, at {:.3} s",
            r.outcome,
            r.inputs,
            r.bios_done,
            r.end_ns as f64 / 1e9
        ),
        Err(e) => format!("{phase}: {e}"),
    }
}

/// The oracles after each phase: the drive itself, strict device checks, the data oracle.
fn check_run(
    rig: &Rig,
    checker: &Checker,
    phase: &str,
    outcome: Result<DriveOutcome, dmsim_engine::DriveError>,
) -> Result<(), Failure> {
    match outcome {
        Err(error) => return Err(fail(FailureKind::Engine, phase, error.to_string())),
        // Far more inputs than the requests need: the engine spins (a livelock), faults or not.
        Ok(DriveOutcome::InputLimit) => {
            return Err(fail(
                FailureKind::Liveness,
                phase,
                format!(
                    "runaway: the input limit hit before finishing; last events: {}",
                    checker.recent_events().join(" | ")
                ),
            ))
        }
        Ok(_) => {}
    }
    if let Some(violation) = rig.strict_violations() {
        return Err(fail(FailureKind::Strict, phase, violation));
    }
    if let Some(error) = checker.oracle.data_errors().first() {
        return Err(fail(
            FailureKind::Data,
            phase,
            format!(
                "{} data errors, first: {error}",
                checker.oracle.data_error_count()
            ),
        ));
    }
    if let Some(error) = &checker.sync_status.error {
        return Err(fail(FailureKind::Counters, phase, error.clone()));
    }
    if let Some(error) = &checker.drive_error {
        return Err(fail(FailureKind::Counters, phase, error.clone()));
    }
    Ok(())
}

/// The counter oracles on an idle engine (see [`crate::counters`]), and the pid lists.
fn check_counters(
    rig: &Rig,
    engine: &Engine,
    spec: &SeedSpec,
    checker: &Checker,
    phase: &str,
) -> Result<(), Failure> {
    let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    crate::counters::check(engine, spec, &checker.io)
        .and_then(|()| {
            engine
                .target()
                .flashcache()
                .map_or(Ok(()), |fc| checker.pids.check(fc, now_ns))
        })
        .map_err(|message| fail(FailureKind::Counters, phase, message))
}

/// A probe's input, handed to the engine now: bad input the checker's models do not follow,
/// so the checker does not see it; `label` goes into the event-log hash in its place.
fn probe_input(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    label: &[u8],
    input: Input,
) -> Result<(), InputError> {
    checker.hash.add(label);
    let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
    engine.handle(now_ns, input)
}

/// On a volume of 4 KiB blocks, a 512-byte read at sector 1 must be refused as misaligned
/// (bad input gets a clear error), before it reaches any device.
fn probe_misaligned(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    spec: &SeedSpec,
    phase: &str,
) -> Result<(), Failure> {
    let block_bytes = spec.volume_block_bytes();
    if block_bytes <= 512 {
        return Ok(());
    }
    let bio = Bio {
        id: BioId(u64::MAX),
        op: Op::Read,
        sector: 1,
        sectors: 1,
        flags: BioFlags::default(),
        data: SectorData::new(),
    };
    match probe_input(rig, engine, checker, b"misaligned probe", Input::Bio(bio)) {
        Err(InputError::BadBio {
            reason: BioRejection::Misaligned { .. },
            ..
        }) => Ok(()),
        other => Err(fail(
            FailureKind::Engine,
            phase,
            format!(
                "a 512-byte read at sector 1 of a volume of {block_bytes}-byte blocks: \
                 {other:?}, expected a refusal as misaligned"
            ),
        )),
    }
}

/// A running flashcache's answers to messages a user might mistype or spell another way
/// (crate::message_probe): refused naming the word, or taken with the menu's effect.
fn probe_messages(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    spec: &SeedSpec,
    segment: usize,
    phase: &str,
) -> Result<(), Failure> {
    let mut rng =
        dmsim_sim::streams::stream(spec.seed, &format!("explore.message_probe.{segment}"));
    for _ in 0..message_probe::MESSAGES_PER_SEGMENT {
        let Some(fc) = engine.target().flashcache() else {
            return Ok(());
        };
        let (message, expect) = message_probe::draw(&mut rng, fc);
        let before = (fc.tunables().clone(), fc.stats().clone());
        let input = Input::Control(Control::TargetMessage(message.clone()));
        let result = match probe_input(rig, engine, checker, message.as_bytes(), input) {
            Ok(()) => Ok(()),
            Err(InputError::BadControl(reason)) => Err(reason),
            Err(other) => Err(other.to_string()),
        };
        let fc = engine
            .target()
            .flashcache()
            .expect("running before the message");
        message_probe::judge(&message, &expect, result, &before, fc)
            .map_err(|e| fail(FailureKind::Engine, phase, e))?;
    }
    Ok(())
}

/// Controls naming a device that is not there (one past the platform's and stacked
/// devices, or a physical device where a stacked one is meant) must be refused, naming it,
/// and change nothing. The stacked device is the array under flashcache, numbered after the
/// platform's.
fn probe_device_numbers(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    spec: &SeedSpec,
    phase: &str,
) -> Result<(), Failure> {
    let physical = spec.devices.len() as u16;
    let stacked = u16::from(matches!(
        spec.target,
        TargetChoice::Raid5UnderFlashcache { .. }
    ));
    let probes = [
        (
            Control::CancelTimedIoOnDevice(DeviceId(physical + stacked)),
            "unknown",
        ),
        (
            Control::StackedMessage {
                device: DeviceId(physical + stacked),
                message: "check".to_string(),
            },
            "is not a stacked device",
        ),
        (
            Control::StackedMessage {
                device: DeviceId(physical - 1),
                message: "check".to_string(),
            },
            "is not a stacked device",
        ),
    ];
    for (control, reason) in probes {
        let what = format!("{control:?}");
        let before = engine.stats();
        match probe_input(
            rig,
            engine,
            checker,
            what.as_bytes(),
            Input::Control(control),
        ) {
            Err(InputError::BadControl(text)) if text.contains(reason) => {}
            other => {
                return Err(fail(
                    FailureKind::Engine,
                    phase,
                    format!("{what}: {other:?}, expected a refusal saying {reason:?}"),
                ))
            }
        }
        if engine.stats() != before {
            return Err(fail(
                FailureKind::Engine,
                phase,
                format!("{what} was refused but changed the engine's counters"),
            ));
        }
    }
    Ok(())
}

/// A completion of an IO the engine never issued (a driver's bug) must be refused as unknown,
/// and counted once in `stale_completions`; the engine goes on.
fn probe_stale_completion(
    rig: &Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    phase: &str,
) -> Result<(), Failure> {
    let stale = |engine: &Engine| engine.stats().services.block_layer.stale_completions;
    let before = stale(engine);
    let tag = IoTag {
        slot: u32::MAX,
        generation: u32::MAX,
    };
    let completion = Completion {
        tag,
        status: IoStatus::Ok,
    };
    let completion = Input::Completion(completion);
    let outcome = probe_input(rig, engine, checker, b"stale completion probe", completion);
    let after = stale(engine);
    match outcome {
        Err(InputError::UnknownCompletion { tag: refused })
            if refused == tag && after == before + 1 =>
        {
            Ok(())
        }
        other => Err(fail(
            FailureKind::Engine,
            phase,
            format!(
                "a completion of {tag:?}, never issued: {other:?}, stale_completions \
                 {before} -> {after}; expected a refusal counted once"
            ),
        )),
    }
}

/// A segment's control messages, once the target runs (a reload's setup first settles);
/// after each, the pid lists are the model's. A target whose setup failed, or is held by a
/// hang fault, gets none.
fn send_messages(
    rig: &mut Rig,
    engine: &mut Engine,
    checker: &mut Checker,
    messages: &[String],
    phase: &str,
    phases: &mut Vec<String>,
) -> Result<(), Failure> {
    if engine.target().flashcache().is_none() {
        settle(rig, engine, checker, &format!("{phase}: setup"), phases)?;
    }
    if engine.target().flashcache().is_none() {
        return Ok(());
    }
    for message in messages {
        let now_ns = dmsim_engine::platform::Platform::now_ns(&rig.platform);
        let fc = engine.target().flashcache().expect("running");
        checker.pids.reconcile(fc, now_ns).map_err(|e| {
            fail(
                FailureKind::Counters,
                phase,
                format!("before {message:?}: {e}"),
            )
        })?;
        send_message(rig, engine, checker, message, phase)?;
        let fc = engine.target().flashcache().expect("running");
        checker.pids.apply(message, now_ns, fc);
        checker.pids.check(fc, now_ns).map_err(|e| {
            fail(
                FailureKind::Counters,
                phase,
                format!("after {message:?}: {e}"),
            )
        })?;
    }
    Ok(())
}

/// One pass of `spec` (no determinism or pass-through check): its failure, if any. What
/// shrinking reruns.
pub fn run_once(spec: &SeedSpec) -> Option<Failure> {
    if let Err(reason) = spec.validate() {
        return Some(fail(FailureKind::Setup, "setup", reason));
    }
    let result = guarded(spec, Checks::EveryInput).err();
    let _ = marks::take();
    result
}
