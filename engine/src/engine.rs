//! The engine: one sans-IO state machine made of the services (block layer, dm_io,
//! kcopyd), dm core and a target.
//!
//! Driving contract (what every platform does, see [`crate::platform::drive`]):
//! 1. Feed every input with [`Engine::handle`] and the platform's current time (never going
//!    backwards).
//! 2. After each input, drain [`Engine::poll_output`] and act on every output: `Submit` →
//!    carry the IO out on the arena memory it names, `Cancel` → try to cancel it, `BioDone`
//!    → give it to the workload, `ContentsUnknown` → tell the data oracle.
//! 3. Answer every `Submit` with exactly one `Completion` (also after a `Cancel`).
//! 4. Send [`Input::Tick`] once the time reaches [`Engine::poll_deadline`].
//!
//! A flashcache target starts its setup IO in [`Engine::new`]; the platform's first inputs
//! carry it out, and bios arriving meanwhile wait (see [`Engine::target`]).
//!
//! Stacking ([`TargetSpec::Stack`]): Linux stacks flashcache or dm-linear on md by
//! submitting to the md block device. Here a lower target (raid5) is presented as one more
//! device, numbered after the platform's. The block layer hands IO to such a device to the
//! engine instead of the platform; the engine maps it into the lower target as a piece
//! (named by the IO's tag), the lower target's member IO goes to the platform as usual, and
//! when it finishes the piece, the engine completes the upper IO through the same path as a
//! platform completion. Completions of raw IO to a lower target's member devices go to that
//! target (no other layer may name its members). The upper layers see an ordinary device;
//! the data oracle sees only the volume.
//!
//! Deliberately not here: time, IO, the workload. The engine never reads a clock.

use crate::arena::Arena;
use crate::block::{DeviceId, DeviceInfo, IoStatus};
use crate::bounded::LoopBound;
use crate::config::{AnomalyPolicy, EngineConfig};
use crate::dm_core::{DmCore, DmCoreStats};
use crate::error::{Anomaly, EngineError, InputError, InvariantViolation, WaitingJob};
use crate::io::{Completion, Control, Input, IoTag, Output};
use crate::services::{ServiceStats, Services};
use crate::slab::SlabKey;
use crate::target::{BioKey, TargetIo};
use crate::target::{Target, TargetSpec, TargetStatus, TargetView};
use serde::{Deserialize, Serialize};

/// Rounds of the settle loop for one input; each round runs every component once, so a
/// legitimate input settles in a handful (see [`crate::bounded`]).
const SETTLE_ROUNDS_MAX: u64 = 1 << 20;

/// Counters of the whole engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    pub dm_core: DmCoreStats,
    pub services: ServiceStats,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Engine {
    services: Services,
    core: DmCore,
    target: Target,
    /// A stack's lower targets; `lower[i]` is device `physical_devices + i`.
    lower: Vec<Target>,
    /// For each platform device, the lower target that owns it (its member), if any.
    owner_of_device: Vec<Option<usize>>,
    /// Pieces the lower targets finished, to complete as the IOs of their devices.
    lower_finished: Vec<(BioKey, IoStatus)>,
    anomaly_policy: AnomalyPolicy,
    last_now_ns: u64,
}

