//! The data oracle: checks that every read returns what was last written, or a newer write
//! still in flight (DESIGN.md, "Data").
//!
//! The oracle watches bios at the volume boundary: writes when they are submitted and when
//! they complete, reads when they start and when they complete. Workload data is
//! self-describing (each sector carries its volume sector and write id, [`SectorStamp`]), so
//! the oracle keeps per sector only the write ids that may legitimately be there.
//!
//! The acceptance rule (exact, one-sided: it never accepts a wrong read and never refuses a
//! legal one): a read that started at mark `m` and returned version `v` of a sector is legal
//! iff `v` is the sector's current version, or a version that was replaced after `m` (the read
//! overlapped the write that replaced it, so it may linearise before it), or a write still in
//! flight that covers the sector. "Unknown" is a version too: a write failed, or a late write
//! or discard left the range undefined; any content is accepted while it is allowed.
//!
//! History is kept exactly as long as it is needed: the oracle knows the start marks of the
//! reads in flight, and a version replaced at or before the oldest of them can never be
//! returned legally again (a read starting later has a later mark), so it is dropped. With no
//! read in flight a sector holds one version. A read racing any number of writes is judged
//! exactly (regression 001: a multi-block read outlived six writes into one of its blocks).
//!
//! A sector never written holds zeros on a fresh simulated device; on a real device that held
//! data before the run, [`Oracle::new`] with `initial_contents_known = false` accepts anything
//! there. State is kept per 4 KiB block (one entry when all 8 sectors agree), in a
//! [`BlockTable`], so memory follows the volume's written footprint, not the trace length.

use crate::block_table::{for_each_block, BlockTable};
use dmsim_engine::block::SECTORS_PER_PAGE;
use dmsim_engine::content::{SectorContent, SectorStamp};
use std::collections::BTreeMap;

/// A version id meaning "contents unknown": any content is accepted.
const UNKNOWN: u64 = u64::MAX;

/// The state of a sector the oracle has no entry for.
static NEVER_WRITTEN: SectorState = SectorState {
    current: Version { id: 0, since: 0 },
    older: Vec::new(),
};

/// One version of a sector: write `id` became the content at completion sequence `since`.
/// Id 0 is "never written"; [`UNKNOWN`] is "any content".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Version {
    id: u64,
    since: u64,
}

/// What the oracle knows about one sector: its current version and the older versions a read
/// in flight may still return, newest first (`older[0]` was replaced at `current.since`,
/// `older[k]` at `older[k - 1].since`). Empty `older` allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct SectorState {
    current: Version,
    older: Vec<Version>,
}

impl SectorState {
    /// Version `id` becomes current at `since`; versions replaced at or before
    /// `oldest_read_mark` (the start mark of the oldest read in flight, `None` if none) are
    /// dropped, as no read can legally return them any more.
    fn push(&mut self, id: u64, since: u64, oldest_read_mark: Option<u64>) {
        debug_assert!(since > self.current.since || self.current == Version::default());
        self.older.insert(0, self.current);
        self.current = Version { id, since };
        let Some(oldest) = oldest_read_mark else {
            self.older.clear();
            return;
        };
        let mut replaced_at = self.current.since;
        let keep = self
            .older
            .iter()
            .take_while(|v| {
                let needed = replaced_at > oldest;
                replaced_at = v.since;
                needed
            })
            .count();
        self.older.truncate(keep);
    }

    /// The versions a read started at mark `started` may return: the current one, and every
    /// older one that was replaced after the read began.
    fn allowed(&self, started: u64) -> impl Iterator<Item = u64> + '_ {
        let mut replaced_at = self.current.since;
        std::iter::once(self.current.id).chain(self.older.iter().map_while(move |v| {
            let allowed = replaced_at > started;
            replaced_at = v.since;
            allowed.then_some(v.id)
        }))
    }
}

#[derive(Debug, Clone)]
enum BlockState {
    Uniform(SectorState),
    Split(Box<[SectorState; 8]>),
}

impl BlockState {
    fn get(&self, i: usize) -> &SectorState {
        match self {
            BlockState::Uniform(s) => s,
            BlockState::Split(v) => &v[i],
        }
    }
    fn update(&mut self, first: usize, last: usize, f: &mut dyn FnMut(&mut SectorState)) {
        if first == 0 && last == 8 {
            if let BlockState::Uniform(s) = self {
                f(s);
                return;
            }
        }
        if let BlockState::Uniform(s) = self {
            let s = std::mem::take(s);
            *self = BlockState::Split(Box::new(std::array::from_fn(|_| s.clone())));
        }
        if let BlockState::Split(v) = self {
            for s in &mut v[first..last] {
                f(s);
            }
            if v.iter().all(|s| *s == v[0]) {
                *self = BlockState::Uniform(std::mem::take(&mut v[0]));
            }
        }
    }
}

