//! `SsdModel`: the SSD as a `TimingModel`. It owns the event queue and ties the parts
//! together: host side (`host.rs`), mapping cache (`cmt.rs`), FTL and GC (`ftl.rs`, `gc.rs`),
//! write buffer (`buffer.rs`) and flash back end (`flash.rs`). The request flows themselves
//! are in `flows.rs`.
//!
//! Time: shared buses (link, DRAM, controller cores, flash channels) are reserved at the
//! earliest free gap when a step needs them; dies are scheduled by events (`DieCheck`,
//! `OpDone`) so reads can overtake queued programs; a command completes with a `HostDone`
//! event. Events are ordered by (time, sequence number), so equal inputs give equal outputs.
//!
//! State: the FTL changes when a command is accepted, in acceptance order; a read accepted
//! after a write sees the write's mapping (data still in controller memory is read from DRAM).

use super::buffer::WriteBuffer;
use super::cmt::MappingCache;
use super::flash::{Dispatch, FlashBackend};
use super::ftl::{Ftl, FtlCounters};
use super::geometry::Geometry;
use super::hot_rewrites::HotRewrites;
use super::job::{Job, JobKind};
use super::mapping_fetch::MappingFetches;
use super::op_times::FlashOpTimes;
use super::ops::{OpKind, OpPurpose, OpSpec};
use super::params::SsdParams;
use super::slab::Slab;
use super::stats::SsdStats;
use super::table::NONE;
use crate::{ModelCompletion, ModelError, ModelOp, ModelRequest, ModelRng, TimingModel};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Event {
    /// See whether the scheduling unit (die, or chip without interleaving) can start an op.
    DieCheck(u32),
    /// The op ended.
    OpDone(u32),
    /// The job's host completion is visible.
    HostDone(u32),
    /// The buffer page that was open when this was scheduled has idled long enough.
    BufferIdle(u32),
}

/// A flash SSD: channels, dies, FTL with greedy GC, optional DRAM write buffer and mapping
/// cache, NVMe or SATA front end. See the `ssd` module docs for what it models.
pub struct SsdModel {
    pub(super) params: SsdParams,
    pub(super) geo: Geometry,
    rng: ModelRng,
    pub(super) ftl: Ftl,
    pub(super) cmt: MappingCache,
    pub(super) mapping_fetches: MappingFetches,
    pub(super) flash: FlashBackend,
    pub(super) host: super::host::HostSide,
    pub(super) buffer: WriteBuffer,
    pub(super) hot: HotRewrites,
    pub(super) jobs: Slab<Job>,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    event_seq: u64,
    pub(super) now_ns: u64,
    pub(super) stall_until_ns: u64,
    requests_in_flight: usize,
    pub(super) stats: SsdStats,
    op_times: FlashOpTimes,
    pub(super) scratch_ops: Vec<OpSpec>,
}

impl SsdModel {
    /// Build a drive from validated parameters; `rng` is the device's own stream (only tail
    /// stalls draw from it).
    pub fn new(params: SsdParams, rng: ModelRng) -> Result<SsdModel, ModelError> {
        params.validate()?;
        let geo = Geometry::new(&params);
        let wb = &params.write_buffer;
        let capacity_sectors = if wb.enabled {
            u32::try_from(wb.capacity_bytes / 512).unwrap_or(u32::MAX)
        } else {
            0
        };
        Ok(SsdModel {
            ftl: Ftl::new(geo, &params),
            cmt: MappingCache::new(&params.mapping_cache, geo.page_bytes),
            mapping_fetches: MappingFetches::default(),
            flash: FlashBackend::new(geo, &params.flash),
            host: super::host::HostSide::new(&params.host),
            buffer: WriteBuffer::new(
                wb.enabled,
                !wb.power_loss_protected,
                capacity_sectors,
                wb.dram_mb_per_s,
                wb.dram_access_ns,
            ),
            hot: HotRewrites::new(if wb.enabled {
                wb.hot_rewrite_window_ns
            } else {
                0
            }),
            jobs: Slab::default(),
            events: BinaryHeap::new(),
            event_seq: 0,
            now_ns: 0,
            stall_until_ns: 0,
            requests_in_flight: 0,
            stats: SsdStats::default(),
            op_times: FlashOpTimes::default(),
            scratch_ops: Vec::new(),
            params,
            geo,
            rng,
        })
    }

