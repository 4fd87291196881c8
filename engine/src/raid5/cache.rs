//! The stripe cache: a fixed pool of stripe heads, the hash by sector, and md's lists
//! (inactive in LRU order, handle, delayed, hold), with `get_active_stripe` and
//! `release_stripe`.
//!
//! A head is on exactly one list while its count is zero and on none while referenced.
//! `active` heads are those not on the inactive list (md's `active_stripes`). Owns no bio
//! logic and issues no IO; the machine decides what a released head needs.
//!
//! Heads are handed out mutably only by [`StripeCache::head_mut`], which marks them, and
//! every change of a list or the hash marks the heads its entries name: the check after
//! each input ([`check`]) looks at the marked heads only.

use super::stripe::{StripeHead, StripeList};
use crate::arena::{Arena, PageId};
use crate::changed_ids::Marked;
use crate::content::SectorContent;
use std::collections::{BTreeMap, VecDeque};

mod check;

pub use check::FULL_CHECK_EVERY_CALLS;

/// md's `IO_THRESHOLD`: delayed stripes are activated only while fewer pre-read-active
/// stripes than this exist.
pub(crate) const IO_THRESHOLD: u32 = 1;

/// What [`StripeCache::get_active`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Got {
    /// The head for the sector, referenced once more.
    Head(usize),
    /// No head is free (or the cache is blocked refilling): the caller waits.
    Wait,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct StripeCache {
    heads: Vec<StripeHead>,
    hash: BTreeMap<u64, usize>,
    inactive: VecDeque<usize>,
    handle: VecDeque<usize>,
    delayed: VecDeque<usize>,
    hold: VecDeque<usize>,
    /// md's `inactive_blocked`: set when a get found no free head; new heads are handed out
    /// again only once a quarter of the cache is free.
    pub inactive_blocked: bool,
    pub preread_active_stripes: u32,
    /// Handle-list stripes taken while hold-list stripes waited (md's `bypass_count`).
    pub bypass_count: u32,
    /// Heads changed since the last incremental check, with what they were before.
    changed: Marked<HeadBefore>,
    /// What the incremental check carries from one call to the next.
    incremental: check::IncrementalCheck,
}

/// What the incremental check needs of a head from before its change: the cache-wide
/// pre-read count is kept by difference.
#[derive(Debug, Clone, Copy)]
struct HeadBefore {
    preread_active: bool,
}

impl StripeCache {
    /// A cache of `size` heads over `members` pages each (taken from `pages` in order).
    pub fn new(size: usize, members: usize, pages: &[PageId]) -> StripeCache {
        assert_eq!(pages.len(), size * members);
        let heads: Vec<StripeHead> = pages.chunks_exact(members).map(StripeHead::new).collect();
        let head_ids = u32::try_from(size).expect("stripe cache sizes fit in u32");
        let mut cache = StripeCache {
            heads,
            hash: BTreeMap::new(),
            inactive: VecDeque::new(),
            handle: VecDeque::new(),
            delayed: VecDeque::new(),
            hold: VecDeque::new(),
            inactive_blocked: false,
            preread_active_stripes: 0,
            bypass_count: 0,
            changed: Marked::new(head_ids),
            incremental: check::IncrementalCheck::default(),
        };
        for index in 0..size {
            cache.push(index, StripeList::Inactive);
        }
        cache
    }

    /// md's `stripe_cache_active`: heads not on the inactive list.
    pub fn active(&self) -> usize {
        self.heads.len() - self.inactive.len()
    }

    /// Stripe head `index`, read-only.
    pub fn head(&self, index: usize) -> &StripeHead {
        &self.heads[index]
    }

    /// Stripe head `index` for a change: marked for the next incremental check.
    pub fn head_mut(&mut self, index: usize) -> &mut StripeHead {
        self.mark(index);
        &mut self.heads[index]
    }

    /// Every stripe head, read-only.
    pub fn heads(&self) -> &[StripeHead] {
        &self.heads
    }

    /// Notes that head `index`, or a list or hash entry naming it, is about to change.
    fn mark(&mut self, index: usize) {
        let heads = &self.heads;
        self.changed.mark(index as u32, || HeadBefore {
            preread_active: heads[index].preread_active,
        });
    }

    /// Removes the hash entry at `sector`, marking the head it named.
    fn hash_remove(&mut self, sector: u64) {
        if let Some(named) = self.hash.remove(&sector) {
            self.mark(named);
        }
    }

    /// Hashes head `index` at `sector`, marking it and any head the entry named before.
    fn hash_insert(&mut self, sector: u64, index: usize) {
        self.mark(index);
        if let Some(replaced) = self.hash.insert(sector, index) {
            self.mark(replaced);
        }
    }

    pub fn lookup(&self, sector: u64) -> Option<usize> {
        self.hash.get(&sector).copied()
    }

    /// True if a waiter for a free head should try again (md's `wait_for_stripe` condition).
    pub fn free_head_available(&self) -> bool {
        !self.inactive.is_empty()
            && (self.active() < self.heads.len() * 3 / 4 || !self.inactive_blocked)
    }

