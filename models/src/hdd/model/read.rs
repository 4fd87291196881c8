//! The read path of [`HddModel`]: buffer lookup, riding or restarting the read-ahead
//! stream, media reads and the read's bus phases. Also owns taking the mechanism away
//! from a running stream, which writes use too.

use super::{Event, HddModel, Job};
use crate::hdd::cache::Lookup;
use crate::hdd::controller::{command_overheads, read_timing, read_watermark, ReadCommand};
use crate::hdd::media::{HeadPos, ReadSpan};
use crate::hdd::rotation::{ps_to_ns_ceil, PS_PER_NS};

impl HddModel {
    /// Stop any read stream for a new mechanical access at `t_ps`; returns where the
    /// heads are and when they are free.
    pub(super) fn take_mechanism(&mut self, t_ps: u128) -> (HeadPos, u128) {
        let spindle = self.mech.spindle;
        if !self.cache.stream.is_active() {
            return (self.head, 0);
        }
        // Honour the minimum read-ahead: the stream runs at least until that LBN is in.
        let min_ready = if self.stream_min_end > 0 {
            self.cache
                .stream
                .block_ready_ps(&spindle, self.stream_min_end - 1)
                .unwrap_or(0)
        } else {
            0
        };
        let stop_at = t_ps.max(min_ready);
        self.cache.settle(&spindle, stop_at);
        if !self.cache.stream.is_active() {
            return (self.head, 0);
        }
        let (stop, _) = self.cache.stream.stop_point(&spindle, stop_at);
        self.cache.stream.cancel();
        (stop.pos, stop.free_ps)
    }

    /// Continue the running stream until `target_end` (LBN); data up to `foreground_end`
    /// must be read whatever the read-ahead stop rule says.
    pub(super) fn extend_stream(&mut self, target_end: u64, foreground_end: u64) {
        let stream = &self.cache.stream;
        if !stream.is_active() || stream.planned_end >= target_end {
            return;
        }
        let last = *stream.last_run();
        let from = stream.planned_end;
        self.scratch_runs.clear();
        let end_ps = last.end_ps(&self.mech.spindle);
        self.mech.plan_read(
            last.pos,
            end_ps,
            ReadSpan {
                lbn: from,
                count: target_end - from,
                foreground: foreground_end.saturating_sub(from),
                stop: self.cache_params.read_ahead_stop,
            },
            &mut self.scratch_runs,
        );
        if let Some(r) = self.scratch_runs.last() {
            self.head = r.pos;
        }
        self.cache.stream.extend(&self.scratch_runs);
        self.scratch_runs.clear();
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
        let ra_end = self.read_ahead_end(end);
        let wm = read_watermark(&self.cache_params, job.sectors);
        let lookup = if self.cache_params.enabled {
            self.cache.lookup(job.lbn, n)
        } else {
            Lookup::Miss
        };
        let streaming = self.cache.stream.active_segment();
        self.scratch_ready_ns.clear();
        self.scratch_ready_ns.resize(job.sectors as usize, 0);
        let hit_path;
        match lookup {
            Lookup::Whole { segment } => {
                hit_path = true;
                self.cache.touch(segment);
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
                hit_path = cached_end - job.lbn >= u64::from(wm);
                self.cache.touch(segment);
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
                        last_ps = t;
                        *r = ps_to_ns_ceil(t);
                    }
                }
                self.hda_free_ps = self.hda_free_ps.max(last_ps);
                self.stream_min_end = self.stream_min_end.max(end);
            }
            _ => {
                let (segment, media_start) = match lookup {
                    Lookup::Partial {
                        segment,
                        cached_end,
                    } => (segment, cached_end),
                    _ => (usize::MAX, job.lbn),
                };
                hit_path = media_start - job.lbn >= u64::from(wm);
                let (from, free_ps) = self.take_mechanism(d_ps);
                let segment = if segment == usize::MAX {
                    let s = self.cache.victim(false);
                    self.cache.claim(s, job.lbn, false);
                    s
                } else {
                    self.cache.touch(segment);
                    segment
                };
                let cmd = command_overheads(&self.controller, self.last_was_read);
                let overhead_done_ps = u128::from(job.arrival_ns + cmd.read_miss_ns) * PS_PER_NS;
                // Not `d_ps`: the dispatch instant is the mechanism's free time rounded up
                // to a ns, and starting there would miss a sector that follows at once.
                let start_ps = overhead_done_ps.max(free_ps).max(self.hda_free_ps);
                self.scratch_runs.clear();
                self.mech.plan_read(
                    from,
                    start_ps,
                    ReadSpan {
                        lbn: media_start,
                        count: ra_end.max(end) - media_start,
                        foreground: end - media_start,
                        stop: self.cache_params.read_ahead_stop,
                    },
                    &mut self.scratch_runs,
                );
                let mut k = (media_start - job.lbn) as usize;
                let mut last_ps = start_ps;
                'runs: for run in &self.scratch_runs {
                    for j in 0..run.len {
                        if k >= self.scratch_ready_ns.len() {
                            break 'runs;
                        }
                        let t = run.sector_done_ps(&spindle, j);
                        self.scratch_ready_ns[k] = ps_to_ns_ceil(t);
                        last_ps = t;
                        k += 1;
                    }
                }
                self.hda_free_ps = last_ps;
                if let Some(r) = self.scratch_runs.last() {
                    self.head = r.pos;
                }
                self.stream_min_end =
                    (end + u64::from(self.cache_params.read_ahead_min_sectors)).min(ra_end);
                if self.cache_params.enabled {
                    self.cache.stream.start(segment, &mut self.scratch_runs);
                } else {
                    self.scratch_runs.clear();
                }
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
        self.scratch_runs.clear();
        self.mech.plan_read(
            from,
            start_ps,
            ReadSpan {
                lbn: seg_end,
                count: ra_end - seg_end,
                foreground: 0,
                stop: self.cache_params.read_ahead_stop,
            },
            &mut self.scratch_runs,
        );
        if let Some(r) = self.scratch_runs.last() {
            self.head = r.pos;
            self.stream_min_end = 0;
            self.cache.stream.start(segment, &mut self.scratch_runs);
        } else {
            self.head = from;
        }
    }
}
