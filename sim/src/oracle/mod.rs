//! The data oracle: checks that every read returns what was last written, or a newer write
//! still in flight (DESIGN.md, "Data"), and after a power loss exactly what may have survived.
//!
//! The oracle watches bios at the volume boundary: writes and flushes when they are submitted
//! and when they complete, reads when they start and when they complete. Workload data is
//! self-describing (each sector carries its volume sector and write id, [`SectorStamp`]), so
//! the oracle keeps per sector only the write ids that may legitimately be there.
//!
//! The acceptance rule (exact and one-sided: it never accepts a wrong read and never refuses
//! a legal one): a read that started at mark `m` and returned version `v` of a sector is legal
//! iff `v` is the sector's current version, or a version that was replaced after `m` (the read
//! overlapped the write that replaced it, so it may linearise before it), or a write still in
//! flight that covers the sector. "Unknown" is a version too: a write failed, or a late write
//! or discard left the range undefined; any content is accepted while it is allowed.
//!
//! Crashes ([`Oracle::crash`]): with [`Durability::OnAck`] every acknowledged write must
//! survive; with [`Durability::OnFlush`] (a volatile write cache somewhere in the stack) only
//! FUA writes and writes completed before a successful flush began must, and later ones may
//! or may not. Writes in flight may land or not, sector by sector (torn). So after a crash
//! each sector holds one of a set of versions; the first read that observes one fixes it, and
//! later reads must agree until the sector is written again.
//!
//! Faults that put garbage on a device (misdirected writes, silent corruption) leave poison
//! there ([`crate::poison`]): the landing range of a misdirected write, its intended range
//! (the write was lost there, so the old content is as wrong as garbage and must not pass
//! for the acknowledged write), and the corrupted sectors. They spare engine metadata (see
//! `device::faults`: corrupt metadata would make an engine serve valid data of the wrong
//! sector, indistinguishable from an engine bug), so all they bring to the volume is poison.
//! An oracle built
//! [`Oracle::accepting_poison`] (the run declared such faults) extends the rule by one case:
//! a poison sector is legal whatever the sector's versions, and is counted as corruption
//! delivered ([`Oracle::corrupt_sectors_delivered`]); it names no version, so it fixes none
//! after a crash. Everything else is judged as above, faults or not: stale or misplaced
//! content that is not poison is a data error (after a misdirected write, a read of the
//! intended range returning the old data is one — the device holds poison there, so the
//! engine served the old data from somewhere it should not have). Still one-sided: a legal
//! read is never refused; a wrong read passes only where it returns poison, which no engine
//! writes and no real device holds, and which an oracle not accepting poison (every run
//! without such faults, every real run) judges like any other content.
//!
//! A crash also leaves the set of 4 KiB blocks whose content became uncertain
//! ([`Oracle::crash_uncertain_blocks`]: a write was in flight over them, or an acknowledged
//! write there was not yet durable). A redundancy layer under the volume (md raid5) may
//! have torn its parity there; [`write_hole`] turns that into the sectors a member failure
//! makes unknown.
//!
//! History is kept exactly as long as it is needed (see `sector`): versions a read in flight
//! may return, and versions a crash may bring back. With no read in flight and every write
//! durable, a sector holds one version. A read racing any number of writes is judged exactly
//! (regression 001: a multi-block read outlived six writes into one of its blocks).
//!
//! A sector never written holds zeros on a fresh simulated device; on a real device that held
//! data before the run, [`Oracle::new`] with `initial_contents_known = false` accepts anything
//! there. State is kept per 4 KiB block (one entry when all 8 sectors agree), in a
//! [`BlockTable`], so memory follows the volume's written footprint, not the trace length.

mod sector;
pub mod write_hole;

use crate::block_table::{for_each_block, BlockTable};
use crate::id_deque::IdDeque;
use crate::poison::{is_poison, POISON_WRITE_ID};
use dmsim_engine::block::SECTORS_PER_PAGE;
use dmsim_engine::content::{SectorContent, SectorStamp};
use sector::{Ids, Retention, SectorState, UNKNOWN};
use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};

