//! The engine's block layer: what sits below dm — the devices' descriptions, the arena, the
//! table of device IOs in flight, the output queue and (optionally) queue plugging.
//!
//! Owns the life of one device IO: a generational [`IoTag`] from submission to completion,
//! its buffer's in-flight marks, and recognising stale or duplicate completions (reported as
//! errors, never routed). Also owns plugging (spec §2.2, Decision 5): when enabled, async IO
//! waits for the unplug delay, a queue-depth threshold or a sync IO on the same device.
//!
//! Stacked devices (see `crate::engine`): devices numbered after the physical ones are
//! presented by a lower target inside the engine (an md array). Their IOs get tags like any
//! other but leave through [`BlockLayer::take_stacked`] instead of the platform's outputs,
//! are never plugged, and their pages are not marked in flight: the lower target is the
//! device and reads and fills the memory itself. A cancel of one is recorded and not sent
//! (md cannot cancel a bio); its completion comes back through [`BlockLayer::complete`].
//!
//! Deliberately not here: what an IO is for. Each IO names an owner (a dm_io request region,
//! a raw caller, or nobody — a zombie) and the owner's module decides what its completion
//! means.

use super::handles::{Caller, DmIoHandle, Route};
use crate::arena::{Arena, Buffer};
use crate::block::{DeviceId, DeviceInfo, Extent, IoStatus, Op};
use crate::changed_ids::CheckSchedule;
use crate::config::PlugConfig;
use crate::error::InputError;
use crate::io::{Completion, DeviceIo, IoTag, Output};
use crate::slab::{Slab, SlabKey};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Who a device IO's completion goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoOwner {
    /// A piece of region `region` of dm_io request `request`.
    DmIo { request: SlabKey, region: u8 },
    /// A caller that submitted it directly (a target remapping a bio, like dm-linear).
    Raw(Caller),
    /// Its dm_io region was cancelled: the IO's result no longer matters to anyone, but its
    /// buffer stays pinned until the device answers.
    Zombie {
        route: Route,
        handle: DmIoHandle,
        region: u8,
    },
}

/// A device IO the engine has submitted and not yet seen complete.
#[derive(Debug, Clone)]
pub(crate) struct InFlightIo {
    pub device: DeviceId,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub buffer: Buffer,
    pub owner: IoOwner,
    pub submitted_ns: u64,
    pub cancel_requested: bool,
}

impl InFlightIo {
    pub fn extent(&self) -> Extent {
        Extent::new(self.sector, u64::from(self.sectors))
    }

    fn data_sectors(&self) -> u64 {
        match self.op {
            Op::Read | Op::Write => u64::from(self.sectors),
            Op::Flush | Op::Discard => 0,
        }
    }
}

/// What a caller asks of one device IO.
#[derive(Debug, Clone)]
pub(crate) struct IoRequest {
    pub device: DeviceId,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub fua: bool,
    pub sync: bool,
    pub buffer: Buffer,
}

#[derive(Debug, Clone, Default)]
struct DevicePlug {
    held: Vec<IoTag>,
    unplug_at_ns: Option<u64>,
}

/// Counters of the block layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLayerStats {
    pub submitted: u64,
    pub completed: u64,
    pub cancels_requested: u64,
    pub zombies_completed: u64,
    pub stale_completions: u64,
    pub unplugs_timer: u64,
    pub unplugs_threshold: u64,
    pub unplugs_sync: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct BlockLayer {
    pub now_ns: u64,
    pub devices: Vec<DeviceInfo>,
    /// Devices `0..physical` are the platform's; the rest are stacked.
    physical: usize,
    /// IOs to stacked devices, for the engine to hand to their targets, in order.
    stacked: VecDeque<DeviceIo>,
    pub arena: Arena,
    pub outputs: VecDeque<Output>,
    ios: Slab<InFlightIo>,
    plug: Option<PlugConfig>,
    plugs: Vec<DevicePlug>,
    held_ios: Slab<DeviceIo>,
    held_by_tag: std::collections::BTreeMap<IoTag, SlabKey>,
    pub stats: BlockLayerStats,
    /// What the incremental invariant check carries between calls.
    incremental_check: IncrementalCheck,
}

/// What [`BlockLayer::check_invariants_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
struct IncrementalCheck {
    /// When the next call checks everything.
    schedule: CheckSchedule,
    /// The changed slots being checked (kept for its allocation).
    changes: Vec<(u32, bool)>,
    /// Occupied slots of `ios` as counted.
    occupied: usize,
}

