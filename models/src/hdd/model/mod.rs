//! [`HddModel`]: the drive as a discrete-event machine behind [`TimingModel`].
//!
//! Owns the command queue, the mechanism's and the bus's busy times, the head position,
//! the buffer and write-back state, and the event heap of completions. A command's whole
//! timeline (overheads, positioning, rotational latency, media and bus transfer) is
//! computed when the mechanism takes it, from the state at that moment; read-ahead runs
//! on as a stream that the next command stops. Plans reuse scratch buffers, so steady-state
//! reads and write-through writes allocate nothing (write-back bookkeeping uses a B-tree
//! set, which allocates a node now and then).
//!
//! Simplifications (documented, deliberate): one bus-busy horizon (a write's data phase
//! and its final reconnection hold the bus in between); read hits are served at arrival
//! even while the mechanism works on another command; the buffer never stalls the media
//! of a request larger than a segment; a write-back write larger than the whole buffer is
//! written through.

mod read;
mod write;

use super::cache::{Lookup, SegmentCache};
use super::controller::command_overheads;
use super::layout::Layout;
use super::media::{HeadPos, Mechanism, MediaRun, SectorTarget};
use super::params::{
    BusParams, CacheParams, ControllerParams, HddParams, QueueParams, ReadAheadStop,
};
use super::rotation::{ps_to_ns_ceil, Spindle, PS_PER_NS};
use super::scheduler::{choose, Candidate};
use super::seek::SeekCurve;
use crate::{ModelCompletion, ModelError, ModelOp, ModelRequest, ModelRng, TimingModel};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A host command completes.
    Host { tag: u64 },
    /// Write-back data of job `seq` reached the media.
    Destaged { seq: u64, sectors: u64 },
}

/// A command waiting for (or given to) the mechanism.
#[derive(Debug, Clone, Copy)]
struct Job {
    /// None: destaging write-back data.
    tag: Option<u64>,
    write: bool,
    lbn: u64,
    sectors: u32,
    arrival_ns: u64,
    seq: u64,
    /// Where `lbn` is on the media: the layout is fixed, so it is looked up once, not at
    /// every dispatch that weighs the job (issue 11: a twentieth of a replay's time).
    start: SectorTarget,
    /// It waited in the queue (the mechanism was busy when it arrived).
    queued: bool,
    /// Destage: when the data is in the buffer.
    data_ready_ns: u64,
}

/// A mechanical disk drive.
pub struct HddModel {
    mech: Mechanism,
    controller: ControllerParams,
    bus: BusParams,
    cache_params: CacheParams,
    queue_params: QueueParams,
    cache: SegmentCache,
    /// Where the heads are once the current plan (and stream) completes.
    head: HeadPos,
    /// The mechanism is busy with a foreground job until then.
    hda_free_ps: u128,
    bus_free_ns: u64,
    /// Oldest first; a deque so taking a command near the front is cheap even when many
    /// destage jobs wait behind it.
    queue: VecDeque<Job>,
    events: BinaryHeap<Reverse<(u64, u64, Event)>>,
    last_was_read: bool,
    /// The previous host command: (was a write, LBN after its end).
    last_command: Option<(bool, u64)>,
    /// A running read-ahead may not be stopped before this time: its foreground data and
    /// the minimum read-ahead must be in.
    stream_hold_ps: u128,
    next_seq: u64,
    host_in_flight: usize,
    dirty_sectors: u64,
    dirty_limit_sectors: u64,
    /// Sequence numbers of destages in progress, ascending (handed out in increasing order):
    /// a deque keeps its room where a B-tree set allocated nodes per write (issue 11).
    destaging: VecDeque<u64>,
    /// Write-back writes waiting for buffer space: (request, arrival).
    stalled_writes: VecDeque<(ModelRequest, u64)>,
    flushes: Vec<(u64, u64)>,
    clock_ns: u64,
    scratch_runs: Vec<MediaRun>,
    scratch_ready_ns: Vec<u64>,
    scratch_candidates: Vec<Candidate>,
}

impl HddModel {
    /// Build a drive. `rng` draws the spindle's speed error (if any); the model draws
    /// nothing else.
    pub fn new(params: HddParams, mut rng: ModelRng) -> Result<HddModel, ModelError> {
        params.validate()?;
        let layout = Layout::new(&params.geometry)?;
        let m = &params.mechanics;
        let rpm = if m.rpm_error_percent > 0.0 {
            // Uniform in [-1, 1) from 53 random bits.
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            m.rpm * (1.0 + u * m.rpm_error_percent / 100.0)
        } else {
            m.rpm
        };
        let mech = Mechanism {
            layout,
            seek: SeekCurve::new(&m.seek),
            spindle: Spindle::new(rpm, m.rotation_phase),
            head_switch_ns: m.head_switch_ns,
            write_settle_ns: m.write_settle_ns,
        };
        let c = &params.cache;
        let cache = SegmentCache::new(
            c.segments,
            c.segment_sectors,
            c.dedicated_write_segment,
            c.read_hits_on_write_data,
        );
        Ok(HddModel {
            mech,
            controller: (*params.controller).clone(),
            bus: params.bus.clone(),
            cache_params: params.cache.clone(),
            queue_params: params.queue.clone(),
            cache,
            head: HeadPos {
                cylinder: 0,
                head: 0,
            },
            hda_free_ps: 0,
            bus_free_ns: 0,
            queue: VecDeque::new(),
            events: BinaryHeap::new(),
            last_was_read: true,
            last_command: None,
            stream_hold_ps: 0,
            next_seq: 0,
            host_in_flight: 0,
            dirty_sectors: 0,
            dirty_limit_sectors: u64::from(c.write_back_segments.unwrap_or(c.segments))
                * u64::from(c.segment_sectors),
            destaging: VecDeque::new(),
            stalled_writes: VecDeque::new(),
            flushes: Vec::new(),
            clock_ns: 0,
            scratch_runs: Vec::new(),
            scratch_ready_ns: Vec::new(),
            scratch_candidates: Vec::new(),
        })
    }

