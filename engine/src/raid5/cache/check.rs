//! The stripe cache's invariant checks: the full check, and the check after each input
//! that looks only at the heads marked since its last call (the cache marks a head whenever
//! it hands it out mutably and whenever a list or hash entry naming it changes), with the
//! full check every [`FULL_CHECK_EVERY_CALLS`]th call.
//!
//! Why marked heads suffice: a head's invariants depend only on its own fields, the list
//! entries naming it and the hash entry at its sector, each of which marks it when it
//! changes; an unmarked head is as the last check saw it. The cache-wide pre-read count is
//! checked on every call against a sum kept by difference.

use super::{HeadBefore, StripeCache};
use crate::raid5::stripe::{StripeHead, StripeList};
use std::collections::VecDeque;

use crate::changed_ids::CheckSchedule;
pub use crate::changed_ids::FULL_CHECK_EVERY_CALLS;

/// What [`StripeCache::check_invariants_incremental`] carries between calls.
#[derive(Debug, Clone, Default)]
pub(super) struct IncrementalCheck {
    /// When the next call checks everything.
    schedule: CheckSchedule,
    /// Heads with `preread_active`, as of the last call.
    preread_heads: u32,
    /// The marked heads being checked (kept for its allocation).
    changes: Vec<(u32, HeadBefore)>,
}

impl StripeCache {
    /// The four lists with their names, in the full check's order.
    fn queues(&self) -> [(StripeList, &VecDeque<usize>); 4] {
        [
            (StripeList::Inactive, &self.inactive),
            (StripeList::Handle, &self.handle),
            (StripeList::Delayed, &self.delayed),
            (StripeList::Hold, &self.hold),
        ]
    }

    /// Checks list membership against the heads' own view: the queues once, then every
    /// head once; the hash and the pre-read count. The incremental check states the same
    /// per head (see [`StripeCache::check_invariants_incremental`]).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![0u8; self.heads.len()];
        for (list, queue) in self.queues() {
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
                return Err(inactive_with_work(index, head));
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
            return Err(preread_mismatch(self.preread_active_stripes, preread));
        }
        Ok(())
    }

    /// [`StripeCache::check_invariants`] for a check after every input: every head marked
    /// since the last call is checked as the full check checks it (the list entries naming
    /// it against its list and count, the work of an inactive head, its hash entry), the
    /// pre-read count on every call, and everything every [`FULL_CHECK_EVERY_CALLS`]th call.
    /// After a failure the next call is a full check. Allocates nothing once warm.
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        let mut progress = std::mem::take(&mut self.incremental);
        self.changed.take(&mut progress.changes);
        let result = if progress.schedule.full_due() {
            self.check_invariants()
                .map(|()| progress.preread_heads = self.preread_active_stripes)
        } else {
            self.check_changed(&mut progress)
        };
        progress.schedule.done(&result);
        self.incremental = progress;
        result
    }

    /// The incremental part of [`StripeCache::check_invariants_incremental`].
    fn check_changed(&self, progress: &mut IncrementalCheck) -> Result<(), String> {
        for &(index, before) in &progress.changes {
            let head = &self.heads[index as usize];
            // Wrapping: a change that escaped the marking makes the sum wrong, not a panic.
            progress.preread_heads = progress
                .preread_heads
                .wrapping_add(u32::from(head.preread_active))
                .wrapping_sub(u32::from(before.preread_active));
            self.check_head(index as usize)?;
        }
        if progress.preread_heads != self.preread_active_stripes {
            return Err(preread_mismatch(
                self.preread_active_stripes,
                progress.preread_heads,
            ));
        }
        Ok(())
    }

    /// What the full check states about head `index`, from the head's side: each list entry
    /// naming it is on the list it names with count zero, it is on one list iff its count is
    /// zero, an inactive head has no work, a hashed head is in the hash at its sector.
    fn check_head(&self, index: usize) -> Result<(), String> {
        let head = &self.heads[index];
        let mut lists_on = 0usize;
        for (list, queue) in self.queues() {
            let entries = entries_naming(queue, index);
            if entries > 0 && (head.list != list || head.count != 0) {
                return Err(format!(
                    "raid5 stripe {index} on {list:?} but says {:?} with count {}",
                    head.list, head.count
                ));
            }
            lists_on += entries;
        }
        if lists_on != usize::from(head.count == 0) {
            return Err(format!(
                "raid5 stripe {index} (count {}) is on {lists_on} lists",
                head.count
            ));
        }
        if head.list == StripeList::Inactive && !head.is_quiet() {
            return Err(inactive_with_work(index, head));
        }
        if head.hashed && self.hash.get(&head.sector) != Some(&index) {
            return Err(format!("raid5 stripe {index} hashed but not in the hash"));
        }
        Ok(())
    }
    /// Test harnesses: asserts that every head not marked since the last incremental check
    /// is as in `before` (a clone taken right after that check), with the same list and hash
    /// entries naming it, and that every marked head's recorded old value is its value in
    /// `before`: what the incremental check relies on.
    #[cfg(test)]
    pub fn assert_unmarked_unchanged(&self, before: &StripeCache) {
        let values_before = self.changed.values_before();
        let hash_keys_naming = |cache: &StripeCache, index: usize| -> Vec<u64> {
            cache
                .hash
                .iter()
                .filter(|&(_, &named)| named == index)
                .map(|(&sector, _)| sector)
                .collect()
        };
        for (index, head) in self.heads.iter().enumerate() {
            let then = &before.heads[index];
            if let Some(recorded) = values_before[index] {
                assert_eq!(
                    recorded.preread_active, then.preread_active,
                    "stripe {index}: the value recorded at its mark is not its value before"
                );
                continue;
            }
            assert_eq!(head, then, "stripe {index} changed unmarked");
            for ((list, queue), (_, queue_then)) in self.queues().into_iter().zip(before.queues()) {
                assert_eq!(
                    entries_naming(queue, index),
                    entries_naming(queue_then, index),
                    "the {list:?} list's entries for stripe {index} changed unmarked"
                );
            }
            assert_eq!(
                hash_keys_naming(self, index),
                hash_keys_naming(before, index),
                "the hash entries naming stripe {index} changed unmarked"
            );
        }
    }
}

