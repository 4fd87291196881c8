//! dm core: the life of a bio in the engine — admission, splitting at the target's
//! boundaries, and completion when every piece has completed, with the worst status.
//!
//! A bio is admitted when the arena can hold its data (otherwise it waits, in arrival order:
//! bios never fail for lack of memory); its write data is copied into arena pages then. A
//! REQ_PREFLUSH bio with data is sent as an empty flush first and its data after that flush
//! succeeded, as Linux's dm does. Pieces never cross a multiple of the target's
//! `max_io_len` (`dm_set_target_max_io_len`). When the last piece completes, read data is
//! copied out into the [`BioDone`] and the pages are released.
//!
//! Deliberately not here: what a piece means on the devices (the target's business).

use crate::arena::{copy_pages, Buffer, PageList};
use crate::block::{split_at_boundaries, BoundaryPieces, IoStatus, Op, SECTORS_PER_PAGE};
use crate::bounded::LoopBound;
use crate::content::SectorContent;
use crate::error::{BioRejection, InputError, WaitingJob};
use crate::id_table::IdTable;
use crate::io::{Bio, BioDone, BioFlags, BioId, Output, SectorData};
use crate::services::Services;
use crate::slab::{Slab, SlabKey};
use crate::target::{BioKey, Target, TargetIo};

mod check;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BioStage {
    /// The empty flush of a PREFLUSH bio runs; the data follows.
    PreFlush,
    /// The bio's own pieces run.
    Pieces,
}

#[derive(Debug, Clone)]
struct BioRecord {
    id: BioId,
    op: Op,
    sector: u64,
    sectors: u64,
    flags: BioFlags,
    pages: PageList,
    stage: BioStage,
    /// Pieces not yet done, plus one while pieces are being dispatched.
    pending: u32,
    status: IoStatus,
    arrived_ns: u64,
}

/// Rounds of [`DmCore::drain_finished`] (a finished piece can finish more only through a
/// PREFLUSH bio's data pieces; see [`crate::bounded`]).
const DRAIN_ROUNDS_MAX: u64 = 1 << 20;

/// Counters of dm core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmCoreStats {
    pub bios: u64,
    pub bios_waited_for_memory: u64,
    pub pieces: u64,
    pub bios_failed: u64,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct DmCore {
    bios: Slab<BioRecord>,
    ids: IdTable<SlabKey>,
    /// Bios waiting for arena pages, in arrival order.
    admission: VecDeque<(Bio, u64)>,
    /// Pieces the target finished, to be accounted.
    pub finished: Vec<(BioKey, IoStatus)>,
    /// The batch of `finished` being accounted, kept between calls for its capacity.
    finished_batch: Vec<(BioKey, IoStatus)>,
    pub stats: DmCoreStats,
    /// What the incremental invariant check carries between calls.
    incremental_check: check::IncrementalCheck,
}

impl DmCore {
    fn pages_for(bio: &Bio) -> usize {
        match bio.op {
            Op::Read | Op::Write => u64::from(bio.sectors).div_ceil(SECTORS_PER_PAGE) as usize,
            Op::Flush | Op::Discard => 0,
        }
    }

    fn validate(
        &self,
        bio: &Bio,
        target: &Target,
        services: &Services,
    ) -> Result<(), BioRejection> {
        if self.ids.contains(bio.id.0) || self.admission.iter().any(|(b, _)| b.id == bio.id) {
            return Err(BioRejection::DuplicateId);
        }
        let expected = if bio.op == Op::Write {
            bio.sectors as usize
        } else {
            0
        };
        if bio.data.len() != expected {
            return Err(BioRejection::DataLength {
                op: bio.op,
                data: bio.data.len(),
                expected,
            });
        }
        if bio.op == Op::Flush {
            return Ok(()); // the address of a flush is ignored
        }
        if bio.sectors == 0 {
            return Err(BioRejection::Empty { op: bio.op });
        }
        let volume_sectors = target.volume_sectors();
        if bio
            .sector
            .checked_add(u64::from(bio.sectors))
            .is_none_or(|end| end > volume_sectors)
        {
            return Err(BioRejection::OutOfRange {
                sector: bio.sector,
                sectors: bio.sectors,
                volume_sectors,
            });
        }
        let block_sectors = target.block_sectors();
        if !bio.sector.is_multiple_of(block_sectors)
            || !u64::from(bio.sectors).is_multiple_of(block_sectors)
        {
            return Err(BioRejection::Misaligned {
                sector: bio.sector,
                sectors: bio.sectors,
                block_sectors,
            });
        }
        let pages = Self::pages_for(bio);
        // The zero page is never available to bios.
        let arena_pages = services.arena().page_count().saturating_sub(1);
        if pages > arena_pages {
            return Err(BioRejection::LargerThanArena { pages, arena_pages });
        }
        Ok(())
    }