    /// The drive's layout (LBN mapping), for inspection and tests.
    pub fn layout(&self) -> &Layout {
        &self.mech.layout
    }

    /// The seek curve, for inspection and tests.
    pub fn seek_curve(&self) -> &SeekCurve {
        &self.mech.seek
    }

    /// The spindle, for inspection and tests.
    pub fn spindle(&self) -> &Spindle {
        &self.mech.spindle
    }

    fn push_event(&mut self, t_ns: u64, event: Event) {
        // Plans may start at the exact (sub-ns) free time of the mechanism, just before
        // the dispatch instant; completions never go back in time.
        let t_ns = t_ns.max(self.clock_ns);
        self.next_seq += 1;
        self.events.push(Reverse((t_ns, self.next_seq, event)));
    }

    fn dispatch_due_ns(&self) -> Option<u64> {
        (!self.queue.is_empty()).then(|| ps_to_ns_ceil(self.hda_free_ps))
    }

    /// LBN where read-ahead after reading `[start, end)` into a segment that starts at
    /// `segment_start` ends (`end` itself when there is none).
    fn read_ahead_end(&self, start: u64, end: u64, segment_start: u64) -> u64 {
        let c = &self.cache_params;
        let capacity = self.mech.layout.capacity_sectors();
        if !c.enabled || c.read_ahead_max_sectors == 0 || end >= capacity {
            return end;
        }
        let segment = u64::from(c.segment_sectors);
        let minimum = u64::from(c.read_ahead_min_sectors);
        let target = if c.read_ahead_stop == ReadAheadStop::TrackAhead {
            let layout = &self.mech.layout;
            let (first, track_end) = layout.track_lbns(end);
            if segment_start < first {
                track_end + u64::from(layout.run(start).sectors_per_track)
            } else {
                track_end
            }
        } else if c.read_ahead_fills_segment {
            if end - start >= segment {
                end + minimum
            } else {
                (start + segment).max(end + minimum)
            }
        } else {
            end + u64::from(c.read_ahead_max_sectors).min(segment)
        };
        target.min(capacity)
    }

    /// Heads' position at `t_ps`, following a running stream.
    fn head_at(&self, t_ps: u128) -> HeadPos {
        if self.cache.stream.is_active() {
            self.cache.stream.head_at(t_ps)
        } else {
            self.head
        }
    }

    fn dispatch(&mut self, d_ns: u64) {
        let window = (self.queue_params.depth as usize).min(self.queue.len());
        // The queue is in arrival order: its front is the command that waited longest.
        let oldest_overdue = self.queue_params.max_wait_ns.is_some_and(|max_wait_ns| {
            self.queue
                .front()
                .is_some_and(|job| d_ns.saturating_sub(job.arrival_ns) >= max_wait_ns)
        });
        let index = if window <= 1 || oldest_overdue {
            0
        } else {
            let d_ps = u128::from(d_ns) * PS_PER_NS;
            let head = self.head_at(d_ps);
            let sptf = self.queue_params.scheduler == super::params::SchedulerKind::Sptf;
            self.scratch_candidates.clear();
            for job in self.queue.iter().take(window) {
                let positioning_ps = if sptf {
                    let min = if job.write {
                        self.controller.minimum_write_positioning_ns
                    } else {
                        0
                    };
                    self.mech
                        .positioning_estimate_ps(head, d_ps, &job.start, job.write, min)
                } else {
                    0
                };
                self.scratch_candidates.push(Candidate {
                    cylinder: job.start.run.cylinder,
                    positioning_ps,
                });
            }
            choose(
                self.queue_params.scheduler,
                head.cylinder,
                &self.scratch_candidates,
            )
        };
        let job = self
            .queue
            .remove(index)
            .expect("scheduler picks within the window");
        if job.write {
            self.execute_write(job, d_ns);
        } else {
            self.execute_read(job, d_ns);
        }
    }

    /// Run dispatches due by `now_ns` (state only; completions stay queued as events).
    fn run_dispatches(&mut self, now_ns: u64) {
        while let Some(t) = self.dispatch_due_ns() {
            if t > now_ns {
                break;
            }
            let d = t.max(self.clock_ns);
            self.clock_ns = d;
            self.dispatch(d);
        }
    }

