//! Garbage collection: greedy victim choice per plane, paced by host writes.
//!
//! When a plane's free blocks fall to the threshold (`ftl.gc_threshold` of its blocks), the
//! full block with the fewest valid units becomes the victim. Collecting it gives back
//! `gain = units_per_block - valid` units, so to stay level GC must move `valid / gain` units
//! per host unit written to the plane. Every host page allocated on the plane adds that much
//! debt; the debt is paid at once by moving whole victim pages (read the valid units, append
//! them to the plane's GC page, program the GC page when full), so the emitted GC ops sit on
//! the die ahead of the host page's own program: a full drive under random writes sees its
//! write latency grow with the victims' valid fraction (the write cliff). When the victim is
//! empty it is erased and freed. If the host needs a block while only the GC reserve is left,
//! whole victims are collected on the spot (the deep end of the cliff).
//!
//! Deliberately not modelled: idle-time background GC, wear leveling, GC of translation pages,
//! GC's own mapping-table updates (free), multi-plane or suspend/resume operations.

use super::ftl::{BlockState, Ftl};
use super::ops::{OpKind, OpPurpose, OpSpec};
use super::table::NONE;

/// Most units one flash page holds (validated: `page_bytes / map_unit_bytes <= 64`).
pub(crate) const MAX_SLOTS_PER_PAGE: usize = 64;

impl Ftl {
    /// Start GC on `plane` if its free blocks are at or below the threshold and no victim is
    /// being collected.
    pub(super) fn maybe_start_gc(&mut self, plane: u32, ops: &mut Vec<OpSpec>) {
        let pl = &self.planes[plane as usize];
        if pl.victim == NONE && pl.free.len() as u32 <= self.gc_threshold_blocks {
            self.select_victim(plane, ops);
        }
    }

    /// Choose the full block with the fewest valid units (lowest index on ties). Empty blocks
    /// are erased on the spot. False if no block would give space back.
    fn select_victim(&mut self, plane: u32, ops: &mut Vec<OpSpec>) -> bool {
        loop {
            let first = plane * self.geo.blocks_per_plane;
            let mut best = NONE;
            let mut best_valid = u32::MAX;
            for block in first..first + self.geo.blocks_per_plane {
                let valid = u32::from(self.valid[block as usize]);
                if self.state[block as usize] == BlockState::Full && valid < best_valid {
                    best = block;
                    best_valid = valid;
                }
            }
            if best == NONE || best_valid >= self.geo.slots_per_block {
                return false;
            }
            self.counters.gc_victims += 1;
            if best_valid == 0 {
                self.erase(plane, best, ops);
                if self.planes[plane as usize].free.len() as u32 <= self.gc_threshold_blocks {
                    continue;
                }
                return true;
            }
            self.state[best as usize] = BlockState::Victim;
            let pl = &mut self.planes[plane as usize];
            pl.victim = best;
            pl.victim_next_page = 0;
            pl.victim_valid_at_start = best_valid;
            pl.victim_gain = self.geo.slots_per_block - best_valid;
            pl.debt = 0;
            return true;
        }
    }

    /// Add the GC debt of one host page on `plane` and pay it.
    pub(super) fn pay_gc_debt(&mut self, plane: u32, ops: &mut Vec<OpSpec>) {
        let pl = &mut self.planes[plane as usize];
        if pl.victim == NONE {
            return;
        }
        pl.debt += i64::from(self.geo.slots_per_page) * i64::from(pl.victim_valid_at_start);
        while self.planes[plane as usize].victim != NONE && self.planes[plane as usize].debt > 0 {
            self.gc_step(plane, ops);
        }
    }

    /// Collect the current victim (choosing one if needed) to the end. False if the plane has
    /// nothing to collect.
    pub(super) fn collect_whole_victim(&mut self, plane: u32, ops: &mut Vec<OpSpec>) -> bool {
        if self.planes[plane as usize].victim == NONE && !self.select_victim(plane, ops) {
            return false;
        }
        while self.planes[plane as usize].victim != NONE {
            self.gc_step(plane, ops);
        }
        true
    }

