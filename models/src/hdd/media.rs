//! Media access planning: given where the heads are and when they may move, when does each
//! sector of an LBN range pass under them?
//!
//! Owns the composition of layout, seek curve and spindle into a schedule of
//! [`MediaRun`]s (one per stretch of contiguous sectors on one track). Reads stream;
//! writes may only write a sector whose data has arrived in the buffer, otherwise they
//! wait for the sector's next pass. This module does not decide what to read or when a
//! command may start (see `controller`, `cache`).

use super::layout::{Layout, TrackRun};
use super::params::ReadAheadStop;
use super::rotation::{Spindle, PS_PER_NS};
use super::seek::{repositioning_ns, SeekCurve};

/// The first sector of a command: its run on the media, and the platter angle (ps of
/// rotation) at which it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorTarget {
    /// The run of LBNs the command starts with ([`Layout::run`]).
    pub run: TrackRun,
    /// Platter angle at which the run's first sector starts ([`Spindle::sector_angle_ps`]).
    pub angle_ps: u64,
}
/// Cylinder and head the actuator is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadPos {
    /// Cylinder.
    pub cylinder: u32,
    /// Surface.
    pub head: u32,
}

/// Contiguous sectors transferred on one track, and how the heads got there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaRun {
    /// First LBN of the run.
    pub lbn: u64,
    /// LBNs (sectors) in the run, at least 1.
    pub len: u32,
    /// Track of the run.
    pub pos: HeadPos,
    /// When the heads start moving to this track (equal to `reposition_end_ps` when they
    /// are already on it).
    pub reposition_start_ps: u128,
    /// When the heads are on the track (settled).
    pub reposition_end_ps: u128,
    /// When the first sector starts passing under the head.
    pub start_ps: u128,
    /// Angular position of the first sector, in sectors of the track.
    pub angle_sectors: u32,
    /// Sectors on the track.
    pub sectors_per_track: u32,
}

impl MediaRun {
    /// When sector `k` (0-based) of the run has fully passed.
    pub fn sector_done_ps(&self, spindle: &Spindle, k: u32) -> u128 {
        debug_assert!(k < self.len);
        self.start_ps
            + spindle.sectors_ps(self.angle_sectors, u64::from(k) + 1, self.sectors_per_track)
    }

    /// When the run's last sector has passed.
    pub fn end_ps(&self, spindle: &Spindle) -> u128 {
        self.sector_done_ps(spindle, self.len - 1)
    }

    /// Sectors of the run fully passed by `t_ps`.
    pub fn sectors_done_by(&self, spindle: &Spindle, t_ps: u128) -> u32 {
        if t_ps <= self.start_ps {
            return 0;
        }
        // Sector boundaries are not evenly spaced in integer ps; search the few candidates.
        let per = u128::from(spindle.period_ps()) / u128::from(self.sectors_per_track);
        let guess = (((t_ps - self.start_ps) / per.max(1)) as u32).min(self.len);
        let mut k = guess.saturating_sub(1);
        while k < self.len && self.sector_done_ps(spindle, k) <= t_ps {
            k += 1;
        }
        while k > 0 && self.sector_done_ps(spindle, k - 1) > t_ps {
            k -= 1;
        }
        k
    }
}

/// What to read: `count` LBNs from `lbn`; the first `foreground` must all be read, the
/// rest is read-ahead, cut short where `stop` says.
#[derive(Debug, Clone, Copy)]
pub struct ReadSpan {
    /// First LBN.
    pub lbn: u64,
    /// LBNs to read, including read-ahead.
    pub count: u64,
    /// Leading LBNs that must be read whatever `stop` says.
    pub foreground: u64,
    /// Where read-ahead beyond `foreground` stops.
    pub stop: ReadAheadStop,
    /// Read each track's sectors in the order they pass under the head (zero latency).
    pub zero_latency: bool,
    /// On the first track, also buffer the sectors before `lbn` that pass under the head
    /// first, and read the rest zero-latency (DiskSim's "Read any free blocks").
    pub free_blocks: bool,
}

/// What to write: `count` LBNs from `lbn`; sector `i` of the span may be written only once
/// `ready_ps(i)` has passed; the first repositioning takes at least `min_first_ns`.
#[derive(Clone, Copy)]
pub struct WriteSpan<'a> {
    /// First LBN.
    pub lbn: u64,
    /// LBNs to write.
    pub count: u64,
    /// Minimum time of the first repositioning.
    pub min_first_ns: u64,
    /// When the data of span sector `i` is in the buffer, in ps.
    pub ready_ps: &'a dyn Fn(u64) -> u128,
    /// Write each track's sectors in the order they pass under the head when their data
    /// is all buffered (zero latency).
    pub zero_latency: bool,
}

/// The parts of the drive that move.
#[derive(Debug, Clone)]
pub struct Mechanism {
    /// LBN mapping and angles.
    pub layout: Layout,
    /// Seek curve.
    pub seek: SeekCurve,
    /// Platter rotation.
    pub spindle: Spindle,
    /// Time to switch to another surface.
    pub head_switch_ns: u64,
    /// Extra (or, if negative, saved) time before writing after any repositioning.
    pub write_settle_ns: i64,
}

