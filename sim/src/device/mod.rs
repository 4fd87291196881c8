//! A simulated block device: content, a volatile write cache, strict checks, faults, crash,
//! and timing from a [`TimingModel`].
//!
//! The device is stricter than any real one (DESIGN.md invariant 6): misaligned or
//! out-of-range IO and a write overlapping another in-flight write are refused with a
//! [`StrictError`]. Writes take effect when they complete; reads sample the content when the
//! caller collects the completion ([`SimDevice::read_into`] at the completion time), so a read
//! racing a write may see either version — as on real hardware.
//!
//! Faults ([`faults`]: rules with rates, latent sector errors, a pulled drive) are decided
//! when an IO is submitted, from the device's own seeded fault stream, and carried out when
//! it completes (`effects`); power loss is [`power_loss`].
//!
//! Calling obligations mirror the model's: `now_ns` never decreases; call `advance(t)` for
//! every `t` that `next_event_ns` returns.

mod effects;
pub mod faults;
mod inflight;
pub mod latent;
pub mod power_loss;
pub mod store;
mod strict;
pub mod volatile;

use crate::streams::stream;
use dmsim_engine::block::{DisjointExtents, Extent, IoStatus, Op, SECTORS_PER_PAGE};
use dmsim_engine::content::SectorContent;
use dmsim_engine::id_table::IdTable;
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use effects::Effect;
pub use effects::FaultStats;
use faults::{DeviceFault, FaultError, FaultPlan, IoFacts};
use inflight::InflightTable;
use latent::LatentSectors;
pub use power_loss::{CrashReport, PowerLoss};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use smallvec::SmallVec;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use store::{
    for_each_block, merge_block_in_place, BlockContent, ContentStore, SectorView, SectorWrite,
};
pub use strict::StrictError;
use volatile::VolatileCache;

/// The sector contents of a write: a 4 KiB write's eight fit inline, so the platform hands
/// a device workload data without an allocation per IO (issue 11).
pub type SectorContents = SmallVec<[SectorContent; 8]>;

/// Data a write carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritePayload {
    /// Reads, flushes and discards carry none.
    None,
    /// One content per sector.
    Contents(SectorContents),
    /// Real bytes, 512 per sector.
    Bytes(Vec<u8>),
}

/// One IO submitted to a simulated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIo {
    /// The caller's tag, unique among this device's IOs in flight.
    pub tag: u64,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub fua: bool,
    pub payload: WritePayload,
}

/// A finished IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCompletion {
    pub tag: u64,
    pub status: IoStatus,
    pub done_ns: u64,
}

/// What a cancel achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The IO will complete with `Cancelled` at the time of the cancel; a write changed nothing.
    Cancelled,
    /// The device ignores the cancel; the IO completes normally later.
    Ignored,
    /// No such IO in flight (it completed already).
    NotFound,
}

/// IO counters of one device (for reports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceStats {
    pub reads: u64,
    pub writes: u64,
    pub flushes: u64,
    pub discards: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub errors: u64,
    pub cancelled: u64,
}

struct Inflight {
    io: SimIo,
    effect: Effect,
    /// Its outcome was reported already (cancelled, or failed when the drive was pulled);
    /// it stays until the model lets go of it, and changes nothing.
    reported: bool,
    /// The model has finished it (it may still be held by a Hang or Delay fault).
    model_done: bool,
    flush_snapshot: Option<Vec<(u64, Option<BlockContent>, u64)>>,
}

