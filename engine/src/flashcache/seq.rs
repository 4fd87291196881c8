//! Who gets cached: the sequential-IO detector and the pid white/black lists (spec 1.7).
//!
//! Owns: the 32-flow LRU tracker of `skip_sequential_io`, the pid lists with their quirks
//! (overflow drops the newest entries; expiry runs at most once per `pid_expiry_secs + 1`),
//! and `flashcache_uncacheable`'s decision. Does not own the statistics it bumps: callers
//! pass counters in.

use serde::{Deserialize, Serialize};

/// Flows the sequential tracker remembers (`SEQUENTIAL_TRACKER_QUEUE_DEPTH`).
pub const SEQUENTIAL_FLOWS: usize = 32;

const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flow {
    most_recent_sector: u64,
    sequential_count: u64,
}

/// `skip_sequential_io`'s LRU list of recent IO flows.
#[derive(Debug, Clone)]
pub(crate) struct SeqTracker {
    flows: [Flow; SEQUENTIAL_FLOWS],
    /// Flow numbers, most recently used first.
    order: [u8; SEQUENTIAL_FLOWS],
}

impl SeqTracker {
    /// All flows at sector 0 with count 0; flow 31 at the head, flow 0 at the tail, as the
    /// constructor's insertion order leaves them.
    pub fn new() -> SeqTracker {
        let mut order = [0u8; SEQUENTIAL_FLOWS];
        for (position, slot) in order.iter_mut().enumerate() {
            *slot = (SEQUENTIAL_FLOWS - 1 - position) as u8;
        }
        SeqTracker {
            flows: [Flow {
                most_recent_sector: 0,
                sequential_count: 0,
            }; SEQUENTIAL_FLOWS],
            order,
        }
    }

    fn move_to_head(&mut self, position: usize) {
        self.order[..=position].rotate_right(1);
    }

    /// Does this IO continue a flow past `thresh_kb`? Mutates the tracker on every call when
    /// the threshold is non-zero (a repeat of a flow's sector only moves it to the head; an
    /// unknown sector recycles the LRU flow).
    pub fn skip(&mut self, sector: u64, block_size_sectors: u32, thresh_kb: u32) -> bool {
        if thresh_kb == 0 {
            return false;
        }
        for position in 0..SEQUENTIAL_FLOWS {
            let flow_number = self.order[position] as usize;
            let flow = self.flows[flow_number];
            if sector == flow.most_recent_sector {
                self.move_to_head(position);
                return false;
            }
            if sector == flow.most_recent_sector + u64::from(block_size_sectors) {
                let count = flow.sequential_count + 1;
                self.flows[flow_number] = Flow {
                    most_recent_sector: sector,
                    sequential_count: count,
                };
                self.move_to_head(position);
                let bytes = count * u64::from(block_size_sectors) * 512;
                return bytes > u64::from(thresh_kb) * 1024;
            }
        }
        let tail = SEQUENTIAL_FLOWS - 1;
        let flow_number = self.order[tail] as usize;
        self.move_to_head(tail);
        self.flows[flow_number] = Flow {
            most_recent_sector: sector,
            sequential_count: 1,
        };
        false
    }
}

/// Which pid list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PidList {
    Whitelist,
    Blacklist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PidEntry {
    pid: i32,
    expiry_ns: u64,
}

/// Counters the pid lists bump (flashcache's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PidCounters {
    pub pid_adds: u64,
    pub pid_dels: u64,
    pub pid_drops: u64,
    pub expiry: u64,
}

/// The two pid lists, head (oldest) first.
#[derive(Debug, Clone, Default)]
pub(crate) struct PidLists {
    whitelist: Vec<PidEntry>,
    blacklist: Vec<PidEntry>,
    expire_check_ns: u64,
}

impl PidLists {
    fn list_mut(&mut self, list: PidList) -> &mut Vec<PidEntry> {
        match list {
            PidList::Whitelist => &mut self.whitelist,
            PidList::Blacklist => &mut self.blacklist,
        }
    }

    /// Whether `pid` is on `list`.
    pub fn contains(&self, list: PidList, pid: i32) -> bool {
        let entries = match list {
            PidList::Whitelist => &self.whitelist,
            PidList::Blacklist => &self.blacklist,
        };
        entries.iter().any(|entry| entry.pid == pid)
    }

