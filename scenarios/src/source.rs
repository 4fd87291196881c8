//! [`RecordSource`]: turns a stream of [`TraceRecord`]s (a trace reader or a workload
//! generator) into the engine's bios, paced closed loop (a fixed number in flight) or open
//! loop (at the records' times, optionally sped up).
//!
//! Every write carries self-describing data: sector i of a write with id w holds the stamp
//! (volume sector, w), so a data oracle can check every read (DESIGN.md, "Data"). Write ids are
//! the bio id + 1, unique and increasing in submission order.
//!
//! What happens to each bio is told to a [`BioListener`] (oracle, latency recorder): when it
//! is submitted and when it completes. Deliberately not here: mapping trace addresses onto
//! the device (see `fit`), recording statistics, checking data.

use crate::traces::{TraceOp, TraceRecord};
use dmsim_engine::block::Op;
use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId};
use dmsim_engine::platform::BioSource;
use std::collections::BTreeMap;

/// How bios are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Keep `queue_depth` bios in flight; a new one is issued the moment one completes.
    ClosedLoop { queue_depth: u32 },
    /// Issue each record at its own time (relative to the first record), divided by `speed`
    /// (2.0 = twice as fast). Times are rounded down to whole ns.
    OpenLoop { speed: f64 },
}

/// A bio the source issued and that has not completed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedBio {
    pub id: BioId,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub submit_ns: u64,
    /// The stamp id of a write's data (0 for other operations).
    pub write_id: u64,
    /// What the listener returned at submission (e.g. an oracle mark).
    pub mark: u64,
}

/// Told about every bio of a [`RecordSource`].
pub trait BioListener {
    /// `bio` is about to enter the engine; the return value comes back as `IssuedBio::mark`.
    fn submitted(&mut self, now_ns: u64, bio: &Bio) -> u64;
    /// The bio `issued` finished.
    fn completed(&mut self, now_ns: u64, issued: &IssuedBio, done: &BioDone);
}

/// A listener that ignores everything.
impl BioListener for () {
    fn submitted(&mut self, _: u64, _: &Bio) -> u64 {
        0
    }
    fn completed(&mut self, _: u64, _: &IssuedBio, _: &BioDone) {}
}

/// Bios from records. See the module documentation.
pub struct RecordSource<I: Iterator<Item = TraceRecord>, L: BioListener> {
    records: std::iter::Peekable<I>,
    pacing: Pacing,
    listener: L,
    in_flight: BTreeMap<u64, IssuedBio>,
    next_id: u64,
    /// Time of the first record (open loop origin).
    origin_ns: Option<u64>,
    /// Records with an operation the engine has no bio for (`TraceOp::Other`).
    skipped_records: u64,
    /// Stop issuing at this time (closed or open loop).
    stop_at_ns: Option<u64>,
    stopped: bool,
    /// No record is left (seen when peeking).
    exhausted: bool,
    last_now_ns: u64,
}

impl<I: Iterator<Item = TraceRecord>, L: BioListener> RecordSource<I, L> {
    pub fn new(records: I, pacing: Pacing, listener: L) -> Self {
        if let Pacing::ClosedLoop { queue_depth } = pacing {
            assert!(queue_depth >= 1, "queue depth must be at least 1");
        }
        if let Pacing::OpenLoop { speed } = pacing {
            assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        }
        RecordSource {
            records: records.peekable(),
            pacing,
            listener,
            in_flight: BTreeMap::new(),
            next_id: 0,
            origin_ns: None,
            skipped_records: 0,
            stop_at_ns: None,
            stopped: false,
            exhausted: false,
            last_now_ns: 0,
        }
    }

    /// Issue nothing at or after `time_ns` (a `--duration` limit).
    pub fn stop_at(mut self, time_ns: u64) -> Self {
        self.stop_at_ns = Some(time_ns);
        self
    }

    pub fn listener(&self) -> &L {
        &self.listener
    }

    pub fn listener_mut(&mut self) -> &mut L {
        &mut self.listener
    }

    pub fn into_listener(self) -> L {
        self.listener
    }

    /// Bios issued so far.
    pub fn issued(&self) -> u64 {
        self.next_id
    }

    /// Records skipped because no bio expresses them.
    pub fn skipped_records(&self) -> u64 {
        self.skipped_records
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Drop records the engine cannot express, so `peek` shows the next real one.
    fn skip_unusable(&mut self) {
        while let Some(r) = self.records.peek() {
            if r.op.to_block_op().is_some() {
                return;
            }
            self.records.next();
            self.skipped_records += 1;
        }
        self.exhausted = true;
    }

    fn open_loop_time(&mut self, record_ns: u64, speed: f64) -> u64 {
        let origin = *self.origin_ns.get_or_insert(record_ns);
        let offset = record_ns.saturating_sub(origin);
        if speed == 1.0 {
            offset
        } else {
            (offset as f64 / speed) as u64
        }
    }
}

impl<I: Iterator<Item = TraceRecord>, L: BioListener> BioSource for RecordSource<I, L> {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        if self.stopped {
            return None;
        }
        self.skip_unusable();
        let record_ns = self.records.peek()?.time_ns;
        let at = match self.pacing {
            Pacing::ClosedLoop { queue_depth } => {
                if self.in_flight.len() >= queue_depth as usize {
                    return None;
                }
                self.last_now_ns
            }
            Pacing::OpenLoop { speed } => self.open_loop_time(record_ns, speed),
        };
        if self.stop_at_ns.is_some_and(|stop| at >= stop) {
            self.stopped = true;
            return None;
        }
        Some(at)
    }