/// What a crash may lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every acknowledged write survives a power loss (no volatile cache in the stack, or
    /// the stack makes every write durable before it acknowledges it).
    #[default]
    OnAck,
    /// Only FUA writes and writes completed before a successful flush began survive for
    /// sure; other acknowledged writes may be lost (a volatile write cache, honoured flushes).
    OnFlush,
}

/// What the oracle knows about one 4 KiB block. A big trace's oracle holds one per block
/// ever written (issue 11 item 5), and nearly all of them are `Settled`: eight sectors of
/// one version with no history, inline in 24 bytes. Anything else is boxed.
#[derive(Debug, Clone)]
enum BlockState {
    /// Every sector holds `id` since `since`, no older version kept
    /// ([`SectorState::settled`]).
    Settled { id: u64, since: u64, durable: bool },
    /// Every sector holds this same state.
    Uniform(Box<SectorState>),
    /// Sector by sector.
    Split(Box<[SectorState; 8]>),
}

// The block table holds an `Option<BlockState>` per block of every 2 MiB chunk touched.
const _: () = assert!(std::mem::size_of::<Option<BlockState>>() <= 24);

impl BlockState {
    /// A block that was never written.
    const NEVER_WRITTEN: BlockState = BlockState::Settled {
        id: 0,
        since: 0,
        durable: true,
    };

    /// Sector `i`'s state (built on the stack for a settled block: no allocation).
    fn get(&self, i: usize) -> Cow<'_, SectorState> {
        match self {
            BlockState::Settled { id, since, durable } => {
                Cow::Owned(SectorState::settled(*id, *since, *durable))
            }
            BlockState::Uniform(s) => Cow::Borrowed(s),
            BlockState::Split(v) => Cow::Borrowed(&v[i]),
        }
    }

    fn has_history(&self) -> bool {
        match self {
            BlockState::Settled { .. } => false,
            BlockState::Uniform(s) => s.has_history(),
            BlockState::Split(v) => v.iter().any(SectorState::has_history),
        }
    }

    /// The state of every sector in a box, a spare one for a settled block (`self` is left
    /// never written).
    fn take_boxed(&mut self, spare: &mut SpareStates) -> Box<SectorState> {
        match std::mem::replace(self, BlockState::NEVER_WRITTEN) {
            BlockState::Settled { id, since, durable } => {
                let mut boxed = spare.pop().unwrap_or_default();
                boxed.reset_settled(id, since, durable);
                boxed
            }
            BlockState::Uniform(boxed) => boxed,
            BlockState::Split(_) => unreachable!("a split block has no one state"),
        }
    }

    /// The block whose every sector holds `state`, in its compact form: a settled state's
    /// box goes back to `spare`.
    fn from_boxed(state: Box<SectorState>, spare: &mut SpareStates) -> BlockState {
        match state.as_settled() {
            Some((id, since, durable)) => {
                give_back(spare, state);
                BlockState::Settled { id, since, durable }
            }
            None => BlockState::Uniform(state),
        }
    }

    /// Applies `f` to sectors `first..last`. Boxes come from and go back to `spare`, so a
    /// settled block changed and settled again allocates nothing (see
    /// `Oracle::spare_states`).
    fn update(
        &mut self,
        first: usize,
        last: usize,
        f: &mut dyn FnMut(&mut SectorState),
        spare: &mut SpareStates,
    ) {
        if !matches!(self, BlockState::Split(_)) {
            let mut state = self.take_boxed(spare);
            if first == 0 && last == 8 {
                f(&mut state);
                *self = BlockState::from_boxed(state, spare);
                return;
            }
            *self = BlockState::Split(Box::new(std::array::from_fn(|_| (*state).clone())));
            give_back(spare, state);
        }
        let BlockState::Split(v) = self else {
            unreachable!("made split above");
        };
        for s in &mut v[first..last] {
            f(s);
        }
        if v.iter().all(|s| *s == v[0]) {
            let mut boxed = spare.pop().unwrap_or_default();
            *boxed = std::mem::take(&mut v[0]);
            *self = BlockState::from_boxed(boxed, spare);
        }
    }
}