impl Mechanism {
    /// Repositioning time from `from` to `to`, in ns.
    #[inline]
    pub fn repositioning_ns(&self, from: HeadPos, to: HeadPos, write: bool) -> u64 {
        repositioning_ns(
            &self.seek,
            self.head_switch_ns,
            self.write_settle_ns,
            (from.cylinder, from.head),
            (to.cylinder, to.head),
            write,
        )
    }

    /// Estimated time from `t_ps` until the first sector of `run` (an LBN's
    /// [`Layout::run`]) starts passing under the head, moving from `from` (seek + settle +
    /// rotational latency): what SPTF minimises.
    #[inline]
    pub fn positioning_estimate_ps(
        &self,
        from: HeadPos,
        t_ps: u128,
        target: &SectorTarget,
        write: bool,
        min_ns: u64,
    ) -> u128 {
        let run = &target.run;
        let to = HeadPos {
            cylinder: run.cylinder,
            head: run.head,
        };
        let rep = self.repositioning_ns(from, to, write).max(min_ns);
        let on_track = t_ps + u128::from(rep) * PS_PER_NS;
        self.spindle.next_angle_ps(on_track, target.angle_ps) - t_ps
    }

    /// Where `lbn` is and at which platter angle its sector starts: both fixed, so a
    /// queued command computes them once (issue 11).
    pub fn sector_target(&self, lbn: u64) -> SectorTarget {
        let run = self.layout.run(lbn);
        SectorTarget {
            run,
            angle_ps: self.spindle.sector_angle_ps(
                run.angle_sectors % run.sectors_per_track,
                run.sectors_per_track,
            ),
        }
    }

    /// Plan reading `span` with the heads at `from`, free to move at `t_ps`. Appends runs
    /// to `out` in LBN order (a zero-latency track contributes its wrapped-round part
    /// before the part read first) and returns the LBNs planned, which start at
    /// `span.lbn` unless free blocks before it were buffered (see [`ReadSpan`]).
    pub fn plan_read(
        &self,
        from: HeadPos,
        t_ps: u128,
        span: ReadSpan,
        out: &mut Vec<MediaRun>,
    ) -> u64 {
        let ReadSpan {
            lbn,
            count,
            foreground,
            stop,
            zero_latency,
            free_blocks,
        } = span;
        let mut pos = from;
        let mut t = t_ps;
        let mut next = lbn;
        let end = lbn + count;
        let foreground_end = lbn + foreground;
        let mut first = true;
        while next < end {
            let track = self.layout.run(next);
            let to = HeadPos {
                cylinder: track.cylinder,
                head: track.head,
            };
            if next >= foreground_end && to != pos {
                let allowed = match stop {
                    ReadAheadStop::Budget | ReadAheadStop::TrackAhead => true,
                    ReadAheadStop::TrackEnd => false,
                    ReadAheadStop::CylinderEnd => to.cylinder == pos.cylinder,
                };
                if !allowed {
                    break;
                }
            }
            let rep = self.repositioning_ns(pos, to, false);
            let on_track = t + u128::from(rep) * PS_PER_NS;
            let len = u64::from(track.len).min(end - next) as u32;
            let spt = track.sectors_per_track;
            let landing = self.spindle.next_boundary_sector(on_track, spt);
            // Sectors the head passes on arrival before reaching `next`.
            let ahead = (track.angle_sectors + spt - landing) % spt;
            let moved_at = t;
            let run_at = |lbn: u64, len: u32, angle: u32, after: u128| MediaRun {
                lbn,
                len,
                pos: to,
                reposition_start_ps: moved_at,
                reposition_end_ps: on_track,
                start_ps: self.spindle.next_sector_start_ps(after, angle, spt),
                angle_sectors: angle,
                sectors_per_track: spt,
            };
            // Free blocks: the wanted sectors are ahead of the head on a read's first
            // track, so the sectors before them that pass first are buffered too.
            let free = if first && free_blocks && ahead > 0 {
                self.free_sectors_before(next, track.sector, ahead)
            } else {
                0
            };
            if free > 0 {
                let run = run_at(
                    next - u64::from(free),
                    len + free,
                    (track.angle_sectors + spt - free) % spt,
                    on_track,
                );
                t = run.end_ps(&self.spindle);
                out.push(run);
                pos = to;
                first = false;
                next += u64::from(len);
                continue;
            }
            // Zero-latency: the head lands inside the wanted sectors of this run: read from
            // there to their end, then the skipped ones on the next pass, then whatever
            // read-ahead the run holds.
            let wanted = if next < foreground_end {
                u64::from(len).min(foreground_end - next) as u32
            } else {
                len
            };
            let inside = (spt - ahead) % spt;
            if (zero_latency || (first && free_blocks)) && inside > 0 && inside < wanted {
                let late = run_at(
                    next + u64::from(inside),
                    wanted - inside,
                    (track.angle_sectors + inside) % spt,
                    on_track,
                );
                let late_end = late.end_ps(&self.spindle);
                let mut early = run_at(next, inside, track.angle_sectors, late_end);
                early.reposition_start_ps = late_end;
                early.reposition_end_ps = late_end;
                t = early.end_ps(&self.spindle);
                out.push(early);
                out.push(late);
                if wanted < len {
                    let rest = run_at(
                        next + u64::from(wanted),
                        len - wanted,
                        (track.angle_sectors + wanted) % spt,
                        t,
                    );
                    t = rest.end_ps(&self.spindle);
                    out.push(rest);
                }
            } else {
                let run = run_at(next, len, track.angle_sectors, on_track);
                t = run.end_ps(&self.spindle);
                out.push(run);
            }
            pos = to;
            first = false;
            next += u64::from(len);
        }
        next - lbn
    }

