//! The services targets build on — raw device IO, dm_io and kcopyd — over one block layer,
//! with the routing of their notifications.
//!
//! [`Services`] is a sans-IO component of its own: it takes completions and ticks, emits
//! [`Output`]s (device IO to submit or cancel, contents-unknown reports), and hands its
//! callers' notifications out as [`ServiceEvent`]s. A caller is named by an opaque
//! [`Caller`] cookie it chooses; notifications for kcopyd's own dm_io requests are routed
//! internally. Callbacks never run inline: a call only queues work, and [`Services::run`]
//! advances dm_io and the kcopyd workers until nothing moves.
//!
//! The [`crate::Engine`] wraps one `Services` with dm core and a target; tests (and future
//! targets) can drive a `Services` directly.
//!
//! Deliberately not here: bios, splitting at target boundaries, any target logic.

use crate::arena::{Arena, Buffer, PageId};
use crate::block::{DeviceId, DeviceInfo, Extent, IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::config::EngineConfig;
use crate::error::{InputError, InvariantViolation, WaitingJob};
use crate::io::{Completion, IoTag, Output};
use block_layer::{BlockLayer, IoOwner, IoRequest};
use dm_io::{
    DmIo, DmIoClientId, DmIoError, DmIoRegion, DmIoRequest, DmIoStats, NoticeBody, RegionNotice,
    RegionState, TimedControl,
};
use kcopyd::{
    Kcopyd, KcopydClientId, KcopydConfig, KcopydError, KcopydFlags, KcopydJobId, KcopydStats,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub(crate) mod block_layer;
pub mod dm_io;
mod handles;
pub mod kcopyd;

pub use block_layer::BlockLayerStats;
pub(crate) use handles::Route;
pub use handles::{Caller, DmIoHandle};

/// A notification for a caller of the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// A raw device IO ([`Services::submit_io`]) completed.
    DeviceIoDone {
        caller: Caller,
        tag: IoTag,
        /// The device the IO went to (the engine routes by it in a stack).
        device: DeviceId,
        status: IoStatus,
    },
    /// A classic dm_io request completed: the async notify, or (`sync`) the return of the
    /// synchronous call — whose result is -EIO iff `error_bits != 0`. `handle` is `None` for
    /// a read with several regions, refused at once.
    DmIoDone {
        caller: Caller,
        handle: Option<DmIoHandle>,
        error_bits: u64,
        sync: bool,
    },
    /// A timed dm_io region changed state (only if the request asked for notices).
    DmIoRegion {
        caller: Caller,
        handle: DmIoHandle,
        notice: RegionNotice,
    },
    /// Every region of a timed request is OK, CANCELLED or ERROR: the request is returned
    /// upward (and the handle goes stale). `zombies` of its device IOs were cancelled while
    /// running and may still run: each one's end comes as a [`ServiceEvent::DmIoZombieEnded`]
    /// (some may have come already), so the caller's cookie must stay meaningful until then.
    DmIoTimedDone {
        caller: Caller,
        handle: DmIoHandle,
        states: Vec<RegionState>,
        zombies: u32,
    },
    /// A cancelled write region's IO completed after all (other than `Cancelled`): the range
    /// holds old data, new data or a mix. Callers caching it must invalidate.
    DmIoLateWrite {
        caller: Caller,
        handle: DmIoHandle,
        region: u8,
        device: DeviceId,
        extent: Extent,
        status: IoStatus,
    },
    /// A zombie device IO of a timed request (cancelled while running) ended, whether it
    /// landed (then a [`ServiceEvent::DmIoLateWrite`] came first for a write), failed or was
    /// cancelled after all. Until this event the device range may still change: a caller
    /// caching it must not reuse it before. `handle` may be stale by now.
    DmIoZombieEnded {
        caller: Caller,
        handle: DmIoHandle,
        region: u8,
        status: IoStatus,
    },
    /// A kcopyd job finished (`fn(read_err, write_err, context)`), from the worker.
    KcopydDone {
        caller: Caller,
        job: KcopydJobId,
        read_err: bool,
        /// Bit per destination index.
        write_err: u8,
    },
}

impl ServiceEvent {
    /// The caller this event is for.
    pub fn caller(&self) -> Caller {
        match *self {
            ServiceEvent::DeviceIoDone { caller, .. }
            | ServiceEvent::DmIoDone { caller, .. }
            | ServiceEvent::DmIoRegion { caller, .. }
            | ServiceEvent::DmIoTimedDone { caller, .. }
            | ServiceEvent::DmIoLateWrite { caller, .. }
            | ServiceEvent::DmIoZombieEnded { caller, .. }
            | ServiceEvent::KcopydDone { caller, .. } => caller,
        }
    }
}

/// Counters of all services.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStats {
    pub block_layer: BlockLayerStats,
    pub dm_io: DmIoStats,
    pub kcopyd: KcopydStats,
}

