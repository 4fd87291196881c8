//! The stripe cache: a fixed pool of stripe heads, the hash by sector, and md's lists
//! (inactive in LRU order, handle, delayed, hold), with `get_active_stripe` and
//! `release_stripe`.
//!
//! A head is on exactly one list while its count is zero and on none while referenced.
//! `active` heads are those not on the inactive list (md's `active_stripes`). Owns no bio
//! logic and issues no IO; the machine decides what a released head needs.

use super::stripe::{StripeHead, StripeList};
use crate::arena::{Arena, PageId};
use crate::content::SectorContent;
use std::collections::{BTreeMap, VecDeque};

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
#[derive(Debug)]
pub(crate) struct StripeCache {
    pub heads: Vec<StripeHead>,
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
}

impl StripeCache {
    /// A cache of `size` heads over `members` pages each (taken from `pages` in order).
    pub fn new(size: usize, members: usize, pages: &[PageId]) -> StripeCache {
        assert_eq!(pages.len(), size * members);
        let heads: Vec<StripeHead> = pages.chunks_exact(members).map(StripeHead::new).collect();
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
            self.heads[index].count += 1;
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
        let head = &mut self.heads[index];
        head.list = StripeList::None;
        assert!(
            head.count == 0 && head.is_quiet(),
            "reusing a busy head {index}"
        );
        if head.hashed {
            self.hash.remove(&head.sector);
        }
        // init_stripe: every page empty, in sectors mode for workload data.
        for member in &mut head.members {
            member.apply(super::buffer::BufferTransition::Invalidate);
            arena.reset_sectors(member.page, &[SectorContent::Zero; 8]);
        }
        head.sector = sector;
        head.parity_member = parity_member;
        head.hashed = true;
        head.handle = false;
        head.delayed = false;
        debug_assert!(!head.preread_active);
        head.count = 1;
        self.hash.insert(sector, index);
        Got::Head(index)
    }

    /// md's `release_stripe`: drops a reference; at zero the head goes to the delayed,
    /// handle or inactive list by its state. Returns true if it went to the delayed list.
    pub fn release(&mut self, index: usize) -> bool {
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

    pub fn has_delayed(&self) -> bool {
        !self.delayed.is_empty()
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
        let head = &mut self.heads[index];
        head.list = StripeList::None;
        head.count += 1;
        Some(index)
    }

    /// Checks list membership against the heads' own view: the queues once, then every
    /// head once (the explorer runs this after every input).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![0u8; self.heads.len()];
        for (list, queue) in [
            (StripeList::Inactive, &self.inactive),
            (StripeList::Handle, &self.handle),
            (StripeList::Delayed, &self.delayed),
            (StripeList::Hold, &self.hold),
        ] {
            for &index in queue {
                seen[index] += 1;
                let head = &self.heads[index];
                if head.list != list || head.count != 0 {
                    return Err(format!(
                        "raid5 stripe {index} on {list:?} but says {:?} with count {}",
                        head.list, head.count
                    ));
                }
            }
        }
        let mut preread = 0u32;
        let mut hashed = 0usize;
        for (index, head) in self.heads.iter().enumerate() {
            preread += u32::from(head.preread_active);
            hashed += usize::from(head.hashed);
            let expected = u8::from(head.count == 0);
            if seen[index] != expected {
                return Err(format!(
                    "raid5 stripe {index} (count {}) is on {} lists",
                    head.count, seen[index]
                ));
            }
            if head.list == StripeList::Inactive && !head.is_quiet() {
                let members: Vec<String> = head
                    .members
                    .iter()
                    .map(|m| {
                        format!(
                            "{:?} r{} w{} d{}",
                            m.buffer,
                            m.toread.len(),
                            m.towrite.len(),
                            m.written.len()
                        )
                    })
                    .collect();
                return Err(format!(
                    "raid5 stripe {index} inactive with work queued (sector {}, parity {}): {members:?}",
                    head.sector, head.parity_member
                ));
            }
        }
        // Every hashed head is in the hash at its sector iff as many entries name a hashed
        // head of their sector as there are hashed heads (keys are distinct, so such
        // entries name distinct heads): one walk of the hash instead of a search per head.
        let hashed_found = self
            .hash
            .iter()
            .filter(|&(&sector, &index)| {
                self.heads
                    .get(index)
                    .is_some_and(|head| head.hashed && head.sector == sector)
            })
            .count();
        if hashed_found != hashed {
            // Rare: find the first missing head for the message.
            let missing = self.heads.iter().enumerate().position(|(index, head)| {
                head.hashed && self.hash.get(&head.sector) != Some(&index)
            });
            return Err(match missing {
                Some(index) => format!("raid5 stripe {index} hashed but not in the hash"),
                None => format!("raid5: {hashed} stripes hashed, {hashed_found} in the hash"),
            });
        }
        if preread != self.preread_active_stripes {
            return Err(format!(
                "raid5 preread_active_stripes {} but {preread} heads are",
                self.preread_active_stripes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> StripeCache {
        let pages: Vec<PageId> = (0..6).map(PageId).collect();
        StripeCache::new(2, 3, &pages)
    }

    #[test]
    fn a_hashed_head_missing_from_the_hash_is_named() {
        let mut cache = cache();
        cache.check_invariants().unwrap();
        cache.heads[1].hashed = true;
        cache.heads[1].sector = 16;
        assert_eq!(
            cache.check_invariants().unwrap_err(),
            "raid5 stripe 1 hashed but not in the hash"
        );
        // An entry under another sector does not stand in for it.
        cache.hash.insert(8, 1);
        assert!(cache.check_invariants().is_err());
        cache.hash.insert(16, 1);
        cache.check_invariants().unwrap();
    }

    // The check on each kind of corrupted state (the explorer only ever runs it on a
    // correct cache, where it must pass: these are what show it would fail).

    #[test]
    fn a_queued_head_whose_list_or_count_disagrees_is_named() {
        let mut cache = cache();
        cache.heads[0].list = StripeList::Handle;
        assert_eq!(
            cache.check_invariants().unwrap_err(),
            "raid5 stripe 0 on Inactive but says Handle with count 0"
        );
        cache.heads[0].list = StripeList::Inactive;
        cache.heads[0].count = 1;
        assert_eq!(
            cache.check_invariants().unwrap_err(),
            "raid5 stripe 0 on Inactive but says Inactive with count 1"
        );
    }

    #[test]
    fn an_idle_head_on_no_list_is_named() {
        let mut cache = cache();
        cache.inactive.retain(|&index| index != 1);
        assert_eq!(
            cache.check_invariants().unwrap_err(),
            "raid5 stripe 1 (count 0) is on 0 lists"
        );
        // In use (count 1) it belongs on none.
        cache.heads[1].count = 1;
        cache.check_invariants().unwrap();
    }

    #[test]
    fn an_inactive_head_with_work_is_named() {
        let mut cache = cache();
        cache.heads[1].syncing = true;
        assert!(cache
            .check_invariants()
            .unwrap_err()
            .starts_with("raid5 stripe 1 inactive with work queued"));
    }

    #[test]
    fn the_preread_count_must_match_the_heads() {
        let mut cache = cache();
        cache.heads[0].preread_active = true;
        cache.heads[1].preread_active = true;
        assert_eq!(
            cache.check_invariants().unwrap_err(),
            "raid5 preread_active_stripes 0 but 2 heads are"
        );
        cache.preread_active_stripes = 2;
        cache.check_invariants().unwrap();
    }
}