    /// The latest time the model was driven to (by `submit` or `advance`).
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    pub fn params(&self) -> &SsdParams {
        &self.params
    }

    /// Counters of host and flash work since construction (preconditioning excluded).
    pub fn stats(&self) -> &SsdStats {
        &self.stats
    }

    /// Wait and service time of flash ops by purpose since construction (a diagnostic).
    pub fn flash_op_times(&self) -> &FlashOpTimes {
        &self.op_times
    }

    /// Total busy time of the flash scheduling units (dies, or chips without die
    /// interleaving) since construction: divided by units × elapsed time, their utilisation.
    pub fn flash_busy_ns(&self) -> u64 {
        self.flash.die_busy_ns
    }

    /// Flash ops that ran as an extra plane of a multi-plane command.
    pub fn multi_plane_companions(&self) -> u64 {
        self.flash.multi_plane_companions
    }

    /// Counters of the FTL itself (including preconditioning).
    pub fn ftl_counters(&self) -> &FtlCounters {
        &self.ftl.counters
    }

    /// Flash bytes programmed (host pages with their padding, GC pages, translation pages)
    /// per host byte written, since construction. 0 before any write.
    pub fn write_amplification(&self) -> f64 {
        let s = &self.stats;
        if s.host_units_written == 0 {
            return 0.0;
        }
        let programmed = (s.flash_programs_host + s.flash_programs_gc + s.flash_programs_mapping)
            * u64::from(self.geo.page_bytes);
        programmed as f64 / (s.host_units_written * u64::from(self.geo.unit_bytes)) as f64
    }

    /// Heap bytes of the mapping tables, block state and mapping cache: the memory that
    /// grows with the drive (4 B per touched logical unit + 4 B per touched physical slot,
    /// 1 bit per page, ~9 B per block).
    pub fn table_heap_bytes(&self) -> u64 {
        self.ftl.heap_bytes() + self.cmt.heap_bytes()
    }

    /// Bytes of host data in the write buffer (not yet programmed).
    pub fn buffer_occupied_bytes(&self) -> u64 {
        u64::from(self.buffer.occupied_sectors()) * 512
    }

    /// Check FTL invariants (maps agree, valid counts); slow, for tests.
    pub fn check_invariants(&self) {
        self.ftl.check_invariants();
        assert_eq!(self.requests_in_flight, self.count_host_jobs());
        if self.jobs.len() == 0 {
            assert_eq!(
                self.mapping_fetches.len(),
                0,
                "mapping reads outlived their jobs"
            );
        }
    }

    fn count_host_jobs(&self) -> usize {
        self.jobs.len() - self.buffer.pages_in_flight as usize
    }

    /// Put the FTL in the state of a drive whose first `fraction` of logical space was
    /// written once, sequentially, in whole pages (as a fill with large writes leaves it):
    /// every touched unit is mapped and valid, blocks fill in stripe order, no GC has run.
    /// Takes no virtual time and schedules nothing; call it before the first request.
    /// `fraction` is clamped to [0, 1].
    pub fn precondition(&mut self, fraction: f64) {
        let units = self.fraction_units(fraction);
        let per_page = self.geo.slots_per_page;
        let mut unit = 0;
        while unit < units {
            let count = per_page.min(units - unit);
            self.untimed_page_write(unit / per_page, unit..unit + count);
            unit += count;
        }
    }

    /// After `precondition(fraction)`, overwrite `overwrites_per_unit × written units` randomly
    /// chosen units of that span, a page of units at a time, with GC running as needed
    /// (untimed). This reaches the fragmented steady state of a drive under random writes
    /// without simulating them. Units are drawn from `rng`, a seeded ChaCha stream of the
    /// caller's (not the model's own stream, so preconditioning moves no stall draw).
    pub fn precondition_random_overwrite(
        &mut self,
        fraction: f64,
        overwrites_per_unit: f64,
        rng: &mut dyn rand_core::RngCore,
    ) {
        let span = self.fraction_units(fraction);
        if span == 0 || overwrites_per_unit.is_nan() || overwrites_per_unit <= 0.0 {
            return;
        }
        let total = (f64::from(span) * overwrites_per_unit.min(1000.0)) as u64;
        let per_page = u64::from(self.geo.slots_per_page);
        let mut done = 0u64;
        let mut units = [0u32; super::gc::MAX_SLOTS_PER_PAGE];
        while done < total {
            let count = per_page.min(total - done) as usize;
            for u in units.iter_mut().take(count) {
                // Multiply-shift maps 64 random bits onto 0..span without a modulo's bias.
                *u = ((u128::from(rng.next_u64()) * u128::from(span)) >> 64) as u32;
            }
            let chosen = units;
            self.untimed_page_write(
                chosen[0] / self.geo.slots_per_page,
                chosen[..count].iter().copied(),
            );
            done += count as u64;
        }
    }

