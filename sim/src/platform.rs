//! `SimPlatform`: the engine's [`Platform`] over simulated devices in virtual time.
//!
//! Device IOs go to [`SimDevice`]s, which time them with their models; `wait` advances the
//! virtual clock to the earliest device event not after the deadline and delivers that
//! instant's completions, writing read data into the arena first. Completions of one instant
//! come out in device order, or in a seeded random order when tie perturbation is on.
//!
//! Strict-mode violations (an IO the simulated device refuses: misaligned, out of range,
//! overlapping an in-flight write) are engine bugs. They are recorded in
//! [`SimPlatform::violations`] and the IO completes with `IoError`, so the run goes on and the
//! test or CLI reports them.

use crate::device::store::SectorView;
use crate::device::{DeviceCompletion, SimDevice, SimIo, StrictError, WritePayload};
use dmsim_engine::arena::{Arena, PageMode};
use dmsim_engine::block::{DeviceInfo, IoStatus, Op};
use dmsim_engine::io::{Completion, DeviceIo, Input, IoTag};
use dmsim_engine::platform::Platform;
use dmsim_engine::PageId;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use std::collections::BTreeMap;

/// An IO the platform has handed to a device.
#[derive(Debug)]
struct Pending {
    device: usize,
    io: DeviceIo,
}

/// The simulated platform. Devices are numbered in the order given (`DeviceId(i)`).
pub struct SimPlatform {
    now_ns: u64,
    devices: Vec<SimDevice>,
    pending: BTreeMap<u64, Pending>,
    /// IOs refused by a strict check, completed with `IoError` at the next wait.
    refused: Vec<IoTag>,
    violations: Vec<StrictError>,
    perturbation: Option<ChaCha8Rng>,
    scratch: Vec<DeviceCompletion>,
    instant: Vec<(usize, DeviceCompletion)>,
    slots: Vec<(PageId, usize)>,
}

impl SimPlatform {
    pub fn new(devices: Vec<SimDevice>) -> Self {
        SimPlatform {
            now_ns: 0,
            devices,
            pending: BTreeMap::new(),
            refused: Vec::new(),
            violations: Vec::new(),
            perturbation: None,
            scratch: Vec::new(),
            instant: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Order same-instant completions by draws from `stream` instead of device order.
    pub fn with_tie_perturbation(mut self, stream: ChaCha8Rng) -> Self {
        self.perturbation = Some(stream);
        self
    }

    /// What the engine must know of the devices, in order.
    pub fn device_infos(&self) -> Vec<DeviceInfo> {
        self.devices
            .iter()
            .map(|d| DeviceInfo::new(d.capacity_sectors(), d.logical_block_size()))
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

    fn payload(io: &DeviceIo, arena: &mut Arena, slots: &mut Vec<(PageId, usize)>) -> WritePayload {
        slots.clear();
        slots.extend(io.buffer.sector_slots(u64::from(io.sectors)));
        if slots
            .iter()
            .all(|&(page, _)| arena.mode(page) == PageMode::Sectors)
        {
            WritePayload::Contents(slots.iter().map(|&(p, i)| arena.io_sector(p, i)).collect())
        } else {
            let mut bytes = Vec::with_capacity(slots.len() * 512);
            for &(page, index) in slots.iter() {
                bytes.extend_from_slice(arena.io_sector_bytes(page, index));
            }
            WritePayload::Bytes(bytes)
        }
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
            .remove(&c.tag)
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
            Self::payload(&io, arena, &mut self.slots)
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
                self.pending.insert(tag, Pending { device, io });
            }
            Err(violation) => {
                self.violations.push(violation);
                self.refused.push(io.tag);
            }
        }
    }

    fn cancel(&mut self, tag: IoTag) {
        if let Some(p) = self.pending.get(&tag.to_u64()) {
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
