//! `SimPlatform`: the engine's [`Platform`] over simulated devices in virtual time.
//!
//! Device IOs go to [`SimDevice`]s, which time them with their models; `wait` advances the
//! virtual clock to the earliest device event not after the deadline and delivers that
//! instant's completions, writing read data into the arena first. The devices' own timing
//! is the simulation's event queue: the earliest `next_event_ns` of any device is the next
//! instant. Completions of one instant come out in device order, or — with
//! [`SimOptions::perturb_ties_seed`] — in an order drawn from a seeded stream: a different
//! but reproducible interleaving per seed, which is how ordering races are shaken out.
//!
//! Strict-mode violations (an IO the simulated device refuses: misaligned, out of range,
//! overlapping an in-flight write) are engine bugs. They are recorded in
//! [`SimPlatform::violations`] and the IO completes with `IoError`, so the run goes on and the
//! test or CLI reports them.

use crate::device::store::SectorView;
use crate::device::{
    DeviceCompletion, SectorContents, SimDevice, SimIo, StrictError, WritePayload,
};
use dmsim_engine::arena::Arena;
use dmsim_engine::block::{DeviceInfo, IoStatus, Op};
use dmsim_engine::io::{Completion, DeviceIo, Input, IoTag};
use dmsim_engine::platform::Platform;
use dmsim_engine::PageId;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

/// An IO the platform has handed to a device.
#[derive(Debug)]
struct Pending {
    device: usize,
    io: DeviceIo,
}

/// The IOs handed to devices, by their tag's slot: the engine's IO table keeps slots few and
/// reuses them, so this table stops growing once the run's deepest queue was reached, and
/// an IO costs no allocation here (a map would allocate and free nodes as IOs come and go;
/// issue 11). Never iterated.
#[derive(Debug, Default)]
struct PendingIos {
    by_slot: Vec<Option<Pending>>,
    len: usize,
}

impl PendingIos {
    fn insert(&mut self, pending: Pending) {
        let slot = pending.io.tag.slot as usize;
        if slot >= self.by_slot.len() {
            self.by_slot.resize_with(slot + 1, || None);
        }
        let entry = &mut self.by_slot[slot];
        assert!(
            entry.is_none(),
            "{} submitted while {} of the same slot is in flight",
            pending.io.tag,
            entry.as_ref().map_or(pending.io.tag, |p| p.io.tag)
        );
        *entry = Some(pending);
        self.len += 1;
    }

    fn get(&self, tag: IoTag) -> Option<&Pending> {
        self.by_slot
            .get(tag.slot as usize)?
            .as_ref()
            .filter(|p| p.io.tag == tag)
    }

    fn remove(&mut self, tag: IoTag) -> Option<Pending> {
        let entry = self.by_slot.get_mut(tag.slot as usize)?;
        if entry.as_ref().is_some_and(|p| p.io.tag == tag) {
            self.len -= 1;
            entry.take()
        } else {
            None
        }
    }

    fn clear(&mut self) {
        self.by_slot.iter_mut().for_each(|entry| *entry = None);
        self.len = 0;
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// The name of the stream that orders same-instant completions (see [`crate::streams`]).
pub const TIE_STREAM: &str = "sim.platform.ties";

/// How a [`SimPlatform`] is built, beyond its devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// `Some(seed)`: completions of one instant are delivered in an order drawn from the
    /// stream [`TIE_STREAM`] of `seed` (same seed ⇒ same order; other seeds reach other
    /// interleavings). `None` (the default): in device order, then each device's own order.
    pub perturb_ties_seed: Option<u64>,
}

/// The simulated platform. Devices are numbered in the order given (`DeviceId(i)`).
pub struct SimPlatform {
    now_ns: u64,
    devices: Vec<SimDevice>,
    pending: PendingIos,
    /// IOs refused by a strict check, completed with `IoError` at the next wait.
    refused: Vec<IoTag>,
    violations: Vec<StrictError>,
    perturbation: Option<ChaCha8Rng>,
    scratch: Vec<DeviceCompletion>,
    instant: Vec<(usize, DeviceCompletion)>,
    slots: Vec<(PageId, usize)>,
}

impl SimPlatform {
    /// A platform over `devices` with the default [`SimOptions`] (ties in device order).
    pub fn new(devices: Vec<SimDevice>) -> Self {
        Self::with_options(devices, SimOptions::default())
    }