    /// A bio arrives: refused (nothing started), admitted, or queued for memory.
    pub fn submit(
        &mut self,
        bio: Bio,
        target: &mut Target,
        services: &mut Services,
    ) -> Result<(), InputError> {
        self.validate(&bio, target, services)
            .map_err(|reason| InputError::BadBio { id: bio.id, reason })?;
        self.stats.bios += 1;
        let now_ns = services.now_ns();
        if self.admission.is_empty() && services.arena().free_pages() >= Self::pages_for(&bio) {
            self.admit(bio, now_ns, target, services);
        } else {
            self.stats.bios_waited_for_memory += 1;
            self.admission.push_back((bio, now_ns));
        }
        Ok(())
    }

    /// Admits waiting bios while memory allows, in order.
    pub fn admit_waiting(&mut self, target: &mut Target, services: &mut Services) -> bool {
        let mut progress = false;
        while let Some((bio, _)) = self.admission.front() {
            if services.arena().free_pages() < Self::pages_for(bio) {
                break;
            }
            let (bio, arrived_ns) = self.admission.pop_front().expect("front exists");
            self.admit(bio, arrived_ns, target, services);
            progress = true;
        }
        progress
    }

    fn admit(&mut self, bio: Bio, arrived_ns: u64, target: &mut Target, services: &mut Services) {
        let pages = services
            .arena_mut()
            .alloc(Self::pages_for(&bio))
            .expect("admission checked free pages");
        let pages = if bio.op == Op::Write {
            let buffer = Buffer::from_pages(pages);
            services.arena_mut().write_sectors(&buffer, &bio.data);
            buffer.pages
        } else {
            pages
        };
        let record = BioRecord {
            id: bio.id,
            op: bio.op,
            sector: bio.sector,
            sectors: u64::from(bio.sectors),
            flags: bio.flags,
            pages,
            stage: BioStage::Pieces,
            pending: 0,
            status: IoStatus::Ok,
            arrived_ns,
        };
        let key = self.bios.insert(record);
        // The check after each input looks at changed slots: a record whose id entry
        // changes is one.
        if let Some(replaced) = self.ids.insert(bio.id.0, key) {
            self.bios.touch(replaced);
        }
        if bio.flags.preflush && bio.op != Op::Flush {
            self.bios.get_mut(key).expect("live").stage = BioStage::PreFlush;
            self.dispatch_flush(key, target, services);
        } else {
            self.dispatch_pieces(key, target, services);
        }
    }

    fn dispatch_flush(&mut self, key: SlabKey, target: &mut Target, services: &mut Services) {
        let record = self.bios.get_mut(key).expect("live bio");
        record.pending = 2; // the flush piece and the dispatch reference
        let io = TargetIo {
            bio: BioKey(key),
            op: Op::Flush,
            sector: 0,
            sectors: 0,
            fua: false,
            sync: record.flags.sync,
            buffer: Buffer::empty(),
        };
        self.stats.pieces += 1;
        target.map(io, services, &mut self.finished);
        self.piece_done(BioKey(key), IoStatus::Ok, target, services);
    }

    fn dispatch_pieces(&mut self, key: SlabKey, target: &mut Target, services: &mut Services) {
        let record = self.bios.get_mut(key).expect("live bio");
        record.stage = BioStage::Pieces;
        record.pending = 1; // the dispatch reference
        let buffer = Buffer::from_pages(copy_pages(&record.pages));
        let pieces = if record.op == Op::Flush {
            mark!(FlushBio);
            BoundaryPieces::from_slice(&[(0, 0)])
        } else {
            split_at_boundaries(record.sector, record.sectors, target.max_io_len())
        };
        if pieces.len() > 1 {
            mark!(BioSplitAtBoundary);
        }
        record.pending += pieces.len() as u32;
        let (op, flags, first_sector) = (record.op, record.flags, record.sector);
        for (skip, len) in pieces {
            let piece_buffer = match op {
                Op::Read | Op::Write => buffer.slice(skip, len),
                Op::Flush | Op::Discard => Buffer::empty(),
            };
            let io = TargetIo {
                bio: BioKey(key),
                op,
                sector: if op == Op::Flush {
                    0
                } else {
                    first_sector + skip
                },
                sectors: len,
                fua: flags.fua && op == Op::Write,
                sync: flags.sync,
                buffer: piece_buffer,
            };
            self.stats.pieces += 1;
            target.map(io, services, &mut self.finished);
        }
        self.piece_done(BioKey(key), IoStatus::Ok, target, services);
    }