impl BlockLayer {
    pub fn new(devices: Vec<DeviceInfo>, arena: Arena, plug: Option<PlugConfig>) -> BlockLayer {
        let plugs = vec![DevicePlug::default(); devices.len()];
        BlockLayer {
            now_ns: 0,
            physical: devices.len(),
            stacked: VecDeque::new(),
            devices,
            arena,
            outputs: VecDeque::new(),
            ios: Slab::new(),
            plug,
            plugs,
            held_ios: Slab::new(),
            held_by_tag: std::collections::BTreeMap::new(),
            incremental_check: IncrementalCheck::default(),
            stats: BlockLayerStats::default(),
        }
    }

    pub fn device(&self, device: DeviceId) -> Option<&DeviceInfo> {
        self.devices.get(usize::from(device.0))
    }

    /// Adds a stacked device (numbered after every device so far); returns its id.
    pub fn add_stacked_device(&mut self, info: DeviceInfo) -> DeviceId {
        let id = DeviceId(u16::try_from(self.devices.len()).expect("device ids fit u16"));
        self.devices.push(info);
        self.plugs.push(DevicePlug::default());
        id
    }

    /// Devices the platform carries out IO for (the rest are stacked).
    pub fn physical_devices(&self) -> usize {
        self.physical
    }

    fn is_stacked(&self, device: DeviceId) -> bool {
        usize::from(device.0) >= self.physical
    }

    /// The next IO for a stacked device.
    pub fn take_stacked(&mut self) -> Option<DeviceIo> {
        self.stacked.pop_front()
    }

    /// Device IOs submitted and not yet completed (zombies included).
    pub fn in_flight(&self) -> usize {
        self.ios.len()
    }

    /// Submits one device IO for `owner`. The request must be valid for its device (callers
    /// validate input; a violation here is an engine bug).
    pub fn submit(&mut self, request: IoRequest, owner: IoOwner) -> IoTag {
        let info = *self
            .device(request.device)
            .unwrap_or_else(|| panic!("device IO to unknown {}", request.device));
        let extent = Extent::new(request.sector, u64::from(request.sectors));
        assert!(
            info.admits(extent),
            "device IO {extent:?} invalid for {} ({info:?})",
            request.device
        );
        assert!(request.sectors <= info.max_sectors || request.op == Op::Discard);
        let io = InFlightIo {
            device: request.device,
            op: request.op,
            sector: request.sector,
            sectors: request.sectors,
            buffer: request.buffer,
            owner,
            submitted_ns: self.now_ns,
            cancel_requested: false,
        };
        match io.op {
            Op::Read | Op::Write => assert!(
                io.buffer.capacity_sectors() >= u64::from(io.sectors)
                    && io.buffer.capacity_sectors() < u64::from(io.sectors) + 8,
                "buffer must cover exactly the IO"
            ),
            Op::Flush | Op::Discard => assert!(io.buffer.pages.is_empty()),
        }
        let stacked = self.is_stacked(io.device);
        if !stacked {
            self.arena.begin_flight(&io.buffer, io.data_sectors());
        }
        let key = self.ios.insert(io);
        let tag = IoTag {
            slot: key.index,
            generation: key.generation,
        };
        let io = &self.ios.get(key).expect("just inserted");
        let device_io = DeviceIo {
            tag,
            device: io.device,
            op: io.op,
            sector: io.sector,
            sectors: io.sectors,
            fua: request.fua,
            sync: request.sync,
            buffer: io.buffer.clone(),
        };
        self.stats.submitted += 1;
        if stacked {
            self.stacked.push_back(device_io);
        } else {
            self.queue(device_io);
        }
        tag
    }

    fn queue(&mut self, io: DeviceIo) {
        let Some(plug) = self.plug else {
            self.outputs.push_back(Output::Submit(io));
            return;
        };
        let device = usize::from(io.device.0);
        if io.sync {
            // A sync IO unplugs its queue: what was held goes first, then the sync IO.
            if !self.plugs[device].held.is_empty() {
                self.stats.unplugs_sync += 1;
                self.unplug(device);
            }
            self.outputs.push_back(Output::Submit(io));
            return;
        }
        let tag = io.tag;
        let key = self.held_ios.insert(io);
        self.held_by_tag.insert(tag, key);
        let queue = &mut self.plugs[device];
        queue.held.push(tag);
        if queue.unplug_at_ns.is_none() {
            queue.unplug_at_ns = Some(self.now_ns + plug.unplug_delay_ns);
        }
        if queue.held.len() >= plug.unplug_threshold as usize {
            self.stats.unplugs_threshold += 1;
            self.unplug(device);
        }
    }