    /// How many of the `ahead` sectors right before `lbn` (at physical sector `sector` of
    /// its track) hold the consecutive LBNs before it on the same track.
    fn free_sectors_before(&self, lbn: u64, sector: u32, ahead: u32) -> u32 {
        let want = ahead.min(sector);
        if want == 0 || lbn < u64::from(want) {
            return 0;
        }
        let here = self.layout.run(lbn);
        let there = self.layout.run(lbn - u64::from(want));
        let same_track = there.cylinder == here.cylinder && there.head == here.head;
        if same_track && there.sector + want == sector && there.len >= want {
            want
        } else {
            0
        }
    }

    /// Plan writing `span` with the heads at `from`, free to move at `t_ps`; a sector
    /// whose data is late is written on a later pass. Appends runs to `out` in time order
    /// (the last one ends last) and returns the heads' final position.
    pub fn plan_write(
        &self,
        from: HeadPos,
        t_ps: u128,
        span: WriteSpan,
        out: &mut Vec<MediaRun>,
    ) -> HeadPos {
        let WriteSpan {
            lbn,
            count,
            min_first_ns,
            ready_ps,
            zero_latency,
        } = span;
        let mut pos = from;
        let mut t = t_ps;
        let mut next = lbn;
        let end = lbn + count;
        let mut first = true;
        while next < end {
            let track = self.layout.run(next);
            let to = HeadPos {
                cylinder: track.cylinder,
                head: track.head,
            };
            let mut rep = self.repositioning_ns(pos, to, true);
            if first {
                rep = rep.max(min_first_ns);
                first = false;
            }
            let reposition_start = t;
            let mut cur = t + u128::from(rep) * PS_PER_NS;
            let len = u64::from(track.len).min(end - next) as u32;
            let spt = track.sectors_per_track;
            if zero_latency {
                // Zero-latency write: the head lands inside the run and all of its data is
                // buffered, so write from there to the run's end and the skipped sectors on
                // the next pass (runs pushed in time order).
                let landing = self.spindle.next_boundary_sector(cur, spt);
                let inside = (landing + spt - track.angle_sectors) % spt;
                let landing_ps = self.spindle.next_sector_start_ps(cur, landing, spt);
                let last_ready = ready_ps(next + u64::from(len) - 1 - lbn);
                if inside > 0 && inside < len && last_ready <= landing_ps {
                    let run_at =
                        |lbn: u64, len: u32, angle: u32, after: u128, from: u128| MediaRun {
                            lbn,
                            len,
                            pos: to,
                            reposition_start_ps: from,
                            reposition_end_ps: cur.max(from),
                            start_ps: self.spindle.next_sector_start_ps(after, angle, spt),
                            angle_sectors: angle,
                            sectors_per_track: spt,
                        };
                    let late = run_at(next + u64::from(inside), len - inside, landing, cur, t);
                    let late_end = late.end_ps(&self.spindle);
                    let early = run_at(next, inside, track.angle_sectors, late_end, late_end);
                    t = early.end_ps(&self.spindle);
                    out.push(late);
                    out.push(early);
                    pos = to;
                    next += u64::from(len);
                    continue;
                }
            }
            let mut open: Option<MediaRun> = None;
            for j in 0..len {
                let index = next + u64::from(j) - lbn;
                let angle = (track.angle_sectors + j) % spt;
                let earliest = cur.max(ready_ps(index));
                let s = self.spindle.next_sector_start_ps(earliest, angle, spt);
                match open.as_mut() {
                    Some(run) if s == cur => run.len += 1,
                    _ => {
                        let restart = open.is_some();
                        if let Some(run) = open.take() {
                            out.push(run);
                        }
                        let reposition = if restart { cur } else { reposition_start };
                        open = Some(MediaRun {
                            lbn: next + u64::from(j),
                            len: 1,
                            pos: to,
                            reposition_start_ps: reposition,
                            reposition_end_ps: if restart {
                                cur
                            } else {
                                reposition_start + u128::from(rep) * PS_PER_NS
                            },
                            start_ps: s,
                            angle_sectors: angle,
                            sectors_per_track: spt,
                        });
                    }
                }
                cur = s + self.spindle.sectors_ps(angle, 1, spt);
            }
            if let Some(run) = open.take() {
                out.push(run);
            }
            t = cur;
            pos = to;
            next += u64::from(len);
        }
        pos
    }
}