/// Keeps `boxed` for reuse, unless `spare` is full.
fn give_back(spare: &mut SpareStates, boxed: Box<SectorState>) {
    if spare.len() < SPARE_STATES_MAX {
        spare.push(boxed);
    }
}

/// Most boxes of sector states kept for reuse (see `Oracle::spare_states`).
const SPARE_STATES_MAX: usize = 4096;

/// Boxes on purpose: each moves into a `BlockState::Uniform` as it is, and back.
#[allow(clippy::vec_box)]
type SpareStates = Vec<Box<SectorState>>;

/// A mismatch between a read and what could be there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data error: read of sector {sector} (bio {bio_id}) returned {got:?}; allowed: {allowed}")]
pub struct DataError {
    pub bio_id: u64,
    pub sector: u64,
    pub got: SectorContent,
    pub allowed: String,
}

/// A write in flight.
#[derive(Debug, Clone, Copy)]
struct InflightWrite {
    sector: u64,
    sectors: u64,
    fua: bool,
}

/// The oracle of one volume.
#[derive(Debug)]
pub struct Oracle {
    initial_contents_known: bool,
    /// A poison sector is legal (the run has faults producing it).
    accept_poison: bool,
    durability: Durability,
    blocks: BlockTable<BlockState>,
    /// Writes in flight by write id (ids are stamped in increasing order).
    inflight: IdDeque<InflightWrite>,
    /// (start mark, reads in flight that started at it), sorted by mark, counts above 0.
    /// Marks never decrease, so a read starts at the back; a deque keeps its room where a
    /// B-tree allocated nodes as reads came and went (issue 11).
    reads_in_flight: VecDeque<(u64, u64)>,
    completion_seq: u64,
    /// With [`Durability::OnFlush`]: versions current since at most this are durable.
    durable_through: u64,
    crashes: u64,
    verified_sectors: u64,
    verified_reads: u64,
    corrupt_sectors_delivered: u64,
    corrupt_reads_delivered: u64,
    /// Blocks whose content the last crash left uncertain.
    crash_uncertain_blocks: BTreeSet<u64>,
    /// Blocks that kept history for reads in flight, with the completion sequence of the
    /// write that made them keep it (ascending): once no read that started before that
    /// write is in flight, the block's history is pruned. Without this a block never
    /// written again would hold versions no read can return for the rest of the run (the
    /// oracle's memory would follow the number of blocks ever overwritten, issue 11 item 5).
    history_to_prune: VecDeque<(u64, u64)>,
    /// Boxes of states freed when blocks settled, with their history's room, reused when a
    /// block needs one again: at QD32 nearly every overwrite keeps history for a while, and
    /// this keeps the oracle from allocating at each (issue 11 item 1). At most
    /// `SPARE_STATES_MAX`.
    spare_states: SpareStates,
}

impl Oracle {
    /// `initial_contents_known`: the volume starts all zeros (true for simulated devices).
    /// Every acknowledged write is taken as durable ([`Durability::OnAck`]).
    pub fn new(initial_contents_known: bool) -> Self {
        Oracle {
            initial_contents_known,
            accept_poison: false,
            durability: Durability::OnAck,
            blocks: BlockTable::default(),
            inflight: IdDeque::default(),
            reads_in_flight: VecDeque::new(),
            completion_seq: 0,
            durable_through: 0,
            crashes: 0,
            verified_sectors: 0,
            verified_reads: 0,
            corrupt_sectors_delivered: 0,
            corrupt_reads_delivered: 0,
            crash_uncertain_blocks: BTreeSet::new(),
            history_to_prune: VecDeque::new(),
            spare_states: Vec::new(),
        }
    }

    /// Accept poison as corruption delivered (see the module documentation): for runs whose
    /// simulated devices have faults producing it (misdirected writes, silent corruption).
    pub fn accepting_poison(mut self) -> Self {
        self.accept_poison = true;
        self
    }