    /// Write, untimed like `precondition`, every logical page that `extents` (`(first
    /// sector, sectors)`) touch, each unit holding exactly the sectors the extents touch:
    /// MQSim preconditions a trace's logical pages this way, so a later write that covers
    /// every sector the trace ever touches in a unit needs no read of its old data. Pages go
    /// where allocation puts them (their own plane under static allocation). Then each
    /// plane's open block is closed (its unused pages left as padding): MQSim's
    /// preconditioning consumes whole blocks, invalidating what it does not fill, so the
    /// trace's first writes start every plane on a fresh block, at the same page offset.
    pub fn precondition_extents(&mut self, extents: impl IntoIterator<Item = (u64, u32)>) {
        let mut touched: std::collections::BTreeMap<u32, u32> = Default::default();
        for (sector, sectors) in extents {
            let probe = ModelRequest {
                tag: 0,
                op: ModelOp::Write,
                sector,
                sectors,
                fua: false,
            };
            let (job, _) = Job::host(
                JobKind::WriteThrough,
                &probe,
                self.geo.unit_sectors,
                self.geo.logical_units,
            );
            for unit in job.first_unit..job.end_unit {
                *touched.entry(unit).or_default() |= job.sector_mask(unit, self.geo.unit_sectors);
            }
        }
        let per_page = self.geo.slots_per_page;
        let units: Vec<(u32, u32)> = touched.into_iter().collect();
        for group in units.chunk_by(|a, b| a.0 / per_page == b.0 / per_page) {
            self.untimed_page_write(group[0].0 / per_page, group.iter().map(|&(unit, _)| unit));
            for &(unit, mask) in group {
                self.ftl.set_written_sectors(unit, mask);
            }
        }
        self.ftl.close_user_blocks();
    }

    /// Sectors of `job` inside the drive (clipped like its units).
    pub(super) fn sectors_in_range(&self, job: &Job) -> u32 {
        (job.first_unit..job.end_unit)
            .map(|unit| job.bytes_in_unit(unit, self.geo.unit_sectors) / 512)
            .sum()
    }

    fn fraction_units(&self, fraction: f64) -> u32 {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        (f64::from(self.geo.logical_units) * fraction).floor() as u32
    }

    /// Allocate one host page and place `units` in it, discarding the timing of everything
    /// (GC included): preconditioning.
    /// `group` is the logical page the page is allocated for (static allocation).
    fn untimed_page_write(&mut self, group: u32, units: impl IntoIterator<Item = u32>) {
        let mut ops = std::mem::take(&mut self.scratch_ops);
        debug_assert!(ops.is_empty());
        let full = self.ftl.full_mask();
        let page = self.ftl.alloc_host_page(group, &mut ops);
        for op in &ops {
            if op.page != NONE {
                self.ftl.page_programmed(op.page);
            }
        }
        let mut fill = 0;
        for unit in units {
            // A unit drawn twice for one page keeps its first slot.
            if self
                .ftl
                .lookup(unit)
                .is_some_and(|slot| self.geo.page_of_slot(slot) == page)
            {
                continue;
            }
            self.ftl
                .place(unit, page * self.geo.slots_per_page + fill, full);
            fill += 1;
        }
        self.ftl.note_host_padding(self.geo.slots_per_page - fill);
        self.ftl.page_programmed(page);
        ops.clear();
        self.scratch_ops = ops;
    }

    // ---- events and ops -------------------------------------------------------------------

    pub(super) fn schedule(&mut self, at_ns: u64, event: Event) {
        debug_assert!(at_ns >= self.now_ns, "event scheduled in the past");
        self.event_seq += 1;
        self.events.push(Reverse((at_ns, self.event_seq, event)));
    }

    /// Create an op for `job` (NONE for background work) and queue it on its die; returns
    /// its id.
    pub(super) fn enqueue_op(&mut self, spec: OpSpec, job: u32, ready_ns: u64) -> u32 {
        self.count_op(spec.purpose);
        let ready_ns = ready_ns.max(self.now_ns);
        let op = self.flash.new_op(spec, job, ready_ns, self.now_ns);
        self.release_op(op, ready_ns);
        op
    }

