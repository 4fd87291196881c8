//! The flash back end in time: per-die queues and occupancy, per-channel bus reservations,
//! and the duration of each op.
//!
//! The scheduling unit is the die, or the whole chip when `flash.die_interleaving` is off
//! (then every die of a chip shares one queue and one busy period). A free unit takes the
//! oldest ready foreground read (host data, mapping fetch, read-modify-write), else the head
//! of its FIFO of programs, erases and GC work (FIFO keeps a victim's reads, programs and
//! erase in order and keeps GC paced ahead of the host program that incurred it). With
//! `flash.multi_die_commands` a chip unit then adds, for each of its other dies, the first
//! ready op of the same queue and kind aimed at that die (a multi-die command, as MQSim's
//! transaction scheduler builds one per die when it finds a chip idle); the chip stays busy
//! until the last of them ends. An op
//! occupies its die from its first command cycle to its end; its bus phases (command, data
//! in or out) are reserved on the channel at the earliest gap, so dies on one channel
//! overlap their array times but not their transfers:
//! - read: command → tR → data out; the die waits for the data to leave its register;
//! - program: command + data in → tPROG;
//! - erase: command → tBERS.
//!
//! With `flash.multi_plane_commands` each started host read or program also takes, for each
//! other plane of its die, the first ready op of the same kind whose page has the same offset
//! in its block (a multi-plane command, as MQSim's transaction scheduler builds when it scans
//! a chip's queue): the planes share one array time, their transfers follow each other on
//! the channel. GC and mapping ops never join one.
//!
//! With `flash.start_on_idle_channel` a unit chooses its next op only at an instant its
//! channel carries no transfer (as MQSim's scheduler issues commands): a unit that frees up
//! while the channel is busy looks again when it goes free, so work that arrived meanwhile
//! (a read ahead of a queued program) is weighed too.
//!
//! Deliberately not modelled: cache operations, program/erase suspension, read retry,
//! per-page-type (LSB/MSB) latencies.

use super::geometry::Geometry;
use super::ops::{OpKind, OpPurpose, OpSpec};
use super::params::FlashParams;
use super::slab::Slab;
use super::table::NONE;
use super::timeline::{transfer_ns, Timeline};
use std::collections::VecDeque;

/// An op waiting for, or running on, its die.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlashOp {
    pub spec: OpSpec,
    /// Earliest start (its inputs are ready).
    pub ready_ns: u64,
    /// Job waiting on it, or NONE for background work.
    pub job: u32,
    /// Next op held by the same job before it is released to the dies, or NONE.
    pub next_held: u32,
    /// When the op was created (queued or held), and when it started on its die.
    pub created_ns: u64,
    pub started_ns: u64,
}

#[derive(Debug, Clone, Default)]
struct Die {
    busy_until_ns: u64,
    /// Time of the one live scheduled check, or u64::MAX.
    check_ns: u64,
    reads: VecDeque<u32>,
    writes: VecDeque<u32>,
}

/// What the die scheduler decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dispatch {
    /// One op per die started; `FlashBackend::started` lists them with their ends.
    Started,
    /// Nothing is ready before `at_ns`.
    WaitUntil { at_ns: u64 },
    /// Busy, or nothing queued.
    Nothing,
}

pub(crate) struct FlashBackend {
    flash: FlashParams,
    geo: Geometry,
    /// Dies that share one scheduling unit (1, or dies per chip without interleaving).
    dies_per_unit: u32,
    /// Scheduling units (dies or chips), indexed by `unit_of`.
    dies: Vec<Die>,
    channels: Vec<Timeline>,
    pub ops: Slab<FlashOp>,
    /// Sum of scheduling-unit busy time (for utilisation figures).
    pub die_busy_ns: u64,
    /// Ops started by the last `Dispatch::Started`, with their end times.
    pub started: Vec<(u32, u64)>,
    /// Ops that ran as the second (or later) plane of a multi-plane command.
    pub multi_plane_companions: u64,
}

impl FlashBackend {
    pub fn new(geo: Geometry, flash: &FlashParams) -> FlashBackend {
        let dies_per_unit = if flash.die_interleaving {
            1
        } else {
            geo.dies_per_chip
        };
        FlashBackend {
            flash: flash.clone(),
            geo,
            dies_per_unit,
            dies: (0..geo.dies / dies_per_unit)
                .map(|_| Die {
                    check_ns: u64::MAX,
                    ..Die::default()
                })
                .collect(),
            channels: vec![Timeline::default(); geo.channels as usize],
            ops: Slab::default(),
            die_busy_ns: 0,
            started: Vec::new(),
            multi_plane_companions: 0,
        }
    }

    pub fn new_op(&mut self, spec: OpSpec, job: u32, ready_ns: u64, now_ns: u64) -> u32 {
        assert!(
            spec.die < self.geo.dies,
            "op on die {} of {}",
            spec.die,
            self.geo.dies
        );
        self.ops.insert(FlashOp {
            spec,
            ready_ns,
            job,
            next_held: NONE,
            created_ns: now_ns,
            started_ns: 0,
        })
    }

