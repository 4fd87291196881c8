//! What the oracle knows about one sector: the versions it may hold, with exactly the history
//! that reads in flight and a possible crash still need.
//!
//! A version is the content a sector took at one completion sequence number: one write id,
//! or — after a crash, until a read observes which one survived — a set of ids the sector may
//! hold. Id 0 is "never written"; [`UNKNOWN`] is "any content".
//!
//! Deliberately not here: ranges, writes in flight, marks of reads in flight (the [`Oracle`]
//! owns them and passes what a sector needs to know).
//!
//! [`Oracle`]: super::Oracle

use smallvec::SmallVec;

/// A version id meaning "contents unknown": any content is accepted.
pub(super) const UNKNOWN: u64 = u64::MAX;

/// The ids a version may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ids {
    /// The sector holds this write (or 0, or [`UNKNOWN`]).
    One(u64),
    /// After a crash: the sector holds one of these (sorted, at least two, no duplicates).
    AnyOf(Box<[u64]>),
}

impl Ids {
    /// The set of `ids` (any order, duplicates allowed, not empty).
    pub(super) fn from_set(mut ids: Vec<u64>) -> Ids {
        assert!(!ids.is_empty(), "a version is at least one id");
        ids.sort_unstable();
        ids.dedup();
        if ids.len() == 1 {
            Ids::One(ids[0])
        } else {
            Ids::AnyOf(ids.into_boxed_slice())
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (one, many): (Option<u64>, &[u64]) = match self {
            Ids::One(id) => (Some(*id), &[]),
            Ids::AnyOf(ids) => (None, ids),
        };
        one.into_iter().chain(many.iter().copied())
    }

    fn contains(&self, id: u64) -> bool {
        self.iter().any(|i| i == id)
    }
}

/// One version of a sector: it became the content at completion sequence `since`.
/// `durable`: it survives a crash whatever flushes follow (a FUA write, the content found on
/// the media after a crash, the initial content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Version {
    pub(super) ids: Ids,
    pub(super) since: u64,
    pub(super) durable: bool,
}

/// What a sector's history must keep when a new version arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Retention {
    /// The start mark of the oldest read in flight: versions replaced after it stay.
    pub(super) oldest_read_mark: Option<u64>,
    /// `None`: every completed write is durable (no volatile cache may lose it). `Some(d)`:
    /// versions that became current at or before `d` are durable (a flush covered them);
    /// later ones may be lost by a crash, so the newest durable version and everything after
    /// it stay.
    pub(super) durable_through: Option<u64>,
}

impl Retention {
    fn is_durable(&self, version: &Version) -> bool {
        version.durable || self.durable_through.is_none_or(|d| version.since <= d)
    }
}

/// See the module documentation. `older` is newest first: `older[0]` was replaced at
/// `current.since`, `older[k]` at `older[k - 1].since`. Up to two older versions are kept
/// inline: at QD 32 most overwrites keep one or two for a while, and a history on the heap
/// allocated whenever a box without room took one (issue 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SectorState {
    pub(super) current: Version,
    older: SmallVec<[Version; 2]>,
}

impl Default for SectorState {
    fn default() -> Self {
        SectorState::NEVER_WRITTEN
    }
}

impl SectorState {
    /// A sector no write reached: zeros (or the device's old content), durable.
    pub(super) const NEVER_WRITTEN: SectorState = SectorState {
        current: Version {
            ids: Ids::One(0),
            since: 0,
            durable: true,
        },
        older: SmallVec::new_const(),
    };

    /// A sector holding `id` since `since`, with no older version kept.
    pub(super) fn settled(id: u64, since: u64, durable: bool) -> SectorState {
        SectorState {
            current: Version {
                ids: Ids::One(id),
                since,
                durable,
            },
            older: SmallVec::new(),
        }
    }

    /// Becomes [`SectorState::settled`]`(id, since, durable)`, keeping the history's room.
    pub(super) fn reset_settled(&mut self, id: u64, since: u64, durable: bool) {
        self.current = Version {
            ids: Ids::One(id),
            since,
            durable,
        };
        self.older.clear();
    }

