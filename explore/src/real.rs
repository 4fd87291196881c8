//! `dmsim explore --real`: fault-free seeds on real block devices, with the same engine and
//! the oracles that still mean something there.
//!
//! A seed draws its run exactly as in simulation (target, geometry, tunables, workload, queue
//! depth); only the devices change. Each device is opened over the range the spec's device
//! has (sectors `0..capacity`), so the engine sees the sizes it sees in simulation and never
//! touches a sector beyond them. What is checked:
//! - the data oracle on every read (devices start with unknown contents: an earlier run's
//!   data; every write carries a per-run nonce in its stamps, so old stamps never match),
//! - `check_invariants` after every input,
//! - every bio ends well (the fault-free pass-through comparison: a linear volume would end
//!   them all well),
//! - no IO refused by a device, and no anomaly recorded by the engine,
//! - liveness: the read-back of every written block finishes, and in writeback `do_sync`
//!   drains every dirty block, within the bounds of the simulated run (wall-clock time here).
//!
//! Not checked, on purpose: the determinism check (thread and device timing decide the
//! interleaving) and anything needing a fault, a power loss or BUGGIFY (simulated only; the
//! fault-free profile has none).

use crate::rig::{
    closed_loop, drive_for, drive_with_cancels, engine_setup, is_writeback, new_checker,
    read_back_records, workload, Checker,
};
use crate::run::{fail, phase_inputs_max, summary, Failure, FailureKind, RunReport};
use crate::spec::{SeedSpec, TargetChoice};
use dmsim_engine::flashcache::Persistence;
use dmsim_engine::io::{Control, Input};
use dmsim_engine::marks;
use dmsim_engine::{DriveError, DriveOutcome, DriveReport, TargetSpec};
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use std::path::PathBuf;

/// The devices a real explorer run may write, and the run's write-id nonce.
#[derive(Debug, Clone)]
pub struct RealDevices {
    /// The cache device (flashcache's SSD); linear seeds do not use it.
    pub ssd: PathBuf,
    /// The disk (flashcache's disk, or linear's device).
    pub disk: PathBuf,
    /// High bits of every write id of this run (a nonce: a stamp an earlier run left on the
    /// device never equals one of this run's). Must leave the low 32 bits zero.
    pub write_id_nonce: u64,
}

/// Write ids of one source: the nonce, the source's number in bits 24..32 (a seed has a few
/// sources), and the bio number below (a source issues fewer than 2^24 bios).
fn write_id_base(nonce: u64, source: u64) -> u64 {
    assert_eq!(
        nonce & 0xffff_ffff,
        0,
        "the nonce keeps the low 32 bits zero"
    );
    assert!(source < 256, "a seed has a few sources");
    nonce | (source << 24)
}

/// Runs the fault-free `spec` on `devices`; see the module documentation.
pub fn run_real_spec(spec: &SeedSpec, devices: &RealDevices) -> RunReport {
    let _ = marks::take();
    let result = one_real_pass(spec, devices);
    let marks = marks::take();
    let mut report = RunReport {
        marks,
        ..RunReport::default()
    };
    match result {
        Ok(pass) => {
            report.event_hash = pass.checker.hash.0;
            report.bios_done = pass.checker.oracle.bios_done();
            report.reads_verified = pass.checker.oracle.oracle().verified_reads();
            report.device_ios = pass.device_ios;
            report.phases = pass.phases;
        }
        Err(failure) => report.failure = Some(failure),
    }
    report
}

struct RealPass {
    checker: Checker,
    device_ios: u64,
    phases: Vec<String>,
}

fn open(path: &PathBuf, capacity_sectors: u64, what: &str) -> Result<RealDevice, Failure> {
    let options = OpenOptions {
        allow_write: true,
        range: Some((0, capacity_sectors)),
    };
    RealDevice::open(path, options).map_err(|e| {
        fail(
            FailureKind::Setup,
            "setup",
            format!(
                "{what} {}: {e} (the seed needs {} MiB of it)",
                path.display(),
                capacity_sectors / 2048
            ),
        )
    })
}

