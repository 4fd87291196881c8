//! Flash translation layer state: the page-level map (logical unit → physical slot and back),
//! per-block valid counts, per-plane free lists and open blocks, and host page allocation.
//! Garbage collection lives in `gc.rs` on the same struct.
//!
//! The FTL changes state at the moment a request is accepted, in acceptance order, and emits
//! the flash operations that state change implies (`OpSpec`s: GC copies, erases) for the
//! timing layer to schedule. It never looks at time.
//!
//! Choices (documented in the crate's SSD docs):
//! - Mapping unit = `ftl.map_unit_bytes` (4 KiB): a flash page holds several units ("slots").
//!   A page is programmed once; slots a write cannot fill are padding (left erased, counted
//!   as programmed space, reclaimed by GC like invalid data).
//! - Allocation is dynamic and page-striped: each newly allocated page goes to the next plane
//!   in channel-first (CWDP) order, skipping planes that cannot take a page.
//! - GC is per plane, greedy, paced by host writes (see `gc.rs`).

use super::geometry::Geometry;
use super::ops::OpSpec;
use super::params::{gc_threshold_blocks, Allocation, SsdParams};
use super::table::{Bitmap, LazyTable, LOGICAL_CHUNK_LEN, NONE};
use std::collections::VecDeque;

/// Life cycle of an erase block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockState {
    Free,
    UserOpen,
    GcOpen,
    Full,
    Victim,
}

/// Allocation and GC state of one plane.
#[derive(Debug, Clone)]
pub(crate) struct PlaneFtl {
    /// Erased blocks, oldest first.
    pub free: VecDeque<u32>,
    /// Block taking host pages, or NONE.
    pub user_block: u32,
    /// Block taking GC pages, or NONE.
    pub gc_block: u32,
    /// GC page being filled in controller memory, or NONE.
    pub gc_page: u32,
    pub gc_page_fill: u32,
    /// Block being collected, or NONE.
    pub victim: u32,
    pub victim_next_page: u32,
    /// Valid units of the victim when chosen (the pacing numerator).
    pub victim_valid_at_start: u32,
    /// Units the victim gives back (the pacing denominator).
    pub victim_gain: u32,
    /// GC work owed to host writes, in units × gain.
    pub debt: i64,
}

/// Counters the FTL keeps about its own work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FtlCounters {
    /// Host units placed into flash slots.
    pub host_units_placed: u64,
    /// Slots of host pages programmed without data (pages a write could not fill).
    pub host_padding_slots: u64,
    /// Units moved by GC.
    pub gc_units_moved: u64,
    /// Victims collected.
    pub gc_victims: u64,
    /// Blocks erased.
    pub erases: u64,
    /// Units unmapped by discard.
    pub units_trimmed: u64,
}

/// The FTL of one drive.
pub(crate) struct Ftl {
    pub geo: Geometry,
    l2p: LazyTable,
    pub(super) p2l: LazyTable,
    pub(super) valid: Vec<u16>,
    pub(super) written_pages: Vec<u16>,
    pub(super) state: Vec<BlockState>,
    pub(super) planes: Vec<PlaneFtl>,
    /// Pages whose data is only in controller memory (open or being programmed).
    in_dram: Bitmap,
    stripe_cursor: u32,
    /// Host pages go to the plane of their logical page (`Allocation::Static`).
    static_allocation: bool,
    /// Sectors written in units that are only partly written (bit per sector); NONE for a
    /// fully written unit. Tracked only for units of at most 32 sectors.
    written_sectors: LazyTable,
    pub(super) gc_threshold_blocks: u32,
    pub(super) copyback: bool,
    pub counters: FtlCounters,
}

impl Ftl {
    pub fn new(geo: Geometry, params: &SsdParams) -> Ftl {
        let planes = (0..geo.planes)
            .map(|p| PlaneFtl {
                free: (p * geo.blocks_per_plane..(p + 1) * geo.blocks_per_plane).collect(),
                user_block: NONE,
                gc_block: NONE,
                gc_page: NONE,
                gc_page_fill: 0,
                victim: NONE,
                victim_next_page: 0,
                victim_valid_at_start: 0,
                victim_gain: 0,
                debt: 0,
            })
            .collect();
        Ftl {
            geo,
            l2p: LazyTable::new(geo.logical_units, LOGICAL_CHUNK_LEN),
            p2l: LazyTable::new(geo.slots, geo.slots_per_block),
            valid: vec![0; geo.blocks as usize],
            written_pages: vec![0; geo.blocks as usize],
            state: vec![BlockState::Free; geo.blocks as usize],
            planes,
            in_dram: Bitmap::new(geo.pages),
            stripe_cursor: 0,
            static_allocation: params.ftl.allocation == Allocation::Static,
            written_sectors: LazyTable::new(geo.logical_units, LOGICAL_CHUNK_LEN),
            gc_threshold_blocks: gc_threshold_blocks(
                params.geometry.blocks_per_plane,
                params.ftl.gc_threshold,
            ),
            copyback: params.ftl.gc_copyback,
            counters: FtlCounters::default(),
        }
    }