/// Rounds of [`Services::run`] for one call (see [`crate::bounded`]).
const RUN_ROUNDS_MAX: u64 = 1 << 20;

/// See the module documentation.
#[derive(Debug)]
pub struct Services {
    bl: BlockLayer,
    dm_io: DmIo,
    kcopyd: Kcopyd,
    events: VecDeque<ServiceEvent>,
    zero_page: PageId,
    buggify: crate::buggify::Buggify,
    dm_io_min_ios_max: Option<u32>,
    victim_index_check: Option<crate::VictimIndexCheck>,
    invalidation_scan: bool,
}

impl Services {
    /// Services over `devices`. Fails if a device description is unusable or the arena has
    /// no page for the shared zero page.
    pub fn new(
        config: &EngineConfig,
        devices: Vec<DeviceInfo>,
    ) -> Result<Services, crate::error::EngineError> {
        for (index, device) in devices.iter().enumerate() {
            device
                .validate()
                .map_err(|reason| crate::error::EngineError::BadDevice {
                    device: DeviceId(index as u16),
                    reason,
                })?;
        }
        if devices.len() > usize::from(u16::MAX) {
            return Err(crate::error::EngineError::BadConfig {
                field: "devices",
                reason: format!("{} devices exceed the u16 id space", devices.len()),
            });
        }
        let mut arena = Arena::new(config.arena_pages);
        let Some(zero) = arena.alloc(1) else {
            return Err(crate::error::EngineError::BadConfig {
                field: "arena_pages",
                reason: "the arena needs at least one page (the zero page)".to_string(),
            });
        };
        Ok(Services {
            bl: BlockLayer::new(devices, arena, config.plugging),
            dm_io: DmIo::default(),
            kcopyd: Kcopyd::default(),
            events: VecDeque::new(),
            zero_page: zero[0],
            buggify: crate::buggify::Buggify::new(config.buggify),
            dm_io_min_ios_max: config.dm_io_min_ios_max,
            victim_index_check: config.victim_index_check,
            invalidation_scan: config.invalidation_scan,
        })
    }

    /// Whether the BUGGIFY `site` fires now (never unless the config passed the capability).
    pub fn buggify(&mut self, site: crate::BuggifySite) -> bool {
        self.buggify.fires(site)
    }

    /// Whether flashcache checks its victim index against the linear walk (see
    /// [`EngineConfig::victim_index_check`]).
    pub(crate) fn victim_index_check(&self) -> Option<crate::VictimIndexCheck> {
        self.victim_index_check
    }

    /// Whether flashcache always invalidates by its set scan (see
    /// [`EngineConfig::invalidation_scan`]).
    pub(crate) fn invalidation_scan(&self) -> bool {
        self.invalidation_scan
    }

    /// BUGGIFY off from now on (see [`crate::Engine::stop_buggify`]).
    pub(crate) fn stop_buggify(&mut self) {
        self.buggify = crate::buggify::Buggify::new(None);
    }

    /// The time of the input being handled.
    pub fn now_ns(&self) -> u64 {
        self.bl.now_ns
    }

    /// Sets the time of the input being handled (monotonic: the engine checks).
    pub fn set_now_ns(&mut self, now_ns: u64) {
        debug_assert!(now_ns >= self.bl.now_ns, "time went backwards");
        self.bl.now_ns = now_ns;
    }

    pub fn devices(&self) -> &[DeviceInfo] {
        &self.bl.devices
    }

    pub fn arena(&self) -> &Arena {
        &self.bl.arena
    }

    pub fn arena_mut(&mut self) -> &mut Arena {
        &mut self.bl.arena
    }

    /// The shared page of zeroes kcopyd's zeroing writes from (never freed or written).
    pub fn zero_page(&self) -> PageId {
        self.zero_page
    }

    /// Adds a device presented by a lower target of a stack (see `crate::engine`), numbered
    /// after every device so far.
    pub(crate) fn add_stacked_device(
        &mut self,
        info: DeviceInfo,
    ) -> Result<DeviceId, crate::error::EngineError> {
        let id = DeviceId(self.bl.devices.len() as u16);
        info.validate()
            .map_err(|reason| crate::error::EngineError::BadDevice { device: id, reason })?;
        if self.bl.devices.len() >= usize::from(u16::MAX) {
            return Err(crate::error::EngineError::BadConfig {
                field: "devices",
                reason: "too many devices for the u16 id space".to_string(),
            });
        }
        Ok(self.bl.add_stacked_device(info))
    }

