//! [`RecordSource`]: turns a stream of [`TraceRecord`]s (a trace reader or a workload
//! generator) into the engine's bios, paced closed loop (a fixed number in flight) or open
//! loop (at the records' times, optionally sped up).
//!
//! Every write carries self-describing data: sector i of a write with id w holds the stamp
//! (volume sector, w), so a data oracle can check every read (DESIGN.md, "Data"). Write ids are
//! a base plus the bio id + 1, unique and increasing in submission order. The base is 0 in
//! simulation; on a real device it is a per-run nonce ([`RecordSource::with_write_id_base`]),
//! so data left by an earlier run can never pass for this run's.
//!
//! Overlapping writes are serialised (like fio's `serialize_overlap`): a write or discard that
//! overlaps a write or discard still in flight waits until that one completes. Concurrent
//! overlapping writes have no defined result on a real device, and the simulated device
//! refuses them (DESIGN.md invariant 6); waits are counted in [`RecordSource::overlap_waits`].
//!
//! Deliberately not here: mapping trace addresses onto the device, recording statistics and
//! checking data (a `DriveObserver` sees every bio going in and coming out).

use crate::traces::{TraceOp, TraceRecord};
use dmsim_engine::block::Op;
use dmsim_engine::block::{DisjointExtents, Extent};
use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::id_table::IdTable;
use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId, SectorData};
use dmsim_engine::platform::BioSource;

/// Largest request replayed (32 MiB); larger records are skipped and counted.
pub const MAX_BIO_SECTORS: u64 = 1 << 16;

/// How bios are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Keep `queue_depth` bios in flight; a new one is issued the moment one completes.
    ClosedLoop { queue_depth: u32 },
    /// Issue each record at its own time (relative to the first record), divided by `speed`
    /// (2.0 = twice as fast). Times are rounded down to whole ns.
    OpenLoop { speed: f64 },
}

/// Bios from records. See the module documentation.
pub struct RecordSource<I: Iterator<Item = TraceRecord>> {
    records: std::iter::Peekable<I>,
    pacing: Pacing,
    /// Bios issued and not completed: bio id → start sector of a write or discard.
    in_flight: IdTable<Option<u64>>,
    /// Writes and discards in flight (disjoint: overlapping ones wait), keyed by bio id.
    writes_in_flight: DisjointExtents<u64>,
    /// Times the next write had to wait for an overlapping write to complete.
    overlap_waits: u64,
    /// The id of the completion seen last when a wait was counted (one wait per blocking).
    waiting_on_overlap: bool,
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
    write_id_base: u64,
    last_now_ns: u64,
}

impl<I: Iterator<Item = TraceRecord>> RecordSource<I> {
    pub fn new(records: I, pacing: Pacing) -> Self {
        if let Pacing::ClosedLoop { queue_depth } = pacing {
            assert!(queue_depth >= 1, "queue depth must be at least 1");
        }
        if let Pacing::OpenLoop { speed } = pacing {
            assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        }
        RecordSource {
            records: records.peekable(),
            pacing,
            in_flight: IdTable::new(),
            writes_in_flight: DisjointExtents::default(),
            overlap_waits: 0,
            waiting_on_overlap: false,
            next_id: 0,
            origin_ns: None,
            skipped_records: 0,
            stop_at_ns: None,
            stopped: false,
            exhausted: false,
            write_id_base: 0,
            last_now_ns: 0,
        }
    }

    /// Write ids start after `base` (see the module documentation).
    pub fn with_write_id_base(mut self, base: u64) -> Self {
        self.write_id_base = base;
        self
    }

    /// Issue nothing at or after `time_ns` (a `--duration` limit).
    pub fn stop_at(mut self, time_ns: u64) -> Self {
        self.stop_at_ns = Some(time_ns);
        self
    }

    /// Bios issued so far.
    pub fn issued(&self) -> u64 {
        self.next_id
    }

    /// Records skipped because no bio expresses them (see `skip_unusable`).
    pub fn skipped_records(&self) -> u64 {
        self.skipped_records
    }

