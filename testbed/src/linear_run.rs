//! A run of the linear target under a generated workload (`dmsim run --target linear`): on
//! one simulated device, on an md raid5 array of simulated members (with failures and
//! spares on the way), or on a real device; every read verified.

use crate::check::{check_engine_invariants, check_real_refusals, check_sim_violations, deadlock};
use crate::raid5_fail::{spare_count, ArrayEvent, FailSchedule};
use crate::real_raid5::{check_spare_devices, initial_resync, open_array, RAID_DEV_FLAG};
use crate::run_error::RunError;
use crate::run_progress::RunProgress;
use crate::spec::{LinearRunSpec, SpecFile};
use crate::verifier::{real_run_write_id_base, Verifier};
use crate::workload::{arena_pages_for, check_span, GeneratedWorkload};
use dmsim_engine::raid5::Raid5Config;
use dmsim_engine::{
    drive, DeviceId, DriveOptions, DriveOutcome, DriveReport, Engine, EngineConfig, Platform,
    TargetSpec,
};
use dmsim_models::presets::DeviceParams;
use dmsim_real::{OpenOptions, PlatformOptions, RealDevice, RealRig};
use dmsim_reports::RunReport;
use dmsim_sim::device::SimDevice;
use dmsim_sim::platform::{SimOptions, SimPlatform};
use dmsim_sim::streams::stream;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The linear target's device.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LinearDevice {
    /// One simulated device of preset `name` (its parameters resolved).
    Sim { name: String, params: DeviceParams },
    /// An md raid5 array of `members` simulated devices of `preset`; `text` is the array as
    /// the user gave it (`4xhdd-7200`).
    Raid5 {
        text: String,
        preset: String,
        members: usize,
        params: DeviceParams,
        config: Raid5Config,
        /// Members to fail and spares to add during the run.
        fails: Vec<ArrayEvent>,
    },
    /// A real device or file; writes only with `allow_write`, within the workload's span.
    Real { path: PathBuf, allow_write: bool },
    /// An md raid5 array over real devices or files (`--real --raid-dev A,B,C,D`), in role
    /// order; each member is used only within the rows of chunks the workload's span needs.
    RealRaid5 {
        paths: Vec<PathBuf>,
        /// Spare devices, added in order by the `fails`' spare events (one each).
        spare_paths: Vec<PathBuf>,
        config: Raid5Config,
        /// Members to fail and spares to add during the run.
        fails: Vec<ArrayEvent>,
        allow_write: bool,
        /// Skip the initial resync (mdadm --assume-clean): the members' parity is trusted.
        assume_clean: bool,
    },
}

/// The refusal of a real array without `--allow-write`.
pub fn real_raid5_needs_allow_write(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!(
        "an md raid5 array writes parity to its members (its initial resync, and every write): \
         pass --allow-write to let dmsim overwrite {} (within the rows the span needs)",
        names.join(", ")
    )
}

/// What a finished linear run produced.
pub struct LinearRunOutput {
    pub report: RunReport,
    /// Lines printed after the summary (failed bios, the array's end and missed events).
    pub notes: Vec<String>,
    /// The first read that returned wrong data, if any.
    pub first_data_error: Option<String>,
    /// Bios that ended in an IO error.
    pub failed_bios: u64,
    /// Faults were injected (member failures of an `--hdd-raid5` array), so IO errors are an
    /// outcome of the run, as with flashcache (`cache_run`), not a failure of it; without
    /// injected faults a failed bio fails the run.
    pub faults_injected: bool,
}