    /// Devices the platform carries out IO for; ids from here on are stacked.
    pub fn physical_devices(&self) -> usize {
        self.bl.physical_devices()
    }

    /// The next IO submitted to a stacked device, for the engine to hand to its target.
    pub(crate) fn take_stacked_io(&mut self) -> Option<crate::io::DeviceIo> {
        self.bl.take_stacked()
    }

    /// Device IOs submitted and not yet completed, zombies included.
    pub fn device_ios_in_flight(&self) -> usize {
        self.bl.in_flight()
    }

    pub fn stats(&self) -> ServiceStats {
        ServiceStats {
            block_layer: self.bl.stats,
            dm_io: self.dm_io.stats,
            kcopyd: self.kcopyd.stats,
        }
    }

    // ----- raw device IO ----------------------------------------------------------------

    /// Submits one device IO directly (a target remapping a bio, like dm-linear). The IO
    /// must be valid for the device (in range, aligned, within `max_sectors`, buffer covering
    /// it exactly); the completion comes back as [`ServiceEvent::DeviceIoDone`].
    #[allow(clippy::too_many_arguments)]
    pub fn submit_io(
        &mut self,
        caller: Caller,
        device: DeviceId,
        op: Op,
        sector: u64,
        sectors: u32,
        fua: bool,
        sync: bool,
        buffer: Buffer,
    ) -> IoTag {
        self.bl.submit(
            IoRequest {
                device,
                op,
                sector,
                sectors,
                fua,
                sync,
                buffer,
            },
            IoOwner::Raw(caller),
        )
    }

    // ----- dm_io ------------------------------------------------------------------------

    /// `dm_io_client_create`: a client allowing `min_ios` requests in flight (at most the
    /// configured `dm_io_min_ios_max`).
    pub fn dm_io_client_create(&mut self, min_ios: u32, label: &str) -> DmIoClientId {
        let min_ios = self
            .dm_io_min_ios_max
            .map_or(min_ios, |max| min_ios.min(max));
        self.dm_io.create_client(min_ios.max(1), label)
    }

    /// Classic `dm_io()`: see [`dm_io`]. The completion comes as
    /// [`ServiceEvent::DmIoDone`] (for sync and async alike, never inline).
    pub fn dm_io(
        &mut self,
        client: DmIoClientId,
        caller: Caller,
        request: DmIoRequest,
        regions: &[DmIoRegion],
    ) -> Result<DmIoHandle, DmIoError> {
        self.dm_io.submit(
            &mut self.bl,
            client,
            Route::External(caller),
            request,
            regions,
            None,
        )
    }

    /// Timed `dm_io()` (Bader's interface): see [`dm_io`]. Notices come as
    /// [`ServiceEvent::DmIoRegion`] (if `request.notify`) and the end as
    /// [`ServiceEvent::DmIoTimedDone`].
    pub fn dm_io_timed(
        &mut self,
        client: DmIoClientId,
        caller: Caller,
        request: DmIoRequest,
        control: TimedControl,
        regions: &[DmIoRegion],
    ) -> Result<DmIoHandle, DmIoError> {
        self.dm_io.submit(
            &mut self.bl,
            client,
            Route::External(caller),
            request,
            regions,
            Some(control),
        )
    }

    /// `dm_io_cancel_by_handle`: cancels the non-final regions of a timed request.
    pub fn dm_io_cancel_by_handle(&mut self, handle: DmIoHandle) -> Result<(), DmIoError> {
        self.dm_io.cancel_by_handle(&mut self.bl, handle)
    }

    /// `dm_io_cancel_by_device`: cancels the non-final regions on `device` of the timed
    /// requests of `client` (all clients if `None`); returns how many regions.
    pub fn dm_io_cancel_by_device(
        &mut self,
        client: Option<DmIoClientId>,
        device: DeviceId,
    ) -> usize {
        self.dm_io.cancel_by_device(&mut self.bl, client, device)
    }

    // ----- kcopyd -----------------------------------------------------------------------

    /// `dm_kcopyd_client_create`: takes the client's page pool (or reserve) from the arena.
    pub fn kcopyd_client_create(
        &mut self,
        config: KcopydConfig,
        label: &str,
    ) -> Result<KcopydClientId, KcopydError> {
        self.kcopyd
            .create_client(&mut self.dm_io, &mut self.bl, config, label)
    }