fn one_real_pass(spec: &SeedSpec, devices: &RealDevices) -> Result<RealPass, Failure> {
    spec.validate()
        .map_err(|e| fail(FailureKind::Setup, "setup", e))?;
    // Tie perturbation reorders simultaneous simulated events; real devices order their
    // completions themselves, so `perturb_ties` has nothing to act on here.
    if !spec.is_fault_free() {
        return Err(fail(
            FailureKind::Setup,
            "setup",
            "a real run takes only fault-free specs (faults, power loss and BUGGIFY are \
             simulated)",
        ));
    }
    let opened = match spec.target {
        TargetChoice::Linear => vec![open(
            &devices.disk,
            spec.devices[0].ram.capacity_sectors,
            "--hdd-dev",
        )?],
        TargetChoice::Raid5(_) | TargetChoice::Raid5UnderFlashcache { .. } => {
            return Err(fail(
                FailureKind::Setup,
                "setup",
                "a real run takes linear or flashcache specs (raid5 runs are simulated)",
            ))
        }
        TargetChoice::Flashcache(_) => vec![
            open(
                &devices.ssd,
                spec.devices[0].ram.capacity_sectors,
                "--ssd-dev",
            )?,
            open(
                &devices.disk,
                spec.devices[1].ram.capacity_sectors,
                "--hdd-dev",
            )?,
        ],
    };
    let (mut config, mut target) = engine_setup(spec, 0);
    // A simulation's check, a walk of the set per victim: not on real devices.
    config.victim_index_check = None;
    // The SSD holds whatever an earlier seed or run left, a cache superblock included: the
    // user allowed writes, so create over it (flashcache_create -f).
    if let TargetSpec::Flashcache { config, .. } = &mut target {
        if config.table.persistence == Persistence::Create {
            config.table.persistence = Persistence::ForceCreate;
        }
    }
    let mut rig = RealRig::build(config, target, opened, PlatformOptions::default())
        .map_err(|e| fail(FailureKind::Setup, "setup", e.to_string()))?;
    let mut checker = new_checker(spec, false);
    let mut phases = Vec::new();
    let mut sources = 0;
    for (index, segment) in spec.segments.iter().enumerate() {
        let phase = format!("segment {index}");
        sources += 1;
        let mut source = closed_loop(
            workload(&spec.workload, segment.requests, index as u64),
            spec.queue_depth,
            write_id_base(devices.write_id_nonce, sources),
        );
        let (engine, platform) = rig.parts_mut();
        let report = drive_with_cancels(
            engine,
            platform,
            &mut source,
            &mut checker,
            phase_inputs_max(segment.requests),
            spec.segment_time_ns(),
            &segment.ssd_cancels_at_ns,
        );
        phases.push(summary(&phase, &report));
        check_real_run(&mut rig, &checker, &phase, report)?;
    }
    let phase = "liveness";
    if is_writeback(spec) {
        let now_ns = rig.platform().now_ns();
        let sync = Input::Control(Control::TargetMessage("do_sync".to_string()));
        checker_input(&mut checker, now_ns, &sync);
        rig.engine_mut()
            .handle(now_ns, sync)
            .map_err(|e| fail(FailureKind::Engine, phase, format!("do_sync refused: {e}")))?;
    }
    let written = read_back_records(&checker);
    let blocks = written.len() as u64;
    sources += 1;
    let mut reads = closed_loop(
        written.into_iter(),
        8,
        write_id_base(devices.write_id_nonce, sources),
    );
    let (engine, platform) = rig.parts_mut();
    let report = drive_for(
        engine,
        platform,
        &mut reads,
        &mut checker,
        Some(phase_inputs_max(blocks)),
        spec.liveness_time_ns(),
    );
    phases.push(summary(phase, &report));
    check_real_run(&mut rig, &checker, phase, report)?;
    if is_writeback(spec) {
        drain_dirty(&mut rig, &mut checker, &mut phases, spec.liveness_time_ns())?;
    }
    let stats = rig.platform().stats();
    Ok(RealPass {
        checker,
        device_ios: stats.completed,
        phases,
    })
}

/// Writeback: `do_sync` once more, then nothing but the engine's own work until it is idle:
/// no dirty block may be left.
fn drain_dirty(
    rig: &mut RealRig,
    checker: &mut Checker,
    phases: &mut Vec<String>,
    liveness_time_ns: u64,
) -> Result<(), Failure> {
    let phase = "liveness: drain";
    let dirty = |rig: &RealRig| {
        rig.engine()
            .target()
            .flashcache()
            .map_or(0, |fc| fc.gauges().nr_dirty)
    };
    let dirty_blocks = dirty(rig);
    if dirty_blocks > 0 {
        let now_ns = rig.platform().now_ns();
        let sync = Input::Control(Control::TargetMessage("do_sync".to_string()));
        checker_input(checker, now_ns, &sync);
        rig.engine_mut()
            .handle(now_ns, sync)
            .map_err(|e| fail(FailureKind::Engine, phase, format!("do_sync refused: {e}")))?;
        let mut nothing = closed_loop(std::iter::empty(), 1, 0);
        let (engine, platform) = rig.parts_mut();
        let report = drive_for(
            engine,
            platform,
            &mut nothing,
            checker,
            Some(phase_inputs_max(dirty_blocks)),
            liveness_time_ns,
        );
        phases.push(summary(phase, &report));
        check_real_run(rig, checker, phase, report)?;
    }
    let left = dirty(rig);
    if left > 0 {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!("{left} dirty blocks left after do_sync with faults off"),
        ));
    }
    Ok(())
}

/// The oracle sees a control input sent outside `drive` like any other.
fn checker_input(checker: &mut Checker, now_ns: u64, input: &Input) {
    dmsim_engine::platform::DriveObserver::on_input(checker, now_ns, input);
}

/// A phase on real devices passed: it finished (a time or input limit is a liveness
/// failure here: there are no faults), no device refused an IO, every read matched, every
/// bio ended well.
fn check_real_run(
    rig: &mut RealRig,
    checker: &Checker,
    phase: &str,
    report: Result<DriveReport, DriveError>,
) -> Result<(), Failure> {
    let report = report.map_err(|e| fail(FailureKind::Engine, phase, e.to_string()))?;
    let refused = rig.platform_mut().take_errors();
    if let Some(first) = refused.first() {
        return Err(fail(
            FailureKind::Strict,
            phase,
            format!("{} device IO(s) refused; first: {first}", refused.len()),
        ));
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
    if report.outcome != DriveOutcome::Finished {
        return Err(fail(
            FailureKind::Liveness,
            phase,
            format!(
                "did not finish: {:?}, {} bios in flight",
                report.outcome,
                checker.oracle.bios_in_flight()
            ),
        ));
    }
    let failed = checker.oracle.failed_bios();
    if failed > 0 {
        let first = checker.statuses.iter().find(|s| !s.is_ok());
        let status = rig.engine().target_status();
        return Err(fail(
            FailureKind::PassThrough,
            phase,
            format!(
                "{failed} bios ended with an error on fault-free devices (first: {first:?}); \
                 the target is {}",
                status.state
            ),
        ));
    }
    Ok(())
}