    /// Physical slot of `unit`, if it holds data.
    pub fn lookup(&self, unit: u32) -> Option<u32> {
        match self.l2p.get(unit) {
            NONE => None,
            slot => Some(slot),
        }
    }

    /// True while the page's data lives only in controller memory (being filled or
    /// programmed); reads of it are served from DRAM.
    pub fn page_in_dram(&self, page: u32) -> bool {
        self.in_dram.get(page)
    }

    /// The page's program finished: its data now comes from flash.
    pub fn page_programmed(&mut self, page: u32) {
        self.in_dram.set(page, false);
    }

    pub(super) fn set_page_in_dram(&mut self, page: u32) {
        self.in_dram.set(page, true);
    }

    /// Allocate a host page for units of logical page `group` (`unit / slots_per_page`):
    /// on the group's own plane under static allocation, else on the next plane of the
    /// stripe (also the fallback when the group's plane has no space left). The plane's GC
    /// debt is paid first (GC ops go to `ops`, ahead of the page's own program on that die).
    /// The page is marked as living in controller memory until `page_programmed`.
    pub fn alloc_host_page(&mut self, group: u32, ops: &mut Vec<OpSpec>) -> u32 {
        if self.static_allocation {
            let plane = self.geo.stripe_plane(group % self.geo.planes);
            if let Some(page) = self.take_user_page(plane, ops) {
                self.pay_gc_debt(plane, ops);
                self.in_dram.set(page, true);
                return page;
            }
        }
        for _ in 0..self.geo.planes {
            let plane = self.geo.stripe_plane(self.stripe_cursor);
            self.stripe_cursor = (self.stripe_cursor + 1) % self.geo.planes;
            if let Some(page) = self.take_user_page(plane, ops) {
                self.pay_gc_debt(plane, ops);
                self.in_dram.set(page, true);
                return page;
            }
        }
        panic!("no plane can take a page although validation guaranteed spare space");
    }

    /// Close every plane's open host block, leaving its unwritten pages as padding, so the
    /// next host page of each plane starts a fresh block. Untimed (preconditioning).
    pub fn close_user_blocks(&mut self) {
        for plane in 0..self.geo.planes {
            let block = self.planes[plane as usize].user_block;
            while block != NONE && self.planes[plane as usize].user_block == block {
                self.next_page_in(plane, block);
                self.note_host_padding(self.geo.slots_per_page);
            }
        }
    }

    /// Whether host pages follow their logical page to a fixed plane.
    pub fn static_allocation(&self) -> bool {
        self.static_allocation
    }

    fn take_user_page(&mut self, plane: u32, ops: &mut Vec<OpSpec>) -> Option<u32> {
        let user = self.planes[plane as usize].user_block;
        if user != NONE {
            return Some(self.next_page_in(plane, user));
        }
        // Host allocation never takes the last free block: GC needs it to make progress.
        while self.planes[plane as usize].free.len() < 2 {
            if !self.collect_whole_victim(plane, ops) {
                return None;
            }
        }
        let block = self.planes[plane as usize]
            .free
            .pop_front()
            .expect("two free blocks checked above");
        debug_assert_eq!(self.state[block as usize], BlockState::Free);
        self.state[block as usize] = BlockState::UserOpen;
        self.planes[plane as usize].user_block = block;
        self.maybe_start_gc(plane, ops);
        Some(self.next_page_in(plane, block))
    }

    /// Next unwritten page of an open block; closes the block when it is the last.
    pub(super) fn next_page_in(&mut self, plane: u32, block: u32) -> u32 {
        let written = &mut self.written_pages[block as usize];
        assert!(
            u32::from(*written) < self.geo.pages_per_block,
            "open block {block} has no free page"
        );
        let page = block * self.geo.pages_per_block + u32::from(*written);
        *written += 1;
        if u32::from(*written) == self.geo.pages_per_block {
            let pl = &mut self.planes[plane as usize];
            match self.state[block as usize] {
                BlockState::UserOpen => pl.user_block = NONE,
                BlockState::GcOpen => pl.gc_block = NONE,
                other => panic!("page taken from block {block} in state {other:?}"),
            }
            self.state[block as usize] = BlockState::Full;
        }
        page
    }