    /// `dm_kcopyd_copy`: copies `source` to every destination (each as long as the source).
    pub fn kcopyd_copy(
        &mut self,
        client: KcopydClientId,
        source: DmIoRegion,
        dests: &[DmIoRegion],
        flags: KcopydFlags,
        caller: Caller,
    ) -> Result<KcopydJobId, KcopydError> {
        self.kcopyd
            .start(&mut self.bl, client, Some(source), dests, flags, caller)
    }

    /// `dm_kcopyd_zero`: writes zeroes to every destination (all of one length).
    pub fn kcopyd_zero(
        &mut self,
        client: KcopydClientId,
        dests: &[DmIoRegion],
        flags: KcopydFlags,
        caller: Caller,
    ) -> Result<KcopydJobId, KcopydError> {
        self.kcopyd
            .start(&mut self.bl, client, None, dests, flags, caller)
    }

    // ----- inputs -----------------------------------------------------------------------

    /// A device IO completed. Stale or duplicate tags are refused (and counted), never
    /// routed. Call [`Services::run`] afterwards.
    pub fn on_completion(&mut self, completion: Completion) -> Result<(), InputError> {
        let io = self.bl.complete(completion)?;
        match io.owner {
            IoOwner::Raw(caller) => self.events.push_back(ServiceEvent::DeviceIoDone {
                caller,
                tag: completion.tag,
                device: io.device,
                status: completion.status,
            }),
            IoOwner::DmIo { .. } | IoOwner::Zombie { .. } => {
                self.dm_io
                    .on_io_done(&mut self.bl, completion.tag, io, completion.status)
            }
        }
        Ok(())
    }

    /// Deadlines due at `now_ns`: timed dm_io timeouts, unplug timers, throttled workers.
    /// Call [`Services::run`] afterwards.
    pub fn on_tick(&mut self) {
        self.bl.on_tick();
        self.dm_io.on_tick(&mut self.bl);
    }

    /// Routes notifications and runs the kcopyd workers until nothing moves.
    pub fn run(&mut self) {
        let mut rounds = LoopBound::new("Services::run", RUN_ROUNDS_MAX);
        let mut notices = LoopBound::new("Services::run notices", ITEMS_PER_CALL_MAX);
        let mut done = LoopBound::new("Services::run kcopyd completions", ITEMS_PER_CALL_MAX);
        loop {
            rounds.round();
            let mut progress = false;
            while let Some(notice) = self.dm_io.notices.pop_front() {
                notices.round();
                progress = true;
                match notice.route {
                    Route::External(caller) => {
                        self.events.push_back(external_event(caller, notice.body))
                    }
                    Route::Kcopyd(job) => match notice.body {
                        NoticeBody::Done { error_bits, .. } => {
                            self.kcopyd.on_dm_io_done(self.bl.now_ns, job, error_bits)
                        }
                        other => unreachable!("kcopyd uses classic dm_io only, got {other:?}"),
                    },
                }
            }
            progress |= self
                .kcopyd
                .run_workers(&mut self.dm_io, &mut self.bl, self.zero_page);
            while let Some((caller, job, read_err, write_err)) = self.kcopyd.done.pop_front() {
                done.round();
                progress = true;
                self.events.push_back(ServiceEvent::KcopydDone {
                    caller,
                    job,
                    read_err,
                    write_err,
                });
            }
            if !progress {
                break;
            }
        }
    }

    // ----- outputs ----------------------------------------------------------------------