    fn unplug(&mut self, device: usize) {
        let queue = &mut self.plugs[device];
        queue.unplug_at_ns = None;
        for tag in std::mem::take(&mut queue.held) {
            let key = self.held_by_tag.remove(&tag).expect("held IO indexed");
            let io = self.held_ios.remove(key).expect("held IO stored");
            self.outputs.push_back(Output::Submit(io));
        }
    }

    /// Asks the platform to cancel `tag`; its completion still comes.
    pub fn cancel(&mut self, tag: IoTag) {
        let key = SlabKey {
            index: tag.slot,
            generation: tag.generation,
        };
        let Some(io) = self.ios.get_mut(key) else {
            return;
        };
        if io.cancel_requested {
            return;
        }
        io.cancel_requested = true;
        let device = usize::from(io.device.0);
        if device >= self.physical {
            // A stacked target cannot cancel; its completion comes in its time.
            self.stats.cancels_requested += 1;
            return;
        }
        // A held IO has not reached the platform yet: release its queue first.
        if self.held_by_tag.contains_key(&tag) {
            self.unplug(device);
        }
        self.stats.cancels_requested += 1;
        self.outputs.push_back(Output::Cancel(tag));
    }

    /// Changes who the completion of `tag` goes to (a cancelled region's IO becomes a zombie).
    pub fn set_owner(&mut self, tag: IoTag, owner: IoOwner) {
        let key = SlabKey {
            index: tag.slot,
            generation: tag.generation,
        };
        self.ios
            .get_mut(key)
            .expect("set_owner of an IO not in flight")
            .owner = owner;
    }

    /// Accepts a completion: the IO leaves the table and its buffer leaves flight.
    pub fn complete(&mut self, completion: Completion) -> Result<InFlightIo, InputError> {
        let key = SlabKey {
            index: completion.tag.slot,
            generation: completion.tag.generation,
        };
        if self.held_by_tag.contains_key(&completion.tag) {
            // The platform never saw this IO: answering it is a platform bug.
            self.stats.stale_completions += 1;
            return Err(InputError::UnknownCompletion {
                tag: completion.tag,
            });
        }
        let Some(io) = self.ios.remove(key) else {
            self.stats.stale_completions += 1;
            return Err(InputError::UnknownCompletion {
                tag: completion.tag,
            });
        };
        if !self.is_stacked(io.device) {
            self.arena.end_flight(&io.buffer, io.data_sectors());
        }
        self.stats.completed += 1;
        if matches!(io.owner, IoOwner::Zombie { .. }) {
            self.stats.zombies_completed += 1;
        }
        Ok(io)
    }

    /// Releases plugged queues whose timer has fired.
    pub fn on_tick(&mut self) {
        for device in 0..self.plugs.len() {
            if self.plugs[device]
                .unplug_at_ns
                .is_some_and(|at| at <= self.now_ns)
            {
                self.stats.unplugs_timer += 1;
                self.unplug(device);
            }
        }
    }