    /// Map `unit` to `slot` (a slot of a freshly allocated page), invalidating its old slot.
    /// `sectors` are the unit's sectors the write carries (bit per sector, `full_mask` for
    /// all); the unit then holds them plus whatever it held before.
    pub fn place(&mut self, unit: u32, slot: u32, sectors: u32) {
        debug_assert_eq!(self.p2l.get(slot), NONE, "slot {slot} written twice");
        let held = if self.l2p.get(unit) == NONE {
            sectors
        } else {
            sectors | self.written_sectors(unit)
        };
        self.set_written_sectors(unit, held);
        self.unmap(unit);
        self.l2p.set(unit, slot);
        self.p2l.set(slot, unit);
        self.valid[self.geo.block_of_slot(slot) as usize] += 1;
        self.counters.host_units_placed += 1;
    }

    /// Move a valid unit to a new slot (GC).
    pub(super) fn relocate(&mut self, unit: u32, new_slot: u32) {
        self.unmap(unit);
        self.l2p.set(unit, new_slot);
        self.p2l.set(new_slot, unit);
        self.valid[self.geo.block_of_slot(new_slot) as usize] += 1;
    }

    /// Unit stored in `slot`, if the slot holds valid data.
    pub(super) fn unit_in_slot(&self, slot: u32) -> Option<u32> {
        match self.p2l.get(slot) {
            NONE => None,
            unit => Some(unit),
        }
    }

    fn unmap(&mut self, unit: u32) {
        let old = self.l2p.get(unit);
        if old != NONE {
            self.p2l.set(old, NONE);
            let block = self.geo.block_of_slot(old) as usize;
            assert!(
                self.valid[block] > 0,
                "valid count of block {block} underflows"
            );
            self.valid[block] -= 1;
            self.l2p.set(unit, NONE);
            if self.valid[block] == 0 && self.state[block] == BlockState::Full {
                // Every slot of a full block with no valid unit reads NONE: its reverse-map
                // chunk is freed until the block is erased and written again.
                self.p2l.release_chunk(block as u32);
            }
        }
    }

    /// Discard: the unit no longer holds data.
    pub fn trim(&mut self, unit: u32) {
        if self.l2p.get(unit) != NONE {
            self.unmap(unit);
            self.written_sectors.set(unit, NONE);
            self.counters.units_trimmed += 1;
        }
    }

    /// Bit mask of every sector of a unit (all ones past 32 sectors, where sectors are not
    /// tracked).
    pub fn full_mask(&self) -> u32 {
        if self.geo.unit_sectors >= 32 {
            u32::MAX
        } else {
            (1u32 << self.geo.unit_sectors) - 1
        }
    }

    /// Sectors of `unit` that hold written data (meaningful only while it is mapped).
    pub fn written_sectors(&self, unit: u32) -> u32 {
        match self.written_sectors.get(unit) {
            NONE => self.full_mask(),
            mask => mask,
        }
    }

    /// Record which sectors of `unit` hold data; a full unit (or one too large to track)
    /// takes no memory.
    pub fn set_written_sectors(&mut self, unit: u32, sectors: u32) {
        let full = self.full_mask();
        let mask = sectors & full;
        assert!(mask != 0, "unit {unit} written with no sector");
        let stored = if mask == full || self.geo.unit_sectors > 32 {
            NONE
        } else {
            mask
        };
        self.written_sectors.set(unit, stored);
    }

    pub fn note_host_padding(&mut self, slots: u32) {
        self.counters.host_padding_slots += u64::from(slots);
    }

    /// Heap bytes of the mapping tables and per-block state.
    pub fn heap_bytes(&self) -> u64 {
        self.l2p.heap_bytes()
            + self.p2l.heap_bytes()
            + self.written_sectors.heap_bytes()
            + self.in_dram.heap_bytes()
            + self.geo.blocks as u64 * (2 + 2 + 1 + 4)
    }

    /// Check that per-block valid counts equal the valid slots the reverse map records and
    /// that the forward and reverse maps agree. O(touched blocks × slots): for tests.
    pub fn check_invariants(&self) {
        for block in 0..self.geo.blocks {
            let first = block * self.geo.slots_per_block;
            let mut valid = 0u32;
            for slot in first..first + self.geo.slots_per_block {
                if let Some(unit) = self.unit_in_slot(slot) {
                    assert_eq!(self.l2p.get(unit), slot, "maps disagree on unit {unit}");
                    valid += 1;
                }
            }
            assert_eq!(
                u32::from(self.valid[block as usize]),
                valid,
                "valid count of block {block}"
            );
            if self.state[block as usize] == BlockState::Free {
                assert_eq!(valid, 0, "free block {block} holds data");
            }
        }
    }
}