/// A simulated device.
pub struct SimDevice {
    name: String,
    model: Box<dyn TimingModel>,
    capacity_sectors: u64,
    lbs_sectors: u64,
    store: ContentStore,
    cache: Option<VolatileCache>,
    /// Internal id → IO. Internal ids are never reused, so a model completion of an IO whose
    /// cancel was already reported cannot be mistaken for a later IO with the same tag.
    inflight: InflightTable<Inflight>,
    /// Tag → internal id; lookups only.
    by_tag: IdTable<u64>,
    /// In-flight writes and discards with their tags; disjoint by the strict check.
    inflight_writes: DisjointExtents<u64>,
    /// (due time, order, internal id) of IOs delayed by a fault.
    delayed: BinaryHeap<Reverse<(u64, u64, u64)>>,
    /// Completions already decided (cancels), reported at the next advance.
    ready: VecDeque<DeviceCompletion>,
    faults: FaultPlan,
    /// The device's own fault stream (see [`SimDevice::with_fault_seed`]).
    fault_rng: ChaCha8Rng,
    fault_stats: FaultStats,
    latent: LatentSectors,
    /// When the drive is pulled ([`DeviceFault::Disappear`]), and whether it is gone.
    disappear_at_ns: Option<u64>,
    gone: bool,
    next_internal: u64,
    completion_seq: u64,
    stats: DeviceStats,
    model_out: Vec<ModelCompletion>,
    /// Byte payloads of completed writes, emptied, for the platform's next ones
    /// ([`SimDevice::spare_payload`]): a metadata write allocates nothing (issue 11).
    spare_payloads: Vec<Vec<u8>>,
}

/// Most spare payloads a device keeps (a few more than the writes of bytes in flight).
const SPARE_PAYLOADS_MAX: usize = 64;