impl Engine {
    /// Builds an engine over `devices` (numbered in order: `DeviceId(0)`, ...) with `target`.
    /// A flashcache target's setup IO is already among the outputs when this returns.
    pub fn new(
        config: EngineConfig,
        devices: Vec<DeviceInfo>,
        target: TargetSpec,
    ) -> Result<Engine, EngineError> {
        let mut services = Services::new(&config, devices)?;
        let physical = services.devices().len();
        let (lower_specs, upper_spec) = match &target {
            TargetSpec::Stack { lower, upper } => (lower.as_slice(), upper.as_ref()),
            single => (&[][..], single),
        };
        let mut lower = Vec::with_capacity(lower_specs.len());
        let mut owner_of_device = vec![None; physical];
        for (index, spec) in lower_specs.iter().enumerate() {
            let layer = Target::new(spec, config.anomalies, &mut services)?;
            let bad = |reason: String| {
                Err(EngineError::BadTarget(format!(
                    "stack: lower[{index}]: {reason}"
                )))
            };
            let Some(info) = layer.stacked_device_info() else {
                return bad("only raid5 can be a lower target".to_string());
            };
            for &device in layer.owned_devices() {
                let Some(owner) = owner_of_device.get_mut(usize::from(device.0)) else {
                    return bad(format!("member {device} is not a platform device"));
                };
                if let Some(other) = owner {
                    return bad(format!(
                        "member {device} is already a member of lower[{other}]"
                    ));
                }
                *owner = Some(index);
            }
            services.add_stacked_device(info)?;
            lower.push(layer);
        }
        if let Some(&device) = upper_spec.devices().iter().find(|d| {
            owner_of_device
                .get(usize::from(d.0))
                .copied()
                .flatten()
                .is_some()
        }) {
            return Err(EngineError::BadTarget(format!(
                "stack: the upper target names {device}, a member of a lower target"
            )));
        }
        let target = Target::new(upper_spec, config.anomalies, &mut services)?;
        let mut engine = Engine {
            services,
            core: DmCore::default(),
            target,
            lower,
            owner_of_device,
            lower_finished: Vec::new(),
            anomaly_policy: config.anomalies,
            last_now_ns: 0,
        };
        engine.settle();
        Ok(engine)
    }

    /// Reacts to `input` at `now_ns`. An error means the input was refused and changed
    /// nothing, except that the engine's time advanced to `now_ns` and a refused completion
    /// is counted (`stale_completions`).
    pub fn handle(&mut self, now_ns: u64, input: Input) -> Result<(), InputError> {
        if now_ns < self.last_now_ns {
            return Err(InputError::TimeWentBackwards {
                now_ns,
                last_ns: self.last_now_ns,
            });
        }
        self.last_now_ns = now_ns;
        self.services.set_now_ns(now_ns);
        match input {
            Input::Bio(bio) => self
                .core
                .submit(bio, &mut self.target, &mut self.services)?,
            Input::Completion(completion) => self.services.on_completion(completion)?,
            Input::Tick => {
                self.services.on_tick();
                self.target
                    .on_tick(&mut self.services, &mut self.core.finished);
                for layer in &mut self.lower {
                    layer.on_tick(&mut self.services, &mut self.lower_finished);
                }
            }
            Input::Control(control) => self.control(control)?,
        }
        self.settle();
        Ok(())
    }

    fn control(&mut self, control: Control) -> Result<(), InputError> {
        match control {
            Control::CancelTimedIoOnDevice(device) => {
                if usize::from(device.0) >= self.services.devices().len() {
                    return Err(InputError::BadControl(format!("unknown {device}")));
                }
                self.services.dm_io_cancel_by_device(None, device);
                Ok(())
            }
            Control::TargetMessage(message) => self
                .target
                .message(&message, &mut self.services, &mut self.core.finished)
                .map_err(InputError::BadControl),
            Control::StackedMessage { device, message } => {
                let index = usize::from(device.0)
                    .checked_sub(self.services.physical_devices())
                    .filter(|&i| i < self.lower.len())
                    .ok_or_else(|| {
                        InputError::BadControl(format!("{device} is not a stacked device"))
                    })?;
                self.lower[index]
                    .message(&message, &mut self.services, &mut self.lower_finished)
                    .map_err(InputError::BadControl)
            }
        }
    }

    /// Runs services, target and dm core until nothing moves.
    fn settle(&mut self) {
        let mut bound = LoopBound::new("Engine::settle", SETTLE_ROUNDS_MAX);
        loop {
            bound.round();
            self.services.run();
            let mut progress = false;
            progress |= self.run_lower();
            while let Some(event) = self.services.poll_event() {
                progress = true;
                let owner = match event {
                    crate::ServiceEvent::DeviceIoDone { device, .. } => self
                        .owner_of_device
                        .get(usize::from(device.0))
                        .copied()
                        .flatten(),
                    _ => None,
                };
                match owner {
                    Some(index) => self.lower[index].on_event(
                        event,
                        &mut self.services,
                        &mut self.lower_finished,
                    ),
                    None => {
                        self.target
                            .on_event(event, &mut self.services, &mut self.core.finished)
                    }
                }
            }
            progress |= self.finish_lower_pieces();
            progress |= self
                .target
                .run_deferred(&mut self.services, &mut self.core.finished);
            progress |= self
                .core
                .drain_finished(&mut self.target, &mut self.services);
            progress |= self
                .core
                .admit_waiting(&mut self.target, &mut self.services);
            if !progress {
                break;
            }
        }
    }