/// How many entries of `queue` name head `index` (a plain scan of two slices: vectorised).
fn entries_naming(queue: &VecDeque<usize>, index: usize) -> usize {
    let (front, back) = queue.as_slices();
    front.iter().filter(|&&i| i == index).count() + back.iter().filter(|&&i| i == index).count()
}

fn inactive_with_work(index: usize, head: &StripeHead) -> String {
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
    format!(
        "raid5 stripe {index} inactive with work queued (sector {}, parity {}): {members:?}",
        head.sector, head.parity_member
    )
}

fn preread_mismatch(counted: u32, heads: u32) -> String {
    format!("raid5 preread_active_stripes {counted} but {heads} heads are")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::PageId;

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

    // The incremental check: a marked head is checked at once, an unmarked change waits for
    // the full check every FULL_CHECK_EVERY_CALLS calls.

    /// A cache whose first incremental call (a full one) has passed.
    fn checked_cache() -> StripeCache {
        let mut cache = cache();
        cache.check_invariants_incremental().unwrap();
        cache
    }

    #[test]
    fn a_marked_inactive_head_with_work_is_caught_at_once() {
        let mut cache = checked_cache();
        cache.head_mut(1).syncing = true;
        assert!(cache
            .check_invariants_incremental()
            .unwrap_err()
            .starts_with("raid5 stripe 1 inactive with work queued"));
    }

    #[test]
    fn a_marked_head_referenced_while_still_listed_is_caught_at_once() {
        let mut cache = checked_cache();
        cache.head_mut(0).count = 1;
        assert_eq!(
            cache.check_invariants_incremental().unwrap_err(),
            "raid5 stripe 0 on Inactive but says Inactive with count 1"
        );
    }

    #[test]
    fn a_list_entry_lost_is_caught_at_once_through_the_head_it_named() {
        let mut cache = checked_cache();
        // Popped without the head being told: the pop marks the head the entry named.
        let index = cache.inactive.pop_front().unwrap();
        cache.mark(index);
        assert_eq!(
            cache.check_invariants_incremental().unwrap_err(),
            format!("raid5 stripe {index} (count 0) is on 0 lists")
        );
    }

    #[test]
    fn a_hash_entry_removed_is_caught_at_once_through_the_head_it_named() {
        let mut cache = checked_cache();
        let head = cache.head_mut(0);
        head.hashed = true;
        head.sector = 64;
        cache.hash_insert(64, 0);
        cache.check_invariants_incremental().unwrap();
        cache.hash_remove(64);
        assert_eq!(
            cache.check_invariants_incremental().unwrap_err(),
            "raid5 stripe 0 hashed but not in the hash"
        );
        // A marked head hashed without its entry.
        cache.head_mut(1).hashed = true;
        assert!(cache.check_invariants_incremental().is_err());
    }

    #[test]
    fn the_preread_count_is_checked_on_every_call() {
        let mut cache = checked_cache();
        cache.head_mut(0).preread_active = true;
        assert_eq!(
            cache.check_invariants_incremental().unwrap_err(),
            "raid5 preread_active_stripes 0 but 1 heads are"
        );
        // After a failure the next call is full, and still fails.
        assert_eq!(
            cache.check_invariants_incremental().unwrap_err(),
            "raid5 preread_active_stripes 0 but 1 heads are"
        );
        cache.preread_active_stripes = 1;
        cache.check_invariants_incremental().unwrap();
        cache.check_invariants_incremental().unwrap();
    }

    #[test]
    fn an_unmarked_corruption_is_caught_by_the_periodic_full_check() {
        let mut cache = checked_cache();
        // Behind the accessors' back: no mark.
        cache.heads[1].syncing = true;
        for call in 1..FULL_CHECK_EVERY_CALLS {
            assert_eq!(cache.check_invariants_incremental(), Ok(()), "call {call}");
        }
        assert!(cache
            .check_invariants_incremental()
            .unwrap_err()
            .starts_with("raid5 stripe 1 inactive with work queued"));
    }

    #[test]
    fn a_broken_unmarked_head_beside_a_marked_one_waits_for_the_full_check() {
        let mut cache = checked_cache();
        cache.heads[0].syncing = true;
        cache.head_mut(1);
        for call in 1..FULL_CHECK_EVERY_CALLS {
            assert_eq!(cache.check_invariants_incremental(), Ok(()), "call {call}");
            cache.head_mut(1);
        }
        assert!(cache
            .check_invariants_incremental()
            .unwrap_err()
            .starts_with("raid5 stripe 0 inactive with work queued"));
    }

    #[test]
    #[should_panic(expected = "stripe 0 changed unmarked")]
    fn the_harness_assertion_sees_an_unmarked_change() {
        let mut cache = checked_cache();
        let checked = cache.clone();
        cache.head_mut(1).syncing = true;
        cache.heads[0].syncing = true;
        cache.assert_unmarked_unchanged(&checked);
    }

    #[test]
    #[should_panic(expected = "the Inactive list's entries for stripe 1 changed unmarked")]
    fn the_harness_assertion_sees_an_unmarked_list_change() {
        let mut cache = checked_cache();
        let checked = cache.clone();
        cache.inactive.retain(|&index| index != 1);
        cache.assert_unmarked_unchanged(&checked);
    }
}
