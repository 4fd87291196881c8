//! One simulated flashcache run over a stream of records: SSD and HDD simulated devices, the
//! engine with the flashcache target, every read verified by the data oracle, and a
//! [`RunReport`] with flashcache's counters under their own names. Shared by `replay` and
//! `compare`; deterministic for a given setup, record stream and seed.

use crate::check::{check_engine_invariants, check_real_refusals, check_sim_violations, deadlock};
use crate::checked_records::CheckedRecords;
use crate::raid5_fail::FailSchedule;
use crate::run_error::RunError;
use crate::run_progress::RunProgress;
use crate::setup::{CacheSetup, VolumeTarget};
use crate::sim_machine::{self, SimMachine};
use crate::verifier::{real_run_write_id_base, Verifier};
use dmsim_engine::flashcache::SetupError;
use dmsim_engine::{
    drive_with_buffers, DeviceId, DriveBuffers, DriveOutcome, Engine, FlashcacheState, Platform,
    TargetView,
};
use dmsim_real::{PlatformOptions, RealDevice, RealRig};
use dmsim_reports::{CacheLookups, RunReport};
use dmsim_scenarios::source::{Pacing, RecordSource};
use dmsim_scenarios::traces::TraceRecord;
use std::collections::BTreeMap;

/// The error of a flashcache setup that failed: for an existing cache, what to do; any
/// other failure is the devices' (an IO error while reading or writing the metadata).
fn setup_failure(ssd: &str, error: &SetupError) -> RunError {
    match error {
        SetupError::ExistingCache => RunError::Input(format!(
            "{ssd} already holds a flashcache cache ({error}); pass --existing-cache load to \
             load it (as flashcache_load does), or --existing-cache force-create to overwrite \
             it (as flashcache_create -f does)"
        )),
        _ => RunError::Platform(format!(
            "the flashcache target could not be set up: {error}"
        )),
    }
}

/// Virtual time between two samples of the cache gauges (and progress updates).
const SAMPLE_INTERVAL_NS: u64 = 10_000_000;

/// What a finished run produced besides its report.
pub struct CacheRunOutput {
    pub report: RunReport,
    /// flashcache's `dmsetup status`-like text at the end of the run.
    pub status_text: String,
    /// Records the replay could not express as bios (e.g. blkparse `N`).
    pub skipped_records: u64,
    /// Times a write waited for an overlapping write in flight.
    pub overlap_waits: u64,
    /// What the user should know about the run's result (requests that failed with IO
    /// errors); the front end prints them as warnings.
    pub warnings: Vec<String>,
}

/// Where a cache run's devices are.
pub enum CacheDevices {
    /// Simulated devices from the setup's presets.
    Sim,
    /// Real devices (opened by the caller with writes allowed): the SSD and the disk.
    Real { ssd: RealDevice, hdd: RealDevice },
    /// Real devices: the SSD and the members and spares of the setup's raid5 array (role
    /// order, opened with [`crate::real_raid5::open_array`]); the disk is the array.
    /// `assume_clean` skips the array's initial resync (mdadm --assume-clean).
    RealRaid5 {
        ssd: RealDevice,
        members: Vec<RealDevice>,
        spares: Vec<RealDevice>,
        assume_clean: bool,
    },
}

