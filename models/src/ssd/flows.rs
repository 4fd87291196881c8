//! What each command does, step by step, on `SsdModel`:
//!
//! - every command: arrival → queue slot → command overhead (and any controller stall) →
//!   a controller core → …
//! - read: fetch missing mapping lines → read each flash page holding its units (units still
//!   in controller memory come from DRAM, never-written units need no flash unless
//!   `ftl.reads_map_unwritten` gives them a fresh page to read) → each page's
//!   data crosses the link as it arrives → completion overhead.
//! - write-through: data crosses the link while missing mapping lines (and the old content of
//!   partly written units) are read → the FTL places the units in fresh pages (paying GC) →
//!   pages are programmed → completion.
//! - buffered write: data crosses the link into DRAM → wait for room → units join the open
//!   page (rewrites of hot logical pages stay in DRAM instead) → acknowledged. A full page
//!   becomes a `BufferPage` job: read out of DRAM, fetch missing mapping lines, program.
//! - flush: on a volatile buffer, send rewrites kept in DRAM to flash, close the open page
//!   and wait for every buffered page issued so far to be programmed; otherwise immediate.
//! - discard: unmap whole units; immediate.

use super::cmt::CmtAccess;
use super::job::{Job, JobKind, Phase};
use super::model::{Event, SsdModel};
use super::ops::{OpKind, OpPurpose, OpSpec};
use super::table::NONE;

impl SsdModel {
    /// The job got a queue slot now.
    pub(super) fn start_job(&mut self, id: u32) {
        let now = self.now_ns;
        let arrived = (now + self.host.command_overhead_ns()).max(self.stall_until_ns);
        let processed = self.host.firmware(now, arrived);
        let job = *self.jobs.get(id);
        match job.kind {
            JobKind::Read => self.read_lookup(id, processed),
            JobKind::WriteThrough => self.write_through(id, processed),
            JobKind::WriteBuffered => self.write_buffered(id, processed),
            JobKind::Flush => self.flush(id, processed),
            JobKind::Discard => {
                for unit in job.first_unit..job.end_unit {
                    self.hot.take(unit);
                    self.ftl.trim(unit);
                }
                self.finish(id, processed);
            }
            JobKind::BufferPage => unreachable!("buffer pages never queue for a slot"),
        }
    }

    /// Look up the mapping lines of `units` (visited in order; repeats of a line are free)
    /// on behalf of `job`: queue one fetch per translation page holding missed lines, or
    /// join the fetch of that page already in flight; a line that an in-flight fetch is
    /// still bringing in is waited for too. Returns how many fetches the job now waits on.
    fn lookup_units<I: IntoIterator<Item = u32>>(
        &mut self,
        job: u32,
        units: I,
        modify: bool,
        ready_ns: u64,
    ) -> u32 {
        let line_bytes = self.cmt.line_bytes(self.params.mapping_cache.entry_bytes);
        let mut waits = 0;
        let mut last_line = NONE;
        let mut fetch_tpage = NONE;
        let mut fetch_lines: Vec<u32> = Vec::new();
        for unit in units {
            let line = self.cmt.line_of(unit);
            if line == last_line {
                continue;
            }
            last_line = line;
            let tpage = self.cmt.translation_page_of_line(line);
            match self.cmt.access(line, modify) {
                CmtAccess::Hit => {
                    self.stats.mapping_cache_hits += 1;
                    if self.mapping_fetches.arriving(tpage, line)
                        && self.mapping_fetches.join(tpage, job)
                    {
                        waits += 1;
                    }
                }
                CmtAccess::Miss { writeback } => {
                    self.stats.mapping_cache_misses += 1;
                    if let Some(tpage) = writeback {
                        let spec = OpSpec::new(
                            self.die_of_translation_page(tpage),
                            OpKind::Program,
                            self.geo.page_bytes,
                            OpPurpose::MappingProgram,
                        );
                        self.enqueue_op(spec, NONE, self.now_ns);
                    }
                    if self.mapping_fetches.in_flight(tpage) {
                        self.mapping_fetches.add_line(tpage, line);
                        if self.mapping_fetches.join(tpage, job) {
                            waits += 1;
                        }
                        continue;
                    }
                    if tpage == fetch_tpage {
                        fetch_lines.push(line);
                        continue;
                    }
                    if fetch_tpage != NONE {
                        let lines = std::mem::take(&mut fetch_lines);
                        self.fetch_entries(job, fetch_tpage, lines, line_bytes, ready_ns);
                        waits += 1;
                    }
                    fetch_tpage = tpage;
                    fetch_lines.push(line);
                }
            }
        }
        if fetch_tpage != NONE {
            self.fetch_entries(job, fetch_tpage, fetch_lines, line_bytes, ready_ns);
            waits += 1;
        }
        waits
    }

