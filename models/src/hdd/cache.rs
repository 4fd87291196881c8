//! The segmented on-board buffer: which LBN ranges the drive holds, which segment a new
//! command gets, and the read stream (a read's media transfer continuing as read-ahead)
//! that fills a segment over time.
//!
//! Owns segment contents, LRU order and the stream's progress. It does not decide timing
//! of the bus or overheads (see `controller`), and it plans no media access itself (the
//! stream is handed a plan by the model).

use super::media::{HeadPos, MediaRun};
use super::rotation::Spindle;

/// One buffer segment: a contiguous range of cached LBNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First cached LBN.
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    /// False until the segment first holds data (and after invalidation).
    pub valid: bool,
    /// The data came from a write.
    pub holds_write_data: bool,
    /// Larger is more recently used.
    pub last_use: u64,
    /// Reserved for writes.
    pub write_only: bool,
}

/// How much of a read a segment already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Nothing of the request is buffered.
    Miss,
    /// The segment holds `[lbn, cached_end)`, short of the request's end.
    Partial {
        /// The segment holding the start of the request.
        segment: usize,
        /// LBN after the buffered part.
        cached_end: u64,
    },
    /// The whole request is buffered.
    Whole {
        /// The segment holding it.
        segment: usize,
    },
}

/// Where the heads are and when they are free after a stream is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopPoint {
    /// Where the heads are.
    pub pos: HeadPos,
    /// When they may move again.
    pub free_ps: u128,
}

/// A media read filling a segment: the planned runs, and how far they have progressed.
/// One stream exists per drive and is reused (its run buffer keeps its capacity), so
/// starting a stream allocates nothing in steady state.
///
/// Runs are kept in LBN order, which is time order except on a zero-latency track, whose
/// wrapped-round first sectors are read after the rest (see `media::plan_read`).
#[derive(Debug, Clone, Default)]
pub struct Stream {
    active: bool,
    /// The segment being filled.
    pub segment: usize,
    runs: Vec<MediaRun>,
    /// Runs before this one are complete and accounted in the segment.
    next_run: usize,
    /// LBN after the last planned one.
    pub planned_end: u64,
    /// The run that ends last, and when.
    tail: usize,
    tail_end_ps: u128,
}

impl Stream {
    /// Is a stream running (possibly finished but not yet settled)?
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The segment being filled, if a stream is running.
    pub fn active_segment(&self) -> Option<usize> {
        self.active.then_some(self.segment)
    }

    /// Start a stream into `segment` from `runs` (non-empty, contiguous LBNs). `runs` is
    /// drained, keeping its capacity for the caller.
    pub fn start(&mut self, spindle: &Spindle, segment: usize, runs: &mut Vec<MediaRun>) {
        assert!(!runs.is_empty(), "a stream needs at least one run");
        assert!(
            runs.windows(2)
                .all(|w| w[0].lbn + u64::from(w[0].len) == w[1].lbn),
            "stream runs must be contiguous"
        );
        self.runs.clear();
        self.runs.append(runs);
        let last = self.runs[self.runs.len() - 1];
        self.active = true;
        self.segment = segment;
        self.next_run = 0;
        self.planned_end = last.lbn + u64::from(last.len);
        self.tail = 0;
        self.tail_end_ps = 0;
        self.update_tail(spindle, 0);
    }

    fn update_tail(&mut self, spindle: &Spindle, from: usize) {
        for (i, r) in self.runs.iter().enumerate().skip(from) {
            let end = r.end_ps(spindle);
            if end >= self.tail_end_ps {
                self.tail = i;
                self.tail_end_ps = end;
            }
        }
    }

    /// Forget the stream.
    pub fn cancel(&mut self) {
        self.active = false;
    }

    /// Where the heads are, and when, once every planned sector has been read.
    pub fn tail(&self) -> (HeadPos, u128) {
        (self.runs[self.tail].pos, self.tail_end_ps)
    }