    /// Poison sectors read (each legal, each the doing of a device fault).
    pub fn corrupt_sectors_delivered(&self) -> u64 {
        self.corrupt_sectors_delivered
    }

    /// Reads that returned at least one poison sector.
    pub fn corrupt_reads_delivered(&self) -> u64 {
        self.corrupt_reads_delivered
    }

    /// What a crash may lose (set before the first write).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        assert!(
            self.blocks.is_empty(),
            "durability is chosen before any write"
        );
        self.durability = durability;
        self
    }

    /// Reads checked so far.
    pub fn verified_reads(&self) -> u64 {
        self.verified_reads
    }

    /// Sectors checked so far.
    pub fn verified_sectors(&self) -> u64 {
        self.verified_sectors
    }

    /// Crashes the oracle went through.
    pub fn crashes(&self) -> u64 {
        self.crashes
    }

    /// A read was submitted: returns its mark, to hand back to [`Oracle::read_done`] or
    /// [`Oracle::read_abandoned`] (exactly one of them). Until then the oracle keeps every
    /// version the read may legally return.
    pub fn read_started(&mut self) -> u64 {
        let mark = self.completion_seq;
        match self.reads_in_flight.back_mut() {
            Some((last, count)) if *last == mark => *count += 1,
            _ => {
                debug_assert!(self.reads_in_flight.back().is_none_or(|&(m, _)| m < mark));
                self.reads_in_flight.push_back((mark, 1));
            }
        }
        mark
    }

    /// A read that started at `mark` ended without data to check (it failed).
    pub fn read_abandoned(&mut self, mark: u64) {
        self.read_ended(mark);
        self.prune_released_history();
    }

    /// Reads in flight (started, not yet done or abandoned).
    pub fn reads_in_flight(&self) -> u64 {
        self.reads_in_flight.iter().map(|&(_, count)| count).sum()
    }

    fn read_ended(&mut self, mark: u64) {
        let at = self
            .reads_in_flight
            .binary_search_by_key(&mark, |&(m, _)| m)
            .unwrap_or_else(|_| panic!("a read with mark {mark} ended but was never started"));
        let count = &mut self.reads_in_flight[at].1;
        *count -= 1;
        if *count == 0 {
            self.reads_in_flight.remove(at);
        }
    }

    /// Prunes the blocks whose history no read in flight needs any more (see
    /// `history_to_prune`). Called once a read has ended and been judged: not before, as
    /// the read itself may need the history.
    fn prune_released_history(&mut self) {
        let keep = self.retention();
        while let Some(&(block, seq)) = self.history_to_prune.front() {
            // A read started at mark m may return versions replaced after m (`allowed`).
            if keep.oldest_read_mark.is_some_and(|m| seq > m) {
                break;
            }
            self.history_to_prune.pop_front();
            if let Some(state) = self.blocks.get_mut(block) {
                state.update(
                    0,
                    SECTORS_PER_PAGE as usize,
                    &mut |s| s.prune(keep),
                    &mut self.spare_states,
                );
            }
        }
    }

    fn retention(&self) -> Retention {
        Retention {
            oldest_read_mark: self.reads_in_flight.front().map(|&(mark, _)| mark),
            durable_through: match self.durability {
                Durability::OnAck => None,
                Durability::OnFlush => Some(self.durable_through),
            },
        }
    }

    /// A write of `sectors` sectors at `sector` with id `write_id` was submitted; `fua`: it
    /// is durable when it completes.
    pub fn write_submitted(&mut self, write_id: u64, sector: u64, sectors: u64, fua: bool) {
        assert!(write_id > 0, "write ids start at 1");
        assert!(
            write_id != POISON_WRITE_ID && write_id != UNKNOWN,
            "write id {write_id} is reserved"
        );
        let write = InflightWrite {
            sector,
            sectors,
            fua,
        };
        let new = self.inflight.insert(write_id, write);
        assert!(new, "write id {write_id} submitted twice");
    }

    /// The write `write_id` completed; `ok` = its data is now on the volume.
    pub fn write_done(&mut self, write_id: u64, ok: bool) {
        let write = self
            .inflight
            .remove(write_id)
            .unwrap_or_else(|| panic!("write id {write_id} completed but was never submitted"));
        let id = if ok { write_id } else { UNKNOWN };
        self.push(write.sector, write.sectors, id, ok && write.fua);
    }

    /// A flush (or a bio's preflush) was submitted: returns its mark for
    /// [`Oracle::flush_done`].
    pub fn flush_started(&self) -> u64 {
        self.completion_seq
    }

    /// The flush that started at `mark` completed; `ok`: every write completed before it
    /// began is now durable.
    pub fn flush_done(&mut self, mark: u64, ok: bool) {
        assert!(
            mark <= self.completion_seq,
            "flush mark {mark} from the future"
        );
        if ok {
            self.durable_through = self.durable_through.max(mark);
        }
    }

    /// The range's contents are unknown (a late write after a timeout, a discard, a crash of
    /// an unflushed cache); any content is accepted until the next successful write.
    pub fn contents_unknown(&mut self, sector: u64, sectors: u64) {
        self.push(sector, sectors, UNKNOWN, false);
    }

    /// Version `id` becomes current over the range.
    fn push(&mut self, sector: u64, sectors: u64, id: u64, durable: bool) {
        self.completion_seq += 1;
        let seq = self.completion_seq;
        let keep = self.retention();
        self.update(sector, sectors, &mut |s| {
            s.push(Ids::One(id), seq, durable, keep)
        });
        if keep.oldest_read_mark.is_some() {
            let (blocks, queue) = (&self.blocks, &mut self.history_to_prune);
            for_each_block(sector, sectors, &mut |block, _, _, _| {
                if blocks.get(block).is_some_and(BlockState::has_history) {
                    queue.push_back((block, seq));
                }
            });
        }
    }

    /// Power loss of the whole stack: reads in flight are lost; every sector now holds one of
    /// the versions that may have survived ([`Durability`]) or a write that was in flight
    /// over it. What is on the media afterwards is durable.
    pub fn crash(&mut self) {
        self.reads_in_flight.clear();
        // Recovery below leaves every sector without history.
        self.history_to_prune.clear();
        self.completion_seq += 1;
        let seq = self.completion_seq;
        let keep = self.retention();
        let mut uncertain = BTreeSet::new();
        let spare = &mut self.spare_states;
        self.blocks.for_each_mut(&mut |index, block| {
            let whole = SECTORS_PER_PAGE as usize;
            block.update(
                0,
                whole,
                &mut |s| {
                    // A current version not yet durable: a write since the last flush, lost
                    // or not, failed or not, whose device writes the crash may have torn.
                    // Even one that leaves the content as unknown as before counts: a raid5
                    // stripe it wrote may have kept its data and lost its parity
                    // (regression 018).
                    if !s.current_is_durable(keep) {
                        uncertain.insert(index);
                    }
                    let ids = Ids::from_set(s.crash_candidates(keep));
                    s.recovered(ids, seq);
                },
                spare,
            )
        });
        for (_, write) in self.inflight.iter() {
            let first = write.sector / SECTORS_PER_PAGE;
            uncertain.extend(first..(write.sector + write.sectors).div_ceil(SECTORS_PER_PAGE));
        }
        self.crash_uncertain_blocks = uncertain;
        for (write_id, write) in std::mem::take(&mut self.inflight) {
            self.update(write.sector, write.sectors, &mut |s| {
                let mut ids: Vec<u64> = s.current.ids.iter().collect();
                ids.push(write_id);
                s.recovered(Ids::from_set(ids), seq);
            });
        }
        self.durable_through = seq;
        self.crashes += 1;
    }

    /// The 4 KiB blocks whose content the last crash left uncertain: a write was in flight
    /// over them, or a write there ended (acknowledged or failed) but was not yet durable.
    /// Empty before any crash.
    pub fn crash_uncertain_blocks(&self) -> &BTreeSet<u64> {
        &self.crash_uncertain_blocks
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
        let mut observed = Vec::new();
        let mut corrupt_sectors = 0;
        for (i, got) in data.iter().enumerate() {
            let s = sector + i as u64;
            self.verified_sectors += 1;
            if self.accept_poison && is_poison(got) {
                corrupt_sectors += 1;
                continue;
            }
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
                            .get(*write_id)
                            .is_some_and(|w| s >= w.sector && s < w.sector + w.sectors)
                }
                _ => false,
            };
            // A settled block (or one never written) allows its one id and nothing older,
            // and a read of it narrows nothing: judged without building its state.
            let settled_id = match self.blocks.get(s / SECTORS_PER_PAGE) {
                None => Some(0),
                Some(BlockState::Settled { id, .. }) => Some(*id),
                Some(_) => None,
            };
            if settled_id.is_some_and(|id| matches(id) || in_flight()) {
                continue;
            }
            let state = self
                .state(s)
                .unwrap_or(Cow::Owned(SectorState::NEVER_WRITTEN));
            if state.allowed(started).any(matches) || in_flight() {
                // Only a set (after a crash) is narrowed by a read; updating any other state
                // split and re-merged its block per sector, and gave every block read but
                // never written an entry (issue 11 items 5 and 6: 28 % of a real run's time).
                if started >= state.current.since && matches!(state.current.ids, Ids::AnyOf(_)) {
                    if let Some(id) = content_id(got) {
                        observed.push((s, id));
                    }
                }
                continue;
            }
            let allowed: Vec<String> = state
                .allowed(started)
                .map(|id| match id {
                    0 => "never written".to_string(),
                    UNKNOWN => "unknown".to_string(),
                    id => format!("write {id}"),
                })
                .chain(
                    self.inflight
                        .iter()
                        .filter(|(_, w)| s >= w.sector && s < w.sector + w.sectors)
                        .map(|(id, _)| format!("write {id} (in flight)")),
                )
                .collect();
            let mut allowed = allowed.join(", ");
            if is_poison(got) {
                allowed.push_str(" (it read poison, and no fault of this run produces it)");
            }
            return Err(DataError {
                bio_id,
                sector: s,
                got: *got,
                allowed,
            });
        }
        for (s, id) in observed {
            self.update(s, 1, &mut |state| state.observe(id));
        }
        self.prune_released_history();
        if corrupt_sectors > 0 {
            self.corrupt_sectors_delivered += corrupt_sectors;
            self.corrupt_reads_delivered += 1;
        }
        Ok(())
    }

    /// The write id a sector holds for sure once every write in flight has ended: `None`
    /// if its content is unknown or (after a crash, before a read) one of several.
    pub fn acknowledged(&self, sector: u64) -> Option<u64> {
        let Some(state) = self.state(sector) else {
            return Some(0);
        };
        match state.current.ids {
            Ids::One(id) if id != UNKNOWN => Some(id),
            _ => None,
        }
    }

    fn state(&self, sector: u64) -> Option<Cow<'_, SectorState>> {
        self.blocks
            .get(sector / SECTORS_PER_PAGE)
            .map(|b| b.get((sector % SECTORS_PER_PAGE) as usize))
    }

    fn update(&mut self, sector: u64, sectors: u64, f: &mut dyn FnMut(&mut SectorState)) {
        let (blocks, spare) = (&mut self.blocks, &mut self.spare_states);
        for_each_block(sector, sectors, &mut |block, first, last, _| {
            blocks
                .get_or_insert_with(block, || BlockState::NEVER_WRITTEN)
                .update(first, last, f, spare);
        });
    }
}

/// The version id a read's content names, if it names one (zeros: never written; poison
/// names none).
fn content_id(content: &SectorContent) -> Option<u64> {
    match content {
        _ if is_poison(content) => None,
        SectorContent::Zero => Some(0),
        SectorContent::Stamp(stamp) => Some(stamp.write_id),
        SectorContent::Foreign => None,
    }
}

#[cfg(test)]
mod tests;
