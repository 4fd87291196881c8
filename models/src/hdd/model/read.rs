//! The read path of [`HddModel`]: buffer lookup, riding or restarting the read-ahead
//! stream, media reads and the read's bus phases. Also owns taking the mechanism away
//! from a running stream, which writes use too.

use super::{Event, HddModel, Job};
use crate::hdd::cache::Lookup;
use crate::hdd::controller::{command_overheads, read_timing, read_watermark, ReadCommand};
use crate::hdd::media::{HeadPos, MediaRun, ReadSpan};
use crate::hdd::rotation::{ps_to_ns_ceil, PS_PER_NS};

impl HddModel {
    /// Stop any read stream for a new mechanical access at `t_ps`; returns where the
    /// heads are and when they are free.
    pub(super) fn take_mechanism(&mut self, t_ps: u128) -> (HeadPos, u128) {
        let spindle = self.mech.spindle;
        if !self.cache.stream.is_active() {
            return (self.head, 0);
        }
        // The stream runs at least until its foreground data and minimum read-ahead are in.
        let stop_at = t_ps.max(self.stream_hold_ps);
        self.cache.settle(&spindle, stop_at);
        if !self.cache.stream.is_active() {
            return (self.head, 0);
        }
        let finish_sector = self.cache_params.read_ahead_stops_at_sector_end;
        let (stop, data_end) = self
            .cache
            .stream
            .stop_point(&spindle, stop_at, finish_sector);
        debug_assert_eq!(
            data_end, self.cache.segments[self.cache.stream.segment].end,
            "settled up to the stop"
        );
        self.cache.stream.cancel();
        (stop.pos, stop.free_ps)
    }

    /// The read span options this drive uses for a media read.
    fn read_span(&self, lbn: u64, count: u64, foreground: u64, free_blocks: bool) -> ReadSpan {
        let c = &self.cache_params;
        ReadSpan {
            lbn,
            count,
            foreground,
            stop: c.read_ahead_stop,
            zero_latency: c.zero_latency_reads,
            free_blocks: free_blocks && c.read_any_free_blocks && c.enabled,
        }
    }

    /// Continue the running stream until `target_end` (LBN); data up to `foreground_end`
    /// must be read whatever the read-ahead stop rule says.
    pub(super) fn extend_stream(&mut self, target_end: u64, foreground_end: u64) {
        let stream = &self.cache.stream;
        if !stream.is_active() || stream.planned_end >= target_end {
            return;
        }
        let (pos, end_ps) = stream.tail();
        let from = stream.planned_end;
        let span = self.read_span(
            from,
            target_end - from,
            foreground_end.saturating_sub(from),
            false,
        );
        self.scratch_runs.clear();
        self.mech
            .plan_read(pos, end_ps, span, &mut self.scratch_runs);
        let spindle = self.mech.spindle;
        self.cache.stream.extend(&spindle, &self.scratch_runs);
        self.head = self.cache.stream.tail().0;
        self.scratch_runs.clear();
    }

    /// Fill `scratch_ready_ns` for `[lbn, lbn + n)` from `runs` (sectors not in `runs`
    /// keep their value) and return when the last of them is in, in ps.
    fn note_ready(&mut self, lbn: u64, runs: &[MediaRun]) -> u128 {
        let spindle = self.mech.spindle;
        let n = self.scratch_ready_ns.len() as u64;
        let mut last_ps = 0;
        for run in runs {
            let lo = run.lbn.max(lbn);
            let hi = (run.lbn + u64::from(run.len)).min(lbn + n);
            for l in lo..hi {
                let t = run.sector_done_ps(&spindle, (l - run.lbn) as u32);
                self.scratch_ready_ns[(l - lbn) as usize] = ps_to_ns_ceil(t);
                last_ps = last_ps.max(t);
            }
        }
        last_ps
    }