    /// Create an op for `job` that waits in the job's held list until `release_held`.
    pub(super) fn hold_op(&mut self, spec: OpSpec, job: u32) {
        self.count_op(spec.purpose);
        let op = self.flash.new_op(spec, job, 0, self.now_ns);
        let head = self.jobs.get(job).held;
        self.flash.ops.get_mut(op).next_held = head;
        self.jobs.get_mut(job).held = op;
    }

    /// Queue every held op of `job`, ready at `ready_ns`; returns how many.
    pub(super) fn release_held(&mut self, job: u32, ready_ns: u64) -> u32 {
        let ready_ns = ready_ns.max(self.now_ns);
        let mut op = std::mem::replace(&mut self.jobs.get_mut(job).held, NONE);
        let mut count = 0;
        while op != NONE {
            let next = self.flash.ops.get(op).next_held;
            self.flash.ops.get_mut(op).ready_ns = ready_ns;
            self.release_op(op, ready_ns);
            count += 1;
            op = next;
        }
        count
    }

    fn release_op(&mut self, op: u32, ready_ns: u64) {
        let (unit, _) = self.flash.enqueue(op);
        self.kick(unit, ready_ns);
    }

    /// Queue the FTL's background ops (GC, erases) collected in `scratch_ops`.
    pub(super) fn enqueue_background(&mut self) {
        let mut ops = std::mem::take(&mut self.scratch_ops);
        for &spec in &ops {
            if spec.kind == OpKind::Program && spec.page != NONE {
                // GC pages hold moved data in controller memory until programmed.
                debug_assert!(
                    self.ftl.page_in_dram(spec.page),
                    "page {} purpose {:?} now {}",
                    spec.page,
                    spec.purpose,
                    self.now_ns
                );
            }
            self.enqueue_op(spec, NONE, self.now_ns);
        }
        ops.clear();
        self.scratch_ops = ops;
    }

    fn count_op(&mut self, purpose: OpPurpose) {
        let s = &mut self.stats;
        match purpose {
            OpPurpose::HostRead => s.flash_reads_host += 1,
            OpPurpose::ModifyRead => s.flash_reads_modify += 1,
            OpPurpose::MappingRead => s.flash_reads_mapping += 1,
            OpPurpose::GcRead => s.flash_reads_gc += 1,
            OpPurpose::HostProgram => s.flash_programs_host += 1,
            OpPurpose::GcProgram => s.flash_programs_gc += 1,
            OpPurpose::MappingProgram => s.flash_programs_mapping += 1,
            OpPurpose::GcErase => s.flash_erases += 1,
        }
    }

    /// Make sure scheduling unit `unit` looks for work at `at_ns`.
    fn kick(&mut self, unit: u32, at_ns: u64) {
        let at_ns = at_ns.max(self.now_ns);
        if self.flash.claim_check(unit, at_ns) {
            self.schedule(at_ns, Event::DieCheck(unit));
        }
    }

    fn dispatch(&mut self, unit: u32) {
        match self.flash.dispatch(unit, self.now_ns) {
            Dispatch::Started => {
                let started = std::mem::take(&mut self.flash.started);
                for &(op, end_ns) in &started {
                    self.schedule(end_ns, Event::OpDone(op));
                }
                self.flash.started = started;
            }
            Dispatch::WaitUntil { at_ns } => self.kick(unit, at_ns),
            Dispatch::Nothing => {}
        }
    }

    fn on_op_done(&mut self, op_id: u32) {
        let op = self.flash.ops.remove(op_id);
        let spec = op.spec;
        self.op_times.record(
            spec.purpose,
            op.started_ns - op.created_ns,
            self.now_ns - op.started_ns,
        );
        if spec.kind == OpKind::Program && spec.page != NONE {
            self.ftl.page_programmed(spec.page);
        }
        if op.job != NONE {
            self.job_op_done(op.job, spec);
        }
        if spec.purpose == OpPurpose::MappingRead {
            for waiter in self.mapping_fetches.done(op_id).unwrap_or_default() {
                self.job_op_done(waiter, spec);
            }
        }
        self.dispatch(self.flash.unit_of(spec.die));
    }

    /// Emit a host completion for `job` at `at_ns` plus the completion overhead.
    pub(super) fn finish(&mut self, job: u32, at_ns: u64) {
        let at_ns = at_ns.max(self.now_ns) + self.host.completion_overhead_ns();
        self.schedule(at_ns, Event::HostDone(job));
    }