    /// Append runs planned to continue the stream (their LBNs follow `planned_end`).
    pub fn extend(&mut self, spindle: &Spindle, more: &[MediaRun]) {
        let from = self.runs.len();
        for r in more {
            assert_eq!(r.lbn, self.planned_end, "stream runs must be contiguous");
            self.planned_end += u64::from(r.len);
            self.runs.push(*r);
        }
        self.update_tail(spindle, from);
    }

    /// When LBN `lbn` (which the stream plans) is in the buffer.
    pub fn block_ready_ps(&self, spindle: &Spindle, lbn: u64) -> Option<u128> {
        let i = self
            .runs
            .partition_point(|r| r.lbn + u64::from(r.len) <= lbn);
        let r = self.runs.get(i)?;
        (lbn >= r.lbn).then(|| r.sector_done_ps(spindle, (lbn - r.lbn) as u32))
    }

    /// LBN end of the contiguous data in the buffer at `t_ps`.
    fn end_at(&self, spindle: &Spindle, t_ps: u128) -> u64 {
        for r in &self.runs[self.next_run..] {
            let done = r.sectors_done_by(spindle, t_ps);
            if done < r.len {
                return r.lbn + u64::from(done);
            }
        }
        self.planned_end
    }

    /// The run the heads are on (or moving to) at `t_ps`: the latest to start
    /// repositioning by then (the first run before the stream moved at all).
    fn active_run(&self, t_ps: u128) -> &MediaRun {
        self.runs
            .iter()
            .filter(|r| r.reposition_start_ps <= t_ps)
            .max_by_key(|r| r.reposition_start_ps)
            .unwrap_or(&self.runs[0])
    }

    /// Where the heads are at `t_ps` while the stream runs (for schedulers).
    pub fn head_at(&self, t_ps: u128) -> HeadPos {
        self.active_run(t_ps).pos
    }

    /// Stop at `t_ps`: a repositioning in progress completes; a sector in progress is
    /// abandoned at once, or (`finish_sector`) the heads stay busy until its end — its
    /// data is dropped either way, as DiskSim does. Returns where the heads are and when
    /// they are free, and the LBN end of the contiguous data read.
    pub fn stop_point(
        &self,
        spindle: &Spindle,
        t_ps: u128,
        finish_sector: bool,
    ) -> (StopPoint, u64) {
        let r = self.active_run(t_ps);
        let mut free_ps = t_ps;
        if t_ps < r.reposition_end_ps && t_ps >= r.reposition_start_ps {
            free_ps = r.reposition_end_ps;
        } else if finish_sector && t_ps > r.start_ps {
            let k = r.sectors_done_by(spindle, t_ps);
            if k < r.len {
                free_ps = r.sector_done_ps(spindle, k);
            }
        }
        (
            StopPoint {
                pos: r.pos,
                free_ps,
            },
            self.end_at_all(spindle, t_ps),
        )
    }

    /// As `end_at`, from the first run.
    fn end_at_all(&self, spindle: &Spindle, t_ps: u128) -> u64 {
        for r in &self.runs {
            let done = r.sectors_done_by(spindle, t_ps);
            if done < r.len {
                return r.lbn + u64::from(done);
            }
        }
        self.planned_end
    }

    /// True once every planned sector has passed by `t_ps`.
    pub fn finished_by(&self, t_ps: u128) -> bool {
        self.tail_end_ps <= t_ps
    }
}

/// All segments plus the stream filling one of them.
#[derive(Debug, Clone)]
pub struct SegmentCache {
    /// The segments, in a fixed order (LRU is by `last_use`).
    pub segments: Vec<Segment>,
    /// Capacity of each segment.
    pub segment_sectors: u64,
    /// The (single) read stream.
    pub stream: Stream,
    use_clock: u64,
    read_hits_on_write_data: bool,
}