/// A mismatch between a read and what could be there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data error: read of sector {sector} (bio {bio_id}) returned {got:?}; allowed: {allowed}")]
pub struct DataError {
    pub bio_id: u64,
    pub sector: u64,
    pub got: SectorContent,
    pub allowed: String,
}

/// The oracle of one volume.
#[derive(Debug)]
pub struct Oracle {
    initial_contents_known: bool,
    blocks: BlockTable<BlockState>,
    /// Writes in flight: write id → (sector, sectors).
    inflight: BTreeMap<u64, (u64, u64)>,
    /// Start marks of the reads in flight → how many reads started at that mark.
    reads_in_flight: BTreeMap<u64, u64>,
    completion_seq: u64,
    verified_sectors: u64,
    verified_reads: u64,
}

impl Oracle {
    /// `initial_contents_known`: the volume starts all zeros (true for simulated devices).
    pub fn new(initial_contents_known: bool) -> Self {
        Oracle {
            initial_contents_known,
            blocks: BlockTable::default(),
            inflight: BTreeMap::new(),
            reads_in_flight: BTreeMap::new(),
            completion_seq: 0,
            verified_sectors: 0,
            verified_reads: 0,
        }
    }

    /// Reads checked so far.
    pub fn verified_reads(&self) -> u64 {
        self.verified_reads
    }

    /// Sectors checked so far.
    pub fn verified_sectors(&self) -> u64 {
        self.verified_sectors
    }

    /// A read was submitted: returns its mark, to hand back to [`Oracle::read_done`] or
    /// [`Oracle::read_abandoned`] (exactly one of them). Until then the oracle keeps every
    /// version the read may legally return.
    pub fn read_started(&mut self) -> u64 {
        let mark = self.completion_seq;
        *self.reads_in_flight.entry(mark).or_default() += 1;
        mark
    }

    /// A read that started at `mark` ended without data to check (it failed).
    pub fn read_abandoned(&mut self, mark: u64) {
        self.read_ended(mark);
    }

    /// Reads in flight (started, not yet done or abandoned).
    pub fn reads_in_flight(&self) -> u64 {
        self.reads_in_flight.values().sum()
    }

    fn read_ended(&mut self, mark: u64) {
        let count = self
            .reads_in_flight
            .get_mut(&mark)
            .unwrap_or_else(|| panic!("a read with mark {mark} ended but was never started"));
        *count -= 1;
        if *count == 0 {
            self.reads_in_flight.remove(&mark);
        }
    }

    fn oldest_read_mark(&self) -> Option<u64> {
        self.reads_in_flight.keys().next().copied()
    }

    /// A write of `sectors` sectors at `sector` with id `write_id` was submitted.
    pub fn write_submitted(&mut self, write_id: u64, sector: u64, sectors: u64) {
        assert!(write_id > 0, "write ids start at 1");
        let old = self.inflight.insert(write_id, (sector, sectors));
        assert!(old.is_none(), "write id {write_id} submitted twice");
    }

    /// The write `write_id` completed; `ok` = its data is now on the volume.
    pub fn write_done(&mut self, write_id: u64, ok: bool) {
        let (sector, sectors) = self
            .inflight
            .remove(&write_id)
            .unwrap_or_else(|| panic!("write id {write_id} completed but was never submitted"));
        let id = if ok { write_id } else { UNKNOWN };
        self.push(sector, sectors, id);
    }

    /// The range's contents are unknown (a late write after a timeout, a discard, a crash of
    /// an unflushed cache); any content is accepted until the next successful write.
    pub fn contents_unknown(&mut self, sector: u64, sectors: u64) {
        self.push(sector, sectors, UNKNOWN);
    }

    /// Version `id` becomes current over the range.
    fn push(&mut self, sector: u64, sectors: u64, id: u64) {
        self.completion_seq += 1;
        let seq = self.completion_seq;
        let oldest = self.oldest_read_mark();
        self.update(sector, sectors, &mut |s| s.push(id, seq, oldest));
    }