    fn list_mut(&mut self, list: StripeList) -> &mut VecDeque<usize> {
        match list {
            StripeList::Inactive => &mut self.inactive,
            StripeList::Handle => &mut self.handle,
            StripeList::Delayed => &mut self.delayed,
            StripeList::Hold => &mut self.hold,
            StripeList::None => unreachable!("no list to use"),
        }
    }

    fn push(&mut self, index: usize, list: StripeList) {
        self.mark(index);
        assert_eq!(
            self.heads[index].list,
            StripeList::None,
            "head {index} on two lists"
        );
        self.heads[index].list = list;
        self.list_mut(list).push_back(index);
    }

    fn unlink(&mut self, index: usize) {
        let list = self.heads[index].list;
        if list == StripeList::None {
            return;
        }
        self.mark(index);
        let queue = self.list_mut(list);
        let position = queue
            .iter()
            .position(|&i| i == index)
            .expect("a head is on the list it names");
        queue.remove(position);
        self.heads[index].list = StripeList::None;
    }

    /// md's `get_active_stripe` for member sector `sector` (parity on `parity_member`),
    /// without blocking: a hit is referenced; a miss takes the least recently used inactive
    /// head and initialises it (every page empty); [`Got::Wait`] if none may be taken.
    pub fn get_active(
        &mut self,
        sector: u64,
        parity_member: usize,
        arena: &mut Arena,
        waiting_first: bool,
    ) -> Got {
        if let Some(index) = self.lookup(sector) {
            self.unlink(index);
            self.head_mut(index).count += 1;
            return Got::Head(index);
        }
        if self.inactive_blocked && !(waiting_first && self.free_head_available()) {
            return Got::Wait;
        }
        let Some(index) = self.inactive.pop_front() else {
            self.inactive_blocked = true;
            return Got::Wait;
        };
        self.inactive_blocked = false;
        let head = self.head_mut(index);
        head.list = StripeList::None;
        assert!(
            head.count == 0 && head.is_quiet(),
            "reusing a busy head {index}"
        );
        if head.hashed {
            let old_sector = head.sector;
            self.hash_remove(old_sector);
        }
        let head = &mut self.heads[index];
        // init_stripe: every page empty, in sectors mode for workload data.
        for member in &mut head.members {
            member.apply(super::buffer::BufferTransition::Invalidate);
            arena.reset_sectors(member.page, &[SectorContent::Zero; 8]);
            // A FUA mark whose write was dropped (its stripe failed) is not the new sector's.
            member.want_fua = false;
        }
        head.sector = sector;
        head.parity_member = parity_member;
        head.hashed = true;
        head.handle = false;
        head.delayed = false;
        debug_assert!(!head.preread_active);
        head.count = 1;
        self.hash_insert(sector, index);
        Got::Head(index)
    }

    /// md's `release_stripe`: drops a reference; at zero the head goes to the delayed,
    /// handle or inactive list by its state. Returns true if it went to the delayed list.
    pub fn release(&mut self, index: usize) -> bool {
        self.mark(index);
        let head = &mut self.heads[index];
        assert!(head.count > 0, "releasing unreferenced head {index}");
        head.count -= 1;
        if head.count > 0 {
            return false;
        }
        if head.handle {
            if head.delayed {
                self.push(index, StripeList::Delayed);
                return true;
            }
            self.push(index, StripeList::Handle);
        } else {
            if head.preread_active {
                head.preread_active = false;
                self.preread_active_stripes -= 1;
            }
            self.push(index, StripeList::Inactive);
        }
        false
    }

    /// md's `raid5_activate_delayed`: every delayed head becomes pre-read active and moves
    /// to the hold list. Returns how many.
    pub fn activate_delayed(&mut self) -> usize {
        if self.preread_active_stripes >= IO_THRESHOLD {
            return 0;
        }
        let delayed: Vec<usize> = self.delayed.drain(..).collect();
        for &index in &delayed {
            self.mark(index);
            let head = &mut self.heads[index];
            head.list = StripeList::None;
            head.delayed = false;
            if !head.preread_active {
                head.preread_active = true;
                self.preread_active_stripes += 1;
            }
            self.push(index, StripeList::Hold);
        }
        delayed.len()
    }

    pub fn handle_list_empty(&self) -> bool {
        self.handle.is_empty()
    }

    /// md's `__get_priority_stripe`: the handle list first, the hold list when the handle
    /// list is empty or has bypassed it more than `bypass_threshold` times. The head is
    /// referenced and unlinked.
    pub fn next_to_handle(&mut self, bypass_threshold: u32) -> Option<usize> {
        let index = if !self.handle.is_empty()
            && (self.hold.is_empty() || self.bypass_count <= bypass_threshold)
        {
            if !self.hold.is_empty() {
                self.bypass_count += 1;
            }
            self.handle.pop_front()?
        } else if let Some(index) = self.hold.pop_front() {
            self.bypass_count = self.bypass_count.saturating_sub(bypass_threshold);
            index
        } else {
            return None;
        };
        let head = self.head_mut(index);
        head.list = StripeList::None;
        head.count += 1;
        Some(index)
    }
}