impl SegmentCache {
    /// An empty buffer of `segments` segments; the last is reserved for writes when
    /// `dedicated_write_segment`.
    pub fn new(
        segments: u32,
        segment_sectors: u32,
        dedicated_write_segment: bool,
        read_hits_on_write_data: bool,
    ) -> SegmentCache {
        let segments = (0..segments)
            .map(|i| Segment {
                start: 0,
                end: 0,
                valid: false,
                holds_write_data: false,
                last_use: 0,
                write_only: dedicated_write_segment && i + 1 == segments,
            })
            .collect();
        SegmentCache {
            segments,
            segment_sectors: u64::from(segment_sectors),
            stream: Stream::default(),
            use_clock: 0,
            read_hits_on_write_data,
        }
    }

    /// Bring the streaming segment up to date with media progress at `t_ps`; drops the
    /// stream once it has finished.
    pub fn settle(&mut self, spindle: &Spindle, t_ps: u128) {
        let stream = &mut self.stream;
        if !stream.active {
            return;
        }
        let end = stream.end_at(spindle, t_ps);
        while stream.next_run < stream.runs.len()
            && stream.runs[stream.next_run].end_ps(spindle) <= t_ps
        {
            stream.next_run += 1;
        }
        let seg = &mut self.segments[stream.segment];
        if end > seg.end {
            seg.end = end;
            seg.start = seg.start.max(end.saturating_sub(self.segment_sectors));
        }
        if stream.finished_by(t_ps) {
            stream.active = false;
        }
    }

    /// Mark `segment` as just used.
    pub fn touch(&mut self, segment: usize) {
        self.use_clock += 1;
        self.segments[segment].last_use = self.use_clock;
    }

    /// What the buffer holds of `[lbn, lbn + sectors)` (after `settle`).
    pub fn lookup(&self, lbn: u64, sectors: u64) -> Lookup {
        let mut best = Lookup::Miss;
        for (i, s) in self.segments.iter().enumerate() {
            if !s.valid || s.write_only && !self.read_hits_on_write_data {
                continue;
            }
            if s.holds_write_data && !self.read_hits_on_write_data {
                continue;
            }
            if lbn < s.start || lbn >= s.end {
                continue;
            }
            if s.end >= lbn + sectors {
                return Lookup::Whole { segment: i };
            }
            if best == Lookup::Miss {
                best = Lookup::Partial {
                    segment: i,
                    cached_end: s.end,
                };
            }
        }
        best
    }

    /// The valid segment that holds (or is being filled with) `[lbn, end)`: the streaming
    /// one if it covers the range, else one whose content covers `lbn`.
    pub fn holding(&self, lbn: u64, end: u64) -> Option<usize> {
        if let Some(s) = self.stream.active_segment() {
            let seg = &self.segments[s];
            if seg.valid && seg.start <= lbn && self.stream.planned_end >= end {
                return Some(s);
            }
        }
        self.segments
            .iter()
            .position(|s| s.valid && s.start <= lbn && lbn < s.end)
    }

    /// The segment a new read (or write) takes over: an empty one, else the least
    /// recently used idle one, else the streaming one. Write-only segments serve writes.
    pub fn victim(&self, for_write: bool) -> usize {
        // Once per call, not once per segment.
        let any_write_only = for_write && self.segments.iter().any(|x| x.write_only);
        let eligible = |s: &Segment| {
            if for_write {
                s.write_only || !any_write_only
            } else {
                !s.write_only
            }
        };
        let streaming = self.stream.active_segment();
        let mut best: Option<(usize, (u8, u64))> = None;
        for (i, s) in self.segments.iter().enumerate() {
            if !eligible(s) {
                continue;
            }
            let rank = if !s.valid {
                0
            } else if Some(i) != streaming {
                1
            } else {
                2
            };
            let key = (rank, s.last_use);
            if best.is_none_or(|(_, b)| key < b) {
                best = Some((i, key));
            }
        }
        best.map(|(i, _)| i).expect("at least one eligible segment")
    }

