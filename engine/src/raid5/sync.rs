//! md's sync thread (`md_do_sync` with raid5's `sync_request`): walk every stripe of the
//! members in order. `check` and `repair` (`echo check > sync_action`) read all of a
//! stripe's pages and compare parity with the XOR of the data; `check` counts the sectors of
//! stripes that disagree (md's `mismatch_cnt`), `repair` also rewrites their parity.
//! `recover` (a spare was added, see [`super::recovery`]) reads the other members, computes
//! the spare's page and writes it. `resync` (a dirty assembly, see `metadata`) is
//! a repair over the stripes whose parity may be stale.
//!
//! A stripe under sync is a stripe head marked `syncing`; at most [`SYNC_WINDOW_STRIPES`] are
//! in flight. Normal IO queued on a stripe goes first: the pass's work waits until the head
//! has no bio queued and no page locked. A degraded array has no redundancy to check: a check
//! or repair skips every stripe (md refuses to start it). The pass's speed is held between
//! md's limits by [`super::sync_speed`].

use super::buffer::BufferTransition;
use super::cache::Got;
use super::geometry::STRIPE_SECTORS;
use super::instance::Raid5;
use super::parity::{store_parity, xor_pages};
use super::sync_speed::SyncSpeed;
use crate::arena::Arena;
use std::collections::BTreeSet;

/// Stripes a sync pass keeps in flight (md bounds its window the same way, in sectors).
pub(crate) const SYNC_WINDOW_STRIPES: u32 = 16;

/// What `sync_action` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// Count mismatches only.
    Check,
    /// Count mismatches and rewrite parity where it disagrees.
    Repair,
    /// Rebuild a spare (md's `recover`).
    Recover,
    /// Recompute parity after a dirty assembly (md's `resync`): like repair, over the
    /// bitmap's dirty chunks only when the array has a bitmap (see `metadata`).
    Resync,
}

impl SyncAction {
    /// md's `sync_action` word.
    pub fn name(self) -> &'static str {
        match self {
            SyncAction::Check => "check",
            SyncAction::Repair => "repair",
            SyncAction::Recover => "recover",
            SyncAction::Resync => "resync",
        }
    }

    /// The word of mdstat's progress line.
    pub fn progress_word(self) -> &'static str {
        match self {
            SyncAction::Check => "check",
            SyncAction::Repair => "repair",
            SyncAction::Recover => "recovery",
            SyncAction::Resync => "resync",
        }
    }
}

/// A sync pass in progress.
#[derive(Debug, Clone)]
pub(crate) struct SyncPass {
    pub action: SyncAction,
    /// When the pass started (its speed's first mark).
    pub started_ns: u64,
    /// The next member sector to put under sync.
    pub next_sector: u64,
    /// Stripe heads under sync now.
    pub active: u32,
    /// Member sectors whose stripes are finished.
    pub done_sectors: u64,
    /// Member sectors of the stripes under sync now, lowest first.
    pub in_flight: BTreeSet<u64>,
    /// Stripes the pass could not do (a second member lost).
    pub skipped: u64,
    /// The lowest member sector of a stripe the pass could not do: a recovery's offset never
    /// passes it (the role holds no data there).
    pub first_skipped_sector: Option<u64>,
    /// md's throttle: the pass sleeps until this time.
    pub throttled_until_ns: Option<u64>,
    pub speed: SyncSpeed,
}

impl SyncPass {
    pub(crate) fn new(action: SyncAction, now_ns: u64, normal_io_sectors: &[u64]) -> SyncPass {
        SyncPass {
            action,
            started_ns: now_ns,
            next_sector: 0,
            active: 0,
            done_sectors: 0,
            in_flight: BTreeSet::new(),
            skipped: 0,
            first_skipped_sector: None,
            throttled_until_ns: None,
            speed: SyncSpeed::new(now_ns, normal_io_sectors),
        }
    }

    /// Every stripe below this member sector is done (and none skipped).
    pub(crate) fn done_below(&self) -> u64 {
        let done = self.in_flight.first().copied().unwrap_or(self.next_sector);
        self.first_skipped_sector
            .map_or(done, |skipped| done.min(skipped))
    }

    /// The stripe at member sector `sector` could not be done.
    pub(crate) fn skip(&mut self, sector: u64) {
        self.skipped += 1;
        self.first_skipped_sector =
            Some(self.first_skipped_sector.map_or(sector, |s| s.min(sector)));
    }
}

impl Raid5 {
    /// Starts a pass (`echo check > sync_action`): resets `mismatch_cnt` as md does. A pass
    /// already running is replaced only when idle; returns false if one runs.
    pub fn start_sync(&mut self, now_ns: u64, action: SyncAction, arena: &mut Arena) -> bool {
        self.set_now(now_ns);
        if self.sync.is_some() || self.recovery_pending {
            return false;
        }
        if action != SyncAction::Recover {
            self.mismatch_sectors = 0;
        }
        self.sync = Some(SyncPass::new(action, now_ns, &self.normal_io_sectors));
        self.run_daemon(arena);
        true
    }

    /// The running pass, if any.
    pub fn sync_running(&self) -> Option<SyncAction> {
        self.sync.as_ref().map(|s| s.action)
    }

    /// When the running pass started.
    pub fn sync_started_ns(&self) -> Option<u64> {
        self.sync.as_ref().map(|s| s.started_ns)
    }

    /// The running pass's speed over md's window of marks, in KiB/s of one member.
    pub fn sync_speed_kib_s(&self) -> Option<u64> {
        self.sync
            .as_ref()
            .map(|s| s.speed.speed_kib_s(self.now_ns, s.done_sectors))
    }