/// Runs `workload` on the linear target over `device`; `progress(bios_done)` is called
/// between slices of virtual time.
pub fn run_linear(
    device: LinearDevice,
    workload: &GeneratedWorkload,
    perturb_ties_seed: Option<u64>,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<LinearRunOutput, RunError> {
    let engine_config = EngineConfig {
        arena_pages: arena_pages_for(workload.qd, workload.bs).map_err(RunError::Input)?,
        ..EngineConfig::default()
    };
    let linear = TargetSpec::Linear {
        device: DeviceId(0),
        offset_sectors: 0,
    };
    let seed = workload.seed;
    // Simulated runs are reproducible: the summary embeds what reruns them.
    let run_spec = match &device {
        LinearDevice::Sim { .. } | LinearDevice::Raid5 { .. } => Some(
            SpecFile::Linear(Box::new(LinearRunSpec {
                device: device.clone(),
                workload: workload.clone(),
                perturb_ties_seed,
            }))
            .to_value()?,
        ),
        LinearDevice::Real { .. } | LinearDevice::RealRaid5 { .. } => None,
    };
    let mut stats = BTreeMap::new();
    // The array's failures and end state (`--hdd-raid5`), for `config.raid5`.
    let mut raid5_config: Option<serde_json::Value> = None;
    let mut notes = Vec::new();
    let mut faults_injected = false;
    let (device_name, platform_name, drive_report, verifier, spec) = match device {
        LinearDevice::Raid5 {
            text,
            preset,
            members,
            params,
            config,
            fails,
        } => {
            let spares = spare_count(&fails);
            faults_injected = fails.len() > spares;
            let mut devices = Vec::with_capacity(members);
            let mut names = Vec::with_capacity(members);
            for member in 0..members {
                let model = params
                    .build(Box::new(stream(seed, &format!("device.{member}"))))
                    .map_err(|e| RunError::Input(e.to_string()))?;
                names.push(format!("{preset}.{member}"));
                devices.push(SimDevice::new(format!("{preset}.{member}"), model));
            }
            // Spares are the devices after the members, of the same preset.
            for spare in 0..spares {
                let name = format!("{preset}.spare{spare}");
                let model = params
                    .build(Box::new(stream(seed, &format!("device.{name}"))))
                    .map_err(|e| RunError::Input(e.to_string()))?;
                devices.push(SimDevice::new(name.clone(), model));
                names.push(name);
            }
            let options = SimOptions { perturb_ties_seed };
            let mut platform = SimPlatform::with_options(devices, options);
            let (target, engine_config, array) =
                linear_over_raid5(members, spares, &config, engine_config);
            let mut engine = Engine::new(engine_config, platform.device_infos(), target)
                .map_err(|e| RunError::Input(format!("--hdd-raid5 {text}: {e}")))?;
            let capacity_bytes = engine.volume_sectors() * 512;
            let span_bytes = workload.span_bytes.unwrap_or(capacity_bytes);
            check_span(span_bytes, capacity_bytes, workload.bs).map_err(RunError::Input)?;
            let (mut source, spec) = workload.source(span_bytes).map_err(RunError::Input)?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut verifier = Verifier::new(&names, true);
            let mut fails =
                FailSchedule::new(array, &fails).with_spin_guard(workload.requests.is_none());
            let start_ns = platform.now_ns();
            let report = drive_in_slices(start_ns, progress, |options| {
                let report = fails.drive(
                    &mut engine,
                    &mut platform,
                    &mut source,
                    &mut verifier,
                    options.time_limit_ns,
                )?;
                verifier.sample_array(report.end_ns, &engine);
                Ok::<_, RunError>((report, verifier.run_progress(&engine)))
            })?;
            check_sim_violations(&platform)?;
            check_engine_invariants(&engine)?;
            for note in fails.missed_notes(report.end_ns) {
                notes.push(note);
            }
            for (device, status) in engine.stacked_status() {
                raid5_config = Some(fails.end_status(&status));
                stats.extend(
                    status
                        .counters
                        .iter()
                        .chain(&status.gauges)
                        .map(|(name, value)| (format!("{}.{name}", status.kind), *value)),
                );
                notes.push(format!("{device}: {}", status.text));
            }
            (format!("raid5 {text}"), "sim", report, verifier, spec)
        }
        LinearDevice::RealRaid5 {
            paths,
            spare_paths,
            config,
            fails,
            allow_write,
            assume_clean,
        } => {
            if !allow_write {
                return Err(RunError::Input(real_raid5_needs_allow_write(&paths)));
            }
            let spares = spare_count(&fails);
            check_spare_devices(spares, spare_paths.len()).map_err(RunError::Input)?;
            faults_injected = fails.len() > spares;
            let members = paths.len();
            let opened = open_array(
                &paths,
                &spare_paths,
                &[],
                config.chunk_sectors,
                workload.span_bytes,
                allow_write,
            )
            .map_err(RunError::Platform)?;
            let mut devices = opened.members;
            devices.extend(opened.spares);
            let names: Vec<String> = paths
                .iter()
                .chain(&spare_paths)
                .map(|p| p.display().to_string())
                .collect();
            let (target, engine_config, array) =
                linear_over_raid5(members, spares, &config, engine_config);
            let mut rig =
                RealRig::build(engine_config, target, devices, PlatformOptions::default())
                    .map_err(|e| {
                        RunError::Platform(format!("{RAID_DEV_FLAG} {}: {e}", names.join(",")))
                    })?;
            let capacity_bytes = rig.engine().volume_sectors() * 512;
            let span_bytes = workload.span_bytes.unwrap_or(capacity_bytes);
            check_span(span_bytes, capacity_bytes, workload.bs).map_err(RunError::Input)?;
            let resync = if assume_clean {
                None
            } else {
                let (engine, platform) = rig.parts_mut();
                let resync = initial_resync(engine, platform, array)?;
                check_real_refusals(rig.platform_mut())?;
                notes.push(resync.note());
                Some(resync)
            };
            let (source, spec) = workload.source(span_bytes).map_err(RunError::Input)?;
            let mut source = source.with_write_id_base(real_run_write_id_base());
            // Real devices held data before the run: never-written sectors may hold anything;
            // the volume is striped with parity, so no device holds it sector for sector.
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut verifier = Verifier::new(&name_refs, false);
            let mut fails =
                FailSchedule::new(array, &fails).with_spin_guard(workload.requests.is_none());
            let start_ns = rig.platform_mut().now_ns();
            let report = drive_in_slices(start_ns, progress, |options| {
                let (engine, platform) = rig.parts_mut();
                let report = fails.drive(
                    engine,
                    platform,
                    &mut source,
                    &mut verifier,
                    options.time_limit_ns,
                )?;
                verifier.sample_array(report.end_ns, engine);
                Ok::<_, RunError>((report, verifier.run_progress(engine)))
            })?;
            check_real_refusals(rig.platform_mut())?;
            check_engine_invariants(rig.engine())?;
            for note in fails.missed_notes(report.end_ns) {
                notes.push(note);
            }
            for (device, status) in rig.engine().stacked_status() {
                let mut end = fails.end_status(&status);
                end["members"] = names[..members].to_vec().into();
                if spares > 0 {
                    end["spare_devices"] = names[members..].to_vec().into();
                }
                end["config"] = serde_json::json!(config);
                end["assume_clean"] = assume_clean.into();
                if let Some(resync) = resync {
                    end["initial_resync"] = resync.to_json();
                }
                raid5_config = Some(end);
                stats.extend(
                    status
                        .counters
                        .iter()
                        .chain(&status.gauges)
                        .map(|(name, value)| (format!("{}.{name}", status.kind), *value)),
                );
                notes.push(format!("{device}: {}", status.text));
            }
            (
                format!("raid5 {}", names[..members].join(",")),
                "real",
                report,
                verifier,
                spec,
            )
        }
        LinearDevice::Real { path, allow_write } => {
            if workload.kind.writes() && !allow_write {
                return Err(RunError::Input(format!(
                    "the {} workload writes to {}; pass --allow-write to let dmsim overwrite it (within --span)",
                    workload.kind.name(),
                    path.display()
                )));
            }
            let range = workload.span_bytes.map(|bytes| (0, bytes / 512));
            let device = RealDevice::open(&path, OpenOptions { allow_write, range })
                .map_err(|e| RunError::Platform(e.to_string()))?;
            let span_bytes = device.info().capacity_sectors * 512;
            check_span(span_bytes, span_bytes, workload.bs).map_err(RunError::Input)?;
            let mut rig = RealRig::build(
                engine_config,
                linear,
                vec![device],
                PlatformOptions::default(),
            )
            .map_err(|e| RunError::Platform(e.to_string()))?;
            let (source, spec) = workload.source(span_bytes).map_err(RunError::Input)?;
            let mut source = source.with_write_id_base(real_run_write_id_base());
            // A real device held data before the run: never-written sectors may hold anything.
            let name = path.display().to_string();
            let mut verifier =
                Verifier::new(&[name.as_str()], false).with_volume_device(DeviceId(0), 0);
            let start_ns = rig.platform_mut().now_ns();
            let report = drive_in_slices(start_ns, progress, |options| {
                let report = rig
                    .drive(&mut source, &mut verifier, options)
                    .map_err(|e| RunError::Engine(e.to_string()))?;
                Ok::<_, RunError>((report, verifier.run_progress(rig.engine())))
            })?;
            check_real_refusals(rig.platform_mut())?;
            check_engine_invariants(rig.engine())?;
            (name, "real", report, verifier, spec)
        }
        LinearDevice::Sim { name, params } => {
            let model = params
                .build(Box::new(stream(seed, "device.0")))
                .map_err(|e| RunError::Input(e.to_string()))?;
            let device = SimDevice::new(name.clone(), model);
            let capacity_bytes = device.capacity_sectors() * 512;
            let span_bytes = workload.span_bytes.unwrap_or(capacity_bytes);
            check_span(span_bytes, capacity_bytes, workload.bs).map_err(RunError::Input)?;
            let options = SimOptions { perturb_ties_seed };
            let mut platform = SimPlatform::with_options(vec![device], options);
            let mut engine = Engine::new(engine_config, platform.device_infos(), linear)
                .map_err(|e| RunError::Input(e.to_string()))?;
            let (mut source, spec) = workload.source(span_bytes).map_err(RunError::Input)?;
            let mut verifier =
                Verifier::new(&[name.as_str()], true).with_volume_device(DeviceId(0), 0);
            let start_ns = platform.now_ns();
            let report = drive_in_slices(start_ns, progress, |options| {
                let report = drive(
                    &mut engine,
                    &mut platform,
                    &mut source,
                    &mut verifier,
                    options,
                )
                .map_err(|e| RunError::Engine(e.to_string()))?;
                Ok::<_, RunError>((report, verifier.run_progress(&engine)))
            })?;
            check_sim_violations(&platform)?;
            check_engine_invariants(&engine)?;
            (name, "sim", report, verifier, spec)
        }
    };
    if let DriveOutcome::Stalled { waiting } = &drive_report.outcome {
        return Err(deadlock(drive_report.end_ns, waiting));
    }
    let first_data_error = verifier.first_data_error();
    let failed_bios = verifier.failed_bios();
    let kind = workload.kind.name();
    let mut config = serde_json::json!({
        "target": "linear", "device": device_name, "trace": format!("workload:{kind}"),
        "workload": spec.to_string(),
        "bs": workload.bs, "qd": workload.qd, "seed": seed, "platform": platform_name,
        "dmsim_version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(seed) = perturb_ties_seed {
        config["perturb_ties_seed"] = seed.into();
    }
    if let Some(raid5) = raid5_config {
        config["raid5"] = raid5;
    }
    if failed_bios > 0 && faults_injected {
        stats.insert("failed_requests".to_string(), failed_bios);
    }
    let mut report = verifier.finish(
        &format!("linear/{kind}"),
        config,
        stats,
        drive_report.end_ns,
    );
    report.spec = run_spec;
    notes.insert(0, format!("failed bios {failed_bios}"));
    Ok(LinearRunOutput {
        report,
        notes,
        first_data_error,
        failed_bios,
        faults_injected,
    })
}

/// Virtual time between two progress updates of a linear run.
const PROGRESS_SLICE_NS: u64 = 10_000_000;

/// Drives a run in slices of virtual time, showing progress between them; `slice` drives
/// until the time it is given and returns its report with the progress so far. Stopping at a
/// time limit and going on is exact (the engine's state is all in its inputs), so the slices
/// change no result.
fn drive_in_slices<E>(
    start_ns: u64,
    progress: &mut dyn FnMut(&RunProgress),
    mut slice: impl FnMut(&DriveOptions) -> Result<(DriveReport, RunProgress), E>,
) -> Result<DriveReport, E> {
    let mut limit_ns = start_ns + PROGRESS_SLICE_NS;
    loop {
        let options = DriveOptions {
            time_limit_ns: Some(limit_ns),
            ..DriveOptions::default()
        };
        let (report, run_progress) = slice(&options)?;
        progress(&run_progress);
        match report.outcome {
            DriveOutcome::TimeLimit => {
                limit_ns = report.end_ns.max(limit_ns) + PROGRESS_SLICE_NS;
            }
            _ => return Ok(report),
        }
    }
}

/// Linear over an md raid5 array of devices `0..members` with spares after them; the array is
/// the device after the spares (returned third). The arena grows by the stripe cache's pages.
fn linear_over_raid5(
    members: usize,
    spares: usize,
    config: &Raid5Config,
    engine_config: EngineConfig,
) -> (TargetSpec, EngineConfig, DeviceId) {
    let array = DeviceId((members + spares) as u16);
    let target = TargetSpec::Stack {
        lower: vec![TargetSpec::Raid5 {
            members: (0..members).map(|m| DeviceId(m as u16)).collect(),
            config: config.clone(),
            spares: (members..members + spares)
                .map(|d| DeviceId(d as u16))
                .collect(),
        }],
        upper: Box::new(TargetSpec::Linear {
            device: array,
            offset_sectors: 0,
        }),
    };
    let engine_config = EngineConfig {
        arena_pages: engine_config
            .arena_pages
            .saturating_add(config.stripe_cache_size * members as u32),
        ..engine_config
    };
    (target, engine_config, array)
}