    fn enqueue(&mut self, job: Job) {
        self.queue.push_back(job);
    }
}

impl TimingModel for HddModel {
    fn kind(&self) -> &'static str {
        "hdd"
    }

    fn capacity_sectors(&self) -> u64 {
        self.mech.layout.capacity_sectors()
    }

    fn volatile_write_cache(&self) -> bool {
        self.cache_params.write_back
    }

    fn submit(&mut self, now_ns: u64, req: ModelRequest) {
        assert!(
            now_ns >= self.clock_ns,
            "time went backwards: {now_ns} < {}",
            self.clock_ns
        );
        self.run_dispatches(now_ns);
        self.clock_ns = now_ns;
        self.host_in_flight += 1;
        let capacity = self.capacity_sectors();
        match req.op {
            ModelOp::Flush => {
                self.next_seq += 1;
                self.flushes.push((self.next_seq, req.tag));
                self.complete_flushes(now_ns);
                return;
            }
            ModelOp::Discard => {
                assert!(
                    req.sector + u64::from(req.sectors) <= capacity,
                    "discard beyond capacity"
                );
                self.cache
                    .invalidate_overlaps(req.sector, u64::from(req.sectors), usize::MAX);
                let cmd = command_overheads(&self.controller, self.last_was_read);
                let done = now_ns + cmd.write_hit_ns + self.controller.write_completion_ns;
                self.push_event(done, Event::Host { tag: req.tag });
                return;
            }
            ModelOp::Read | ModelOp::Write => {}
        }
        assert!(
            req.sectors >= 1 && req.sector + u64::from(req.sectors) <= capacity,
            "request {}+{} outside the drive's {capacity} sectors",
            req.sector,
            req.sectors
        );
        let write = req.op == ModelOp::Write;
        let n = u64::from(req.sectors);
        if write && self.cache_params.write_back && !req.fua && n <= self.dirty_limit_sectors {
            if self.stalled_writes.is_empty() && self.dirty_sectors + n <= self.dirty_limit_sectors
            {
                self.submit_write_back(now_ns, &req, now_ns);
            } else {
                self.stalled_writes.push_back((req, now_ns));
            }
        } else {
            let now_ps = u128::from(now_ns) * PS_PER_NS;
            // Reads wholly in the buffer are served at once.
            if !write && self.cache_params.enabled {
                self.cache.settle(&self.mech.spindle, now_ps);
            }
            let whole_hit = !write
                && self.cache_params.enabled
                && matches!(self.cache.lookup(req.sector, n), Lookup::Whole { .. });
            let busy = self.hda_free_ps > now_ps || !self.queue.is_empty();
            self.next_seq += 1;
            let job = Job {
                tag: Some(req.tag),
                write,
                lbn: req.sector,
                sectors: req.sectors,
                arrival_ns: now_ns,
                seq: self.next_seq,
                start: self.mech.sector_target(req.sector),
                queued: busy,
                data_ready_ns: 0,
            };
            if whole_hit {
                self.execute_read(job, now_ns);
            } else {
                self.enqueue(job);
            }
        }
        self.run_dispatches(now_ns);
    }

    fn next_event_ns(&self) -> Option<u64> {
        let event = self.events.peek().map(|Reverse((t, _, _))| *t);
        match (event, self.dispatch_due_ns()) {
            (Some(a), Some(b)) => Some(a.min(b).max(self.clock_ns)),
            (Some(a), None) => Some(a.max(self.clock_ns)),
            (None, Some(b)) => Some(b.max(self.clock_ns)),
            (None, None) => None,
        }
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<ModelCompletion>) {
        loop {
            let event = self.events.peek().map(|Reverse((t, _, _))| *t);
            let dispatch = self.dispatch_due_ns();
            let take_dispatch = match (event, dispatch) {
                (_, None) => false,
                (None, Some(d)) => d <= now_ns,
                (Some(e), Some(d)) => d <= now_ns && d <= e,
            };
            if take_dispatch {
                let d = dispatch.expect("checked").max(self.clock_ns);
                self.clock_ns = d;
                self.dispatch(d);
                continue;
            }
            match event {
                Some(t) if t <= now_ns => {
                    let Some(Reverse((t_ev, _, ev))) = self.events.pop() else {
                        break;
                    };
                    debug_assert_eq!(t, t_ev);
                    self.clock_ns = self.clock_ns.max(t_ev);
                    match ev {
                        Event::Host { tag } => {
                            self.host_in_flight -= 1;
                            out.push(ModelCompletion { tag, done_ns: t_ev });
                        }
                        Event::Destaged { seq, sectors } => {
                            let at = self
                                .destaging
                                .binary_search(&seq)
                                .expect("a destage ends once");
                            self.destaging.remove(at);
                            self.dirty_sectors -= sectors;
                            self.admit_stalled_writes(t_ev);
                            self.complete_flushes(t_ev);
                        }
                    }
                }
                _ => break,
            }
        }
        self.clock_ns = self.clock_ns.max(now_ns);
    }

    fn in_flight(&self) -> usize {
        self.host_in_flight
    }
}