    /// Serve read `job`, given the mechanism (or served from the buffer) at `d_ns`:
    /// classify it against the buffer, plan whatever media access it needs (riding a
    /// running stream when it continues one), then sequence its bus phases.
    pub(super) fn execute_read(&mut self, job: Job, d_ns: u64) {
        let spindle = self.mech.spindle;
        let d_ps = u128::from(d_ns) * PS_PER_NS;
        self.cache.settle(&spindle, d_ps);
        let tag = job.tag.expect("reads are host commands");
        let n = u64::from(job.sectors);
        let end = job.lbn + n;
        let wm = read_watermark(&self.cache_params, job.sectors);
        let lookup = if self.cache_params.enabled {
            self.cache.lookup(job.lbn, n)
        } else {
            Lookup::Miss
        };
        let streaming = self.cache.stream.active_segment();
        self.scratch_ready_ns.clear();
        self.scratch_ready_ns.resize(job.sectors as usize, 0);
        // Enough buffered at arrival to start the data phase without disconnecting.
        let enough = |cached: u64| {
            cached > 0
                && (self.cache_params.partial_hit_transfers_at_once
                    || cached >= u64::from(wm).min(n))
        };
        let hit_path;
        match lookup {
            Lookup::Whole { segment } => {
                hit_path = true;
                self.cache.touch(segment);
                let ra_end = self.read_ahead_end(job.lbn, end, self.cache.segments[segment].start);
                if streaming == Some(segment) {
                    self.extend_stream(ra_end, 0);
                } else if self.cache_params.read_ahead_on_hit
                    && self.queue.is_empty()
                    && self.hda_free_ps <= d_ps
                    && self.cache.segments[segment].end < ra_end
                {
                    self.restart_read_ahead(segment, job.arrival_ns, d_ps, ra_end);
                }
            }
            Lookup::Partial {
                segment,
                cached_end,
            } if streaming == Some(segment) => {
                hit_path = enough(cached_end - job.lbn);
                self.cache.touch(segment);
                let ra_end = self.read_ahead_end(job.lbn, end, self.cache.segments[segment].start);
                self.extend_stream(ra_end.max(end), end);
                let mut last_ps = 0;
                for (k, r) in self.scratch_ready_ns.iter_mut().enumerate() {
                    let lbn = job.lbn + k as u64;
                    if lbn >= cached_end {
                        let t = self
                            .cache
                            .stream
                            .block_ready_ps(&spindle, lbn)
                            .expect("the stream was extended over the request");
                        last_ps = last_ps.max(t);
                        *r = ps_to_ns_ceil(t);
                    }
                }
                self.hda_free_ps = self.hda_free_ps.max(last_ps);
                self.stream_hold_ps = self.stream_hold_ps.max(last_ps);
            }
            _ => {
                let (segment, media_start) = match lookup {
                    Lookup::Partial {
                        segment,
                        cached_end,
                    } => (Some(segment), cached_end),
                    _ => (None, job.lbn),
                };
                hit_path = enough(media_start - job.lbn);
                let (from, free_ps) = self.take_mechanism(d_ps);
                let cmd = command_overheads(&self.controller, self.last_was_read);
                let overhead_done_ps = u128::from(job.arrival_ns + cmd.read_miss_ns) * PS_PER_NS;
                // Not `d_ps`: the dispatch instant is the mechanism's free time rounded up
                // to a ns, and starting there would miss a sector that follows at once.
                let start_ps = overhead_done_ps.max(free_ps).max(self.hda_free_ps);
                let segment_start = segment
                    .map(|s| self.cache.segments[s].start)
                    .unwrap_or(job.lbn);
                let ra_end = self.read_ahead_end(job.lbn, end, segment_start);
                let span = self.read_span(
                    media_start,
                    ra_end.max(end) - media_start,
                    end - media_start,
                    segment.is_none(),
                );
                self.scratch_runs.clear();
                self.mech
                    .plan_read(from, start_ps, span, &mut self.scratch_runs);
                let runs = std::mem::take(&mut self.scratch_runs);
                let last_ps = self.note_ready(job.lbn, &runs).max(start_ps);
                self.scratch_runs = runs;
                self.hda_free_ps = last_ps;
                // Hold the stream until the foreground and the minimum read-ahead are in.
                let min_end = (end + u64::from(self.cache_params.read_ahead_min_sectors))
                    .min(ra_end.max(end));
                let min_ready = self
                    .scratch_runs
                    .iter()
                    .filter(|r| r.lbn < min_end)
                    .map(|r| {
                        let k = (min_end.min(r.lbn + u64::from(r.len)) - r.lbn) as u32;
                        r.sector_done_ps(&spindle, k - 1)
                    })
                    .max()
                    .unwrap_or(0);
                self.stream_hold_ps = last_ps.max(min_ready);
                let first_lbn = self.scratch_runs.first().map(|r| r.lbn).unwrap_or(job.lbn);
                let segment = match segment {
                    Some(s) => {
                        self.cache.touch(s);
                        s
                    }
                    None => {
                        let s = self.cache.victim(false);
                        self.cache.claim(s, first_lbn, false);
                        s
                    }
                };
                if self.cache_params.enabled && !self.scratch_runs.is_empty() {
                    self.cache
                        .stream
                        .start(&spindle, segment, &mut self.scratch_runs);
                    self.head = self.cache.stream.tail().0;
                } else {
                    if let Some(r) = self.scratch_runs.last() {
                        self.head = r.pos;
                    }
                    self.scratch_runs.clear();
                }
            }
        }
        if self.cache_params.read_drops_request_data {
            if let Some(segment) = self.cache.holding(job.lbn, end) {
                let seg = &mut self.cache.segments[segment];
                seg.start = seg.start.max(end);
            }
        }
        let cmd = command_overheads(&self.controller, self.last_was_read).clone();
        let timing = read_timing(
            &self.controller,
            &self.bus,
            &ReadCommand {
                overheads: &cmd,
                last_was_read: self.last_was_read,
                arrival_ns: job.arrival_ns,
                not_before_ns: self.bus_free_ns.max(d_ns),
                hit_path,
                watermark: wm,
            },
            &self.scratch_ready_ns,
        );
        self.bus_free_ns = timing.done_ns;
        self.last_was_read = true;
        self.last_command = Some((false, end));
        self.push_event(timing.done_ns, Event::Host { tag });
    }

    /// Read ahead beyond `segment` again after a hit on an idle drive.
    pub(super) fn restart_read_ahead(
        &mut self,
        segment: usize,
        arrival_ns: u64,
        d_ps: u128,
        ra_end: u64,
    ) {
        let (from, free_ps) = self.take_mechanism(d_ps);
        let cmd = command_overheads(&self.controller, self.last_was_read);
        let start_ps = (u128::from(arrival_ns + cmd.read_miss_ns) * PS_PER_NS)
            .max(free_ps)
            .max(self.hda_free_ps);
        let seg_end = self.cache.segments[segment].end;
        let span = self.read_span(seg_end, ra_end - seg_end, 0, false);
        self.scratch_runs.clear();
        self.mech
            .plan_read(from, start_ps, span, &mut self.scratch_runs);
        if self.scratch_runs.is_empty() {
            self.head = from;
        } else {
            let spindle = self.mech.spindle;
            self.stream_hold_ps = 0;
            self.cache
                .stream
                .start(&spindle, segment, &mut self.scratch_runs);
            self.head = self.cache.stream.tail().0;
        }
    }
}
