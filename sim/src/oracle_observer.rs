//! [`OracleObserver`]: the data oracle as a `DriveObserver`. It watches every bio crossing the
//! engine boundary — writes when they enter and when they complete, reads when they complete,
//! discards as "contents unknown" — and collects data errors and failed bios. The CLI's
//! verifier and the test harnesses all check data through this one observer. A run whose
//! simulated devices have faults producing poison builds it
//! [`accepting_poison`](OracleObserver::accepting_poison) (see the oracle's acceptance rule).

use crate::oracle::write_hole::WriteHole;
use crate::oracle::{DataError, Durability, Oracle};
use dmsim_engine::block::{DeviceId, Extent, IoStatus, Op, SECTORS_PER_PAGE};
use dmsim_engine::content::SectorContent;
use dmsim_engine::id_table::IdTable;
use dmsim_engine::io::{Bio, BioDone, Input, Output};
use dmsim_engine::platform::DriveObserver;
use dmsim_engine::raid5::Geometry;
use std::collections::BTreeSet;

/// Data errors kept in full; more are only counted.
const DATA_ERRORS_KEPT: usize = 16;

/// A bio seen entering the engine, as [`OracleObserver::bio_done`] hands it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenBio {
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub submit_ns: u64,
    /// Oracle mark (reads) or write id (writes).
    mark: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub struct OracleObserver {
    oracle: Oracle,
    in_flight: IdTable<SeenBio>,
    /// The device whose sector s is volume sector s - offset (linear's device, flashcache's
    /// disk): a late write there makes that volume range unknown to the oracle.
    volume_device: Option<(DeviceId, u64)>,
    data_errors: Vec<DataError>,
    data_error_count: u64,
    failed_bios: u64,
    bios_done: u64,
    /// 4 KiB volume blocks any write touched, when asked for.
    written_blocks: Option<BTreeSet<u64>>,
    /// Writes with a preflush in flight: bio id → the flush's oracle mark.
    preflush_marks: IdTable<u64>,
    /// The volume is a raid5 array: its write hole after a crash.
    write_hole: Option<WriteHole>,
}

impl OracleObserver {
    /// `initial_contents_known`: the volume starts all zeros (simulated devices); false on a
    /// real device that held data before the run.
    pub fn new(initial_contents_known: bool) -> Self {
        OracleObserver {
            oracle: Oracle::new(initial_contents_known),
            in_flight: IdTable::new(),
            volume_device: None,
            data_errors: Vec::new(),
            data_error_count: 0,
            failed_bios: 0,
            bios_done: 0,
            written_blocks: None,
            preflush_marks: IdTable::new(),
            write_hole: None,
        }
    }

    /// The volume is a raid5 array of `geometry`: a member failing after a crash makes the
    /// sectors of the write hole unknown (see [`crate::oracle::write_hole`]).
    pub fn with_raid5(mut self, geometry: Geometry) -> Self {
        self.write_hole = Some(WriteHole::new(geometry));
        self
    }

    /// A member of the raid5 volume failed; `needs_resync(member_sector)`: the array's word
    /// on whether that stripe still needed its resync. Marks the write hole's sectors unknown
    /// and returns how many.
    pub fn raid5_member_failed(
        &mut self,
        member: usize,
        needs_resync: &dyn Fn(u64) -> bool,
    ) -> u64 {
        let hole = self
            .write_hole
            .as_mut()
            .expect("the volume was declared a raid5 array (with_raid5)");
        let ranges = hole.member_failed(member, needs_resync);
        let mut sectors_unknown = 0;
        for (sector, sectors) in ranges {
            self.oracle.contents_unknown(sector, sectors);
            sectors_unknown += sectors;
        }
        sectors_unknown
    }

    /// The raid5 volume's failed members as the array had them just before a crash
    /// (`failed[role]`: failed, or a spare still being rebuilt): the crash opens the write
    /// hole for these (see [`crate::oracle::write_hole`]). Call before [`Self::crash`].
    pub fn raid5_array_failed(&mut self, failed: &[bool]) {
        self.write_hole
            .as_mut()
            .expect("the volume was declared a raid5 array (with_raid5)")
            .array_failed(failed);
    }

    /// Sectors the raid5 write hole made unknown (0 if the volume is no raid5 array).
    pub fn write_hole_sectors(&self) -> u64 {
        self.write_hole
            .as_ref()
            .map_or(0, WriteHole::unknown_sectors)
    }

    /// Declare that `device` sector s holds volume sector s - `offset_sectors`.
    pub fn with_volume_device(mut self, device: DeviceId, offset_sectors: u64) -> Self {
        self.volume_device = Some((device, offset_sectors));
        self
    }