    /// Scheduling unit (die or chip) of `die`.
    pub fn unit_of(&self, die: u32) -> u32 {
        die / self.dies_per_unit
    }

    /// Queue a created op on its unit. Returns (unit, ready time) for the caller to schedule
    /// a check.
    pub fn enqueue(&mut self, op: u32) -> (u32, u64) {
        let o = *self.ops.get(op);
        let unit = self.unit_of(o.spec.die);
        let die = &mut self.dies[unit as usize];
        if o.spec.purpose.is_foreground_read() {
            die.reads.push_back(op);
        } else {
            die.writes.push_back(op);
        }
        (unit, o.ready_ns)
    }

    /// Whether a check of scheduling unit `unit` must be scheduled at `at_ns` (none pending at or before it
    /// and the die is not busy past it); records it as the live check if so.
    pub fn claim_check(&mut self, unit: u32, at_ns: u64) -> bool {
        let d = &mut self.dies[unit as usize];
        if d.busy_until_ns > at_ns || d.check_ns <= at_ns {
            return false;
        }
        d.check_ns = at_ns;
        true
    }

    /// Whether a check event at `at_ns` is the live one (stale ones are ignored).
    pub fn take_check(&mut self, unit: u32, at_ns: u64) -> bool {
        let d = &mut self.dies[unit as usize];
        if d.check_ns != at_ns {
            return false;
        }
        d.check_ns = u64::MAX;
        true
    }

