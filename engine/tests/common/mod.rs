//! A scripted fake platform and harnesses for the engine's integration tests.
//!
//! `FakePlatform` keeps each device's content as a sector map and completes device IO the
//! way a test's script says: at once, after a delay, with an error, or never (held until the
//! test releases it). Cancels take effect or not, as scripted. Write data is captured at
//! submission and applied at completion (if the IO did not fail or get cancelled); read data
//! is written into the arena at completion.
#![allow(dead_code)]

use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::{
    Arena, Bio, BioDone, BioFlags, BioId, BioSource, Completion, DeviceId, DeviceIo, Extent, Input,
    IoStatus, IoTag, Op, Output, Platform, SectorData, ServiceEvent, Services,
};
use std::collections::{BTreeMap, VecDeque};

/// What the fake device does with one submitted IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Complete after `delay_ns` with `status`.
    After { delay_ns: u64, status: IoStatus },
    /// Never complete on its own (a hung device); the test may release it.
    Hang,
}

impl Fate {
    pub fn ok(delay_ns: u64) -> Fate {
        Fate::After {
            delay_ns,
            status: IoStatus::Ok,
        }
    }
}

/// What a cancel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelEffect {
    /// The IO completes at once with `Cancelled`.
    Cancels,
    /// The cancel is not found: the IO goes on as scripted.
    Ignored,
}

pub type Script = Box<dyn FnMut(&DeviceIo) -> Fate>;

#[derive(Debug, Clone)]
pub struct PendingIo {
    pub io: DeviceIo,
    pub write_data: Vec<SectorContent>,
}

pub struct FakePlatform {
    pub now_ns: u64,
    pub content: Vec<BTreeMap<u64, SectorContent>>,
    pub script: Script,
    pub cancel_effect: CancelEffect,
    /// Submitted and not completed, by tag.
    pub pending: BTreeMap<IoTag, PendingIo>,
    /// Scheduled completions: (time, sequence) → (tag, status).
    pub scheduled: BTreeMap<(u64, u64), (IoTag, IoStatus)>,
    sequence: u64,
    pub submitted: Vec<DeviceIo>,
    pub cancels: Vec<IoTag>,
    pub completed: Vec<Completion>,
    /// Largest number of IOs in flight at once.
    pub max_in_flight: usize,
}

impl FakePlatform {
    pub fn new(devices: usize, script: Script) -> FakePlatform {
        FakePlatform {
            now_ns: 0,
            content: vec![BTreeMap::new(); devices],
            script,
            cancel_effect: CancelEffect::Cancels,
            pending: BTreeMap::new(),
            scheduled: BTreeMap::new(),
            sequence: 0,
            submitted: Vec::new(),
            cancels: Vec::new(),
            completed: Vec::new(),
            max_in_flight: 0,
        }
    }

    /// Every IO completes OK after `delay_ns`.
    pub fn uniform(devices: usize, delay_ns: u64) -> FakePlatform {
        FakePlatform::new(devices, Box::new(move |_| Fate::ok(delay_ns)))
    }

    pub fn read(&self, device: u16, sector: u64) -> SectorContent {
        self.content[usize::from(device)]
            .get(&sector)
            .copied()
            .unwrap_or(SectorContent::Zero)
    }

    pub fn fill(&mut self, device: u16, sector: u64, contents: &[SectorContent]) {
        for (i, &c) in contents.iter().enumerate() {
            self.content[usize::from(device)].insert(sector + i as u64, c);
        }
    }

    fn schedule(&mut self, at_ns: u64, tag: IoTag, status: IoStatus) {
        self.sequence += 1;
        self.scheduled.insert((at_ns, self.sequence), (tag, status));
    }

    /// Completes a held (or scheduled) IO now with `status`.
    pub fn release(&mut self, tag: IoTag, status: IoStatus) {
        self.scheduled.retain(|_, (t, _)| *t != tag);
        let now = self.now_ns;
        self.schedule(now, tag, status);
    }

    /// Tags of IOs submitted and not completed, in tag order.
    pub fn pending_tags(&self) -> Vec<IoTag> {
        self.pending.keys().copied().collect()
    }