    /// `(id, since, durable)` of a state [`SectorState::settled`] builds: one id, no history.
    pub(super) fn as_settled(&self) -> Option<(u64, u64, bool)> {
        match self.current.ids {
            Ids::One(id) if self.older.is_empty() => {
                Some((id, self.current.since, self.current.durable))
            }
            _ => None,
        }
    }

    /// `ids` become current at `since`; history no read in flight and no crash can need is
    /// dropped.
    pub(super) fn push(&mut self, ids: Ids, since: u64, durable: bool, keep: Retention) {
        assert!(
            since > self.current.since,
            "versions arrive in completion order ({since} after {})",
            self.current.since
        );
        let previous = std::mem::replace(
            &mut self.current,
            Version {
                ids,
                since,
                durable,
            },
        );
        // `prune`'s rule for `previous`, replaced now: if nothing needs it, nothing older is
        // needed either, and the history goes without being built first.
        let previous_needed =
            keep.oldest_read_mark.is_some_and(|m| since > m) || !keep.is_durable(&self.current);
        if !previous_needed {
            self.older.clear();
            return;
        }
        self.older.insert(0, previous);
        self.prune(keep);
    }

    /// Keeps the prefix of `older` that a read in flight may return (replaced after its
    /// start) or a crash may bring back (no durable version newer than it). Both conditions
    /// only weaken with age, so what is kept is a prefix. Safe at any time: the oracle also
    /// calls it when the reads a history was kept for have ended.
    pub(super) fn prune(&mut self, keep: Retention) {
        let mut replaced_at = self.current.since;
        let mut durable_seen = keep.is_durable(&self.current);
        let kept = self
            .older
            .iter()
            .take_while(|v| {
                let for_reads = keep.oldest_read_mark.is_some_and(|m| replaced_at > m);
                let for_crash = !durable_seen;
                durable_seen |= keep.is_durable(v);
                replaced_at = v.since;
                for_reads || for_crash
            })
            .count();
        // The room stays: a settled block gives its box, history room and all, to the
        // oracle's spares.
        self.older.truncate(kept);
    }

    /// Whether older versions are kept.
    pub(super) fn has_history(&self) -> bool {
        !self.older.is_empty()
    }

    /// The ids a read started at mark `started` may return: the current version, and every
    /// older one that was replaced after the read began.
    pub(super) fn allowed(&self, started: u64) -> impl Iterator<Item = u64> + '_ {
        let mut replaced_at = self.current.since;
        self.current.ids.iter().chain(
            self.older
                .iter()
                .map_while(move |v| {
                    let allowed = replaced_at > started;
                    replaced_at = v.since;
                    allowed.then_some(&v.ids)
                })
                .flat_map(Ids::iter),
        )
    }

    /// Whether the current version survives a crash (a flush covered it, or it was durable
    /// when it became current).
    pub(super) fn current_is_durable(&self, keep: Retention) -> bool {
        keep.is_durable(&self.current)
    }

    /// The ids the media may hold after a power loss now (writes in flight aside): the
    /// current version and older ones back to the newest durable one.
    pub(super) fn crash_candidates(&self, keep: Retention) -> Vec<u64> {
        let mut ids: Vec<u64> = self.current.ids.iter().collect();
        if keep.is_durable(&self.current) {
            return ids;
        }
        for v in &self.older {
            ids.extend(v.ids.iter());
            if keep.is_durable(v) {
                return ids;
            }
        }
        // History is kept back to a durable version (see `prune`), and the initial content
        // is durable, so the walk always ends above.
        unreachable!("sector history lost its durable version")
    }

    /// After a crash: the sector holds one of `ids`, on the media since `since`.
    pub(super) fn recovered(&mut self, ids: Ids, since: u64) {
        self.current = Version {
            ids,
            since,
            durable: true,
        };
        self.older.clear();
    }

    /// A read that began after the current version did returned `id`: if the current version
    /// was a set (after a crash), the sector is now known to hold `id`, and later reads must
    /// see the same until it is written.
    pub(super) fn observe(&mut self, id: u64) {
        if matches!(self.current.ids, Ids::AnyOf(_)) && self.current.ids.contains(id) {
            self.current.ids = Ids::One(id);
        }
    }

    /// Older versions kept (for tests of the retention rule).
    #[cfg(test)]
    pub(super) fn history_len(&self) -> usize {
        self.older.len()
    }
}