impl SimDevice {
    /// A device named `name` (used in errors and reports) with `model`'s timing. Its fault
    /// stream is that of seed 0 until [`SimDevice::with_fault_seed`] says otherwise.
    pub fn new(name: impl Into<String>, model: Box<dyn TimingModel>) -> Self {
        let name = name.into();
        let capacity_sectors = model.capacity_sectors();
        let lbs_sectors = u64::from(model.logical_block_size() / 512).max(1);
        let cache = model.volatile_write_cache().then(VolatileCache::default);
        SimDevice {
            fault_rng: stream(0, &format!("faults.{name}")),
            name,
            model,
            capacity_sectors,
            lbs_sectors,
            store: ContentStore::new(),
            cache,
            inflight: InflightTable::default(),
            by_tag: IdTable::new(),
            inflight_writes: DisjointExtents::default(),
            delayed: BinaryHeap::new(),
            ready: VecDeque::new(),
            faults: FaultPlan::default(),
            fault_stats: FaultStats::default(),
            latent: LatentSectors::default(),
            disappear_at_ns: None,
            gone: false,
            next_internal: 0,
            completion_seq: 0,
            stats: DeviceStats::default(),
            model_out: Vec::new(),
            spare_payloads: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn capacity_sectors(&self) -> u64 {
        self.capacity_sectors
    }
    pub fn logical_block_size(&self) -> u32 {
        (self.lbs_sectors * 512) as u32
    }
    pub fn model_kind(&self) -> &'static str {
        self.model.kind()
    }
    pub fn stats(&self) -> &DeviceStats {
        &self.stats
    }
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// IOs a hang fault holds: the model has finished them and they will never complete
    /// (unless cancelled). A run that waits on one stalls by the fault's doing.
    pub fn hung_ios(&self) -> usize {
        self.inflight
            .iter()
            .filter(|(_, entry)| {
                entry.effect == Effect::Hang && entry.model_done && !entry.reported
            })
            .count()
    }

    /// The device keeps completed writes in a volatile cache until a flush (or FUA).
    pub fn has_volatile_write_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Blocks that hold completed writes not yet durable.
    pub fn volatile_blocks(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// Draw fault decisions from the run's stream `faults.<device name>` of `seed`.
    pub fn with_fault_seed(mut self, seed: u64) -> Self {
        self.fault_rng = stream(seed, &format!("faults.{}", self.name));
        self
    }

    /// Adds a fault (a [`faults::FaultRule`] converts), after checking it against this
    /// device. Faults apply to IOs submitted from now on.
    pub fn add_fault(&mut self, fault: impl Into<DeviceFault>) -> Result<(), FaultError> {
        let fault = fault.into();
        fault.check(self.capacity_sectors)?;
        match fault {
            DeviceFault::Rule(rule) => self.faults.add(rule),
            DeviceFault::LatentErrors { extent } => self.latent.mark(extent),
            DeviceFault::Disappear { at_ns } => {
                self.disappear_at_ns = Some(self.disappear_at_ns.map_or(at_ns, |t| t.min(at_ns)))
            }
        }
        Ok(())
    }

    /// Adds every fault of `faults` (as a scenario lists them), or none: on the first that
    /// does not fit this device, returns its index and why.
    pub fn add_faults(&mut self, faults: &[DeviceFault]) -> Result<(), (usize, FaultError)> {
        for (index, fault) in faults.iter().enumerate() {
            fault
                .check(self.capacity_sectors)
                .map_err(|error| (index, error))?;
        }
        for fault in faults {
            self.add_fault(fault.clone())
                .expect("checked against this device above");
        }
        Ok(())
    }

    /// Turns faults off for IO submitted from now on (the explorer's liveness phase): no
    /// rule acts any more and a pull not yet due is called off. What already happened stays:
    /// latent sectors stay unreadable, a pulled drive stays gone.
    pub fn stop_faults(&mut self) {
        self.faults = FaultPlan::default();
        if !self.gone {
            self.disappear_at_ns = None;
        }
    }

    /// The fault rules with their match and fire counts.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.faults
    }

    /// What the faults did so far.
    pub fn fault_stats(&self) -> &FaultStats {
        &self.fault_stats
    }

    /// Sectors that are unreadable now (latent sector errors).
    pub fn latent_sectors(&self) -> u64 {
        self.latent.len()
    }

    /// True once the drive was pulled.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// True if the drive should be gone at `now_ns` but has not been pulled yet.
    fn disappears_by(&self, now_ns: u64) -> Option<u64> {
        self.disappear_at_ns
            .filter(|&at| !self.gone && at <= now_ns)
    }

    /// Accept `io` at `now_ns`, or refuse it as a strict-mode violation.
    pub fn submit(&mut self, now_ns: u64, io: SimIo) -> Result<(), StrictError> {
        self.check(&io)?;
        let extent = Extent::new(io.sector, u64::from(io.sectors));
        match io.op {
            Op::Read => self.stats.reads += 1,
            Op::Write => self.stats.writes += 1,
            Op::Flush => self.stats.flushes += 1,
            Op::Discard => self.stats.discards += 1,
        }
        if self.disappears_by(now_ns).is_some() {
            self.vanish(now_ns);
        }
        if self.gone {
            self.fail_gone(io.tag, now_ns);
            return Ok(());
        }
        let effect = if self.faults.is_empty() {
            Effect::None
        } else {
            let facts = IoFacts {
                op: io.op,
                extent,
                now_ns,
                workload_data: matches!(io.payload, WritePayload::Contents(_)),
            };
            match self.faults.action_for(&facts, &mut self.fault_rng) {
                Some(fired) => self.resolve(fired, &io),
                None => Effect::None,
            }
        };
        let internal = self.next_internal;
        self.next_internal += 1;
        if matches!(io.op, Op::Write | Op::Discard) {
            self.inflight_writes.insert(extent, io.tag);
        }
        let flush_snapshot = match (io.op, &self.cache) {
            (Op::Flush, Some(cache)) => Some(cache.snapshot()),
            _ => None,
        };
        self.model.submit(
            now_ns,
            ModelRequest {
                tag: internal,
                op: match io.op {
                    Op::Read => ModelOp::Read,
                    Op::Write => ModelOp::Write,
                    Op::Flush => ModelOp::Flush,
                    Op::Discard => ModelOp::Discard,
                },
                sector: io.sector,
                sectors: io.sectors,
                fua: io.fua,
            },
        );
        self.by_tag.insert(io.tag, internal);
        self.inflight.insert(
            internal,
            Inflight {
                io,
                effect,
                reported: false,
                model_done: false,
                flush_snapshot,
            },
        );
        Ok(())
    }

    /// Ask the device to cancel the IO tagged `tag`.
    pub fn cancel(&mut self, now_ns: u64, tag: u64) -> CancelOutcome {
        let Some(&internal) = self.by_tag.get(tag) else {
            return CancelOutcome::NotFound;
        };
        let entry = self
            .inflight
            .get_mut(internal)
            .expect("by_tag and inflight agree");
        if matches!(entry.effect, Effect::IgnoreCancel { .. }) {
            self.fault_stats.cancels_ignored += 1;
            return CancelOutcome::Ignored;
        }
        debug_assert!(!entry.reported, "a reported IO has no tag any more");
        entry.reported = true;
        let model_done = entry.model_done;
        let io_tag = entry.io.tag;
        self.finish_bookkeeping(internal, model_done);
        self.stats.cancelled += 1;
        self.ready.push_back(DeviceCompletion {
            tag: io_tag,
            status: IoStatus::Cancelled,
            done_ns: now_ns,
        });
        CancelOutcome::Cancelled
    }

    /// Forget the tag and write range of an IO whose outcome is decided. A cancelled IO that
    /// the model has not finished stays in `inflight` (marked) until the model lets go of it.
    fn finish_bookkeeping(&mut self, internal: u64, model_done: bool) {
        let entry = self
            .inflight
            .get(internal)
            .expect("deciding an IO in flight");
        let (tag, op, sector) = (entry.io.tag, entry.io.op, entry.io.sector);
        self.by_tag.remove(tag);
        if matches!(op, Op::Write | Op::Discard) {
            self.inflight_writes.remove(sector);
        }
        if model_done {
            self.inflight.remove(internal);
        }
    }

    /// Earliest time the device has something to report or do.
    pub fn next_event_ns(&self) -> Option<u64> {
        let ready = self.ready.front().map(|c| c.done_ns);
        let delayed = self.delayed.peek().map(|Reverse((t, _, _))| *t);
        // Pulling the drive is an event only while IOs in flight wait for it; otherwise it
        // takes effect at the next submission.
        let pulled = self
            .disappear_at_ns
            .filter(|_| !self.gone && !self.inflight.is_empty());
        // By hand: the platform asks every device at every step, and an iterator chain
        // over four options cost it 1.5 % of a replay (issue 11).
        let earlier = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        earlier(
            earlier(self.model.next_event_ns(), ready),
            earlier(delayed, pulled),
        )
    }

    /// Run up to `now_ns`, appending finished IOs to `out` in completion order.
    pub fn advance(&mut self, now_ns: u64, out: &mut Vec<DeviceCompletion>) {
        if let Some(at_ns) = self.disappears_by(now_ns) {
            // IOs finishing before the drive is pulled finish normally; from then on, none.
            if let Some(before) = at_ns.checked_sub(1) {
                self.advance_to(before, out);
            }
            self.vanish(at_ns);
        }
        self.advance_to(now_ns, out);
    }

    fn advance_to(&mut self, now_ns: u64, out: &mut Vec<DeviceCompletion>) {
        while let Some(c) = self.ready.pop_front() {
            out.push(c);
        }
        let mut model_out = std::mem::take(&mut self.model_out);
        model_out.clear();
        self.model.advance(now_ns, &mut model_out);
        for mc in &model_out {
            self.model_done(mc.tag, mc.done_ns, out);
        }
        self.model_out = model_out;
        while let Some(&Reverse((due, _, internal))) = self.delayed.peek() {
            if due > now_ns {
                break;
            }
            self.delayed.pop();
            if self.inflight.contains_key(internal) {
                self.complete(internal, due, IoStatus::Ok, out);
            }
        }
    }

    fn model_done(&mut self, internal: u64, done_ns: u64, out: &mut Vec<DeviceCompletion>) {
        let entry = self
            .inflight
            .get_mut(internal)
            .expect("model completes only what it was given");
        if entry.reported {
            // Its outcome was reported already; the device lets go of it now.
            self.inflight.remove(internal);
            return;
        }
        entry.model_done = true;
        match entry.effect {
            Effect::Hang => {}
            Effect::Delay { extra_ns } | Effect::IgnoreCancel { extra_ns } if extra_ns > 0 => {
                self.delayed
                    .push(Reverse((done_ns + extra_ns, internal, internal)));
            }
            Effect::Fail(status) => self.complete(internal, done_ns, status, out),
            _ => self.complete(internal, done_ns, IoStatus::Ok, out),
        }
    }

    fn complete(
        &mut self,
        internal: u64,
        done_ns: u64,
        status: IoStatus,
        out: &mut Vec<DeviceCompletion>,
    ) {
        let entry = self
            .inflight
            .remove(internal)
            .expect("completing an IO in flight");
        self.by_tag.remove(entry.io.tag);
        if matches!(entry.io.op, Op::Write | Op::Discard) {
            self.inflight_writes.remove(entry.io.sector);
        }
        let status = if status.is_ok() {
            self.carry_out(&entry)
        } else {
            status
        };
        if !status.is_ok() {
            self.stats.errors += 1;
        }
        out.push(DeviceCompletion {
            tag: entry.io.tag,
            status,
            done_ns,
        });
        if let WritePayload::Bytes(mut bytes) = entry.io.payload {
            if self.spare_payloads.len() < SPARE_PAYLOADS_MAX {
                bytes.clear();
                self.spare_payloads.push(bytes);
            }
        }
    }

    /// An empty buffer for a write's bytes: one a completed write left, or a new one.
    pub fn spare_payload(&mut self) -> Vec<u8> {
        self.spare_payloads.pop().unwrap_or_default()
    }

    /// Carries out an IO that completes successfully as far as the model and the fault
    /// decisions go; returns the status it completes with (a read of a bad sector fails).
    fn carry_out(&mut self, entry: &Inflight) -> IoStatus {
        let io = &entry.io;
        let extent = Extent::new(io.sector, u64::from(io.sectors));
        match io.op {
            Op::Read => {
                if let Effect::LatentError { block } = entry.effect {
                    self.latent.mark(block);
                    self.fault_stats.latent_blocks_marked += 1;
                }
                if self.latent.overlaps(extent) {
                    self.fault_stats.latent_error_reads += 1;
                    return IoStatus::IoError;
                }
                self.stats.bytes_read += extent.sectors * 512;
                if let Effect::Corrupt { block } = entry.effect {
                    self.corrupt(block);
                }
            }
            Op::Write => {
                if let Effect::Misdirect { landing } = entry.effect {
                    self.misdirect(io, landing);
                } else {
                    self.stats.bytes_written += extent.sectors * 512;
                    self.write_content(io.sector, extent.sectors, io.fua, false, &io.payload);
                    self.fault_stats.latent_sectors_repaired += self.latent.repair(extent);
                }
                if let Effect::LatentError { block } = entry.effect {
                    self.latent.mark(block);
                    self.fault_stats.latent_blocks_marked += 1;
                }
            }
            Op::Discard => self.write_content(io.sector, extent.sectors, io.fua, true, &io.payload),
            Op::Flush => {
                if let (Some(cache), Some(snapshot)) = (&mut self.cache, &entry.flush_snapshot) {
                    cache.apply(snapshot.clone(), &mut self.store);
                }
            }
        }
        IoStatus::Ok
    }

    /// A completed write (`payload`) or discard of `sectors` sectors at `sector` takes
    /// effect: in the volatile cache, or on the media for FUA, discards and cacheless devices.
    fn write_content(
        &mut self,
        sector: u64,
        sectors: u64,
        fua: bool,
        discard: bool,
        payload: &WritePayload,
    ) {
        self.completion_seq += 1;
        let seq = self.completion_seq;
        let data = |i: u64| match payload {
            _ if discard => SectorWrite::Content(SectorContent::Zero),
            WritePayload::Contents(c) => SectorWrite::Content(c[i as usize]),
            WritePayload::Bytes(b) => {
                SectorWrite::Bytes(&b[i as usize * 512..(i as usize + 1) * 512])
            }
            WritePayload::None => SectorWrite::Content(SectorContent::Zero),
        };
        let store = &mut self.store;
        let cache = &mut self.cache;
        let inflight = &mut self.inflight;
        let whole = SECTORS_PER_PAGE as usize;
        for_each_block(sector, sectors, &mut |block, first, last, offset| {
            let sector_data = |i: u64| data(offset + i);
            // A discard of a whole block frees it; anything else merges, in place.
            let merge = |content: &mut Option<BlockContent>| {
                if discard && first == 0 && last == whole {
                    *content = None;
                } else {
                    merge_block_in_place(content, first, last, &sector_data);
                }
            };
            match cache {
                None => store.update_block(block, merge),
                // FUA (and discard, which needs no flush): durable at once. The
                // block's cached copy, holding other sectors' unflushed writes,
                // takes the new sectors too and stays volatile; so does every
                // pending flush's copy of it, which would otherwise put the older
                // sectors back over these when it lands (regression 025).
                Some(cache) if fua || discard => {
                    store.update_block(block, merge);
                    if cache.update(block, seq, merge) {
                        for entry in inflight.values_mut() {
                            let Some(snapshot) = &mut entry.flush_snapshot else {
                                continue;
                            };
                            if let Ok(i) = snapshot.binary_search_by_key(&block, |e| e.0) {
                                merge(&mut snapshot[i].1);
                            }
                        }
                    } else {
                        cache.persisted(block, seq);
                    }
                }
                Some(cache) => {
                    if !cache.update(block, seq, merge) {
                        let mut content = store.block(block).cloned();
                        merge(&mut content);
                        cache.put(block, content, seq);
                    }
                }
            }
        });
    }

    /// Hand the current content of `sector..sector+sectors` to `sink` (cache over media).
    pub fn read_into(&self, sector: u64, sectors: u64, sink: &mut dyn FnMut(u64, SectorView<'_>)) {
        match &self.cache {
            None => self.store.read(sector, sectors, sink),
            Some(cache) => {
                for s in sector..sector + sectors {
                    let block = s / SECTORS_PER_PAGE;
                    let i = (s % SECTORS_PER_PAGE) as usize;
                    match cache.get(block) {
                        Some(Some(content)) => sink(s, content.sector(i)),
                        Some(None) => sink(s, SectorView::Content(SectorContent::Zero)),
                        None => self.store.read(s, 1, sink),
                    }
                }
            }
        }
    }

    /// The durable content only (what survives a crash that loses the whole cache).
    pub fn read_durable(
        &self,
        sector: u64,
        sectors: u64,
        sink: &mut dyn FnMut(u64, SectorView<'_>),
    ) {
        self.store.read(sector, sectors, sink)
    }

    /// Precondition the timing model (see `TimingModel::precondition`); content is unchanged.
    pub fn precondition(&mut self, span_sectors: u64) {
        assert!(self.inflight.is_empty(), "precondition before the first IO");
        self.model.precondition(span_sectors);
    }

    /// Replace the timing model (after a crash, a restarted device has empty queues).
    pub fn replace_model(&mut self, model: Box<dyn TimingModel>) {
        assert!(
            self.inflight.is_empty(),
            "replace the model only when nothing is in flight"
        );
        self.model = model;
    }
}

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;
