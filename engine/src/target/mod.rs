//! Targets: what maps the volume's bio pieces onto devices, and how the engine talks to them.
//!
//! A target receives [`TargetIo`] pieces from dm core (already split at its `max_io_len`),
//! issues work through [`Services`] with [`crate::services::Caller`] cookies of its choosing,
//! receives the matching [`ServiceEvent`]s, and reports each piece finished by pushing
//! `(bio, status)` onto the list it is handed. Targets are an enum, not trait objects: the set
//! is closed and known (linear, flashcache, md raid5).
//!
//! Deliberately not here: bio admission and completion (dm core), the services themselves.

use crate::block::{DeviceId, IoStatus};
use crate::config::AnomalyPolicy;
use crate::error::{Anomaly, EngineError, WaitingJob};
use crate::flashcache::FlashcacheConfig;
use crate::raid5::Raid5Config;

use crate::services::{ServiceEvent, Services};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod flashcache;
mod io;
mod linear;
mod raid5;
mod status;

pub use io::{BioKey, TargetIo};
pub use status::{TargetStatus, TargetView};

use flashcache::FlashcacheTarget;
pub use flashcache::{FlashcacheState, KcopydGeneration, BIO_PID};
use linear::LinearTarget;
use raid5::Raid5Target;

/// Which target the engine's volume uses, with its table line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
// Built once per engine: the size difference costs nothing worth a Box in every pattern.
#[allow(clippy::large_enum_variant)]
pub enum TargetSpec {
    /// dm-linear: the volume is `device` from `offset_sectors` to its end.
    Linear {
        device: DeviceId,
        #[serde(default)]
        offset_sectors: u64,
    },
    /// flashcache (specs/flashcache.md) caching `disk` on `ssd`. The volume is the table
    /// line's `target_sectors` (at most the disk's size); `config` holds the table line, the
    /// tunables and the project's options, all recorded when serialised.
    Flashcache {
        ssd: DeviceId,
        disk: DeviceId,
        config: FlashcacheConfig,
        /// The generation of the target's one kcopyd client (classic by default).
        #[serde(default)]
        kcopyd: KcopydGeneration,
    },
    /// md raid5 (specs/md-raid5.md) over `members` in role order; the volume is the array.
    /// `spares`: devices reserved for the array, not in it until added (`add` message).
    Raid5 {
        members: Vec<DeviceId>,
        config: Raid5Config,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        spares: Vec<DeviceId>,
    },
    /// A stack: each `lower` target (raid5) is presented to the targets after it as one more
    /// device, numbered after the platform's devices in order (the first lower target of an
    /// engine over 5 devices is `DeviceId(5)`), and `upper` is the volume's target, naming
    /// those devices like any other (flashcache with `disk: 5`, linear over 5). See
    /// `crate::engine` for how IO crosses the layers.
    Stack {
        lower: Vec<TargetSpec>,
        upper: Box<TargetSpec>,
    },
}

impl TargetSpec {
    /// The devices the spec names (a stack's: those of every layer).
    pub fn devices(&self) -> Vec<DeviceId> {
        match self {
            TargetSpec::Linear { device, .. } => vec![*device],
            TargetSpec::Flashcache { ssd, disk, .. } => vec![*ssd, *disk],
            TargetSpec::Raid5 {
                members, spares, ..
            } => members.iter().chain(spares).copied().collect(),
            TargetSpec::Stack { lower, upper } => lower
                .iter()
                .chain([upper.as_ref()])
                .flat_map(TargetSpec::devices)
                .collect(),
        }
    }

    /// A flashcache target with the classic kcopyd client.
    pub fn flashcache(ssd: DeviceId, disk: DeviceId, config: FlashcacheConfig) -> TargetSpec {
        TargetSpec::Flashcache {
            ssd,
            disk,
            config,
            kcopyd: KcopydGeneration::Classic,
        }
    }
}

/// The engine's target. See the module documentation.
#[derive(Debug)]
pub(crate) enum Target {
    Linear(Box<LinearTarget>),
    Flashcache(Box<FlashcacheTarget>),
    Raid5(Box<Raid5Target>),
}

impl Target {
    pub fn new(
        spec: &TargetSpec,
        anomaly_policy: AnomalyPolicy,
        services: &mut Services,
    ) -> Result<Target, EngineError> {
        match spec {
            TargetSpec::Linear {
                device,
                offset_sectors,
            } => Ok(Target::Linear(Box::new(LinearTarget::new(
                *device,
                *offset_sectors,
                services,
            )?))),
            TargetSpec::Flashcache {
                ssd,
                disk,
                config,
                kcopyd,
            } => Ok(Target::Flashcache(Box::new(FlashcacheTarget::new(
                *ssd,
                *disk,
                config,
                *kcopyd,
                anomaly_policy,
                services,
            )?))),
            TargetSpec::Raid5 {
                members,
                config,
                spares,
            } => Ok(Target::Raid5(Box::new(Raid5Target::new(
                members, spares, config, services,
            )?))),
            TargetSpec::Stack { .. } => Err(EngineError::BadTarget(
                "a stack is built by the engine, and stacks do not nest".to_string(),
            )),
        }
    }