/// Run `records` through flashcache as `setup` describes, on `devices`, issuing nothing at or
/// after `stop_at_ns`. `progress(bios_done)` is called every sampling interval. The first
/// error of `records` (or a refused open-loop gap) ends the records and is the run's error:
/// it explains the run, not the result.
#[allow(clippy::too_many_arguments)]
pub fn run_cache<I: Iterator<Item = Result<TraceRecord, String>>>(
    setup: &CacheSetup,
    devices: CacheDevices,
    records: I,
    pacing: Pacing,
    stop_at_ns: Option<u64>,
    seed: u64,
    label: &str,
    config: serde_json::Value,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<CacheRunOutput, RunError> {
    let mut checked = CheckedRecords::new(records, pacing);
    let result = run_cache_checked(
        setup,
        devices,
        &mut checked,
        pacing,
        stop_at_ns,
        seed,
        label,
        config,
        progress,
    );
    if let Some(message) = checked.into_error() {
        return Err(RunError::Input(message));
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn run_cache_checked<I: Iterator<Item = TraceRecord>>(
    setup: &CacheSetup,
    devices: CacheDevices,
    records: I,
    pacing: Pacing,
    stop_at_ns: Option<u64>,
    seed: u64,
    label: &str,
    config: serde_json::Value,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<CacheRunOutput, RunError> {
    let engine_config = sim_machine::engine_config(setup);
    let linear = setup.target == VolumeTarget::Linear;
    let disk = sim_machine::volume_device(setup);
    let target = sim_machine::target(setup);
    let mut config = config;
    if let Some(raid) = &setup.raid5 {
        config["raid5"] = serde_json::json!({
            "members": raid.members,
            "spares": raid.spares,
            "member": setup.hdd_name,
            "config": raid.config,
            "array_sectors": raid.array_sectors,
        });
    }
    let mut source = RecordSource::new(records, pacing);
    if let Some(stop) = stop_at_ns {
        source = source.stop_at(stop);
    }
    match devices {
        CacheDevices::Sim => {
            let mut machine = SimMachine::new(setup, seed)?;
            let names = sim_machine::device_names(setup);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let verifier = match &setup.raid5 {
                // The volume is striped with parity: no device holds it sector for sector.
                Some(_) => Verifier::new(&names, true),
                None => Verifier::new(&names, true).with_volume_device(disk, 0),
            };
            let mut engine = machine.engine()?;
            let fails =
                FailSchedule::new(disk, setup.raid5.as_ref().map_or(&[][..], |r| &r.fails[..]))
                    .with_spin_guard(setup.raid5.as_ref().is_some_and(|r| r.spin_guard));
            let output = drive_cache(
                &mut engine,
                &mut machine.platform,
                &mut source,
                verifier,
                fails,
                label,
                config,
                progress,
            )?;
            check_sim_violations(&machine.platform)?;
            check_engine_invariants(&engine)?;
            Ok(output)
        }
        CacheDevices::Real { .. } if setup.raid5.is_some() => Err(RunError::Input(
            "--hdd-raid5 runs on simulated members; on real ones give --real --raid-dev \
             A,B,C,D"
                .to_string(),
        )),
        CacheDevices::RealRaid5 { .. } if linear => Err(RunError::Input(
            "replay --target linear runs on simulated devices; on a real array use `dmsim run \
             --real --target linear --raid-dev A,B,C,D`"
                .to_string(),
        )),
        CacheDevices::RealRaid5 {
            ssd,
            members,
            spares,
            assume_clean,
        } => {
            let Some(raid) = &setup.raid5 else {
                return Err(RunError::Input(
                    "real raid5 members without a raid5 setup".to_string(),
                ));
            };
            if raid.members != members.len() {
                return Err(RunError::Input(format!(
                    "the raid5 setup has {} members; {} real members were given",
                    raid.members,
                    members.len()
                )));
            }
            crate::real_raid5::check_spare_devices(raid.spares, spares.len())
                .map_err(RunError::Input)?;
            let mut source = source.with_write_id_base(real_run_write_id_base());
            let mut names = vec![ssd.path().display().to_string()];
            names.extend(
                members
                    .iter()
                    .chain(&spares)
                    .map(|m| m.path().display().to_string()),
            );
            let mut devices = vec![ssd];
            devices.extend(members);
            devices.extend(spares);
            let mut rig =
                RealRig::build(engine_config, target, devices, PlatformOptions::default())
                    .map_err(|e| RunError::Platform(format!("cannot build the cache: {e}")))?;
            let mut config = config;
            let mut resync_note = None;
            if !assume_clean {
                let (engine, platform) = rig.parts_mut();
                let resync = crate::real_raid5::initial_resync(engine, platform, disk)?;
                check_real_refusals(rig.platform_mut())?;
                config["raid5"]["initial_resync"] = resync.to_json();
                resync_note = Some(resync.note());
            }
            config["raid5"]["assume_clean"] = assume_clean.into();
            config["raid5"]["member_devices"] = names[1..=raid.members].to_vec().into();
            if raid.spares > 0 {
                config["raid5"]["spare_devices"] = names[raid.members + 1..].to_vec().into();
            }
            // Real devices held data before the run: never-written sectors may hold anything;
            // the volume is striped with parity, so no device holds it sector for sector.
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let verifier = Verifier::new(&name_refs, false);
            let (engine, platform) = rig.parts_mut();
            let mut output = drive_cache(
                engine,
                platform,
                &mut source,
                verifier,
                FailSchedule::new(disk, &raid.fails).with_spin_guard(raid.spin_guard),
                label,
                config,
                progress,
            )?;
            if let Some(note) = resync_note {
                output.status_text = format!("{note}\n{}", output.status_text);
            }
            check_real_refusals(rig.platform_mut())?;
            check_engine_invariants(rig.engine())?;
            Ok(output)
        }
        CacheDevices::Real { .. } if linear => Err(RunError::Input(
            "replay --target linear runs on simulated devices; on a real device use `dmsim run \
             --real --target linear --dev PATH`"
                .to_string(),
        )),
        CacheDevices::Real { ssd, hdd } => {
            let mut source = source.with_write_id_base(real_run_write_id_base());
            let names = [
                ssd.path().display().to_string(),
                hdd.path().display().to_string(),
            ];
            let mut rig = RealRig::build(
                engine_config,
                target,
                vec![ssd, hdd],
                PlatformOptions::default(),
            )
            .map_err(|e| RunError::Platform(format!("cannot build the cache: {e}")))?;
            // Real devices held data before the run: never-written sectors may hold anything.
            let verifier = Verifier::new(&[names[0].as_str(), names[1].as_str()], false)
                .with_volume_device(DeviceId(1), 0);
            let (engine, platform) = rig.parts_mut();
            let output = drive_cache(
                engine,
                platform,
                &mut source,
                verifier,
                FailSchedule::new(disk, &[]),
                label,
                config,
                progress,
            )?;
            check_real_refusals(rig.platform_mut())?;
            check_engine_invariants(rig.engine())?;
            Ok(output)
        }
    }
}

/// The drive loop of a cache run on any platform: time slices, gauges sampled between them.
#[allow(clippy::too_many_arguments)]
fn drive_cache<P: Platform, I: Iterator<Item = TraceRecord>>(
    engine: &mut Engine,
    platform: &mut P,
    source: &mut RecordSource<I>,
    mut verifier: Verifier,
    mut fails: FailSchedule,
    label: &str,
    config: serde_json::Value,
    progress: &mut dyn FnMut(&RunProgress),
) -> Result<CacheRunOutput, RunError> {
    let mut limit_ns = platform.now_ns() + SAMPLE_INTERVAL_NS;
    let mut cleanings_seen = 0u64;
    // The cache's cumulative lookup counters at the previous sampling point.
    let mut lookups_seen = CacheLookups::default();
    fails.after_slice(engine, platform.now_ns(), 0)?;
    let mut buffers = DriveBuffers::default();
    let end_ns = loop {
        let options = fails.slice_options(Some(limit_ns));
        let report = drive_with_buffers(
            engine,
            platform,
            source,
            &mut verifier,
            &options,
            &mut buffers,
        )
        .map_err(|e| RunError::Engine(format!("the engine failed: {e}")))?;
        fails.after_slice(engine, platform.now_ns(), report.bios_submitted)?;
        // A slice cut short for a member failure is no sampling point.
        let sample = match report.outcome {
            DriveOutcome::TimeLimit => report.end_ns >= limit_ns,
            DriveOutcome::InputLimit => false,
            DriveOutcome::Finished | DriveOutcome::Stalled { .. } => true,
        };
        if !sample {
            continue;
        }
        if let Some(fc) = engine.target().flashcache() {
            let gauges = fc.gauges();
            let cleanings = fc.stats().cleanings;
            let recorder = verifier.recorder_mut();
            recorder.sample_gauges(report.end_ns, gauges.nr_dirty, gauges.cached_blocks);
            if cleanings > cleanings_seen {
                recorder.record_cleanings(report.end_ns, cleanings - cleanings_seen);
                cleanings_seen = cleanings;
            }
            let stats = fc.stats();
            let lookups = CacheLookups {
                reads: stats.reads,
                read_hits: stats.read_hits,
                writes: stats.writes,
                write_hits: stats.write_hits,
            };
            recorder.record_cache_lookups(report.end_ns, lookups.since(&lookups_seen));
            lookups_seen = lookups;
        }
        verifier.sample_array(report.end_ns, engine);
        progress(&verifier.run_progress(engine));
        if let TargetView::Flashcache {
            state: FlashcacheState::Failed(error),
            ..
        } = engine.target()
        {
            let ssd = config["ssd"].as_str().unwrap_or("the SSD").to_string();
            return Err(setup_failure(&ssd, &error));
        }
        match report.outcome {
            DriveOutcome::TimeLimit => limit_ns = report.end_ns.max(limit_ns) + SAMPLE_INTERVAL_NS,
            DriveOutcome::Finished => break report.end_ns,
            DriveOutcome::InputLimit => unreachable!("not a sampling point"),
            DriveOutcome::Stalled { waiting } => return Err(deadlock(report.end_ns, &waiting)),
        }
    };
    if let Some(e) = verifier.first_data_error() {
        return Err(RunError::DataVerification(e.to_string()));
    }
    if verifier.bios_done() == 0 {
        return Err(RunError::Input(
            "no request was replayed: no record matched the filters (--device, --only, --from, \
             --until, --limit), or the input is empty"
                .to_string(),
        ));
    }
    let mut stats = BTreeMap::new();
    if let Some(fc) = engine.target().flashcache() {
        stats.extend(counters(fc.stats()));
        stats.extend(counters(fc.errors()));
        let gauges = fc.gauges();
        stats.insert("cached_blocks".to_string(), gauges.cached_blocks);
        stats.insert("nr_dirty".to_string(), gauges.nr_dirty);
        stats.insert("size_blocks".to_string(), gauges.size_blocks);
    } else if config["target"] != "linear" {
        return Err(RunError::Engine(
            "the engine has no flashcache target".to_string(),
        ));
    }
    let mut status_text = engine.target_status().text;
    let mut config = config;
    for (device, status) in engine.stacked_status() {
        if status.kind == "raid5" && config["raid5"].is_object() {
            if let serde_json::Value::Object(end) = fails.end_status(&status) {
                for (key, value) in end {
                    config["raid5"][key] = value;
                }
            }
        }
        stats.extend(
            status
                .counters
                .iter()
                .chain(&status.gauges)
                .map(|(name, value)| (format!("{}.{name}", status.kind), *value)),
        );
        status_text.push_str(&format!("\n{device}: {}", status.text));
    }
    for note in fails.missed_notes(end_ns) {
        status_text.push_str(&format!("\n{note}"));
    }
    // Requests that ended in an IO error (a failed array, a pulled SSD) are an outcome of
    // the faults injected, not a verification failure: the run succeeds, but says so
    // where a reader looks (stderr, the text summary, summary.json's stats).
    let failed_requests = verifier.failed_bios();
    let mut warnings = Vec::new();
    if failed_requests > 0 {
        stats.insert("failed_requests".to_string(), failed_requests);
        let note = format!(
            "{failed_requests} of {} requests failed with IO errors (EIO returned, never \
             wrong data); the latency figures include them",
            verifier.bios_done()
        );
        status_text.push_str(&format!("\n{note}"));
        warnings.push(note);
    }
    Ok(CacheRunOutput {
        report: verifier.finish(label, config, stats, end_ns),
        status_text,
        skipped_records: source.skipped_records(),
        overlap_waits: source.overlap_waits(),
        warnings,
    })
}

/// The unsigned counters of a serialisable stats struct, by field name.
fn counters<T: serde::Serialize>(stats: &T) -> BTreeMap<String, u64> {
    let value = serde_json::to_value(stats).unwrap_or_default();
    value
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}