    /// Reset `segment` to hold nothing, positioned to receive data from `lbn`.
    pub fn claim(&mut self, segment: usize, lbn: u64, write_data: bool) {
        if self.stream.active_segment() == Some(segment) {
            self.stream.cancel();
        }
        let s = &mut self.segments[segment];
        s.start = lbn;
        s.end = lbn;
        s.valid = true;
        s.holds_write_data = write_data;
        self.touch(segment);
    }

    /// The segment now holds `[start, end)` (data written through it).
    pub fn fill(&mut self, segment: usize, start: u64, end: u64) {
        let s = &mut self.segments[segment];
        s.start = start.max(end.saturating_sub(self.segment_sectors));
        s.end = end;
    }

    /// Forget cached copies of `[lbn, lbn + sectors)` in segments other than `keep`
    /// (new data was written there).
    pub fn invalidate_overlaps(&mut self, lbn: u64, sectors: u64, keep: usize) {
        let end = lbn + sectors;
        let streaming = self.stream.active_segment();
        for (i, s) in self.segments.iter_mut().enumerate() {
            if i != keep && s.valid && s.start < end && lbn < s.end {
                s.valid = false;
                if streaming == Some(i) {
                    self.stream.cancel();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_distinguishes_whole_partial_and_miss() {
        let mut c = SegmentCache::new(2, 64, false, true);
        c.claim(0, 100, false);
        c.fill(0, 100, 140);
        assert_eq!(c.lookup(100, 40), Lookup::Whole { segment: 0 });
        assert_eq!(
            c.lookup(120, 30),
            Lookup::Partial {
                segment: 0,
                cached_end: 140
            }
        );
        assert_eq!(c.lookup(140, 1), Lookup::Miss);
        assert_eq!(c.lookup(99, 1), Lookup::Miss);
    }

    #[test]
    fn victims_prefer_empty_then_least_recently_used_and_respect_the_write_segment() {
        let mut c = SegmentCache::new(3, 64, true, true);
        assert_eq!(c.victim(true), 2, "the dedicated write segment");
        let a = c.victim(false);
        c.claim(a, 0, false);
        let b = c.victim(false);
        assert_ne!(a, b);
        c.claim(b, 1000, false);
        c.touch(a);
        assert_eq!(c.victim(false), b, "b is now least recently used");
    }

    #[test]
    fn stopping_a_stream_finishes_the_sector_under_the_head_only_when_asked() {
        let spindle = Spindle::new(6000.0, 0.0); // 10 ms a turn, 100 us a sector of 100
        let run = |lbn, start_ps, reposition_start_ps| MediaRun {
            lbn,
            len: 10,
            pos: HeadPos {
                cylinder: 1,
                head: 0,
            },
            reposition_start_ps,
            reposition_end_ps: start_ps,
            start_ps,
            angle_sectors: 0,
            sectors_per_track: 100,
        };
        let mut stream = Stream::default();
        stream.start(&spindle, 0, &mut vec![run(0, 0, 0)]);
        let t = 250_000_000; // 2.5 sectors in
        let (at_once, end) = stream.stop_point(&spindle, t, false);
        assert_eq!((at_once.free_ps, end), (t, 2));
        let (finished, end) = stream.stop_point(&spindle, t, true);
        assert_eq!(finished.free_ps, 300_000_000, "sector 2 passes first");
        assert_eq!(end, 2, "but its data is dropped, as in DiskSim");
        // A seek in progress always completes.
        stream.start(&spindle, 0, &mut vec![run(0, 1_000_000_000, 0)]);
        let (seeking, end) = stream.stop_point(&spindle, 500_000_000, true);
        assert_eq!((seeking.free_ps, end), (1_000_000_000, 0));
    }

    #[test]
    fn segments_keep_at_most_their_size() {
        let mut c = SegmentCache::new(1, 64, false, true);
        c.claim(0, 0, false);
        c.fill(0, 0, 100);
        assert_eq!((c.segments[0].start, c.segments[0].end), (36, 100));
        c.invalidate_overlaps(90, 5, usize::MAX);
        assert_eq!(c.lookup(40, 1), Lookup::Miss);
    }
}