    /// The devices this target submits raw IO to and nothing else may use (a raid5 array's
    /// members), for the engine's routing of completions in a stack.
    pub fn owned_devices(&self) -> &[DeviceId] {
        match self {
            Target::Raid5(t) => t.owned_devices(),
            Target::Linear(_) | Target::Flashcache(_) => &[],
        }
    }

    /// The target as a device an upper target can stack on (raid5 only), see
    /// `crate::engine`.
    pub fn stacked_device_info(&self) -> Option<crate::block::DeviceInfo> {
        match self {
            Target::Raid5(t) => Some(t.device_info()),
            Target::Linear(_) | Target::Flashcache(_) => None,
        }
    }

    /// A typed view of the target (see [`TargetView`]).
    pub fn view(&self) -> TargetView<'_> {
        match self {
            Target::Linear(_) => TargetView::Linear,
            Target::Flashcache(t) => TargetView::Flashcache {
                state: t.state(),
                machine: t.flashcache(),
            },
            Target::Raid5(t) => TargetView::Raid5 {
                machine: t.machine(),
            },
        }
    }

    /// The text of the target's status alone ([`TargetStatus::text`]), without serialising
    /// its counters: for probes after every input.
    pub fn status_text(&self) -> String {
        match self {
            Target::Linear(t) => t.table_line(),
            Target::Flashcache(t) => t
                .flashcache()
                .map_or_else(String::new, |machine| flashcache_text(&machine.status())),
            Target::Raid5(t) => raid5_text(t),
        }
    }

    /// The target's status (see [`TargetStatus`]).
    pub fn status(&self) -> TargetStatus {
        match self {
            Target::Linear(t) => TargetStatus {
                kind: "linear",
                state: "running".to_string(),
                text: t.table_line(),
                counters: BTreeMap::new(),
                gauges: BTreeMap::new(),
            },
            Target::Flashcache(t) => {
                let state = match t.state() {
                    FlashcacheState::SettingUp => "setting up".to_string(),
                    FlashcacheState::Running => "running".to_string(),
                    FlashcacheState::Failed(error) => format!("setup failed: {error}"),
                };
                let Some(machine) = t.flashcache() else {
                    return TargetStatus {
                        kind: "flashcache",
                        state,
                        text: String::new(),
                        counters: BTreeMap::new(),
                        gauges: BTreeMap::new(),
                    };
                };
                let report = machine.status();
                let mut counters = status::numeric_fields(&report.stats);
                counters.extend(status::numeric_fields(&report.errors));
                TargetStatus {
                    kind: "flashcache",
                    state,
                    text: flashcache_text(&report),
                    counters,
                    gauges: status::numeric_fields(&report.gauges),
                }
            }
            Target::Raid5(t) => {
                let machine = t.machine();
                let mut gauges = BTreeMap::new();
                gauges.insert(
                    "stripe_cache_active".to_string(),
                    machine.stripe_cache_active() as u64,
                );
                gauges.insert(
                    "stripe_cache_size".to_string(),
                    u64::from(machine.config().stripe_cache_size),
                );
                gauges.insert("degraded".to_string(), machine.degraded() as u64);
                gauges.insert("mismatch_cnt".to_string(), machine.mismatch_cnt());
                // A pass still running when the status is taken (0 of 0 when none runs).
                let (done, total) = machine.sync_progress().unwrap_or((0, 0));
                gauges.insert("sync_done_sectors".to_string(), done);
                gauges.insert("sync_total_sectors".to_string(), total);
                gauges.insert(
                    "sync_speed_kib_s".to_string(),
                    machine.sync_speed_kib_s().unwrap_or(0),
                );
                gauges.insert(
                    "recovery_duration_ns".to_string(),
                    machine.recovery_duration_ns().unwrap_or(0),
                );
                if let Some((dirty, bitmap_chunks)) = machine.array_state() {
                    gauges.insert("array_dirty".to_string(), u64::from(dirty));
                    gauges.insert("bitmap_dirty_chunks".to_string(), bitmap_chunks);
                }
                gauges.insert(
                    "rebuilding_member".to_string(),
                    machine.rebuilding_member().map_or(0, |m| m as u64 + 1),
                );
                TargetStatus {
                    kind: "raid5",
                    state: if machine.degraded() > 1 {
                        "failed".to_string()
                    } else if machine.degraded() == 1 {
                        "degraded".to_string()
                    } else {
                        "running".to_string()
                    },
                    text: raid5_text(t),
                    counters: status::numeric_fields(&machine.stats()),
                    gauges,
                }
            }
        }
    }

    /// The volume's size.
    pub fn volume_sectors(&self) -> u64 {
        match self {
            Target::Linear(t) => t.volume_sectors(),
            Target::Flashcache(t) => t.volume_sectors(),
            Target::Raid5(t) => t.volume_sectors(),
        }
    }

    /// The volume's logical block in sectors (bios must be aligned to it).
    pub fn block_sectors(&self) -> u64 {
        match self {
            Target::Linear(t) => t.block_sectors(),
            Target::Flashcache(t) => t.block_sectors(),
            Target::Raid5(t) => t.block_sectors(),
        }
    }

    /// Pieces never cross a multiple of this many sectors (`None`: no limit).
    pub fn max_io_len(&self) -> Option<u64> {
        match self {
            Target::Linear(_) | Target::Raid5(_) => None,
            Target::Flashcache(t) => t.max_io_len(),
        }
    }

    pub fn map(
        &mut self,
        io: TargetIo,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        match self {
            Target::Linear(t) => t.map(io, services, finished),
            Target::Flashcache(t) => t.map(io, services, finished),
            Target::Raid5(t) => t.map(io, services, finished),
        }
    }

    pub fn on_event(
        &mut self,
        event: ServiceEvent,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        match self {
            Target::Linear(t) => t.on_event(event, services, finished),
            Target::Flashcache(t) => t.on_event(event, services, finished),
            Target::Raid5(t) => t.on_event(event, services, finished),
        }
    }

    /// Work the target deferred to the engine's settle loop (a worker to run, requests
    /// waiting for memory); true if anything ran.
    pub fn run_deferred(
        &mut self,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> bool {
        match self {
            Target::Linear(_) | Target::Raid5(_) => false,
            Target::Flashcache(t) => t.run_deferred(services, finished),
        }
    }

    /// The deadline this target needs a tick at (its own timers).
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        match self {
            Target::Linear(_) => None,
            Target::Flashcache(t) => t.poll_deadline(),
            Target::Raid5(t) => t.poll_deadline(),
        }
    }

    pub fn on_tick(&mut self, services: &mut Services, finished: &mut Vec<(BioKey, IoStatus)>) {
        match self {
            Target::Linear(_) => {}
            Target::Flashcache(t) => t.on_tick(services, finished),
            Target::Raid5(t) => t.on_tick(services, finished),
        }
    }

    /// A `dmsetup message` for the target.
    pub fn message(
        &mut self,
        message: &str,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> Result<(), String> {
        match self {
            Target::Linear(_) => Err(format!("linear accepts no messages (got {message:?})")),
            Target::Flashcache(t) => t.message(message, services, finished),
            Target::Raid5(t) => t.message(message, services, finished),
        }
    }

    /// Reports an anomaly as a flashcache target would (tests of the policy only).
    #[cfg(test)]
    pub(crate) fn inject_anomaly(&mut self, description: &str) {
        match self {
            Target::Flashcache(t) => t.inject_anomaly(description),
            Target::Linear(_) | Target::Raid5(_) => {
                panic!("only the flashcache adapter records anomalies")
            }
        }
    }

    /// Anomalies recorded under [`AnomalyPolicy::Record`].
    pub fn anomalies(&self) -> &[Anomaly] {
        match self {
            Target::Linear(_) | Target::Raid5(_) => &[],
            Target::Flashcache(t) => t.anomalies(),
        }
    }

    pub fn is_idle(&self) -> bool {
        match self {
            Target::Linear(t) => t.is_idle(),
            Target::Flashcache(t) => t.is_idle(),
            Target::Raid5(t) => t.is_idle(),
        }
    }

    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        match self {
            Target::Linear(t) => t.waiting_report(out),
            Target::Flashcache(t) => t.waiting_report(out),
            Target::Raid5(t) => t.waiting_report(out),
        }
    }

    pub fn check_invariants(&self, services: &Services) -> Result<(), String> {
        match self {
            Target::Linear(t) => t.check_invariants(),
            Target::Flashcache(t) => t.check_invariants(services),
            Target::Raid5(t) => t.check_invariants(),
        }
    }

    /// [`Target::check_invariants`], but flashcache checks only the blocks changed since the
    /// last call and raid5 only the stripe heads (a full check every so many calls; see
    /// [`crate::flashcache::Flashcache::check_invariants_incremental`],
    /// [`crate::raid5::Raid5::check_invariants_incremental`]).
    pub fn check_invariants_incremental(&mut self, services: &Services) -> Result<(), String> {
        match self {
            Target::Linear(t) => t.check_invariants_incremental(),
            Target::Flashcache(t) => t.check_invariants_incremental(services),
            Target::Raid5(t) => t.check_invariants_incremental(),
        }
    }
}

/// A running flashcache target's status text: `dmsetup status`, then `dmsetup table`.
fn flashcache_text(report: &crate::flashcache::StatusReport) -> String {
    format!("{}\n{}", report.render_status(), report.render_table())
}

/// A raid5 target's status text: mdstat, then `dmsetup table`.
fn raid5_text(t: &Raid5Target) -> String {
    format!(
        "{}\n{}",
        raid5::render_mdstat("md0", t.members(), t.hot_spares(), t.machine()),
        t.table_line()
    )
}
