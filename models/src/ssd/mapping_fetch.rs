//! Translation-page reads in flight. A mapping-cache miss whose translation page is already
//! being read joins that read instead of issuing another, and a lookup of a line such a read
//! is still bringing in waits for it: the controller tracks the entries it is fetching per
//! translation page (as MQSim's page-level mapping unit does with its arriving entries), so
//! requests that touch one translation page close together cost one flash read, not one each.
//!
//! Deliberately not here: the cache's contents (`cmt.rs`) and the ops themselves (`flash.rs`);
//! this only remembers who waits for which read. Ordered maps keep iteration deterministic.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Fetch {
    op: u32,
    owner: u32,
    /// Lines the read brings in (installed in the cache already, not yet usable).
    lines: Vec<u32>,
    /// Jobs other than the owner waiting for the read, each counted once in its `pending`.
    waiters: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct MappingFetches {
    by_tpage: BTreeMap<u32, Fetch>,
    tpage_of_op: BTreeMap<u32, u32>,
}

impl MappingFetches {
    /// Whether a read of translation page `tpage` is in flight.
    pub fn in_flight(&self, tpage: u32) -> bool {
        self.by_tpage.contains_key(&tpage)
    }

    /// Whether `line` of `tpage` is still on its way from flash.
    pub fn arriving(&self, tpage: u32, line: u32) -> bool {
        self.by_tpage
            .get(&tpage)
            .is_some_and(|f| f.lines.contains(&line))
    }

    /// Record that `op`, issued for job `owner`, reads `tpage` and brings in `lines`.
    pub fn started(&mut self, tpage: u32, op: u32, owner: u32, lines: Vec<u32>) {
        let previous = self.by_tpage.insert(
            tpage,
            Fetch {
                op,
                owner,
                lines,
                waiters: Vec::new(),
            },
        );
        assert!(
            previous.is_none(),
            "translation page {tpage} read issued twice"
        );
        self.tpage_of_op.insert(op, tpage);
    }

    /// The in-flight read of `tpage` also brings in `line` (a miss that joined it).
    pub fn add_line(&mut self, tpage: u32, line: u32) {
        let fetch = self.by_tpage.get_mut(&tpage).expect("read in flight");
        if !fetch.lines.contains(&line) {
            fetch.lines.push(line);
        }
    }

    /// Make `job` wait for the in-flight read of `tpage`. Returns false when it already
    /// does (it issued the read or joined it before), so the caller counts each wait once.
    pub fn join(&mut self, tpage: u32, job: u32) -> bool {
        let fetch = self.by_tpage.get_mut(&tpage).expect("read in flight");
        if fetch.owner == job || fetch.waiters.contains(&job) {
            return false;
        }
        fetch.waiters.push(job);
        true
    }

    /// Op `op` ended: if it was a tracked translation-page read, forget it and return the
    /// jobs that joined it, in joining order.
    pub fn done(&mut self, op: u32) -> Option<Vec<u32>> {
        let tpage = self.tpage_of_op.remove(&op)?;
        let fetch = self.by_tpage.remove(&tpage).expect("tracked read");
        debug_assert_eq!(fetch.op, op);
        Some(fetch.waiters)
    }

    /// Reads in flight (for invariant checks).
    pub fn len(&self) -> usize {
        self.by_tpage.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_miss_joins_the_read_in_flight() {
        let mut f = MappingFetches::default();
        assert!(!f.in_flight(7));
        f.started(7, 100, 1, vec![70]);
        assert!(f.in_flight(7));
        assert!(f.arriving(7, 70));
        assert!(!f.arriving(7, 71));
        f.add_line(7, 71);
        assert!(f.arriving(7, 71));
        // The owner never waits on its own read; a joiner is counted once.
        assert!(!f.join(7, 1));
        assert!(f.join(7, 2));
        assert!(!f.join(7, 2));
        assert!(f.join(7, 3));
        assert_eq!(f.done(100), Some(vec![2, 3]));
        assert!(!f.in_flight(7));
        assert_eq!(f.len(), 0);
        // Ops that were not translation-page reads are not tracked.
        assert_eq!(f.done(100), None);
    }
}
