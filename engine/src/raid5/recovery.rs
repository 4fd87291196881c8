//! Rebuilding a spare (md's recovery): [`Raid5::add_spare`] puts a fresh device into a failed
//! member's role (`mdadm --add`, or a hot spare taking over), the role is "not in sync" above
//! its `recovery_offset`, and a `recover` sync pass (see [`super::sync`]) walks every stripe:
//! it reads the other members, computes the role's page from them (parity XOR) and writes it
//! to the spare. Normal IO goes on meanwhile: reads of the role above the offset are
//! reconstructed, writes go to the spare everywhere. The offset advances over stripes whose
//! rebuilt page is written; when the pass ends the role is in sync and the array redundant.
//!
//! A second member lost during recovery leaves its stripes unrebuildable: they are counted as
//! skipped and the role stays out of sync (the array is failed anyway).

use super::buffer::BufferTransition;
use super::instance::{MemberHealth, Raid5};
use super::sync::SyncAction;
use crate::arena::Arena;
use crate::block::DeviceInfo;

impl Raid5 {
    /// The role being rebuilt, if any.
    pub fn rebuilding_member(&self) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.recovery_offset_sectors.is_some())
    }

    /// How long the last finished recovery took (virtual time from its start).
    pub fn recovery_duration_ns(&self) -> Option<u64> {
        self.recovery_duration_ns
    }

    /// A failed role a spare could take (the first), if no other is being rebuilt.
    pub fn role_for_spare(&self) -> Option<usize> {
        if self.rebuilding_member().is_some() {
            return None;
        }
        self.members.iter().position(|m| m.faulty)
    }

    /// A fresh device (`spare`) takes the failed role `member` (its previous contents are
    /// not trusted) and recovery starts, or waits for a running check or repair to end.
    pub fn add_spare(
        &mut self,
        now_ns: u64,
        member: usize,
        spare: &DeviceInfo,
        arena: &mut Arena,
    ) -> Result<(), String> {
        self.set_now(now_ns);
        if let Some(rebuilding) = self.rebuilding_member() {
            return Err(format!(
                "member {rebuilding} is being rebuilt; one recovery at a time"
            ));
        }
        if !self.members.get(member).is_some_and(|m| m.faulty) {
            return Err(format!("member {member} has not failed"));
        }
        self.members[member] = MemberHealth {
            recovery_offset_sectors: Some(0),
            ..MemberHealth::default()
        };
        self.volatile_write_cache[member] = spare.volatile_write_cache;
        self.stats.spares_added += 1;
        if self.sync.is_some() {
            self.recovery_pending = true;
        } else {
            self.start_recovery_pass();
        }
        self.run_daemon(arena);
        Ok(())
    }

    pub(crate) fn start_recovery_pass(&mut self) {
        debug_assert!(self.sync.is_none());
        if self.rebuilding_member().is_none() {
            return;
        }
        self.recovery_started_ns = self.now_ns;
        self.sync = Some(super::sync::SyncPass::new(
            SyncAction::Recover,
            self.now_ns,
            &self.normal_io_sectors,
        ));
    }

    /// handle_sync for a recovery: read every other member, compute the rebuilt role's page,
    /// write it, and end the head's sync when the write is done. The head has no bio and no
    /// locked page.
    pub(crate) fn handle_recovery(&mut self, head: usize, failed: &[usize], arena: &mut Arena) {
        let target = match (self.rebuilding_member(), failed) {
            (Some(target), [only]) if *only == target => target,
            (_, []) => return self.end_stripe_sync(head),
            _ => {
                // The spare failed, or another member is lost for this stripe.
                self.stats.recovery_stripes_skipped += 1;
                let sector = self.cache.head(head).sector;
                self.sync.as_mut().expect("a pass runs").skip(sector);
                return self.end_stripe_sync(head);
            }
        };
        if self.cache.head(head).sync_written {
            self.stats.recovery_stripes += 1;
            return self.end_stripe_sync(head);
        }
        if self.start_sync_reads(head, Some(target)) {
            return;
        }
        if !self.cache.head(head).members[target].buffer.is_uptodate() {
            self.compute_if_possible(head, target, arena);
        }
        let stripe = self.cache.head_mut(head);
        stripe.members[target].apply(BufferTransition::Fill);
        stripe.sync_written = true;
        stripe.handle = true;
        self.stats.recovery_writes += 1;
    }

    /// The rebuilt role is in sync below the lowest stripe still under recovery.
    pub(crate) fn advance_recovery_offset(&mut self) {
        let done_below = self.sync.as_ref().expect("a pass runs").done_below();
        if let Some(target) = self.rebuilding_member() {
            let offset = self.members[target]
                .recovery_offset_sectors
                .as_mut()
                .expect("rebuilding");
            *offset = (*offset).max(done_below);
        }
    }

    /// The recovery pass ended: the role is in sync unless stripes were skipped.
    pub(crate) fn finish_recovery(&mut self, skipped: u64) {
        if let Some(target) = self.rebuilding_member() {
            if skipped == 0 {
                mark!(SpareRebuilt);
                self.members[target].recovery_offset_sectors = None;
                self.stats.recoveries += 1;
                self.recovery_duration_ns = Some(self.now_ns - self.recovery_started_ns);
            }
        }
    }
}