    /// The next output for the platform.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.bl.outputs.pop_front()
    }

    /// Queues an output behind the ones already queued (the engine's bio completions).
    pub(crate) fn push_output(&mut self, output: Output) {
        self.bl.outputs.push_back(output);
    }

    /// The next notification for a caller.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServiceEvent> {
        self.events.pop_front()
    }

    /// When the services next need [`Services::on_tick`].
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        [
            self.bl.poll_deadline(),
            self.dm_io.poll_deadline(),
            self.kcopyd.poll_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Nothing in flight (zombies included), no request or job, nothing queued.
    pub fn is_idle(&self) -> bool {
        self.bl.in_flight() == 0
            && self.bl.outputs.is_empty()
            && self.dm_io.is_idle()
            && self.kcopyd.is_idle()
            && self.events.is_empty()
    }

    /// Jobs and requests that wait for a resource, plus device IOs in flight.
    pub fn waiting_report(&self) -> Vec<WaitingJob> {
        let mut out = Vec::new();
        self.dm_io.waiting_report(&mut out);
        self.kcopyd.waiting_report(&mut out);
        for io in self.bl.describe_in_flight() {
            out.push(WaitingJob {
                component: "device",
                description: format!("{io} awaits its completion"),
            });
        }
        out
    }

    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.bl
            .check_invariants()
            .map_err(|d| InvariantViolation::new("block layer", d))?;
        self.dm_io
            .check_invariants()
            .map_err(|d| InvariantViolation::new("dm_io", d))?;
        self.kcopyd
            .check_invariants()
            .map_err(|d| InvariantViolation::new("kcopyd", d))?;
        self.check_settled()?;
        self.check_zero_page()
    }

    /// [`Services::check_invariants`] for a check after every input: the block layer, dm_io
    /// and kcopyd check only the IOs, requests and jobs changed since the last call (see
    /// `BlockLayer::check_invariants_incremental`, `DmIo::check_invariants_incremental`,
    /// `Kcopyd::check_invariants_incremental`).
    pub fn check_invariants_incremental(&mut self) -> Result<(), InvariantViolation> {
        self.bl
            .check_invariants_incremental()
            .map_err(|d| InvariantViolation::new("block layer", d))?;
        self.dm_io
            .check_invariants_incremental()
            .map_err(|d| InvariantViolation::new("dm_io", d))?;
        self.kcopyd
            .check_invariants_incremental()
            .map_err(|d| InvariantViolation::new("kcopyd", d))?;
        self.check_settled()?;
        self.check_zero_page()
    }

    /// Checks are made where [`Services::run`] reached its fixpoint (the engine settles
    /// after every input): no dm_io notice or finished copy waits for it, and no kcopyd
    /// worker has work it could do now. (Events wait for the services' caller.)
    fn check_settled(&self) -> Result<(), InvariantViolation> {
        if let Some(notice) = self.dm_io.notices.front() {
            return Err(InvariantViolation::new(
                "services",
                format!("a dm_io notice waits after the engine settled: {notice:?}"),
            ));
        }
        self.kcopyd
            .check_settled(self.bl.now_ns, &self.bl.arena)
            .map_err(|d| InvariantViolation::new("kcopyd", d))
    }

    fn check_zero_page(&self) -> Result<(), InvariantViolation> {
        if !self.bl.arena.is_owned(self.zero_page) {
            return Err(InvariantViolation::new(
                "services",
                "the zero page was freed",
            ));
        }
        Ok(())
    }
}

fn external_event(caller: Caller, body: NoticeBody) -> ServiceEvent {
    match body {
        NoticeBody::Done {
            handle,
            error_bits,
            sync,
        } => ServiceEvent::DmIoDone {
            caller,
            handle,
            error_bits,
            sync,
        },
        NoticeBody::Region { handle, notice } => ServiceEvent::DmIoRegion {
            caller,
            handle,
            notice,
        },
        NoticeBody::TimedDone {
            handle,
            states,
            zombies,
        } => ServiceEvent::DmIoTimedDone {
            caller,
            handle,
            states,
            zombies,
        },
        NoticeBody::ZombieEnded {
            handle,
            region,
            status,
        } => ServiceEvent::DmIoZombieEnded {
            caller,
            handle,
            region,
            status,
        },
        NoticeBody::LateWrite {
            handle,
            region,
            device,
            sector,
            sectors,
            status,
        } => ServiceEvent::DmIoLateWrite {
            caller,
            handle,
            region,
            device,
            extent: Extent::new(sector, sectors),
            status,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Services;
    use crate::{BuggifyConfig, BuggifySite, DeviceInfo, EngineConfig};

    fn fired(services: &mut Services, reaches: usize) -> usize {
        (0..reaches)
            .filter(|_| {
                services.buggify(BuggifySite::ShrinkSsdTimeout)
                    | services.buggify(BuggifySite::ForceCleanNow)
                    | services.buggify(BuggifySite::ExhaustJobPool)
            })
            .count()
    }

    #[test]
    fn stop_buggify_silences_every_site_for_the_rest_of_the_run() {
        let config = EngineConfig {
            arena_pages: 16,
            buggify: Some(BuggifyConfig { seed: 3 }),
            ..EngineConfig::default()
        };
        let mut services = Services::new(&config, vec![DeviceInfo::new(1 << 16, 512)]).unwrap();
        assert!(fired(&mut services, 3000) > 0, "seed 3 enables some site");
        services.stop_buggify();
        assert_eq!(fired(&mut services, 3000), 0);
    }
}