    /// What a crash may lose (see [`Durability`]); set before the run.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.oracle = self.oracle.with_durability(durability);
        self
    }

    /// Accept poison as corruption delivered: the run's simulated devices have faults that
    /// produce it (see [`Oracle::accepting_poison`]).
    pub fn accepting_poison(mut self) -> Self {
        self.oracle = self.oracle.accepting_poison();
        self
    }

    /// Power loss of the whole stack: the bios in flight will never complete (the engine
    /// that had them is gone); the oracle keeps what may have survived.
    pub fn crash(&mut self) {
        self.in_flight.clear();
        self.preflush_marks.clear();
        self.oracle.crash();
        if let Some(hole) = self.write_hole.as_mut() {
            for (sector, sectors) in hole.crashed(self.oracle.crash_uncertain_blocks()) {
                self.oracle.contents_unknown(sector, sectors);
            }
        }
    }

    /// Bios entered and not yet done.
    pub fn bios_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Remember every 4 KiB block a write touches ([`OracleObserver::written_blocks`]).
    pub fn tracking_written_blocks(mut self) -> Self {
        self.written_blocks = Some(BTreeSet::new());
        self
    }

    pub fn oracle(&self) -> &Oracle {
        &self.oracle
    }

    /// Reads whose data did not match (stale, misplaced or corrupt).
    pub fn data_error_count(&self) -> u64 {
        self.data_error_count
    }

    /// The first data errors (at most 16).
    pub fn data_errors(&self) -> &[DataError] {
        &self.data_errors
    }

    pub fn failed_bios(&self) -> u64 {
        self.failed_bios
    }

    pub fn bios_done(&self) -> u64 {
        self.bios_done
    }

    /// Blocks written, when tracking was asked for (empty otherwise).
    pub fn written_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.written_blocks.iter().flatten().copied()
    }

    /// Panics with the first data error, if there was one.
    pub fn assert_clean(&self, what: &str) {
        if let Some(first) = self.data_errors.first() {
            panic!(
                "{what}: {} data error(s), first: {first}",
                self.data_error_count
            );
        }
    }

    /// `bio` enters the engine at `now_ns`.
    pub fn bio_submitted(&mut self, now_ns: u64, bio: &Bio) {
        let sectors = u64::from(bio.sectors);
        let mark = match bio.op {
            Op::Write => {
                // The id the workload stamped into the data (see RecordSource).
                let write_id = match bio.data.first() {
                    Some(SectorContent::Stamp(stamp)) => stamp.write_id,
                    _ => panic!("bio {} writes unstamped data", bio.id.0),
                };
                if bio.flags.preflush {
                    // The preflush's effect is taken at the write's completion (a mark
                    // taken now covers only writes completed before this bio began).
                    self.preflush_marks
                        .insert(bio.id.0, self.oracle.flush_started());
                }
                self.oracle
                    .write_submitted(write_id, bio.sector, sectors, bio.flags.fua);
                if let Some(blocks) = &mut self.written_blocks {
                    let first = bio.sector / SECTORS_PER_PAGE;
                    blocks.extend(first..(bio.sector + sectors).div_ceil(SECTORS_PER_PAGE));
                }
                write_id
            }
            Op::Read => self.oracle.read_started(),
            Op::Discard => {
                // A discard may or may not drop data (flashcache ignores it): unknown.
                self.oracle.contents_unknown(bio.sector, sectors);
                0
            }
            Op::Flush => self.oracle.flush_started(),
        };
        let seen = SeenBio {
            op: bio.op,
            sector: bio.sector,
            sectors: bio.sectors,
            submit_ns: now_ns,
            mark,
        };
        self.in_flight.insert(bio.id.0, seen);
    }

    /// `done` left the engine: check it, and hand back what was seen of the bio.
    pub fn bio_done(&mut self, done: &BioDone) -> SeenBio {
        let bio = self
            .in_flight
            .remove(done.id.0)
            .expect("a bio completes once, after it was submitted");
        self.bios_done += 1;
        let ok = done.status == IoStatus::Ok;
        if !ok {
            self.failed_bios += 1;
        }
        match bio.op {
            Op::Write => {
                if let Some(mark) = self.preflush_marks.remove(done.id.0) {
                    self.oracle.flush_done(mark, ok);
                }
                self.oracle.write_done(bio.mark, ok)
            }
            Op::Flush => self.oracle.flush_done(bio.mark, ok),
            // Unknown from submission to completion: a write acknowledged meanwhile may still
            // be zeroed by the discard landing after it.
            Op::Discard => self
                .oracle
                .contents_unknown(bio.sector, u64::from(bio.sectors)),
            Op::Read if ok => {
                if let Err(e) = self
                    .oracle
                    .read_done(done.id.0, bio.mark, bio.sector, &done.data)
                {
                    self.data_error_count += 1;
                    if self.data_errors.len() < DATA_ERRORS_KEPT {
                        self.data_errors.push(e);
                    }
                }
            }
            Op::Read => self.oracle.read_abandoned(bio.mark),
        }
        bio
    }

    /// A late write on `device` left `extent` unknown.
    pub fn device_contents_unknown(&mut self, device: DeviceId, extent: Extent) {
        let Some((volume_device, offset)) = self.volume_device else {
            return;
        };
        if device != volume_device || extent.end() <= offset {
            return;
        }
        let start = extent.sector.max(offset);
        match self.write_hole.as_ref() {
            // The array's own word on its write hole, narrowed to the stripes the oracle
            // knows a crash may have torn (see `crate::oracle::write_hole`).
            Some(hole) => {
                for (sector, sectors) in hole.suspect_part(start - offset, extent.end() - start) {
                    self.oracle.contents_unknown(sector, sectors);
                }
            }
            None => self
                .oracle
                .contents_unknown(start - offset, extent.end() - start),
        }
    }
}

impl DriveObserver for OracleObserver {
    fn on_input(&mut self, now_ns: u64, input: &Input) {
        if let Input::Bio(bio) = input {
            self.bio_submitted(now_ns, bio);
        }
    }

    fn on_output(&mut self, _now_ns: u64, output: &Output) {
        if let Output::BioDone(done) = output {
            self.bio_done(done);
        }
    }

    fn on_contents_unknown(&mut self, _now_ns: u64, device: DeviceId, extent: Extent) {
        self.device_contents_unknown(device, extent);
    }
}