    /// Times a write waited for an overlapping write in flight.
    pub fn overlap_waits(&self) -> u64 {
        self.overlap_waits
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Drop records the engine cannot express, so `peek` shows the next real one: operations
    /// with no bio (`TraceOp::Other`), zero-length reads, writes and discards (blkparse shows an
    /// empty preflush as a zero-length write; flushes are kept), and requests above
    /// [`MAX_BIO_SECTORS`].
    fn skip_unusable(&mut self) {
        while let Some(r) = self.records.peek() {
            let usable = match r.op.to_block_op() {
                None => false,
                Some(Op::Flush) => true,
                Some(_) => r.sectors > 0 && r.sectors <= MAX_BIO_SECTORS,
            };
            if usable {
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

impl<I: Iterator<Item = TraceRecord>> BioSource for RecordSource<I> {
    fn next_arrival_ns(&mut self) -> Option<u64> {
        if self.stopped {
            return None;
        }
        self.skip_unusable();
        let record = self.records.peek()?;
        let (record_ns, op, sector, sectors) =
            (record.time_ns, record.op, record.sector, record.sectors);
        if matches!(op, TraceOp::Write | TraceOp::Discard)
            && self
                .writes_in_flight
                .overlapping(Extent::new(sector, sectors))
                .is_some()
        {
            if !self.waiting_on_overlap {
                self.waiting_on_overlap = true;
                self.overlap_waits += 1;
            }
            return None;
        }
        self.waiting_on_overlap = false;
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
                u32::try_from(record.sectors).expect("skip_unusable bounds sectors"),
            )
        };
        let write_id = if op == Op::Write {
            self.write_id_base + id.0 + 1
        } else {
            0
        };
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
            SectorData::new()
        };
        let bio = Bio {
            id,
            op,
            sector,
            sectors,
            flags: BioFlags {
                fua: false,
                preflush: op == Op::Flush,
                sync: false,
            },
            data,
        };
        let extent = Extent::new(sector, u64::from(sectors));
        let written = matches!(op, Op::Write | Op::Discard) && extent.sectors > 0;
        if written {
            self.writes_in_flight.insert(extent, id.0);
        }
        self.in_flight.insert(id.0, written.then_some(sector));
        self.skip_unusable();
        bio
    }

    fn on_done(&mut self, now_ns: u64, done: BioDone) {
        self.last_now_ns = now_ns;
        let written = self
            .in_flight
            .remove(done.id.0)
            .expect("the engine completes only bios it was given");
        if let Some(sector) = written {
            self.writes_in_flight.remove(sector);
        }
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

    #[test]
    fn closed_loop_keeps_the_depth_and_stamps_writes() {
        let recs = vec![
            rec(0, TraceOp::Write, 16),
            rec(0, TraceOp::Read, 0),
            rec(0, TraceOp::Read, 8),
        ];
        let mut s = RecordSource::new(recs.into_iter(), Pacing::ClosedLoop { queue_depth: 2 });
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
                data: SectorData::new(),
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
        let mut s = RecordSource::new(recs.into_iter(), Pacing::OpenLoop { speed: 2.0 });
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
    fn an_overlapping_write_waits_for_the_write_in_flight() {
        let recs = vec![
            rec(0, TraceOp::Write, 0),
            rec(0, TraceOp::Write, 4),
            rec(0, TraceOp::Read, 0),
        ];
        let mut s = RecordSource::new(recs.into_iter(), Pacing::ClosedLoop { queue_depth: 8 });
        assert_eq!(s.next_arrival_ns(), Some(0));
        s.take_bio(0);
        assert_eq!(
            s.next_arrival_ns(),
            None,
            "sectors 4..12 overlap the write of 0..8"
        );
        assert_eq!(s.next_arrival_ns(), None);
        assert_eq!(s.overlap_waits(), 1, "one wait, counted once");
        s.on_done(
            10,
            BioDone {
                id: BioId(0),
                status: dmsim_engine::IoStatus::Ok,
                data: SectorData::new(),
            },
        );
        assert_eq!(s.next_arrival_ns(), Some(10));
        s.take_bio(10);
        assert_eq!(s.next_arrival_ns(), Some(10), "reads may race writes");
    }

    #[test]
    fn a_write_waits_for_an_overlapping_discard_in_flight() {
        let recs = vec![rec(0, TraceOp::Discard, 0), rec(0, TraceOp::Write, 4)];
        let mut s = RecordSource::new(recs.into_iter(), Pacing::ClosedLoop { queue_depth: 8 });
        assert_eq!(s.next_arrival_ns(), Some(0));
        s.take_bio(0);
        assert_eq!(
            s.next_arrival_ns(),
            None,
            "the write overlaps the discard in flight"
        );
        s.on_done(
            5,
            BioDone {
                id: BioId(0),
                status: dmsim_engine::IoStatus::Ok,
                data: SectorData::new(),
            },
        );
        assert_eq!(s.next_arrival_ns(), Some(5));
    }

    #[test]
    fn empty_and_oversized_records_are_skipped_and_flushes_kept() {
        let mut empty_write = rec(0, TraceOp::Write, 0);
        empty_write.sectors = 0;
        let mut flush = rec(0, TraceOp::Flush, 0);
        flush.sectors = 0;
        let mut huge = rec(0, TraceOp::Read, 0);
        huge.sectors = MAX_BIO_SECTORS + 8;
        let recs = vec![empty_write, huge, flush];
        let mut s = RecordSource::new(recs.into_iter(), Pacing::ClosedLoop { queue_depth: 4 });
        assert_eq!(s.next_arrival_ns(), Some(0));
        let bio = s.take_bio(0);
        assert_eq!((bio.op, bio.sectors), (Op::Flush, 0));
        assert_eq!(s.skipped_records(), 2);
        assert!(s.is_finished());
    }

    #[test]
    fn stop_at_ends_the_source() {
        let recs = (0..10).map(|i| rec(i * 100, TraceOp::Read, 0));
        let mut s = RecordSource::new(recs, Pacing::OpenLoop { speed: 1.0 }).stop_at(250);
        let mut n = 0;
        while let Some(t) = s.next_arrival_ns() {
            s.take_bio(t);
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(s.is_finished());
    }
}