    /// md's `sync_action`: `idle`, `check`, `repair` or `recover`.
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
            if pass.action == SyncAction::Resync {
                let next = self.next_resync_sector(pass.next_sector, end);
                let pass = self.sync.as_mut().expect("checked");
                // Clean bitmap chunks need no resync: done at once.
                pass.done_sectors += next - pass.next_sector;
                pass.next_sector = next;
            }
            let pass = self.sync.as_ref().expect("checked");
            if pass.next_sector >= end {
                if pass.active == 0 {
                    self.end_sync_pass();
                    return true;
                }
                return moved;
            }
            if pass.active >= SYNC_WINDOW_STRIPES
                || !self.waiting.is_empty()
                || pass.throttled_until_ns.is_some()
            {
                // Normal IO waiting for a stripe head goes first.
                return moved;
            }
            let sector = pass.next_sector;
            if self.throttle_sync() {
                return moved;
            }
            let parity = self.geometry.parity_member(self.geometry.row_of(sector));
            // With no bio in the array and no head in use the pass is the only one left to
            // ask for a head: it asks as the first waiter (md's sync thread blocks in
            // get_active_stripe like a writer), or a cache blocked by its own miss would
            // stay blocked for good (regression 008). Otherwise bios' walks and released
            // heads unblock the cache, as before.
            let first_waiter = self.bios.is_empty() && self.cache.active() == 0;
            let head = match self.cache.get_active(sector, parity, arena, first_waiter) {
                Got::Head(head) => head,
                Got::Wait => return moved,
            };
            let pass = self.sync.as_mut().expect("checked");
            pass.next_sector += STRIPE_SECTORS;
            let stripe = self.cache.head_mut(head);
            if stripe.syncing {
                // Cannot happen (the pass walks forward), but never count a head twice.
                self.release(head);
                continue;
            }
            pass.active += 1;
            pass.in_flight.insert(sector);
            stripe.syncing = true;
            stripe.sync_written = false;
            stripe.handle = true;
            self.release(head);
            moved = true;
        }
    }

    /// A pass ran over every stripe: count it, finish a recovery, and start one that waited.
    fn end_sync_pass(&mut self) {
        let pass = self.sync.take().expect("a pass runs");
        self.stats.sync_passes += 1;
        if pass.action == SyncAction::Resync {
            self.resync_progress(pass.done_below(), pass.skipped == 0);
        }
        if pass.action == SyncAction::Recover {
            self.finish_recovery(pass.skipped);
        }
        if self.recovery_pending {
            self.recovery_pending = false;
            self.start_recovery_pass();
        }
    }

    /// handle_stripe's sync part for a head under sync: read every page, then compare (and
    /// for repair rewrite parity) or rebuild, then end the head's sync. `failed`: the
    /// members that cannot be read for this stripe.
    pub(crate) fn handle_sync(&mut self, head: usize, failed: &[usize], arena: &mut Arena) {
        let stripe = self.cache.head(head);
        if !stripe.syncing
            || stripe
                .members
                .iter()
                .any(|m| m.has_bios() || m.buffer.is_locked())
        {
            return;
        }
        if self.sync.as_ref().expect("a pass runs").action == SyncAction::Recover {
            return self.handle_recovery(head, failed, arena);
        }
        if !failed.is_empty() {
            self.stats.sync_stripes_skipped += 1;
            let sector = self.cache.head(head).sector;
            self.sync.as_mut().expect("a pass runs").skip(sector);
            return self.end_stripe_sync(head);
        }
        if self.start_sync_reads(head, None) {
            return;
        }
        let stripe = self.cache.head(head);
        let pages: Vec<_> = stripe.members.iter().map(|m| m.page).collect();
        let parity = stripe.parity_member;
        let residue = xor_pages(arena, &pages);
        self.stats.sync_stripes += 1;
        if residue.iter().any(|&b| b != 0) {
            self.mismatch_sectors += STRIPE_SECTORS;
            let action = self.sync.as_ref().expect("a pass runs").action;
            if action != SyncAction::Check {
                let data: Vec<_> = (0..pages.len())
                    .filter(|&m| m != parity)
                    .map(|m| pages[m])
                    .collect();
                let image = xor_pages(arena, &data);
                store_parity(arena, pages[parity], &image);
                self.cache.head_mut(head).members[parity].apply(BufferTransition::Fill);
                self.stats.sync_parity_rewrites += 1;
            }
        }
        self.end_stripe_sync(head);
    }

    /// A sync pass's reads: every member of stripe `head` but `except` (a role being rebuilt)
    /// whose page is not up to date starts a read. True if any did (the stripe waits).
    pub(crate) fn start_sync_reads(&mut self, head: usize, except: Option<usize>) -> bool {
        let mut reading = false;
        for member in (0..self.geometry.members()).filter(|&m| Some(m) != except) {
            let dev = &mut self.cache.head_mut(head).members[member];
            if !dev.buffer.is_uptodate() {
                dev.apply(BufferTransition::StartRead);
                self.stats.sync_reads += 1;
                reading = true;
            }
        }
        reading
    }

    pub(crate) fn end_stripe_sync(&mut self, head: usize) {
        let stripe = self.cache.head_mut(head);
        stripe.syncing = false;
        stripe.sync_written = false;
        let sector = stripe.sector;
        let pass = self.sync.as_mut().expect("a pass runs");
        pass.active -= 1;
        pass.done_sectors += STRIPE_SECTORS;
        pass.in_flight.remove(&sector);
        match pass.action {
            SyncAction::Recover => self.advance_recovery_offset(),
            SyncAction::Resync => {
                let done_below = pass.done_below();
                self.resync_progress(done_below, false);
            }
            SyncAction::Check | SyncAction::Repair => {}
        }
    }
}