    /// A platform over `devices` built as `options` say.
    pub fn with_options(devices: Vec<SimDevice>, options: SimOptions) -> Self {
        SimPlatform {
            now_ns: 0,
            devices,
            pending: PendingIos::default(),
            refused: Vec::new(),
            violations: Vec::new(),
            perturbation: options
                .perturb_ties_seed
                .map(|seed| crate::streams::stream(seed, TIE_STREAM)),
            scratch: Vec::new(),
            instant: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// What the engine must know of the devices, in order.
    pub fn device_infos(&self) -> Vec<DeviceInfo> {
        self.devices
            .iter()
            .map(|d| DeviceInfo {
                volatile_write_cache: d.has_volatile_write_cache(),
                ..DeviceInfo::new(d.capacity_sectors(), d.logical_block_size())
            })
            .collect()
    }

    pub fn devices(&self) -> &[SimDevice] {
        &self.devices
    }

    pub fn device_mut(&mut self, index: usize) -> &mut SimDevice {
        &mut self.devices[index]
    }

    /// Strict-mode violations so far (each an engine bug).
    pub fn violations(&self) -> &[StrictError] {
        &self.violations
    }

    /// Forget every IO handed out (after a power loss: their devices lost them, and a new
    /// engine reusing their tags must not receive their completions).
    pub fn forget_in_flight(&mut self) {
        self.pending.clear();
        self.refused.clear();
    }

    /// Device IOs submitted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn payload(io: &DeviceIo, arena: &mut Arena, device: &mut SimDevice) -> WritePayload {
        let sectors = u64::from(io.sectors);
        // Copied a page's run of sectors at a time (a sector at a time, the copy was a
        // hundredth of a replay's instructions).
        let mut contents = SectorContents::new();
        for (page, indices) in io.buffer.page_runs(sectors) {
            match arena.io_page_sectors(page) {
                Some(page_sectors) => contents.extend_from_slice(&page_sectors[indices]),
                None => {
                    let mut bytes = device.spare_payload();
                    bytes.reserve(sectors as usize * 512);
                    for (page, index) in io.buffer.sector_slots(sectors) {
                        bytes.extend_from_slice(arena.io_sector_bytes(page, index));
                    }
                    return WritePayload::Bytes(bytes);
                }
            }
        }
        WritePayload::Contents(contents)
    }

    fn deliver(
        &mut self,
        device: usize,
        c: DeviceCompletion,
        arena: &mut Arena,
        inputs: &mut Vec<Input>,
    ) {
        let pending = self
            .pending
            .remove(IoTag::from_u64(c.tag))
            .expect("a device completes only IOs the platform gave it");
        debug_assert_eq!(pending.device, device);
        let io = &pending.io;
        if io.op == Op::Read && c.status == IoStatus::Ok {
            self.slots.clear();
            self.slots
                .extend(io.buffer.sector_slots(u64::from(io.sectors)));
            let slots = &self.slots;
            let mut i = 0usize;
            self.devices[device].read_into(io.sector, u64::from(io.sectors), &mut |_, view| {
                let (page, index) = slots[i];
                match view {
                    SectorView::Content(content) => arena.io_set_sector(page, index, content),
                    SectorView::Bytes(bytes) => arena.io_set_sector_bytes(page, index, bytes),
                }
                i += 1;
            });
        }
        inputs.push(Input::Completion(Completion {
            tag: io.tag,
            status: c.status,
        }));
    }
}

impl Platform for SimPlatform {
    fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn submit(&mut self, io: DeviceIo, arena: &mut Arena) {
        let device = usize::from(io.device.0);
        let tag = io.tag.to_u64();
        assert!(
            device < self.devices.len(),
            "IO for unknown device {}",
            io.device
        );
        let payload = if io.op == Op::Write {
            Self::payload(&io, arena, &mut self.devices[device])
        } else {
            WritePayload::None
        };
        let sim_io = SimIo {
            tag,
            op: io.op,
            sector: io.sector,
            sectors: io.sectors,
            fua: io.fua,
            payload,
        };
        match self.devices[device].submit(self.now_ns, sim_io) {
            Ok(()) => {
                self.pending.insert(Pending { device, io });
            }
            Err(violation) => {
                self.violations.push(violation);
                self.refused.push(io.tag);
            }
        }
    }