    /// If scheduling unit `unit` is free at `now_ns`, start its next ready op, and with
    /// multi-die commands on a chip unit one more ready op of the same queue and kind for
    /// each of its other dies.
    pub fn dispatch(&mut self, unit: u32, now_ns: u64) -> Dispatch {
        self.started.clear();
        let d = &self.dies[unit as usize];
        if d.busy_until_ns > now_ns {
            return Dispatch::Nothing;
        }
        if self.flash.start_on_idle_channel && !(d.reads.is_empty() && d.writes.is_empty()) {
            let channel = self.geo.channel_of_die(unit * self.dies_per_unit) as usize;
            if let Some(free_ns) = self.channels[channel].busy_until(now_ns) {
                return Dispatch::WaitUntil { at_ns: free_ns };
            }
        }
        let ops = &self.ops;
        let ready_read = d
            .reads
            .iter()
            .position(|&op| ops.get(op).ready_ns <= now_ns);
        let (chosen, from_reads) = match ready_read {
            Some(i) => (self.dies[unit as usize].reads.remove(i), true),
            None => match d.writes.front() {
                Some(&op) if ops.get(op).ready_ns <= now_ns => {
                    (self.dies[unit as usize].writes.pop_front(), false)
                }
                _ => (None, false),
            },
        };
        let Some(op) = chosen else {
            let d = &self.dies[unit as usize];
            let next_read = d.reads.iter().map(|&op| ops.get(op).ready_ns).min();
            let next_write = d.writes.front().map(|&op| ops.get(op).ready_ns);
            return match (next_read, next_write) {
                (None, None) => Dispatch::Nothing,
                (a, b) => Dispatch::WaitUntil {
                    at_ns: a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX)),
                },
            };
        };
        let mut end_ns = self.start_on_planes(unit, from_reads, op, now_ns);
        let spec = self.ops.get(op).spec;
        let mut dies_taken = 1u64 << (spec.die % self.dies_per_unit);
        while self.dies_per_unit > 1 && self.flash.multi_die_commands {
            let Some(companion) = self.companion(unit, from_reads, spec.kind, dies_taken, now_ns)
            else {
                break;
            };
            let companion_end = self.start_on_planes(unit, from_reads, companion, now_ns);
            end_ns = end_ns.max(companion_end);
            dies_taken |= 1 << (self.ops.get(companion).spec.die % self.dies_per_unit);
        }
        let d = &mut self.dies[unit as usize];
        d.busy_until_ns = end_ns;
        self.die_busy_ns += end_ns - now_ns;
        Dispatch::Started
    }

    /// Start `op` on its die, with multi-plane commands one more ready op of the same kind
    /// on each other plane of that die whose page has the same offset in its block. The
    /// channel carries their command and data phases one after another; the planes share the
    /// array time, so a multi-plane program ends for all its pages when the last one's does
    /// (a read's data still leaves each plane in turn). Returns when the die is free again.
    fn start_on_planes(&mut self, unit: u32, from_reads: bool, op: u32, now_ns: u64) -> u64 {
        let first = self.started.len();
        self.ops.get_mut(op).started_ns = now_ns;
        let mut end_ns = self.run(op, now_ns);
        self.started.push((op, end_ns));
        let spec = self.ops.get(op).spec;
        if !(self.flash.multi_plane_commands && self.pairs_across_planes(spec)) {
            return end_ns;
        }
        let planes_per_die = self.geo.planes_per_die;
        let mut planes_taken = 1u64 << (self.geo.plane_of_page(spec.page) % planes_per_die);
        while let Some(companion) =
            self.plane_companion(unit, from_reads, spec, planes_taken, now_ns)
        {
            self.ops.get_mut(companion).started_ns = now_ns;
            let companion_end = self.run(companion, now_ns);
            self.started.push((companion, companion_end));
            end_ns = end_ns.max(companion_end);
            let page = self.ops.get(companion).spec.page;
            planes_taken |= 1 << (self.geo.plane_of_page(page) % planes_per_die);
            self.multi_plane_companions += 1;
        }
        if spec.kind == OpKind::Program {
            for started in &mut self.started[first..] {
                started.1 = end_ns;
            }
        }
        end_ns
    }

    /// Host reads and programs that name their page may join a multi-plane command; GC and
    /// mapping work keep their own order.
    fn pairs_across_planes(&self, spec: OpSpec) -> bool {
        self.geo.planes_per_die > 1
            && spec.page != NONE
            && matches!(
                spec.purpose,
                OpPurpose::HostRead | OpPurpose::ModifyRead | OpPurpose::HostProgram
            )
    }

    /// Remove and return the first ready op of the chosen queue that can join `lead` in a
    /// multi-plane command: same die and kind, a plane not in `planes_taken` (bit per plane
    /// of the die), its page at the same offset in its block.
    fn plane_companion(
        &mut self,
        unit: u32,
        from_reads: bool,
        lead: OpSpec,
        planes_taken: u64,
        now_ns: u64,
    ) -> Option<u32> {
        let geo = self.geo;
        let offset = lead.page % geo.pages_per_block;
        let ops = &self.ops;
        let fits = |op: u32| {
            let o = ops.get(op);
            let s = o.spec;
            s.die == lead.die
                && s.kind == lead.kind
                && o.ready_ns <= now_ns
                && s.page != NONE
                && matches!(
                    s.purpose,
                    OpPurpose::HostRead | OpPurpose::ModifyRead | OpPurpose::HostProgram
                )
                && s.page % geo.pages_per_block == offset
                && planes_taken & (1u64 << (geo.plane_of_page(s.page) % geo.planes_per_die)) == 0
        };
        let d = &mut self.dies[unit as usize];
        let queue = if from_reads {
            &mut d.reads
        } else {
            &mut d.writes
        };
        let i = queue.iter().position(|&op| fits(op))?;
        queue.remove(i)
    }

    /// Remove and return the first ready op of the chosen queue with `kind` on a die of
    /// `unit` not yet in `dies_taken` (bit per die of the unit). For the FIFO queue only
    /// each die's first op qualifies, so per-die order (GC before the host program it paces)
    /// holds.
    fn companion(
        &mut self,
        unit: u32,
        from_reads: bool,
        kind: OpKind,
        dies_taken: u64,
        now_ns: u64,
    ) -> Option<u32> {
        let dies_per_unit = self.dies_per_unit;
        let ops = &self.ops;
        let d = &mut self.dies[unit as usize];
        let queue = if from_reads {
            &mut d.reads
        } else {
            &mut d.writes
        };
        let mut seen = dies_taken;
        let mut found = None;
        for (i, &op) in queue.iter().enumerate() {
            let o = ops.get(op);
            let bit = 1u64 << (o.spec.die % dies_per_unit);
            if seen & bit != 0 {
                continue;
            }
            if o.spec.kind == kind && o.ready_ns <= now_ns {
                found = Some(i);
                break;
            }
            if !from_reads {
                // This die's next FIFO op is not a match: nothing behind it may jump it.
                seen |= bit;
            }
        }
        found.and_then(|i| queue.remove(i))
    }

    /// Reserve the channel phases of `op` starting no earlier than `now_ns`; returns its end.
    fn run(&mut self, op: u32, now_ns: u64) -> u64 {
        let spec = self.ops.get(op).spec;
        let f = &self.flash;
        let channel = &mut self.channels[self.geo.channel_of_die(spec.die) as usize];
        let xfer = if spec.bytes == 0 {
            0
        } else {
            transfer_ns(u64::from(spec.bytes), f.channel_mb_per_s)
        };
        match spec.kind {
            OpKind::Read => {
                let command = channel.acquire(now_ns, now_ns, f.read_command_ns);
                let array_done = command + f.read_command_ns + f.page_read_ns;
                if xfer == 0 {
                    array_done
                } else {
                    channel.acquire(now_ns, array_done, xfer) + xfer
                }
            }
            OpKind::Program => {
                let bus = f.program_command_ns + xfer;
                channel.acquire(now_ns, now_ns, bus) + bus + f.page_program_ns
            }
            OpKind::Erase => {
                channel.acquire(now_ns, now_ns, f.erase_command_ns)
                    + f.erase_command_ns
                    + f.block_erase_ns
            }
        }
    }
}