    /// Applies a completion to device content and the arena; returns it.
    fn finish(&mut self, tag: IoTag, status: IoStatus, arena: &mut Arena) -> Completion {
        let pending = self
            .pending
            .remove(&tag)
            .expect("fake platform completes only pending IOs");
        let io = &pending.io;
        if status == IoStatus::Ok {
            match io.op {
                Op::Write => {
                    let map = &mut self.content[usize::from(io.device.0)];
                    for (i, &c) in pending.write_data.iter().enumerate() {
                        map.insert(io.sector + i as u64, c);
                    }
                }
                Op::Read => {
                    let map = &self.content[usize::from(io.device.0)];
                    let slots: Vec<_> = io.buffer.sector_slots(u64::from(io.sectors)).collect();
                    for (i, (page, index)) in slots.into_iter().enumerate() {
                        let c = map
                            .get(&(io.sector + i as u64))
                            .copied()
                            .unwrap_or(SectorContent::Zero);
                        arena.io_set_sector(page, index, c);
                    }
                }
                Op::Discard => {
                    let map = &mut self.content[usize::from(io.device.0)];
                    for s in io.sector..io.sector + u64::from(io.sectors) {
                        map.remove(&s);
                    }
                }
                Op::Flush => {}
            }
        }
        let completion = Completion { tag, status };
        self.completed.push(completion);
        completion
    }

    /// Takes the completions due at the earliest scheduled time not after `deadline`,
    /// advancing the clock; returns them applied.
    pub fn step(&mut self, deadline_ns: Option<u64>, arena: &mut Arena) -> Vec<Completion> {
        let Some((&(at, _), _)) = self.scheduled.first_key_value() else {
            if let Some(d) = deadline_ns {
                self.now_ns = self.now_ns.max(d);
            }
            return Vec::new();
        };
        if deadline_ns.is_some_and(|d| d < at) {
            self.now_ns = self.now_ns.max(deadline_ns.unwrap_or(at));
            return Vec::new();
        }
        self.now_ns = self.now_ns.max(at);
        let mut out = Vec::new();
        while let Some((&(t, seq), &(tag, status))) = self.scheduled.first_key_value() {
            if t != at {
                break;
            }
            self.scheduled.remove(&(t, seq));
            out.push(self.finish(tag, status, arena));
        }
        out
    }
}

impl Platform for FakePlatform {
    fn now_ns(&self) -> u64 {
        self.now_ns
    }

    fn submit(&mut self, io: DeviceIo, arena: &mut Arena) {
        let write_data = if io.op == Op::Write {
            io.buffer
                .sector_slots(u64::from(io.sectors))
                .map(|(page, index)| {
                    assert!(arena.is_sector_in_flight(page, index));
                    arena.io_sector(page, index)
                })
                .collect()
        } else {
            Vec::new()
        };
        let fate = (self.script)(&io);
        let tag = io.tag;
        self.submitted.push(io.clone());
        assert!(
            self.pending
                .insert(tag, PendingIo { io, write_data })
                .is_none(),
            "tag {tag} submitted twice while pending"
        );
        self.max_in_flight = self.max_in_flight.max(self.pending.len());
        if let Fate::After { delay_ns, status } = fate {
            let at = self.now_ns + delay_ns;
            self.schedule(at, tag, status);
        }
    }

    fn cancel(&mut self, tag: IoTag) {
        self.cancels.push(tag);
        if self.cancel_effect == CancelEffect::Cancels && self.pending.contains_key(&tag) {
            self.release(tag, IoStatus::Cancelled);
        }
    }

    fn is_quiescent(&self) -> bool {
        self.scheduled.is_empty()
    }

    fn wait(&mut self, deadline_ns: Option<u64>, arena: &mut Arena, inputs: &mut Vec<Input>) {
        for completion in self.step(deadline_ns, arena) {
            inputs.push(Input::Completion(completion));
        }
    }
}

/// One thing that crossed the services' boundary, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trace {
    Submit(IoTag),
    Cancel(IoTag),
    Complete(IoTag, IoStatus),
    Event(ServiceEvent),
    Unknown(DeviceId, Extent),
}

/// Drives a bare [`Services`] with a [`FakePlatform`], checking invariants after each step.
pub struct Harness {
    pub trace: Vec<Trace>,
    pub services: Services,
    pub platform: FakePlatform,
    pub events: Vec<(u64, ServiceEvent)>,
    pub unknown: Vec<(DeviceId, Extent)>,
    /// Number of outputs handled; the index at which each `Submit` was seen.
    pub submit_order: Vec<IoTag>,
}

impl Harness {
    pub fn new(services: Services, platform: FakePlatform) -> Harness {
        Harness {
            trace: Vec::new(),
            services,
            platform,
            events: Vec::new(),
            unknown: Vec::new(),
            submit_order: Vec::new(),
        }
    }