    /// Move the valid units of the victim's next page that has any; finish the victim when
    /// it holds no valid unit.
    fn gc_step(&mut self, plane: u32, ops: &mut Vec<OpSpec>) {
        let victim = self.planes[plane as usize].victim;
        debug_assert_ne!(victim, NONE);
        let die = self.geo.die_of_block(victim);
        while self.valid[victim as usize] > 0 {
            let index = self.planes[plane as usize].victim_next_page;
            assert!(
                index < self.geo.pages_per_block,
                "victim {victim} has valid units past its last page"
            );
            self.planes[plane as usize].victim_next_page += 1;
            let page = victim * self.geo.pages_per_block + index;
            let mut units = [NONE; MAX_SLOTS_PER_PAGE];
            let mut moved = 0usize;
            for slot in page * self.geo.slots_per_page..(page + 1) * self.geo.slots_per_page {
                if let Some(unit) = self.unit_in_slot(slot) {
                    units[moved] = unit;
                    moved += 1;
                }
            }
            if moved == 0 {
                continue;
            }
            let bytes = if self.copyback {
                0
            } else {
                moved as u32 * self.geo.unit_bytes
            };
            ops.push(OpSpec::new(die, OpKind::Read, bytes, OpPurpose::GcRead));
            for &unit in &units[..moved] {
                let slot = self.gc_alloc_slot(plane, ops);
                self.relocate(unit, slot);
            }
            self.counters.gc_units_moved += moved as u64;
            let pl = &mut self.planes[plane as usize];
            pl.debt -= moved as i64 * i64::from(pl.victim_gain);
            break;
        }
        if self.valid[victim as usize] == 0 {
            self.erase(plane, victim, ops);
            let pl = &mut self.planes[plane as usize];
            pl.victim = NONE;
            pl.debt = 0;
            self.maybe_start_gc(plane, ops);
        }
    }

    /// Next slot of the plane's GC page; programs the page when it fills. The GC page stays
    /// open across victims, so GC never wastes space on padding.
    fn gc_alloc_slot(&mut self, plane: u32, ops: &mut Vec<OpSpec>) -> u32 {
        if self.planes[plane as usize].gc_page == NONE {
            if self.planes[plane as usize].gc_block == NONE {
                let block = self.planes[plane as usize]
                    .free
                    .pop_front()
                    .expect("GC always has its reserve block");
                debug_assert_eq!(self.state[block as usize], BlockState::Free);
                self.state[block as usize] = BlockState::GcOpen;
                self.planes[plane as usize].gc_block = block;
            }
            let block = self.planes[plane as usize].gc_block;
            let page = self.next_page_in(plane, block);
            self.set_page_in_dram(page);
            let pl = &mut self.planes[plane as usize];
            pl.gc_page = page;
            pl.gc_page_fill = 0;
        }
        let pl = &mut self.planes[plane as usize];
        let page = pl.gc_page;
        let slot = page * self.geo.slots_per_page + pl.gc_page_fill;
        pl.gc_page_fill += 1;
        if pl.gc_page_fill == self.geo.slots_per_page {
            pl.gc_page = NONE;
            let bytes = if self.copyback {
                0
            } else {
                self.geo.page_bytes
            };
            let mut op = OpSpec::new(
                self.geo.die_of_page(page),
                OpKind::Program,
                bytes,
                OpPurpose::GcProgram,
            );
            op.page = page;
            ops.push(op);
        }
        slot
    }

    fn erase(&mut self, plane: u32, block: u32, ops: &mut Vec<OpSpec>) {
        assert_eq!(
            self.valid[block as usize], 0,
            "erasing block {block} with data"
        );
        ops.push(OpSpec::new(
            self.geo.die_of_block(block),
            OpKind::Erase,
            0,
            OpPurpose::GcErase,
        ));
        self.state[block as usize] = BlockState::Free;
        self.written_pages[block as usize] = 0;
        // A block emptied while still open kept its chunk; a free block maps nothing.
        self.p2l.release_chunk(block);
        self.planes[plane as usize].free.push_back(block);
        self.counters.erases += 1;
    }
}