    /// Number of entries on `list`.
    pub fn len(&self, list: PidList) -> usize {
        match list {
            PidList::Whitelist => self.whitelist.len(),
            PidList::Blacklist => self.blacklist.len(),
        }
    }

    /// True when both lists are empty.
    pub fn is_empty(&self) -> bool {
        self.whitelist.is_empty() && self.blacklist.is_empty()
    }

    /// `flashcache_add_pid`: append at the tail unless present. When the list already holds
    /// more than `max_pids`, entries are dropped from the *tail* (the newest) first.
    pub fn add(
        &mut self,
        list: PidList,
        pid: i32,
        now_ns: u64,
        max_pids: u32,
        expiry_secs: u32,
        counters: &mut PidCounters,
    ) {
        let max_pids = max_pids as usize;
        let entries = self.list_mut(list);
        if entries.len() > max_pids {
            while entries.len() >= max_pids && !entries.is_empty() {
                entries.pop();
                counters.pid_dels += 1;
                counters.pid_drops += 1;
            }
        }
        if entries.iter().any(|entry| entry.pid == pid) {
            return;
        }
        entries.push(PidEntry {
            pid,
            expiry_ns: now_ns + u64::from(expiry_secs) * NS_PER_SEC,
        });
        counters.pid_adds += 1;
        if entries.len() == 1 {
            self.expire_check_ns = now_ns + (u64::from(expiry_secs) + 1) * NS_PER_SEC;
        }
    }

    /// `flashcache_del_pid`: remove the entry nearest the tail with this pid.
    pub fn delete(&mut self, list: PidList, pid: i32, counters: &mut PidCounters) {
        let entries = self.list_mut(list);
        if let Some(position) = entries.iter().rposition(|entry| entry.pid == pid) {
            entries.remove(position);
            counters.pid_dels += 1;
        }
    }

    /// `flashcache_del_all_pids`: empty the list (kernels ≥ 2.6.31 keep no live tasks).
    pub fn delete_all(&mut self, list: PidList, counters: &mut PidCounters) {
        let entries = self.list_mut(list);
        counters.pid_dels += entries.len() as u64;
        entries.clear();
    }

    /// `flashcache_pid_expiry_all_locked`: at most once per `expiry_secs + 1` seconds, drop
    /// entries whose expiry has passed.
    pub fn expire(&mut self, now_ns: u64, expiry_secs: u32, counters: &mut PidCounters) {
        if now_ns < self.expire_check_ns {
            return;
        }
        for entries in [&mut self.whitelist, &mut self.blacklist] {
            let before = entries.len();
            entries.retain(|entry| entry.expiry_ns > now_ns);
            if entries.len() < before {
                mark!(PidEntryExpired);
            }
            counters.expiry += (before - entries.len()) as u64;
        }
        self.expire_check_ns = now_ns + (u64::from(expiry_secs) + 1) * NS_PER_SEC;
    }