    /// The earliest unplug timer.
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        self.plugs.iter().filter_map(|p| p.unplug_at_ns).min()
    }

    /// The IOs in flight, in tag-slot order, for reports.
    pub fn describe_in_flight(&self) -> Vec<String> {
        self.ios
            .iter()
            .map(|(key, io)| {
                format!(
                    "io#{}.{} {:?} {} {}+{} since {} ns{}{}",
                    key.index,
                    key.generation,
                    io.op,
                    io.device,
                    io.sector,
                    io.sectors,
                    io.submitted_ns,
                    if io.cancel_requested {
                        " (cancel requested)"
                    } else {
                        ""
                    },
                    if matches!(io.owner, IoOwner::Zombie { .. }) {
                        " (zombie)"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        let ios_checked = self.ios.check_each(|key, io| self.check_io(key, io))?;
        self.check_arena_and_plugs(ios_checked)
    }

    /// [`BlockLayer::check_invariants`] for a check after every input: each IO whose slot
    /// changed since the last call is checked as the full check checks it, the slab's
    /// bookkeeping by difference, the arena (incremental itself) and the plugs on every
    /// call; everything every [`FULL_CHECK_EVERY_CALLS`]th call and after a failure. A page
    /// whose flight ended behind the back of an unchanged IO (a bug of whoever ended it) is
    /// caught by the next full check.
    ///
    /// [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        let mut progress = std::mem::take(&mut self.incremental_check);
        self.ios.take_changes(&mut progress.changes);
        let result = if progress.schedule.full_due() {
            progress.occupied = self.ios.len();
            self.check_invariants()
        } else {
            self.check_changed(&mut progress)
        };
        progress.schedule.done(&result);
        self.incremental_check = progress;
        result
    }

    /// The incremental part of [`BlockLayer::check_invariants_incremental`].
    fn check_changed(&self, progress: &mut IncrementalCheck) -> Result<(), String> {
        let ios_checked =
            self.ios
                .check_changed(&progress.changes, &mut progress.occupied, |key, io| {
                    self.check_io(key, io)
                })?;
        self.check_arena_and_plugs(ios_checked)
    }

    /// One IO in flight: a known device, its pages (unless stacked) in flight.
    fn check_io(&self, key: SlabKey, io: &InFlightIo) -> Result<(), String> {
        if io.device.0 as usize >= self.devices.len() {
            return Err(format!("io slot {} names an unknown device", key.index));
        }
        if self.is_stacked(io.device) {
            return Ok(());
        }
        for &page in &io.buffer.pages {
            if !self.arena.is_in_flight(page) {
                return Err(format!(
                    "io slot {} names {page:?} which is not marked in flight",
                    key.index
                ));
            }
        }
        Ok(())
    }

    /// The arena, then the IOs' first error, then the plugs (the full check's order).
    fn check_arena_and_plugs(&self, ios_checked: Result<(), String>) -> Result<(), String> {
        self.arena.check_invariants()?;
        ios_checked?;
        let held: usize = self.plugs.iter().map(|p| p.held.len()).sum();
        if held != self.held_ios.len() || held != self.held_by_tag.len() {
            return Err(format!(
                "plugging: {held} held in queues, {} stored, {} indexed",
                self.held_ios.len(),
                self.held_by_tag.len()
            ));
        }
        Ok(())
    }
}

/// Status of a completion as dm_io counts it: only `Ok` is success.
pub(crate) fn failed(status: IoStatus) -> bool {
    !status.is_ok()
}

#[cfg(test)]
mod tests {
    use crate::arena::{Arena, Buffer};
    use crate::block::{DeviceId, DeviceInfo, Op};
    use crate::changed_ids::FULL_CHECK_EVERY_CALLS;
    use crate::services::block_layer::{BlockLayer, IoOwner, IoRequest};
    use crate::services::handles::Caller;

    /// A block layer with one read in flight, after a first (full) incremental check.
    fn one_read() -> (BlockLayer, Buffer) {
        let mut bl = BlockLayer::new(vec![DeviceInfo::new(1 << 20, 512)], Arena::new(16), None);
        let buffer = Buffer::from_pages(bl.arena.alloc(1).unwrap());
        let request = IoRequest {
            device: DeviceId(0),
            op: Op::Read,
            sector: 0,
            sectors: 8,
            fua: false,
            sync: false,
            buffer: buffer.clone(),
        };
        bl.submit(request, IoOwner::Raw(Caller(1)));
        bl.check_invariants_incremental().unwrap();
        (bl, buffer)
    }

    #[test]
    fn a_changed_io_is_checked_at_once() {
        let (mut bl, _) = one_read();
        let key = bl.ios.iter().next().unwrap().0;
        bl.ios.get_mut(key).unwrap().device = DeviceId(7);
        assert_eq!(
            bl.check_invariants_incremental().unwrap_err(),
            format!("io slot {} names an unknown device", key.index)
        );
    }

    #[test]
    fn a_flight_ended_behind_an_unchanged_io_waits_for_the_periodic_full_check() {
        let (mut bl, buffer) = one_read();
        bl.arena.end_flight(&buffer, 8);
        for call in 1..FULL_CHECK_EVERY_CALLS {
            assert_eq!(bl.check_invariants_incremental(), Ok(()), "call {call}");
        }
        assert!(bl
            .check_invariants_incremental()
            .unwrap_err()
            .contains("which is not marked in flight"));
    }
}