    fn take_bio(&mut self, now_ns: u64) -> Bio {
        self.last_now_ns = now_ns;
        self.skip_unusable();
        let record = self
            .records
            .next()
            .expect("take_bio follows an announced arrival");
        let op = record
            .op
            .to_block_op()
            .expect("unusable records were skipped");
        let id = BioId(self.next_id);
        self.next_id += 1;
        let (sector, sectors) = if op == Op::Flush {
            (0, 0)
        } else {
            (
                record.sector,
                u32::try_from(record.sectors).unwrap_or(u32::MAX),
            )
        };
        let write_id = if op == Op::Write { id.0 + 1 } else { 0 };
        let data = if op == Op::Write {
            (0..u64::from(sectors))
                .map(|i| {
                    SectorContent::Stamp(SectorStamp {
                        sector: sector + i,
                        write_id,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let bio = Bio {
            id,
            op,
            sector,
            sectors,
            flags: BioFlags {
                fua: false,
                preflush: op == Op::Flush || record.op == TraceOp::Flush,
                sync: false,
            },
            data,
        };
        let mark = self.listener.submitted(now_ns, &bio);
        self.in_flight.insert(
            id.0,
            IssuedBio {
                id,
                op,
                sector,
                sectors,
                submit_ns: now_ns,
                write_id,
                mark,
            },
        );
        self.skip_unusable();
        bio
    }

    fn on_done(&mut self, now_ns: u64, done: BioDone) {
        self.last_now_ns = now_ns;
        let issued = self
            .in_flight
            .remove(&done.id.0)
            .expect("the engine completes only bios it was given");
        self.listener.completed(now_ns, &issued, &done);
        self.skip_unusable();
    }

    fn is_finished(&self) -> bool {
        self.stopped || self.exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::DeviceKey;

    fn rec(time_ns: u64, op: TraceOp, sector: u64) -> TraceRecord {
        TraceRecord {
            time_ns,
            op,
            sector,
            sectors: 8,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }
    }

    #[derive(Default)]
    struct Log(Vec<(u64, u64)>);
    impl BioListener for Log {
        fn submitted(&mut self, now_ns: u64, bio: &Bio) -> u64 {
            self.0.push((now_ns, bio.id.0));
            bio.id.0 * 10
        }
        fn completed(&mut self, _: u64, issued: &IssuedBio, _: &BioDone) {
            assert_eq!(issued.mark, issued.id.0 * 10);
        }
    }

    #[test]
    fn closed_loop_keeps_the_depth_and_stamps_writes() {
        let recs = vec![
            rec(0, TraceOp::Write, 16),
            rec(0, TraceOp::Read, 0),
            rec(0, TraceOp::Read, 8),
        ];
        let mut s = RecordSource::new(
            recs.into_iter(),
            Pacing::ClosedLoop { queue_depth: 2 },
            Log::default(),
        );
        assert_eq!(s.next_arrival_ns(), Some(0));
        let w = s.take_bio(0);
        assert_eq!(
            w.data[3],
            SectorContent::Stamp(SectorStamp {
                sector: 19,
                write_id: 1
            })
        );
        assert_eq!(s.next_arrival_ns(), Some(0));
        s.take_bio(0);
        assert_eq!(s.next_arrival_ns(), None, "two in flight at depth 2");
        s.on_done(
            50,
            BioDone {
                id: BioId(0),
                status: dmsim_engine::IoStatus::Ok,
                data: Vec::new(),
            },
        );
        assert_eq!(s.next_arrival_ns(), Some(50));
        s.take_bio(50);
        assert!(s.is_finished());
    }

    #[test]
    fn open_loop_issues_at_scaled_record_times_and_skips_other_ops() {
        let recs = vec![
            rec(1_000, TraceOp::Read, 0),
            rec(1_500, TraceOp::Other, 0),
            rec(3_000, TraceOp::Write, 8),
        ];
        let mut s = RecordSource::new(recs.into_iter(), Pacing::OpenLoop { speed: 2.0 }, ());
        assert_eq!(s.next_arrival_ns(), Some(0));
        s.take_bio(0);
        assert_eq!(
            s.next_arrival_ns(),
            Some(1_000),
            "2 µs after the first, at double speed"
        );
        assert_eq!(s.skipped_records(), 1);
        s.take_bio(1_000);
        assert!(s.is_finished());
    }

    #[test]
    fn stop_at_ends_the_source() {
        let recs = (0..10).map(|i| rec(i * 100, TraceOp::Read, 0));
        let mut s = RecordSource::new(recs, Pacing::OpenLoop { speed: 1.0 }, ()).stop_at(250);
        let mut n = 0;
        while let Some(t) = s.next_arrival_ns() {
            s.take_bio(t);
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(s.is_finished());
    }
}