    /// Read the entries of `lines` from translation page `tpage` (spread over dies) for
    /// `job`, and remember the read so later misses on the page join it.
    fn fetch_entries(
        &mut self,
        job: u32,
        tpage: u32,
        lines: Vec<u32>,
        line_bytes: u32,
        ready_ns: u64,
    ) {
        let bytes = u32::try_from(lines.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(line_bytes);
        let spec = OpSpec::new(
            self.die_of_translation_page(tpage),
            OpKind::Read,
            bytes.min(self.geo.page_bytes),
            OpPurpose::MappingRead,
        );
        let op = self.enqueue_op(spec, job, ready_ns);
        self.mapping_fetches.started(tpage, op, job, lines);
    }

    /// The die holding translation page `tpage`: translation pages are placed as user pages
    /// are, along the channel-first stripe (MQSim allocates a translation page's plane with
    /// its user-page scheme, the page number standing for the logical one), so consecutive
    /// translation pages sit on different channels.
    fn die_of_translation_page(&self, tpage: u32) -> u32 {
        self.geo.die_of_plane(self.geo.stripe_plane(tpage))
    }

    fn unit_range(&self, id: u32) -> std::ops::Range<u32> {
        let job = self.jobs.get(id);
        job.first_unit..job.end_unit
    }

    fn read_lookup(&mut self, id: u32, ready_ns: u64) {
        let fetches = self.lookup_units(id, self.unit_range(id), false, ready_ns);
        let job = self.jobs.get_mut(id);
        job.phase = Phase::Lookup;
        job.ready_ns = ready_ns;
        job.pending = fetches;
        if fetches == 0 {
            self.read_data(id, ready_ns);
        }
    }

    fn read_data(&mut self, id: u32, at_ns: u64) {
        let range = self.unit_range(id);
        let mut reads = 0;
        let mut run_page = NONE;
        let mut run_bytes = 0u32;
        let mut dram_bytes = 0u64;
        let mut zero_bytes = 0u64;
        let job = *self.jobs.get(id);
        for unit in range {
            // Only the sectors asked for cross the channel and the link.
            let unit_bytes = job.bytes_in_unit(unit, self.geo.unit_sectors);
            if self.hot.is_kept(unit) {
                dram_bytes += u64::from(unit_bytes);
                self.stats.units_read_from_dram += 1;
                continue;
            }
            let page = match self.ftl.lookup(unit) {
                Some(slot) => self.geo.page_of_slot(slot),
                None if self.params.ftl.reads_map_unwritten => {
                    self.map_unwritten_for_read(&job, unit)
                }
                None => {
                    zero_bytes += u64::from(unit_bytes);
                    continue;
                }
            };
            if self.ftl.page_in_dram(page) {
                dram_bytes += u64::from(unit_bytes);
                self.stats.units_read_from_dram += 1;
                continue;
            }
            if page == run_page {
                run_bytes += unit_bytes;
                continue;
            }
            if run_page != NONE {
                self.queue_page_read(id, run_page, run_bytes, at_ns);
                reads += 1;
            }
            run_page = page;
            run_bytes = unit_bytes;
        }
        if run_page != NONE {
            self.queue_page_read(id, run_page, run_bytes, at_ns);
            reads += 1;
        }
        let job = self.jobs.get_mut(id);
        job.phase = Phase::Data;
        job.pending = reads;
        job.done_ns = at_ns;
        job.link_bytes_left = job.bytes();
        if dram_bytes > 0 {
            let from_dram = self.buffer.dram_access(self.now_ns, at_ns, dram_bytes);
            self.send_to_host(id, from_dram, dram_bytes);
        }
        if zero_bytes > 0 {
            self.send_to_host(id, at_ns, zero_bytes);
        }
        if reads == 0 {
            let done = self.jobs.get(id).done_ns;
            self.finish(id, done);
        }
    }

    /// The page a read of never-written `unit` goes to: under static allocation the page of
    /// a unit of the same logical page that is mapped, else a fresh page of its plane (the
    /// plane's next write-frontier page, never programmed), to which the unit is mapped with
    /// the sectors read, as MQSim's online_create_entry_for_reads does.
    fn map_unwritten_for_read(&mut self, job: &Job, unit: u32) -> u32 {
        let per_page = self.geo.slots_per_page;
        let group = unit / per_page;
        if self.ftl.static_allocation() {
            let sibling =
                (group * per_page..(group + 1) * per_page).find_map(|u| self.ftl.lookup(u));
            if let Some(slot) = sibling {
                return self.geo.page_of_slot(slot);
            }
        }
        let page = self.ftl.alloc_host_page(group, &mut self.scratch_ops);
        self.enqueue_background();
        let sectors = job.sector_mask(unit, self.geo.unit_sectors);
        self.ftl.place(unit, page * per_page, sectors);
        self.ftl.note_host_padding(per_page - 1);
        // Nothing is programmed: the read finds the page on flash (erased, as in MQSim).
        self.ftl.page_programmed(page);
        self.stats.units_mapped_by_reads += 1;
        page
    }

    fn queue_page_read(&mut self, id: u32, page: u32, bytes: u32, at_ns: u64) {
        let mut spec = OpSpec::new(
            self.geo.die_of_page(page),
            OpKind::Read,
            bytes,
            OpPurpose::HostRead,
        );
        spec.page = page;
        self.enqueue_op(spec, id, at_ns);
    }

    /// Send up to `bytes` of the job's remaining read data to the host from `ready_ns`.
    fn send_to_host(&mut self, id: u32, ready_ns: u64, bytes: u64) {
        let job = self.jobs.get_mut(id);
        let bytes = bytes.min(job.link_bytes_left);
        job.link_bytes_left -= bytes;
        let ready_ns = ready_ns.max(self.now_ns);
        let arrived = self.host.transfer(self.now_ns, ready_ns, bytes, true);
        let job = self.jobs.get_mut(id);
        job.done_ns = job.done_ns.max(arrived);
    }

    fn write_through(&mut self, id: u32, processed_ns: u64) {
        let job = *self.jobs.get(id);
        let data_in = self
            .host
            .transfer(self.now_ns, processed_ns, job.bytes(), false);
        let mut pending = 0;
        // Old content of partly written units, read before the FTL remaps them, when they
        // hold sectors the write does not replace.
        for unit in job
            .partial_units(self.geo.unit_sectors)
            .into_iter()
            .flatten()
        {
            let Some(slot) = self.ftl.lookup(unit) else {
                continue;
            };
            let written = job.sector_mask(unit, self.geo.unit_sectors);
            if self.ftl.written_sectors(unit) & !written == 0 {
                continue;
            }
            let page = self.geo.page_of_slot(slot);
            if self.ftl.page_in_dram(page) {
                continue;
            }
            let mut spec = OpSpec::new(
                self.geo.die_of_page(page),
                OpKind::Read,
                self.geo.unit_bytes,
                OpPurpose::ModifyRead,
            );
            spec.page = page;
            self.enqueue_op(spec, id, processed_ns);
            pending += 1;
        }
        pending += self.lookup_units(id, self.unit_range(id), true, processed_ns);
        // Place the units in fresh pages now; their programs wait for the lookups and data.
        // Under static allocation a page holds units of one logical page only.
        let per_page = self.geo.slots_per_page;
        let aligned = self.ftl.static_allocation();
        let mut unit = job.first_unit;
        while unit < job.end_unit {
            let room = if aligned {
                per_page - unit % per_page
            } else {
                per_page
            };
            let count = room.min(job.end_unit - unit);
            let page = self
                .ftl
                .alloc_host_page(unit / per_page, &mut self.scratch_ops);
            self.enqueue_background();
            for k in 0..count {
                // A copy kept in DRAM merges into the programmed unit.
                let kept = self.hot.take(unit + k).unwrap_or(0);
                let mask = job.sector_mask(unit + k, self.geo.unit_sectors) | kept;
                self.ftl.place(unit + k, page * per_page + k, mask);
            }
            self.ftl.note_host_padding(per_page - count);
            let bytes = if self.params.flash.program_transfers_written_sectors {
                (unit..unit + count)
                    .map(|u| job.bytes_in_unit(u, self.geo.unit_sectors))
                    .sum()
            } else {
                count * self.geo.unit_bytes
            };
            let mut spec = OpSpec::new(
                self.geo.die_of_page(page),
                OpKind::Program,
                bytes,
                OpPurpose::HostProgram,
            );
            spec.page = page;
            self.hold_op(spec, id);
            unit += count;
        }
        let job = self.jobs.get_mut(id);
        job.phase = Phase::Lookup;
        job.ready_ns = data_in;
        job.pending = pending;
        if pending == 0 {
            self.program_held(id, data_in);
        }
    }

    /// Release the job's held programs (lookups done, data present).
    fn program_held(&mut self, id: u32, at_ns: u64) {
        let programs = self.release_held(id, at_ns);
        let job = self.jobs.get_mut(id);
        job.phase = Phase::Data;
        job.pending = programs;
        if programs == 0 {
            self.data_done(id, at_ns);
        }
    }

    fn write_buffered(&mut self, id: u32, processed_ns: u64) {
        let job = *self.jobs.get(id);
        let data_in = self
            .host
            .transfer(self.now_ns, processed_ns, job.bytes(), false);
        let in_dram = self.buffer.dram_access(self.now_ns, data_in, job.bytes());
        let per_page = self.geo.slots_per_page;
        // Rewrites of hot logical pages stay in DRAM and take no room on the way to flash.
        let sectors = (job.first_unit..job.end_unit)
            .filter(|unit| !self.hot.is_hot(unit / per_page))
            .map(|unit| job.bytes_in_unit(unit, self.geo.unit_sectors) / 512)
            .sum();
        let j = self.jobs.get_mut(id);
        j.ready_ns = in_dram;
        j.buffer_sectors = sectors;
        if self.buffer.waiters.is_empty() && self.buffer.fits(sectors) {
            self.admit_buffered(id, in_dram);
        } else {
            self.stats.buffer_full_waits += 1;
            self.jobs.get_mut(id).phase = Phase::WaitBuffer;
            self.buffer.waiters.push_back(id);
            self.unblock_buffer();
        }
    }

    /// The buffered write's units enter the buffer at `at_ns` and it is acknowledged. Under
    /// static allocation the page goes to flash at once (a page holds one logical page, and
    /// MQSim writes newly written data back as soon as it is cached).
    fn admit_buffered(&mut self, id: u32, at_ns: u64) {
        let job = *self.jobs.get(id);
        let per_page = self.geo.slots_per_page;
        for unit in self.unit_range(id) {
            let mask = job.sector_mask(unit, self.geo.unit_sectors);
            if self.hot.is_hot(unit / per_page) {
                self.hot.keep(unit, mask);
                self.stats.units_kept_in_dram += 1;
                continue;
            }
            let kept = self.hot.take(unit).unwrap_or(0);
            self.append_to_open_page(unit, mask | kept, at_ns);
        }
        // Pages are marked after the whole write, so its own units all go to flash.
        for unit in self.unit_range(id) {
            if !self.hot.is_kept(unit) {
                self.hot.written_back(unit / per_page);
            }
        }
        self.hot.after_write(self.now_ns);
        if self.ftl.static_allocation() && self.buffer.open_page != NONE {
            self.close_open_page();
        }
        self.finish(id, at_ns);
    }

    fn append_to_open_page(&mut self, unit: u32, sectors: u32, at_ns: u64) {
        let per_page = self.geo.slots_per_page;
        if let Some(slot) = self.ftl.lookup(unit) {
            if self.buffer.open_page != NONE && self.geo.page_of_slot(slot) == self.buffer.open_page
            {
                let held = self.ftl.written_sectors(unit) | sectors;
                self.ftl.set_written_sectors(unit, held);
                if let Some(i) = self.buffer.open_units.iter().position(|&u| u == unit) {
                    self.buffer.open_unit_sectors[i] |= sectors;
                }
                self.stats.units_coalesced_in_buffer += 1;
                return;
            }
        }
        if self.ftl.static_allocation()
            && self.buffer.open_page != NONE
            && self.buffer.open_group != unit / per_page
        {
            self.close_open_page();
        }
        if self.buffer.open_page == NONE {
            let page = self
                .ftl
                .alloc_host_page(unit / per_page, &mut self.scratch_ops);
            self.buffer.open_group = unit / per_page;
            self.enqueue_background();
            self.buffer.open_page = page;
            self.buffer.open_fill = 0;
            let idle = self.params.write_buffer.idle_flush_ns;
            if idle > 0 {
                self.schedule(at_ns.max(self.now_ns) + idle, Event::BufferIdle(page));
            }
            self.buffer.open_ready_ns = at_ns;
            self.buffer.open_units.clear();
            self.buffer.open_unit_sectors.clear();
            self.buffer.open_sectors = 0;
        }
        let slot = self.buffer.open_page * per_page + self.buffer.open_fill;
        self.ftl.place(unit, slot, sectors);
        self.buffer.open_fill += 1;
        let carried = if self.geo.unit_sectors > 32 {
            self.geo.unit_sectors
        } else {
            sectors.count_ones()
        };
        self.buffer.occupy(carried);
        self.buffer.open_sectors += carried;
        self.buffer.open_units.push(unit);
        self.buffer.open_unit_sectors.push(sectors);
        self.buffer.open_ready_ns = self.buffer.open_ready_ns.max(at_ns);
        if self.buffer.open_fill == per_page {
            self.close_open_page();
        }
    }

    /// Send the open page to flash (partly filled: the rest is padding).
    fn close_open_page(&mut self) {
        let page = self.buffer.open_page;
        assert_ne!(page, NONE, "no open buffer page to close");
        let fill = self.buffer.open_fill;
        self.ftl.note_host_padding(self.geo.slots_per_page - fill);
        let seq = self.buffer.issue_seq();
        let id = self
            .jobs
            .insert(Job::buffer_page(self.buffer.open_sectors, seq));
        self.buffer.open_sectors = 0;
        let ready = self.buffer.open_ready_ns.max(self.now_ns);
        let bytes =
            if self.params.flash.program_transfers_written_sectors && self.geo.unit_sectors <= 32 {
                self.buffer
                    .open_unit_sectors
                    .iter()
                    .map(|sectors| sectors.count_ones() * 512)
                    .sum()
            } else {
                fill * self.geo.unit_bytes
            };
        self.buffer.open_unit_sectors.clear();
        let read_out = if self.params.write_buffer.destage_reads_dram {
            self.buffer
                .dram_access(self.now_ns, ready, u64::from(bytes))
        } else {
            ready
        };
        let mut units = std::mem::take(&mut self.buffer.open_units);
        units.sort_unstable();
        let fetches = self.lookup_units(id, units.iter().copied(), true, ready);
        units.clear();
        self.buffer.open_units = units;
        let mut spec = OpSpec::new(
            self.geo.die_of_page(page),
            OpKind::Program,
            bytes,
            OpPurpose::HostProgram,
        );
        spec.page = page;
        self.hold_op(spec, id);
        self.buffer.open_page = NONE;
        self.buffer.open_fill = 0;
        let job = self.jobs.get_mut(id);
        job.ready_ns = read_out;
        job.pending = fetches;
        if fetches == 0 {
            self.program_held(id, read_out);
        }
    }

    /// The idle timer of buffer page `page` fired: program it if it is still open.
    pub(super) fn buffer_idle(&mut self, page: u32) {
        if self.buffer.open_page == page && self.buffer.open_fill > 0 {
            self.close_open_page();
        }
    }

    /// Writes wait for room but nothing is being programmed: the open page must go.
    fn unblock_buffer(&mut self) {
        if !self.buffer.waiters.is_empty()
            && self.buffer.pages_in_flight == 0
            && self.buffer.open_page != NONE
        {
            self.close_open_page();
        }
    }

    fn flush(&mut self, id: u32, processed_ns: u64) {
        if !(self.buffer.enabled && self.buffer.volatile) {
            self.finish(id, processed_ns);
            return;
        }
        // Rewrites kept in DRAM go to flash with the rest.
        for (unit, sectors) in self.hot.take_all() {
            self.append_to_open_page(unit, sectors, processed_ns);
        }
        if self.buffer.open_page != NONE {
            self.close_open_page();
        }
        let target = self.buffer.next_seq();
        if self.buffer.drained_below(target) {
            self.finish(id, processed_ns);
        } else {
            let job = self.jobs.get_mut(id);
            job.phase = Phase::WaitDrain;
            job.ready_ns = processed_ns;
            job.seq = target;
            self.buffer.flush_waiters.push_back((id, target));
        }
    }

    /// An op the job waited on ended now.
    pub(super) fn job_op_done(&mut self, id: u32, spec: OpSpec) {
        let now = self.now_ns;
        if spec.purpose == OpPurpose::HostRead {
            self.send_to_host(id, now, u64::from(spec.bytes));
        }
        let job = self.jobs.get_mut(id);
        assert!(job.pending > 0, "op finished for a job waiting on none");
        job.pending -= 1;
        if job.pending > 0 {
            return;
        }
        let job = *job;
        match (job.phase, job.kind) {
            (Phase::Lookup, JobKind::Read) => self.read_data(id, now.max(job.ready_ns)),
            (Phase::Lookup, JobKind::WriteThrough | JobKind::BufferPage) => {
                self.program_held(id, now.max(job.ready_ns))
            }
            (Phase::Data, JobKind::Read) => self.finish(id, job.done_ns.max(now)),
            (Phase::Data, _) => self.data_done(id, now),
            (phase, kind) => unreachable!("{kind:?} job got an op in phase {phase:?}"),
        }
    }

    /// All programs of a write-through or buffer-page job ended.
    fn data_done(&mut self, id: u32, at_ns: u64) {
        let job = *self.jobs.get(id);
        match job.kind {
            JobKind::WriteThrough => self.finish(id, at_ns),
            JobKind::BufferPage => {
                self.jobs.remove(id);
                self.buffer.release(job.buffer_sectors);
                self.buffer.complete_seq(job.seq);
                self.admit_buffer_waiters();
                self.release_flush_waiters();
            }
            other => unreachable!("{other:?} has no programs"),
        }
    }

    fn admit_buffer_waiters(&mut self) {
        while let Some(&id) = self.buffer.waiters.front() {
            let job = *self.jobs.get(id);
            if !self.buffer.fits(job.buffer_sectors) {
                break;
            }
            self.buffer.waiters.pop_front();
            self.admit_buffered(id, job.ready_ns.max(self.now_ns));
        }
        self.unblock_buffer();
    }

    fn release_flush_waiters(&mut self) {
        while let Some(&(id, target)) = self.buffer.flush_waiters.front() {
            if !self.buffer.drained_below(target) {
                break;
            }
            self.buffer.flush_waiters.pop_front();
            let ready = self.jobs.get(id).ready_ns;
            self.finish(id, ready.max(self.now_ns));
        }
    }
}
