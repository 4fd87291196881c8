//! The write path of [`HddModel`]: write-through commands (data phase, media write with
//! late-data revolutions, reconnection), write-back acceptance and destaging, stalls when
//! the buffer is full, and FLUSH completion.

use super::{Event, HddModel, Job};
use crate::hdd::controller::{
    command_overheads, write_done_ns, write_front, write_media_start_sectors, WriteCommand,
};
use crate::hdd::media::WriteSpan;
use crate::hdd::rotation::{ps_to_ns_ceil, PS_PER_NS};
use crate::ModelRequest;

impl HddModel {
    /// Give the mechanism to write `job` at `d_ns`: a host write-through command (data
    /// phase, media write, reconnection) or the destage of write-back data.
    pub(super) fn execute_write(&mut self, job: Job, d_ns: u64) {
        let spindle = self.mech.spindle;
        let d_ps = u128::from(d_ns) * PS_PER_NS;
        self.cache.settle(&spindle, d_ps);
        let (from, free_ps) = self.take_mechanism(d_ps);
        let n = u64::from(job.sectors);
        let end = job.lbn + n;
        let min_positioning = self.controller.minimum_write_positioning_ns;
        self.scratch_runs.clear();
        let Some(tag) = job.tag else {
            // Destage of write-back data: already in the buffer.
            let ready = u128::from(job.data_ready_ns) * PS_PER_NS;
            let start_ps = (u128::from(job.arrival_ns) * PS_PER_NS)
                .max(free_ps)
                .max(self.hda_free_ps);
            let pos = self.mech.plan_write(
                from,
                start_ps,
                WriteSpan {
                    lbn: job.lbn,
                    count: n,
                    min_first_ns: min_positioning,
                    ready_ps: &|_| ready,
                    zero_latency: self.cache_params.zero_latency_writes,
                },
                &mut self.scratch_runs,
            );
            let media_end = self.planned_end_ps(start_ps);
            self.hda_free_ps = media_end;
            self.head = pos;
            self.push_event(
                ps_to_ns_ceil(media_end),
                Event::Destaged {
                    seq: job.seq,
                    sectors: n,
                },
            );
            return;
        };
        let segment = self.cache.victim(true);
        self.cache.claim(segment, job.lbn, true);
        self.cache.invalidate_overlaps(job.lbn, n, segment);
        let extra = self.controller.extra_write_disconnect.is_some()
            && matches!(self.last_command, Some((true, prev_end)) if prev_end != job.lbn);
        let cmd = command_overheads(&self.controller, self.last_was_read);
        let front = write_front(
            &self.controller,
            &self.bus,
            &WriteCommand {
                overheads: cmd,
                arrival_ns: job.arrival_ns,
                dispatch_ns: d_ns,
                queued: job.queued,
                extra_disconnect: extra,
                bus_free_ns: self.bus_free_ns,
                sectors: job.sectors,
            },
        );
        let per_sector = self.bus.write_ns_per_sector;
        let threshold_ns = front.transfer_start_ns
            + u64::from(write_media_start_sectors(&self.controller, job.sectors)) * per_sector;
        let ready = |i: u64| -> u128 {
            let data = front.transfer_start_ns + (i + 1) * per_sector;
            u128::from(data.max(threshold_ns)) * PS_PER_NS
        };
        let start_ps = (u128::from(front.media_may_start_ns) * PS_PER_NS)
            .max(free_ps)
            .max(self.hda_free_ps);
        let pos = self.mech.plan_write(
            from,
            start_ps,
            WriteSpan {
                lbn: job.lbn,
                count: n,
                min_first_ns: min_positioning,
                ready_ps: &ready,
                zero_latency: self.cache_params.zero_latency_writes,
            },
            &mut self.scratch_runs,
        );
        let media_end = self.planned_end_ps(start_ps);
        let done = write_done_ns(&self.controller, &front, ps_to_ns_ceil(media_end));
        self.hda_free_ps = media_end;
        self.head = pos;
        self.bus_free_ns = done;
        self.cache.fill(segment, job.lbn, end);
        self.last_was_read = false;
        self.last_command = Some((true, end));
        self.push_event(done, Event::Host { tag });
    }