    /// Check a completed read of `data` (one content per sector from `sector`) started at
    /// mark `started` (from [`Oracle::read_started`]).
    pub fn read_done(
        &mut self,
        bio_id: u64,
        started: u64,
        sector: u64,
        data: &[SectorContent],
    ) -> Result<(), DataError> {
        self.read_ended(started);
        self.verified_reads += 1;
        for (i, got) in data.iter().enumerate() {
            let s = sector + i as u64;
            self.verified_sectors += 1;
            let state = self.state(s).unwrap_or(&NEVER_WRITTEN);
            let matches = |id: u64| match (id, got) {
                (UNKNOWN, _) => true,
                (0, SectorContent::Zero) => true,
                (0, _) => !self.initial_contents_known,
                (
                    id,
                    SectorContent::Stamp(SectorStamp {
                        sector: at,
                        write_id,
                    }),
                ) => *at == s && *write_id == id,
                _ => false,
            };
            let in_flight = || match got {
                SectorContent::Stamp(SectorStamp {
                    sector: at,
                    write_id,
                }) => {
                    *at == s
                        && self
                            .inflight
                            .get(write_id)
                            .is_some_and(|&(ws, wn)| s >= ws && s < ws + wn)
                }
                _ => false,
            };
            if state.allowed(started).any(matches) || in_flight() {
                continue;
            }
            let allowed: Vec<String> = state
                .allowed(started)
                .map(|id| match id {
                    0 => "never written".to_string(),
                    id => format!("write {id}"),
                })
                .chain(
                    self.inflight
                        .iter()
                        .filter(|(_, &(ws, wn))| s >= ws && s < ws + wn)
                        .map(|(id, _)| format!("write {id} (in flight)")),
                )
                .collect();
            return Err(DataError {
                bio_id,
                sector: s,
                got: *got,
                allowed: allowed.join(", "),
            });
        }
        Ok(())
    }

    /// The write ids a sector may hold after every write in flight has ended: what a crash
    /// check compares against (`acked`, or anything if unknown).
    pub fn acknowledged(&self, sector: u64) -> Option<u64> {
        let id = self.state(sector).map_or(0, |s| s.current.id);
        (id != UNKNOWN).then_some(id)
    }

    fn state(&self, sector: u64) -> Option<&SectorState> {
        self.blocks
            .get(sector / SECTORS_PER_PAGE)
            .map(|b| b.get((sector % SECTORS_PER_PAGE) as usize))
    }