    /// Accounts pieces the target reported finished; true if any was.
    pub fn drain_finished(&mut self, target: &mut Target, services: &mut Services) -> bool {
        let mut progress = false;
        let mut bound = LoopBound::new("DmCore::drain_finished", DRAIN_ROUNDS_MAX);
        while !self.finished.is_empty() {
            bound.round();
            progress = true;
            // Accounting a piece may finish more (a PREFLUSH bio's data): they collect in
            // `finished` while this batch is worked off. Swapping the two lists reuses
            // their capacity instead of allocating a list per call.
            let mut batch = std::mem::take(&mut self.finished_batch);
            debug_assert!(batch.is_empty());
            std::mem::swap(&mut batch, &mut self.finished);
            for (bio, status) in batch.drain(..) {
                self.piece_done(bio, status, target, services);
            }
            self.finished_batch = batch;
        }
        progress
    }

    /// One piece (or the dispatch reference) of a bio is done.
    fn piece_done(
        &mut self,
        bio: BioKey,
        status: IoStatus,
        target: &mut Target,
        services: &mut Services,
    ) {
        let record = self
            .bios
            .get_mut(bio.0)
            .expect("a piece finished for a bio that is not live");
        record.status = record.status.worst(status);
        assert!(record.pending > 0, "bio piece count underflow");
        record.pending -= 1;
        if record.pending > 0 {
            return;
        }
        if record.stage == BioStage::PreFlush && record.status.is_ok() {
            self.dispatch_pieces(bio.0, target, services);
            return;
        }
        self.finish(bio.0, services);
    }

    fn finish(&mut self, key: SlabKey, services: &mut Services) {
        let mut record = self.bios.remove(key).expect("live bio");
        if let Some(named) = self.ids.remove(record.id.0) {
            self.bios.touch(named);
        }
        let mut data = SectorData::new();
        if record.op == Op::Read {
            data.reserve(record.sectors as usize);
            let buffer = Buffer::from_pages(std::mem::take(&mut record.pages));
            let arena = services.arena();
            for (page, index) in buffer.sector_slots(record.sectors) {
                // A piece given up on (zombie IO) still has its sectors in flight: it reads
                // as zeroes, like a failed piece (which its target zero-filled).
                let content = if arena.is_sector_in_flight(page, index) {
                    SectorContent::Zero
                } else {
                    arena.sector(page, index)
                };
                data.push(content);
            }
            record.pages = buffer.pages;
        }
        services.arena_mut().release_all(&record.pages);
        if !record.status.is_ok() {
            // One test for the mark and the counter: the explorer's counter oracle checks
            // the counter, so a wrong test cannot hide behind the mark.
            mark!(BioFailedToCaller);
            self.stats.bios_failed += 1;
        }
        services.push_output(Output::BioDone(BioDone {
            id: record.id,
            status: record.status,
            data,
        }));
    }

    /// No bio in the engine or waiting for it.
    pub fn is_idle(&self) -> bool {
        self.bios.is_empty() && self.admission.is_empty() && self.finished.is_empty()
    }

    pub fn waiting_report(&self, services: &Services, out: &mut Vec<WaitingJob>) {
        for (bio, arrived_ns) in &self.admission {
            out.push(WaitingJob {
                component: "bio",
                description: format!(
                    "bio {:?} ({:?} {}+{}, arrived {} ns) waits for {} arena pages ({} free)",
                    bio.id,
                    bio.op,
                    bio.sector,
                    bio.sectors,
                    arrived_ns,
                    Self::pages_for(bio),
                    services.arena().free_pages()
                ),
            });
        }
        for (_, record) in self.bios.iter() {
            out.push(WaitingJob {
                component: "bio",
                description: format!(
                    "bio {:?} ({:?} {}+{}, arrived {} ns) waits for {} piece(s)",
                    record.id,
                    record.op,
                    record.sector,
                    record.sectors,
                    record.arrived_ns,
                    record.pending
                ),
            });
        }
    }
}