    pub(super) fn planned_end_ps(&self, default_ps: u128) -> u128 {
        self.scratch_runs
            .last()
            .map(|r| r.end_ps(&self.mech.spindle))
            .unwrap_or(default_ps)
    }

    /// Accept a write into the write-back buffer at `now_ns` (it arrived at `arrival_ns`
    /// and may have waited for space): acknowledge it once its data is in, and queue its
    /// destage.
    pub(super) fn submit_write_back(&mut self, now_ns: u64, req: &ModelRequest, arrival_ns: u64) {
        let n = u64::from(req.sectors);
        let cmd = command_overheads(&self.controller, self.last_was_read);
        let start = (arrival_ns + cmd.write_hit_ns + self.controller.data_prep_ns)
            .max(now_ns)
            .max(self.bus_free_ns);
        let data_in = start + n * self.bus.write_ns_per_sector;
        let done = data_in + self.controller.write_completion_ns;
        self.bus_free_ns = done;
        self.last_was_read = false;
        self.last_command = Some((true, req.sector + n));
        self.push_event(done, Event::Host { tag: req.tag });
        self.dirty_sectors += n;
        if self.combine_with_queued_destage(req.sector, n, data_in) {
            return;
        }
        let segment = self.cache.victim(true);
        self.cache.claim(segment, req.sector, true);
        self.cache.fill(segment, req.sector, req.sector + n);
        self.cache.invalidate_overlaps(req.sector, n, segment);
        self.next_seq += 1;
        let seq = self.next_seq;
        debug_assert!(self.destaging.back().is_none_or(|&last| last < seq));
        self.destaging.push_back(seq);
        self.enqueue(Job {
            tag: None,
            write: true,
            lbn: req.sector,
            sectors: req.sectors,
            arrival_ns: now_ns,
            seq,
            start: self.mech.sector_target(req.sector),
            queued: true,
            data_ready_ns: data_in,
        });
    }

    /// With write combining, append `[lbn, lbn + n)` (buffered by `data_in`) to a queued
    /// destage that ends at `lbn`, in that destage's segment, if the segment can hold the
    /// two together. Returns whether it did.
    fn combine_with_queued_destage(&mut self, lbn: u64, n: u64, data_in: u64) -> bool {
        if !self.cache_params.combine_sequential_writes {
            return false;
        }
        let segment_sectors = u64::from(self.cache_params.segment_sectors);
        let Some(job) = self.queue.iter_mut().rev().find(|j| {
            j.tag.is_none()
                && j.lbn + u64::from(j.sectors) == lbn
                && u64::from(j.sectors) + n <= segment_sectors
        }) else {
            return false;
        };
        let Some(segment) = self
            .cache
            .segments
            .iter()
            .position(|s| s.valid && s.holds_write_data && s.end == lbn && s.start <= job.lbn)
        else {
            return false;
        };
        job.sectors += n as u32;
        job.data_ready_ns = job.data_ready_ns.max(data_in);
        let start = job.lbn;
        self.cache.touch(segment);
        self.cache.fill(segment, start, lbn + n);
        self.cache.invalidate_overlaps(lbn, n, segment);
        true
    }

    /// Accept stalled write-back writes, oldest first, while they fit.
    pub(super) fn admit_stalled_writes(&mut self, t_ns: u64) {
        while let Some(&(req, arrival)) = self.stalled_writes.front() {
            if self.dirty_sectors + u64::from(req.sectors) > self.dirty_limit_sectors {
                break;
            }
            self.stalled_writes.pop_front();
            self.submit_write_back(t_ns, &req, arrival);
        }
    }

    pub(super) fn complete_flushes(&mut self, t_ns: u64) {
        let oldest_dirty = self.destaging.front().copied().unwrap_or(u64::MAX);
        let done = t_ns + self.controller.write_completion_ns;
        let mut i = 0;
        while i < self.flushes.len() {
            let (seq, tag) = self.flushes[i];
            if oldest_dirty > seq {
                self.flushes.swap_remove(i);
                self.push_event(done, Event::Host { tag });
            } else {
                i += 1;
            }
        }
    }
}