    fn on_host_done(&mut self, job_id: u32, out: &mut Vec<ModelCompletion>) {
        let job = self.jobs.remove(job_id);
        debug_assert_ne!(job.kind, JobKind::BufferPage);
        out.push(ModelCompletion {
            tag: job.tag,
            done_ns: self.now_ns,
        });
        self.host.released(job.exclusive);
        self.requests_in_flight -= 1;
        self.admit_waiting();
    }

    /// Start commands waiting for a slot, in arrival order.
    fn admit_waiting(&mut self) {
        while let Some(&job) = self.host.waiting.front() {
            let exclusive = self.jobs.get(job).exclusive;
            if !self.host.can_admit(exclusive) {
                break;
            }
            self.host.waiting.pop_front();
            self.host.admitted(exclusive);
            self.start_job(job);
        }
    }

    fn maybe_stall(&mut self) {
        let p = self.params.stalls.probability;
        if p <= 0.0 {
            return;
        }
        // 53 random bits → uniform in [0, 1).
        let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if draw < p {
            self.stall_until_ns =
                self.stall_until_ns.max(self.now_ns) + self.params.stalls.duration_ns;
            self.stats.stalls += 1;
        }
    }
}

impl TimingModel for SsdModel {
    fn kind(&self) -> &'static str {
        "ssd"
    }

    fn precondition(&mut self, span_sectors: u64) {
        let capacity = self.capacity_sectors();
        SsdModel::precondition(self, span_sectors.min(capacity) as f64 / capacity as f64);
    }

    fn capacity_sectors(&self) -> u64 {
        self.geo.capacity_sectors()
    }

    fn volatile_write_cache(&self) -> bool {
        self.buffer.enabled && self.buffer.volatile
    }

    fn submit(&mut self, now_ns: u64, req: ModelRequest) {
        assert!(
            now_ns >= self.now_ns,
            "time went backwards: {now_ns} < {}",
            self.now_ns
        );
        self.now_ns = now_ns;
        self.maybe_stall();
        let kind = match req.op {
            ModelOp::Read => JobKind::Read,
            ModelOp::Write => JobKind::WriteThrough,
            ModelOp::Flush => JobKind::Flush,
            ModelOp::Discard => JobKind::Discard,
        };
        let (mut job, out_of_range) =
            Job::host(kind, &req, self.geo.unit_sectors, self.geo.logical_units);
        if out_of_range {
            self.stats.out_of_range_requests += 1;
        }
        let s = &mut self.stats;
        match req.op {
            ModelOp::Read => {
                s.host_reads += 1;
                s.host_units_read += u64::from(job.unit_count());
            }
            ModelOp::Write => {
                s.host_writes += 1;
                s.host_units_written += u64::from(job.unit_count());
                let buffered = self.buffer.enabled
                    && !(req.fua && self.buffer.volatile)
                    && self.sectors_in_range(&job) <= self.buffer.capacity_sectors() / 2;
                if buffered {
                    job.kind = JobKind::WriteBuffered;
                }
            }
            ModelOp::Flush => {
                s.host_flushes += 1;
                job.exclusive = self.host.is_sata();
            }
            ModelOp::Discard => s.host_discards += 1,
        }
        let id = self.jobs.insert(job);
        self.requests_in_flight += 1;
        self.host.waiting.push_back(id);
        self.admit_waiting();
    }

    fn next_event_ns(&self) -> Option<u64> {
        self.events.peek().map(|Reverse((t, _, _))| *t)
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
        assert!(
            now_ns >= self.now_ns,
            "time went backwards: {now_ns} < {}",
            self.now_ns
        );
        while let Some(&Reverse((at_ns, _, event))) = self.events.peek() {
            if at_ns > now_ns {
                break;
            }
            self.events.pop();
            self.now_ns = at_ns;
            match event {
                Event::DieCheck(unit) => {
                    if self.flash.take_check(unit, at_ns) {
                        self.dispatch(unit);
                    }
                }
                Event::OpDone(op) => self.on_op_done(op),
                Event::HostDone(job) => self.on_host_done(job, out),
                Event::BufferIdle(page) => self.buffer_idle(page),
            }
        }
        self.now_ns = now_ns;
    }

    fn in_flight(&self) -> usize {
        self.requests_in_flight
    }
}
