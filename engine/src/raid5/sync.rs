//! md's sync thread for `check` and `repair` (`echo check > sync_action`): walk every stripe
//! of the members in order, read all of its pages (data and parity), and compare parity with
//! the XOR of the data. `check` counts the sectors of stripes that disagree (md's
//! `mismatch_cnt`); `repair` also rewrites their parity.
//!
//! A stripe under sync is a stripe head marked `syncing`; at most [`SYNC_WINDOW_STRIPES`] are
//! in flight. Normal IO queued on a stripe goes first: the comparison waits until the head has
//! no bio queued and no page locked. A degraded array has no redundancy to check: the pass
//! skips every stripe (md refuses to start it).

use super::buffer::BufferTransition;
use super::cache::Got;
use super::geometry::STRIPE_SECTORS;
use super::instance::Raid5;
use super::parity::{store_parity, xor_pages};
use crate::arena::Arena;

/// Stripes a sync pass keeps in flight (md bounds its window the same way, in sectors).
pub(crate) const SYNC_WINDOW_STRIPES: u32 = 16;

/// What `sync_action` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// Count mismatches only.
    Check,
    /// Count mismatches and rewrite parity where it disagrees.
    Repair,
}

impl SyncAction {
    /// md's `sync_action` word.
    pub fn name(self) -> &'static str {
        match self {
            SyncAction::Check => "check",
            SyncAction::Repair => "repair",
        }
    }
}

/// A sync pass in progress.
#[derive(Debug, Clone)]
pub(crate) struct SyncPass {
    pub action: SyncAction,
    /// The next member sector to put under sync.
    pub next_sector: u64,
    /// Stripe heads under sync now.
    pub active: u32,
    /// Member sectors whose stripes are finished.
    pub done_sectors: u64,
}

impl Raid5 {
    /// Starts a pass (`echo check > sync_action`): resets `mismatch_cnt` as md does. A pass
    /// already running is replaced only when idle; returns false if one runs.
    pub fn start_sync(&mut self, now_ns: u64, action: SyncAction, arena: &mut Arena) -> bool {
        self.set_now(now_ns);
        if self.sync.is_some() {
            return false;
        }
        self.mismatch_sectors = 0;
        self.sync = Some(SyncPass {
            action,
            next_sector: 0,
            active: 0,
            done_sectors: 0,
        });
        self.run_daemon(arena);
        true
    }

    /// md's `sync_action`: `idle`, `check` or `repair`.
    pub fn sync_action(&self) -> &'static str {
        self.sync.as_ref().map_or("idle", |s| s.action.name())
    }

    /// md's `mismatch_cnt`: sectors of stripes whose parity disagreed in the last pass.
    pub fn mismatch_cnt(&self) -> u64 {
        self.mismatch_sectors
    }

    /// The running pass's progress: (member sectors done, member sectors in all).
    pub fn sync_progress(&self) -> Option<(u64, u64)> {
        self.sync
            .as_ref()
            .map(|s| (s.done_sectors, self.geometry.member_sectors()))
    }

    /// Puts more stripes under sync while the window has room and a head is free. True if
    /// any was started or the pass ended.
    pub(crate) fn feed_sync(&mut self, arena: &mut Arena) -> bool {
        let end = self.geometry.member_sectors();
        let mut moved = false;
        loop {
            let Some(pass) = self.sync.as_ref() else {
                return moved;
            };
            if pass.next_sector >= end {
                if pass.active == 0 {
                    self.sync = None;
                    self.stats.sync_passes += 1;
                    return true;
                }
                return moved;
            }
            if pass.active >= SYNC_WINDOW_STRIPES || !self.waiting.is_empty() {
                // Normal IO waiting for a stripe head goes first.
                return moved;
            }
            let sector = pass.next_sector;
            let parity = self.geometry.parity_member(self.geometry.row_of(sector));
            let head = match self.cache.get_active(sector, parity, arena, false) {
                Got::Head(head) => head,
                Got::Wait => return moved,
            };
            let pass = self.sync.as_mut().expect("checked");
            pass.next_sector += STRIPE_SECTORS;
            let stripe = &mut self.cache.heads[head];
            if stripe.syncing {
                // Cannot happen (the pass walks forward), but never count a head twice.
                self.release(head);
                continue;
            }
            pass.active += 1;
            stripe.syncing = true;
            stripe.handle = true;
            self.release(head);
            moved = true;
        }
    }

    /// handle_stripe's sync part for a head under sync: read every page, then compare (and
    /// for repair rewrite parity), then end the head's sync.
    pub(crate) fn handle_sync(&mut self, head: usize, failed: usize, arena: &mut Arena) {
        let stripe = &self.cache.heads[head];
        if !stripe.syncing
            || stripe
                .members
                .iter()
                .any(|m| m.has_bios() || m.buffer.is_locked())
        {
            return;
        }
        if failed > 0 {
            self.stats.sync_stripes_skipped += 1;
            return self.end_stripe_sync(head);
        }
        let mut reading = false;
        for member in 0..self.geometry.members() {
            let dev = &mut self.cache.heads[head].members[member];
            if !dev.buffer.is_uptodate() {
                dev.apply(BufferTransition::StartRead);
                self.stats.sync_reads += 1;
                reading = true;
            }
        }
        if reading {
            return;
        }
        let stripe = &self.cache.heads[head];
        let pages: Vec<_> = stripe.members.iter().map(|m| m.page).collect();
        let parity = stripe.parity_member;
        let residue = xor_pages(arena, &pages);
        self.stats.sync_stripes += 1;
        if residue.iter().any(|&b| b != 0) {
            self.mismatch_sectors += STRIPE_SECTORS;
            let action = self.sync.as_ref().expect("a pass runs").action;
            if action == SyncAction::Repair {
                let data: Vec<_> = (0..pages.len())
                    .filter(|&m| m != parity)
                    .map(|m| pages[m])
                    .collect();
                let image = xor_pages(arena, &data);
                store_parity(arena, pages[parity], &image);
                self.cache.heads[head].members[parity].apply(BufferTransition::Fill);
                self.stats.sync_parity_rewrites += 1;
            }
        }
        self.end_stripe_sync(head);
    }

    fn end_stripe_sync(&mut self, head: usize) {
        self.cache.heads[head].syncing = false;
        let pass = self.sync.as_mut().expect("a pass runs");
        pass.active -= 1;
        pass.done_sectors += STRIPE_SECTORS;
    }
}