    /// `flashcache_uncacheable` minus bypass (checked by the caller): should this write (or
    /// read miss) skip the cache? `sequential` is evaluated only where flashcache does.
    ///
    /// Faithful quirk: with `cache_all`, a blacklisted tgid only matters when the thread
    /// is whitelisted (then it is cached); otherwise the sequential check overwrites the
    /// blacklist verdict, so a blacklisted thread group is cached like anything else.
    pub fn uncacheable(
        &self,
        cache_all: bool,
        pid: i32,
        tgid: i32,
        sequential: impl FnOnce() -> bool,
    ) -> bool {
        if cache_all {
            if self.contains(PidList::Blacklist, pid) {
                return true;
            }
            if self.contains(PidList::Blacklist, tgid) && self.contains(PidList::Whitelist, pid) {
                return false;
            }
            sequential()
        } else {
            if self.contains(PidList::Whitelist, pid) {
                return false;
            }
            if !self.contains(PidList::Whitelist, tgid) {
                return true;
            }
            self.contains(PidList::Blacklist, pid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_flow_is_skipped_past_the_threshold() {
        let mut tracker = SeqTracker::new();
        // 16 KiB threshold, 4 KiB blocks: the 5th block of a run (count 5 → 20 KiB) skips.
        let base = 1_000_000u64;
        let verdicts: Vec<bool> = (0..6).map(|i| tracker.skip(base + 8 * i, 8, 16)).collect();
        assert_eq!(verdicts, vec![false, false, false, false, true, true]);
        // Re-reading the most recent sector is a "repeat": not skipped, count unchanged.
        assert!(!tracker.skip(base + 40, 8, 16));
        assert!(tracker.skip(base + 48, 8, 16));
    }

    #[test]
    fn random_io_recycles_flows_and_threshold_zero_tracks_nothing() {
        let mut tracker = SeqTracker::new();
        assert!(!tracker.skip(8, 8, 0));
        assert_eq!(
            tracker.order[0], 31,
            "threshold 0 leaves the tracker untouched"
        );
        // Sector 8 continues the initial all-zero flows (count 0 → 1): not skipped.
        assert!(!tracker.skip(8, 8, 4));
        // 33 random IOs push the first flow out; its continuation starts a new flow.
        let mut tracker = SeqTracker::new();
        tracker.skip(10_000, 8, 4);
        for i in 0..32u64 {
            tracker.skip(1_000_000 * (i + 1), 8, 4);
        }
        assert!(!tracker.skip(10_008, 8, 4));
    }

    #[test]
    fn pid_lists_add_delete_and_overflow_drops_newest() {
        let mut lists = PidLists::default();
        let mut counters = PidCounters::default();
        for pid in 1..=4 {
            lists.add(PidList::Blacklist, pid, 0, 3, 60, &mut counters);
        }
        // The list may reach max_pids + 1 before the overflow check fires.
        assert_eq!(lists.len(PidList::Blacklist), 4);
        lists.add(PidList::Blacklist, 5, 0, 3, 60, &mut counters);
        // 4 > 3: drop from the tail while len >= 3 (pids 4 and 3), then append 5.
        assert!(lists.contains(PidList::Blacklist, 1));
        assert!(!lists.contains(PidList::Blacklist, 4));
        assert!(lists.contains(PidList::Blacklist, 5));
        assert_eq!(counters.pid_drops, 2);
        assert_eq!(counters.pid_adds, 5);
        lists.add(PidList::Blacklist, 5, 0, 3, 60, &mut counters);
        assert_eq!(counters.pid_adds, 5, "duplicates are not added");
        lists.delete(PidList::Blacklist, 1, &mut counters);
        assert!(!lists.contains(PidList::Blacklist, 1));
        lists.delete_all(PidList::Blacklist, &mut counters);
        assert!(lists.is_empty());
    }

    #[test]
    fn pid_expiry_runs_at_most_once_per_period() {
        let mut lists = PidLists::default();
        let mut counters = PidCounters::default();
        lists.add(PidList::Whitelist, 7, 0, 100, 60, &mut counters);
        lists.expire(60 * NS_PER_SEC + 1, 60, &mut counters);
        assert!(
            lists.contains(PidList::Whitelist, 7),
            "not checked before 61 s"
        );
        lists.expire(61 * NS_PER_SEC, 60, &mut counters);
        assert!(!lists.contains(PidList::Whitelist, 7));
        assert_eq!(counters.expiry, 1);
    }

    #[test]
    fn uncacheable_follows_flashcaches_rules() {
        let mut lists = PidLists::default();
        let mut counters = PidCounters::default();
        lists.add(PidList::Blacklist, 10, 0, 100, 60, &mut counters);
        lists.add(PidList::Blacklist, 20, 0, 100, 60, &mut counters);
        lists.add(PidList::Whitelist, 21, 0, 100, 60, &mut counters);
        // cache_all: a blacklisted thread is never cached.
        assert!(lists.uncacheable(true, 10, 10, || false));
        // Blacklisted group with a whitelisted thread: cached, no sequential check.
        assert!(!lists.uncacheable(true, 21, 20, || panic!("not evaluated")));
        // Blacklisted group otherwise: the sequential verdict decides (quirk).
        assert!(!lists.uncacheable(true, 22, 20, || false));
        assert!(lists.uncacheable(true, 22, 20, || true));
        // cache_all = 0: only whitelisted threads or groups are cached.
        assert!(!lists.uncacheable(false, 21, 99, || true));
        assert!(lists.uncacheable(false, 5, 5, || false));
        lists.add(PidList::Whitelist, 30, 0, 100, 60, &mut counters);
        assert!(!lists.uncacheable(false, 31, 30, || true));
        lists.add(PidList::Blacklist, 31, 0, 100, 60, &mut counters);
        assert!(lists.uncacheable(false, 31, 30, || false));
    }
}