    /// Runs the services and moves outputs and events out, until quiet.
    pub fn pump(&mut self) {
        loop {
            self.services.run();
            let mut moved = false;
            while let Some(output) = self.services.poll_output() {
                moved = true;
                match output {
                    Output::Submit(io) => {
                        self.trace.push(Trace::Submit(io.tag));
                        self.submit_order.push(io.tag);
                        self.platform.submit(io, self.services.arena_mut());
                    }
                    Output::Cancel(tag) => {
                        self.trace.push(Trace::Cancel(tag));
                        self.platform.cancel(tag)
                    }
                    Output::ContentsUnknown { device, extent } => {
                        self.trace.push(Trace::Unknown(device, extent));
                        self.unknown.push((device, extent))
                    }
                    Output::BioDone(_) => panic!("services emit no bio completions"),
                }
            }
            while let Some(event) = self.services.poll_event() {
                moved = true;
                self.trace.push(Trace::Event(event.clone()));
                self.events.push((self.platform.now_ns, event));
            }
            self.check();
            if !moved {
                break;
            }
        }
    }

    pub fn check(&self) {
        if let Err(violation) = self.services.check_invariants() {
            panic!("invariant violated: {violation}");
        }
    }

    /// Delivers the next instant's completions (or the next deadline's tick). Returns false
    /// if nothing at all is pending.
    pub fn step(&mut self) -> bool {
        self.pump();
        let deadline = self.services.poll_deadline();
        if deadline.is_some_and(|d| d <= self.platform.now_ns) {
            self.services.set_now_ns(self.platform.now_ns);
            self.services.on_tick();
            self.pump();
            return true;
        }
        if self.platform.scheduled.is_empty() && deadline.is_none() {
            return false;
        }
        let completions = self.platform.step(deadline, self.services.arena_mut());
        self.services.set_now_ns(self.platform.now_ns);
        if completions.is_empty() {
            self.services.on_tick();
        }
        for completion in completions {
            self.trace
                .push(Trace::Complete(completion.tag, completion.status));
            self.services
                .on_completion(completion)
                .expect("the fake platform answers live tags only");
            self.pump();
        }
        self.pump();
        true
    }

    /// Steps until nothing is pending (held IOs stay held).
    pub fn run_until_quiet(&mut self) {
        let mut guard = 0;
        while self.step() {
            guard += 1;
            assert!(guard < 1_000_000, "harness did not quiesce");
        }
    }

    /// Events so far, without their times.
    pub fn event_list(&self) -> Vec<ServiceEvent> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }
}

pub fn stamp(sector: u64, write_id: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp { sector, write_id })
}

/// Write data for `sectors` sectors starting at `sector`, written by `write_id`.
pub fn stamps(sector: u64, sectors: u32, write_id: u64) -> SectorData {
    (0..u64::from(sectors))
        .map(|i| stamp(sector + i, write_id))
        .collect()
}

/// A bio source replaying a fixed list of (arrival, bio), recording completions.
pub struct ListSource {
    pub bios: VecDeque<(u64, Bio)>,
    pub done: Vec<(u64, BioDone)>,
}

impl ListSource {
    pub fn new(bios: Vec<(u64, Bio)>) -> ListSource {
        ListSource {
            bios: bios.into(),
            done: Vec::new(),
        }
    }

    pub fn done_for(&self, id: u64) -> &BioDone {
        &self
            .done
            .iter()
            .find(|(_, d)| d.id == BioId(id))
            .unwrap_or_else(|| panic!("bio {id} not done"))
            .1
    }
}

impl BioSource for ListSource {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        self.bios.front().map(|(at, _)| *at)
    }
    fn take_bio(&mut self, _now_ns: u64) -> Bio {
        self.bios.pop_front().expect("announced bio").1
    }
    fn on_done(&mut self, now_ns: u64, done: BioDone) {
        self.done.push((now_ns, done));
    }
    fn is_finished(&self) -> bool {
        self.bios.is_empty()
    }
}

pub fn bio(id: u64, op: Op, sector: u64, sectors: u32) -> Bio {
    Bio {
        id: BioId(id),
        op,
        sector,
        sectors,
        flags: BioFlags::default(),
        data: if op == Op::Write {
            stamps(sector, sectors, id)
        } else {
            SectorData::new()
        },
    }
}