    /// Hands IO to stacked devices to their lower targets and runs their deferred work;
    /// true if anything moved.
    fn run_lower(&mut self) -> bool {
        // Without a stack there is no stacked device, so no IO to one and no piece (most
        // engines: this runs every settle round).
        if self.lower.is_empty() {
            return false;
        }
        let mut progress = false;
        let physical = self.services.physical_devices();
        while let Some(io) = self.services.take_stacked_io() {
            progress = true;
            let index = usize::from(io.device.0) - physical;
            let piece = TargetIo {
                bio: BioKey(SlabKey {
                    index: io.tag.slot,
                    generation: io.tag.generation,
                }),
                op: io.op,
                sector: io.sector,
                sectors: u64::from(io.sectors),
                fua: io.fua,
                sync: io.sync,
                buffer: io.buffer,
            };
            self.lower[index].map(piece, &mut self.services, &mut self.lower_finished);
        }
        for layer in &mut self.lower {
            progress |= layer.run_deferred(&mut self.services, &mut self.lower_finished);
        }
        progress | self.finish_lower_pieces()
    }

    /// Completes the IOs of stacked devices whose pieces the lower targets finished.
    fn finish_lower_pieces(&mut self) -> bool {
        if self.lower_finished.is_empty() {
            return false; // the common case, without setting up a drain
        }
        // Drained in place: the list keeps its capacity for the next call.
        for (piece, status) in self.lower_finished.drain(..) {
            let tag = IoTag {
                slot: piece.0.index,
                generation: piece.0.generation,
            };
            self.services
                .on_completion(Completion { tag, status })
                .expect("a lower target finishes each piece of a stacked IO once");
        }
        true
    }