    fn update(&mut self, sector: u64, sectors: u64, f: &mut dyn FnMut(&mut SectorState)) {
        let blocks = &mut self.blocks;
        for_each_block(sector, sectors, &mut |block, first, last, _| {
            blocks
                .get_or_insert_with(block, || BlockState::Uniform(SectorState::default()))
                .update(first, last, f);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(sector: u64, n: u64, id: u64) -> Vec<SectorContent> {
        (0..n)
            .map(|i| {
                SectorContent::Stamp(SectorStamp {
                    sector: sector + i,
                    write_id: id,
                })
            })
            .collect()
    }

    #[test]
    fn reads_see_the_last_acknowledged_write() {
        let mut o = Oracle::new(true);
        let m = o.read_started();
        o.read_done(1, m, 0, &[SectorContent::Zero; 8]).unwrap();
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        let m = o.read_started();
        o.read_done(2, m, 0, &data(0, 8, 1)).unwrap();
        let m = o.read_started();
        let err = o.read_done(3, m, 0, &[SectorContent::Zero; 8]).unwrap_err();
        assert_eq!(err.sector, 0);
        assert_eq!(o.verified_reads(), 3);
    }

    #[test]
    fn stale_and_misdirected_data_are_caught() {
        let mut o = Oracle::new(true);
        o.write_submitted(1, 0, 16);
        o.write_done(1, true);
        o.write_submitted(2, 8, 8);
        o.write_done(2, true);
        let m = o.read_started();
        assert!(
            o.read_done(1, m, 8, &data(8, 8, 1)).is_err(),
            "stale: write 1 was overwritten by 2"
        );
        let m = o.read_started();
        assert!(
            o.read_done(1, m, 8, &data(0, 8, 2)).is_err(),
            "misdirected: data written for sector 0"
        );
        let m = o.read_started();
        o.read_done(1, m, 0, &[data(0, 8, 1), data(8, 8, 2)].concat())
            .unwrap();
    }

    #[test]
    fn a_read_racing_a_write_may_see_either_version() {
        let mut o = Oracle::new(true);
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        let marks = [o.read_started(), o.read_started(), o.read_started()];
        o.write_submitted(2, 0, 8);
        o.read_done(1, marks[0], 0, &data(0, 8, 2)).unwrap(); // in flight: allowed
        o.read_done(2, marks[1], 0, &data(0, 8, 1)).unwrap();
        o.write_done(2, true);
        o.read_done(3, marks[2], 0, &data(0, 8, 1)).unwrap(); // acked during the read: old still allowed
        let m2 = o.read_started();
        assert!(
            o.read_done(4, m2, 0, &data(0, 8, 1)).is_err(),
            "a read begun after the ack must see it"
        );
    }

    #[test]
    fn failed_writes_make_contents_unknown_until_the_next_good_write() {
        let mut o = Oracle::new(true);
        o.write_submitted(1, 0, 8);
        o.write_done(1, false);
        let m = o.read_started();
        o.read_done(1, m, 0, &[SectorContent::Foreign; 8]).unwrap();
        o.write_submitted(2, 0, 8);
        o.write_done(2, true);
        let m = o.read_started();
        assert!(o.read_done(2, m, 0, &[SectorContent::Foreign; 8]).is_err());
    }

    #[test]
    fn partial_block_writes_split_the_block_state() {
        let mut o = Oracle::new(true);
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        o.write_submitted(2, 3, 1);
        o.write_done(2, true);
        let mut want = data(0, 8, 1);
        want[3] = SectorContent::Stamp(SectorStamp {
            sector: 3,
            write_id: 2,
        });
        let m = o.read_started();
        o.read_done(1, m, 0, &want).unwrap();
        assert_eq!(o.acknowledged(3), Some(2));
        assert_eq!(o.acknowledged(4), Some(1));
    }

    #[test]
    fn a_read_spanning_two_acknowledged_writes_may_see_the_first_version() {
        let mut o = Oracle::new(true);
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        let marks = [o.read_started(), o.read_started(), o.read_started()];
        for id in 2..=3 {
            o.write_submitted(id, 0, 8);
            o.write_done(id, true);
        }
        o.read_done(1, marks[0], 0, &data(0, 8, 1)).unwrap();
        o.read_done(2, marks[1], 0, &data(0, 8, 2)).unwrap();
        o.read_done(3, marks[2], 0, &data(0, 8, 3)).unwrap();
        let later = o.read_started();
        assert!(o.read_done(4, later, 0, &data(0, 8, 1)).is_err());
    }

    #[test]
    fn unknown_content_stays_allowed_for_a_read_begun_before_the_next_write() {
        let mut o = Oracle::new(true);
        o.contents_unknown(0, 8);
        let m = o.read_started();
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        o.read_done(1, m, 0, &[SectorContent::Foreign; 8]).unwrap();
        let later = o.read_started();
        assert!(o
            .read_done(2, later, 0, &[SectorContent::Foreign; 8])
            .is_err());
    }

    #[test]
    fn unknown_initial_contents_accept_anything_never_written() {
        let mut o = Oracle::new(false);
        let m = o.read_started();
        o.read_done(1, m, 100, &[SectorContent::Foreign, SectorContent::Zero])
            .unwrap();
    }

    #[test]
    fn a_read_outliving_many_writes_may_return_the_version_it_started_with() {
        // Regression 001: the oracle kept four versions and refused this legal read.
        let mut o = Oracle::new(true);
        let slow = o.read_started();
        for id in 1..=20 {
            o.write_submitted(id, 0, 8);
            o.write_done(id, true);
        }
        o.read_done(1, slow, 0, &[SectorContent::Zero; 8]).unwrap();
        let m = o.read_started();
        assert!(
            o.read_done(2, m, 0, &[SectorContent::Zero; 8]).is_err(),
            "a read begun after the writes must see the last"
        );
    }

    #[test]
    fn history_is_pruned_to_what_reads_in_flight_may_return() {
        let mut o = Oracle::new(true);
        let first = o.read_started();
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        let second = o.read_started();
        for id in 2..=5 {
            o.write_submitted(id, 0, 8);
            o.write_done(id, true);
        }
        // The first read may see zeros and 1..=5; the second 1..=5 but not zeros.
        assert_eq!(o.state(0).unwrap().older.len(), 5);
        assert!(o
            .read_done(2, second, 0, &[SectorContent::Zero; 8])
            .is_err());
        o.read_done(1, first, 0, &data(0, 8, 3)).unwrap();
        assert_eq!(o.reads_in_flight(), 0);
        o.write_submitted(6, 0, 8);
        o.write_done(6, true);
        assert!(
            o.state(0).unwrap().older.is_empty(),
            "no read in flight: one version"
        );
        let m = o.read_started();
        assert!(o.read_done(3, m, 0, &data(0, 8, 5)).is_err());
    }

    #[test]
    fn an_abandoned_read_releases_its_history() {
        let mut o = Oracle::new(true);
        let m = o.read_started();
        o.write_submitted(1, 0, 8);
        o.write_done(1, true);
        assert_eq!(o.state(0).unwrap().older.len(), 1);
        o.read_abandoned(m);
        o.write_submitted(2, 0, 8);
        o.write_done(2, true);
        assert!(o.state(0).unwrap().older.is_empty());
    }
}