    fn cancel(&mut self, tag: IoTag) {
        if let Some(p) = self.pending.get(tag) {
            let device = p.device;
            self.devices[device].cancel(self.now_ns, tag.to_u64());
        }
    }

    fn is_quiescent(&self) -> bool {
        // A hung IO has no pending event: only a cancel can move it.
        self.refused.is_empty() && self.devices.iter().all(|d| d.next_event_ns().is_none())
    }

    fn wait(&mut self, deadline_ns: Option<u64>, arena: &mut Arena, inputs: &mut Vec<Input>) {
        if !self.refused.is_empty() {
            for tag in self.refused.drain(..) {
                inputs.push(Input::Completion(Completion {
                    tag,
                    status: IoStatus::IoError,
                }));
            }
            return;
        }
        loop {
            let next = self.devices.iter().filter_map(|d| d.next_event_ns()).min();
            match (next, deadline_ns) {
                (Some(t), deadline) if deadline.is_none_or(|d| t <= d) => {
                    debug_assert!(t >= self.now_ns, "device event in the past");
                    self.now_ns = self.now_ns.max(t);
                    self.instant.clear();
                    for (index, device) in self.devices.iter_mut().enumerate() {
                        self.scratch.clear();
                        device.advance(self.now_ns, &mut self.scratch);
                        self.instant
                            .extend(self.scratch.iter().map(|&c| (index, c)));
                    }
                    if let Some(rng) = &mut self.perturbation {
                        // Fisher–Yates with the platform's own stream.
                        for i in (1..self.instant.len()).rev() {
                            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                            self.instant.swap(i, j);
                        }
                    }
                    let instant = std::mem::take(&mut self.instant);
                    for &(device, c) in &instant {
                        self.deliver(device, c, arena, inputs);
                    }
                    self.instant = instant;
                    if !inputs.is_empty() {
                        return;
                    }
                }
                (_, Some(deadline)) => {
                    self.now_ns = self.now_ns.max(deadline);
                    return;
                }
                (_, None) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::arena::Buffer;
    use dmsim_engine::block::DeviceId;
    use dmsim_models::ram::{RamModel, RamParams};

    /// Two identical ram devices, each given four reads at time 0: all eight complete at the
    /// same instant. Returns the tags in delivery order.
    fn completion_order(options: SimOptions) -> Vec<u64> {
        let ram = || {
            SimDevice::new(
                "ram",
                Box::new(RamModel::new(RamParams {
                    capacity_sectors: 1024,
                    latency_ns: 1_000,
                    volatile_write_cache: false,
                })),
            )
        };
        let mut platform = SimPlatform::with_options(vec![ram(), ram()], options);
        let mut arena = Arena::new(8);
        for slot in 0..8u32 {
            let pages = arena.alloc(1).expect("a page per read");
            let io = DeviceIo {
                tag: IoTag {
                    slot,
                    generation: 1,
                },
                device: DeviceId((slot % 2) as u16),
                op: Op::Read,
                sector: u64::from(slot) * 8,
                sectors: 8,
                fua: false,
                sync: false,
                buffer: Buffer::from_pages(pages),
            };
            platform.submit(io, &mut arena);
        }
        let mut inputs = Vec::new();
        platform.wait(None, &mut arena, &mut inputs);
        assert_eq!(platform.now_ns(), 1_000, "one instant");
        assert_eq!(inputs.len(), 8, "all eight completions at that instant");
        inputs
            .iter()
            .map(|input| match input {
                Input::Completion(c) => u64::from(c.tag.slot),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn without_perturbation_ties_come_out_in_device_order() {
        assert_eq!(
            completion_order(SimOptions::default()),
            vec![0, 2, 4, 6, 1, 3, 5, 7]
        );
    }

    #[test]
    fn the_same_perturbation_seed_gives_the_same_order() {
        let options = SimOptions {
            perturb_ties_seed: Some(7),
        };
        assert_eq!(completion_order(options), completion_order(options));
    }

    #[test]
    fn different_perturbation_seeds_reach_different_orders() {
        let orders: std::collections::BTreeSet<Vec<u64>> = (0..8)
            .map(|seed| {
                completion_order(SimOptions {
                    perturb_ties_seed: Some(seed),
                })
            })
            .collect();
        assert!(orders.len() >= 4, "eight seeds gave only {orders:?}");
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (0..8).collect::<Vec<_>>(),
                "a permutation of the ties"
            );
        }
    }
}