    /// The next thing the engine wants done.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.services.poll_output()
    }

    /// When the engine next needs [`Input::Tick`] (`None`: only other inputs can move it).
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        [self.services.poll_deadline(), self.target.poll_deadline()]
            .into_iter()
            .chain(self.lower.iter().map(Target::poll_deadline))
            .flatten()
            .min()
    }

    /// No bio, job, request or device IO (zombies included) is in the engine, and no output
    /// is pending.
    pub fn is_idle(&self) -> bool {
        self.core.is_idle()
            && self.services.is_idle()
            && self.target.is_idle()
            && self.lower.iter().all(Target::is_idle)
    }

    /// Everything that waits inside the engine, for a deadlock report.
    pub fn waiting_report(&self) -> Vec<WaitingJob> {
        let mut out = Vec::new();
        self.core.waiting_report(&self.services, &mut out);
        self.target.waiting_report(&mut out);
        for layer in &self.lower {
            layer.waiting_report(&mut out);
        }
        out.extend(self.services.waiting_report());
        out
    }

    /// Checks every component's invariants (cheap: linear in the live records).
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_services_and_core()?;
        self.target
            .check_invariants(&self.services)
            .map_err(|d| InvariantViolation::new("target", d))?;
        for layer in &self.lower {
            layer
                .check_invariants(&self.services)
                .map_err(|d| InvariantViolation::new("lower target", d))?;
        }
        Ok(())
    }

    /// [`Engine::check_invariants`] for a check after every input: the same invariants, but
    /// the flashcache state machine, raid5's stripe cache, dm_io and dm core look only at
    /// what changed since the last call, and at everything every
    /// [`FULL_CHECK_EVERY_CALLS`](crate::flashcache::FULL_CHECK_EVERY_CALLS)th call, so a
    /// change that escaped the marking is caught within that many inputs.
    pub fn check_invariants_incremental(&mut self) -> Result<(), InvariantViolation> {
        self.services.check_invariants_incremental()?;
        self.core
            .check_invariants_incremental(&self.services)
            .map_err(|d| InvariantViolation::new("dm core", d))?;
        self.target
            .check_invariants_incremental(&self.services)
            .map_err(|d| InvariantViolation::new("target", d))?;
        for layer in &mut self.lower {
            layer
                .check_invariants_incremental(&self.services)
                .map_err(|d| InvariantViolation::new("lower target", d))?;
        }
        Ok(())
    }

    /// The services and dm core, fully.
    fn check_services_and_core(&self) -> Result<(), InvariantViolation> {
        self.services.check_invariants()?;
        self.core
            .check_invariants(&self.services)
            .map_err(|d| InvariantViolation::new("dm core", d))
    }

    /// Turns BUGGIFY off for the rest of the run: no site fires any more (an IO already
    /// started with a shrunk timeout keeps it). For a liveness phase, where nothing that
    /// acts like a fault may remain: a shrunk SSD timeout fails cleanings as a device
    /// error would, and a failed cleaning legitimately leaves its block dirty.
    pub fn stop_buggify(&mut self) {
        self.services.stop_buggify();
    }

    /// What a broken calling obligation does in this engine (its configuration's choice).
    pub fn anomaly_policy(&self) -> AnomalyPolicy {
        self.anomaly_policy
    }

    /// Broken calling obligations recorded so far under [`crate::AnomalyPolicy::Record`]
    /// (each an engine bug; under `Panic` the engine panics instead). [`crate::drive`] fails
    /// a run that has any.
    pub fn anomalies(&self) -> &[Anomaly] {
        self.target.anomalies()
    }

    /// Frees the services' zero page, which every engine keeps: a broken invariant that no
    /// input can cause (tests of the invariant checks only).
    #[cfg(test)]
    pub(crate) fn break_an_invariant(&mut self) {
        let zero_page = self.services.zero_page();
        self.services.arena_mut().release(zero_page);
    }

    /// Reports an anomaly as the target would (tests of the policy only).
    #[cfg(test)]
    pub(crate) fn inject_anomaly(&mut self, description: &str) {
        self.target.inject_anomaly(description);
    }

    /// The arena, for the platform to read and fill the memory of device IO.
    pub fn arena(&self) -> &Arena {
        self.services.arena()
    }

    /// The arena, writable (see [`Arena`] for what the platform may do).
    pub fn arena_mut(&mut self) -> &mut Arena {
        self.services.arena_mut()
    }

    /// The size of the volume the target presents.
    pub fn volume_sectors(&self) -> u64 {
        self.target.volume_sectors()
    }

    /// The platform's devices, as given (without a stack's devices).
    pub fn devices(&self) -> &[DeviceInfo] {
        &self.services.devices()[..self.services.physical_devices()]
    }

    /// A stack's lower targets as the devices they present: id, and a typed view.
    pub fn stacked_targets(&self) -> Vec<(DeviceId, TargetView<'_>)> {
        let physical = self.services.physical_devices();
        self.lower
            .iter()
            .enumerate()
            .map(|(i, layer)| (DeviceId((physical + i) as u16), layer.view()))
            .collect()
    }

    /// A stack's lower targets' status, by the device each presents.
    pub fn stacked_status(&self) -> Vec<(DeviceId, TargetStatus)> {
        let physical = self.services.physical_devices();
        self.lower
            .iter()
            .enumerate()
            .map(|(i, layer)| (DeviceId((physical + i) as u16), layer.status()))
            .collect()
    }

    /// A typed, read-only view of the target, for tests that need its state machine
    /// (flashcache: [`TargetView::flashcache`], [`TargetView::flashcache_state`]).
    pub fn target(&self) -> TargetView<'_> {
        self.target.view()
    }

    /// The target's status, whichever target it is: the `dmsetup status`/`table` text,
    /// named counters and gauges.
    pub fn target_status(&self) -> TargetStatus {
        self.target.status()
    }

    /// [`Engine::target_status`]'s text alone, without serialising the counters: for a
    /// probe after every input.
    pub fn target_status_text(&self) -> String {
        self.target.status_text()
    }

    /// Counters of dm core and the services.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            dm_core: self.core.stats,
            services: self.services.stats(),
        }
    }
}
